"""SED-SCE loss: the direction and distance terms added to the MVANet SCE regression
(``docs/networks.md``, SED-SCE loss). Expected values are worked out by hand next to each assertion."""

from __future__ import annotations

import math

import pytest
import torch

from seldlib.losses import SedSceLoss, build_loss, masked_mse_per_sample, sce_terms, sed_bce_per_sample

COS20 = math.cos(math.radians(20.0))


def t(x):
    return torch.tensor(x, dtype=torch.float32)


def at(az_deg: float, r: float) -> list[float]:
    return [r * math.cos(math.radians(az_deg)), r * math.sin(math.radians(az_deg))]


def one_frame(pred_xy: list[float], ref_xy: list[float]) -> tuple[dict, dict]:
    """B=1, T=1, C=1 active class-frame; SED output at 0.5."""
    pred = {"sed": t([[[0.5]]]), "sce": t([[[pred_xy]]])}
    target = {"sed": t([[[1.0]]]), "sce": t([[[ref_xy]]])}
    return pred, target


def test_paper_term_weighs_a_direction_error_by_the_distance_squared():
    # The defect: the same 20° error at the right distance costs d²·|u' − u|² in the MVANet term, so a
    # source at 6 m weighs 100 times one at 0.6 m, and a short (shrunk) prediction barely moves it.
    # |u' − u|² = 2 − 2 cos 20°; mean over the 2 coordinates: d²(1 − cos 20°).
    for d in (0.6, 6.0):
        _, parts = SedSceLoss()(*one_frame(at(20.0, d), at(0.0, d)))
        assert parts["sce"] == pytest.approx(d * d * (1 - COS20), rel=1e-5)


@pytest.mark.parametrize("d", [0.6, 6.0])
@pytest.mark.parametrize("r_pred", [0.1, 1.0, 10.0])
def test_direction_term_depends_on_the_angle_only(d, r_pred):
    # unit vectors (cos 20°, sin 20°) vs (1, 0): (cos 20° − 1)² + sin² 20° = 2 − 2 cos 20°, mean over 2
    # coordinates: 1 − cos 20° = 0.0603074, whatever the reference distance or the predicted length
    _, parts = SedSceLoss()(*one_frame(at(20.0, r_pred), at(0.0, d)))
    assert parts["dir"] == pytest.approx(1 - COS20, rel=1e-4)


def test_distance_term_is_the_mspe_of_the_norm():
    # B=1, T=1, C=2: class 0 active at (0, 4) m predicted at (3, 4) (norm 5), class 1 inactive.
    pred = {"sed": t([[[0.5, 0.5]]]), "sce": t([[[[3.0, 4.0], [9.0, 9.0]]]])}
    target = {"sed": t([[[1.0, 0.0]]]), "sce": t([[[[0.0, 4.0], [0.0, 0.0]]]])}
    # ((5 − 4) / 4)² = 0.0625 for class 0, 0 for class 1; mean over T·C = 2: 0.03125
    _, parts = SedSceLoss()(pred, target)
    assert parts["dist"] == pytest.approx(0.03125, rel=1e-5)
    # direction: (3, 4)/5 = (0.6, 0.8) vs (0, 1): 0.36 + 0.04 = 0.4 over T·C·2 = 4 elements: 0.1
    assert parts["dir"] == pytest.approx(0.1, rel=1e-5)


def test_weighted_total_by_hand():
    pred, target = one_frame(at(20.0, 2.5), at(0.0, 2.0))
    # sed: ln 2; sce: |(2.5 cos 20°, 2.5 sin 20°) − (2, 0)|² / 2 = (6.25 + 4 − 10 cos 20°) / 2
    # dir: 1 − cos 20°; dist: ((2.5 − 2) / 2)² = 0.0625
    sed, sce, dr, dist = math.log(2), (10.25 - 10 * COS20) / 2, 1 - COS20, 0.0625
    total, parts = SedSceLoss(w_sed=1.0, w_sce=0.5, w_dir=3.0, w_dist=2.0)(pred, target)
    assert (parts["sed"], parts["sce"]) == (pytest.approx(sed, rel=1e-5), pytest.approx(sce, rel=1e-5))
    assert (parts["dir"], parts["dist"]) == (pytest.approx(dr, rel=1e-4), pytest.approx(dist, rel=1e-5))
    assert float(total) == pytest.approx(sed + 0.5 * sce + 3.0 * dr + 2.0 * dist, rel=1e-5)


