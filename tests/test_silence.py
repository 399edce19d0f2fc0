"""The input-level floor: digital silence reports no event (``seldlib.silence``)."""

from __future__ import annotations

import numpy as np
import pytest

from seldlib.silence import SILENCE_FLOOR_DBFS, frame_levels_dbfs, mute_silent_frames


def test_levels_of_a_sine_and_of_zeros():
    sr, frame = 24000, 2400
    t = np.arange(5 * sr) / sr
    a = 0.1
    wave = np.stack([a * np.sin(2 * np.pi * 1000 * t)] * 2)
    wave[:, 10 * frame : 20 * frame] = 0.0
    levels = frame_levels_dbfs(wave, 50)
    # RMS of a sine of amplitude a is a/√2: 20·log10(0.1/√2) = −23.01 dBFS
    assert levels[0] == pytest.approx(20 * np.log10(a / np.sqrt(2)), abs=0.01)
    assert np.all(levels[10:20] <= -199.0) and np.all(levels[20:] > -24)
    # a shorter signal counts as zeros at the end
    assert frame_levels_dbfs(wave[:, : 25 * frame], 50)[25:].max() <= -199.0


def test_16_bit_quantisation_noise_is_above_the_floor():
    # the quietest non-zero 16-bit recording: ±1 LSB noise, RMS 2^-15 = −90.3 dBFS
    rng = np.random.default_rng(0)
    lsb = rng.choice([-1.0, 1.0], size=(2, 120000)) / 2**15
    assert frame_levels_dbfs(lsb, 50).min() > SILENCE_FLOOR_DBFS + 15


def test_mute_zeroes_activity_of_silent_frames_only():
    sed = np.full((1, 50, 13), 0.8)
    accdoa = np.ones((1, 50, 3, 3, 13))
    levels = np.full((1, 50), -30.0)
    levels[0, 5:8] = -200.0
    out = mute_silent_frames({"sed": sed, "doa": np.ones((1, 50, 13, 2)), "accdoa": accdoa}, levels)
    assert np.all(out["sed"][0, 5:8] == 0) and np.all(out["sed"][0, :5] == 0.8) and np.all(out["sed"][0, 8:] == 0.8)
    assert np.all(out["accdoa"][0, 5:8] == 0) and out["accdoa"][0, 0].min() == 1
    assert np.all(out["doa"] == 1)  # direction left alone: nothing is decoded there anyway
    assert sed.min() == 0.8  # the input is not modified
