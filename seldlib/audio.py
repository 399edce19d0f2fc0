"""Audio loading with soundfile: float32 ``(channels, samples)`` with clear errors on bad files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from seldlib.constants import N_CHANNELS, SAMPLE_RATE
from seldlib.errors import SeldInputError


def resample_audio(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited polyphase resampling of ``(channels, samples)`` audio."""
    if orig_sr == target_sr:
        return wave
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(orig_sr, target_sr)
    return resample_poly(wave, target_sr // g, orig_sr // g, axis=-1).astype(np.float32)


def load_audio(
    path: str | Path,
    sample_rate: int | None = SAMPLE_RATE,
    channels: int | None = N_CHANNELS,
    n_samples: int | None = None,
    resample: bool = False,
    pad: bool = False,
) -> np.ndarray:
    """Load a WAV/FLAC file as float32 ``(channels, samples)``.

    Args:
        sample_rate: required rate; ``None`` accepts any. A different rate is an error unless
            ``resample`` is set.
        channels: required channel count; ``None`` accepts any.
        n_samples: required length; ``None`` accepts any. A shorter file is an error unless ``pad``
            (zero-padding at the end) is set; a longer one is always an error when ``pad`` is off
            and is cut when it is on.
    """
    path = Path(path)
    if not path.is_file():
        raise SeldInputError(path, "audio file not found")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except FileNotFoundError:
        raise SeldInputError(path, "audio file not found") from None
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise SeldInputError(path, f"cannot read audio ({err})") from None
    wave = np.ascontiguousarray(data.T)
    if channels is not None and wave.shape[0] != channels:
        raise SeldInputError(path, f"expected {channels} channels, got {wave.shape[0]}")
    if sample_rate is not None and sr != sample_rate:
        if not resample:
            raise SeldInputError(path, f"expected sample rate {sample_rate} Hz, got {sr} Hz")
        wave = resample_audio(wave, sr, sample_rate)
    if n_samples is not None and wave.shape[1] != n_samples:
        if not pad:
            raise SeldInputError(path, f"expected {n_samples} samples, got {wave.shape[1]} (truncated or wrong length?)")
        if wave.shape[1] > n_samples:
            wave = wave[:, :n_samples]
        else:
            wave = np.pad(wave, ((0, 0), (0, n_samples - wave.shape[1])))
    return wave


def write_wav_pcm16(path: str | Path, wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write ``(channels, samples)`` float audio as 16-bit PCM (the dataset's format), atomically.

    Values are expected within [-1, 1); larger values would clip, which is an error here.
    """
    from seldlib.atomic import atomic_path

    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    if peak >= 1.0:
        raise ValueError(f"{path}: refusing to write clipped audio (peak {peak:.3f})")
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sf.write(str(tmp), np.ascontiguousarray(wave.T), sample_rate, subtype="PCM_16", format="WAV")
