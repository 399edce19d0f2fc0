"""Stage: visual post-processing of the fused audio-visual ensemble → one prediction folder per cumulative step.

    python -m stages.postprocess --params postprocess --fused data/fused/ensemble_av.h5 \\
        --detections data/detections --out data/predictions/pp

``postprocess.stages`` lists the detectors in the order they refine (NERC-SLIP report section 2.3: people,
then objects); each has a section ``postprocess.<detector>`` (``seldlib.postprocess.RefineConfig``) and
its cached detections in ``<detections>/<detector>.h5``. After step i the arrays are decoded into
``<out>/pp_<detector 1>_..._<detector i>/`` (e.g. ``pp_people``, ``pp_people_objects``) with the fused
file's SED and on-screen thresholds; ``<out>/stats.json`` records, per step, the detector's status
(a skipped detector changes nothing) and the counts of snapped, lowered and untouched class-frames.
See ``docs/postprocessing.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seldlib.config import read_params
from seldlib.errors import SeldInputError
from stages._cli import run


def folder_name(steps: list[str]) -> str:
    """The prediction folder after the steps ``steps`` (``["people", "objects"]`` → ``pp_people_objects``)."""
    return "pp_" + "_".join(steps)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", nargs="+", default=["postprocess"])
    ap.add_argument("--params-file", default="params.yaml", type=Path)
    ap.add_argument("--fused", default="data/fused/ensemble_av.h5", type=Path)
    ap.add_argument("--detections", default="data/detections", type=Path)
    ap.add_argument("--out", default="data/predictions/pp", type=Path)
    args = ap.parse_args(argv)

    from seldlib.atomic import atomic_path, write_json_atomic
    from seldlib.constants import CLASS_NAMES, VIDEO_HFOV_DEG
    from seldlib.detection import read_detection_store
    from seldlib.outputs import read_outputs_h5
    from seldlib.postprocess import RefineConfig, refine
    from seldlib.predictions import write_prediction_dir

    p = read_params(args.params, args.params_file)
    if "postprocess" not in p:
        raise SeldInputError(args.params_file, f"--params must include 'postprocess' (got {', '.join(p)})")
    cfg = p["postprocess"]
    steps = list(cfg["stages"])

    names, arrays, meta = read_outputs_h5(args.fused)
    if "onscreen" not in arrays:
        raise SeldInputError(args.fused, "holds no on-screen posteriors (an ensemble without audio-visual members?)")
    if meta.get("onscreen_threshold") is None:
        raise SeldInputError(args.fused, "lacks 'onscreen_threshold' in its meta (write it with stages.ensemble --fused)")
    threshold, on_threshold = meta["threshold"], float(meta["onscreen_threshold"])
    default_distance_m = float(meta["default_distance_m"])

    configs = {}
    for step in steps:
        try:
            configs[step] = RefineConfig.from_mapping(cfg[step])
        except (KeyError, ValueError, TypeError) as err:
            raise SeldInputError(args.params_file, f"postprocess.{step}: {err}") from None
    stores = {step: read_detection_store(args.detections / f"{step}.h5") for step in steps}

    report = {"fused": str(args.fused), "threshold": threshold, "onscreen_threshold": on_threshold,
              "class_names": list(CLASS_NAMES), "steps": []}
    with atomic_path(args.out, suffix="") as tmp:
        tmp.mkdir(parents=True)
        for i, step in enumerate(steps):
            try:
                arrays, stats = refine(arrays, names, stores[step], configs[step], threshold, on_threshold)
            except ValueError as err:
                raise SeldInputError(args.detections / f"{step}.h5", str(err)) from None
            folder = folder_name(steps[: i + 1])
            write_prediction_dir(tmp / folder, names, arrays, threshold=threshold,
                                 default_distance_m=default_distance_m, onscreen_threshold=on_threshold,
                                 onscreen_max_az=VIDEO_HFOV_DEG / 2.0)
            report["steps"].append({"step": step, "folder": folder, **stats})
            done = f"{sum(stats['snapped'])} snapped, {sum(stats['lowered'])} lowered"
            print(f"{step}: {done if stats['applied'] else stats['status']} -> {args.out / folder}")
        write_json_atomic(tmp / "stats.json", report)
    return 0


if __name__ == "__main__":
    run(main)
