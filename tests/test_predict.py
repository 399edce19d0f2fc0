"""Tests of ``seldlib.predict``: window stitching, whole-file geometry, CLI errors, PNG and ensembles."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

from seldlib.constants import CLASS_NAMES, N_CLASSES
from seldlib.metadata import read_metadata_csv
from seldlib.models import build_model
from seldlib.predict import System, load_system, main, predict_file, stitch, window_starts
from seldlib.standardizer import Standardizer
from seldlib.checkpoint import save_checkpoint

SR = 24_000
FEATURES = {"n_fft": 1024, "hop": 480, "win": 960, "n_mels": 64, "fmin": 0.0, "fmax": 12000.0, "top_db": 80.0}


# ------------------------------------------------------------------------------------ helpers


def _checkpoint(path, kind, seed, standardize=True):
    torch.manual_seed(seed)
    model = build_model(kind, {"preset": "small"})
    meta = {"kind": kind, "model": {"preset": "small"}, "classes": list(CLASS_NAMES),
            "features": {**FEATURES, "standardize": standardize}, "threshold": 0.5, "default_distance_m": 1.5}
    save_checkpoint(path / kind / "model.pt", model, meta)
    return path / kind


def _standardizer(path):
    rng = np.random.default_rng(3)
    out = path / "standardizer.npz"
    Standardizer(rng.normal(-40.0, 5.0, (2, 64)), rng.uniform(5.0, 15.0, (2, 64))).save(out)
    return out


def _write(path, wave, sr=SR):
    """``wave (channels, samples)`` -> 16-bit WAV."""
    sf.write(str(path), np.ascontiguousarray(np.atleast_2d(wave).T), sr, subtype="PCM_16")
    return path


def _noise(seconds, sr=SR, seed=0, level=0.1):
    return (level * np.random.default_rng(seed).standard_normal((2, int(seconds * sr)))).astype(np.float32)


class ILDDetector(nn.Module):
    """Test double with the ``sed_doa`` contract: a physical level-difference detector.

    Per 100-ms output frame (the mean of its 5 feature frames, as the models pool 251 → 50), the
    inter-channel level difference ILD = mean over bands of (left dB − right dB). Class 0 is active
    where |ILD| exceeds 20 dB; its direction is (1, tanh(ILD / 10)), so louder-left ⇒ positive
    azimuth (DCASE2025: channel 0 is left, positive azimuth is left).
    """

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        b = x.shape[0]
        ild = (x[:, 0] - x[:, 1]).mean(dim=-1)[:, :250].reshape(b, 50, 5).mean(dim=-1)  # (B, 50)
        sed = torch.zeros(b, 50, N_CLASSES)
        sed[..., 0] = torch.sigmoid((ild.abs() - 20.0) / 2.0)
        doa = torch.zeros(b, 50, N_CLASSES, 2)
        doa[..., 0, 0] = 1.0
        doa[..., 0, 1] = torch.tanh(ild / 10.0)
        return {"sed": sed, "doa": doa}


# ------------------------------------------------------------------------------------ stitching


def test_stitch_averages_overlaps_by_hand():
    # Three windows of 4 frames, starts 0, 2, 4, file of 7 frames (the last window's frame 3 is padding).
    w = np.array([[1, 1, 1, 1], [3, 3, 3, 3], [5, 7, 9, 11]], np.float64)
    out = stitch(w, [0, 2, 4], 7)
    # frame: 0 1 → only window 0; 2 3 → windows 0,1; 4 5 → windows 1,2; 6 → window 2 (its 3rd frame).
    expected = np.array([1, 1, (1 + 3) / 2, (1 + 3) / 2, (3 + 5) / 2, (3 + 7) / 2, 9])
    np.testing.assert_allclose(out, expected)


def test_stitch_keeps_trailing_axes_and_leaves_uncovered_frames_zero():
    w = np.zeros((2, 3, 2, 2))
    w[0] = 2.0
    w[1, :, 0, 1] = 4.0
    out = stitch(w, [0, 2], 6)  # frame 5 is covered by no window
    assert out.shape == (6, 2, 2)
    np.testing.assert_allclose(out[0], 2.0)
    np.testing.assert_allclose(out[2], [[1.0, 3.0], [1.0, 1.0]])  # (2 + 0)/2 and (2 + 4)/2
    np.testing.assert_allclose(out[3, 0, 1], 4.0)
    np.testing.assert_allclose(out[5], 0.0)


def test_window_starts_cover_the_file():
    assert window_starts(23 * SR, int(2.5 * SR)).tolist() == [int(i * 2.5 * SR) for i in range(9)]  # last: 20-25 s
    assert window_starts(3 * SR, int(2.5 * SR)).tolist() == [0]
    assert window_starts(5 * SR, int(2.5 * SR)).tolist() == [0]
    assert window_starts(5 * SR + 1, 5 * SR).tolist() == [0, 5 * SR]


# ------------------------------------------------------------------------------------ geometry


def _panned_scene(seconds=23.0, seed=1):
    """Faint diffuse noise everywhere, a burst in the left channel only at 3–6 s, right only at 14–17 s."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    wave = (0.0005 * rng.standard_normal((2, n))).astype(np.float32)  # ~ -66 dBFS, same in both channels
    for ch, (t0, t1) in ((0, (3.0, 6.0)), (1, (14.0, 17.0))):
        a, b = int(t0 * SR), int(t1 * SR)
        wave[ch, a:b] += 0.3 * rng.standard_normal(b - a).astype(np.float32)
    return wave


