"""Label encodings and their inverses, checked against hand-computed values."""

import math

import numpy as np
import pytest

from seldlib.labels import ClipLabels, decode_adpit, decode_classwise, decode_multiaccdoa, encode_labels
from seldlib.metadata import EventTable


def test_shapes_and_single_event_values():
    lab = encode_labels(EventTable([7], [3], [2], [30.0], [250.0], [1]))
    assert lab.sed.shape == (50, 13) and lab.doa.shape == (50, 13, 2) and lab.dist.shape == (50, 13)
    assert lab.sce.shape == (50, 13, 2) and lab.onscreen.shape == (50, 13) and lab.adpit.shape == (50, 6, 5, 13)
    assert all(getattr(lab, f).dtype == np.float32 for f in ClipLabels.FIELDS)
    assert lab.sed.sum() == 1 and lab.sed[7, 3] == 1
    np.testing.assert_allclose(lab.doa[7, 3], [math.sqrt(3) / 2, 0.5], atol=1e-7)
    assert lab.dist[7, 3] == pytest.approx(2.5)
    np.testing.assert_allclose(lab.sce[7, 3], [2.5 * math.sqrt(3) / 2, 1.25], atol=1e-6)
    assert lab.onscreen[7, 3] == 1
    # One event → slot A0 only.
    np.testing.assert_allclose(lab.adpit[7, 0, :, 3], [1, math.sqrt(3) / 2, 0.5, 2.5, 1], atol=1e-7)
    assert lab.adpit[:, 1:].sum() == 0


def test_rear_azimuth_is_folded():
    lab = encode_labels(EventTable([0], [0], [0], [150.0], [100.0], [0]))
    np.testing.assert_allclose(lab.doa[0, 0], [math.cos(math.radians(30)), 0.5], atol=1e-7)


def test_same_class_overlap_nearest_wins_and_adpit_keeps_both():
    ev = EventTable([4, 4], [1, 1], [1, 2], [60.0, -20.0], [300.0, 120.0], [0, 1])
    lab = encode_labels(ev)
    assert lab.sed[4, 1] == 1
    # The nearer event (120 cm at -20°) defines the class-wise targets.
    np.testing.assert_allclose(lab.doa[4, 1], [math.cos(math.radians(-20)), math.sin(math.radians(-20))], atol=1e-7)
    assert lab.dist[4, 1] == pytest.approx(1.2) and lab.onscreen[4, 1] == 1
    # ADPIT: two events → slots B0 and B1 in CSV order.
    assert lab.adpit[4, 1, 0, 1] == 1 and lab.adpit[4, 2, 0, 1] == 1 and lab.adpit[4, 0, 0, 1] == 0
    assert lab.adpit[4, 1, 3, 1] == pytest.approx(3.0) and lab.adpit[4, 2, 3, 1] == pytest.approx(1.2)


def test_equal_distance_tie_keeps_first_row():
    lab = encode_labels(EventTable([0, 0], [5, 5], [0, 1], [10.0, -70.0], [200.0, 200.0], [0, 0]))
    assert math.degrees(math.atan2(lab.doa[0, 5, 1], lab.doa[0, 5, 0])) == pytest.approx(10.0, abs=1e-5)


def test_three_and_four_same_class_events_use_c_slots():
    ev = EventTable([0] * 4, [9] * 4, [0, 1, 2, 3], [0.0, 10.0, 20.0, 30.0], [100.0] * 4, [0] * 4)
    lab = encode_labels(ev)
    assert lab.adpit[0, 3:, 0, 9].tolist() == [1, 1, 1]  # only the first three are kept
    assert lab.adpit[0, :3, 0, 9].sum() == 0
    np.testing.assert_allclose(lab.adpit[0, 5, 2, 9], math.sin(math.radians(20)), atol=1e-7)


def test_frames_beyond_clip_are_dropped():
    assert encode_labels(EventTable([49, 50], [0, 0], [0, 0], [0.0, 0.0], [100.0, 100.0], [0, 0])).sed.sum() == 1


