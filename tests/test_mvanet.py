"""MVANet (seldlib.models.mvanet): shapes, the AVAM by hand, the audio-model key mapping and the parameter count."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from seldlib.models.conformer import ConformerBlock
from seldlib.models.mvanet import AVAM, MVANet, MVANetConfig, direction_readout, init_from_audio
from seldlib.models.resnet_conformer import ResNetConformer, ResNetConformerConfig, small_config

N_CLASSES, N_FRAMES = 13, 50
# official MVANet (Hong-Hengyi/MVANet-SELD, stereo input, SCE head 39 = (x, y, z) x 13), counted with its code
OFFICIAL_MVANET_PARAMS = 20_318_107


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def linear(d_in: int, d_out: int) -> int:
    return d_in * d_out + d_out


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("n_frames", [250, 251])
@pytest.mark.parametrize("preset", ["small", "small_pooled", "paper"])
def test_every_head_has_its_shape(preset, n_frames):
    config = MVANetConfig.small_config() if preset.startswith("small") else MVANetConfig.paper_config()
    trunk_pool = 5 if preset == "small_pooled" else 1
    config = replace(config, trunk_time_pool=trunk_pool)
    b = 2 if preset == "small" else 1
    torch.manual_seed(0)
    model = MVANet(config).eval()
    with torch.no_grad():
        out = model(torch.randn(b, 2, n_frames, 64), torch.randn(b, N_FRAMES, 7, 7))
    assert set(out) == {"sed_logits", "sed", "sce", "ons_logits", "ons", "hidden"}
    for key in ("sed_logits", "sed", "ons_logits", "ons"):
        assert out[key].shape == (b, N_FRAMES, N_CLASSES), key
    assert out["sce"].shape == (b, N_FRAMES, N_CLASSES, 2)
    assert out["hidden"].shape == (b, n_frames // trunk_pool, config.d_model)
    assert torch.allclose(out["sed"], out["sed_logits"].sigmoid())
    assert torch.allclose(out["ons"], out["ons_logits"].sigmoid())
    assert not torch.allclose(out["ons"], out["sed"])  # separate heads
    assert (out["sce"] < 0).any()  # linear, no ReLU/tanh


def test_without_onscreen_there_is_no_ons_head():
    torch.manual_seed(0)
    model = MVANet(replace(MVANetConfig.small_config(), onscreen=False)).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 2, 250, 64), torch.randn(1, N_FRAMES, 49))
    assert set(out) == {"sed_logits", "sed", "sce", "hidden"}
    assert not hasattr(model, "ons_head")


def test_sce_uses_the_axis_major_layout_of_resnet_conformer():
    torch.manual_seed(0)
    model = MVANet(MVANetConfig.small_config()).eval()
    with torch.no_grad():
        model.sce_head[1].weight.zero_()
        model.sce_head[1].bias.copy_(torch.arange(2 * N_CLASSES, dtype=torch.float32))  # flat: x*13, then y*13
        out = model(torch.randn(1, 2, 250, 64), torch.randn(1, N_FRAMES, 49))
    assert out["sce"][0, 0, 3].tolist() == [3.0, 16.0]  # class 3: x at 3, y at 13 + 3


def test_video_as_grid_or_flat_gives_the_same_outputs():
    torch.manual_seed(0)
    model = MVANet(MVANetConfig.small_config()).eval()
    feats, video = torch.randn(2, 2, 251, 64), torch.randn(2, N_FRAMES, 7, 7)
    with torch.no_grad():
        a, b = model(feats, video), model(feats, video.reshape(2, N_FRAMES, 49))
        c = model(feats, torch.randn(2, N_FRAMES, 7, 7))
    assert torch.equal(a["sed"], b["sed"])
    assert not torch.allclose(a["sed"], c["sed"])  # the video is used


def test_avam_mode_changes_the_network():
    feats, video = torch.randn(1, 2, 250, 64), torch.randn(1, N_FRAMES, 49)
    outs = {}
    for mode in ("w", "wv"):
        torch.manual_seed(0)  # same weights: the mode adds no parameters
        model = MVANet(replace(MVANetConfig.small_config(), avam_mode=mode)).eval()
        with torch.no_grad():
            outs[mode] = model(feats, video)["sed"]
    assert not torch.allclose(outs["w"], outs["wv"])


@pytest.mark.parametrize(
    ("features", "video"),
    [
        ((1, 3, 250, 64), (1, 50, 49)),  # channels
        ((1, 2, 250, 60), (1, 50, 49)),  # mel bins
        ((1, 2, 250, 64), (1, 49, 49)),  # video frames != T // 5
        ((1, 2, 250, 64), (1, 50, 6, 7)),  # grid
        ((1, 2, 250, 64), (2, 50, 49)),  # batch
        ((1, 2, 4, 64), (1, 0, 49)),  # shorter than one video frame
    ],
)
def test_bad_input_shapes_raise_a_clear_error(features, video):
    model = MVANet(MVANetConfig.small_config())
    with pytest.raises(ValueError, match="expected"):
        model(torch.zeros(features), torch.zeros(video))


# ---------------------------------------------------------------- config


def test_config_takes_yaml_lists_and_validates():
    config = MVANetConfig(audio_blocks=[2, 2, 2, 2], video_blocks=[2, 2, 2], resnet_channels=[24, 48, 96, 192])
    assert config == MVANetConfig() and hash(config) == hash(MVANetConfig())
    audio = config.audio_config()
    assert audio == replace(ResNetConformerConfig.paper_config("sed_sce"), n_blocks=8)
    assert config.conformer() == audio.conformer()
    for bad in ({"avam_mode": "vw"}, {"audio_blocks": (2, 2, 2)}, {"video_blocks": (2, -1, 2)}, {"n_mels": 63}):
        with pytest.raises(ValueError):
            MVANetConfig(**bad)


# ---------------------------------------------------------------- AVAM by hand


@pytest.mark.parametrize("mode", ["w", "wv"])
def test_avam_matches_a_hand_computation(mode):
    da, dv = 2, 3
    rng = np.random.default_rng(7)
    shapes = {"a1": (da, da), "a2": (dv, da), "v1": (dv, dv), "v2": (dv, dv), "g": (dv, dv)}  # (out, in)
    w = {name: rng.normal(size=shape) for name, shape in shapes.items()}
    bias = {name: rng.normal(size=shape[0]) for name, shape in shapes.items()}
    avam = AVAM(da, dv, dv, mode=mode).eval()  # eval: dropout off
    layers = {"a1": avam.audio[0], "a2": avam.audio[3], "v1": avam.video[0], "v2": avam.video[3], "g": avam.gate}
    with torch.no_grad():
        for name, layer in layers.items():
            layer.weight.copy_(torch.from_numpy(w[name]))
            layer.bias.copy_(torch.from_numpy(bias[name]))
    a, v = rng.normal(size=(1, 4, da)), rng.normal(size=(1, 4, dv))

    def leaky(x):
        return np.where(x > 0, x, 0.01 * x)

    ha = leaky(a @ w["a1"].T + bias["a1"]) @ w["a2"].T + bias["a2"]
    hv = leaky(v @ w["v1"].T + bias["v1"]) @ w["v2"].T + bias["v2"]
    gate = 1.0 / (1.0 + np.exp(-(np.tanh(ha + hv) @ w["g"].T + bias["g"])))
    expected = gate if mode == "w" else gate * v
    with torch.no_grad():
        got = avam(torch.from_numpy(a).float(), torch.from_numpy(v).float()).double().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_avam_wv_needs_attention_dim_equal_to_video_dim():
    with pytest.raises(ValueError, match="attention_dim == video_dim"):
        AVAM(8, 49, 16, mode="wv")
    AVAM(8, 49, 16, mode="w")  # the gate alone may have any width


# ---------------------------------------------------------------- init_from_audio


def _audio_model(trunk_time_pool: int = 1) -> ResNetConformer:
    """A small SED-SCE audio model (2 blocks, as the small MVANet's audio path) whose every tensor differs from a fresh init."""
    torch.manual_seed(1)
    audio = ResNetConformer(replace(small_config("sed_sce"), trunk_time_pool=trunk_time_pool))
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, t in audio.state_dict().items():
            if t.dtype.is_floating_point:
                t.add_(0.05 * torch.randn(t.shape, generator=g))  # also BN running stats, LayerNorm weights
            else:
                t.fill_(7)  # num_batches_tracked
    return audio.eval()


def test_init_from_audio_copies_every_audio_tensor_to_its_place():
    audio = _audio_model()
    torch.manual_seed(0)
    model = MVANet(MVANetConfig.small_config()).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    source = audio.state_dict()
    pairs = init_from_audio(model, source, audio.config)

    assert [src for _, src in pairs] == list(source)  # every source tensor used, once
    dests = [dst for dst, _ in pairs]
    assert len(set(dests)) == len(dests)
    # hand-written mapping of the block order (1, 0, 0, 1): stage 1 holds block 0, the fusion block 1
    assert ("audio_stages.0.0.attn.to_q.weight", "blocks.0.attn.to_q.weight") in pairs
    assert ("fusion_blocks.0.conv.bn.running_var", "blocks.1.conv.bn.running_var") in pairs
    assert not any(dst.startswith(("audio_stages.1.", "audio_stages.2.")) for dst, _ in pairs)
    assert ("audio_projection.0.weight", "input_projection.0.weight") in pairs
    assert ("trunk.layer2.0.shortcut.1.running_mean", "trunk.layer2.0.shortcut.1.running_mean") in pairs
    after = model.state_dict()
    for dst, src in pairs:
        assert torch.equal(after[dst], source[src]), dst
        assert not torch.equal(before[dst], source[src]), dst  # the copy did something
    untouched = set(after) - set(dests)
    fresh = {"avam_m", "video_projection", "video_stages", "avams", "ons_head"}
    assert untouched and {k.split(".")[0] for k in untouched} == fresh
    assert all(torch.equal(after[k], before[k]) for k in untouched)


@pytest.mark.parametrize("trunk_pool", [1, 5])
def test_mapped_mvanet_is_the_audio_model_plus_the_video_before_the_fusion_blocks(trunk_pool):
    """The audio stream of stages 1-3 never sees the video; the fusion adds video frame min(t // k, 49) to
    audio-stream frame t, k = 5 // trunk_time_pool (audio frames per video frame)."""
    audio = _audio_model(trunk_pool)
    torch.manual_seed(0)
    model = MVANet(replace(MVANetConfig.small_config(), trunk_time_pool=trunk_pool)).eval()
    init_from_audio(model, audio.state_dict(), audio.config)
    torch.manual_seed(3)
    feats, video = torch.randn(2, 2, 251, 64), torch.randn(2, N_FRAMES, 7, 7)

    seen: dict[str, torch.Tensor] = {}
    hooks = [
        model.avams[2].register_forward_hook(lambda m, args, out: seen.__setitem__("v", out)),
        model.fusion_blocks[0].register_forward_pre_hook(lambda m, args: seen.__setitem__("fused", args[0])),
    ]
    with torch.no_grad():
        out = model(feats, video)
    k = 5 // trunk_pool
    frame_of = torch.clamp(torch.arange(251 // trunk_pool) // k, max=N_FRAMES - 1)
    up = seen["v"][:, frame_of]  # (2, 251 // trunk_pool, d)

    def add_video(module, args):
        seen["audio_x"] = args[0]
        return (args[0] + up,)

    hooks.append(audio.blocks[1].register_forward_pre_hook(add_video))
    with torch.no_grad():
        ref = audio(feats)
    for h in hooks:
        h.remove()
    with torch.no_grad():
        plain = audio(feats)

    torch.testing.assert_close(seen["fused"], seen["audio_x"] + up)
    for key in ("sed_logits", "sce", "hidden"):
        torch.testing.assert_close(out[key], ref[key], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(out["sed"], plain["sed"], atol=1e-3)  # the video add changes the audio model's output


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"n_blocks": 4}, "n_blocks"),
        ({"d_model": 32}, "d_model"),
        ({"output": "sed_doa"}, "output"),
        ({"n_mels": 32}, "n_mels"),
        ({"trunk_time_pool": 5}, "trunk_time_pool"),
    ],
)
def test_init_from_audio_rejects_a_mismatched_config(change, named):
    source_config = replace(small_config("sed_sce"), **change)
    model = MVANet(MVANetConfig.small_config())
    with pytest.raises(ValueError, match=named) as err:
        init_from_audio(model, ResNetConformer(source_config).state_dict(), source_config)
    assert repr(getattr(source_config, named)) in str(err.value)
    assert repr(getattr(model.config.audio_config(), named)) in str(err.value)


