"""Stage: the extra synthetic training split ``dev-train-synth`` (audio and labels) under ``data/synth``.

    python -m stages.synth --params synth.source synth.n_clips synth.seed synth.fsd50k --knobs synth.workers

``synth.source: procedural`` renders procedural sounds in simulated rooms distinct from the embedded
train/test rooms. ``synth.source: fsd50k`` renders FSD50K clips (arranged per class in the
SpatialScaper folder layout, ``synth.fsd50k.sources``) in SpatialScaper-prepared SOFA rooms
(``synth.fsd50k.rooms``, e.g. the TAU-SRIR DB rooms), as the paper does.
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
    ap.add_argument("--out", default="data/synth", type=Path)
    args = ap.parse_args(argv)

    from seldlib.atomic import atomic_path
    from seldlib.synth.dataset import generate_split
    from seldlib.synth.sources import FolderBank, ProceduralBank

    p = {k.split(".", 1)[1]: v for k, v in read_params(args.params + args.knobs).items()}
    if p["source"] == "procedural":
        rooms, bank = sorted((args.rooms / "synth").glob("*.sofa")), ProceduralBank()
        if not rooms:
            raise SeldInputError(args.rooms / "synth", "no SOFA rooms found (run the rooms stage)")
    else:  # "fsd50k" (read_params allows no other source)
        rooms_dir = Path(p["fsd50k"]["rooms"])
        rooms = sorted(rooms_dir.glob("*.sofa"))
        if not rooms:
            raise SeldInputError(rooms_dir, "no SOFA rooms found (prepare the TAU-SRIR DB rooms, see README)")
        bank = FolderBank(p["fsd50k"]["sources"], split="train")
    with atomic_path(args.out, suffix="") as tmp:
        generate_split(tmp, "dev-train-synth", p["n_clips"], rooms, fold=1, seed=p["seed"], sources=bank,
                       make_video=False, workers=p["workers"])
    print(f"dev-train-synth ({p['source']}, {p['n_clips']} clips) -> {args.out}")
    return 0


if __name__ == "__main__":
    run(main)
