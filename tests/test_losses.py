"""Loss tests: every expected value is worked out by hand in the comments next to it."""

from __future__ import annotations

import math

import pytest
import torch

from seldlib.losses import (
    ADPIT_PERMUTATIONS,
    AdpitLoss,
    SedDoaLoss,
    SedSceLoss,
    SedSdeLoss,
    build_loss,
)


def t(x):
    return torch.tensor(x, dtype=torch.float32)


def logit(p):
    p = t(p)
    return torch.log(p / (1 - p))


# ---------------------------------------------------------------- SED-DOA


def test_sed_doa_by_hand():
    # B=1, T=1, C=2. Class 0 active, class 1 inactive.
    pred = {"sed": t([[[0.8, 0.25]]]), "doa": t([[[[0.6, 0.8], [0.5, -0.5]]]])}
    target = {"sed": t([[[1.0, 0.0]]]), "doa": t([[[[1.0, 0.0], [0.0, 0.0]]]])}
    # BCE = -(ln 0.8 + ln(1 - 0.25)) / 2 = (0.22314355 + 0.28768207) / 2 = 0.25541281
    bce = (0.22314355 + 0.28768207) / 2
    # DOA: class 0 errors (0.6-1)^2 = 0.16, (0.8-0)^2 = 0.64; class 1 masked -> 0, 0.
    # mean over B·T·C·2 = 4 elements: 0.8 / 4 = 0.2
    doa = 0.2
    total, parts = SedDoaLoss()(pred, target)
    assert total.shape == ()
    assert parts["sed"] == pytest.approx(bce, abs=1e-6)
    assert parts["doa"] == pytest.approx(doa, abs=1e-6)
    # default weights 0.1 / 1.0: 0.025541281 + 0.2
    assert float(total) == pytest.approx(0.225541281, abs=1e-6)
    assert parts["total"] == pytest.approx(0.225541281, abs=1e-6)
    # custom weights: 2·0.25541281 + 3·0.2 = 1.11082562
    total2, _ = SedDoaLoss(w_sed=2.0, w_doa=3.0)(pred, target)
    assert float(total2) == pytest.approx(1.11082562, abs=1e-6)


def test_sed_bce_uses_logits_when_given():
    # Same case as above, but with logits: the BCE must be the same number.
    pred = {"sed_logits": logit([[[0.8, 0.25]]]), "sed": t([[[0.0, 0.0]]]), "doa": torch.zeros(1, 1, 2, 2)}
    target = {"sed": t([[[1.0, 0.0]]]), "doa": torch.zeros(1, 1, 2, 2)}
    # "sed" is deliberately wrong (0 → BCE would be huge): the logits path must be used.
    _, parts = SedDoaLoss()(pred, target)
    assert parts["sed"] == pytest.approx(0.25541281, abs=1e-6)
    # extreme logits stay finite: BCE(logit=-200, y=1) = 200 (log-sigmoid), not inf / clamped 100
    pred["sed_logits"] = t([[[-200.0, 0.0]]])
    _, parts = SedDoaLoss()(pred, target)
    assert parts["sed"] == pytest.approx((200.0 + math.log(2)) / 2, rel=1e-6)


# ---------------------------------------------------------------- SED-SDE (MSPE)


def test_sed_sde_mspe_by_hand():
    # B=1, T=1, C=3: classes 0 and 1 active at 2 m and 4 m, class 2 inactive.
    pred = {"sed": t([[[0.5, 0.5, 0.5]]]), "dist": t([[[3.0, 3.0, 5.0]]])}
    target = {"sed": t([[[1.0, 1.0, 0.0]]]), "dist": t([[[2.0, 4.0, 0.0]]])}
    # ratios: (3-2)/2 = 0.5 -> 0.25; (3-4)/4 = -0.25 -> 0.0625; inactive -> 0 (counts in the mean)
    # MSPE = (0.25 + 0.0625 + 0) / 3 = 0.104166667
    # BCE = ln 2 = 0.69314718 for every entry
    total, parts = SedSdeLoss()(pred, target)
    assert parts["dist"] == pytest.approx(0.3125 / 3, abs=1e-6)
    assert parts["sed"] == pytest.approx(0.69314718, abs=1e-6)
    # 0.1·0.69314718 + 1.0·0.104166667 = 0.173481385
    assert float(total) == pytest.approx(0.173481385, abs=1e-6)


