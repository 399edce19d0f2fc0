"""Teacher–student distillation (seldlib.distillation): the Bernoulli KL, the masked SCE term, the frozen
teacher, and a student that learns from the distillation term alone."""

from __future__ import annotations

import math

import pytest
import torch

from seldlib.distillation import Teacher, bernoulli_kl_per_sample, distillation_terms
from seldlib.models import build_model

TINY_AUDIO = {"preset": "small", "resnet_channels": [4, 4, 4, 4], "d_model": 16, "n_heads": 2, "dim_head": 8,
              "n_blocks": 2, "head_hidden": 16}
TINY_AV = {"preset": "small", "resnet_channels": [2, 2, 2, 2], "d_model": 8, "n_heads": 1, "dim_head": 8,
           "head_hidden": 8}


def test_bernoulli_kl_hand_computed():
    p = torch.tensor([[0.9, 0.2]])
    q = torch.tensor([[0.6, 0.5]])
    kl = [a * math.log(a / b) + (1 - a) * math.log((1 - a) / (1 - b)) for a, b in ((0.9, 0.6), (0.2, 0.5))]
    assert float(bernoulli_kl_per_sample(p, q)) == pytest.approx(sum(kl) / 2, rel=1e-6)
    assert float(bernoulli_kl_per_sample(p, p)) == pytest.approx(0.0, abs=1e-7)
    # certain targets stay finite (eps = 1e-7)
    assert math.isfinite(float(bernoulli_kl_per_sample(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]))))


W = {"sed": 0.1, "sce": 2.0, "dir": 0.5, "dist": 4.0}


def test_sce_terms_are_masked_by_the_teacher_posteriors():
    # class 0: student at (1, 1) (45°, √2 m), teacher at (3, 0) (0°, 3 m), p_T = 0.5; class 1 masked (p_T = 0)
    student = {"sed": torch.full((1, 1, 2), 0.5), "sce": torch.tensor([[[[1.0, 1.0], [5.0, 5.0]]]])}
    teacher = {"sed": torch.tensor([[[0.5, 0.0]]]), "sce": torch.tensor([[[[3.0, 0.0], [0.0, 0.0]]]])}
    terms = distillation_terms(student, teacher, W, ts_weight=3.0, ts_hidden_weight=0.0)
    # positions: ((0.5·1 − 0.5·3)² + (0.5·1 − 0)²) / 4 elements
    assert float(terms["kd_sce"][1]) == pytest.approx((1.0 + 0.25) / 4)
    # directions: unit (0.7071, 0.7071) against (1, 0), masked by 0.5: ((0.5·0.7071 − 0.5)² + (0.5·0.7071)²) / 4
    u = 1 / math.sqrt(2)
    assert float(terms["kd_dir"][1]) == pytest.approx(((0.5 * u - 0.5) ** 2 + (0.5 * u) ** 2) / 4, rel=1e-4)
    # distance: (0.5·(√2 − 3)/3)² over the 2 class-frames
    assert float(terms["kd_dist"][1]) == pytest.approx((0.5 * (math.sqrt(2) - 3) / 3) ** 2 / 2, rel=1e-4)
    assert {k: w for k, (w, _) in terms.items()} == {"kd_sed": pytest.approx(0.3), "kd_sce": 6.0, "kd_dir": 1.5,
                                                     "kd_dist": 12.0}


def test_hidden_term_needs_equal_shapes():
    s = {"sed": torch.rand(1, 50, 13), "sce": torch.zeros(1, 50, 13, 2), "hidden": torch.zeros(1, 251, 16)}
    t = {**s, "hidden": torch.zeros(1, 251, 32)}
    with pytest.raises(ValueError, match="equal shapes"):
        distillation_terms(s, t, W, 1.0, 0.5)
    ok = distillation_terms(s, {**s, "hidden": torch.ones(1, 251, 16)}, W, 1.0, 0.5)
    assert ok["kd_hidden"] == (0.5, pytest.approx(torch.ones(1)))


def test_teacher_is_frozen_and_only_sed_sce_can_teach():
    torch.manual_seed(0)
    net = build_model("sed_sce", TINY_AUDIO)
    teacher = Teacher(net.train(), "sed_sce")
    assert not net.training and all(not p.requires_grad for p in net.parameters())
    x = torch.randn(2, 2, 251, 64)
    a, b = teacher(x), teacher(x)
    assert set(a) == {"sed", "sce", "hidden"} and torch.equal(a["sed"], b["sed"])  # eval mode: no dropout
    with pytest.raises(ValueError, match="cannot teach"):
        Teacher(build_model("sed_doa", TINY_AUDIO), "sed_doa")


def test_student_trained_on_the_distillation_term_alone_moves_toward_the_teacher():
    torch.manual_seed(1)
    teacher = Teacher(build_model("sed_sce", TINY_AUDIO), "sed_sce")
    torch.manual_seed(2)
    student = build_model("av_ts_sed_sce_ons", TINY_AV)
    g = torch.Generator().manual_seed(3)
    x, v = torch.randn(2, 2, 251, 64, generator=g), torch.randn(2, 50, 7, 7, generator=g)
    soft = teacher(x)

    def gap() -> tuple[float, float]:
        student.eval()
        with torch.no_grad():
            out = student(x, v)
        student.train()
        return float((out["sed"] - soft["sed"]).abs().mean()), float((out["sce"] - soft["sce"]).abs().mean())

    before = gap()
    opt = torch.optim.Adam(student.parameters(), lr=1e-2)
    for _ in range(20):
        out = student(x, v)
        kd = distillation_terms(out, soft, {"sed": 1.0, "sce": 0.0, "dir": 1.0, "dist": 1.0}, ts_weight=1.0,
                                ts_hidden_weight=0.0)
        loss = sum(w * t.mean() for w, t in kd.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = gap()
    assert after[0] < 0.5 * before[0], (before, after)  # SED posteriors approach the teacher's
    assert after[1] < before[1], (before, after)  # and so do the positions
