"""Posterior-probability fusion of the SED-DOA, SED-SDE and SED-SCE models (models.md §10).

Fusion happens before any thresholding: SED posteriors are averaged (weighted); the direction comes
from the SED-DOA model (optionally blended with the SCE direction) and the distance from the SED-SDE
model (optionally blended with the SCE norm). A missing member simply drops out of the average; the
direction or distance then falls back to whatever member still provides it.
"""

from __future__ import annotations

import numpy as np


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, n, out=np.zeros_like(v), where=n > 0)


def fuse_outputs(
    outputs: dict[str, dict[str, np.ndarray]],
    sed_weights: dict[str, float],
    doa_sce_blend: float = 0.0,
    dist_sce_blend: float = 0.0,
) -> dict[str, np.ndarray]:
    """Fuse class-wise model outputs.

    Args:
        outputs: ``{member: {"sed": (N, 50, 13), "doa"|"dist"|"sce": ...}}`` for members
            ``sed_doa`` / ``sed_sde`` / ``sed_sce``.
        sed_weights: weight of each member's SED posteriors (members absent here weigh 0).
        doa_sce_blend: weight of the SCE direction against the SED-DOA direction, in [0, 1].
        dist_sce_blend: weight of the SCE norm against the SED-SDE distance, in [0, 1].

    Returns:
        ``{"sed": (N, 50, 13), "doa": (N, 50, 13, 2) unit vectors, "dist": (N, 50, 13) metres}``
        (``dist`` absent when no member predicts distance).
    """
    for b, name in ((doa_sce_blend, "doa_sce_blend"), (dist_sce_blend, "dist_sce_blend")):
        if not 0.0 <= b <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {b}")
    members = [m for m in outputs if sed_weights.get(m, 0.0) > 0]
    if not members:
        raise ValueError("no ensemble member with a positive SED weight")
    total = sum(sed_weights[m] for m in members)
    sed = sum(sed_weights[m] * outputs[m]["sed"].astype(np.float64) for m in members) / total

    doa = outputs.get("sed_doa", {}).get("doa")
    sce = outputs.get("sed_sce", {}).get("sce")
    if doa is None and sce is None:
        raise ValueError("the ensemble needs a member that predicts direction (sed_doa or sed_sce)")
    if doa is None:
        direction = _unit(sce.astype(np.float64))
    elif sce is None:
        direction = _unit(doa.astype(np.float64))
    else:
        direction = _unit((1 - doa_sce_blend) * _unit(doa.astype(np.float64)) + doa_sce_blend * _unit(sce.astype(np.float64)))

    fused = {"sed": sed, "doa": direction}
    dist = outputs.get("sed_sde", {}).get("dist")
    if dist is not None and sce is not None:
        fused["dist"] = (1 - dist_sce_blend) * dist.astype(np.float64) + dist_sce_blend * np.linalg.norm(sce, axis=-1)
    elif dist is not None:
        fused["dist"] = dist.astype(np.float64)
    elif sce is not None:
        fused["dist"] = np.linalg.norm(sce.astype(np.float64), axis=-1)
    return fused


SYSTEM_DESCRIPTIONS = {
    "sed_doa": "SED-DOA",
    "sed_sde": "SED-SDE (direction from SED-DOA)",
    "sed_sce": "SED-SCE",
    "seldnet": "Baseline SELDnet (multi-ACCDOA)",
    "ensemble": "Model ensemble",
}


def system_outputs(
    system: str,
    outputs: dict[str, dict[str, np.ndarray]],
    sed_weights: dict[str, float] | None = None,
    doa_sce_blend: float = 0.0,
    dist_sce_blend: float = 0.0,
) -> dict[str, np.ndarray]:
    """The arrays a system is decoded from (``seldlib.labels.decode_classwise`` keys, or ``accdoa``).

    ``sed_sde`` predicts no direction; as in the NERC-SLIP joint prediction it takes its azimuth from
    the SED-DOA model, while detection and distance are its own.
    """
    if system == "ensemble":
        return fuse_outputs(outputs, sed_weights or {}, doa_sce_blend, dist_sce_blend)
    if system == "sed_sde":
        if "sed_doa" not in outputs:
            raise ValueError("the sed_sde system takes its direction from sed_doa, which is missing")
        return {"sed": outputs["sed_sde"]["sed"], "dist": outputs["sed_sde"]["dist"], "doa": outputs["sed_doa"]["doa"]}
    if system not in outputs:
        raise ValueError(f"no outputs for system {system!r}")
    return dict(outputs[system])