def test_mspe_inactive_zero_distance_is_finite():
    # inactive class with target 0 m and a large prediction: contributes exactly 0 (no 0/0 NaN)
    pred = {"sed": t([[[0.5]]]), "dist": t([[[1e4]]])}
    target = {"sed": t([[[0.0]]]), "dist": t([[[0.0]]])}
    _, parts = SedSdeLoss()(pred, target)
    assert parts["dist"] == 0.0


# ---------------------------------------------------------------- SED-SCE


def test_sed_sce_by_hand():
    # B=1, T=1, C=2: class 0 active at (1.5, -2.0) m, class 1 inactive.
    pred = {"sed": t([[[0.9, 0.1]]]), "sce": t([[[[1.0, -1.0], [3.0, 3.0]]]])}
    target = {"sed": t([[[1.0, 0.0]]]), "sce": t([[[[1.5, -2.0], [0.0, 0.0]]]])}
    # SCE: (1-1.5)^2 = 0.25, (-1+2)^2 = 1.0, class 1 masked -> 0, 0; mean over 4 = 0.3125
    # BCE: -ln 0.9 = 0.10536052 for both entries -> mean 0.10536052
    # total = 1·0.10536052 + 2·0.3125 = 0.73036052
    total, parts = SedSceLoss()(pred, target)
    assert parts["sce"] == pytest.approx(0.3125, abs=1e-6)
    assert parts["sed"] == pytest.approx(0.10536052, abs=1e-6)
    assert float(total) == pytest.approx(0.73036052, abs=1e-6)


# ---------------------------------------------------------------- masking and reduction


