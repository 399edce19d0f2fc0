"""Tune the people step of the visual post-processing on the validation split, never on the scored one.

    python benchmarks/tune_postprocess.py [--step people] [--out /tmp/tune_pp.json]

Run after ``dvc repro`` (it reads the trained checkpoints, the validation feature stores and the
``detect@<step>`` cache, which covers the validation clips). It runs the pipeline's own code on the
validation clips: the ``infer`` stage for every ``ensemble_av`` member (with the validation stores in
place of the test stores), the ``ensemble`` stage with ``--section ensemble_av``, then the
``postprocess`` stage for every point of a grid over ``gate_deg``, ``miss_scale``, ``min_score``,
``blend`` and ``onscreen_hit`` (the other settings as in ``params.yaml``), and scores each result on the validation
references with F(20°,1,on) and OSA (``seldlib.metrics.score``). It prints the grid sorted by
F(20°,1,on), then OSA, and the CPU; the best point is what ``params.yaml`` should hold
(docs/postprocessing.md#tuning-without-the-scored-split).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_repro import cpu_model  # noqa: E402  (the benchmarks' one lscpu reader)
from seldlib.config import read_params  # noqa: E402
from seldlib.datasets import role_sources  # noqa: E402
from seldlib.metrics import collect_csvs, read_seld_csv, score  # noqa: E402
from stages import ensemble as ensemble_stage  # noqa: E402
from stages import infer as infer_stage  # noqa: E402
from stages import postprocess as postprocess_stage  # noqa: E402

# onscreen_hit 0 keeps the on-screen posterior of a matched event (only its azimuth moves); miss_scale 1
# never lowers one
GRID = {
    "gate_deg": [5.0, 10.0, 15.0, 20.0, 30.0],
    "miss_scale": [0.0, 0.5, 1.0],
    "min_score": [0.25, 0.4, 0.6],
    "blend": [0.5, 1.0],
    "onscreen_hit": [0.0, 1.0],
}


def _quiet(fn, argv: list[str]) -> None:
    with redirect_stdout(StringIO()):
        if fn(argv) != 0:
            raise RuntimeError(f"{fn.__module__} {' '.join(argv)} failed")


def validation_references(dataset: Path, names: list[str]) -> dict:
    """The validation clips' reference tables, keyed by CSV file name as the scorer expects."""
    p = read_params(["data.source", "validation"])
    _, splits = role_sources(p["data.source"], "val", p["validation"])
    refs = {}
    for split in splits:
        for name, path in collect_csvs(dataset / "metadata_dev" / split, f"reference ({split})").items():
            if Path(name).stem in names:
                refs[name] = read_seld_csv(path)
    return refs


def infer_on_validation(tmp: Path, members) -> Path:
    """Run the ``infer`` stage for every entry of ``members`` on the validation stores (linked under the
    test names the stage reads, in ``tmp``); returns the folder of their outputs."""
    feats = tmp / "features"
    feats.mkdir()
    for src, dst in (("val.h5", "test.h5"), ("video_val.h5", "video_test.h5"), ("standardizer.npz", "standardizer.npz")):
        (feats / dst).symlink_to(Path("data/features", src).resolve())
    outputs = tmp / "outputs"
    for member in members:
        _quiet(infer_stage.main, ["--model", member, "--params", "features.standardize", "--features", str(feats),
                                  "--out", str(outputs)])
    return outputs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--step", default="people", help="the detector whose refinement step is tuned")
    ap.add_argument("--out", type=Path, help="also write the whole grid as JSON")
    args = ap.parse_args(argv)

    params = yaml.safe_load(Path("params.yaml").read_text())
    members = params["ensemble_av"]["members"]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        outputs = infer_on_validation(tmp, members)
        fused = tmp / "fused.h5"
        _quiet(ensemble_stage.main, ["--section", "ensemble_av", "--params", "ensemble_av", "--outputs", str(outputs),
                                     "--out", str(tmp / "ensemble_av"), "--fused", str(fused)])
        preds = {n: read_seld_csv(p) for n, p in collect_csvs(tmp / "ensemble_av", "prediction").items()}
        refs = validation_references(Path("data/dataset"), [Path(n).stem for n in preds])
        base = score(refs, preds, onscreen=True)
        print(f"validation clips: {len(refs)}; AV Model Ensemble F(20°,1,on) {base.F:.4f}  OSA {base.OSA:.4f}")

        rows = []
        for values in itertools.product(*GRID.values()):
            step = {**params["postprocess"][args.step], **dict(zip(GRID, values))}
            pfile = tmp / "params.yaml"
            pfile.write_text(yaml.safe_dump({**params, "postprocess": {"stages": [args.step], args.step: step}}))
            out = tmp / "pp"
            _quiet(postprocess_stage.main, ["--params", "postprocess", "--params-file", str(pfile), "--fused", str(fused),
                                            "--out", str(out)])
            folder = out / postprocess_stage.folder_name([args.step])
            pp = {n: read_seld_csv(p) for n, p in collect_csvs(folder, "prediction").items()}
            s = score(refs, pp, onscreen=True)
            rows.append({**dict(zip(GRID, values)), "F_on": s.F, "OSA": s.OSA, "DOAE": s.DOAE})
    # ties go to the gentler setting: the larger miss_scale, the narrower gate
    rows.sort(key=lambda r: (-round(r["F_on"], 6), -round(r["OSA"], 6), -r["miss_scale"], r["gate_deg"]))
    print(f"{len(rows)} settings of postprocess.{args.step} on the validation split "
          f"({time.perf_counter() - start:.0f} s on {cpu_model()}):")
    print("gate_deg miss_scale min_score blend hit | F(20°,1,on)          OSA   DOAE")
    for r in rows[:15]:
        print(f"{r['gate_deg']:8.1f} {r['miss_scale']:10.2f} {r['min_score']:9.2f} {r['blend']:5.2f} {r['onscreen_hit']:3.1f} | "
              f"{r['F_on']:.4f} ({r['F_on'] - base.F:+.4f}) {r['OSA']:.4f} {r['DOAE']:6.2f}")
    best = rows[0]
    print("best: " + ", ".join(f"{k}: {best[k]}" for k in GRID))
    if args.out:
        args.out.write_text(json.dumps({"baseline": {"F_on": base.F, "OSA": base.OSA}, "grid": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
