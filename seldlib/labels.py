"""Label encodings at 100-ms resolution and their inverse (model outputs → events).

Class-wise formats (SED, DOA, distance, SCE, on-screen) hold **one event per class and frame**.
When two events of the same class share a frame, the class-wise targets describe the **nearest**
one (smallest distance; ties keep the earlier CSV row): the nearest source is the most likely to
dominate the mixture, and picking one real event keeps DOA targets unit vectors (averaging two
directions would point at neither source). SED activity is 1 either way. The multi-ACCDOA/ADPIT
target keeps up to three same-class events, as the official baseline does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from seldlib.constants import N_ADPIT_SLOTS, N_CLASSES, N_LABEL_FRAMES, N_TRACKS
from seldlib.metadata import EventTable, fold_azimuth


@dataclass
class ClipLabels:
    """Targets for one clip (float32). ``T`` = number of label frames (50 for a 5-s clip).

    - ``sed``: ``(T, 13)`` activity in {0, 1}
    - ``doa``: ``(T, 13, 2)`` unit vector (cos az, sin az) of the folded azimuth; 0 when inactive
    - ``dist``: ``(T, 13)`` distance in metres; 0 when inactive
    - ``sce``: ``(T, 13, 2)`` source Cartesian coordinates ``doa * dist`` in metres
    - ``onscreen``: ``(T, 13)`` in {0, 1}
    - ``adpit``: ``(T, 6, 5, 13)`` slots (A0, B0, B1, C0, C1, C2) × (act, x, y, dist_m, onscreen)
    """

    FIELDS: ClassVar[tuple[str, ...]] = ("sed", "doa", "dist", "sce", "onscreen", "adpit")

    sed: np.ndarray
    doa: np.ndarray
    dist: np.ndarray
    sce: np.ndarray
    onscreen: np.ndarray
    adpit: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.FIELDS}


def encode_labels(events: EventTable, n_frames: int = N_LABEL_FRAMES) -> ClipLabels:
    """Encode DCASE2025 events (azimuth in degrees, distance in cm) into all target formats.

    Events in frames ``>= n_frames`` are dropped. Azimuths are folded to the front half-plane first.
    """
    keep = (events.frame >= 0) & (events.frame < n_frames)
    frame = events.frame[keep]
    cls = events.cls[keep]
    az = np.deg2rad(fold_azimuth(events.azimuth[keep]))
    dist_m = events.distance[keep] / 100.0
    onscreen = events.onscreen[keep].astype(np.float64)

    sed = np.zeros((n_frames, N_CLASSES), np.float32)
    doa = np.zeros((n_frames, N_CLASSES, 2), np.float32)
    dist = np.zeros((n_frames, N_CLASSES), np.float32)
    ons = np.zeros((n_frames, N_CLASSES), np.float32)
    adpit = np.zeros((n_frames, N_ADPIT_SLOTS, 5, N_CLASSES), np.float32)

    # Class-wise: the nearest event wins; write farthest first so the nearest overwrites
    # (a stable sort keeps the earlier row last among equal distances → earlier row wins).
    order = np.lexsort((-np.arange(len(frame)), -dist_m))
    for i in order:
        t, c = frame[i], cls[i]
        sed[t, c] = 1.0
        doa[t, c] = (np.cos(az[i]), np.sin(az[i]))
        dist[t, c] = dist_m[i]
        ons[t, c] = onscreen[i]

    # ADPIT slots follow CSV order within (frame, class), as the baseline's stable sort does.
    groups: dict[tuple[int, int], list[int]] = {}
    for i in range(len(frame)):
        groups.setdefault((int(frame[i]), int(cls[i])), []).append(i)
    for (t, c), rows in groups.items():
        slots = {1: [0], 2: [1, 2]}.get(len(rows), [3, 4, 5])
        for slot, i in zip(slots, rows):
            adpit[t, slot, :, c] = (1.0, np.cos(az[i]), np.sin(az[i]), dist_m[i], onscreen[i])

    sce = doa * dist[..., None]
    return ClipLabels(sed, doa, dist, sce.astype(np.float32), ons, adpit)


def _per_class(value: float | np.ndarray, name: str) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(value, np.float64), (N_CLASSES,))
    if np.any(~np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def decode_classwise(
    sed: np.ndarray,
    doa: np.ndarray | None = None,
    dist: np.ndarray | None = None,
    sce: np.ndarray | None = None,
    onscreen: np.ndarray | None = None,
    threshold: float | np.ndarray = 0.5,
    onscreen_threshold: float = 0.5,
    default_distance_m: float = 1.0,
    onscreen_max_az: float | None = None,
) -> EventTable:
    """Turn class-wise frame outputs into DCASE2025 events (azimuth in degrees, distance in cm).

    Args:
        sed: ``(T, 13)`` SED probabilities; a class is active where ``sed > threshold``
            (``threshold`` is a scalar or one value per class).
        doa: ``(T, 13, 2)`` direction vectors (any length) or ``None``.
        dist: ``(T, 13)`` distances in metres or ``None``.
        sce: ``(T, 13, 2)`` Cartesian source positions in metres or ``None``; gives the direction when
            ``doa`` is missing and the distance (its norm) when ``dist`` is missing.
        onscreen: ``(T, 13)`` on-screen probabilities or ``None`` (→ 0); an event is on screen where
            the probability is at least ``onscreen_threshold``
        default_distance_m: distance written when the model predicts none (SED-DOA alone).
        onscreen_max_az: events whose decoded azimuth (before folding) exceeds this in magnitude,
            in degrees, are off-screen whatever the posterior says (the camera cannot see them).
    """
    sed = np.asarray(sed, np.float64)
    active = sed > _per_class(threshold, "threshold")[None, :]
    t, c = np.nonzero(active)
    if doa is not None:
        vec = np.asarray(doa, np.float64)[t, c]
    elif sce is not None:
        vec = np.asarray(sce, np.float64)[t, c]
    else:
        raise ValueError("decode_classwise needs doa or sce for the direction")
    azimuth = np.rad2deg(np.arctan2(vec[:, 1], vec[:, 0])) if len(t) else np.zeros(0)
    if dist is not None:
        d_m = np.asarray(dist, np.float64)[t, c]
    elif sce is not None:
        d_m = np.linalg.norm(np.asarray(sce, np.float64)[t, c], axis=-1)
    else:
        d_m = np.full(len(t), float(default_distance_m))
    on = np.zeros(len(t), np.int64) if onscreen is None else (np.asarray(onscreen)[t, c] >= onscreen_threshold).astype(np.int64)
    on = visible_only(on, azimuth, onscreen_max_az)
    return EventTable(t, c, np.zeros(len(t), np.int64), fold_azimuth(azimuth), distance_cm(d_m), on)


def visible_only(onscreen: np.ndarray, azimuth_deg: np.ndarray, max_az: float | None) -> np.ndarray:
    """On-screen flags with every event outside ``|azimuth| <= max_az`` (unfolded, degrees) set to 0;
    ``max_az`` None leaves them as they are."""
    if max_az is None:
        return onscreen
    return np.where(np.abs(np.asarray(azimuth_deg, np.float64)) <= max_az, onscreen, 0).astype(np.int64)


def distance_cm(d_m: np.ndarray) -> np.ndarray:
    """Metres → integer centimetres, at least 1 cm (the CSV format forbids distances ≤ 0)."""
    return np.maximum(np.round(np.asarray(d_m, np.float64) * 100.0), 1.0)


def decode_multiaccdoa(
    accdoa: np.ndarray,
    threshold: float = 0.5,
    unify_deg: float = 15.0,
    onscreen: np.ndarray | None = None,
    onscreen_threshold: float = 0.5,
    onscreen_max_az: float | None = None,
) -> EventTable:
    """Decode multi-ACCDOA outputs as the official baseline does.

    Args:
        accdoa: ``(T, 3, 3, 13)`` tracks × (x, y, dist_m) × classes. A track is active when
            ``‖(x, y)‖ > threshold``.
        unify_deg: active tracks closer than this angle are merged (mean of x, y, d).
        onscreen: ``(T, 3, 13)`` on-screen probabilities (thresholded, unlike the baseline's
            truncation quirk) or ``None``.
        onscreen_max_az: as :func:`decode_classwise` (the baseline has no such rule: ``None``).
    """
    accdoa = np.asarray(accdoa, np.float64)
    n_frames = accdoa.shape[0]
    on = np.zeros((n_frames, N_TRACKS, N_CLASSES)) if onscreen is None else np.asarray(onscreen, np.float64)
    xy = accdoa[:, :, :2]  # (T, 3, 2, 13)
    norm = np.linalg.norm(xy, axis=2)  # (T, 3, 13)
    active = norm > threshold
    rows: list[tuple[int, int, float, float, int]] = []
    pairs = ((0, 1), (1, 2), (2, 0))
    cos_thr = np.cos(np.deg2rad(unify_deg))
    for t, c in zip(*np.nonzero(active.any(axis=1))):
        vec = accdoa[t, :, :, c]  # (3 tracks, 3)
        similar = []
        for i, j in pairs:
            if active[t, i, c] and active[t, j, c]:
                cos = vec[i, :2] @ vec[j, :2] / (norm[t, i, c] * norm[t, j, c])
                if cos > cos_thr:
                    similar.append((i, j))
        if not similar:
            emit = [(vec[k], on[t, k, c]) for k in range(N_TRACKS) if active[t, k, c]]
        elif len(similar) == 1:
            i, j = similar[0]
            third = ({0, 1, 2} - {i, j}).pop()
            emit = [(vec[third], on[t, third, c])] if active[t, third, c] else []
            emit.append(((vec[i] + vec[j]) / 2.0, on[t, i, c]))
        else:
            emit = [(vec.mean(axis=0), on[t, 0, c])]
        for v, o in emit:
            rows.append((int(t), int(c), float(np.rad2deg(np.arctan2(v[1], v[0]))), max(float(v[2]), 0.0), int(o >= onscreen_threshold)))
    if not rows:
        return EventTable()
    t_, c_, az_, d_, o_ = map(np.asarray, zip(*rows))
    o_ = visible_only(o_, az_, onscreen_max_az)
    return EventTable(t_, c_, np.zeros(len(t_), np.int64), fold_azimuth(az_), distance_cm(d_), o_).sorted()


def decode_adpit(adpit: np.ndarray) -> EventTable:
    """Events from an ADPIT target ``(T, 6, 5, 13)`` (inverse of :func:`encode_labels` for ≤ 3 events)."""
    t, s, c = np.nonzero(np.asarray(adpit)[:, :, 0, :] > 0.5)
    vals = np.asarray(adpit, np.float64)[t, s, :, c]  # (n, 5)
    az = np.rad2deg(np.arctan2(vals[:, 2], vals[:, 1]))
    return EventTable(t, c, np.zeros(len(t), np.int64), az, distance_cm(vals[:, 3]), (vals[:, 4] > 0.5).astype(np.int64)).sorted()
