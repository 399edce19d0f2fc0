"""Scene sampling and rendering, SpatialScaper's method (Roman et al., ICASSP 2024; ``iranroman/SpatialScaper``,
``spatialscaper/core.py``) with its quirks fixed (``docs/spatial-scenes.md#scene-sampling``).

Sampling (:func:`sample_scene`), all from one seeded ``np.random.Generator``:

* class uniform over the 13 classes, then a source from the bank (fresh parameters per event);
* onset uniform on the 100-ms label grid such that the dry event ends inside the clip; rejected
  (up to ``max_tries``) when it would make more than ``polyphony`` events sound in any label frame,
  counting a guard frame either side (SpatialScaper's +-0.1 s rule); same-class overlap is allowed;
* static or moving (``moving_prob``); moving is either *linear* (straight line at 0.3-``speed_limit``
  m/s in a random 3-D direction) or an *arc* (constant distance and elevation, 15-90 deg/s). The start
  is a uniformly drawn grid position (not a point in the bounding box, which over-selects the interior);
* the path is sampled at the label-frame centres and snapped to the nearest SRIR grid position; runs of
  the same position become one IR anchored at the run's *true* mid time (not re-timed uniformly);
* SNR uniform in ``snr_db``.

Rendering (:func:`render_scene`): each event goes through :func:`spatialize` (hat cross-fades between
the anchored IRs) and keeps its reverberant tail up to the clip end. Levels: the room noise is diffuse,
decorrelated FOA noise (W unit energy, X, Y, Z 1/3 each) at ``noise_db`` dBFS RMS in W; an event is
scaled so that its W-channel power over its labelled span is ``snr_db`` above the noise power.

Labels: frame f is labelled for an event iff the dry signal is active somewhere in [0.1 f, 0.1 (f+1)) s.
The label position is the anchor positions interpolated linearly (cartesian) at the frame centre, which
is what the hat cross-fade renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seldlib.constants import CLIP_SAMPLES, N_CLASSES, N_LABEL_FRAMES, SAMPLE_RATE
from seldlib.synth.convolve import spatialize
from seldlib.synth.rooms import Room, cart_to_polar, polar_to_cart

FRAME = SAMPLE_RATE // 10  # 2400 samples per 100-ms label frame


@dataclass
class EventPlan:
    """One sampled event. ``audio`` (T,) dry mono; ``ir_index``/``anchors`` (K,) grid indices and anchor
    times in samples from the onset; ``frames`` (F,) absolute label frames; ``positions`` (F, 3) metres."""

    cls: int
    source: int
    onset_frame: int
    audio: np.ndarray
    ir_index: np.ndarray
    anchors: np.ndarray
    snr_db: float
    motion: str  # "static", "linear" or "arc"
    frames: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    positions: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))

    @property
    def onset(self) -> int:
        return self.onset_frame * FRAME


@dataclass
class ScenePlan:
    events: list[EventPlan]
    noise_db: float
    n_samples: int = CLIP_SAMPLES


def _nearest(points: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Index (P,) of the nearest grid row (M, 3) for each point (P, 3)."""
    d2 = ((points[:, None, :] - grid[None, :, :]) ** 2).sum(-1)
    return np.argmin(d2, axis=1)


