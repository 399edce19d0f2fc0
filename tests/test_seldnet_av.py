"""The audio-visual baseline SELDnet (``docs/networks.md#baseline-av``) and its on-screen ADPIT loss.

Expected values are derived independently: the forward pass is recomputed from the state dict with
explicit GRU / attention / decoder equations, parameter counts by formula, losses by hand in numpy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seldlib.losses import LOSSES, AdpitOnsLoss, adpit_onscreen_per_sample, build_loss
from seldlib.models import SELDnet, SELDnetConfig, count_parameters

# ---------------------------------------------------------------- reference forward (explicit equations)


def _layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def _attention(q_in, kv_in, sd, prefix, heads):
    """Multi-head attention: in-projection, softmax(q·kᵀ/√d_h)·v per head, out-projection."""
    d = q_in.shape[-1]
    w, b = sd[f"{prefix}.in_proj_weight"], sd[f"{prefix}.in_proj_bias"]
    q = q_in @ w[:d].T + b[:d]
    k = kv_in @ w[d : 2 * d].T + b[d : 2 * d]
    v = kv_in @ w[2 * d :].T + b[2 * d :]
    dh = d // heads
    ctx = []
    for h in range(heads):
        s = slice(h * dh, (h + 1) * dh)
        att = torch.softmax(q[..., s] @ k[..., s].transpose(-1, -2) / math.sqrt(dh), dim=-1)
        ctx.append(att @ v[..., s])
    return torch.cat(ctx, dim=-1) @ sd[f"{prefix}.out_proj.weight"].T + sd[f"{prefix}.out_proj.bias"]


def _gru_direction(x, sd, suffix, hidden):
    """One GRU direction: r, z, n gates in PyTorch's (r, z, n) weight order; x (B, T, in) -> (B, T, H)."""
    w_ih, w_hh = sd[f"gru.weight_ih_{suffix}"], sd[f"gru.weight_hh_{suffix}"]
    b_ih, b_hh = sd[f"gru.bias_ih_{suffix}"], sd[f"gru.bias_hh_{suffix}"]
    reverse = suffix.endswith("reverse")
    h = torch.zeros(x.shape[0], hidden, dtype=x.dtype)
    out = [None] * x.shape[1]
    for t in reversed(range(x.shape[1])) if reverse else range(x.shape[1]):
        gi, gh = x[:, t] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        r = torch.sigmoid(gi[:, :hidden] + gh[:, :hidden])
        z = torch.sigmoid(gi[:, hidden : 2 * hidden] + gh[:, hidden : 2 * hidden])
        n = torch.tanh(gi[:, 2 * hidden :] + r * gh[:, 2 * hidden :])
        h = (1 - z) * n + z * h
        out[t] = h
    return torch.stack(out, dim=1)


def reference_forward(model: SELDnet, x: torch.Tensor, video: torch.Tensor | None = None) -> torch.Tensor:
    """The baseline's forward in eval mode from ``model.state_dict()``: raw output (B, T', 3, E, 13)."""
    c, sd = model.config, model.state_dict()
    z = x
    for i, (pt, pf) in enumerate(zip(c.t_pools, c.f_pools)):
        p = f"conv_blocks.{i}"
        z = torch.nn.functional.conv2d(z, sd[f"{p}.conv.weight"], sd[f"{p}.conv.bias"], padding=1)
        scale = sd[f"{p}.bn.weight"] / torch.sqrt(sd[f"{p}.bn.running_var"] + 1e-5)
        z = (z - sd[f"{p}.bn.running_mean"][:, None, None]) * scale[:, None, None] + sd[f"{p}.bn.bias"][:, None, None]
        z = torch.nn.functional.max_pool2d(torch.relu(z), (pt, pf))
    b, ch, t, f = z.shape
    z = z.permute(0, 2, 1, 3).reshape(b, t, ch * f)  # (B, T', C·F): channel-major, as the baseline
    for layer in range(c.rnn_layers):
        fwd = _gru_direction(z, sd, f"l{layer}", c.rnn_hidden)
        bwd = _gru_direction(z, sd, f"l{layer}_reverse", c.rnn_hidden)
        z = torch.cat([fwd, bwd], dim=-1)
    z = torch.tanh(z[..., c.rnn_hidden :]) * torch.tanh(z[..., : c.rnn_hidden])
    for i in range(c.n_mhsa):
        z = _layer_norm(z + _attention(z, z, sd, f"mhsa.{i}", c.mhsa_heads), sd[f"norms.{i}.weight"], sd[f"norms.{i}.bias"])
    if video is not None:
        mem = video.reshape(b, t, -1) @ sd["video_embed.weight"].T + sd["video_embed.bias"]
        for i in range(c.fusion_layers):  # post-norm decoder layer: self-attn, cross-attn, ReLU FFN
            p = f"fusion.layers.{i}"
            z = _layer_norm(z + _attention(z, z, sd, f"{p}.self_attn", c.fusion_heads), sd[f"{p}.norm1.weight"], sd[f"{p}.norm1.bias"])
            z = _layer_norm(z + _attention(z, mem, sd, f"{p}.multihead_attn", c.fusion_heads), sd[f"{p}.norm2.weight"], sd[f"{p}.norm2.bias"])
            ffn = torch.relu(z @ sd[f"{p}.linear1.weight"].T + sd[f"{p}.linear1.bias"])
            ffn = ffn @ sd[f"{p}.linear2.weight"].T + sd[f"{p}.linear2.bias"]
            z = _layer_norm(z + ffn, sd[f"{p}.norm3.weight"], sd[f"{p}.norm3.bias"])
    z = z @ sd["fnn.0.weight"].T + sd["fnn.0.bias"]
    z = z @ sd["out.weight"].T + sd["out.bias"]
    return z.view(b, t, c.n_tracks, c.n_elements, c.n_classes)