def test_init_from_audio_allows_other_dropout_rates():
    source_config = replace(small_config("sed_sce"), dropout=0.3, input_dropout=0.0)
    state = ResNetConformer(source_config).state_dict()
    assert len(init_from_audio(MVANet(MVANetConfig.small_config()), state, source_config)) == len(state)


def test_init_from_audio_rejects_a_state_that_does_not_fit_its_config():
    audio = _audio_model()
    model = MVANet(MVANetConfig.small_config())
    state = audio.state_dict()
    extra = {**state, "doa_head.0.weight": torch.zeros(64, 64)}
    missing = {k: v for k, v in state.items() if k != "blocks.1.ff2.net.0.bias"}
    reshaped = {**state, "sce_head.1.weight": torch.zeros(39, 64)}
    for bad, message in [(extra, "unexpected"), (missing, "missing"), (reshaped, "sce_head.1.weight")]:
        with pytest.raises(ValueError, match=message):
            init_from_audio(model, bad, audio.config)


# ---------------------------------------------------------------- size


def test_paper_parameter_count_is_the_sum_of_its_parts():
    with torch.device("meta"):
        model = MVANet(MVANetConfig.paper_config())
        no_ons = MVANet(replace(MVANetConfig.paper_config(), onscreen=False))
        trunk = n_params(ResNetConformer(ResNetConformerConfig.paper_config("sed_sce")).trunk)
        block = n_params(ConformerBlock(ResNetConformerConfig.paper_config().conformer()))

    def avam(da: int, dv: int, dk: int) -> int:
        return linear(da, da) + linear(da, dk) + linear(dv, dv) + linear(dv, dk) + linear(dk, dk)

    d, embed, grid = 256, 512, 49
    heads = {"sed": linear(d, d) + linear(d, 13), "sce": linear(d, d) + linear(d, 26)}
    heads["ons"] = heads["sed"]
    parts = (
        trunk
        + linear(embed, d)  # audio projection
        + avam(embed, grid, grid)
        + linear(grid, d)  # video projection
        + 3 * avam(d, d, d)
        + (8 + 6) * block  # audio 2+2+2+2, video 2+2+2
        + sum(heads.values())
    )
    total = n_params(model)
    print(f"MVANet paper preset: {total:,} trainable parameters ({n_params(no_ons):,} without the ONS head)")
    assert total == parts
    # the official class differs only in its SCE output (39 = xyz x 13 instead of 26 = xy x 13) and has no ONS head
    assert n_params(no_ons) == OFFICIAL_MVANET_PARAMS - 13 * linear(d, 1)
    assert total == n_params(no_ons) + heads["ons"]