def test_classwise_round_trip():
    rng = np.random.default_rng(0)
    rows = []
    for t in range(50):
        for c in rng.choice(13, size=rng.integers(0, 4), replace=False):
            rows.append((t, c, 0, int(rng.integers(-90, 91)), int(rng.integers(30, 800)), int(rng.integers(0, 2))))
    ev = EventTable(*zip(*rows))
    lab = encode_labels(ev)
    back = decode_classwise(lab.sed, doa=lab.doa, dist=lab.dist, onscreen=lab.onscreen)
    want, got = ev.sorted(), back.sorted()
    assert got.frame.tolist() == want.frame.tolist() and got.cls.tolist() == want.cls.tolist()
    np.testing.assert_allclose(got.azimuth, want.azimuth, atol=1e-3)
    np.testing.assert_array_equal(got.distance, want.distance)
    np.testing.assert_array_equal(got.onscreen, want.onscreen)
    # SCE alone carries direction and distance.
    back_sce = decode_classwise(lab.sed, sce=lab.sce).sorted()
    np.testing.assert_allclose(back_sce.azimuth, want.azimuth, atol=1e-3)
    np.testing.assert_array_equal(back_sce.distance, want.distance)


def test_decode_thresholds_and_defaults():
    sed = np.zeros((50, 13))
    sed[3, 2] = 0.6
    sed[3, 5] = 0.6
    doa = np.zeros((50, 13, 2))
    doa[3, 2] = (0.0, 2.0)  # length is irrelevant: 90°
    doa[3, 5] = (-1.0, 0.0)  # behind → folds to 0°
    thr = np.full(13, 0.5)
    thr[5] = 0.7
    ev = decode_classwise(sed, doa=doa, threshold=thr, default_distance_m=2.0)
    assert ev.cls.tolist() == [2] and ev.azimuth.tolist() == [90.0] and ev.distance.tolist() == [200.0]
    ev = decode_classwise(sed, doa=doa, threshold=0.5, dist=np.zeros((50, 13)))
    assert ev.azimuth.tolist() == [90.0, 0.0]
    assert ev.distance.tolist() == [1.0, 1.0]  # a zero distance is written as the 1-cm minimum


def test_adpit_round_trip():
    ev = EventTable([0, 0, 1, 1, 1], [3, 3, 8, 8, 8], [0] * 5, [10.0, -30.0, 0.0, 45.0, -80.0], [100.0, 200.0, 300.0, 400.0, 500.0], [1, 0, 0, 1, 0])
    back = decode_adpit(encode_labels(ev).adpit)
    want = ev.sorted()
    key = lambda e: sorted(zip(e.frame.tolist(), e.cls.tolist(), np.round(e.azimuth).tolist(), e.distance.tolist(), e.onscreen.tolist()))
    assert key(back) == key(want)


def test_multiaccdoa_decoding_unifies_close_tracks():
    out = np.zeros((50, 3, 3, 13))
    # Frame 0, class 1: tracks 0 and 1 at 10° and 20° (closer than 15°) → one merged event at 15°.
    for k, deg in ((0, 10), (1, 20)):
        out[0, k, :, 1] = (math.cos(math.radians(deg)), math.sin(math.radians(deg)), 2.0)
    # Frame 1, class 4: tracks at -60° and 60° → two events; track 2 inactive (norm 0.4).
    out[1, 0, :, 4] = (0.5, -math.sqrt(3) / 2, 1.0)
    out[1, 1, :, 4] = (0.5, math.sqrt(3) / 2, 3.0)
    out[1, 2, :, 4] = (0.4, 0.0, 5.0)
    ev = decode_multiaccdoa(out)
    assert ev.frame.tolist() == [0, 1, 1] and ev.cls.tolist() == [1, 4, 4]
    # Mean of the two unit vectors points at 15°.
    assert ev.azimuth[0] == pytest.approx(15.0, abs=1e-6)
    assert sorted(ev.azimuth[1:].round(6).tolist()) == [-60.0, 60.0]
    assert ev.distance.tolist()[0] == 200.0
