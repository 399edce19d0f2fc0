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
        needs: what training reads besides the log-mel features and labels: ``"video"`` (the clip's
            video features: a Track B kind, trained on the clips with video and scored with
            F(20°, 1, on) and OSA), ``"init"`` (starts from the weights of a trained entry of kind
            :attr:`init_kind`) and ``"teacher"`` (distilled from a trained entry of kind :attr:`teacher_kind`).
        init_kind: for ``"init"``: the kind whose checkpoint initialises it.
        teacher_kind: for ``"teacher"``: the kind of the frozen teacher.
        onscreen_max_az: decoded events whose (unfolded) azimuth exceeds this many degrees in magnitude
            are written off-screen, since the camera cannot see them (half the 100° field of view,
            ``docs/data-contract.md#on-screen-flag``); ``None``: no such rule (the official baseline's decoding).
        paper: the report's row ``(label, F, DOAE, RDE)`` for this kind (Table 1; Table 2 for Track B,
            where F is F(20°, 1, on)), ``None`` entries where the paper prints "-".
        paper_osa: Track B: the report's on-screen accuracy (Table 2).
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
    needs: frozenset[str] = field(default_factory=frozenset)
    init_kind: str | None = None
    teacher_kind: str | None = None
    onscreen_max_az: float | None = None
    paper: tuple[str, float | None, float | None, float | None] | None = None
    paper_osa: float | None = None

    @property
    def output_keys(self) -> tuple[str, ...]:
        return tuple(self.outputs)

    @property
    def has_distance(self) -> bool:
        return self.distance != "constant"

    @property
    def has_direction(self) -> bool:
        return self.direction != "partner"

    @property
    def track(self) -> str:
        """``"A"`` (audio-only) or ``"B"`` (audio-visual: the kind reads video)."""
        return "B" if "video" in self.needs else "A"


_AV_OUTPUTS = {"sed": (T, C), "sce": (T, C, 2), "ons": (T, C)}
_HALF_FOV = 50.0  # degrees: half the DCASE2025 camera's 100° horizontal field of view

# NERC-SLIP technical report, Table 1 (audio-only systems) and Table 2 (audio-visual systems), DCASE2025
# stereo dev set, give the paper rows.
KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in (
        KindSpec("sed_doa", "SED-DOA", {"sed": (T, C), "doa": (T, C, 2)}, "resnet_conformer", "SedDoaLoss", ("sed", "doa"),
                 direction="doa", distance="constant", paper=("SED-DOA", 0.50, 12.50, None)),
        KindSpec("sed_sde", "SED-SDE", {"sed": (T, C), "dist": (T, C)}, "resnet_conformer", "SedSdeLoss", ("sed", "dist"),
                 direction="partner", distance="dist", direction_partner="sed_doa",
                 paper=("SED-SDE", 0.53, None, 0.26)),
        KindSpec("sed_sce", "SED-SCE", {"sed": (T, C), "sce": (T, C, 2)}, "resnet_conformer", "SedSceLoss", ("sed", "sce", "dir", "dist"),
                 direction="sce", distance="sce", paper=("SED-SCE", 0.50, 12.80, 0.27)),
        KindSpec("seldnet", "Baseline SELDnet", {"accdoa": (T, 3, 3, C)}, "seldnet", "AdpitLoss", (),
                 direction="accdoa", distance="accdoa", fusable=False, paper=("Baseline-A", 0.23, 24.50, 0.41)),
        # Track B: MVANet (Hong et al., ICASSP 2025) extended with an on-screen head, initialised from a
        # trained SED-SCE model; the TS variant is also distilled from a frozen SED-SCE teacher.
        KindSpec("av_sed_sce_ons", "AV SED-SCE-ONS", _AV_OUTPUTS, "mvanet", "SedSceOnsLoss", ("sed", "sce", "dir", "dist", "ons"),
                 direction="sce", distance="sce", onscreen="ons", needs=frozenset({"video", "init"}),
                 init_kind="sed_sce", onscreen_max_az=_HALF_FOV,
                 paper=("AV SED-SCE-ONS", 0.38, 12.60, 0.28), paper_osa=0.81),
        KindSpec("av_ts_sed_sce_ons", "AV TS-SED-SCE-ONS", _AV_OUTPUTS, "mvanet", "SedSceOnsLoss", ("sed", "sce", "dir", "dist", "ons"),
                 direction="sce", distance="sce", onscreen="ons", needs=frozenset({"video", "init", "teacher"}),
                 init_kind="sed_sce", teacher_kind="sed_sce", onscreen_max_az=_HALF_FOV,
                 paper=("AV TS-SED-SCE-ONS", 0.39, 12.50, 0.29), paper_osa=0.80),
        # The DCASE2025 audio-visual baseline (transformer-decoder fusion, multi-ACCDOA with on-screen per track).
        KindSpec("seldnet_av", "Baseline-AV", {"accdoa": (T, 3, 3, C), "onscreen": (T, 3, C)}, "seldnet", "AdpitOnsLoss", (),
                 direction="accdoa", distance="accdoa", onscreen="onscreen", fusable=False,
                 needs=frozenset({"video", "init"}), init_kind="seldnet",
                 paper=("Baseline-AV", 0.20, 23.80, 0.40), paper_osa=0.80),
    )
}

# The posterior-fusion ensemble is a system, not a kind; its paper row (Table 1, "Model Ensemble").
ENSEMBLE_LABEL = "Model Ensemble"
ENSEMBLE_PAPER = ("Model Ensemble", 0.54, 11.80, 0.26)
# Track B rows of Table 2 that are systems rather than kinds: (label, F(20°,1,on), DOAE, RDE, OSA).
AV_ENSEMBLE_PAPER = ("AV Model Ensemble", 0.43, 11.70, 0.26, 0.80)
AV_PP_PAPER = ("+ PP", 0.47, 11.80, 0.26, 0.86)


def get_kind(kind: str) -> KindSpec:
    """The spec of ``kind``; ``ValueError`` naming the known kinds otherwise."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(KINDS)}") from None
