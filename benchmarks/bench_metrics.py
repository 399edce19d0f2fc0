"""Benchmark: vectorised seldlib.metrics vs the straightforward per-frame loop scorer.

Generates N seeded random five-second reference/prediction pairs in memory (50 label frames,
1-5 events per clip with same-class overlaps, integer azimuths/distances as in the dataset), then
times both scorers on the same data, checks they agree, and prints files/second and the speed-up.

    python benchmarks/bench_metrics.py [--files 1000] [--seed 0] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._loop_scorer import loop_score  # noqa: E402
from seldlib.metadata import EventTable  # noqa: E402
from seldlib.metrics import score_pairs  # noqa: E402


def make_clip(rng: np.random.Generator) -> tuple[list[tuple], list[tuple]]:
    """One clip: reference rows and a noisy prediction, rows ``(frame, cls, source, az, dist, on)``."""
    ref = []
    n_events = int(rng.integers(1, 6))
    classes = rng.integers(0, 13, size=n_events)
    if n_events > 1 and rng.random() < 0.3:
        classes[1] = classes[0]  # same-class overlap
    for k in range(n_events):
        start = int(rng.integers(0, 45))
        stop = int(rng.integers(start + 3, 51))
        az0, speed = rng.uniform(-90, 90), rng.normal(0, 2)
        dist = rng.uniform(80, 500)
        for t in range(start, stop):
            az = az0 + speed * (t - start)
            ref.append((t, int(classes[k]), k + 1, float(round(az)), float(round(dist)), int(abs(az) < 50)))
    ref.sort(key=lambda r: (r[0], r[1], r[2]))
    pred = []
    for t, c, s, az, d, on in ref:
        if rng.random() < 0.2:
            continue
        pred.append((t, c, 0, float(round(az + rng.normal(0, 12))), float(round(d * rng.uniform(0.6, 1.5))),
                     on if rng.random() < 0.85 else 1 - on))
    for _ in range(int(rng.integers(0, 20))):
        pred.append((int(rng.integers(0, 50)), int(rng.integers(0, 13)), 0, float(rng.integers(-90, 91)),
                     float(rng.integers(50, 600)), int(rng.integers(0, 2))))
    return ref, pred


def table(rows: list[tuple]) -> EventTable:
    return EventTable(*zip(*rows)) if rows else EventTable()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="vectorised runs; the best is reported")
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    pairs = [make_clip(rng) for _ in range(args.files)]
    tables = [(table(r), table(p)) for r, p in pairs]  # CSV reading is not part of the timing
    n_ref = sum(len(r) for r, _ in pairs)
    n_pred = sum(len(p) for _, p in pairs)
    print(f"{args.files} clips, {n_ref} reference rows, {n_pred} prediction rows (seed {args.seed})")

    best = math.inf
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fast = score_pairs(tables, onscreen=True)
        best = min(best, time.perf_counter() - t0)

    t0 = time.perf_counter()
    slow = loop_score(pairs, onscreen=True)
    t_loop = time.perf_counter() - t0

    worst = max(abs(getattr(fast, m) - slow[m]) for m in ("F", "DOAE", "RDE", "DistE", "OSA"))
    print(f"F(20,1,on) = {fast.F:.6f}  DOAE = {fast.DOAE:.4f}  RDE = {fast.RDE:.4f}  OSA = {fast.OSA:.4f}")
    print(f"max |vectorised - loop| over the 5 metrics: {worst:.3g}")
    print(f"vectorised: {best:8.4f} s  {args.files / best:10.0f} files/s  (best of {args.repeats})")
    print(f"loop:       {t_loop:8.4f} s  {args.files / t_loop:10.0f} files/s")
    print(f"speed-up:   {t_loop / best:8.1f} x")


if __name__ == "__main__":
    main()
