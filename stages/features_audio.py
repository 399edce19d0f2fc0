"""Stage: log-mel features and label encodings of one feature set (train / val / test / synth) in HDF5.

    python -m stages.features_audio --set train --root data/dataset \\
        --params data.source validation features.audio.n_fft ... --knobs features.audio.batch_size

Which clips form each set (and how the validation set is drawn) is ``seldlib.datasets.role_sources``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seldlib.config import read_params
from seldlib.errors import SeldInputError
from stages._cli import run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", required=True, help="feature set (role): train, val, test or synth")
    ap.add_argument("--root", required=True, type=Path, help="dataset root in the official layout")
    ap.add_argument("--params", nargs="+", required=True, help="dotted params keys DVC tracks for this stage")
    ap.add_argument("--knobs", nargs="*", default=[], help="untracked keys (cannot change results)")
    ap.add_argument("--out", default="data/features", type=Path)
    args = ap.parse_args(argv)

    from seldlib.datasets import role_sources, select_clips
    from seldlib.featstore import write_feature_store
    from seldlib.layout import discover
    from seldlib.logmel import LogMel, LogMelConfig

    p = read_params(args.params + args.knobs)
    audio = {k.rsplit(".", 1)[1]: v for k, v in p.items() if k.startswith("features.audio.") and k in args.params}
    how, splits = role_sources(p["data.source"], args.set, p["validation"])
    clips = select_clips(discover(args.root, splits, need_labels=True), how, p["validation"])
    if not clips:
        raise SeldInputError(args.root, f"no clips for the {args.set!r} set in {splits}")
    out = args.out / f"{args.set}.h5"
    n = write_feature_store(out, clips, LogMel(LogMelConfig(**audio)), batch_size=p["features.audio.batch_size"])
    print(f"{args.set}: {n} clips from {', '.join(splits)} -> {out}")
    return 0


if __name__ == "__main__":
    run(main)
