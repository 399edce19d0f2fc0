"""On-screen decisions of the Track B systems: the masked on-screen loss, decoding with the camera's field
of view, the tuned threshold and the majority-label floor of OSA."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seldlib.labels import decode_classwise, decode_multiaccdoa
from seldlib.losses import SedSceOnsLoss, build_loss, masked_bce_per_sample
from seldlib.metadata import EventTable


def _bce(p: float, y: float) -> float:
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def test_masked_onscreen_bce_hand_computed():
    # one clip, 2 frames x 2 classes: active (0,0) on-screen, (1,1) off-screen; the others inactive
    logits = torch.tensor([[[0.0, 3.0], [-2.0, 1.0]]])
    target = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    act = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected = (_bce(sig(0.0), 1.0) + _bce(sig(1.0), 0.0)) / 4  # inactive elements count as 0 in the mean
    got = masked_bce_per_sample(logits, target, act)
    assert got.shape == (1,)
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_sed_sce_ons_loss_adds_the_onscreen_term_to_sed_sce():
    g = torch.Generator().manual_seed(0)
    b, t, c = 3, 50, 13
    act = (torch.rand(b, t, c, generator=g) > 0.7).float()
    target = {"sed": act, "sce": torch.randn(b, t, c, 2, generator=g) * act[..., None],
              "onscreen": (torch.rand(b, t, c, generator=g) > 0.5).float() * act}
    logits = torch.randn(b, t, c, generator=g)
    pred = {"sed_logits": logits, "sed": logits.sigmoid(), "sce": torch.randn(b, t, c, 2, generator=g),
            "ons_logits": torch.randn(b, t, c, generator=g)}
    total, parts = build_loss("av_sed_sce_ons", {"sed": 1.0, "sce": 0.5, "ons": 2.0})(pred, target)
    sed_sce, sed_sce_parts = build_loss("sed_sce", {"sed": 1.0, "sce": 0.5})(pred, target)
    ons = masked_bce_per_sample(pred["ons_logits"], target["onscreen"], act).mean()
    assert float(total) == pytest.approx(float(sed_sce) + 2.0 * float(ons), rel=1e-6)
    assert parts["ons"] == pytest.approx(float(ons), rel=1e-6)
    assert parts["sed"] == pytest.approx(sed_sce_parts["sed"]) and parts["sce"] == pytest.approx(sed_sce_parts["sce"])
    # the on-screen flag of an inactive class-frame does not matter
    flipped = {**target, "onscreen": torch.where(act > 0, target["onscreen"], 1 - target["onscreen"])}
    assert float(SedSceOnsLoss()(pred, flipped)[0]) == pytest.approx(float(SedSceOnsLoss()(pred, target)[0]))


def _one_class_frame(az_deg: float, on_prob: float) -> dict[str, np.ndarray]:
    sed = np.zeros((1, 13))
    sed[0, 4] = 0.9
    sce = np.zeros((1, 13, 2))
    sce[0, 4] = 2.0 * np.cos(np.deg2rad(az_deg)), 2.0 * np.sin(np.deg2rad(az_deg))
    ons = np.zeros((1, 13))
    ons[0, 4] = on_prob
    return {"sed": sed, "sce": sce, "onscreen": ons}


@pytest.mark.parametrize(("az", "expected"), [(0.0, 1), (49.0, 1), (-49.0, 1), (51.0, 0), (-51.0, 0),
                                              (140.0, 0)])  # 140°: folded to 40°, but behind the camera
def test_events_outside_the_field_of_view_are_off_screen(az, expected):
    a = _one_class_frame(az, on_prob=0.95)
    ev = decode_classwise(a["sed"], sce=a["sce"], onscreen=a["onscreen"], onscreen_max_az=50.0)
    assert ev.onscreen.tolist() == [expected]
    # without the rule (the official baseline's decoding) the posterior alone decides
    assert decode_classwise(a["sed"], sce=a["sce"], onscreen=a["onscreen"]).onscreen.tolist() == [1]


def test_onscreen_threshold_is_applied():
    a = _one_class_frame(10.0, on_prob=0.3)
    assert decode_classwise(a["sed"], sce=a["sce"], onscreen=a["onscreen"], onscreen_threshold=0.25,
                            onscreen_max_az=50.0).onscreen.tolist() == [1]
    assert decode_classwise(a["sed"], sce=a["sce"], onscreen=a["onscreen"], onscreen_threshold=0.35,
                            onscreen_max_az=50.0).onscreen.tolist() == [0]


def test_multiaccdoa_onscreen_thresholded_not_truncated():
    accdoa = np.zeros((1, 3, 3, 13))
    accdoa[0, 0, :, 2] = (0.8, 0.0, 1.5)  # one active track of class 2 at azimuth 0
    on = np.zeros((1, 3, 13))
    on[0, 0, 2] = 0.7  # the baseline's int() would write 0
    assert decode_multiaccdoa(accdoa, onscreen=on).onscreen.tolist() == [1]
    assert decode_multiaccdoa(accdoa, onscreen=on, onscreen_threshold=0.75).onscreen.tolist() == [0]


def test_majority_osa_is_the_share_of_the_majority_label_among_matched_events():
    from seldlib.metrics import majority_osa

    # one class; three reference events (two on screen) each matched by a prediction within 5°, one far
    # reference unmatched (it must not count)
    ref = EventTable(frame=[0, 1, 2, 3], cls=[0, 0, 0, 0], source=[0, 0, 0, 0], azimuth=[10, -20, 30, 80],
                     distance=[100, 100, 100, 100], onscreen=[1, 1, 0, 0])
    pred = EventTable(frame=[0, 1, 2], cls=[0, 0, 0], source=[0, 0, 0], azimuth=[12, -18, 33],
                      distance=[100, 100, 100], onscreen=[0, 1, 0])
    assert majority_osa({"a.csv": ref}, {"a.csv": pred}) == pytest.approx(2 / 3)