def _random_batch(kind: str, b=3, tt=4, c=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    act = (torch.rand(b, tt, c, generator=g) > 0.5).float()
    act[0, 0, 0], act[0, 0, 1] = 1.0, 0.0  # guarantee one active and one inactive entry
    az = torch.rand(b, tt, c, generator=g) * math.pi - math.pi / 2
    doa = torch.stack([az.cos(), az.sin()], -1) * act[..., None]
    dist = (0.5 + 4 * torch.rand(b, tt, c, generator=g)) * act
    target = {"sed": act, "doa": doa, "dist": dist, "sce": doa * dist[..., None]}
    pred = {
        "sed_logits": torch.randn(b, tt, c, generator=g),
        "doa": torch.rand(b, tt, c, 2, generator=g) * 2 - 1,
        "dist": 5 * torch.rand(b, tt, c, generator=g),
        "sce": torch.randn(b, tt, c, 2, generator=g) * 3,
    }
    pred["sed"] = pred["sed_logits"].sigmoid()
    return pred, target


@pytest.mark.parametrize("kind,key", [("sed_doa", "doa"), ("sed_sde", "dist"), ("sed_sce", "sce")])
def test_regression_term_ignores_inactive(kind, key):
    loss = build_loss(kind)
    pred, target = _random_batch(kind)
    _, base = loss(pred, target)
    # change the prediction at the inactive class-frame (0, 0, 1): the regression term is unchanged
    changed = {k: v.clone() for k, v in pred.items()}
    changed[key][0, 0, 1] += 7.0
    _, parts = loss(changed, target)
    assert parts[key] == base[key]
    # ... while the same change at an active class-frame (0, 0, 0) does change it
    changed = {k: v.clone() for k, v in pred.items()}
    changed[key][0, 0, 0] += 7.0
    _, parts = loss(changed, target)
    assert parts[key] > base[key] + 1e-3


@pytest.mark.parametrize("kind", ["sed_doa", "sed_sde", "sed_sce"])
def test_per_sample_reduction(kind):
    loss = build_loss(kind)
    pred, target = _random_batch(kind, b=3)
    per, parts = loss(pred, target, reduction="none")
    assert per.shape == (3,)
    # each entry equals the loss of that sample alone
    for i in range(3):
        one, _ = loss({k: v[i : i + 1] for k, v in pred.items()}, {k: v[i : i + 1] for k, v in target.items()})
        assert float(per[i]) == pytest.approx(float(one), rel=1e-6)
    mean, _ = loss(pred, target)
    assert float(mean) == pytest.approx(float(per.mean()), rel=1e-6)
    assert parts["total"] == pytest.approx(float(mean), rel=1e-6)
    # constructor-level reduction
    per2, _ = build_loss(kind, reduction="none")(pred, target)
    assert torch.equal(per, per2)


def test_build_loss_weights():
    loss = build_loss("sed_doa", {"sed": 0.5, "w_doa": 4.0})
    assert (loss.w_sed, loss.w_doa) == (0.5, 4.0)
    assert isinstance(build_loss("sed_sde", {}), SedSdeLoss)
    assert (build_loss("sed_sce").w_sed, build_loss("sed_sce").w_sce) == (1.0, 2.0)
    assert (build_loss("sed_sde").w_sed, build_loss("sed_sde").w_dist) == (0.1, 1.0)
    assert isinstance(build_loss("seldnet"), AdpitLoss)
    with pytest.raises(ValueError):
        build_loss("sed_doa", {"dist": 1.0})
    with pytest.raises(ValueError):
        build_loss("nope")
    with pytest.raises(ValueError):
        build_loss("sed_doa", reduction="sum")


# ---------------------------------------------------------------- ADPIT

A0, B0, B1, C0, C1, C2 = range(6)


def adpit_target(sources: dict[int, tuple[float, float, float]], n_classes: int = 1) -> torch.Tensor:
    """(1, 1, 6, 5, C) target with the given slots active for class 0 (act, x, y, d, onscreen)."""
    y = torch.zeros(1, 1, 6, 5, n_classes)
    for slot, (x, yy, d) in sources.items():
        y[0, 0, slot, :, 0] = t([1.0, x, yy, d, 1.0])
    return y


def accdoa(tracks: list[tuple[float, float, float]], n_classes: int = 1) -> torch.Tensor:
    """(1, 1, 3, 3, C) prediction for class 0 with the given per-track (x, y, d)."""
    p = torch.zeros(1, 1, 3, 3, n_classes)
    for i, v in enumerate(tracks):
        p[0, 0, i, :, 0] = t(v)
    return p


SB0 = (1.0, 0.0, 2.0)
SB1 = (0.0, 1.0, 3.0)
ZERO = (0.0, 0.0, 0.0)


def test_adpit_two_sources_swapped_is_zero():
    target = {"adpit": adpit_target({B0: SB0, B1: SB1})}
    # B1, B0, B0 is the assignment (B1 B0 B0) in the permutation list -> exact match
    total, _ = AdpitLoss()({"accdoa": accdoa([SB1, SB0, SB0])}, target)
    assert float(total) == 0.0
    total, _ = AdpitLoss()({"accdoa": accdoa([SB0, SB1, SB1])}, target)
    assert float(total) == 0.0


def test_adpit_two_sources_one_track_empty():
    # prediction (B1, B0, 0). Candidate targets (9 values, /9):
    #  best B assignment B1 B0 B0: track 2 misses B0: 1 + 0 + 4 = 5        -> 5/9
    #  B1 B0 B1: track 2 misses B1: 0 + 1 + 9 = 10                          -> 10/9
    #  A group (A0A0A0 = 0, pads B0B0B1 + 0): target B0 B0 B1:
    #      track0 B1 vs B0: 1 + 1 + 1 = 3; track1 0; track2 B1 missing: 10 -> 13/9
    #  C groups (C = 0, pads 0 + B0B0B1): same target as A -> 13/9
    # minimum = 5/9; C = 2 classes (class 1 empty, prediction 0) -> mean over classes = 5/18
    target = {"adpit": adpit_target({B0: SB0, B1: SB1}, n_classes=2)}
    total, parts = AdpitLoss()({"accdoa": accdoa([SB1, SB0, ZERO], n_classes=2)}, target)
    assert float(total) == pytest.approx(5 / 18, abs=1e-7)
    assert parts["adpit"] == pytest.approx(5 / 18, abs=1e-7)


def test_adpit_single_source_must_be_on_all_tracks():
    s = (0.6, 0.8, 2.5)
    target = {"adpit": adpit_target({A0: s})}
    # A0 is replicated on all 3 tracks by every candidate (B/C groups are 0 and padded with A0A0A0),
    # so predicting it on all three tracks gives 0 ...
    total, _ = AdpitLoss()({"accdoa": accdoa([s, s, s])}, target)
    assert float(total) == 0.0
    # ... and predicting it on track 2 only leaves 2 empty tracks: 2·(0.36 + 0.64 + 6.25) / 9 = 14.5/9
    total, _ = AdpitLoss()({"accdoa": accdoa([ZERO, ZERO, s])}, target)
    assert float(total) == pytest.approx(14.5 / 9, abs=1e-6)


def test_adpit_three_sources_any_order_and_inactive_slots_ignored():
    s0, s1, s2 = (1.0, 0.0, 1.0), (0.0, 1.0, 2.0), (-1.0, 0.0, 3.0)
    y = adpit_target({C0: s0, C1: s1, C2: s2})
    # an inactive slot (act = 0) with garbage coordinates must not matter
    y[0, 0, A0, 1:4, 0] = t([0.3, 0.3, 9.0])
    total, _ = AdpitLoss()({"accdoa": accdoa([s2, s0, s1])}, {"adpit": y})
    assert float(total) == 0.0
    # 4-element (Track A) targets are accepted too
    total, _ = AdpitLoss()({"accdoa": accdoa([s1, s2, s0])}, {"adpit": y[:, :, :, :4]})
    assert float(total) == 0.0


def test_adpit_matches_explicit_enumeration():
    # Independent check on random data: enumerate the 13 candidates by name, per (b, t, c), in loops.
    names = [
        "A0A0A0",
        "B0B0B1", "B0B1B0", "B0B1B1", "B1B0B0", "B1B0B1", "B1B1B0",
        "C0C1C2", "C0C2C1", "C1C0C2", "C1C2C0", "C2C0C1", "C2C1C0",
    ]  # fmt: skip
    slot_of = {"A0": 0, "B0": 1, "B1": 2, "C0": 3, "C1": 4, "C2": 5}
    assert [tuple(slot_of[n[i : i + 2]] for i in (0, 2, 4)) for n in names] == list(ADPIT_PERMUTATIONS)
    pads = {"A": ["B0B0B1", "C0C1C2"], "B": ["A0A0A0", "C0C1C2"], "C": ["A0A0A0", "B0B0B1"]}

    g = torch.Generator().manual_seed(3)
    b, tt, c = 2, 3, 4
    y = torch.rand(b, tt, 6, 5, c, generator=g)
    y[:, :, :, 0] = (y[:, :, :, 0] > 0.5).float()
    pred = torch.randn(b, tt, 3, 3, c, generator=g)
    total, _ = AdpitLoss()({"accdoa": pred}, {"adpit": y})

    def vec(name, bi, ti, ci):  # 9 values of a 3-track name, act·(x, y, d)
        out = []
        for i in (0, 2, 4):
            s = slot_of[name[i : i + 2]]
            out += [float(y[bi, ti, s, 0, ci] * y[bi, ti, s, e, ci]) for e in (1, 2, 3)]
        return out

    acc = 0.0
    for bi in range(b):
        for ti in range(tt):
            for ci in range(c):
                p = [float(v) for v in pred[bi, ti, :, :, ci].reshape(-1)]
                best = math.inf
                for n in names:
                    tgt = vec(n, bi, ti, ci)
                    for pad in pads[n[0]]:
                        tgt = [a + q for a, q in zip(tgt, vec(pad, bi, ti, ci))]
                    best = min(best, sum((pi - ti_) ** 2 for pi, ti_ in zip(p, tgt)) / 9)
                acc += best
    assert float(total) == pytest.approx(acc / (b * tt * c), rel=1e-5)


def test_adpit_per_sample():
    y = torch.cat([adpit_target({B0: SB0, B1: SB1}), adpit_target({A0: (0.6, 0.8, 2.5)})])
    p = torch.cat([accdoa([SB1, SB0, ZERO]), accdoa([ZERO, ZERO, (0.6, 0.8, 2.5)])])
    per, _ = AdpitLoss(reduction="none")({"accdoa": p}, {"adpit": y})
    assert per.shape == (2,)
    assert per.tolist() == pytest.approx([5 / 9, 14.5 / 9], abs=1e-6)
