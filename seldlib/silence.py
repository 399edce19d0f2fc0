"""Digital silence: what a recording with no signal in a label frame gives — no event there.

A model fed silence still produces posteriors (the log-mel of zeros is a constant image that the
standardiser maps to some pattern), so an all-zero WAV used to yield dozens of events. The rule here
is an input-level floor: a 100-ms label frame whose RMS over both channels is below
:data:`SILENCE_FLOOR_DBFS` reports no event. The floor sits below the quantisation noise of 16-bit
audio (one LSB ≈ −90 dBFS; the RMS of its rounding noise ≈ −101 dBFS), so any recorded signal, even
room noise, is above it and only digital silence (zeros, or float audio scaled to near-zero) is muted.
See ``docs/pipeline.md#silence``.
"""

from __future__ import annotations

import numpy as np

from seldlib.constants import LABEL_HOP_SECONDS, SAMPLE_RATE

SILENCE_FLOOR_DBFS = -110.0
_FRAME = int(round(LABEL_HOP_SECONDS * SAMPLE_RATE))  # 2400 samples per label frame


def frame_levels_dbfs(wave: np.ndarray, n_frames: int, frame: int = _FRAME) -> np.ndarray:
    """RMS level of each label frame in dB re full scale.

    Args:
        wave: ``(..., channels, samples)`` audio in [-1, 1]; samples past ``n_frames·frame`` are ignored
            and missing ones count as zeros.
        n_frames: label frames to measure (50 for a 5-s clip).

    Returns:
        ``(..., n_frames)`` float32 levels (−inf-safe: silence gives −200 dBFS).
    """
    wave = np.asarray(wave, np.float64)
    need = n_frames * frame
    if wave.shape[-1] < need:
        wave = np.concatenate([wave, np.zeros((*wave.shape[:-1], need - wave.shape[-1]))], axis=-1)
    frames = wave[..., :need].reshape(*wave.shape[:-1], n_frames, frame)
    power = np.mean(frames**2, axis=(-3, -1))  # over channels and samples
    return (10.0 * np.log10(np.maximum(power, 1e-20))).astype(np.float32)


def mute_silent_frames(arrays: dict[str, np.ndarray], levels_dbfs: np.ndarray,
                       floor_dbfs: float = SILENCE_FLOOR_DBFS) -> dict[str, np.ndarray]:
    """Zero the activity outputs of every frame below the floor so that no event is decoded there.

    Args:
        arrays: a model's or system's outputs ``{key: (N, T, ...)}`` (frame axis 1): ``sed``
            posteriors, or multi-ACCDOA ``accdoa`` vectors whose length is their activity.
        levels_dbfs: ``(N, T)`` from :func:`frame_levels_dbfs`.
    """
    silent = np.asarray(levels_dbfs) < floor_dbfs
    if not silent.any():
        return arrays
    out = dict(arrays)
    for key in ("sed", "accdoa"):
        if key in out:
            a = np.array(out[key], copy=True)
            a[silent] = 0.0
            out[key] = a
    return out