def _seeded(config: SELDnetConfig, seed: int = 0) -> SELDnet:
    torch.manual_seed(seed)
    model = SELDnet(config).double().eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so that the reference's BN is exercised
        for blk in model.conv_blocks:
            blk.bn.running_mean.copy_(0.1 * torch.randn(blk.bn.running_mean.shape, generator=g))
            blk.bn.running_var.copy_(0.5 + torch.rand(blk.bn.running_var.shape, generator=g))
    return model


def _inputs(b: int = 2, seed: int = 5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 2, 250, 64, generator=g, dtype=torch.float64), torch.rand(b, 50, 7, 7, generator=g, dtype=torch.float64)


# ---------------------------------------------------------------- model


def test_audio_model_matches_reference_and_gains_no_parameters():
    model = _seeded(SELDnetConfig.small_config())
    x, video = _inputs()
    with torch.no_grad():
        out = model(x)
        raw = reference_forward(model, x)
    assert set(out) == {"accdoa"}
    expect = torch.cat([torch.tanh(raw[:, :, :, :2]), torch.relu(raw[:, :, :, 2:3])], dim=3)
    assert torch.allclose(out["accdoa"], expect, atol=1e-10)
    # the audio model's state dict is exactly the pre-AV one (no video / fusion modules)
    conv = [f"conv_blocks.{i}.{m}" for i in range(3) for m in
            ("conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked")]
    gru = [f"gru.{w}_{d}_l{layer}{r}" for layer in range(2) for r in ("", "_reverse") for d in ("ih", "hh") for w in ("weight", "bias")]
    mhsa = [f"mhsa.{i}.{n}" for i in range(2) for n in ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")]
    norms = [f"norms.{i}.{n}" for i in range(2) for n in ("weight", "bias")]
    expected_keys = set(conv + gru + mhsa + norms + ["fnn.0.weight", "fnn.0.bias", "out.weight", "out.bias"])
    assert set(model.state_dict()) == expected_keys
    assert count_parameters(SELDnet(SELDnetConfig())) == 734_261
    with pytest.raises(ValueError, match="audio-only"):
        model(x, video)


def test_av_model_matches_reference_decoder_equations():
    model = _seeded(SELDnetConfig.small_av_config())
    x, video = _inputs()
    with torch.no_grad():
        out = model(x, video)
        raw = reference_forward(model, x, video)
    assert torch.allclose(out["accdoa"][:, :, :, :2], torch.tanh(raw[:, :, :, :2]), atol=1e-10)
    assert torch.allclose(out["accdoa"][:, :, :, 2], torch.relu(raw[:, :, :, 2]), atol=1e-10)
    assert torch.allclose(out["onscreen_logits"], raw[:, :, :, 3], atol=1e-10)
    assert torch.allclose(out["onscreen"], torch.sigmoid(raw[:, :, :, 3]), atol=1e-10)


def test_av_trunk_initialised_as_the_audio_model():
    # the video modules are built after the audio trunk: same seed -> same trunk weights
    torch.manual_seed(0)
    audio = SELDnet(SELDnetConfig.small_config()).state_dict()
    torch.manual_seed(0)
    av = SELDnet(SELDnetConfig.small_av_config()).state_dict()
    trunk = [k for k in audio if k.split(".")[0] in ("conv_blocks", "gru", "mhsa", "norms")]
    assert len(trunk) == 21 + 16 + 8 + 4
    assert all(torch.equal(audio[k], av[k]) for k in trunk)


@pytest.mark.parametrize("n_frames", [250, 251])
def test_av_shapes_and_video_formats(n_frames):
    torch.manual_seed(0)
    model = SELDnet(SELDnetConfig.small_av_config()).eval()
    x = torch.randn(2, 2, n_frames, 64)
    video = torch.rand(2, 50, 7, 7)
    with torch.no_grad():
        out = model(x, video)
        flat = model(x, video.reshape(2, 50, 49))
    assert set(out) == {"accdoa", "onscreen", "onscreen_logits"}
    assert out["accdoa"].shape == (2, 50, 3, 3, 13)
    assert out["onscreen"].shape == out["onscreen_logits"].shape == (2, 50, 3, 13)
    assert out["accdoa"][:, :, :, :2].abs().max() <= 1.0 and (out["accdoa"][:, :, :, 2] >= 0).all()
    assert ((out["onscreen"] > 0) & (out["onscreen"] < 1)).all()
    assert all(torch.equal(out[k], flat[k]) for k in out)


@pytest.mark.parametrize("bad", [None, (2, 50, 48), (2, 50, 7, 6), (1, 50, 7, 7), (2, 49, 7, 7), (2, 50)])
def test_av_video_errors(bad):
    model = SELDnet(SELDnetConfig.small_av_config()).eval()
    video = None if bad is None else torch.rand(bad)
    with pytest.raises(ValueError, match="video"):
        model(torch.randn(2, 2, 250, 64), video)


def test_av_output_layout():
    # flat index = track·52 + element·13 + class with elements (x, y, dist, onscreen)
    model = SELDnet(SELDnetConfig.small_av_config()).eval()
    bias = torch.linspace(-2, 2, 156)
    with torch.no_grad():
        model.out.weight.zero_()
        model.out.bias.copy_(bias)
        out = model(torch.randn(1, 2, 250, 64), torch.rand(1, 50, 49))
    for track, elem, cls in ((0, 0, 0), (1, 1, 4), (2, 2, 12), (2, 0, 7), (1, 2, 3), (0, 3, 5), (2, 3, 12)):
        raw = float(bias[track * 52 + elem * 13 + cls])
        if elem == 3:
            assert float(out["onscreen"][0, 7, track, cls]) == pytest.approx(1 / (1 + math.exp(-raw)), abs=1e-6)
        else:
            expect = math.tanh(raw) if elem < 2 else max(raw, 0.0)
            assert float(out["accdoa"][0, 7, track, elem, cls]) == pytest.approx(expect, abs=1e-6)


def test_av_parameter_count():
    d, ffn, v, out_av, out_a = 128, 2048, 49, 3 * 4 * 13, 3 * 3 * 13

    def linear(a: int, b: int) -> int:
        return a * b + b

    mha = 3 * d * d + 3 * d + linear(d, d)  # packed in-projection + out-projection = 66,048
    decoder_layer = 2 * mha + linear(d, ffn) + linear(ffn, d) + 3 * 2 * d  # + 3 LayerNorms = 659,328
    assert decoder_layer == 659_328
    model = SELDnet(SELDnetConfig.av_config())
    assert count_parameters(model.video_embed) == linear(v, d) == 6_400
    assert [count_parameters(layer) for layer in model.fusion.layers] == [decoder_layer] * 2
    assert count_parameters(model.fusion) == 2 * decoder_layer  # nn.TransformerDecoder has no final norm here
    assert count_parameters(model.out) == linear(128, out_av) == 20_124
    total = count_parameters(model)
    assert total == 734_261 - linear(128, out_a) + linear(v, d) + 2 * decoder_layer + linear(128, out_av) == 2_064_348
    # the official count includes its unused template layer (``self.transformer_decoder_layer``)
    assert total + decoder_layer == 2_723_676


def test_gradient_reaches_video_embed_and_fusion():
    torch.manual_seed(0)
    model = SELDnet(SELDnetConfig.small_av_config()).train()
    x, video = torch.randn(2, 2, 250, 64), torch.rand(2, 50, 7, 7)
    target = torch.zeros(2, 50, 6, 5, 13)
    target[:, :, 0, :, 3] = torch.tensor([1.0, 0.6, 0.8, 2.0, 1.0])
    total, _ = AdpitOnsLoss()(model(x, video), {"adpit": target})
    total.backward()
    for p in (model.video_embed.weight, model.video_embed.bias, model.fusion.layers[0].multihead_attn.in_proj_weight):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


# ---------------------------------------------------------------- loss, by hand

S_A = (0.6, 0.8, 2.0)  # A0: single source, on-screen
S_B0, S_B1 = (1.0, 0.0, 2.0), (0.0, 1.0, 3.0)  # B0 on-screen, B1 off-screen
# the 6 assignments of B; A0A0A0 and every C assignment become B0B0B1 through the pads (A and C are empty)
B_ORDERS = ("B0B0B1", "B0B1B0", "B0B1B1", "B1B0B0", "B1B0B1", "B1B1B0")


def _target(slots: dict[int, tuple[float, float, float, float]], n_classes: int = 2) -> torch.Tensor:
    """(1, 1, 6, 5, C): the given slots (x, y, d, onscreen) active for class 0; other classes empty."""
    y = torch.zeros(1, 1, 6, 5, n_classes, dtype=torch.float64)
    for slot, (x, yy, d, on) in slots.items():
        y[0, 0, slot, :, 0] = torch.tensor([1.0, x, yy, d, on], dtype=torch.float64)
    return y


def _bce(p: np.ndarray, t: np.ndarray) -> float:
    return float(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))))


