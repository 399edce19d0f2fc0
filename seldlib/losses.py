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
    "sce_terms",
    "sce_direction_per_sample",
    "SedSceOnsLoss",
    "AdpitLoss",
    "build_loss",
    "sed_bce_per_sample",
    "masked_mse_per_sample",
    "masked_bce_per_sample",
    "mspe_per_sample",
    "adpit_per_sample",
    "AdpitOnsLoss",
    "adpit_onscreen_per_sample",
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
    # min over assignments == the baseline's argmin selection (same value, gradient through the argmin)
    best = _adpit_permutation_mse(accdoa, adpit).min(dim=0).values
    return best.flatten(1).mean(dim=1)


def _adpit_candidates(slots: Tensor) -> list[Tensor]:
    """The 13 candidate track targets, pads included: ``(B, T, 6, K, C)`` slot values → 13 × ``(B, T, 3, K, C)``."""

    def tracks(perm: tuple[int, int, int]) -> Tensor:
        return slots[:, :, list(perm)]

    canon = {g: tracks(p) for g, p in _GROUP_CANONICAL.items()}
    return [tracks(perm) + sum(canon[o] for o in "ABC" if o != _group(perm)) for perm in ADPIT_PERMUTATIONS]


def _adpit_permutation_mse(accdoa: Tensor, adpit: Tensor) -> Tensor:
    """ADPIT MSE over the 9 values of each candidate: ``(B, T, 3, 3, C)``, ``(B, T, 6, ≥4, C)`` → ``(13, B, T, C)``."""
    if accdoa.shape[2:4] != (3, 3):
        raise ValueError(f"accdoa must be (B, T, 3, 3, C), got {tuple(accdoa.shape)}")
    if adpit.shape[2] != 6 or adpit.shape[3] < 4:
        raise ValueError(f"adpit target must be (B, T, 6, >=4, C), got {tuple(adpit.shape)}")
    slots = adpit[:, :, :, 0:1] * adpit[:, :, :, 1:4]  # (B, T, 6, 3, C): act·(x, y, d)
    return torch.stack([((accdoa - target) ** 2).mean(dim=(2, 3)) for target in _adpit_candidates(slots)], dim=0)


def _adpit_onscreen_terms(
    accdoa: Tensor, onscreen: Tensor, adpit: Tensor, from_logits: bool = False
) -> tuple[Tensor, Tensor]:
    """Per-sample ``(MSE_min, BCE)`` of :func:`adpit_onscreen_per_sample`, each ``(B,)``."""
    if adpit.shape[3] < 5:
        raise ValueError(f"the on-screen ADPIT target must be (B, T, 6, 5, C), got {tuple(adpit.shape)}")
    if onscreen.shape != accdoa.shape[:3] + accdoa.shape[4:]:
        raise ValueError(f"onscreen must be (B, T, 3, C) as accdoa {tuple(accdoa.shape)}, got {tuple(onscreen.shape)}")
    best, idx = _adpit_permutation_mse(accdoa, adpit).min(dim=0)  # (B, T, C) each
    # the same assignment's on-screen targets (raw element 4, padded as the MSE targets; 0 when inactive)
    candidates = torch.stack(_adpit_candidates(adpit[:, :, :, 4]), dim=0)  # (13, B, T, 3, C)
    gather = idx.unsqueeze(0).unsqueeze(3).expand(1, -1, -1, 3, -1)
    target = candidates.gather(0, gather).squeeze(0)  # (B, T, 3, C)
    if from_logits:
        bce = F.binary_cross_entropy_with_logits(onscreen, target, reduction="none")
    else:
        bce = F.binary_cross_entropy(onscreen, target, reduction="none")
    return best.flatten(1).mean(dim=1), bce.mean(dim=2).flatten(1).mean(dim=1)


