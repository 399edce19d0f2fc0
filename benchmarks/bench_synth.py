"""Synthesis speed: our hat-crossfade FFT time-variant convolution vs a faithful re-implementation of
SpatialScaper's STFT/CTF moving-source convolution (``perform_time_variant_convolution`` in
``spatialscaper/spatialize.py``; ``docs/spatial-scenes.md#moving-sources``), plus end-to-end clip throughput.

Usage: python benchmarks/bench_synth.py [--clips60 3] [--clips5 40] [--seed 0] [--real-clips 60] [--only-real]

Sections
1. 60-s protocol (the scene statistics of SpatialScaper's ``example_generation.py``): 60-s scenes with
   max(1, int(N(15, 6))) events of 1-10 s noise, 50 % moving (half linear, half arc), FOA, 24 kHz,
   7200-tap IRs on a simulated ~500-position room. Spatialisation time per clip, ours vs the CTF reference, all / static-only / moving-only.
2. 5-s clips as the generator makes them (procedural sources, room noise, stereo, labels; no file I/O):
   clips/s and real-time factor (audio seconds per wall second) in one process.
3. Room simulation time (default train/test/synth rooms).
4. The paper's scale (``synth.source: fsd50k``): ``generate_split`` as the synth stage runs it, files
   written, with FSD50K-like sources (a FolderBank tree of 24-kHz mono WAVs, 0.3-30 s, log-uniform like
   FSD50K clip lengths) in a TAU-sized SOFA room (6480 positions x 4 x 7200 taps, 746 MB, read lazily)
   over a recorded-style FLAC ambience; one process, then one per core. Reports clips/s per core and the
   estimated time for 30,000 clips on 16 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from seldlib.synth.convolve import spatialize
from seldlib.synth.rooms import RoomSpec, default_room_specs, simulate_room
from seldlib.synth.scenes import sample_trajectory

SR = 24000


def ctf_reference(x: np.ndarray, irs: np.ndarray, ir_times: np.ndarray) -> np.ndarray:
    """SpatialScaper-style CTF time-variant convolution (method of its ``perform_time_variant_convolution``,
    written here).

    x (T,), irs (K, C, N), ir_times (K,) seconds. Python loop over output STFT frames with an einsum per
    frame; IR mix chosen at the emission frame; no synthesis window; tail cut to the dry length.
    """
    win_len, hop, nfft = 512, 256, 1024
    win = np.sin(np.pi * np.arange(win_len) / win_len) ** 2

    def stft(sig: np.ndarray) -> np.ndarray:  # (..., L) -> (frames, bins, ...)
        n_frames = 2 * int(np.ceil(sig.shape[-1] / win_len)) + 1
        pad = np.zeros(sig.shape[:-1] + ((n_frames + 1) * hop,))
        pad[..., win_len - hop:win_len - hop + sig.shape[-1]] = sig
        frames = np.stack([pad[..., i * hop:i * hop + win_len] * win for i in range(n_frames)])
        return np.fft.rfft(frames, nfft, axis=-1)

    k_irs = len(irs)
    dur = len(x) / SR
    xs = stft(x)  # (F, B)
    hs = stft(irs)  # (M_ir, K, C, B)
    hs = np.moveaxis(hs, -1, 2)  # (M_ir, K, B, C)
    n_w = int(round((dur * SR + hop) / hop))
    weights = np.zeros((n_w, k_irs))
    if k_irs == 1:
        weights[:, 0] = 1.0
    else:
        anchors = np.round((ir_times * SR + hop) / hop).astype(int) - 1
        anchors = np.clip(anchors, 0, n_w - 1)
        for k in range(k_irs - 1):
            a, b = anchors[k], anchors[k + 1]
            if b > a:
                r = np.linspace(0, 1, b - a, endpoint=False)
                weights[a:b, k] = 1 - r
                weights[a:b, k + 1] = r
        weights[anchors[-1]:, -1] = 1.0
        weights[: anchors[0], 0] = 1.0
    n_frames = min(len(xs), n_w)
    m_ir = hs.shape[0]
    out_spec = np.zeros((n_frames, xs.shape[1], irs.shape[1]), complex)
    for i in range(n_frames):  # the per-frame Python loop is the method's cost
        mm = min(i + 1, m_ir)
        x_src = xs[i - mm + 1:i + 1][::-1]  # emission frames i - m, m = 0..mm-1 (views, no copies)
        w = weights[i - mm + 1:i + 1][::-1]
        for k in np.flatnonzero(w.any(axis=0)):  # skip zero-weight IRs (upstream's optimisation)
            out_spec[i] += np.einsum("mb,m,mbc->bc", x_src, w[:, k], hs[:mm, k])
    frames = np.fft.irfft(out_spec, nfft, axis=1)  # (F, nfft, C)
    y = np.zeros(((n_frames + 3) * hop, irs.shape[1]))
    for i in range(n_frames):
        y[i * hop:i * hop + nfft] += frames[i]
    return y[win_len:n_frames * hop].T


def scene_events(rng: np.random.Generator, room_pos: np.ndarray, clip_s: float, moving_prob: float):
    n_ev = max(1, int(rng.normal(15, 6)))
    events = []
    for _ in range(n_ev):
        dur = rng.uniform(1.0, min(10.0, clip_s))
        x = rng.standard_normal(int(dur * SR)).astype(np.float32)
        motion = "static" if rng.random() >= moving_prob else ("linear" if rng.random() < 0.5 else "arc")
        idx, anchors, _ = sample_trajectory(rng, room_pos, int(np.ceil(dur * 10)), motion, speed_limit=2.0)
        events.append((x, idx, anchors, motion))
    return events


def time_protocol(room, n_clips: int, seed: int, moving_prob: float, run_ctf: bool = True):
    rng = np.random.default_rng(seed)
    ours = ref = 0.0
    n_events = n_moving = 0
    for _ in range(n_clips):
        for x, idx, anchors, motion in scene_events(rng, room.positions, 60.0, moving_prob):
            irs = room.irs[idx]
            t = time.perf_counter()
            spatialize(x, irs, anchors)
            ours += time.perf_counter() - t
            if run_ctf:
                t = time.perf_counter()
                if len(idx) == 1:  # SpatialScaper's static path: one full FFT convolution, cut to len(x)
                    from scipy.signal import fftconvolve

                    fftconvolve(x[None], irs[0], axes=-1)[:, : len(x)]
                else:
                    ctf_reference(x.astype(np.float64), irs.astype(np.float64), anchors / SR)
                ref += time.perf_counter() - t
            n_events += 1
            n_moving += int(len(idx) > 1)
    return ours / n_clips, ref / n_clips, n_events / n_clips, n_moving / n_clips


def tau_sized_room(folder: Path, seed: int) -> Path:
    """A SOFA room of TAU-SRIR DB size (circular room: 2 ranges x 9 heights x 360 points, 7200 taps) with a
    60-s FOA ambience beside it, written a trajectory at a time. IR content does not change the cost."""
    import soundfile as sf

    from seldlib.synth.rooms import AMBIENCE_SUFFIX, sofa_writer

    rng = np.random.default_rng(seed)
    az = np.deg2rad(np.arange(360.0))
    pos = np.concatenate([np.stack([d * np.cos(az), d * np.sin(az), np.full(360, h)], axis=1)
                          for d in (1.5, 3.0) for h in np.linspace(-1.2, 1.2, 9)])  # fmt: skip
    decay = np.exp(-np.arange(7200) / (0.08 * SR)).astype(np.float32)
    path = folder / "tau_sized_foa.sofa"
    with sofa_writer(path, "tau_sized", pos, 7200) as ir:
        for s in range(0, len(pos), 360):
            ir[s:s + 360] = rng.standard_normal((360, 4, 7200)).astype(np.float32) * decay
    amb = rng.standard_normal((60 * SR, 4)) * [0.02, 0.01, 0.008, 0.012]
    sf.write(folder / f"tau_sized_foa{AMBIENCE_SUFFIX}", amb, SR, subtype="PCM_24", format="FLAC")
    return path


def fsd50k_like_tree(folder: Path, seed: int, per_class: int = 8) -> Path:
    """``<class>/train/<label>/<n>.wav``: band-limited noise bursts, lengths log-uniform in 0.3-30 s."""
    import soundfile as sf
    from scipy.signal import butter, sosfilt

    from seldlib.synth.sources import FOLDER_NAMES

    rng = np.random.default_rng(seed)
    for c, cls in enumerate(FOLDER_NAMES):
        d = folder / cls / "train" / "Label"
        d.mkdir(parents=True)
        for k in range(per_class):
            n = int(np.exp(rng.uniform(np.log(0.3), np.log(30.0))) * SR)
            x = sosfilt(butter(2, [200 + 300 * c, 800 + 600 * c], btype="band", fs=SR, output="sos"),
                        rng.standard_normal(n))
            x *= 0.3 / np.abs(x).max()
            sf.write(d / f"{k}.wav", x, SR, subtype="PCM_16")
    return folder


def bench_real_scale(n_clips: int, seed: int) -> None:
    from seldlib.synth.dataset import generate_split
    from seldlib.synth.sources import FolderBank

    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        room = tau_sized_room(tmp, seed)
        bank = FolderBank(fsd50k_like_tree(tmp / "sources", seed), "train")
        print(f"  TAU-sized room {room.stat().st_size / 1e6:.0f} MB + 104 sources written in "
              f"{time.perf_counter() - t:.1f} s (excluded)")
        generate_split(tmp / "warm", "dev-train-synth", 2, [room], 1, seed, bank, progress=False)  # imports, page cache
        rates = {}
        for workers in sorted({1, cores}):
            t = time.perf_counter()
            generate_split(tmp / f"out{workers}", "dev-train-synth", n_clips, [room], 1, seed, bank, workers=workers,
                           progress=False)  # fmt: skip
            dt = time.perf_counter() - t
            rates[workers] = n_clips / dt
            print(f"  {workers} process(es): {n_clips} clips in {dt:.1f} s = {rates[workers]:.2f} clips/s, "
                  f"{rates[workers] / workers:.2f} clips/s per core")
    per_core = rates[cores] / cores
    print(f"  estimate for 30,000 clips on 16 cores at {per_core:.2f} clips/s per core "
          f"({cores}-core scaling {rates[cores] / (cores * rates[1]):.0%}): {30000 / (16 * per_core) / 60:.0f} min")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips60", type=int, default=3)
    ap.add_argument("--clips5", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real-clips", type=int, default=60, help="clips per measurement of section 4")
    ap.add_argument("--only-real", action="store_true", help="run section 4 only")
    args = ap.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    if args.only_real:
        print("\n4) paper scale: FSD50K-like sources in a TAU-sized room, files written")
        bench_real_scale(args.real_clips, args.seed)
        return

    # sanity: the reference and ours agree roughly on a moving event (same physical model, CTF approx.)
    spec = RoomSpec("bench_room", (14.0, 10.0, 4.5), 0.6, (7.2, 4.8, 1.7), az_step_deg=5.0,
                    radii=(1.0, 2.0, 3.0, 4.0), elevations=(-20.0, 0.0, 20.0), ir_seconds=0.3)
    t = time.perf_counter()
    room = simulate_room(spec, seed=args.seed)
    print(f"bench room: {room.irs.shape[0]} positions x {room.irs.shape[2]} taps, simulated in {time.perf_counter() - t:.2f} s")
    rng = np.random.default_rng(1)
    x = rng.standard_normal(5 * SR)
    idx, anchors, _ = sample_trajectory(rng, room.positions, 50, "arc")
    a = spatialize(x, room.irs[idx], anchors)[:, : len(x) - 512]
    b = ctf_reference(x, room.irs[idx].astype(np.float64), anchors / SR)[:, : len(x) - 512]
    n = min(a.shape[1], b.shape[1])
    corr = np.corrcoef(a[0, 1000:n], b[0, 1000:n])[0, 1]
    print(f"check: ours vs CTF reference on a 5-s arc ({len(idx)} IRs), W-channel correlation {corr:.3f}")

    print("\n1) 60-s protocol, spatialisation time per clip (mean over clips)")
    for label, p in (("mixed 50% moving", 0.5), ("all static", 0.0), ("all moving", 1.0)):
        ours, ref, n_ev, n_mov = time_protocol(room, args.clips60, args.seed, p)
        print(f"  {label:17s}: ours {ours:6.3f} s  | SpatialScaper-CTF reference {ref:6.2f} s  | "
              f"ratio {ref / max(ours, 1e-9):6.1f}x  ({n_ev:.1f} events, {n_mov:.1f} moving per clip)")

    print("\n2) 5-s clips end to end (procedural sources + render + stereo + labels, 1 process, no I/O)")
    from seldlib.synth.dataset import SynthConfig, clip_rng, synth_clip
    from seldlib.synth.sources import ProceduralBank

    rooms = [simulate_room(s, args.seed) for s in default_room_specs("train")]
    bank, cfg = ProceduralBank(), SynthConfig()
    synth_clip(clip_rng(args.seed, "bench", 0), rooms, bank, cfg)  # warm-up
    t = time.perf_counter()
    for i in range(args.clips5):
        synth_clip(clip_rng(args.seed, "bench", i + 1), rooms, bank, cfg)
    dt = time.perf_counter() - t
    print(f"  {args.clips5} clips in {dt:.2f} s: {args.clips5 / dt:.1f} clips/s, real-time factor {5.0 * args.clips5 / dt:.0f}x")

    print("\n3) room simulation (default specs)")
    for role in ("train", "test", "synth"):
        for s in default_room_specs(role):
            t = time.perf_counter()
            r = simulate_room(s, args.seed)
            print(f"  {s.name:22s} {r.irs.shape[0]:4d} positions x {r.irs.shape[2]:5d} taps: {time.perf_counter() - t:.2f} s")

    print("\n4) paper scale: FSD50K-like sources in a TAU-sized room, files written")
    bench_real_scale(args.real_clips, args.seed)


if __name__ == "__main__":
    main()
