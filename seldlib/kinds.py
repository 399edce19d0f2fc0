"""The registry of model kinds: everything that depends on what a model *is*, in one place.

Every part of the project that treats models differently (training, inference, decoding, ensembling,
evaluation, the report, ``seld``) looks the behaviour up here by the ``kind`` stored in the checkpoint
(or written in ``params.yaml``), never by the name of a ``models`` entry. Adding a kind is one entry in
:data:`KINDS`; adding a model of an existing kind is one entry in ``params.yaml``. See
``docs/model-kinds.md``.

Output shapes below are per clip (50 label frames, 13 classes); a batch adds a leading ``N``. This
module imports no model or loss code, so that every stage may consult it without depending on the
networks: ``seldlib.models.build_model(kind, …)`` and ``seldlib.losses.build_loss(kind, …)`` build them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from seldlib.constants import N_CLASSES, N_LABEL_FRAMES

T, C = N_LABEL_FRAMES, N_CLASSES


@dataclass(frozen=True)
class KindSpec:
    """What one model kind produces, how it is trained and how its outputs become events.

    Attributes:
        name: the kind, as written in ``params.yaml`` (``models.<entry>.kind``) and in checkpoints.
        label: its name in tables and figures.
        outputs: output key → per-clip shape, e.g. ``{"sed": (50, 13), "doa": (50, 13, 2)}``.
        architecture: the network (``seldlib.models.ARCHITECTURES``) built for it.
        loss: the loss class in ``seldlib.losses``.
        loss_weights: the loss-term weights an entry may set (``loss_weights: {sed: …, doa: …}``).
        direction: where decoded events take their azimuth from: ``"doa"`` / ``"sce"`` (own output),
            ``"accdoa"`` (multi-ACCDOA vectors), or ``"partner"`` (the kind predicts none; at evaluation
            and in ``seld`` it comes from a model of kind :attr:`direction_partner`, and during model
            selection from the reference direction, so that selection measures detection and distance).
        distance: ``"dist"`` / ``"sce"`` (norm of the position) / ``"accdoa"`` / ``"constant"``
            (the kind predicts none and writes the entry's ``default_distance_m``; its RDE says nothing).
        onscreen: output key of on-screen posteriors, or ``None`` (every event written off-screen).
        fusable: its class-wise outputs can enter the posterior-fusion ensemble.
        direction_partner: for ``direction == "partner"``: the kind whose direction it borrows.
        needs: inputs besides the log-mel features: ``{"audio"}`` today; Track B adds ``"video"``,
            ``"teacher"`` (distillation) and ``"init"`` (initialised from another entry).
        paper: the report's Table 1 row ``(label, F, DOAE, RDE)`` for this kind, ``None`` entries where
            the paper prints "-".
    """

    name: str
    label: str
    outputs: Mapping[str, tuple[int, ...]]
    architecture: str
    loss: str
    loss_weights: tuple[str, ...]
    direction: str
    distance: str
    onscreen: str | None = None
    fusable: bool = True
    direction_partner: str | None = None
    needs: frozenset[str] = field(default_factory=lambda: frozenset({"audio"}))
    paper: tuple[str, float | None, float | None, float | None] | None = None

    @property
    def output_keys(self) -> tuple[str, ...]:
        return tuple(self.outputs)

    @property
    def has_distance(self) -> bool:
        return self.distance != "constant"

    @property
    def has_direction(self) -> bool:
        return self.direction != "partner"


# NERC-SLIP technical report, Table 1 (audio-only systems, DCASE2025 stereo dev set) gives the paper rows.
KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in (
        KindSpec("sed_doa", "SED-DOA", {"sed": (T, C), "doa": (T, C, 2)}, "resnet_conformer", "SedDoaLoss", ("sed", "doa"),
                 direction="doa", distance="constant", paper=("SED-DOA", 0.50, 12.50, None)),
        KindSpec("sed_sde", "SED-SDE", {"sed": (T, C), "dist": (T, C)}, "resnet_conformer", "SedSdeLoss", ("sed", "dist"),
                 direction="partner", distance="dist", direction_partner="sed_doa",
                 paper=("SED-SDE", 0.53, None, 0.26)),
        KindSpec("sed_sce", "SED-SCE", {"sed": (T, C), "sce": (T, C, 2)}, "resnet_conformer", "SedSceLoss", ("sed", "sce"),
                 direction="sce", distance="sce", paper=("SED-SCE", 0.50, 12.80, 0.27)),
        KindSpec("seldnet", "Baseline SELDnet", {"accdoa": (T, 3, 3, C)}, "seldnet", "AdpitLoss", (),
                 direction="accdoa", distance="accdoa", fusable=False, paper=("Baseline-A", 0.23, 24.50, 0.41)),
    )
}

# The posterior-fusion ensemble is a system, not a kind; its paper row (Table 1, "Model Ensemble").
ENSEMBLE_LABEL = "Model Ensemble"
ENSEMBLE_PAPER = ("Model Ensemble", 0.54, 11.80, 0.26)


def get_kind(kind: str) -> KindSpec:
    """The spec of ``kind``; ``ValueError`` naming the known kinds otherwise."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(KINDS)}") from None
