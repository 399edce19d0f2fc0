"""Throughput of the synthetic perspective video: rendering alone and rendering + libx264 encoding.

A 5-s clip (150 frames, 640 x 360, 30 fps) with 3 sources (two moving, one static, partly overlapping in
time) and the default seeded distractors. Prints frames/s (median of ``--repeats`` runs) and file size.

    python benchmarks/bench_video_synth.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from seldlib.synth.video import VideoTrack, render_frames, render_video


def three_sources() -> list[VideoTrack]:
    n = 50
    return [
        VideoTrack(0, np.arange(n), np.linspace(40.0, -40.0, n), np.linspace(-10.0, 10.0, n), np.full(n, 1.5)),
        VideoTrack(6, np.arange(10, 45), np.linspace(-30.0, 20.0, 35), np.full(35, -15.0), np.linspace(3.0, 1.2, 35)),
        VideoTrack(3, np.arange(0, 50, 2), np.full(25, 15.0), np.full(25, 5.0), np.full(25, 2.5)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    tracks, n_frames = three_sources(), 150

    render_s, total_s = [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.mp4"
        render_video(out, tracks, seed=0)  # warm-up (imports, codec init)
        for r in range(args.repeats):
            t0 = time.perf_counter()
            for _ in render_frames(tracks, seed=r):
                pass
            render_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            render_video(out, tracks, seed=r)
            total_s.append(time.perf_counter() - t0)
        size_kb = out.stat().st_size / 1024

    med_r, med_t = statistics.median(render_s), statistics.median(total_s)
    print(f"clip: {n_frames} frames 640x360 @ 30 fps, 3 sources + seeded distractors, repeats={args.repeats}")
    print(f"render only        : {n_frames / med_r:8.1f} frames/s  ({med_r * 1e3:.0f} ms/clip)")
    print(f"render + libx264   : {n_frames / med_t:8.1f} frames/s  ({med_t * 1e3:.0f} ms/clip)")
    print(f"encode share       : {100 * (med_t - med_r) / med_t:5.1f} %")
    print(f"MP4 size           : {size_kb:.0f} KiB/clip")


if __name__ == "__main__":
    main()
