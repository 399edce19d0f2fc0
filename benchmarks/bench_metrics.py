"""Benchmark: vectorised seldlib.metrics vs the straightforward per-frame loop scorer.

Generates N seeded random five-second reference/prediction pairs (50 label frames, 1-5 events per
clip with same-class overlaps, integer azimuths/distances as in the dataset), then

* in memory: times ``score_pairs`` against ``benchmarks._loop_scorer.loop_score`` on the same tables;
* as whole processes: writes the pairs as CSV folders and times ``python -m seldlib.metrics`` against
  ``python benchmarks/_loop_scorer.py`` (the stand-in for the organisers' evaluation script), start-up,
  imports and CSV reading included;

checks that all four agree and prints the times, files/second and the speed-ups, with the CPU model.

    python benchmarks/bench_metrics.py [--files 1000] [--seed 0] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._loop_scorer import loop_score  # noqa: E402
from seldlib.metadata import EventTable  # noqa: E402
from seldlib.metrics import METRIC_NAMES, score_pairs  # noqa: E402

HEADER = "frame,class,source,azimuth,distance,onscreen"


def _wrap(az: float) -> float:
    return float(round((az + 180.0) % 360.0 - 180.0))


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
            ref.append((t, int(classes[k]), k + 1, _wrap(az), float(round(dist)), int(abs(az) < 50)))
    ref.sort(key=lambda r: (r[0], r[1], r[2]))
    pred = []
    for t, c, s, az, d, on in ref:
        if rng.random() < 0.2:
            continue
        pred.append((t, c, 0, _wrap(az + rng.normal(0, 12)), float(round(d * rng.uniform(0.6, 1.5))),
                     on if rng.random() < 0.85 else 1 - on))
    for _ in range(int(rng.integers(0, 20))):
        pred.append((int(rng.integers(0, 50)), int(rng.integers(0, 13)), 0, float(rng.integers(-90, 91)),
                     float(rng.integers(50, 600)), int(rng.integers(0, 2))))
    return ref, pred


def table(rows: list[tuple]) -> EventTable:
    return EventTable(*zip(*rows)) if rows else EventTable()


def write_folders(pairs: list[tuple[list[tuple], list[tuple]]], root: Path) -> tuple[Path, Path]:
    """``root/ref/dev-test-sony/clipNNNN.csv`` and ``root/pred/clipNNNN.csv`` (integer columns as in the dataset)."""
    ref_dir, pred_dir = root / "ref", root / "pred"
    (ref_dir / "dev-test-sony").mkdir(parents=True)
    pred_dir.mkdir()
    for i, (ref, pred) in enumerate(pairs):
        name = f"clip{i:04d}.csv"
        for path, rows in ((ref_dir / "dev-test-sony" / name, ref), (pred_dir / name, pred)):
            body = "".join(f"{f},{c},{s},{int(a)},{int(d)},{o}\n" for f, c, s, a, d, o in rows)
            path.write_text(f"{HEADER}\n{body}")
    return ref_dir, pred_dir


def time_process(cmd: list[str], repeats: int) -> tuple[list[float], str]:
    """Wall times of ``repeats`` runs of ``cmd`` (from the repository root) and the last run's stdout."""
    times, out = [], ""
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - t0)
        out = proc.stdout
    return times, out


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (lscpu not available)"
    models = [line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")]
    return models[0] if models else "unknown"


def worst_difference(a: dict[str, float], b: dict[str, float]) -> float:
    return max(0.0 if (math.isnan(a[m]) and math.isnan(b[m])) else abs(a[m] - b[m]) for m in METRIC_NAMES)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each timing; the best is reported")
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    pairs = [make_clip(rng) for _ in range(args.files)]
    tables = [(table(r), table(p)) for r, p in pairs]  # CSV reading is not part of the in-memory timing
    n_ref = sum(len(r) for r, _ in pairs)
    n_pred = sum(len(p) for _, p in pairs)
    print(f"CPU: {cpu_model()}")
    print(f"{args.files} clips, {n_ref} reference rows, {n_pred} prediction rows (seed {args.seed})")

    best = math.inf
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fast = score_pairs(tables, onscreen=True)
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    slow = loop_score(pairs, onscreen=True)
    t_loop = time.perf_counter() - t0
    fast_d = {m: getattr(fast, m) for m in METRIC_NAMES}

    with tempfile.TemporaryDirectory() as tmp:
        ref_dir, pred_dir = write_folders(pairs, Path(tmp))
        out_json = Path(tmp) / "scores.json"
        folders = [str(ref_dir), str(pred_dir)]
        cli = [sys.executable, "-m", "seldlib.metrics", *folders, "--json", str(out_json), "--onscreen"]
        loop_cli = [sys.executable, str(REPO / "benchmarks" / "_loop_scorer.py"), *folders, "--onscreen"]
        t_cli, _ = time_process(cli, args.repeats)
        scores = json.loads(out_json.read_text())
        cli_d = {m: math.nan if scores[m] is None else scores[m] for m in METRIC_NAMES}
        t_loop_cli, loop_out = time_process(loop_cli, args.repeats)
        loop_cli_d = json.loads(loop_out)

    worst = max(worst_difference(fast_d, slow), worst_difference(cli_d, loop_cli_d),
                worst_difference(fast_d, cli_d))
    print(f"F(20,1,on) = {fast.F:.6f}  DOAE = {fast.DOAE:.4f}  RDE = {fast.RDE:.4f}  OSA = {fast.OSA:.4f}")
    print(f"max |difference| between the four scorers over the 5 metrics: {worst:.3g}")
    print("in memory (scoring only):")
    print(f"  vectorised: {best:8.4f} s  {args.files / best:10.0f} files/s  (best of {args.repeats})")
    print(f"  loop:       {t_loop:8.4f} s  {args.files / t_loop:10.0f} files/s")
    print(f"  speed-up:   {t_loop / best:8.1f} x")
    print(f"whole process on CSV folders (start-up, imports, reading; best of {args.repeats}, median in brackets):")
    for label, times in (("python -m seldlib.metrics", t_cli), ("python benchmarks/_loop_scorer.py", t_loop_cli)):
        print(f"  {label:<34} {min(times):7.3f} s  ({statistics.median(times):.3f})")
    print(f"  {'speed-up':<34} {min(t_loop_cli) / min(t_cli):7.1f} x")


if __name__ == "__main__":
    main()
