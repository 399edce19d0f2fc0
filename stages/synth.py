"""Stage: the extra synthetic training split ``dev-train-synth`` (audio and labels) under ``data/synth``.

    python -m stages.synth --params synth.source synth.n_clips synth.seed --knobs synth.workers

``synth.source: procedural`` renders procedural sounds in simulated rooms distinct from the embedded
train/test rooms (``data/rooms/synth``). ``synth.source: fsd50k`` renders the FSD50K selection and FMA
music (``data/synth_sources``, the ``prepare_sources`` stage) in the TAU-SRIR DB rooms over their
recorded ambience (``data/synth_rooms``, the ``prepare_rooms`` stage), as the paper does; rooms are read
lazily and clips rendered by ``synth.workers`` processes (0: every core).
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
    ap.add_argument("--rooms", default="data/rooms", type=Path, help="simulated rooms (procedural)")
    ap.add_argument("--sources", default="data/synth_sources", type=Path, help="source tree (fsd50k)")
    ap.add_argument("--real-rooms", default="data/synth_rooms", type=Path, help="SOFA rooms (fsd50k)")
    ap.add_argument("--out", default="data/synth", type=Path)
    args = ap.parse_args(argv)

    from seldlib.atomic import atomic_path
    from seldlib.synth.dataset import generate_split
    from seldlib.synth.sources import FolderBank, ProceduralBank

    p = {k.split(".", 1)[1]: v for k, v in read_params(args.params + args.knobs).items()}
    if p["source"] == "procedural":
        rooms_dir, bank = args.rooms / "synth", ProceduralBank()
        hint = "run the rooms stage"
    else:  # "fsd50k" (read_params allows no other source)
        rooms_dir, bank = args.real_rooms, FolderBank(args.sources, split="train")
        hint = "run the prepare_rooms stage with synth.source: fsd50k"
    rooms = sorted(rooms_dir.glob("*.sofa"))
    if not rooms:
        raise SeldInputError(rooms_dir, f"no SOFA rooms found ({hint})")
    with atomic_path(args.out, suffix="") as tmp:
        generate_split(tmp, "dev-train-synth", p["n_clips"], rooms, fold=1, seed=p["seed"], sources=bank,
                       make_video=False, workers=p["workers"])
    print(f"dev-train-synth ({p['source']}, {p['n_clips']} clips) -> {args.out}")
    return 0


if __name__ == "__main__":
    run(main)
