"""Visual post-processing of fused audio-visual posteriors (NERC-SLIP report section 2.3, "+ PP").

One refinement step per detector (people first, then objects: calling :func:`refine` twice). It works
on the fused arrays *before* decoding, so that every system is decoded by the one decoder
(``seldlib.predictions.write_prediction_dir``). For each active class-frame of a class the detector
covers, the detections of the key frame nearest the label frame's time are searched for the one whose
azimuth for that class is nearest the predicted azimuth (on the circle):

- within ``gate_deg``: the azimuth moves toward the visual one by ``blend`` (1 snaps) and the
  on-screen posterior rises to at least ``onscreen_hit``;
- no candidate at all in that key frame while the event is predicted on screen and inside the
  camera's field of view: the on-screen posterior is scaled by ``miss_scale``;
- otherwise (a candidate outside the gate, no key frame within ``hold_s``, an event outside the field
  of view): unchanged.

Inactive frames, classes the detector does not cover and a skipped detector pass through unchanged.
The decoder keeps its own rule that an event beyond 50° azimuth is never on screen. The algorithm,
its parameters and how to tune them: ``docs/postprocessing.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from seldlib.constants import LABEL_HOP_SECONDS, N_CLASSES, VIDEO_HFOV_DEG
from seldlib.detection import DetectionStore

OUTCOMES = ("snapped", "lowered", "untouched")
_TIME_TOL = 1e-6  # seconds: times closer than this are equal (0.1·k and key-frame times are floats)


@dataclass(frozen=True)
class RefineConfig:
    """Parameters of one refinement step (one detector).

    Attributes:
        gate_deg: a detection this close to the predicted azimuth (degrees, on the circle) is the source.
        blend: how far the azimuth moves toward the detection's, in [0, 1] (1: snap, 0: keep).
        min_score: detections below this confidence are ignored.
        onscreen_hit: on-screen posterior floor for an event matched to a detection, in [0, 1].
        miss_scale: factor on the on-screen posterior of an event predicted on screen with no candidate
            detection in its key frame, in [0, 1] (1: no change).
        max_az: the miss rule applies only to events within this many degrees of the camera axis (half
            the field of view): the camera cannot confirm or refute what it cannot see.
        hold_s: a label frame uses the nearest key frame only if it lies within this many seconds.
    """

    gate_deg: float
    blend: float
    min_score: float
    onscreen_hit: float
    miss_scale: float
    max_az: float = VIDEO_HFOV_DEG / 2.0
    hold_s: float = 0.25

    def __post_init__(self) -> None:
        for name, lo, hi in (("gate_deg", 0.0, 180.0), ("blend", 0.0, 1.0), ("min_score", 0.0, 1.0),
                             ("onscreen_hit", 0.0, 1.0), ("miss_scale", 0.0, 1.0), ("max_az", 0.0, 180.0),
                             ("hold_s", 0.0, np.inf)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                raise ValueError(f"RefineConfig.{name} must be a number in [{lo:g}, {hi:g}], got {value!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> RefineConfig:
        """From a params section; unknown keys are a ``ValueError`` naming the known ones."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown refinement parameter(s) {', '.join(unknown)}; "
                             f"expected {', '.join(sorted(known))}")
        return cls(**{k: float(v) for k, v in values.items()})


def wrap_deg(angle: np.ndarray | float) -> np.ndarray:
    """Angles in degrees mapped to [-180, 180); ``(...) -> (...)``."""
    return np.mod(np.asarray(angle, np.float64) + 180.0, 360.0) - 180.0


def key_frame_of_label_frames(times: np.ndarray, n_frames: int, hold_s: float) -> np.ndarray:
    """For each label frame k (at ``0.1·k`` s), the index of the nearest key frame in ``times``
    ``(K,)`` seconds, or -1 when none lies within ``hold_s``; ``-> (n_frames,) int``. Ties go to
    the earlier key frame."""
    times = np.asarray(times, np.float64).reshape(-1)
    if not len(times):
        return np.full(n_frames, -1, np.int64)
    t = np.arange(n_frames) * LABEL_HOP_SECONDS
    # rounded to whole microseconds, so that float noise (3 · 0.1 = 0.30000000000000004) cannot break a tie
    gap = np.round(np.abs(t[:, None] - times[None, :]) / _TIME_TOL) * _TIME_TOL  # (n_frames, K)
    nearest = np.argmin(gap, axis=1)  # first minimum: the earlier key frame on a tie
    within = gap[np.arange(n_frames), nearest] <= hold_s + _TIME_TOL / 2
    return np.where(within, nearest, -1).astype(np.int64)


def empty_stats(store: DetectionStore) -> dict:
    """The statistics of a step on ``store`` before any class-frame is counted."""
    return {"detector": store.detector, "status": store.status, "applied": store.ok,
            "covered": [int(c) for c in np.flatnonzero(np.asarray(store.covered, bool))],
            **{k: [0] * N_CLASSES for k in (*OUTCOMES, "no_key_frame")}}


