"""Bad audio input: non-finite samples, truncated files and directories give one clear message.

Also the one resampler (``seldlib.audio.resample_audio``) against independent expectations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch

from seldlib.audio import load_audio, read_info, resample_audio
from seldlib.constants import CLASS_NAMES
from seldlib.errors import SeldInputError
from seldlib.models import build_model
from seldlib.predict import check_stereo, main, read_stereo
from seldlib.checkpoint import save_checkpoint
from seldlib.standardizer import Standardizer

SR = 24_000


def _float_wav(path, wave, sr=SR, subtype="FLOAT"):
    """``wave (channels, samples)`` -> float WAV (the only PCM-free format that can hold NaN/Inf)."""
    sf.write(str(path), np.ascontiguousarray(np.asarray(wave).T), sr, subtype=subtype)
    return path


def _noise(n, seed=0, channels=2):
    return 0.1 * np.random.default_rng(seed).standard_normal((channels, n))


# ------------------------------------------------------------------------------ non-finite samples


def test_nan_samples_name_the_first_one_by_time_and_channel(tmp_path):
    wave = _noise(SR)
    # 5 NaNs; the first in time is sample 12345 of the first channel (12345 / 24000 = 0.514 s).
    for i, ch in [(12345, 0), (12346, 1), (20000, 0), (20001, 0), (23999, 1)]:
        wave[ch, i] = np.nan
    path = _float_wav(tmp_path / "nan.wav", wave)
    with pytest.raises(SeldInputError) as err:
        load_audio(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: ")
    assert "sample 12345 (t = 0.514 s, channel 1) is NaN" in msg
    assert "5 samples are not finite" in msg


@pytest.mark.parametrize("value, word", [(np.inf, "+Inf"), (-np.inf, "-Inf")])
def test_inf_samples_are_refused(tmp_path, value, word):
    wave = _noise(SR)
    wave[1, 6000] = value  # 6000 / 24000 = 0.250 s, second channel
    path = _float_wav(tmp_path / "inf.wav", wave, subtype="DOUBLE")
    with pytest.raises(SeldInputError, match=rf"inf.wav: sample 6000 \(t = 0.250 s, channel 2\) is \{word}"):
        load_audio(path)


def test_non_finite_is_found_before_resampling_in_the_files_own_time(tmp_path):
    wave = _noise(48_000)
    wave[0, 4800] = np.nan  # 0.1 s at 48 kHz
    path = _float_wav(tmp_path / "hi.wav", wave, sr=48_000)
    with pytest.raises(SeldInputError, match=r"sample 4800 \(t = 0.100 s, channel 1\) is NaN"):
        load_audio(path, resample=True)
    with pytest.raises(SeldInputError, match="is NaN"):
        read_stereo(path)  # the reader of the `seld` command


def _tiny_system(tmp_path):
    """A randomly initialised small checkpoint and a standardiser: enough for ``seld`` to run."""
    torch.manual_seed(0)
    features = {"n_fft": 1024, "hop": 480, "win": 960, "n_mels": 64, "fmin": 0.0, "fmax": 12000.0, "top_db": 80.0,
                "standardize": True}
    meta = {"kind": "sed_doa", "model": {"preset": "small"}, "classes": list(CLASS_NAMES), "features": features,
            "threshold": 0.5, "default_distance_m": 1.5}
    save_checkpoint(tmp_path / "m" / "model.pt", build_model("sed_doa", {"preset": "small"}), meta)
    rng = np.random.default_rng(3)
    Standardizer(rng.normal(-40.0, 5.0, (2, 64)), rng.uniform(5.0, 15.0, (2, 64))).save(tmp_path / "std.npz")
    return ["--models", str(tmp_path / "m"), "--standardizer", str(tmp_path / "std.npz"),
            "--out", str(tmp_path / "out"), "--device", "cpu", "--no-progress"]


def test_seld_refuses_nan_audio_instead_of_writing_an_empty_csv(tmp_path, capsys):
    wave = _noise(2 * SR)
    wave[0, 100] = np.nan
    path = _float_wav(tmp_path / "rec.wav", wave)
    assert main([*_tiny_system(tmp_path), str(path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {path}: sample 100 (t = 0.004 s, channel 1) is NaN" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "rec.csv").exists()


# ------------------------------------------------------------------------------ truncated files


def _truncated(tmp_path, subtype, cut_bytes, name="cut.wav"):
    """A valid 1-s stereo WAV with its last ``cut_bytes`` bytes chopped off (an interrupted copy)."""
    full = tmp_path / f"full_{name}"
    sf.write(str(full), _noise(SR).T, SR, subtype=subtype)
    data = full.read_bytes()
    path = tmp_path / name
    path.write_bytes(data[:-cut_bytes])
    return path


@pytest.mark.parametrize("subtype, frame_bytes", [("PCM_16", 4), ("FLOAT", 8)])
def test_truncated_wav_is_an_error_with_both_lengths(tmp_path, subtype, frame_bytes):
    cut = 1000 * frame_bytes + 1  # 1000 whole frames and one byte of the frame before
    path = _truncated(tmp_path, subtype, cut)
    held = SR - 1001
    expected = f"{path}: truncated: the header declares {SR} frames (1.000 s) but the file holds {held}"
    for call in (lambda: load_audio(path), lambda: load_audio(path, n_samples=SR, pad=True), lambda: read_info(path)):
        with pytest.raises(SeldInputError) as err:
            call()
        assert str(err.value).startswith(expected)
    with pytest.raises(SeldInputError, match="truncated"):
        check_stereo(path)  # `seld` refuses it before loading any model


def test_complete_wav_with_a_trailing_chunk_is_not_truncated(tmp_path):
    # Bytes after the data chunk (e.g. a LIST chunk some editors append) are not a truncation.
    path = tmp_path / "tail.wav"
    sf.write(str(path), _noise(480).T, SR, subtype="PCM_16")
    path.write_bytes(path.read_bytes() + b"LIST\x04\x00\x00\x00INFO")
    assert load_audio(path).shape == (2, 480)


def test_streamed_wav_with_unknown_data_size_is_read_whole(tmp_path):
    # A WAV written to a pipe cannot seek back: its data size stays 0xFFFFFFFF ("unknown"), not a claim.
    path = tmp_path / "stream.wav"
    sf.write(str(path), _noise(480).T, SR, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    at = data.index(b"data")
    data[at + 4:at + 8] = b"\xff\xff\xff\xff"
    data[4:8] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    assert load_audio(path).shape == (2, 480)


def test_truncated_flac_is_an_error(tmp_path):
    path = tmp_path / "cut.flac"
    sf.write(str(path), _noise(SR).T, SR, format="FLAC")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(SeldInputError, match="cut.flac: (truncated|cannot read audio)"):
        load_audio(path)


# ------------------------------------------------------------------------------ not a file


def test_directory_is_named_as_a_directory(tmp_path):
    folder = tmp_path / "rec.wav"
    folder.mkdir()
    for call in (load_audio, read_info, check_stereo):
        with pytest.raises(SeldInputError, match=r"rec.wav: is a directory, not an audio file"):
            call(folder)
    with pytest.raises(SeldInputError, match="nope.wav: audio file not found"):
        load_audio(tmp_path / "nope.wav")


# ------------------------------------------------------------------------------ resampling


@pytest.mark.parametrize("orig, target, f", [(48_000, 24_000, 1000.0), (44_100, 24_000, 3000.0),
                                             (16_000, 24_000, 440.0), (24_000, 22_050, 7000.0),
                                             (48_000, 24_000, 10_800.0)])  # 90 % of the new Nyquist
def test_resampled_sine_keeps_frequency_amplitude_and_length(orig, target, f):
    n = orig  # 1 s
    t = np.arange(n) / orig
    wave = np.stack([0.5 * np.sin(2 * np.pi * f * t), 0.25 * np.cos(2 * np.pi * f * t)]).astype(np.float32)
    got = resample_audio(wave, orig, target)
    assert got.shape == (2, math.ceil(n * target / orig)) and got.dtype == np.float32
    # Away from the edges the output is the same sine sampled at the new rate.
    tt = np.arange(got.shape[1]) / target
    want = np.stack([0.5 * np.sin(2 * np.pi * f * tt), 0.25 * np.cos(2 * np.pi * f * tt)])
    mid = slice(target // 10, got.shape[1] - target // 10)
    np.testing.assert_allclose(got[:, mid], want[:, mid], atol=3e-3)  # 0.05 dB of 0.5


def test_resampling_removes_what_the_new_rate_cannot_hold():
    # 11 kHz cannot be represented at 16 kHz (Nyquist 8 kHz): it must be filtered out, not aliased to 5 kHz.
    orig, target = 48_000, 16_000
    t = np.arange(orig) / orig
    wave = (0.5 * np.sin(2 * np.pi * 11_000 * t))[None].astype(np.float32)
    got = resample_audio(wave, orig, target)[0, 1600:-1600]
    assert np.sqrt(np.mean(got**2)) < 0.5 / np.sqrt(2) * 10 ** (-100 / 20)  # at least 100 dB down


def test_resampling_same_rate_is_identity_and_deterministic():
    wave = _noise(1000).astype(np.float32)
    assert resample_audio(wave, SR, SR) is wave
    a, b = resample_audio(wave, 44_100, SR), resample_audio(wave.copy(), 44_100, SR)
    assert a.tobytes() == b.tobytes()