def sample_trajectory(
    rng: np.random.Generator, grid: np.ndarray, n_frames: int, motion: str, speed_limit: float = 1.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample a path on the grid (M, 3) over ``n_frames`` label frames.

    Returns (ir_index (K,), anchors (K,) samples from the onset, positions (n_frames, 3)).
    """
    start = int(rng.integers(len(grid)))
    times = (np.arange(n_frames) + 0.5) * 0.1  # frame centres, seconds from the onset
    if motion == "static":
        return np.array([start]), np.array([0.0]), np.repeat(grid[start][None], n_frames, axis=0)
    if motion == "arc":
        az0, el0, r0 = cart_to_polar(grid[start])
        omega = rng.uniform(15.0, 90.0) * rng.choice([-1.0, 1.0])
        path = polar_to_cart(az0 + omega * times, np.full(n_frames, el0), np.full(n_frames, r0))
    elif motion == "linear":
        u = rng.standard_normal(3)
        u /= np.linalg.norm(u)
        path = grid[start] + np.outer(times * rng.uniform(0.3, speed_limit), u)
    else:
        raise ValueError(f"motion must be static, arc or linear, got {motion!r}")
    snapped = _nearest(path, grid)
    change = np.flatnonzero(np.diff(snapped)) + 1
    run_starts = np.concatenate([[0], change])
    run_ends = np.concatenate([change, [n_frames]])
    ir_index = snapped[run_starts]
    anchors = (run_starts + run_ends) / 2.0 * FRAME  # true mid time of each run
    if len(ir_index) == 1:
        return ir_index, np.array([0.0]), np.repeat(grid[ir_index[0]][None], n_frames, axis=0)
    t_samples = (np.arange(n_frames) + 0.5) * FRAME
    pts = grid[ir_index]
    positions = np.stack([np.interp(t_samples, anchors, pts[:, c]) for c in range(3)], axis=1)
    return ir_index, anchors, positions


def sample_scene(
    rng: np.random.Generator,
    room: Room,
    bank,
    n_events: tuple[int, int] = (1, 4),
    polyphony: int = 3,
    snr_db: tuple[float, float] = (5.0, 30.0),
    moving_prob: float = 0.5,
    speed_limit: float = 1.5,
    noise_db: tuple[float, float] = (-58.0, -46.0),
    max_event_s: float = 4.5,
    max_tries: int = 100,
    classes: tuple[int, ...] | None = None,
) -> ScenePlan:
    """Sample a clip's events (see module doc). ``n_events`` is an inclusive range drawn uniformly."""
    classes = tuple(range(N_CLASSES)) if classes is None else classes
    occupancy = np.zeros(N_LABEL_FRAMES + 2, np.int64)  # guard slots at both ends
    target = int(rng.integers(n_events[0], n_events[1] + 1))
    events: list[EventPlan] = []
    attempts = 0
    while len(events) < target and attempts < 3 * target + 3:
        attempts += 1
        cls = int(classes[int(rng.integers(len(classes)))])
        audio = bank.draw(cls, rng, max_seconds=min(max_event_s, CLIP_SAMPLES / SAMPLE_RATE - 0.1))
        if len(audio) == 0:
            continue
        n_fr = int(np.ceil(len(audio) / FRAME))
        onset = None
        for _ in range(max_tries):
            f0 = int(rng.integers(0, N_LABEL_FRAMES - n_fr + 1))
            # frames f0-1 .. f0+n_fr (guard) are occupancy slots f0 .. f0+n_fr+1
            if occupancy[f0:f0 + n_fr + 2].max(initial=0) < polyphony:
                onset = f0
                break
        if onset is None:
            continue
        occupancy[onset + 1:onset + 1 + n_fr] += 1
        r = rng.random()
        motion = "static" if r >= moving_prob else ("linear" if rng.random() < 0.5 else "arc")
        ir_index, anchors, positions = sample_trajectory(rng, room.positions, n_fr, motion, speed_limit)
        snr = float(rng.uniform(*snr_db))
        events.append(EventPlan(cls, -1, onset, audio, ir_index, anchors, snr, motion,
                                np.arange(onset, onset + n_fr), positions))
    events.sort(key=lambda e: (e.onset_frame, e.cls))
    for i, ev in enumerate(events):
        ev.source = i
    return ScenePlan(events, float(rng.uniform(*noise_db)))


def diffuse_noise(rng: np.random.Generator, n: int, tilt_db_oct: float, hum_hz: float, hum_db: float) -> np.ndarray:
    """Diffuse FOA room noise (4, n), W RMS 1: four independent spectrally-shaped noises, the X, Y, Z
    channels at 1/3 of W's energy (isotropic field in SN3D), so they are mutually uncorrelated.

    ``tilt_db_oct``: spectral slope (e.g. -3 = pink); ``hum_hz``/``hum_db``: a ventilation hum line
    (with 2 harmonics) ``hum_db`` relative to the broadband noise power.
    """
    white = rng.standard_normal((4, n))
    spec = np.fft.rfft(white, axis=-1)
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    shape = (np.maximum(f, 50.0) / 1000.0) ** (tilt_db_oct / (20 * np.log10(2)))
    shape *= 1.0 / (1.0 + (f / 8000.0) ** 4)  # ventilation/air noise has little energy up high
    # hum as narrow (~3 Hz) bands of noise at hum_hz and 2 harmonics: independent per channel, so
    # it stays diffuse (a pure tone could not be decorrelated across channels)
    peaks = sum(np.exp(-0.5 * ((f - k * hum_hz) / 1.5) ** 2) / k for k in (1, 2, 3))
    p_bb, p_hum = np.sum(shape**2), np.sum(peaks**2)
    amp = np.sqrt(shape**2 + peaks**2 * 10 ** (hum_db / 10) * p_bb / p_hum)
    noise = np.fft.irfft(spec * amp, n, axis=-1)
    noise /= np.sqrt(np.mean(noise**2, axis=-1, keepdims=True))
    noise[1:] /= np.sqrt(3.0)
    return noise


def room_noise_params(room_name: str) -> tuple[float, float, float]:
    """Per-room noise character (tilt dB/oct, hum Hz, hum dB), fixed by the room's name."""
    import zlib

    r = np.random.default_rng(zlib.crc32(room_name.encode("utf-8")))
    return float(r.uniform(-5.0, -2.0)), float(r.uniform(50.0, 180.0)), float(r.uniform(-25.0, -8.0))


@dataclass
class RenderedScene:
    """foa: (4, n_samples) mix. stems: one (4, n_samples) array per event (already scaled). noise: (4, n)."""

    foa: np.ndarray
    stems: list[np.ndarray]
    noise: np.ndarray


def render_scene(plan: ScenePlan, room: Room, rng: np.random.Generator, keep_stems: bool = False,
                 background: np.ndarray | None = None) -> RenderedScene:
    """Spatialise and mix the events of ``plan`` over diffuse room noise (see module doc), or over
    ``background`` (4, n_samples) with W RMS 1 (a recorded room ambience), scaled the same way."""
    n = plan.n_samples
    noise_rms = 10 ** (plan.noise_db / 20)
    if background is None:
        background = diffuse_noise(rng, n, *room_noise_params(room.name))
    noise = background * noise_rms
    mix = noise.copy()
    stems = []
    for ev in plan.events:
        wet = spatialize(ev.audio, room.irs[ev.ir_index], ev.anchors)
        onset = ev.onset
        span = min(len(ev.audio), n - onset)
        p_event = np.mean(wet[0, :span] ** 2)
        gain = noise_rms * 10 ** (ev.snr_db / 20) / np.sqrt(max(p_event, 1e-20))
        m = min(wet.shape[1], n - onset)
        stem_part = wet[:, :m] * gain
        mix[:, onset:onset + m] += stem_part
        if keep_stems:
            stem = np.zeros((4, n))
            stem[:, onset:onset + m] = stem_part
            stems.append(stem)
    return RenderedScene(mix, stems, noise)
