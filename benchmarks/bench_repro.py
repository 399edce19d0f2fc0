"""Benchmark: a fresh clone's whole `dvc repro`, stage by stage, on this machine.

    python benchmarks/bench_repro.py [--keep DIR] [--out metrics/repro_time.json]

Clones the current commit into a temporary folder (or DIR), runs `dvc repro` there and times every
stage from DVC's own "Running stage" lines. Prints the table with the CPU model (`lscpu`) and the load
average before and after (other jobs on the cores slow every figure), and writes it as JSON; the
README's "Quick start" quotes that file (`python -m seldlib.report --readme README.md ...`), so the
figure there is always one that was measured. With `--keep DIR` the clone stays for inspection, and
its `dvc.lock` and `metrics/` are those of a clean rebuild of the commit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    """``lscpu``'s model name and the core count: the benchmarks' one CPU reader."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:  # no lscpu (macOS)
        out = ""
    name = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "unknown CPU")
    return f"{name}, {os.cpu_count()} cores"


def timed_repro(repo: Path) -> tuple[dict[str, float], float]:
    """``({stage: seconds}, total seconds)`` of `dvc repro` in ``repo``."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    proc = subprocess.Popen(["dvc", "repro"], cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    assert proc.stdout is not None
    times: dict[str, float] = {}
    current, since = None, start
    for line in proc.stdout:
        sys.stdout.write(line)
        m = re.match(r"Running stage '([^']+)'", line)
        if m:
            now = time.perf_counter()
            if current is not None:
                times[current] = now - since
            current, since = m.group(1), now
    if proc.wait() != 0:
        raise SystemExit(f"dvc repro failed (exit {proc.returncode})")
    end = time.perf_counter()
    if current is not None:
        times[current] = end - since
    return times, end - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", type=Path, default=None, help="clone into DIR and keep it")
    ap.add_argument("--out", type=Path, default=ROOT / "metrics" / "repro_time.json")
    args = ap.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_repro."))
    subprocess.run(["git", "clone", "-q", str(ROOT), str(work)], check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=work, capture_output=True, text=True).stdout.strip()
    load_before = os.getloadavg()[0]
    times, total = timed_repro(work)
    load_after = os.getloadavg()[0]
    result = {"cpu": cpu_model(), "commit": commit, "total_s": round(total, 1),
              "load_average_1min": [round(load_before, 2), round(load_after, 2)],
              "stages_s": {k: round(v, 1) for k, v in times.items()}}
    print(f"\n{result['cpu']}; commit {commit}; load average {load_before:.2f} -> {load_after:.2f}")
    for stage, seconds in times.items():
        print(f"  {stage:28s} {seconds:7.1f} s")
    print(f"  {'total':28s} {total:7.1f} s ({total / 60:.1f} min)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