# ---------------------------------------------------------------- on-screen column readout


def _unit(az_deg: float) -> torch.Tensor:
    a = np.deg2rad(az_deg)
    return torch.tensor([np.cos(a), np.sin(a)], dtype=torch.float32)


@pytest.mark.parametrize(
    ("az_deg", "column"),
    [
        (0.0, 3.0),  # straight ahead: the middle of 7 columns
        (-50.0, 6.0),  # right edge of a 100-deg view: the right-most cell centre (clamped from 6.5)
        # tan(30°)/tan(50°) = 0.48445 of the half-width to the left: column (1 - 0.48445) * 3.5 - 0.5
        (30.0, (1 - np.tan(np.deg2rad(30)) / np.tan(np.deg2rad(50))) * 3.5 - 0.5),
        (-20.0, (1 + np.tan(np.deg2rad(20)) / np.tan(np.deg2rad(50))) * 3.5 - 0.5),
    ],
)
def test_direction_readout_reads_the_projected_column(az_deg, column):
    # map value = column index, so the readout returns the (interpolated) column position in every row
    maps = torch.arange(7.0).view(1, 1, 1, 7).expand(1, 1, 7, 7)
    out = direction_readout(maps, (2.5 * _unit(az_deg)).view(1, 1, 1, 2), hfov_deg=100.0)
    assert out.shape == (1, 1, 1, 7)
    torch.testing.assert_close(out, torch.full((1, 1, 1, 7), float(column)), rtol=0, atol=1e-5)