def _batch(seed: int = 0, b: int = 3, tt: int = 4, c: int = 5):
    g = torch.Generator().manual_seed(seed)
    act = (torch.rand(b, tt, c, generator=g) > 0.5).float()
    az = torch.rand(b, tt, c, generator=g) * math.pi - math.pi / 2
    d = (0.6 + 5.4 * torch.rand(b, tt, c, generator=g)) * act
    target = {"sed": act, "sce": torch.stack([az.cos(), az.sin()], -1) * d[..., None]}
    logits = torch.randn(b, tt, c, generator=g)
    pred = {"sed_logits": logits, "sed": logits.sigmoid(), "sce": torch.randn(b, tt, c, 2, generator=g) * 2}
    return pred, target


def test_zero_weights_give_the_mvanet_loss_exactly():
    # paper definition: BCE + w·masked-MSE(SCE), per sample, value and gradient bit for bit
    pred, target = _batch()
    pred["sce"].requires_grad_(True)
    per, _ = SedSceLoss(w_sed=1.0, w_sce=2.0, w_dir=0.0, w_dist=0.0)(pred, target, reduction="none")
    (g,) = torch.autograd.grad(per.sum(), pred["sce"])
    act = target["sed"]
    ref = sed_bce_per_sample(pred, act) + 2.0 * masked_mse_per_sample(pred["sce"], target["sce"], act)
    (g_ref,) = torch.autograd.grad(ref.sum(), pred["sce"])
    assert torch.equal(per, ref) and torch.equal(g, g_ref)
    # the class defaults are the paper's (MVANet 1 / 2, no added terms): what the paper preset restores
    default = SedSceLoss()
    assert (default.w_sed, default.w_sce, default.w_dir, default.w_dist) == (1.0, 2.0, 0.0, 0.0)


def test_added_terms_ignore_inactive_class_frames():
    pred, target = _batch(seed=1)
    loss = SedSceLoss(w_dir=1.0, w_dist=1.0)
    _, base = loss(pred, target)
    b, tt, c = torch.nonzero(target["sed"] == 0)[0].tolist()
    changed = {k: v.clone() for k, v in pred.items()}
    changed["sce"][b, tt, c] = t([-5.0, 3.0])
    _, parts = loss(changed, target)
    assert (parts["dir"], parts["dist"]) == (base["dir"], base["dist"])


def test_zero_length_prediction_stays_finite():
    # an all-zero SCE output (e.g. a freshly zeroed head) at an active class-frame: finite loss and gradient
    pred, target = one_frame([0.0, 0.0], at(30.0, 2.0))
    pred["sce"].requires_grad_(True)
    total, parts = SedSceLoss(w_dir=1.0, w_dist=1.0)(pred, target)
    (g,) = torch.autograd.grad(total, pred["sce"])
    assert math.isfinite(float(total.detach())) and torch.isfinite(g).all()
    # no direction: |0 − u|² = 1 over 2 coordinates; distance ≈ 0: ((0 − 2) / 2)² = 1
    assert parts["dir"] == pytest.approx(0.5, abs=1e-6) and parts["dist"] == pytest.approx(1.0, abs=1e-3)


def test_sce_terms_is_the_loss_of_the_sce_output():
    # the reusable function gives exactly the SCE terms of the loss class (for the audio-visual MVANet)
    pred, target = _batch(seed=2)
    terms = sce_terms(pred["sce"], target["sce"], target["sed"], w_sce=0.5, w_dir=3.0, w_dist=1.0)
    assert list(terms) == ["sce", "dir", "dist"]
    full = SedSceLoss(w_sed=1.0, w_sce=0.5, w_dir=3.0, w_dist=1.0).terms(pred, target)
    for name, (w, value) in terms.items():
        assert w == full[name][0] and torch.equal(value, full[name][1]) and value.shape == (3,)


def test_build_loss_accepts_the_added_weights():
    loss = build_loss("sed_sce", {"sed": 1.0, "sce": 0.5, "dir": 3.0, "dist": 1.0})
    assert (loss.w_sed, loss.w_sce, loss.w_dir, loss.w_dist) == (1.0, 0.5, 3.0, 1.0)
