"""Stage: the dataset in the official DCASE2025 layout under ``data/dataset``.

    python -m stages.dataset --params data.source data.seed data.mini data.dcase2025 --knobs data.workers

``data.source: synth-mini`` generates the embedded dataset (train and test splits with audio, labels
and video) in simulated rooms; ``data.source: dcase2025`` downloads, verifies and extracts the real
DCASE2025 Stereo SELD dataset from Zenodo.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seldlib.config import read_params
from seldlib.errors import SeldInputError
from stages._cli import run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", nargs="+", required=True, help="dotted params keys DVC tracks for this stage")
    ap.add_argument("--knobs", nargs="*", default=[], help="untracked keys (cannot change results)")
    ap.add_argument("--rooms", default="data/rooms", type=Path)
    ap.add_argument("--out", default="data/dataset", type=Path)
    args = ap.parse_args(argv)

    from seldlib.atomic import atomic_path
    from seldlib.datasets import splits_for

    p = {k.split(".", 1)[1]: v for k, v in read_params(args.params + args.knobs).items()}
    source = p["source"]
    with atomic_path(args.out, suffix="") as tmp:
        if source == "synth-mini":
            from seldlib.synth.dataset import generate_split
            from seldlib.synth.sources import ProceduralBank

            mini = p["mini"]
            # The validation split is drawn in the training rooms with seeds of its own (its split name
            # enters every clip's seed) and named fold2 so that no stem repeats a training clip's.
            for role, world, n_clips, fold in (("train", "train", mini["n_train"], 3), ("val", "train", mini["n_val"], 2),
                                               ("test", "test", mini["n_test"], 4)):
                rooms = sorted((args.rooms / world).glob("*.sofa"))
                if not rooms:
                    raise SeldInputError(args.rooms / world, "no SOFA rooms found (run the rooms stage)")
                for split in splits_for(source, role):
                    generate_split(tmp, split, n_clips, rooms, fold=fold, seed=p["seed"], sources=ProceduralBank(),
                                   make_video=mini["video"],
                                   workers=p["workers"])
        else:  # "dcase2025" (read_params allows no other source)
            from seldlib.download import download_dataset

            cfg = p["dcase2025"]
            files = ["metadata_dev", "stereo_dev", "stereo_eval"]
            if cfg["video"]:
                files += ["video_dev", "video_eval"]
            # The download cache (verified archives, partial downloads) lives outside the stage output and
            # is never emptied: a failed run, or a change of another data key, fetches only what is missing.
            download_dataset("dcase2025", tmp, base_url=cfg["base_url"], files=[f + ".zip" for f in files],
                             download_dir=Path("data/.downloads/dcase2025"))
    print(f"dataset ({source}) -> {args.out}")
    return 0


if __name__ == "__main__":
    run(main)
