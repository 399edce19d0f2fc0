"""Straightforward per-frame loop implementation of the DCASE2025 SELD metrics, written from the
definition in ``docs/metrics.md#algorithm`` (the official ``SELDMetrics`` of the DCASE2025 baseline) and
independent of ``seldlib.metrics``.

It is slow on purpose (Python loops over files, frames, classes and tracks, one Hungarian call per
frame and class) and serves as the test oracle and as the benchmark baseline.

Input: a list of ``(reference_rows, prediction_rows)`` per file, each row a tuple
``(frame, cls, source, azimuth, distance, onscreen)`` in file order.

As a whole process it stands in for the organisers' evaluation script (benchmarks/bench_metrics.py
times it): ``python benchmarks/_loop_scorer.py REF_DIR PRED_DIR [--onscreen]`` reads the CSVs like the
official loader (line 1 dropped) and prints the five metrics as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import t as student_t

N_CLS = 13
EPSILON = np.finfo(float).eps


def fold(phi: float) -> float:
    """Spec: wrap to [-180, 180), then reflect rear directions into [-90, 90]."""
    phi = ((phi + 180.0) % 360.0) - 180.0
    if phi < -90.0:
        phi = -180.0 - phi
    if phi > 90.0:
        phi = 180.0 - phi
    return phi


def per_frame_tracks(rows, n_frames):
    """dict[frame][class] -> dict[track id] -> (az, dist, onscreen) for frames 0..n_frames-1."""
    table = {t: {} for t in range(n_frames)}
    for frame, cls, source, az, dist, on in rows:
        if frame < 0 or frame >= n_frames:
            continue
        tracks = table[frame].setdefault(cls, {})
        if source < 10 and source not in tracks:
            track = source
        else:
            track = 0  # every id taken: track 0 is overwritten
            for candidate in range(10):
                if candidate not in tracks:
                    track = candidate
                    break
        tracks[track] = (az, dist, on)
    return table


def new_counters():
    names = ["TP", "FP", "FPsp", "FN", "DE_TP", "ang", "dist", "rdist", "on"]
    return {n: [0.0] * N_CLS for n in names}


def count_file(ref_rows, pred_rows, counters, onscreen, doa_thr=20.0, rd_thr=1.0, d_thr=math.inf):
    t_ref = max(r[0] for r in ref_rows) if ref_rows else 0
    gt = per_frame_tracks(ref_rows, t_ref)
    pr = per_frame_tracks(pred_rows, t_ref)
    for t in range(t_ref):
        for c in range(N_CLS):
            g = gt[t].get(c)
            p = pr[t].get(c)
            if g and p:
                gv = list(g.values())
                pv = list(p.values())
                cost = np.array([[abs(fold(a[0]) - fold(b[0])) for b in pv] for a in gv])
                rows, cols = linear_sum_assignment(cost)
                n_fail = 0
                for i, j in zip(rows, cols):
                    e_az = cost[i, j]
                    e_d = abs(gv[i][1] - pv[j][1])
                    e_rd = e_d / (gv[i][1] + EPSILON)
                    same_on = gv[i][2] == pv[j][2]
                    if e_az > doa_thr or e_d > d_thr or e_rd > rd_thr or (onscreen and not same_on):
                        n_fail += 1
                    counters["ang"][c] += e_az
                    counters["dist"][c] += e_d
                    counters["rdist"][c] += e_rd
                    counters["on"][c] += 1.0 if same_on else 0.0
                k = min(len(gv), len(pv))
                counters["TP"][c] += k - n_fail
                counters["FPsp"][c] += n_fail
                counters["FP"][c] += max(0, len(pv) - len(gv))
                counters["FN"][c] += max(0, len(gv) - len(pv))
                counters["DE_TP"][c] += k
            elif g:
                counters["FN"][c] += len(g)
            elif p:
                counters["FP"][c] += len(p)


def finish(counters, average):
    eps = EPSILON
    res = {}
    per_class = {k: [] for k in ("F", "DOAE", "DistE", "RDE", "OSA")}
    for c in range(N_CLS):
        tp, fpsp, fp, fn, n = (counters[k][c] for k in ("TP", "FPsp", "FP", "FN", "DE_TP"))
        per_class["F"].append(tp / (eps + tp + fpsp + 0.5 * (fp + fn)))
        for name, key in (("DOAE", "ang"), ("DistE", "dist"), ("RDE", "rdist"), ("OSA", "on")):
            per_class[name].append(float("nan") if n == 0 else counters[key][c] / (n + eps))
    if average == "macro":
        res["F"] = sum(per_class["F"]) / N_CLS
        for name in ("DOAE", "DistE", "RDE", "OSA"):
            vals = [v for v in per_class[name] if not math.isnan(v)]
            res[name] = sum(vals) / len(vals) if vals else float("nan")
    else:
        tot = {k: sum(v) for k, v in counters.items()}
        res["F"] = tot["TP"] / (eps + tot["TP"] + tot["FPsp"] + 0.5 * (tot["FP"] + tot["FN"]))
        for name, key in (("DOAE", "ang"), ("DistE", "dist"), ("RDE", "rdist"), ("OSA", "on")):
            res[name] = float("nan") if tot["DE_TP"] == 0 else tot[key] / (tot["DE_TP"] + eps)
    res["classwise"] = per_class
    res["counters"] = counters
    return res


def loop_score(pairs, onscreen=False, average="macro"):
    """Scores for ``pairs`` = [(ref_rows, pred_rows), ...]; dict with F, DOAE, DistE, RDE, OSA, classwise."""
    counters = new_counters()
    for ref_rows, pred_rows in pairs:
        count_file(ref_rows, pred_rows, counters, onscreen)
    return finish(counters, average)


def loop_jackknife(pairs, metric, onscreen=False, average="macro"):
    """(estimate, ci_low, ci_high) for one top-level metric, by re-scoring every leave-one-out subset."""
    g = loop_score(pairs, onscreen, average)[metric]
    partial = [loop_score(pairs[:i] + pairs[i + 1:], onscreen, average)[metric] for i in range(len(pairs))]
    n = len(partial)
    mean = sum(partial) / n
    estimate = g - (n - 1) * (mean - g)
    std_err = math.sqrt((n - 1) * sum((x - mean) ** 2 for x in partial) / n)
    tv = student_t.ppf(0.975, n - 1)
    return estimate, estimate - tv * std_err, estimate + tv * std_err


def read_rows(path: Path) -> list[tuple]:
    """Rows of one CSV as the official loader reads them: line 1 dropped, ``int`` / ``float`` per column."""
    with open(path) as fh:
        lines = fh.readlines()[1:]
    rows = []
    for line in lines:
        p = line.strip().split(",")
        if p != [""]:
            rows.append((int(p[0]), int(p[1]), int(p[2]), float(p[3]), float(p[4]), int(p[5])))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Per-frame loop scorer over CSV folders (benchmark baseline).")
    ap.add_argument("ref_dir", type=Path)
    ap.add_argument("pred_dir", type=Path)
    ap.add_argument("--onscreen", action="store_true")
    args = ap.parse_args(argv)
    refs = {p.name: p for p in args.ref_dir.rglob("*.csv")}
    preds = sorted(args.pred_dir.rglob("*.csv"))
    res = loop_score([(read_rows(refs[p.name]), read_rows(p)) for p in preds], onscreen=args.onscreen)
    print(json.dumps({m: res[m] for m in ("F", "DOAE", "RDE", "DistE", "OSA")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