def adpit_onscreen_per_sample(accdoa: Tensor, onscreen: Tensor, adpit: Tensor, from_logits: bool = False) -> Tensor:
    """Audio-visual ADPIT loss (``SELDLossADPIT`` of the baseline's ``loss.py`` with ``modality='audio_visual'``).

    The assignment is the argmin of the ACCDOA+distance MSE of :func:`adpit_per_sample` alone; the BCE
    between the on-screen outputs and *that* assignment's on-screen targets (element 4, padded by the other
    groups like the MSE targets, so 0 on inactive tracks), averaged over the 3 tracks, is added:
    per sample, the mean over frames and classes of ``MSE_min + BCE``.

    Args:
        accdoa: ``(B, T, 3, 3, C)`` predictions, element axis (x, y, dist).
        onscreen: ``(B, T, 3, C)`` on-screen probabilities, or logits with ``from_logits`` (same value,
            numerically stable; torch's BCE clamps log at −100, so the two differ only when saturated).
        adpit: ``(B, T, 6, 5, C)`` targets, element axis (act, x, y, dist, onscreen).

    Returns:
        ``(B,)`` per-sample loss.
    """
    mse, bce = _adpit_onscreen_terms(accdoa, onscreen, adpit, from_logits)
    return mse + bce


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


# Norm guard of the SCE direction and distance terms (metres): a zero-length prediction gets a finite
# unit vector and gradient (at most 1/SCE_NORM_EPS), and a norm biased by under 1 µm at 1 m.
SCE_NORM_EPS = 1e-3


def _guarded_norm(vec: Tensor, eps: float = SCE_NORM_EPS) -> Tensor:
    """``sqrt(|v|² + eps²)`` over the last axis: ``(..., 2) -> (...)``, smooth at 0."""
    return torch.sqrt((vec**2).sum(dim=-1) + eps * eps)


def sce_direction_per_sample(sce_est: Tensor, sce_ref: Tensor, act: Tensor, eps: float = SCE_NORM_EPS) -> Tensor:
    """Direction error of Cartesian positions: activity-masked MSE of the unit vectors, the SED-DOA term
    (:class:`SedDoaLoss`) on the directions of ``sce_est``; blind to both lengths.

    Args:
        sce_est: ``(B, T, C, 2)`` estimated positions, metres (any length).
        sce_ref: ``(B, T, C, 2)`` reference positions, metres (0 where inactive).
        act: ``(B, T, C)`` activity in {0, 1}.

    Returns:
        ``(B,)`` per-sample MSE over ``T·C·2`` elements (inactive ones count as 0).
    """
    unit_est = sce_est / _guarded_norm(sce_est, eps).unsqueeze(-1)
    unit_ref = sce_ref / (torch.linalg.vector_norm(sce_ref, dim=-1, keepdim=True) + MSPE_EPS)  # 0 where inactive
    return masked_mse_per_sample(unit_est, unit_ref, act)


def sce_terms(pred_sce: Tensor, target_sce: Tensor, act: Tensor, w_sce: float, w_dir: float = 0.0,
              w_dist: float = 0.0) -> dict[str, tuple[float, Tensor]]:
    """The loss terms of a source-Cartesian-coordinate (SCE) output, ``name -> (weight, (B,) term)``.

    - ``"sce"``: the MVANet regression, masked MSE of the positions in metres (:func:`masked_mse_per_sample`);
      its direction part is weighed by ``d·|ŝ|``, and the distance error dominates it;
    - ``"dir"``: the direction error alone (:func:`sce_direction_per_sample`);
    - ``"dist"``: MSPE of the norm against the reference distance (:func:`mspe_per_sample`, as SED-SDE).

    With ``w_dir = w_dist = 0`` the sum is exactly the MVANet term ``w_sce·MSE``. See
    ``docs/networks.md`` (SED-SCE loss).

    Args:
        pred_sce: ``(B, T, C, 2)`` predicted positions, metres.
        target_sce: ``(B, T, C, 2)`` reference positions, metres (0 where inactive).
        act: ``(B, T, C)`` reference activity in {0, 1}.
    """
    return {
        "sce": (float(w_sce), masked_mse_per_sample(pred_sce, target_sce, act)),
        "dir": (float(w_dir), sce_direction_per_sample(pred_sce, target_sce, act)),
        "dist": (float(w_dist), mspe_per_sample(_guarded_norm(pred_sce), torch.linalg.vector_norm(target_sce, dim=-1), act)),
    }