@pytest.mark.parametrize("az_deg", [55.0, -60.0, 120.0, 180.0, -95.0])
def test_direction_readout_reads_zeros_off_screen(az_deg):
    maps = torch.ones(1, 1, 7, 7)
    out = direction_readout(maps, _unit(az_deg).view(1, 1, 1, 2), hfov_deg=100.0)
    assert torch.equal(out, torch.zeros(1, 1, 1, 7))


def test_direction_readout_keeps_rows_and_classes_apart():
    g = torch.Generator().manual_seed(0)
    maps = torch.randn(2, 3, 7, 7, generator=g)
    sce = torch.stack([_unit(0.0), _unit(-50.0)]).expand(2, 3, 2, 2)  # class 0 ahead, class 1 at the right edge
    out = direction_readout(maps, sce, hfov_deg=100.0)
    torch.testing.assert_close(out[:, :, 0], maps[..., 3])  # column 3, every row, every clip and frame
    torch.testing.assert_close(out[:, :, 1], maps[..., 6])


def test_ons_readout_uses_the_video_at_the_predicted_direction_only():
    """A still video minus its clip mean is zero everywhere, so the readout adds what a zero column gives."""
    torch.manual_seed(0)
    model = MVANet(replace(MVANetConfig.small_config(), ons_readout=True)).eval()
    feats = torch.randn(1, 2, 251, 64)
    still = torch.randn(1, 1, 7, 7).expand(1, N_FRAMES, 7, 7)
    with torch.no_grad():
        out = model(feats, still)
        pooled = {}
        h = model.ons_head.register_forward_hook(lambda m, a, o: pooled.__setitem__("plain", o))
        model(feats, still)
        h.remove()
    readout_term = model.ons_readout(torch.zeros(7)).squeeze()  # what a zero column contributes
    torch.testing.assert_close(out["ons_logits"], pooled["plain"] + readout_term, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="ons_readout"):
        MVANetConfig(onscreen=False, ons_readout=True)


def test_clip_video_norm_removes_what_is_still():
    """video_norm "clip": a video and the same video plus a still picture give the same output."""
    torch.manual_seed(0)
    model = MVANet(replace(MVANetConfig.small_config(), video_norm="clip")).eval()
    g = torch.Generator().manual_seed(1)
    feats, video = torch.randn(1, 2, 251, 64, generator=g), torch.randn(1, N_FRAMES, 7, 7, generator=g)
    still = torch.randn(1, 1, 7, 7, generator=g).expand(1, N_FRAMES, 7, 7)
    with torch.no_grad():
        a, b = model(feats, video), model(feats, video + still)
    torch.testing.assert_close(a["hidden"], b["hidden"], rtol=1e-4, atol=1e-6)
    plain = MVANet(MVANetConfig.small_config()).eval()
    plain.load_state_dict(model.state_dict())
    with torch.no_grad():  # without it the still picture does change the fused stream
        assert (plain(feats, video)["hidden"] - plain(feats, video + still)["hidden"]).abs().max() > 1e-3
