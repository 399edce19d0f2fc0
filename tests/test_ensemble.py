"""Posterior fusion over ``models`` entries of any fusable kind (``seldlib.ensemble``), by hand."""

from __future__ import annotations

import numpy as np
import pytest

from seldlib.ensemble import fuse_outputs, single_outputs

N, T, C = 1, 50, 13


def _arrays(**values):
    out = {}
    for key, v in values.items():
        shape = (N, T, C, 2) if key in ("doa", "sce") else (N, T, C)
        out[key] = np.broadcast_to(np.asarray(v, np.float64), shape).copy()
    return out


def test_two_entries_of_one_kind_both_enter():
    members = {
        "doa": ("sed_doa", _arrays(sed=0.9, doa=[0.0, 2.0])),        # 90° (length does not matter)
        "sde_a": ("sed_sde", _arrays(sed=0.6, dist=2.0)),
        "sde_b": ("sed_sde", _arrays(sed=0.3, dist=4.0)),
    }
    fused = fuse_outputs(members, {"doa": 1.0, "sde_a": 1.0, "sde_b": 2.0})
    # SED: (0.9 + 0.6 + 2·0.3) / 4 = 0.525
    assert fused["sed"][0, 0, 0] == pytest.approx(0.525)
    # direction: the only DOA member, as a unit vector; distance: mean of both SDE entries = 3 m
    np.testing.assert_allclose(fused["doa"][0, 0, 0], [0.0, 1.0])
    assert fused["dist"][0, 0, 0] == pytest.approx(3.0)


def test_blends_with_sce():
    members = {
        "doa": ("sed_doa", _arrays(sed=0.5, doa=[1.0, 0.0])),        # 0°
        "sce": ("sed_sce", _arrays(sed=0.5, sce=[0.0, 3.0])),        # 90°, 3 m
        "sde": ("sed_sde", _arrays(sed=0.5, dist=1.0)),
    }
    fused = fuse_outputs(members, {"doa": 1, "sce": 1, "sde": 1}, doa_sce_blend=0.5, dist_sce_blend=0.25)
    # half-way between 0° and 90° is 45°
    np.testing.assert_allclose(fused["doa"][0, 0, 0], [np.sqrt(0.5), np.sqrt(0.5)])
    # 0.75·1 m + 0.25·3 m = 1.5 m
    assert fused["dist"][0, 0, 0] == pytest.approx(1.5)
    # without a DOA member the SCE gives direction and distance alone
    alone = fuse_outputs({"sce": members["sce"]}, {"sce": 1.0})
    np.testing.assert_allclose(alone["doa"][0, 0, 0], [0.0, 1.0])
    assert alone["dist"][0, 0, 0] == pytest.approx(3.0)


def test_refusals():
    with pytest.raises(ValueError, match="cannot be fused"):
        fuse_outputs({"b": ("seldnet", {"accdoa": np.zeros((N, T, 3, 3, C))})}, {"b": 1.0})
    with pytest.raises(ValueError, match="needs a member that predicts direction"):
        fuse_outputs({"s": ("sed_sde", _arrays(sed=0.5, dist=1.0))}, {"s": 1.0})
    with pytest.raises(ValueError, match="positive SED weight"):
        fuse_outputs({"d": ("sed_doa", _arrays(sed=0.5, doa=[1, 0]))}, {"d": 0.0})


def test_single_outputs_borrows_direction_by_kind():
    sde = ("sed_sde", _arrays(sed=0.7, dist=2.0))
    doa = ("sed_doa", _arrays(sed=0.1, doa=[0.0, 1.0]))
    out = single_outputs(sde, doa)
    assert out["sed"][0, 0, 0] == 0.7 and out["dist"][0, 0, 0] == 2.0  # detection and distance its own
    np.testing.assert_allclose(out["doa"][0, 0, 0], [0.0, 1.0])
    with pytest.raises(ValueError, match="needs a sed_doa model"):
        single_outputs(sde, ("sed_sce", _arrays(sed=0.1, sce=[1, 0])))
    assert single_outputs(doa).keys() == {"sed", "doa"}


def _av(sed, az_deg, dist_m, ons):
    a = np.deg2rad(az_deg)
    return _arrays(sed=sed, sce=[dist_m * np.cos(a), dist_m * np.sin(a)], ons=ons)