def test_ild_detector_finds_panned_bursts_at_the_right_time_and_side(tmp_path):
    wav = _write(tmp_path / "scene.wav", _panned_scene())
    system = System(models=[("sed_doa", ILDDetector())], features={**FEATURES, "standardize": False})
    events, arrays = predict_file(system, wav, hop_s=2.5, threshold=0.5)
    assert arrays["sed"].shape == (230, N_CLASSES) and arrays["doa"].shape == (230, N_CLASSES, 2)
    assert set(events.cls.tolist()) == {0}
    tol = 3  # ±0.3 s
    left, right = (events.frame >= 30 - tol) & (events.frame <= 59 + tol), (events.frame >= 140 - tol) & (events.frame <= 169 + tol)
    assert (left | right).all(), f"events outside the bursts: {events.frame[~(left | right)]}"
    # The bursts are found (almost) throughout, not just somewhere.
    assert set(range(30 + tol, 60 - tol)) <= set(events.frame[left].tolist())
    assert set(range(140 + tol, 170 - tol)) <= set(events.frame[right].tolist())
    assert (events.azimuth[left] > 0).all() and (events.azimuth[right] < 0).all()


def test_misaligned_stitching_would_be_caught(tmp_path):
    """Guard for the test above: the same scene shifted by 2.5 s moves the detections by 25 frames."""
    scene = _panned_scene()
    shifted = np.concatenate([np.zeros((2, int(2.5 * SR)), np.float32), scene[:, : -int(2.5 * SR)]], axis=1)
    wav = _write(tmp_path / "shifted.wav", shifted)
    system = System(models=[("sed_doa", ILDDetector())], features={**FEATURES, "standardize": False})
    events, _ = predict_file(system, wav, hop_s=1.0)
    left = events.frame[events.azimuth > 0]
    assert left.min() >= 55 - 3 and left.max() <= 84 + 3 and 60 in left


def test_real_checkpoint_covers_the_whole_file(tmp_path):
    model_dir = _checkpoint(tmp_path, "sed_doa", seed=0)
    std = _standardizer(tmp_path)
    wav = _write(tmp_path / "long.wav", _noise(23.0))
    out = tmp_path / "out"
    # Threshold 0: every sigmoid output is above it, so every frame × class must appear in the CSV.
    rc = main(["--models", str(model_dir), "--standardizer", str(std), "--out", str(out), "--threshold", "0",
               "--device", "cpu", "--no-progress", str(wav)])
    assert rc == 0
    events = read_metadata_csv(out / "long.csv", n_frames=None)
    assert events.frame.min() == 0 and events.frame.max() == 229
    assert len(events) == 230 * N_CLASSES
    assert (events.distance == 150).all()  # sed_doa alone: the checkpoint's default distance (1.5 m)
    assert (np.abs(events.azimuth) <= 90).all()


