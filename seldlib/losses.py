"""Training losses for the Track A models (NERC-SLIP report, section 1.2; ADPIT as ``loss.py`` of
``partha2409/DCASE2025_seld_baseline``; ``docs/networks.md#losses``, ``docs/networks.md#adpit-loss``).

Every loss is called as ``loss(pred, target) -> (total, parts)``:

- ``pred`` is the model's output dict, ``target`` the label dict of a batch (see ``seldlib.labels``);
- ``total`` is a scalar (``reduction="mean"``) or a ``(B,)`` tensor of per-sample losses
  (``reduction="none"``), so that mixup can weight each sample's loss against each of its two targets;
- ``parts`` maps each *unweighted* term name, and ``"total"``, to its batch mean as a Python float.

Every term is a mean over all its elements (frames × classes [× coordinates]); inactive class-frames
contribute 0 to the masked terms but still count in the denominator, exactly as the NERC-SLIP code.
Because every sample has the same number of elements, the batch mean of the per-sample losses equals the
mean over all ``B·T·13·k`` elements.
"""

from __future__ import annotations

import abc
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ADPIT_PERMUTATIONS",
    "SedDoaLoss",
    "SedSdeLoss",
    "SedSceLoss",
    "AdpitLoss",
    "build_loss",
    "sed_bce_per_sample",
    "masked_mse_per_sample",
    "mspe_per_sample",
    "adpit_per_sample",
]

_REDUCTIONS = ("mean", "none")

# MSPE denominator guard, added out of place (the reference adds it to the label tensor in place).
MSPE_EPS = 1e-8


def sed_bce_per_sample(pred: dict[str, Tensor], sed_target: Tensor) -> Tensor:
    """Binary cross-entropy of the SED output, averaged over frames and classes.

    Uses ``pred["sed_logits"]`` when present (numerically stable), else the probabilities ``pred["sed"]``.

    Args:
        pred: model output with ``"sed_logits"`` and/or ``"sed"``, each ``(B, T, C)``.
        sed_target: ``(B, T, C)`` in [0, 1].

    Returns:
        ``(B,)`` per-sample BCE.
    """
    if "sed_logits" in pred:
        bce = F.binary_cross_entropy_with_logits(pred["sed_logits"], sed_target, reduction="none")
    else:
        bce = F.binary_cross_entropy(pred["sed"], sed_target, reduction="none")
    return bce.flatten(1).mean(dim=1)


def masked_mse_per_sample(est: Tensor, ref: Tensor, act: Tensor) -> Tensor:
    """Activity-masked MSE: mean over all elements of ``(act·est − act·ref)²``.

    Args:
        est: ``(B, T, C, K)`` estimates (K = 2 coordinates).
        ref: ``(B, T, C, K)`` targets (already 0 where inactive; masked again for safety).
        act: ``(B, T, C)`` activity in {0, 1}.

    Returns:
        ``(B,)`` per-sample MSE, averaged over ``T·C·K`` elements (inactive ones count as 0).
    """
    a = act.unsqueeze(-1)
    return ((est * a - ref * a) ** 2).flatten(1).mean(dim=1)


def mspe_per_sample(dist_est: Tensor, dist_ref: Tensor, act: Tensor, eps: float = MSPE_EPS) -> Tensor:
    """Mean squared percentage error of distance: mean over (t, c) of ``[act·(d̂ − d)/(d + eps)]²``.

    Inactive entries contribute 0 but count in the mean (as the NERC-SLIP ``SedDistLoss_2024_MSPE``).

    Args:
        dist_est: ``(B, T, C)`` estimated distance, metres.
        dist_ref: ``(B, T, C)`` reference distance, metres (0 where inactive).
        act: ``(B, T, C)`` activity in {0, 1}.

    Returns:
        ``(B,)`` per-sample MSPE.
    """
    ratio = act * (dist_est - dist_ref) / (dist_ref + eps)
    return (ratio**2).flatten(1).mean(dim=1)


