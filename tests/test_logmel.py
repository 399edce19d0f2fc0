"""Batched torch log-mel against an independent float64 librosa reference."""

import librosa
import numpy as np
import pytest
import torch

from seldlib.constants import CLIP_SAMPLES, N_FEATURE_FRAMES, SAMPLE_RATE
from seldlib.logmel import LogMel, LogMelConfig, logmel_librosa


def _reference(wave: np.ndarray) -> np.ndarray:
    """The baseline's recipe written out with librosa calls in float64, (2, frames, 64)."""
    y = wave.astype(np.float64)
    spec = librosa.stft(y, n_fft=1024, hop_length=480, win_length=960, window="hann", center=True, pad_mode="constant")
    mel = librosa.feature.melspectrogram(S=np.abs(spec) ** 2, sr=24000, n_mels=64, fmin=0.0, fmax=12000.0,
                                         htk=False, norm="slaney", dtype=np.float64)
    db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=80.0)  # both channels stacked: global floor
    return db.transpose(0, 2, 1)


def _signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(CLIP_SAMPLES) / SAMPLE_RATE
    half = CLIP_SAMPLES // 2
    silence = np.zeros((2, CLIP_SAMPLES))
    silence[:, half:] = 0.05 * rng.standard_normal((2, CLIP_SAMPLES - half))
    return {
        "noise": 0.1 * rng.standard_normal((2, CLIP_SAMPLES)),
        # Pure tones: leakage falls far below the 80 dB floor, the hardest case for a float32 FFT.
        "sine": np.stack([0.627 * np.sin(2 * np.pi * 5700.95 * t), 0.779 * np.sin(2 * np.pi * 1318.73 * t + 1.0)]),
        "silence": silence,
        "quiet_right": np.stack([0.3 * rng.standard_normal(CLIP_SAMPLES), 1e-4 * rng.standard_normal(CLIP_SAMPLES)]),
    }


@pytest.mark.parametrize("name", ["noise", "sine", "silence", "quiet_right"])
def test_matches_librosa_reference(name):
    wave = _signals()[name].astype(np.float32)
    ref = _reference(wave)
    got = LogMel()(torch.from_numpy(wave)[None])[0].numpy()
    assert got.shape == (2, N_FEATURE_FRAMES, 64) == (2, 251, 64)
    assert got.dtype == np.float32
    assert np.abs(got - ref).max() < 1e-3
    # The floor is shared by both channels: relative to the clip's global maximum.
    assert np.isclose(got.min(), ref.max() - 80.0, atol=1e-3) or got.min() > ref.max() - 80.0
    # The baseline path (float32 librosa, as the organisers run it) agrees too.
    assert np.abs(logmel_librosa(wave) - ref).max() < 1e-3


def test_floor_is_global_over_channels():
    sig = _signals()
    wave = sig["quiet_right"].astype(np.float32)
    got = LogMel().numpy(wave)
    peak = got.max()
    # The quiet right channel (~ -70 dB below the left) is clipped at the left channel's floor.
    assert np.all(got >= peak - 80.0 - 1e-4)
    assert np.isclose(got[1].min(), peak - 80.0, atol=1e-4)
    assert got[0].min() > peak - 80.0  # the loud channel itself is not clipped
    # All-zero clip: every bin sits at 10*log10(amin) = -100 dB.
    zeros = LogMel().numpy(np.zeros((2, CLIP_SAMPLES), np.float32))
    np.testing.assert_array_equal(zeros, np.full((2, 251, 64), -100.0, np.float32))


def test_channel_swap_is_exact_and_batch_independent():
    rng = np.random.default_rng(3)
    wave = torch.from_numpy((0.2 * rng.standard_normal((5, 2, CLIP_SAMPLES))).astype(np.float32))
    wave[1, 0] *= 0.01  # an asymmetric clip so a channel mix-up would show
    lm = LogMel(chunk_clips=2, threads=2)
    threads = torch.get_num_threads()
    feats = lm(wave)
    assert torch.get_num_threads() == threads  # the temporary single-thread setting is undone
    assert feats.shape == (5, 2, 251, 64)
    assert torch.equal(lm(wave.flip(1)), feats.flip(1))
    singles = torch.cat([LogMel(chunk_clips=1, threads=1)(wave[i:i + 1]) for i in range(5)])
    assert torch.equal(singles, feats)


def test_frames_and_config():
    cfg = LogMelConfig()
    assert (cfg.n_fft, cfg.hop, cfg.win, cfg.n_mels, cfg.fmax, cfg.top_db) == (1024, 480, 960, 64, 12000.0, 80.0)
    assert cfg.n_frames(CLIP_SAMPLES) == 251
    assert LogMelConfig.from_json(cfg.to_json()) == cfg
    assert LogMel()(torch.zeros(0, 2, CLIP_SAMPLES)).shape == (0, 2, 251, 64)
    assert LogMel()(torch.zeros(1, 2, 4800)).shape == (1, 2, 11, 64)
    with pytest.raises(ValueError):
        LogMelConfig(win=2048)
    with pytest.raises(ValueError):
        LogMel()(torch.zeros(2, CLIP_SAMPLES))