class SedSceLoss(_SeldLoss):
    """``w_sed·BCE(sed) + w_sce·MSE(sce ⊙ act, sce*) + w_dir·MSE(dir) + w_dist·MSPE(|sce|)`` (:func:`sce_terms`);
    MVANet weights 1 / 2 / 0 / 0.

    Uses ``pred["sce"]`` and ``target["sce"]`` ``(B,T,13,2)`` in metres. Parts: "sed", "sce", "dir",
    "dist", "total" (every term is logged, weighted 0 or not).
    """

    def __init__(self, w_sed: float = 1.0, w_sce: float = 2.0, w_dir: float = 0.0, w_dist: float = 0.0,
                 reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.w_sed, self.w_sce, self.w_dir, self.w_dist = float(w_sed), float(w_sce), float(w_dir), float(w_dist)

    def terms(self, pred: dict[str, Tensor], target: dict[str, Tensor]) -> dict[str, tuple[float, Tensor]]:
        act = target["sed"]
        return {"sed": (self.w_sed, sed_bce_per_sample(pred, act)),
                **sce_terms(pred["sce"], target["sce"], act, self.w_sce, self.w_dir, self.w_dist)}


def masked_bce_per_sample(logits: Tensor, target: Tensor, act: Tensor) -> Tensor:
    """Activity-masked binary cross-entropy: mean over all elements of ``act · BCE(σ(logits), target)``.

    The on-screen loss of the audio-visual models (``docs/networks.md#on-screen-head``): the on-screen
    flag of a class-frame without an event means nothing, so only active class-frames are trained
    (inactive ones count as 0 in the mean, like the masked regression terms).

    Args:
        logits: ``(B, T, C)`` pre-sigmoid on-screen outputs.
        target: ``(B, T, C)`` reference on-screen flags in {0, 1}.
        act: ``(B, T, C)`` reference activity in {0, 1}.

    Returns:
        ``(B,)`` per-sample loss.
    """
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (act * bce).flatten(1).mean(dim=1)


class SedSceOnsLoss(SedSceLoss):
    """SED-SCE loss plus ``w_ons · masked BCE(on-screen)`` for MVANet with an on-screen head.

    Uses ``pred["ons_logits"]`` and ``target["onscreen"]`` ``(B,T,13)`` besides the SED-SCE keys.
    Parts: "sed", "sce", "dir", "dist", "ons", "total".
    """

    def __init__(self, w_sed: float = 1.0, w_sce: float = 2.0, w_dir: float = 0.0, w_dist: float = 0.0,
                 w_ons: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(w_sed=w_sed, w_sce=w_sce, w_dir=w_dir, w_dist=w_dist, reduction=reduction)
        self.w_ons = float(w_ons)

    def terms(self, pred: dict[str, Tensor], target: dict[str, Tensor]) -> dict[str, tuple[float, Tensor]]:
        out = super().terms(pred, target)
        out["ons"] = (self.w_ons, masked_bce_per_sample(pred["ons_logits"], target["onscreen"], target["sed"]))
        return out


class AdpitLoss(_SeldLoss):
    """Baseline multi-ACCDOA ADPIT loss: ``pred["accdoa"]`` ``(B,T,3,3,13)`` vs ``target["adpit"]``
    ``(B,T,6,5,13)``. Parts: "adpit", "total"."""

    def terms(self, pred: dict[str, Tensor], target: dict[str, Tensor]) -> dict[str, tuple[float, Tensor]]:
        return {"adpit": (1.0, adpit_per_sample(pred["accdoa"], target["adpit"]))}


class AdpitOnsLoss(_SeldLoss):
    """Audio-visual baseline ADPIT loss (:func:`adpit_onscreen_per_sample`), unweighted as the official one.

    Uses ``pred["accdoa"]`` ``(B,T,3,3,13)``, ``pred["onscreen_logits"]`` (or ``pred["onscreen"]``)
    ``(B,T,3,13)`` and ``target["adpit"]`` ``(B,T,6,5,13)``. Parts: "adpit" (MSE of the best assignment),
    "onscreen" (BCE of that assignment), "total".
    """

    def terms(self, pred: dict[str, Tensor], target: dict[str, Tensor]) -> dict[str, tuple[float, Tensor]]:
        logits = "onscreen_logits" in pred
        ons = pred["onscreen_logits"] if logits else pred["onscreen"]
        mse, bce = _adpit_onscreen_terms(pred["accdoa"], ons, target["adpit"], from_logits=logits)
        return {"adpit": (1.0, mse), "onscreen": (1.0, bce)}


# ``KindSpec.loss`` names one of these
LOSSES: dict[str, type[_SeldLoss]] = {cls.__name__: cls for cls in (SedDoaLoss, SedSdeLoss, SedSceLoss, SedSceOnsLoss,
                                                                    AdpitLoss, AdpitOnsLoss)}


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