def test_api_matches_the_cli_and_standardizer_matters(tmp_path):
    model_dir = _checkpoint(tmp_path, "sed_doa", seed=0)
    std = _standardizer(tmp_path)
    wav = _write(tmp_path / "a.wav", _noise(6.0, seed=4))
    system = load_system([model_dir], std)
    _, arrays = predict_file(system, wav)
    system.standardizer = Standardizer(np.zeros((2, 64)), np.ones((2, 64)))
    _, raw = predict_file(system, wav)
    assert arrays["sed"].shape == (60, N_CLASSES)
    assert not np.allclose(arrays["sed"], raw["sed"])


# ------------------------------------------------------------------------------------ inputs


def _run(tmp_path, wav, *extra):
    model_dir = tmp_path / "sed_doa" if (tmp_path / "sed_doa").exists() else _checkpoint(tmp_path, "sed_doa", seed=0)
    std = tmp_path / "standardizer.npz" if (tmp_path / "standardizer.npz").exists() else _standardizer(tmp_path)
    return main(["--models", str(model_dir), "--standardizer", str(std), "--out", str(tmp_path / "out"),
                 "--device", "cpu", "--no-progress", *extra, str(wav)])


def test_48k_is_resampled_with_a_notice(tmp_path, capsys):
    wav = _write(tmp_path / "hi.wav", _noise(2.0, sr=48_000), sr=48_000)
    assert _run(tmp_path, wav) == 0
    assert "resampling from 48000 Hz to 24000 Hz" in capsys.readouterr().err
    assert (tmp_path / "out" / "hi.csv").is_file()


@pytest.mark.parametrize("channels, words", [(1, "mono"), (3, "3 channels")])
def test_non_stereo_is_refused(tmp_path, capsys, channels, words):
    good = _write(tmp_path / "good.wav", _noise(1.0))
    wav = _write(tmp_path / f"c{channels}.wav", _noise(1.0)[:1].repeat(channels, axis=0))
    assert _run(tmp_path, wav, str(good)) == 2
    err = capsys.readouterr().err
    line = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(line) == 1 and str(wav) in line[0] and words in line[0]
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # every input is checked before any is processed


def test_missing_and_unreadable_files(tmp_path, capsys):
    assert _run(tmp_path, tmp_path / "nope.wav") == 2
    assert f"error: {tmp_path / 'nope.wav'}: audio file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wave")
    assert _run(tmp_path, bad) == 2
    err = capsys.readouterr().err
    assert f"error: {bad}: cannot read audio" in err and "Traceback" not in err


def test_bad_options_and_checkpoints(tmp_path, capsys):
    wav = _write(tmp_path / "a.wav", _noise(1.0))
    assert _run(tmp_path, wav, "--hop", "0.25") == 2
    assert "--hop must be a multiple of 0.1" in capsys.readouterr().err
    # standardised checkpoint without the standardiser
    rc = main(["--models", str(tmp_path / "sed_doa"), "--out", str(tmp_path / "o"), "--no-progress", str(wav)])
    assert rc == 2 and "pass --standardizer" in capsys.readouterr().err
    # a lone sed_sde has no direction
    sde = _checkpoint(tmp_path, "sed_sde", seed=1)
    rc = main(["--models", str(sde), "--standardizer", str(tmp_path / "standardizer.npz"), "--out", str(tmp_path / "o"),
               "--no-progress", str(wav)])
    err = capsys.readouterr().err
    assert rc == 2 and "SED-SDE predict(s) no direction; add a model of kind sed_doa" in err
    assert "Accepted: one kind with a direction head (sed_doa, sed_sce or seldnet), sed_doa + sed_sde" in err
    # a directory without model.pt
    (tmp_path / "empty").mkdir()
    rc = main(["--models", str(tmp_path / "empty"), "--out", str(tmp_path / "o"), "--no-progress", str(wav)])
    assert rc == 2 and f"{tmp_path / 'empty' / 'model.pt'}: checkpoint not found" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ outputs, systems


