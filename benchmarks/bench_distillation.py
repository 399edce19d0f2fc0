"""Does distillation help? The distilled student against the undistilled one over several seeds, and λ.

Trains ``av_models.av_sed_sce_ons`` and ``av_models.av_ts_sed_sce_ons`` of ``params.yaml`` exactly as the
``train_av`` stage does (``benchmarks/_av_runs.py``), once per seed, and the distilled one once per
extra ``--ts-weights`` value and seed (``--ablation-seeds``, default: the first seed), then scores every
model on the validation and test splits as the evaluate stage does (F(20°,1,on), DOAE, RDE, OSA and the
majority-label OSA). Needs the pipeline's outputs up to ``train@sed_sce`` and ``features_video@test``.
Prints each run, then mean and sample standard deviation per system on test, and the CPU.

    python benchmarks/bench_distillation.py --seeds 22334 1 2 --ts-weights 0.3 3.0 [--out runs.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from _av_runs import AvRunner, cpu_name, format_scores

HEADER = f"{'system':20s} {'seed':>6s} {'λ':>5s} | {'val: F_on':>9s} {'DOAE':>7s} {'RDE':>6s} {'OSA (maj.)':>14s} | " \
         f"{'test: F_on':>10s} {'DOAE':>7s} {'RDE':>6s} {'OSA (maj.)':>14s} | {'s':>5s}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", nargs="+", type=int, required=True)
    ap.add_argument("--ts-weights", nargs="*", type=float, default=[], help="extra λ values of the distilled entry")
    ap.add_argument("--ablation-seeds", nargs="*", type=int, help="seeds of the λ runs (default: the first seed)")
    ap.add_argument("--out", type=Path, help="JSON file of every run")
    args = ap.parse_args()

    runner = AvRunner()
    runs = [(entry, {"seed": seed}) for seed in args.seeds for entry in ("av_sed_sce_ons", "av_ts_sed_sce_ons")]
    runs += [("av_ts_sed_sce_ons", {"seed": seed, "ts_weight": w})
             for w in args.ts_weights for seed in (args.ablation_seeds or args.seeds[:1])]
    results = []
    print(f"CPU: {cpu_name()}\n{HEADER}")
    for entry, fields in runs:
        row = runner.run(entry, **fields)
        results.append(row)
        lam = "-" if row["ts_weight"] is None else f"{row['ts_weight']:.2g}"
        print(f"{entry:20s} {row['seed']:6d} {lam:>5s} | {format_scores(row['val'])} | {format_scores(row['test'])} | "
              f"{row['wall_s']:5.0f}", flush=True)
        if args.out:  # after every run: a killed study keeps what it measured
            args.out.write_text(json.dumps({"cpu": cpu_name(), "runs": results}, indent=1) + "\n", encoding="utf-8")

    print("\ntest split, mean ± sample std over seeds (λ: per value)")
    default_w = runner.entry("av_ts_sed_sce_ons").get("ts_weight", 0.0)
    groups = [("av_sed_sce_ons", None)] + [("av_ts_sed_sce_ons", w) for w in [default_w, *args.ts_weights]]
    for entry, weight in groups:
        rows = [r for r in results if r["entry"] == entry and (weight is None or r["ts_weight"] == weight)]
        cells = []
        for m in ("F", "DOAE", "RDE", "OSA"):
            vals = [r["test"][m] for r in rows]
            sd = statistics.stdev(vals) if len(vals) > 1 else float("nan")
            cells.append(f"{m} {statistics.mean(vals):.3f} ± {sd:.3f}")
        lam = "" if weight is None else f" λ={weight:g}"
        print(f"{entry + lam:26s} n={len(rows)}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