# Dummy-track slots of the ADPIT target: A0=0, B0=1, B1=2, C0=3, C1=4, C2=5.
# 13 track assignments in the order of the baseline loss: A0A0A0, 6 of {B0,B1}, 6 of {C0,C1,C2}.
ADPIT_PERMUTATIONS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (1, 1, 2), (1, 2, 1), (1, 2, 2), (2, 1, 1), (2, 1, 2), (2, 2, 1),
    (3, 4, 5), (3, 5, 4), (4, 3, 5), (4, 5, 3), (5, 3, 4), (5, 4, 3),
)  # fmt: skip
_GROUP_CANONICAL = {"A": (0, 0, 0), "B": (1, 1, 2), "C": (3, 4, 5)}


def _group(perm: tuple[int, int, int]) -> str:
    return "A" if perm[0] == 0 else ("B" if perm[0] in (1, 2) else "C")


def adpit_per_sample(accdoa: Tensor, adpit: Tensor) -> Tensor:
    """Multi-ACCDOA ADPIT loss with distance (Track A: the onscreen element is ignored).

    For every (b, t, c) and each of the 13 track assignments, the candidate target is the assigned
    group's slots plus "pads" made of the other two groups' canonical orderings (only one group is
    non-zero for a class-frame, so the pads never alter the true configuration). The loss is the MSE
    over the 9 values (3 tracks × (act·x, act·y, act·d)); the minimum over assignments is taken and
    then averaged over frames and classes.

    Args:
        accdoa: ``(B, T, 3, 3, C)`` predictions, element axis (x, y, dist).
        adpit: ``(B, T, 6, E, C)`` targets with E ≥ 4, element axis (act, x, y, dist[, onscreen]).

    Returns:
        ``(B,)`` per-sample loss.
    """
    if accdoa.shape[2:4] != (3, 3):
        raise ValueError(f"accdoa must be (B, T, 3, 3, C), got {tuple(accdoa.shape)}")
    if adpit.shape[2] != 6 or adpit.shape[3] < 4:
        raise ValueError(f"adpit target must be (B, T, 6, >=4, C), got {tuple(adpit.shape)}")
    slots = adpit[:, :, :, 0:1] * adpit[:, :, :, 1:4]  # (B, T, 6, 3, C): act·(x, y, d)

    def tracks(perm: tuple[int, int, int]) -> Tensor:
        return slots[:, :, list(perm)]  # (B, T, 3, 3, C)

    canon = {g: tracks(p) for g, p in _GROUP_CANONICAL.items()}
    losses = []
    for perm in ADPIT_PERMUTATIONS:
        g = _group(perm)
        target = tracks(perm) + sum(canon[o] for o in "ABC" if o != g)
        losses.append(((accdoa - target) ** 2).mean(dim=(2, 3)))  # (B, T, C)
    # min over assignments == the baseline's argmin selection (same value, gradient through the argmin)
    best = torch.stack(losses, dim=0).min(dim=0).values
    return best.flatten(1).mean(dim=1)