def test_png_is_written(tmp_path):
    wav = _write(tmp_path / "p.wav", _noise(3.0))
    assert _run(tmp_path, wav, "--png", "--threshold", "0.3") == 0
    png = tmp_path / "out" / "p.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ensemble_of_three_and_joint_prediction(tmp_path):
    dirs = [_checkpoint(tmp_path, k, seed=i) for i, k in enumerate(("sed_doa", "sed_sde", "sed_sce"))]
    std = _standardizer(tmp_path)
    wav = _write(tmp_path / "e.wav", _noise(6.0, seed=2))  # two windows (0-5 s, 2.5-7.5 s)
    out = tmp_path / "out"
    rc = main(["--models", *map(str, dirs), "--standardizer", str(std), "--out", str(out), "--threshold", "0",
               "--no-progress", "--sed-weights", "sed_doa=1,sed_sde=2,sed_sce=1", str(wav)])
    assert rc == 0
    events = read_metadata_csv(out / "e.csv", n_frames=None)
    assert events.frame.max() == 59 and len(events) == 60 * N_CLASSES

    # The fused SED is the weighted mean of the members' own stitched SED.
    full = load_system(dirs, std, sed_weights={"sed_doa": 1, "sed_sde": 2, "sed_sce": 1})
    _, fused = predict_file(full, wav)
    single = {k: predict_file(load_system([d], std), wav)[1] for k, d in zip(("sed_doa", "sed_sce"), (dirs[0], dirs[2]))}
    joint = predict_file(load_system(dirs[:2], std), wav)[1]  # sed_doa + sed_sde: SED and distance from sed_sde
    np.testing.assert_allclose(fused["sed"], (single["sed_doa"]["sed"] + 2 * joint["sed"] + single["sed_sce"]["sed"]) / 4,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(joint["doa"], single["sed_doa"]["doa"], atol=1e-6)
    np.testing.assert_allclose(fused["dist"], joint["dist"], rtol=1e-5, atol=1e-6)


def test_seldnet_alone_and_refused_in_a_mix(tmp_path, capsys):
    sn = _checkpoint(tmp_path, "seldnet", seed=5)
    std = _standardizer(tmp_path)
    wav = _write(tmp_path / "s.wav", _noise(6.0))
    events, arrays = predict_file(load_system([sn], std), wav, threshold=0.0)
    assert arrays["accdoa"].shape == (60, 3, 3, N_CLASSES)
    assert events.frame.max() == 59
    doa = _checkpoint(tmp_path, "sed_doa", seed=0)
    rc = main(["--models", str(doa), str(sn), "--standardizer", str(std), "--out", str(tmp_path / "o"), "--no-progress", str(wav)])
    assert rc == 2 and "cannot be combined" in capsys.readouterr().err


def test_all_zero_recording_gives_no_event(tmp_path):
    # digital silence is below the input floor: no event, whatever the models make of its features
    wav = _write(tmp_path / "zeros.wav", np.zeros((2, int(3.0 * SR))))
    assert _run(tmp_path, wav, "--threshold", "0.0") == 0  # threshold 0: every class would fire otherwise
    lines = (tmp_path / "out" / "zeros.csv").read_text().splitlines()
    assert lines == ["frame,class,source,azimuth,distance,onscreen"]


def test_audio_visual_checkpoint_refused_with_one_line(tmp_path, capsys):
    av = _checkpoint(tmp_path, "av_sed_sce_ons", seed=0)
    wav = _write(tmp_path / "s.wav", _noise(5.0))
    rc = main(["--models", str(av), "--standardizer", str(_standardizer(tmp_path)), "--out", str(tmp_path / "o"),
               "--no-progress", str(wav)])
    err = capsys.readouterr().err
    assert rc == 2 and "AV SED-SCE-ONS checkpoints are audio-visual models and need a video" in err
    assert len(err.strip().splitlines()) == 1