def test_av_members_fuse_onscreen_posteriors():
    members = {
        "doa": ("sed_doa", _arrays(sed=0.9, doa=[1.0, 0.0])),              # 0°
        "sde": ("sed_sde", _arrays(sed=0.6, dist=2.0)),
        "av": ("av_sed_sce_ons", _av(0.3, 90.0, 4.0, ons=0.6)),           # 90°, 4 m
        "av_ts": ("av_ts_sed_sce_ons", _av(0.6, 90.0, 4.0, ons=0.2)),
    }
    fused = fuse_outputs(members, {"doa": 1.0, "sde": 1.0, "av": 1.0, "av_ts": 1.0})
    assert set(fused) == {"sed", "doa", "dist", "onscreen"}              # the members' "ons" is fused as "onscreen"
    assert fused["sed"][0, 0, 0] == pytest.approx((0.9 + 0.6 + 0.3 + 0.6) / 4)
    assert fused["onscreen"].shape == (N, T, C)
    assert fused["onscreen"][0, 0, 0] == pytest.approx(0.4)               # (0.6 + 0.2) / 2
    # blends 0: direction from SED-DOA (0°), distance from SED-SDE (2 m), as in Track A
    np.testing.assert_allclose(fused["doa"][0, 0, 0], [1.0, 0.0])
    assert fused["dist"][0, 0, 0] == pytest.approx(2.0)
    # the AV members' SCE enters the blends like SED-SCE's: 45°, and 0.5·2 + 0.5·4 = 3 m
    blended = fuse_outputs(members, {"doa": 1.0}, doa_sce_blend=0.5, dist_sce_blend=0.5)
    np.testing.assert_allclose(blended["doa"][0, 0, 0], [np.sqrt(0.5), np.sqrt(0.5)])
    assert blended["dist"][0, 0, 0] == pytest.approx(3.0)
    assert blended["sed"][0, 0, 0] == pytest.approx(0.9)                  # SED of the weighted member alone
    # weighted on-screen mean: (3·0.6 + 1·0.2) / 4 = 0.5; a weight of 0 drops a member
    weighted = fuse_outputs(members, {"doa": 1.0}, onscreen_weights={"av": 3.0, "av_ts": 1.0})
    assert weighted["onscreen"][0, 0, 0] == pytest.approx(0.5)
    only_ts = fuse_outputs(members, {"doa": 1.0}, onscreen_weights={"av": 0.0, "av_ts": 1.0})
    assert only_ts["onscreen"][0, 0, 0] == pytest.approx(0.2)


def test_audio_only_fusion_unchanged_by_onscreen():
    members = {
        "doa": ("sed_doa", _arrays(sed=0.9, doa=[0.0, 1.0])),
        "sde": ("sed_sde", _arrays(sed=0.5, dist=3.0)),
        "sce": ("sed_sce", _arrays(sed=0.4, sce=[1.0, 0.0])),
    }
    weights = {"doa": 1.0, "sde": 1.0, "sce": 2.0}
    fused = fuse_outputs(members, weights, 0.25, 0.5)
    assert set(fused) == {"sed", "doa", "dist"}                           # no on-screen member: no "onscreen"
    assert fused["sed"][0, 0, 0] == pytest.approx((0.9 + 0.5 + 2 * 0.4) / 4)
    # 0.75·(0, 1) + 0.25·(1, 0), normalised; 0.5·3 + 0.5·1 = 2 m
    np.testing.assert_allclose(fused["doa"][0, 0, 0], np.array([0.25, 0.75]) / np.hypot(0.25, 0.75))
    assert fused["dist"][0, 0, 0] == pytest.approx(2.0)
    with_none = fuse_outputs(members, weights, 0.25, 0.5, onscreen_weights=None)
    assert all(np.array_equal(fused[k], with_none[k]) for k in fused)


def test_onscreen_weight_refusals():
    members = {"doa": ("sed_doa", _arrays(sed=0.9, doa=[1.0, 0.0])), "av": ("av_sed_sce_ons", _av(0.5, 0.0, 1.0, 0.5))}
    with pytest.raises(ValueError, match="onscreen_weights name doa, which predict no on-screen"):
        fuse_outputs(members, {"doa": 1.0}, onscreen_weights={"doa": 1.0, "av": 1.0})
    with pytest.raises(ValueError, match="positive on-screen weight"):
        fuse_outputs(members, {"doa": 1.0}, onscreen_weights={"av": 0.0})
