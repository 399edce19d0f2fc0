"""Cross-modal teacher–student distillation for the audio-visual student (NERC-SLIP report, section 2.2;
Jiang et al., "Exploring audio-visual information fusion for sound event localization and detection in
low-resource realistic scenarios", ICME 2024, arXiv 2406.15160; ``docs/training.md#distillation``).

The teacher is an audio-only SED-SCE model trained on all audio (every augmentation); the student is
MVANet trained on the audio-visual clips only. The teacher runs frozen, in eval mode, on the *same*
augmented batch the student sees (channel swap, mixup), so that its soft targets always describe the
student's input. Per sample, with teacher posteriors ``p_T``, student posteriors ``p_S``:

    KD = λ · (w_sed · BKL(p_T ‖ p_S) + SCE terms of sce_S against sce_T, masked by p_T)
       + ts_hidden_weight · MSE(hidden_S, hidden_T)

``BKL(p ‖ q) = mean[p log(p/q) + (1 − p) log((1 − p)/(1 − q))]`` (ε = 1e-7), no temperature, as the
NERC-SLIP group's streaming-SELD distillation (``Cache_Aware_Streaming_SELD``, ``utils/sed_doa.py``);
``λ`` is ``ts_weight``; the SCE terms are the student's own (``seldlib.losses.sce_terms``: position
MSE, direction MSE, distance MSPE) with the teacher's positions as reference and its posteriors as the
(soft) mask, and every response term carries the weight of the matching task term. The hidden term compares the final audio-path Conformer outputs
``(B, T, d)`` of both networks. The on-screen head has no teacher counterpart: it learns from the
reference only.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from seldlib.kinds import get_kind
from seldlib.losses import sce_terms

__all__ = ["BKL_EPS", "Teacher", "bernoulli_kl_per_sample", "distillation_terms"]

BKL_EPS = 1e-7


def bernoulli_kl_per_sample(p: Tensor, q: Tensor, eps: float = BKL_EPS) -> Tensor:
    """Mean Bernoulli KL divergence ``KL(p ‖ q)`` over all elements but the first axis.

    Args:
        p: ``(B, ...)`` target probabilities (the teacher's).
        q: ``(B, ...)`` estimated probabilities (the student's).

    Returns:
        ``(B,)``.
    """
    p = p.clamp(eps, 1 - eps)
    q = q.clamp(eps, 1 - eps)
    kl = p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()
    return kl.flatten(1).mean(dim=1)


def distillation_terms(student: dict[str, Tensor], teacher: dict[str, Tensor], weights: Mapping[str, float],
                       ts_weight: float, ts_hidden_weight: float) -> dict[str, tuple[float, Tensor]]:
    """The distillation terms of one batch, ``name -> (weight, (B,) unweighted term)``: ``kd_sed``,
    ``kd_sce``, ``kd_dir``, ``kd_dist`` (and ``kd_hidden``).

    Args:
        student: the student's outputs: ``sed (B, 50, 13)``, ``sce (B, 50, 13, 2)``, ``hidden (B, T, d)``.
        teacher: the teacher's outputs, the same keys (computed without gradient).
        weights: the student's task-loss weights ``sed``, ``sce``, ``dir``, ``dist``.
        ts_weight: λ, the weight of the response terms; ``ts_hidden_weight``: of the hidden-state term
            (left out at 0).
    """
    p_t = teacher["sed"].detach()
    terms = {"kd_sed": (ts_weight * weights["sed"], bernoulli_kl_per_sample(p_t, student["sed"]))}
    for name, (w, term) in sce_terms(student["sce"], teacher["sce"].detach(), p_t, weights["sce"],
                                     weights["dir"], weights["dist"]).items():
        terms[f"kd_{name}"] = (ts_weight * w, term)
    if ts_hidden_weight:
        h_s, h_t = student["hidden"], teacher["hidden"].detach()
        if h_s.shape != h_t.shape:
            raise ValueError(f"hidden-state distillation needs equal shapes: student {tuple(h_s.shape)}, "
                             f"teacher {tuple(h_t.shape)}")
        terms["kd_hidden"] = (ts_hidden_weight, ((h_s - h_t) ** 2).flatten(1).mean(dim=1))
    return terms


class Teacher:
    """A frozen audio-only model whose outputs are the soft targets of the student.

    Args:
        model: a trained network of kind ``kind`` (e.g. loaded with ``seldlib.checkpoint.load_checkpoint``).
        kind: its kind; it must predict ``sed`` and ``sce`` (SED-SCE).
    """

    def __init__(self, model: nn.Module, kind: str) -> None:
        keys = set(get_kind(kind).outputs)
        if not {"sed", "sce"} <= keys:
            raise ValueError(f"a {kind} model cannot teach an SED-SCE student (it predicts {sorted(keys)})")
        self.model, self.kind = model.eval(), kind
        for p in self.model.parameters():
            p.requires_grad_(False)

    def to(self, device: torch.device) -> "Teacher":
        self.model.to(device)
        return self

    @torch.no_grad()
    def __call__(self, features: Tensor) -> dict[str, Tensor]:
        """Outputs on ``features (B, 2, T, 64)``: ``sed``, ``sce`` and ``hidden``, float32."""
        self.model.eval()  # dropout off and batch-norm statistics frozen, whatever the caller did
        return {k: v.float() for k, v in self.model(features).items() if k in ("sed", "sce", "hidden")}
