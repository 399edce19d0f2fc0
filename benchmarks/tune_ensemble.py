"""Tune the ensembles' threshold and blends on the validation split, never on the scored one.

    python benchmarks/tune_ensemble.py [--sections ensemble ensemble_av] [--out /tmp/tune_ensemble.json]

Run after ``dvc repro`` (it reads the trained checkpoints and the validation feature stores). It runs
the pipeline's own code on the validation clips: the ``infer`` stage for every member of both sections
(with the validation stores in place of the test stores), then the ``ensemble`` stage for every point
of a grid over ``threshold``, ``doa_sce_blend`` and ``dist_sce_blend`` (the other settings as in
``params.yaml``), and scores each result on the validation references with F(20°,1) (F(20°,1,on) for
``ensemble_av``; ``seldlib.metrics.score``). It prints the best points per section, sorted by F, then
DOAE, and the point ``params.yaml`` holds now (docs/model-kinds.md#ensembles).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_repro import cpu_model  # noqa: E402  (the benchmarks' one lscpu reader)
from seldlib.metrics import collect_csvs, read_seld_csv, score  # noqa: E402
from stages import ensemble as ensemble_stage  # noqa: E402
from tune_postprocess import _quiet, infer_on_validation, validation_references  # noqa: E402  (same plumbing)

GRID = {
    "threshold": [0.2, 0.25, 0.3, 0.35, 0.4, 0.5],
    "doa_sce_blend": [0.0, 0.5, 0.75, 1.0],
    "dist_sce_blend": [0.0, 0.5, 1.0],
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", nargs="+", default=["ensemble", "ensemble_av"])
    ap.add_argument("--out", type=Path, help="also write every grid as JSON")
    args = ap.parse_args(argv)

    params = yaml.safe_load(Path("params.yaml").read_text())
    start = time.perf_counter()
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        outputs = infer_on_validation(tmp, sorted({m for section in args.sections for m in params[section]["members"]}))
        refs = None
        for section in args.sections:
            rows = []
            for values in itertools.product(*GRID.values()):
                pfile = tmp / "params.yaml"
                pfile.write_text(yaml.safe_dump({**params, section: {**params[section], **dict(zip(GRID, values))}}))
                out = tmp / section
                _quiet(ensemble_stage.main, ["--section", section, "--params", section, "--params-file", str(pfile),
                                             "--outputs", str(outputs), "--out", str(out)])
                preds = {n: read_seld_csv(p) for n, p in collect_csvs(out, "prediction").items()}
                if refs is None:
                    refs = validation_references(Path("data/dataset"), [Path(n).stem for n in preds])
                s = score(refs, preds, onscreen=section == "ensemble_av")
                rows.append({**dict(zip(GRID, values)), "F": s.F, "DOAE": s.DOAE, "RDE": s.RDE})
            rows.sort(key=lambda r: (-round(r["F"], 6), r["DOAE"]))
            results[section] = rows
    print(f"validation clips: {len(refs or {})}; {time.perf_counter() - start:.0f} s on {cpu_model()}")
    for section, rows in results.items():
        now = next((r for r in rows if all(r[k] == params[section][k] for k in GRID)), None)
        print(f"\n{section} ({'F(20°,1,on)' if section == 'ensemble_av' else 'F(20°,1)'} on the validation split)")
        print("threshold doa_sce_blend dist_sce_blend |      F   DOAE    RDE")
        for r in rows[:8] + ([now] if now is not None and now not in rows[:8] else []):
            mark = "  <- params.yaml" if r is now else ""
            print(f"{r['threshold']:9.2f} {r['doa_sce_blend']:13.2f} {r['dist_sce_blend']:14.2f} | "
                  f"{r['F']:.4f} {r['DOAE']:6.2f} {r['RDE']:.3f}{mark}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
