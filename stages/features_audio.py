"""Stage: log-mel features and label encodings of one feature set (train / test / synth) in HDF5.

    python -m stages.features_audio --set train --root data/dataset --params data.source features.audio
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seldlib.config import read_params
from stages._cli import run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", required=True, help="feature set (role): train, test or synth")
    ap.add_argument("--root", required=True, type=Path, help="dataset root in the official layout")
    ap.add_argument("--params", nargs="+", required=True)
    ap.add_argument("--out", default="data/features", type=Path)
    args = ap.parse_args(argv)

    from seldlib.datasets import splits_for
    from seldlib.featstore import write_feature_store
    from seldlib.layout import discover
    from seldlib.logmel import LogMel, LogMelConfig

    p = read_params(args.params)
    audio = dict(p["features.audio"])
    batch_size = audio.pop("batch_size")
    clips = discover(args.root, splits_for(p["data.source"], args.set), need_labels=True)
    n = write_feature_store(args.out / f"{args.set}.h5", clips, LogMel(LogMelConfig(**audio)), batch_size=batch_size)
    print(f"{args.set}: {n} clips -> {args.out / (args.set + '.h5')}")
    return 0


if __name__ == "__main__":
    run(main)
