"""Stage: the dataset in the official DCASE2025 layout under ``data/dataset``.

    python -m stages.dataset --params data

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
    ap.add_argument("--params", nargs="+", required=True)
    ap.add_argument("--rooms", default="data/rooms", type=Path)
    ap.add_argument("--out", default="data/dataset", type=Path)
    args = ap.parse_args(argv)

    from seldlib.atomic import atomic_path
    from seldlib.datasets import splits_for

    p = read_params(args.params)["data"]
    source = p["source"]
    with atomic_path(args.out, suffix="") as tmp:
        if source == "synth-mini":
            from seldlib.synth.dataset import generate_split
            from seldlib.synth.sources import ProceduralBank

            mini = p["mini"]
            for role, n_clips, fold in (("train", mini["n_train"], 3), ("test", mini["n_test"], 4)):
                rooms = sorted((args.rooms / role).glob("*.sofa"))
                if not rooms:
                    raise SeldInputError(args.rooms / role, "no SOFA rooms found (run the rooms stage)")
                for split in splits_for(source, role):
                    generate_split(tmp, split, n_clips, rooms, fold=fold, seed=p["seed"], sources=ProceduralBank(),
                                   make_video=int(mini["video_clips"]), workers=p["workers"])
        elif source == "dcase2025":
            from seldlib.download import download_dataset

            cfg = p["dcase2025"]
            files = ["metadata_dev", "stereo_dev", "stereo_eval"]
            if cfg["video"]:
                files += ["video_dev", "video_eval"]
            # Archives (and partial downloads) live outside the stage output so a failed run resumes.
            download_dataset("dcase2025", tmp, base_url=cfg["base_url"], files=[f + ".zip" for f in files],
                             download_dir=Path("data/.downloads/dcase2025"))
        else:
            raise SeldInputError(None, f"data.source must be 'synth-mini' or 'dcase2025', got {source!r}")
    print(f"dataset ({source}) -> {args.out}")
    return 0


if __name__ == "__main__":
    run(main)
