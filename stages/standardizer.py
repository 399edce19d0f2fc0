"""Stage: per-band, per-channel mean and std of the log-mel features, fitted on the training sets only.

    python -m stages.standardizer --sets train synth
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stages._cli import run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", required=True)
    ap.add_argument("--features", default="data/features", type=Path)
    args = ap.parse_args(argv)

    from seldlib.standardizer import Standardizer

    Standardizer.fit([args.features / f"{s}.h5" for s in args.sets]).save(args.features / "standardizer.npz")
    print(f"standardizer from {', '.join(args.sets)} -> {args.features / 'standardizer.npz'}")
    return 0


if __name__ == "__main__":
    run(main)
