"""Cost of the synthetic perspective video: per clip, and what it adds to the dataset stage.

1. One 5-s clip (150 frames, 640 x 360, 30 fps) with 3 sources (two moving, one static, partly overlapping
   in time) and the default seeded distractors: RGB frames (``render_frames``), the YUV planes the encoder
   is fed (drawn and converted only where the glyphs are), and the whole ``render_video`` (with libx264).
2. With ``--split N``: ``generate_split`` of N clips in the pipeline's training rooms (``--rooms``, made
   by the ``rooms`` stage), audio only and audio + video, one process; the difference is what video adds
   per clip, projected for the embedded default (320 + 60 + 100 clips on ``--workers`` processes).

Median of ``--repeats`` runs (the split timing runs once per variant).

    python benchmarks/bench_video_synth.py [--repeats 5] [--split 12] [--rooms data/rooms/train] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from seldlib.constants import VIDEO_HFOV_DEG
from seldlib.synth.video import VideoTrack, _scene, _yuv_frames, render_frames, render_video

EMBEDDED_CLIPS = 320 + 60 + 100  # data.mini: n_train + n_val + n_test


def three_sources() -> list[VideoTrack]:
    n = 50
    return [
        VideoTrack(0, np.arange(n), np.linspace(40.0, -40.0, n), np.linspace(-10.0, 10.0, n), np.full(n, 1.5)),
        VideoTrack(6, np.arange(10, 45), np.linspace(-30.0, 20.0, 35), np.full(35, -15.0), np.linspace(3.0, 1.2, 35)),
        VideoTrack(3, np.arange(0, 50, 2), np.full(25, 15.0), np.full(25, 5.0), np.full(25, 2.5)),
    ]


def clip_costs(repeats: int) -> None:
    tracks, n_frames = three_sources(), 150
    rgb_s, yuv_s, total_s = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.mp4"
        render_video(out, tracks, seed=0)  # warm-up (imports, codec init)
        for r in range(repeats):
            t0 = time.perf_counter()
            for _ in render_frames(tracks, seed=r):
                pass
            rgb_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            background, plan = _scene(tracks, r, 30.0, n_frames, 640, 360, None, VIDEO_HFOV_DEG, None)
            for _ in _yuv_frames(background, plan):
                pass
            yuv_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            render_video(out, tracks, seed=r)
            total_s.append(time.perf_counter() - t0)
        size_kb = out.stat().st_size / 1024

    med_rgb, med_yuv, med_t = (statistics.median(x) for x in (rgb_s, yuv_s, total_s))
    print(f"clip: {n_frames} frames 640x360 @ 30 fps, 3 sources + seeded distractors, repeats={repeats}")
    print(f"RGB frames (render_frames) : {n_frames / med_rgb:8.1f} frames/s  ({med_rgb * 1e3:.0f} ms/clip)")
    print(f"YUV planes (encoder input) : {n_frames / med_yuv:8.1f} frames/s  ({med_yuv * 1e3:.0f} ms/clip)")
    print(f"render_video (+ libx264)   : {n_frames / med_t:8.1f} frames/s  ({med_t * 1e3:.0f} ms/clip)")
    print(f"encode share               : {100 * (med_t - med_yuv) / med_t:5.1f} %")
    print(f"MP4 size                   : {size_kb:.0f} KiB/clip")


def split_costs(n_clips: int, rooms_dir: Path, workers: int) -> None:
    from seldlib.synth.dataset import generate_split
    from seldlib.synth.sources import ProceduralBank

    rooms = sorted(rooms_dir.glob("*.sofa"))
    if not rooms:
        raise SystemExit(f"no SOFA rooms in {rooms_dir} (run `dvc repro rooms` or pass --rooms)")
    per_clip = {}
    for video in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            generate_split(tmp, "dev-train-sim", n_clips, rooms, fold=3, seed=2025, sources=ProceduralBank(),
                           make_video=video, workers=1, progress=False)
            per_clip[video] = (time.perf_counter() - t0) / n_clips
    extra = per_clip[True] - per_clip[False]
    print(f"generate_split, {n_clips} clips, 1 process: audio only {per_clip[False] * 1e3:.0f} ms/clip, "
          f"audio + video {per_clip[True] * 1e3:.0f} ms/clip (video adds {extra * 1e3:.0f} ms/clip)")
    print(f"projected for the embedded default ({EMBEDDED_CLIPS} clips, {workers} processes): "
          f"audio {EMBEDDED_CLIPS * per_clip[False] / workers:.0f} s + video {EMBEDDED_CLIPS * extra / workers:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--split", type=int, default=0, help="also time generate_split of this many clips")
    ap.add_argument("--rooms", type=Path, default=Path("data/rooms/train"))
    ap.add_argument("--workers", type=int, default=2, help="processes of the projection (data.workers)")
    args = ap.parse_args()
    clip_costs(args.repeats)
    if args.split:
        split_costs(args.split, args.rooms, args.workers)


if __name__ == "__main__":
    main()