def refine(
    arrays: Mapping[str, np.ndarray],
    names: Sequence[str],
    store: DetectionStore,
    cfg: RefineConfig,
    threshold: float | np.ndarray,
    onscreen_threshold: float,
) -> tuple[dict[str, np.ndarray], dict]:
    """One visual refinement step on fused arrays.

    Args:
        arrays: ``{"sed": (N, 50, 13), "doa": (N, 50, 13, 2) direction vectors (x = cos az,
            y = sin az), "onscreen": (N, 50, 13) posteriors, ...}``; other keys (``dist``) pass through.
        names: ``N`` clip names, the keys of ``store.clips``.
        store: the detector's results; a store whose status is not ``"ok"`` changes nothing.
        cfg: the step's parameters.
        threshold: SED threshold, scalar or ``(13,)``: a class-frame is active where ``sed > threshold``
            (the decoder's rule).
        onscreen_threshold: the decoder's on-screen threshold: an event is predicted on screen where
            its posterior is at least this.

    Returns:
        ``(arrays, stats)``: new arrays (the input is not modified; a skipped store returns the input
        arrays themselves) and ``stats`` with, per class, the number of active class-frames of covered
        classes ``snapped`` (matched to a detection), ``lowered`` (miss rule) and ``untouched``, of
        which ``no_key_frame`` had no key frame within ``hold_s``.

    Raises:
        ValueError: missing keys, mismatched shapes, or a clip the (ok) store has no detections for.
    """
    stats = {**empty_stats(store), "config": asdict(cfg)}
    if not store.ok:
        return dict(arrays), stats
    for key in ("sed", "doa", "onscreen"):
        if key not in arrays:
            raise ValueError(f"the post-processing needs {key!r} in the fused arrays "
                             f"(has {', '.join(sorted(arrays))})")
    sed = np.asarray(arrays["sed"], np.float64)
    n, n_frames, n_classes = sed.shape
    if arrays["doa"].shape != (n, n_frames, n_classes, 2) or arrays["onscreen"].shape != sed.shape:
        raise ValueError(f"shapes do not match: sed {sed.shape}, doa {arrays['doa'].shape}, "
                         f"onscreen {arrays['onscreen'].shape}")
    if len(names) != n:
        raise ValueError(f"{len(names)} clip names for {n} clips of arrays")
    missing = [name for name in names if name not in store.clips]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ValueError(f"no detections for clip {missing[0]}{more}")

    thr = np.broadcast_to(np.asarray(threshold, np.float64), (n_classes,))
    covered = np.asarray(store.covered, bool)
    doa = np.array(arrays["doa"], np.float64)
    onscreen = np.array(arrays["onscreen"], np.float64)
    counts = {k: np.zeros(n_classes, np.int64) for k in (*OUTCOMES, "no_key_frame")}

    for i, name in enumerate(names):
        clip = store.clips[name]
        key_frame = key_frame_of_label_frames(clip.times, n_frames, cfg.hold_s)  # (T,)
        # same_frame[k, m]: detection m is on label frame k's key frame
        same_frame = (clip.frame[None, :] == key_frame[:, None]) & (key_frame[:, None] >= 0)  # (T, M)
        usable = clip.score >= cfg.min_score  # (M,)
        for c in np.flatnonzero(covered):
            frames = np.flatnonzero(sed[i, :, c] > thr[c])
            if not len(frames):
                continue
            vec = doa[i, frames, c]  # (F, 2)
            az = np.rad2deg(np.arctan2(vec[:, 1], vec[:, 0]))  # (F,) unfolded, as the decoder reads it
            det_az = clip.azimuth[:, c]  # (M,)
            cand = same_frame[frames] & (usable & np.isfinite(det_az))[None, :]  # (F, M)
            delta = wrap_deg(np.where(cand, det_az[None, :], 0.0) - az[:, None])  # (F, M)
            gap = np.where(cand, np.abs(delta), np.inf)
            if len(clip):
                best = np.argmin(gap, axis=1)  # (F,) the nearest candidate
                best_gap = gap[np.arange(len(frames)), best]
            else:
                best, best_gap = np.zeros(len(frames), np.int64), np.full(len(frames), np.inf)
            has_cand = np.isfinite(best_gap)

            hit = has_cand & (best_gap <= cfg.gate_deg)
            p = onscreen[i, frames, c]
            miss = (~has_cand & (key_frame[frames] >= 0) & (p >= onscreen_threshold)
                    & (np.abs(az) <= cfg.max_az))

            if hit.any():
                # move along the shorter arc, so that blending across ±180° stays between the two
                step = delta[np.flatnonzero(hit), best[hit]]
                new_az = np.deg2rad(az[hit] + cfg.blend * step)
                doa[i, frames[hit], c] = np.stack([np.cos(new_az), np.sin(new_az)], axis=-1)
                onscreen[i, frames[hit], c] = np.maximum(p[hit], cfg.onscreen_hit)
            onscreen[i, frames[miss], c] = p[miss] * cfg.miss_scale

            counts["snapped"][c] += int(hit.sum())
            counts["lowered"][c] += int(miss.sum())
            counts["untouched"][c] += int(len(frames) - hit.sum() - miss.sum())
            counts["no_key_frame"][c] += int((key_frame[frames] < 0).sum())

    out = dict(arrays)
    out["doa"], out["onscreen"] = doa, onscreen
    stats.update({k: v.tolist() for k, v in counts.items()})
    return out, stats
