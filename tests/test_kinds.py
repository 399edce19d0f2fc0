"""The kinds registry is the one place that knows what a model kind is (``seldlib.kinds``)."""

from __future__ import annotations

import pytest
import torch

from seldlib.inference import predict_arrays
from seldlib.kinds import KINDS, get_kind
from seldlib.losses import LOSSES, build_loss
from seldlib.models import build_model

TINY = {"preset": "small", "resnet_channels": [4, 4, 4, 4], "d_model": 16, "n_heads": 2, "n_blocks": 1, "head_hidden": 16}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_builds_a_model_whose_outputs_match_its_spec(kind):
    spec = get_kind(kind)
    torch.manual_seed(0)
    tiny = {"preset": "small"} if spec.architecture == "seldnet" else \
        {k: v for k, v in TINY.items() if spec.architecture == "resnet_conformer" or k != "n_blocks"}
    model = build_model(kind, tiny)
    video = torch.randn(2, 50, 7, 7) if spec.track == "B" else None
    out = predict_arrays(model, kind, torch.randn(2, 2, 251, 64), video=video)
    assert {k: v.shape[1:] for k, v in out.items()} == dict(spec.outputs)
    assert set(out) == set(spec.output_keys)
    assert spec.loss in LOSSES


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_decoding_sources_are_consistent(kind):
    spec = get_kind(kind)
    keys = set(spec.outputs)
    if spec.direction == "partner":
        assert spec.direction_partner in KINDS and get_kind(spec.direction_partner).has_direction
    else:
        assert spec.direction in keys
    assert spec.distance == "constant" or spec.distance in keys
    if spec.fusable:
        assert "sed" in keys  # fusion averages SED posteriors


def test_loss_weights_follow_the_registry():
    with pytest.raises(ValueError, match=r"allowed: \['sed', 'dist'\]"):
        build_loss("sed_sde", {"doa": 1.0})
    loss = build_loss("sed_doa", {"sed": 0.25})
    assert loss.w_sed == 0.25 and loss.w_doa == 1.0  # the other weight keeps the paper value


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown model kind 'sed_xyz'; expected one of \['av_sed_sce_ons', 'av_ts_sed_sce_ons', 'sed_doa'"):
        get_kind("sed_xyz")


@pytest.mark.parametrize("kind", sorted(k for k, spec in KINDS.items() if spec.track == "B"))
def test_track_b_kinds_read_video_start_from_a_trained_model_and_decide_onscreen(kind):
    spec = get_kind(kind)
    assert {"video", "init"} <= spec.needs and spec.init_kind in KINDS and KINDS[spec.init_kind].track == "A"
    assert spec.onscreen in spec.outputs  # the key of its on-screen posteriors
    assert ("teacher" in spec.needs) == (spec.teacher_kind is not None)
    assert spec.paper is not None and spec.paper_osa is not None
    with pytest.raises(ValueError, match="needs the clips' video"):
        model = build_model(kind, {"preset": "small"})
        predict_arrays(model, kind, torch.randn(1, 2, 251, 64))