def _hand_b_case(acc: np.ndarray, ons: np.ndarray) -> tuple[float, float, str]:
    """(MSE_min, BCE of the MSE-argmin order, the order) for the B0/B1 case, by enumeration."""
    vec = {"B0": np.array(S_B0), "B1": np.array(S_B1)}
    on = {"B0": 1.0, "B1": 0.0}
    mses = {o: float(np.mean((acc - np.stack([vec[o[i : i + 2]] for i in (0, 2, 4)])) ** 2)) for o in B_ORDERS}
    best = min(B_ORDERS, key=lambda o: mses[o])
    return mses[best], _bce(ons, np.array([on[best[i : i + 2]] for i in (0, 2, 4)])), best


def test_adpit_onscreen_hand_computed():
    # sample 0: A case; samples 1, 2: B cases; class 1 is empty in all (every target 0). In sample 2 the
    # best order B0B0B1 ties with A0A0A0 and C0C1C2 (padded to B0B0B1): their on-screen targets are padded too
    acc_a = np.array([[0.5, 0.7, 1.5], [0.0, 0.0, 0.0], [0.6, 0.8, 2.5]])
    ons_a = np.array([0.9, 0.2, 0.6])
    acc_b = np.array([[0.1, 0.9, 2.5], [0.9, 0.1, 1.8], [0.2, 0.1, 0.5]])
    ons_b = np.array([0.3, 0.8, 0.4])
    acc_b2 = np.array([[0.8, 0.1, 2.2], [0.9, -0.1, 1.9], [0.1, 0.8, 2.6]])
    ons_b2 = np.array([0.7, 0.6, 0.2])
    acc_e = np.array([[0.1, -0.2, 0.3], [0.0, 0.4, 0.0], [-0.5, 0.0, 1.0]])  # class 1, both samples
    ons_e = np.array([0.1, 0.5, 0.7])

    mse_a = float(np.mean((acc_a - np.array(S_A)) ** 2))  # every candidate is A0A0A0
    bce_a = _bce(ons_a, np.ones(3))
    mse_b, bce_b, order = _hand_b_case(acc_b, ons_b)
    assert order == "B1B0B0"
    mse_b2, bce_b2, order = _hand_b_case(acc_b2, ons_b2)
    assert order == "B0B0B1"
    mse_e, bce_e = float(np.mean(acc_e**2)), _bce(ons_e, np.zeros(3))
    exp_mse = [(mse_a + mse_e) / 2, (mse_b + mse_e) / 2, (mse_b2 + mse_e) / 2]
    exp_bce = [(bce_a + bce_e) / 2, (bce_b + bce_e) / 2, (bce_b2 + bce_e) / 2]

    accdoa = torch.zeros(3, 1, 3, 3, 2, dtype=torch.float64)
    onscreen = torch.zeros(3, 1, 3, 2, dtype=torch.float64)
    for i, (a, o) in enumerate(((acc_a, ons_a), (acc_b, ons_b), (acc_b2, ons_b2))):
        accdoa[i, 0, :, :, 0], onscreen[i, 0, :, 0] = torch.from_numpy(a), torch.from_numpy(o)
        accdoa[i, 0, :, :, 1], onscreen[i, 0, :, 1] = torch.from_numpy(acc_e), torch.from_numpy(ons_e)
    target_b = _target({1: (*S_B0, 1.0), 2: (*S_B1, 0.0)})
    target = torch.cat([_target({0: (*S_A, 1.0)}), target_b, target_b])
    expected = [m + b for m, b in zip(exp_mse, exp_bce)]

    per = adpit_onscreen_per_sample(accdoa, onscreen, target)
    assert per.tolist() == pytest.approx(expected, rel=1e-12)
    logits = torch.log(onscreen / (1 - onscreen))
    per_logits = adpit_onscreen_per_sample(accdoa, logits, target, from_logits=True)
    assert per_logits.tolist() == pytest.approx(expected, rel=1e-9)

    loss = AdpitOnsLoss(reduction="none")
    for pred in ({"accdoa": accdoa, "onscreen": onscreen}, {"accdoa": accdoa, "onscreen_logits": logits, "onscreen": onscreen}):
        total, parts = loss(pred, {"adpit": target})
        assert total.tolist() == pytest.approx(expected, rel=1e-9)
        assert set(parts) == {"adpit", "onscreen", "total"}
        assert parts["adpit"] == pytest.approx(np.mean(exp_mse), rel=1e-9)
        assert parts["onscreen"] == pytest.approx(np.mean(exp_bce), rel=1e-9)
        assert parts["total"] == pytest.approx(np.mean(expected), rel=1e-9)