class _SeldLoss(nn.Module, abc.ABC):
    """Common call/reduction logic; subclasses implement :meth:`terms`."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    @abc.abstractmethod
    def terms(self, pred: dict[str, Tensor], target: dict[str, Tensor]) -> dict[str, tuple[float, Tensor]]:
        """``name -> (weight, (B,) per-sample unweighted term)``."""

    def forward(
        self, pred: dict[str, Tensor], target: dict[str, Tensor], reduction: str | None = None
    ) -> tuple[Tensor, dict[str, float]]:
        """Compute the loss.

        Args:
            pred: model output dict.
            target: label dict.
            reduction: overrides the constructor's ``reduction`` ("mean" → scalar, "none" → ``(B,)``).

        Returns:
            ``(total, parts)``; ``parts`` holds the unweighted batch-mean of each term and ``"total"``.
        """
        reduction = reduction or self.reduction
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        terms = self.terms(pred, target)
        per_sample = sum(w * t for w, t in terms.values())
        assert isinstance(per_sample, Tensor)
        parts = {name: float(t.detach().mean()) for name, (_, t) in terms.items()}
        parts["total"] = float(per_sample.detach().mean())
        total = per_sample if reduction == "none" else per_sample.mean()
        return total, parts


class SedDoaLoss(_SeldLoss):
    """``w_sed·BCE(sed) + w_doa·MSE(doa ⊙ act, doa*)``; NERC-SLIP weights 0.1 / 1.0.

    Uses ``pred["sed_logits"|"sed"]`` ``(B,T,13)``, ``pred["doa"]`` ``(B,T,13,2)``,
    ``target["sed"]`` ``(B,T,13)`` and ``target["doa"]`` ``(B,T,13,2)``. Parts: "sed", "doa", "total".
    """

    def __init__(self, w_sed: float = 0.1, w_doa: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.w_sed, self.w_doa = float(w_sed), float(w_doa)

    def terms(self, pred: dict[str, Tensor], target: dict[str, Tensor]) -> dict[str, tuple[float, Tensor]]:
        act = target["sed"]
        return {
            "sed": (self.w_sed, sed_bce_per_sample(pred, act)),
            "doa": (self.w_doa, masked_mse_per_sample(pred["doa"], target["doa"], act)),
        }


class SedSdeLoss(_SeldLoss):
    """``w_sed·BCE(sed) + w_dist·MSPE(dist)``; NERC-SLIP weights 0.1 / 1.0.

    Uses ``pred["dist"]`` and ``target["dist"]`` ``(B,T,13)`` in metres. Parts: "sed", "dist", "total".
    """

    def __init__(self, w_sed: float = 0.1, w_dist: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.w_sed, self.w_dist = float(w_sed), float(w_dist)

    def terms(self, pred: dict[str, Tensor], target: dict[str, Tensor]) -> dict[str, tuple[float, Tensor]]:
        act = target["sed"]
        return {
            "sed": (self.w_sed, sed_bce_per_sample(pred, act)),
            "dist": (self.w_dist, mspe_per_sample(pred["dist"], target["dist"], act)),
        }


class SedSceLoss(_SeldLoss):
    """``w_sed·BCE(sed) + w_sce·MSE(sce ⊙ act, sce*)``; MVANet weights 1 / 2.

    Uses ``pred["sce"]`` and ``target["sce"]`` ``(B,T,13,2)`` in metres. Parts: "sed", "sce", "total".
    """

    def __init__(self, w_sed: float = 1.0, w_sce: float = 2.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.w_sed, self.w_sce = float(w_sed), float(w_sce)

    def terms(self, pred: dict[str, Tensor], target: dict[str, Tensor]) -> dict[str, tuple[float, Tensor]]:
        act = target["sed"]
        return {
            "sed": (self.w_sed, sed_bce_per_sample(pred, act)),
            "sce": (self.w_sce, masked_mse_per_sample(pred["sce"], target["sce"], act)),
        }


class AdpitLoss(_SeldLoss):
    """Baseline multi-ACCDOA ADPIT loss: ``pred["accdoa"]`` ``(B,T,3,3,13)`` vs ``target["adpit"]``
    ``(B,T,6,5,13)``. Parts: "adpit", "total"."""

    def terms(self, pred: dict[str, Tensor], target: dict[str, Tensor]) -> dict[str, tuple[float, Tensor]]:
        return {"adpit": (1.0, adpit_per_sample(pred["accdoa"], target["adpit"]))}


# ``KindSpec.loss`` names one of these
LOSSES: dict[str, type[_SeldLoss]] = {cls.__name__: cls for cls in (SedDoaLoss, SedSdeLoss, SedSceLoss, AdpitLoss)}


def build_loss(kind: str, weights: dict[str, Any] | None = None, reduction: str = "mean") -> _SeldLoss:
    """Build the loss of a model kind (its class and allowed weights come from ``seldlib.kinds``).

    Args:
        kind: a kind of ``seldlib.kinds.KINDS``.
        weights: term weights, keyed with or without the ``w_`` prefix, e.g. ``{"sed": 0.1, "doa": 1.0}``;
            missing weights take the class defaults (the paper values).
        reduction: "mean" or "none".
    """
    from seldlib.kinds import get_kind

    spec = get_kind(kind)
    allowed = tuple(f"w_{name}" for name in spec.loss_weights)
    kwargs: dict[str, float] = {}
    for key, value in (weights or {}).items():
        name = key if key.startswith("w_") else f"w_{key}"
        if name not in allowed:
            raise ValueError(f"unknown weight {key!r} for loss {kind!r}; allowed: {list(spec.loss_weights)}")
        kwargs[name] = float(value)
    return LOSSES[spec.loss](reduction=reduction, **kwargs)
