"""Audio loading with soundfile: float32 ``(channels, samples)`` with clear errors on bad files.

:func:`read_info` checks a file from its header (exists, is a file, readable, not truncated);
:func:`load_audio` reads it and also refuses non-finite samples. Both raise
:class:`~seldlib.errors.SeldInputError` naming the file. :func:`resample_audio` is the project's one
resampler (dataset audio, user recordings, source banks and SOFA rooms).
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from seldlib.constants import N_CHANNELS, SAMPLE_RATE
from seldlib.errors import SeldInputError

# torchaudio's windowed-sinc resampler with the "kaiser_best" setting of resampy/librosa, as compared
# in torchaudio's "Audio Resampling" tutorial: 64 zero crossings, Kaiser beta 14.77, cut-off at 94.76 %
# of the lower Nyquist. Measured here: within 0.03 dB up to 90 % of that Nyquist, -3.6 dB at 94 %,
# more than 140 dB down beyond it (tests/test_audio_input.py checks flatness and alias rejection).
_RESAMPLE = {"lowpass_filter_width": 64, "rolloff": 0.9475937167399596, "resampling_method": "sinc_interp_kaiser",
             "beta": 14.769656459379492}
# The filter bank holds about new * (orig + 2 * width) taps for the reduced ratio new/orig: refuse
# near-coprime rates (e.g. 24001 -> 24000 Hz) whose bank would take gigabytes.
_MAX_RESAMPLE_TAPS = 1 << 25


def resample_audio(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling of ``(..., samples)`` audio to ``(..., ceil(samples * target_sr / orig_sr))``
    float32 (torchaudio.functional.resample, settings above; computed in float64).

    Runs single-threaded: the result then does not depend on the machine's thread count, and forked
    workers (``seldlib.synth.dataset``) cannot hang in an OpenMP thread pool inherited from the parent.
    Raises ``ValueError`` for a rate ratio too fine to resample (see ``_MAX_RESAMPLE_TAPS``).
    """
    if orig_sr == target_sr:
        return wave
    from math import ceil, gcd

    import torch
    from torchaudio.functional import resample

    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {target_sr} Hz")
    g = gcd(orig_sr, target_sr)
    up, down = target_sr // g, orig_sr // g
    width = ceil(_RESAMPLE["lowpass_filter_width"] * down / (min(up, down) * _RESAMPLE["rolloff"]))
    if up * (down + 2 * width) > _MAX_RESAMPLE_TAPS:
        raise ValueError(f"cannot resample {orig_sr} Hz to {target_sr} Hz: the ratio {up}/{down} is too fine")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = resample(torch.from_numpy(np.asarray(wave, np.float64)), orig_sr, target_sr, **_RESAMPLE)
    finally:
        torch.set_num_threads(threads)
    return out.numpy().astype(np.float32)


def _wav_frames(path: Path) -> tuple[int, int] | None:
    """``(frames the header declares, whole frames the file holds)`` of a RIFF/RIFX WAVE file.

    ``None`` for other formats, or where the data size is a placeholder that streaming writers leave
    (0 or 0xFFFFFFFF when the output could not be rewound). libsndfile itself silently clamps a too
    large data size to what is there, so the header is read here.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        order = "<" if head[:4] == b"RIFF" else ">"
        block_align, pos = 0, 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk, n = struct.unpack(order + "4sI", f.read(8))
            if chunk == b"fmt " and n >= 14:
                block_align = struct.unpack(order + "H", f.read(14)[12:14])[0]
            elif chunk == b"data":
                if n in (0, 0xFFFFFFFF) or block_align == 0:
                    return None
                return n // block_align, max(0, size - pos - 8) // block_align
            pos += 8 + n + (n & 1)  # chunks are padded to an even size
    return None


def _truncated(path: Path, declared: int, held: int, sr: int) -> SeldInputError:
    return SeldInputError(
        path, f"truncated: the header declares {declared} frames ({declared / sr:.3f} s) but the file holds {held} "
              f"({held / sr:.3f} s); it was cut off (interrupted copy or download?). Replace it with a complete "
              "copy, or re-save the part that is there (e.g. with sox or ffmpeg) to use that")


def read_info(path: str | Path) -> sf._SoundFileInfo:
    """Header of an audio file (``samplerate``, ``channels``, ``frames``, ...), checked.

    Raises :class:`SeldInputError` naming the file when it is missing, a directory, unreadable, or a
    truncated WAV (its header declares more frames than the file holds). A truncated file is an error
    for every caller, dataset clips and user recordings alike: its label or prediction timeline would
    silently end early.
    """
    path = Path(path)
    if path.is_dir():
        raise SeldInputError(path, "is a directory, not an audio file")
    if not path.is_file():
        raise SeldInputError(path, "audio file not found")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise SeldInputError(path, f"cannot read audio ({err})") from None
    frames = _wav_frames(path)
    if frames is not None and frames[1] < frames[0]:
        raise _truncated(path, frames[0], frames[1], info.samplerate)
    return info


def _check_finite(path: Path, data: np.ndarray, sr: int) -> None:
    """Refuse NaN/Inf in ``data (frames, channels)``, naming the first bad sample (float WAV/FLAC can hold them,
    and one NaN would make every feature of the clip NaN)."""
    bad = ~np.isfinite(data)
    if not bad.any():
        return
    first = int(np.argmax(bad.ravel()))  # C order: earliest frame first, then lowest channel
    frame, channel = divmod(first, data.shape[1])
    value = data[frame, channel]
    word = "NaN" if np.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    n = int(bad.sum())
    raise SeldInputError(path, f"sample {frame} (t = {frame / sr:.3f} s, channel {channel + 1}) is {word}; "
                               f"{n} sample{'s are' if n > 1 else ' is'} not finite")


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

    Raises :class:`SeldInputError` naming the file for everything :func:`read_info` refuses
    (missing, directory, unreadable, truncated: also when ``pad`` is set), for fewer decoded frames
    than the header declares, and for a NaN or infinite sample (the first one is named by sample
    index, time and channel, counted from 1, at the file's own rate).
    """
    path = Path(path)
    info = read_info(path)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except FileNotFoundError:
        raise SeldInputError(path, "audio file not found") from None
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise SeldInputError(path, f"cannot read audio ({err})") from None
    if len(data) < info.frames:  # e.g. a FLAC cut at a frame boundary decodes short
        raise _truncated(path, info.frames, len(data), sr)
    _check_finite(path, data, sr)
    wave = np.ascontiguousarray(data.T)
    if channels is not None and wave.shape[0] != channels:
        raise SeldInputError(path, f"expected {channels} channels, got {wave.shape[0]}")
    if sample_rate is not None and sr != sample_rate:
        if not resample:
            raise SeldInputError(path, f"expected sample rate {sample_rate} Hz, got {sr} Hz")
        try:
            wave = resample_audio(wave, sr, sample_rate)
        except ValueError as err:
            raise SeldInputError(path, f"{err}; re-save it at a common rate (e.g. {sample_rate} Hz)") from None
    if n_samples is not None and wave.shape[1] != n_samples:
        if not pad:
            raise SeldInputError(path, f"expected {n_samples} samples, got {wave.shape[1]}")
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
