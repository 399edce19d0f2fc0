"""Stage: posterior fusion of the ``ensemble.members`` entries' outputs → DCASE2025 prediction CSVs.

    python -m stages.ensemble --params ensemble
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
    ap.add_argument("--outputs", default="data/outputs", type=Path)
    ap.add_argument("--out", default="data/predictions/ensemble", type=Path)
    args = ap.parse_args(argv)

    from seldlib.ensemble import fuse_outputs
    from seldlib.inference import read_outputs_h5
    from seldlib.predictions import write_prediction_dir

    cfg = read_params(args.params)["ensemble"]
    outputs, names = {}, None
    for member in cfg["members"]:
        path = args.outputs / f"{member}.h5"
        member_names, arrays, meta = read_outputs_h5(path)
        if names is not None and member_names != names:
            raise SeldInputError(path, "covers different clips than the other ensemble members")
        names, outputs[member] = member_names, (meta["kind"], arrays)
    try:
        fused = fuse_outputs(outputs, cfg["sed_weights"], cfg["doa_sce_blend"], cfg["dist_sce_blend"])
    except ValueError as err:
        raise SeldInputError("params.yaml", f"ensemble: {err}") from None
    write_prediction_dir(args.out, names or [], fused, threshold=cfg["threshold"])
    print(f"ensemble of {', '.join(cfg['members'])}: {len(names or [])} prediction CSVs -> {args.out}")
    return 0


if __name__ == "__main__":
    run(main)