def test_onscreen_bce_uses_the_mse_argmin_assignment():
    # ACCDOA exactly B1 B0 B0, on-screen outputs fitting B0 B0 B1's flags (1, 1, 0) instead
    acc = np.array([S_B1, S_B0, S_B0])
    ons = np.array([0.99, 0.99, 0.01])
    mse, bce, order = _hand_b_case(acc, ons)
    assert (mse, order) == (0.0, "B1B0B0")
    on = {"B0": 1.0, "B1": 0.0}
    bce_best_order = min(_bce(ons, np.array([on[o[i : i + 2]] for i in (0, 2, 4)])) for o in B_ORDERS)
    assert bce > 100 * bce_best_order  # another assignment would give a far lower BCE
    accdoa = torch.from_numpy(acc).reshape(1, 1, 3, 3, 1)
    onscreen = torch.from_numpy(ons).reshape(1, 1, 3, 1)
    target = _target({1: (*S_B0, 1.0), 2: (*S_B1, 0.0)}, n_classes=1)
    total, parts = AdpitOnsLoss()({"accdoa": accdoa, "onscreen": onscreen}, {"adpit": target})
    assert parts["adpit"] == 0.0
    assert float(total) == pytest.approx(bce, rel=1e-12)


def test_adpit_onscreen_input_errors_and_registry():
    accdoa, onscreen = torch.zeros(1, 1, 3, 3, 13), torch.full((1, 1, 3, 13), 0.5)
    with pytest.raises(ValueError, match="on-screen ADPIT target"):
        adpit_onscreen_per_sample(accdoa, onscreen, torch.zeros(1, 1, 6, 4, 13))
    with pytest.raises(ValueError, match="onscreen must be"):
        adpit_onscreen_per_sample(accdoa, onscreen[:, :, :2], torch.zeros(1, 1, 6, 5, 13))
    # all empty: MSE 0, BCE −log(0.5) on every track and class
    assert float(adpit_onscreen_per_sample(accdoa, onscreen, torch.zeros(1, 1, 6, 5, 13))) == pytest.approx(math.log(2))
    assert LOSSES["AdpitOnsLoss"] is AdpitOnsLoss
    assert isinstance(build_loss("seldnet_av"), AdpitOnsLoss)
