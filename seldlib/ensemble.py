"""Posterior-probability fusion of class-wise models, and the arrays each evaluated system decodes from.

NERC-SLIP (DCASE 2025 Task 3 technical report, section 1.3) fuses its SED-DOA, SED-SDE and SED-SCE
models before any thresholding. Here the members are any ``models`` or ``av_models`` entries of
fusable kinds (``seldlib.kinds``), so two SED-SDE models with different seeds simply both enter: SED
posteriors are averaged with per-entry weights, the direction is the mean unit vector of the members
that predict one (optionally blended with the members' SCE directions) and the distance the mean of
the members that predict one (optionally blended with the SCE norms). Audio-visual members (report
section 2.3, "AV Model Ensemble") enter the same way through their ``sed`` and ``sce`` outputs, and
their on-screen posteriors (the kind's ``onscreen`` output) are averaged into ``onscreen``; a fusion
without such a member has no ``onscreen`` and is exactly the audio-only one. See
``docs/model-kinds.md#ensembles`` and ``docs/postprocessing.md#the-audio-visual-ensemble``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from seldlib.kinds import get_kind

# One evaluated model: its kind and its arrays ``{key: (N, 50, 13[, 2])}``.
Member = tuple[str, Mapping[str, np.ndarray]]


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, n, out=np.zeros_like(v), where=n > 0)


def _mean(arrays: list[np.ndarray]) -> np.ndarray | None:
    return sum(a.astype(np.float64) for a in arrays) / len(arrays) if arrays else None


def fuse_outputs(
    members: Mapping[str, Member],
    sed_weights: Mapping[str, float],
    doa_sce_blend: float = 0.0,
    dist_sce_blend: float = 0.0,
    onscreen_weights: Mapping[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """Fuse the outputs of class-wise models.

    Args:
        members: ``{entry: (kind, {"sed": (N, 50, 13), "doa" | "dist" | "sce": ..., [on-screen key]: (N, 50, 13)})}``;
            the on-screen key is the kind's ``onscreen`` output (``"ons"`` for the audio-visual kinds).
        sed_weights: weight of each entry's SED posteriors (entries absent here weigh 0).
        doa_sce_blend: weight of the SCE direction against the DOA direction, in [0, 1].
        dist_sce_blend: weight of the SCE norm against the SDE distance, in [0, 1].
        onscreen_weights: weight of each on-screen member's posteriors (entries absent here weigh 0);
            ``None``: every member with an on-screen output weighs the same.

    Returns:
        ``{"sed": (N, 50, 13), "doa": (N, 50, 13, 2) unit vectors, "dist": (N, 50, 13) metres,
        "onscreen": (N, 50, 13) posteriors}`` (``dist`` absent when no member predicts distance,
        ``onscreen`` when no member predicts on-screen posteriors).
    """
    for b, name in ((doa_sce_blend, "doa_sce_blend"), (dist_sce_blend, "dist_sce_blend")):
        if not 0.0 <= b <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {b}")
    for entry, (kind, _) in members.items():
        if not get_kind(kind).fusable:
            raise ValueError(f"ensemble member {entry!r} is of kind {kind!r}, which cannot be fused")
    weighted = [e for e in members if sed_weights.get(e, 0.0) > 0]
    if not weighted:
        raise ValueError("no ensemble member with a positive SED weight")
    total = sum(sed_weights[e] for e in weighted)
    sed = sum(sed_weights[e] * members[e][1]["sed"].astype(np.float64) for e in weighted) / total

    def own(key: str) -> list[np.ndarray]:
        return [arrays[key] for _, arrays in members.values() if key in arrays]

    doa = _mean([_unit(a.astype(np.float64)) for a in own("doa")])
    sce_list = own("sce")
    if doa is None and not sce_list:
        raise ValueError("the ensemble needs a member that predicts direction (a DOA or SCE output)")
    sce_dir = _mean([_unit(a.astype(np.float64)) for a in sce_list])
    if doa is None:
        direction = _unit(sce_dir)
    elif sce_dir is None:
        direction = _unit(doa)
    else:
        direction = _unit((1 - doa_sce_blend) * _unit(doa) + doa_sce_blend * _unit(sce_dir))

    fused = {"sed": sed, "doa": direction}
    dist = _mean(own("dist"))
    sce_norm = _mean([np.linalg.norm(a.astype(np.float64), axis=-1) for a in sce_list])
    if dist is not None and sce_norm is not None:
        fused["dist"] = (1 - dist_sce_blend) * dist + dist_sce_blend * sce_norm
    elif dist is not None or sce_norm is not None:
        fused["dist"] = dist if dist is not None else sce_norm
    onscreen = _fuse_onscreen(members, onscreen_weights)
    if onscreen is not None:
        fused["onscreen"] = onscreen
    return fused


def onscreen_members(members: Mapping[str, Member]) -> list[str]:
    """The entries of ``members`` whose kind predicts on-screen posteriors, in order."""
    return [e for e, (kind, _) in members.items() if get_kind(kind).onscreen is not None]


def _fuse_onscreen(members: Mapping[str, Member], weights: Mapping[str, float] | None) -> np.ndarray | None:
    """The weighted mean on-screen posterior ``(N, 50, 13)`` of the members that predict one, or ``None``."""
    entries = onscreen_members(members)
    if weights is None:
        weights = {e: 1.0 for e in entries}
    stray = sorted(set(weights) - set(entries))
    if stray:
        raise ValueError(f"onscreen_weights name {', '.join(stray)}, which predict no on-screen posteriors "
                         f"(members that do: {', '.join(entries) or 'none'})")
    weighted = [e for e in entries if weights.get(e, 0.0) > 0]
    if not entries:
        return None
    if not weighted:
        raise ValueError("no on-screen member with a positive on-screen weight")
    total = sum(weights[e] for e in weighted)
    key = {e: get_kind(members[e][0]).onscreen for e in weighted}
    return sum(weights[e] * members[e][1][key[e]].astype(np.float64) for e in weighted) / total


def single_outputs(member: Member, partner: Member | None = None) -> dict[str, np.ndarray]:
    """The arrays one model's system is decoded from (``decode_classwise`` keys, or ``accdoa``; the
    kind's on-screen output, if any, as ``onscreen``).

    A kind without a direction head (``direction == "partner"``, SED-SDE) takes the direction of
    ``partner``, a model of its ``direction_partner`` kind, as in the NERC-SLIP joint prediction;
    detection and distance stay its own.
    """
    kind, arrays = member
    spec = get_kind(kind)
    if spec.onscreen is not None and spec.onscreen != "onscreen":  # decoders read on-screen posteriors as "onscreen"
        arrays = {("onscreen" if k == spec.onscreen else k): v for k, v in arrays.items()}
    if spec.has_direction:
        return dict(arrays)
    if partner is None or partner[0] != spec.direction_partner:
        raise ValueError(f"a {spec.label} model predicts no direction: it needs a {spec.direction_partner} model's")
    return {**arrays, "doa": partner[1]["doa"]}
