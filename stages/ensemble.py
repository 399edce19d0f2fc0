"""Stage: posterior fusion of an ensemble section's members → DCASE2025 prediction CSVs (and the fused arrays).

    python -m stages.ensemble --params ensemble
    python -m stages.ensemble --section ensemble_av --outputs data/outputs data/outputs_av \\
        --out data/predictions/ensemble_av --fused data/fused/ensemble_av.h5

``--section`` names the params section (``ensemble``, Track A, by default; ``ensemble_av``, the
audio-visual ensemble of NERC-SLIP report section 2.3); ``--params`` defaults to that section. A
member's outputs are ``<member>.h5`` in whichever ``--outputs`` folder holds it. With members that
predict on-screen posteriors the fused ``onscreen`` is thresholded at the section's
``onscreen_threshold`` (null: the members' tuned thresholds, averaged with the on-screen weights) and
events beyond half the camera's field of view are off-screen. ``--fused`` also writes the fused arrays
(``seldlib.outputs.write_outputs_h5``, the input of ``stages.postprocess``); the CSVs are then
decoded from exactly the stored (float32) arrays, so that a post-processing step that changes nothing
decodes to the same CSVs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seldlib.config import read_params
from seldlib.errors import SeldInputError
from stages._cli import run


def member_path(member: str, folders: list[Path]) -> Path:
    """``<folder>/<member>.h5`` of the one folder in ``folders`` that holds it."""
    found = [folder / f"{member}.h5" for folder in folders if (folder / f"{member}.h5").is_file()]
    if len(found) > 1:
        raise SeldInputError(found[1], f"ensemble member {member} has outputs in several folders ({found[0]} too)")
    if not found:
        where = ", ".join(str(f) for f in folders)
        raise SeldInputError(folders[0] / f"{member}.h5",
                             f"model output file not found in {where} (run the infer stage for this model)")
    return found[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--section", default="ensemble", help="the params section of the ensemble")
    ap.add_argument("--params", nargs="+", help="params keys read (default: the section)")
    ap.add_argument("--params-file", default="params.yaml", type=Path)
    ap.add_argument("--outputs", nargs="+", default=[Path("data/outputs")], type=Path)
    ap.add_argument("--out", type=Path, help="prediction folder (default: data/predictions/<section>)")
    ap.add_argument("--fused", type=Path, help="also write the fused arrays to this HDF5 file")
    args = ap.parse_args(argv)

    import numpy as np

    from seldlib.constants import VIDEO_HFOV_DEG
    from seldlib.ensemble import fuse_outputs, onscreen_members
    from seldlib.outputs import read_outputs_h5, write_outputs_h5
    from seldlib.predictions import write_prediction_dir

    section = args.section
    p = read_params(args.params or [section], args.params_file)
    if section not in p:
        raise SeldInputError(args.params_file, f"--params must include the section {section!r} (got {', '.join(p)})")
    cfg = p[section]
    out = args.out or Path("data/predictions") / section

    outputs, metas, paths, names = {}, {}, {}, None
    for member in cfg["members"]:
        path = member_path(member, args.outputs)
        member_names, arrays, meta = read_outputs_h5(path)
        if names is not None and member_names != names:
            raise SeldInputError(path, "covers different clips than the other ensemble members")
        names, outputs[member], metas[member], paths[member] = member_names, (meta["kind"], arrays), meta, path
    names = names or []
    on_weights = cfg.get("onscreen_weights")
    try:
        fused = fuse_outputs(outputs, cfg["sed_weights"], cfg["doa_sce_blend"], cfg["dist_sce_blend"],
                             onscreen_weights=on_weights)
    except ValueError as err:
        raise SeldInputError(args.params_file, f"{section}: {err}") from None

    on_threshold, max_az = 0.5, None
    if "onscreen" in fused:
        on_threshold = cfg.get("onscreen_threshold")
        if on_threshold is None:
            weights = on_weights if on_weights is not None else {e: 1.0 for e in onscreen_members(outputs)}
            tuned = {}
            for entry in (e for e in onscreen_members(outputs) if weights.get(e, 0.0) > 0):
                if "onscreen_threshold" not in metas[entry]:
                    raise SeldInputError(paths[entry], "model outputs lack 'onscreen_threshold' in their meta")
                tuned[entry] = float(metas[entry]["onscreen_threshold"])
            on_threshold = sum(weights[e] * t for e, t in tuned.items()) / sum(weights[e] for e in tuned)
        on_threshold = float(on_threshold)
        max_az = VIDEO_HFOV_DEG / 2.0  # the camera sees no event beyond half its field of view
    # a distance only matters when no member predicts one: the members' own fallback
    default_distance_m = float(np.mean([m["default_distance_m"] for m in metas.values()])) if metas else 1.0

    if args.fused is not None:
        meta = {"kind": "ensemble", "section": section, "members": list(cfg["members"]),
                "threshold": cfg["threshold"], "onscreen_threshold": on_threshold if "onscreen" in fused else None,
                "default_distance_m": default_distance_m}
        write_outputs_h5(args.fused, names, fused, meta)
        fused = {k: np.asarray(v, np.float32) for k, v in fused.items()}  # decode what was stored
    write_prediction_dir(out, names, fused, threshold=cfg["threshold"], default_distance_m=default_distance_m,
                         onscreen_threshold=on_threshold, onscreen_max_az=max_az)
    extra = f", on-screen threshold {on_threshold:.3g}" if "onscreen" in fused else ""
    print(f"{section} of {', '.join(cfg['members'])}: {len(names)} prediction CSVs -> {out}{extra}")
    return 0


if __name__ == "__main__":
    run(main)
