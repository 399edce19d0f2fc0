"""Dataset layout discovery and audio loading."""

import numpy as np
import pytest
import soundfile as sf

from seldlib.audio import load_audio, write_wav_pcm16
from seldlib.errors import SeldInputError
from seldlib.layout import discover


def _touch_clip(root, split, stem, wav=True, csv=True, mp4=False):
    if wav:
        (root / "stereo_dev" / split).mkdir(parents=True, exist_ok=True)
        sf.write(root / "stereo_dev" / split / f"{stem}.wav", np.zeros((10, 2)), 24000)
    if csv:
        (root / "metadata_dev" / split).mkdir(parents=True, exist_ok=True)
        (root / "metadata_dev" / split / f"{stem}.csv").write_text("frame,class,source,azimuth,distance,onscreen\n")
    if mp4:
        (root / "video_dev" / split).mkdir(parents=True, exist_ok=True)
        (root / "video_dev" / split / f"{stem}.mp4").write_bytes(b"")


def test_discover_pairs_by_stem_across_roots(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _touch_clip(a, "dev-train-tau", "fold3_room1_mix002_deg010_start0000", mp4=True)
    _touch_clip(a, "dev-train-tau", "fold3_room1_mix001_deg000_start0000", mp4=True)
    _touch_clip(a, "my-split", "fold9_room1_mix001_deg000_start0000")
    _touch_clip(b, "dev-train-synth", "fold1_room1_mix001_deg000_start0000")
    clips = discover([a, b], ["dev-train-tau", "dev-train-synth", "my-split"])
    assert [(c.split, c.stem[-23:]) for c in clips] == [
        ("dev-train-tau", "mix001_deg000_start0000"),
        ("dev-train-tau", "mix002_deg010_start0000"),
        ("dev-train-synth", "mix001_deg000_start0000"),
        ("my-split", "mix001_deg000_start0000"),
    ]
    assert clips[0].video is not None and clips[2].video is None


def test_missing_partner_is_named_or_skipped(tmp_path):
    _touch_clip(tmp_path, "dev-test-tau", "x1")
    _touch_clip(tmp_path, "dev-test-tau", "x2", csv=False)
    with pytest.raises(SeldInputError) as err:
        discover(tmp_path, ["dev-test-tau"])
    assert "x2.wav" in str(err.value) and "x2.csv" in str(err.value)
    skipped: list[str] = []
    clips = discover(tmp_path, ["dev-test-tau"], skip_incomplete=True, skipped=skipped)
    assert [c.stem for c in clips] == ["x1"] and skipped == ["dev-test-tau/x2"]
    with pytest.raises(SeldInputError, match="x1.mp4"):
        discover(tmp_path, ["dev-test-tau"], need_video=True, skip_incomplete=False)


def test_orphan_label_and_unknown_split(tmp_path):
    _touch_clip(tmp_path, "dev-test-tau", "x1")
    _touch_clip(tmp_path, "dev-test-tau", "orphan", wav=False)
    with pytest.raises(SeldInputError, match="orphan.csv.*no audio partner"):
        discover(tmp_path, ["dev-test-tau"])
    with pytest.raises(SeldInputError, match="split 'nope' not found"):
        discover(tmp_path, ["nope"])


def test_eval_layout(tmp_path):
    (tmp_path / "stereo_eval" / "eval").mkdir(parents=True)
    sf.write(tmp_path / "stereo_eval" / "eval" / "sample0001.wav", np.zeros((10, 2)), 24000)
    clips = discover(tmp_path, ["eval"], need_labels=False)
    assert [c.stem for c in clips] == ["sample0001"] and clips[0].labels is None


def test_load_audio_checks(tmp_path):
    wave = (np.arange(2 * 480, dtype=np.float32).reshape(2, 480) / 2000.0) - 0.2
    path = tmp_path / "a.wav"
    write_wav_pcm16(path, wave)
    got = load_audio(path, n_samples=480)
    assert got.shape == (2, 480) and got.dtype == np.float32
    np.testing.assert_allclose(got, wave, atol=1 / 32768)
    with pytest.raises(SeldInputError, match="expected 600 samples, got 480"):
        load_audio(path, n_samples=600)
    assert load_audio(path, n_samples=600, pad=True)[:, 480:].sum() == 0
    with pytest.raises(SeldInputError, match="expected 1 channels, got 2"):
        load_audio(path, channels=1)
    sf.write(tmp_path / "b.wav", np.zeros((480, 2)), 48000)
    with pytest.raises(SeldInputError, match="expected sample rate 24000 Hz, got 48000 Hz"):
        load_audio(tmp_path / "b.wav")
    assert load_audio(tmp_path / "b.wav", resample=True).shape == (2, 240)
    (tmp_path / "c.wav").write_bytes(b"RIFF\x00\x00garbage")
    with pytest.raises(SeldInputError, match="c.wav: cannot read audio"):
        load_audio(tmp_path / "c.wav")
    with pytest.raises(SeldInputError, match="not found"):
        load_audio(tmp_path / "missing.wav")


def test_resampled_sine_keeps_frequency(tmp_path):
    t = np.arange(48000) / 48000
    sine = 0.5 * np.sin(2 * np.pi * 1000 * t)
    sf.write(tmp_path / "s.wav", np.stack([sine, sine], 1), 48000)
    got = load_audio(tmp_path / "s.wav", resample=True)[0]
    spec = np.abs(np.fft.rfft(got))
    assert np.argmax(spec) * 24000 / len(got) == pytest.approx(1000, abs=2)


def test_write_refuses_clipping(tmp_path):
    with pytest.raises(ValueError, match="clipped"):
        write_wav_pcm16(tmp_path / "x.wav", np.ones((2, 10), np.float32))
    assert not list(tmp_path.iterdir())
