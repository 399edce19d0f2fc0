"""Results reporting: per-system metric JSON, the README results table and the evaluation figures.

Every function here is pure apart from writing the file it is asked to write, so the evaluate stage
(``stages/evaluate.py``) only wires files together. Figures are drawn on a bare Agg canvas (no
pyplot global state) and saved without the "Software" tag, so identical inputs give identical bytes.

Command line (run by hand after ``dvc repro``; the stage itself never edits README.md)::

    python -m seldlib.report --readme README.md --results metrics/results.md
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from seldlib.atomic import atomic_path, write_text_atomic
from seldlib.constants import CLASS_NAMES, LABEL_HOP_SECONDS, N_CLASSES, VIDEO_HFOV_DEG
from seldlib.errors import SeldInputError
from seldlib.kinds import AV_ENSEMBLE_PAPER, AV_PP_PAPER, ENSEMBLE_LABEL, ENSEMBLE_PAPER, KINDS, get_kind
from seldlib.metadata import EventTable
from seldlib.metrics import SeldScores

# Short class names for plot axes and stable JSON keys (same order as CLASS_NAMES).
CLASS_ABBREV: tuple[str, ...] = (
    "F-speech", "M-speech", "Clap", "Phone", "Laugh", "Domestic", "Steps",
    "Door", "Music", "Instr.", "Tap", "Bell", "Knock",
)
CLASS_KEYS: tuple[str, ...] = (
    "female_speech", "male_speech", "clapping", "telephone", "laughter", "domestic", "footsteps",
    "door", "music", "instrument", "water_tap", "bell", "knock",
)
assert len(CLASS_ABBREV) == len(CLASS_KEYS) == len(CLASS_NAMES) == N_CLASSES

# Rows follow the paper's Table 1: baseline, then the NERC-SLIP kinds, then the ensemble.
_TABLE_ORDER: tuple[str, ...] = ("seldnet", "sed_doa", "sed_sde", "sed_sce")

# What the evaluate stage knows of each scored system: ``{"kind": str | None (None: a system that is
# not one model: an ensemble or a post-processed ensemble), "threshold": float, "direction_from": entry
# | None}``; Track B systems without a kind also give ``"label"``, their ``"paper"`` row (Table 2:
# label, F, DOAE, RDE, OSA, or None) and ``"order"`` (rows follow it after the single models).
SystemInfo = Mapping[str, Mapping[str, Any]]


def system_label(system: str, info: SystemInfo) -> str:
    """Display name: the kind's label, with the entry name when it is not the kind's own name."""
    entry = info.get(system, {})
    kind = entry.get("kind")
    if kind is None:
        return entry.get("label") or (ENSEMBLE_LABEL if system == "ensemble" else system)
    label = get_kind(kind).label
    return label if system == kind else f"{label} ({system})"


def _constant_distance(system: str, info: SystemInfo) -> bool:
    kind = info.get(system, {}).get("kind")
    return kind is not None and not get_kind(kind).has_distance


DATA_LABELS: dict[str, str] = {
    "synth-mini": "embedded synthetic data (`synth-mini`, split dev-test-sim)",
    "dcase2025": "DCASE2025 stereo dev-test (real data: dev-test-tau + dev-test-sony)",
}

README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"
TIME_START = "<!-- repro-time:start -->"
TIME_END = "<!-- repro-time:end -->"

_METRICS = ("F", "DOAE", "RDE", "DistE", "OSA")
_COUNTERS = ("TP", "FP", "FP_spatial", "FN", "n_matched", "n_ref", "n_pred")
_PNG_META = {"Software": None}  # no matplotlib version string: bytes depend on the data only
_DPI = 100


# ------------------------------------------------------------------------------------------------
# numbers


def _num(x: Any) -> float | None:
    """Python float, or None for NaN / inf (JSON has no NaN)."""
    v = float(x)
    return v if math.isfinite(v) else None


def system_json(scores: SeldScores, system: str | None = None, threshold: float | None = None) -> dict[str, Any]:
    """Small, stable JSON document for DVC metrics: macro metrics plus a class-wise table.

    Keys: ``F, DOAE, RDE, DistE, OSA, n_files, average, totals{TP..n_pred}, classwise{<class key>:
    {F, DOAE, RDE, DistE, OSA, TP, FP, FP_spatial, FN, n_ref, n_pred}}`` and, when given,
    ``system``, ``threshold``; ``ci`` (95% jackknife intervals) when the scores carry them.
    Undefined values (no matched pair) are ``None``.
    """
    out: dict[str, Any] = {m: _num(getattr(scores, m)) for m in _METRICS}
    out["n_files"] = int(scores.n_files)
    out["average"] = scores.average
    out["totals"] = {k: int(np.sum(scores.classwise[k])) for k in _COUNTERS}
    classwise: dict[str, dict[str, Any]] = {}
    for c, key in enumerate(CLASS_KEYS):
        row: dict[str, Any] = {m: _num(scores.classwise[m][c]) for m in _METRICS}
        row.update({k: int(scores.classwise[k][c]) for k in ("TP", "FP", "FP_spatial", "FN", "n_ref", "n_pred")})
        classwise[key] = row
    out["classwise"] = classwise
    if system is not None:
        out["system"] = system
    if threshold is not None:
        out["threshold"] = float(threshold)
    if scores.jackknife is not None:
        out["ci"] = {m: [_num(scores.jackknife[m]["ci_low"]), _num(scores.jackknife[m]["ci_high"])] for m in _METRICS}
    return out


# ------------------------------------------------------------------------------------------------
# markdown


def _fmt(value: float | None, kind: str) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if kind == "deg":
        return f"{value:.2f}°"
    return f"{value:.3f}" if kind == "ours" else f"{value:.2f}"


def _rank(system: str, info: SystemInfo) -> tuple[int, str]:
    """Table 1 order of the system's kind (entries of one kind by name), other kinds next, the ensemble last."""
    kind = info.get(system, {}).get("kind")
    if kind is None:
        return (len(_TABLE_ORDER) + 1, system)
    return (_TABLE_ORDER.index(kind) if kind in _TABLE_ORDER else len(_TABLE_ORDER), system)


def _ordered(systems: Mapping[str, Any], info: SystemInfo) -> list[str]:
    return sorted(systems, key=lambda s: _rank(s, info))


def _our_cells(system: str, s: SeldScores, info: SystemInfo) -> tuple[str, str, str]:
    f = _fmt(s.F, "ours")
    doae = _fmt(s.DOAE, "deg")
    partner = info.get(system, {}).get("direction_from")
    if partner and doae != "–":
        doae += f" (from {system_label(partner, info) if partner in info else partner})"
    rde = "– (constant distance)" if _constant_distance(system, info) else _fmt(s.RDE, "ours")
    return f, doae, rde


def results_table(scores: Mapping[str, SeldScores], info: SystemInfo, data_label: str = DATA_LABELS["synth-mini"],
                  selection: str | None = None) -> str:
    """Markdown: our F(20°,1) / DOAE / RDE per system next to the paper's Table 1.

    Each system is shown beside the paper row of its kind (``seldlib.kinds``); a kind with a paper row
    but no system shows "not run". ``selection`` says which split selected the models.
    """
    n_files = {int(s.n_files) for s in scores.values()}
    clips = f", {n_files.pop()} clips" if len(n_files) == 1 else ""
    chosen = f" {selection[0].upper()}{selection[1:]}." if selection else ""
    lines = [
        f"Ours: {data_label}{clips};{chosen} Paper: NERC-SLIP Table 1, DCASE2025 stereo dev set (real data). "
        "Macro averages over the 13 classes; F(20°,1) with the official thresholds (20°, relative distance 1).",
        "",
        "| System | F(20°,1) ours | DOAE ours | RDE ours | F(20°,1) paper | DOAE paper | RDE paper |",
        "|---|---|---|---|---|---|---|",
    ]
    kinds_run = {info.get(s, {}).get("kind") for s in scores}
    # a kind of the paper's table that no system here has gets a "not run" row under the kind's own name
    rows = {s: info.get(s, {}) for s in scores}
    rows.update({k: {"kind": k} for k in _TABLE_ORDER if k not in kinds_run and KINDS[k].paper is not None})
    if "ensemble" not in rows:
        rows["ensemble"] = {"kind": None}
    for system in _ordered(rows, rows):
        kind = rows[system].get("kind")
        label = system_label(system, rows)
        ours = _our_cells(system, scores[system], info) if system in scores else ("not run", "not run", "not run")
        paper = ENSEMBLE_PAPER if kind is None and system == "ensemble" else (KINDS[kind].paper if kind in KINDS else None)
        if paper is None:
            theirs = ("–", "–", "–")
        else:
            label = f"{label} / {paper[0]}" if not label.startswith(paper[0]) else label
            theirs = (_fmt(paper[1], "paper"), _fmt(paper[2], "deg"), _fmt(paper[3], "paper"))
        lines.append(f"| {label} | {' | '.join(ours)} | {' | '.join(theirs)} |")
    notes = []
    for kind in sorted(k for k in kinds_run if k is not None):
        spec = get_kind(kind)
        if not spec.has_direction:
            notes.append(f"{spec.label} has no direction head: its azimuth, hence its DOAE, comes from a "
                         f"{get_kind(spec.direction_partner).label} model (`evaluate.direction_entry`).")
        if not spec.has_distance:
            notes.append(f"{spec.label} has no distance head and writes a constant distance, so its RDE is not "
                         "reported (that distance still enters its F through the relative-distance threshold).")
    if notes:
        lines += ["", " ".join(notes)]
    return "\n".join(lines) + "\n"


# Track B rows follow the paper's Table 2: baseline, then the two MVANet systems, then the systems built
# on them (the audio-visual ensemble and its post-processing, in their ``order``).
_AV_TABLE_ORDER: tuple[str, ...] = ("seldnet_av", "av_sed_sce_ons", "av_ts_sed_sce_ons")


def _av_rank(system: str, info: SystemInfo) -> tuple[int, float, str]:
    kind = info[system]["kind"]
    if kind is None:
        return (len(_AV_TABLE_ORDER) + 1, float(info[system].get("order", 0)), system)
    return (_AV_TABLE_ORDER.index(kind) if kind in _AV_TABLE_ORDER else len(_AV_TABLE_ORDER), 0.0, system)


def classwise_osa_table(scores: Mapping[str, SeldScores], info: SystemInfo, classes: list[int]) -> str:
    """Markdown: class-wise OSA (and matched events) of Track B systems on the given classes, so that a
    post-processing stage's effect on, say, the human classes is visible class by class."""
    systems = sorted(scores, key=lambda s: _av_rank(s, info))
    head = " | ".join(system_label(s, info) for s in systems)
    lines = [f"| Class (matched events) | {head} |", "|---|" + "---|" * len(systems)]
    for c in classes:
        matched = sorted({int(scores[s].classwise["n_matched"][c]) for s in systems})
        n = "/".join(str(m) for m in matched)
        cells = " | ".join(_fmt(float(scores[s].classwise["OSA"][c]), "ours") for s in systems)
        lines.append(f"| {CLASS_NAMES[c]} ({n}) | {cells} |")
    return "\n".join(lines) + "\n"


def av_results_table(scores: Mapping[str, SeldScores], info: SystemInfo, majority: Mapping[str, float],
                     data_label: str = DATA_LABELS["synth-mini"], selection: str | None = None) -> str:
    """Markdown: our F(20°,1,on) / DOAE / RDE / OSA per Track B system next to the paper's Table 2.

    ``majority``: per system, the OSA that always answering the majority on-screen label would get on
    the events it matched (the floor an on-screen decision must beat).
    """
    n_files = {int(s.n_files) for s in scores.values()}
    clips = f", {n_files.pop()} clips" if len(n_files) == 1 else ""
    chosen = f" {selection[0].upper()}{selection[1:]}; on-screen thresholds tuned there too." if selection else ""
    lines = [
        f"Ours: {data_label}{clips};{chosen} Paper: NERC-SLIP Table 2, DCASE2025 stereo dev set (real data). "
        "F(20°,1,on) also requires the on-screen flag to be right; OSA is the share of matched events with "
        "the right on-screen flag (majority: the OSA of always answering the majority label on those events).",
        "",
        "| System | F(20°,1,on) ours | DOAE ours | RDE ours | OSA ours (majority) "
        "| F(20°,1,on) paper | DOAE paper | RDE paper | OSA paper |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    order = sorted(scores, key=lambda s: _av_rank(s, info))
    kinds_run = {info[s]["kind"] for s in scores}
    papers_run = {tuple(info[s]["paper"]) for s in scores if info[s].get("paper") is not None}

    def row(system: str) -> tuple[str, tuple[str, ...], tuple | None]:
        sc, kind = scores[system], info[system]["kind"]
        osa = f"{_fmt(sc.OSA, 'ours')} ({_fmt(majority.get(system), 'ours')})"
        ours = (_fmt(sc.F, "ours"), _fmt(sc.DOAE, "deg"), _fmt(sc.RDE, "ours"), osa)
        if kind is None:
            paper = tuple(info[system]["paper"]) if info[system].get("paper") is not None else None
        else:
            spec = get_kind(kind)
            paper = (*spec.paper, spec.paper_osa) if spec.paper is not None else None
        return system_label(system, info), ours, paper

    # single models, the paper's single models not run here, then the systems built on them
    rows = [row(s) for s in order if info[s]["kind"] is not None]
    rows += [(get_kind(k).label, ("not run",) * 4, (*KINDS[k].paper, KINDS[k].paper_osa))
             for k in _AV_TABLE_ORDER if k not in kinds_run]
    rows += [row(s) for s in order if info[s]["kind"] is None]
    for paper in (AV_ENSEMBLE_PAPER, AV_PP_PAPER):
        if paper not in papers_run:
            rows.append((paper[0], ("not run",) * 4, paper))
    for label, ours, paper in rows:
        if paper is None:
            theirs = ("–",) * 4
        else:
            label = f"{label} / {paper[0]}" if not label.startswith(paper[0]) else label
            theirs = (_fmt(paper[1], "paper"), _fmt(paper[2], "deg"), _fmt(paper[3], "paper"), _fmt(paper[4], "paper"))
        lines.append(f"| {label} | {' | '.join(ours)} | {' | '.join(theirs)} |")
    return "\n".join(lines) + "\n"


def replace_between_markers(text: str, new: str, source: str | Path | None = None,
                            markers: tuple[str, str] = (README_START, README_END)) -> str:
    """``text`` with everything between the ``markers`` (by default :data:`README_START` and
    :data:`README_END`) replaced by ``new``.

    The markers stay; exactly one of each, start before end, else :class:`SeldInputError`.
    """
    start, end = markers
    n_start, n_end = text.count(start), text.count(end)
    if n_start != 1 or n_end != 1:
        raise SeldInputError(
            source, f"needs exactly one {start!r} and one {end!r} marker, found {n_start} and {n_end}"
        )
    i, j = text.index(start), text.index(end)
    if j < i:
        raise SeldInputError(source, f"{end!r} comes before {start!r}")
    body = new.strip("\n")
    return text[: i + len(start)] + "\n" + body + "\n" + text[j:]


def repro_time_sentence(timing: Mapping[str, Any]) -> str:
    """The README's sentence on how long `dvc repro` took, from ``benchmarks/bench_repro.py``'s JSON."""
    stages = timing["stages_s"]
    train = sum(v for k, v in stages.items() if k.split("@")[0] in ("train", "train_av"))  # both tracks
    load = timing["load_average_1min"]
    return (f"A fresh clone's `dvc repro` took {timing['total_s'] / 60:.1f} minutes (training "
            f"{train / 60:.1f} of them) on {timing['cpu']} (load average {load[0]:.1f} → {load[1]:.1f}; "
            f"commit {timing['commit']}, measured with `python benchmarks/bench_repro.py`, stage by stage "
            "in `metrics/repro_time.json`); it needs no network.")


def update_readme_results(readme_path: str | Path, results_md: str | Path, repro_time: str | Path | None = None) -> None:
    """Put the table in file ``results_md`` between the results markers of ``readme_path``, and the
    measured pipeline time of ``repro_time`` (JSON) between the time markers (atomically)."""
    readme_path, results_md = Path(readme_path), Path(results_md)
    texts = []
    for p in (readme_path, results_md):
        try:
            texts.append(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SeldInputError(p, "file not found") from None
    new = replace_between_markers(texts[0], texts[1], readme_path)
    if repro_time is not None:
        try:
            timing = json.loads(Path(repro_time).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SeldInputError(repro_time, "file not found (run python benchmarks/bench_repro.py)") from None
        new = replace_between_markers(new, repro_time_sentence(timing), readme_path, (TIME_START, TIME_END))
    if new != texts[0]:  # unchanged README keeps its mtime
        write_text_atomic(readme_path, new)


# ------------------------------------------------------------------------------------------------
# figures


def _figure(width: float, height: float):  # noqa: ANN202 - matplotlib types
    """A figure on its own Agg canvas: no pyplot, no global backend switch."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | Path) -> None:  # noqa: ANN001
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=_DPI, metadata=_PNG_META)


def plot_classwise(scores: Mapping[str, SeldScores], info: SystemInfo, path: str | Path) -> None:
    """Three panels (F, DOAE, RDE), one group of bars per class, one bar per system.

    Undefined values (no matched pair) and the RDE of constant-distance systems are left empty.
    """
    systems = _ordered(scores, info)
    fig = _figure(12.0, 9.0)
    axes = fig.subplots(3, 1, sharex=True)
    x = np.arange(N_CLASSES)
    width = 0.8 / max(len(systems), 1)
    panels = (("F", "F(20°,1)"), ("DOAE", "DOAE (°)"), ("RDE", "RDE"))
    for ax, (metric, ylabel) in zip(axes, panels):
        for k, system in enumerate(systems):
            values = np.asarray(scores[system].classwise[metric], np.float64).copy()
            if metric == "RDE" and _constant_distance(system, info):
                values[:] = np.nan
            heights = np.nan_to_num(values, nan=0.0)  # empty bar rather than a NaN warning
            ax.bar(x - 0.4 + (k + 0.5) * width, heights, width, label=system_label(system, info), color=f"C{k}")
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)
        if metric == "F":
            ax.set_ylim(0, 1)
    axes[0].legend(ncol=max(len(systems), 1), fontsize=8, loc="upper right")
    axes[0].set_title("Class-wise scores on the test split (empty bar: undefined or not applicable)")
    axes[-1].set_xticks(x)
    axes[-1].set_xticklabels(CLASS_ABBREV, rotation=30, ha="right")
    fig.tight_layout()
    _save(fig, path)


def plot_tracks(ref: EventTable, pred: EventTable, clip: str, path: str | Path, label: str = ENSEMBLE_LABEL) -> None:
    """Reference vs predicted azimuth (top) and distance (bottom) over time, one colour per class.

    Reference events are hollow circles, predictions crosses; distances in the tables are in cm
    (DCASE2025 CSVs) and are shown in metres.
    """
    fig = _figure(10.0, 6.5)
    ax_az, ax_d = fig.subplots(2, 1, sharex=True)
    classes = sorted(set(ref.cls.tolist()) | set(pred.cls.tolist()))
    for c in classes:
        color = f"C{c % 10}"
        name = CLASS_ABBREV[c] if 0 <= c < N_CLASSES else str(c)
        r, p = ref.cls == c, pred.cls == c
        t_r, t_p = ref.frame[r] * LABEL_HOP_SECONDS, pred.frame[p] * LABEL_HOP_SECONDS
        ax_az.scatter(t_r, ref.azimuth[r], s=36, facecolors="none", edgecolors=color, label=f"{name} ref")
        ax_az.scatter(t_p, pred.azimuth[p], s=20, marker="x", color=color, label=f"{name} pred")
        ax_d.scatter(t_r, ref.distance[r] / 100.0, s=36, facecolors="none", edgecolors=color)
        ax_d.scatter(t_p, pred.distance[p] / 100.0, s=20, marker="x", color=color)
    ax_az.set_ylim(-185, 185)
    ax_az.set_yticks([-180, -90, 0, 90, 180])
    ax_az.set_ylabel("azimuth (°, + = left)")
    ax_d.set_ylabel("distance (m)")
    ax_d.set_ylim(bottom=0.0)  # distances are positive; a zero baseline keeps errors in proportion
    ax_d.set_xlabel("time (s)")
    ax_d.set_xlim(-0.1, 5.1)
    for ax in (ax_az, ax_d):
        ax.grid(alpha=0.3)
    if classes:
        ax_az.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax_az.set_title(f"{clip}: reference (○) vs {label} (×)")
    fig.tight_layout()
    _save(fig, path)


def plot_summary(scores: Mapping[str, SeldScores], info: SystemInfo, path: str | Path) -> None:
    """The systems' macro scores as a table image (F, DOAE, RDE, DistE and the TP / FP / FN totals)."""
    systems = _ordered(scores, info)
    header = ["System", "F(20°,1)", "DOAE (°)", "RDE", "DistE (cm)", "TP", "FP", "FP spatial", "FN"]
    cells = []
    for system in systems:
        s = scores[system]
        constant = _constant_distance(system, info)
        rde = "n/a" if constant else _fmt(s.RDE, "ours")
        diste = "n/a" if constant else _fmt(s.DistE, "paper")
        cells.append([
            system_label(system, info), _fmt(s.F, "ours"), _fmt(s.DOAE, "paper"), rde, diste,
            *(str(int(np.sum(s.classwise[k]))) for k in ("TP", "FP", "FP_spatial", "FN")),
        ])
    fig = _figure(10.0, 0.5 + 0.35 * (len(cells) + 1))
    ax = fig.add_axes((0.02, 0.05, 0.96, 0.9))
    ax.axis("off")
    if cells:
        widths = [0.22] + [0.78 / (len(header) - 1)] * (len(header) - 1)  # room for system names
        table = ax.table(cellText=cells, colLabels=header, colWidths=widths, cellLoc="center", bbox=(0, 0, 1, 1))
        table.auto_set_font_size(False)
        table.set_fontsize(10)
        for col in range(len(header)):
            table[0, col].set_text_props(weight="bold")
    else:
        ax.text(0.5, 0.5, "no systems evaluated", ha="center", va="center")
    _save(fig, path)


def plot_osa_classwise(scores: Mapping[str, SeldScores], info: SystemInfo, path: str | Path) -> None:
    """Class-wise on-screen accuracy of the Track B systems, one group of bars per class (empty bar: no
    matched event of that class)."""
    systems = sorted(scores, key=lambda s: _av_rank(s, info))
    fig = _figure(12.0, 4.8)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(N_CLASSES)
    width = 0.8 / max(len(systems), 1)
    for k, system in enumerate(systems):
        values = np.nan_to_num(np.asarray(scores[system].classwise["OSA"], np.float64), nan=0.0)
        ax.bar(x - 0.4 + (k + 0.5) * width, values, width, label=system_label(system, info), color=f"C{k}")
    ax.set_ylim(0, 1)
    ax.set_ylabel("OSA")
    ax.grid(axis="y", alpha=0.3)
    ax.set_xticks(x)
    ax.set_xticklabels(CLASS_ABBREV, rotation=30, ha="right")
    # below the axes: inside, it would hide the bars it explains
    ax.legend(ncol=min(len(systems), 3), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    ax.set_title("Class-wise on-screen accuracy on the test split (share of matched events with the right flag)")
    fig.tight_layout()
    _save(fig, path)


def plot_detection_frames(frames: np.ndarray, times: np.ndarray, boxes: list[np.ndarray], ref: EventTable,
                          pred: EventTable, clip: str, path: str | Path, label: str = "") -> None:
    """A few video frames of a clip with the detector's boxes and the azimuths of the reference (dashed)
    and predicted (solid) events of that instant drawn as vertical lines; on-screen events are thick.

    Args:
        frames: ``(K, H, W, 3) uint8`` frames at ``times`` (K, seconds).
        boxes: per frame, ``(M_k, 4)`` ``x1, y1, x2, y2`` pixel boxes.
    """
    k = len(frames)
    fig = _figure(4.0 * min(k, 3), 2.6 * math.ceil(k / 3) + 0.4)
    h, w = frames.shape[1:3]
    f = (w / 2.0) / math.tan(math.radians(VIDEO_HFOV_DEG / 2.0))  # the DCASE2025 pinhole camera, any width
    for i in range(k):
        ax = fig.add_subplot(math.ceil(k / 3), min(k, 3), i + 1)
        ax.imshow(frames[i])
        for x1, y1, x2, y2 in boxes[i]:
            ax.add_patch(_rectangle((x1, y1), x2 - x1, y2 - y1))
        frame = int(round(times[i] / LABEL_HOP_SECONDS))
        for table, style in ((ref, "--"), (pred, "-")):
            at = table.frame == frame
            for c, az, on in zip(table.cls[at], table.azimuth[at], table.onscreen[at]):
                if abs(az) >= 89.0:
                    continue  # behind the camera's plane: no column
                x = w / 2.0 - f * math.tan(math.radians(float(az)))
                if 0 <= x <= w:
                    ax.axvline(x, color=f"C{int(c) % 10}", linestyle=style, linewidth=2.5 if on else 1.0)
                    ax.text(x, 12 if style == "-" else h - 8, CLASS_ABBREV[int(c)], color=f"C{int(c) % 10}",
                            fontsize=7, ha="center")
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{times[i]:.1f} s", fontsize=8)
    fig.suptitle(f"{clip}\ndetections (boxes), reference (dashed) and {label} (solid) azimuths; "
                 "thick = on-screen", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def _rectangle(xy: tuple[float, float], width: float, height: float):  # noqa: ANN202 - matplotlib type
    from matplotlib.patches import Rectangle

    return Rectangle(xy, width, height, fill=False, edgecolor="white", linewidth=1.2)


def _read_tsv(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """``(step, value)`` columns of a DVCLive metric file, or None when it is absent or empty."""
    if not path.is_file():
        return None
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    if not rows:
        return None
    data = np.array([[float(r[0]), float(r[1])] for r in rows])
    return data[:, 0], data[:, 1]


def plot_training_curves(live_dir: str | Path, path: str | Path, title: str) -> None:
    """Training loss and learning rate (left) and the validation scores (right) of one training run,
    from its DVCLive files (``<live_dir>/plots/metrics/{train,val}/*.tsv``): the same curves the DVC
    plots page would draw, as a PNG that needs no network to view."""
    metrics = Path(live_dir) / "plots" / "metrics"
    fig = _figure(11.0, 4.0)
    ax_loss, ax_val = fig.subplots(1, 2)
    loss = _read_tsv(metrics / "train" / "loss.tsv")
    if loss is not None:
        ax_loss.plot(*loss, color="C0", lw=1.0, label="loss")
        ax_loss.set_yscale("log")
    lr = _read_tsv(metrics / "train" / "lr.tsv")
    if lr is not None:
        ax_lr = ax_loss.twinx()
        ax_lr.plot(*lr, color="C7", lw=1.0, ls="--", label="learning rate")
        ax_lr.set_ylabel("learning rate")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss")
    ax_loss.grid(alpha=0.3)
    for k, name in enumerate(("F", "DOAE", "RDE")):
        curve = _read_tsv(metrics / "val" / f"{name}.tsv")
        if curve is None:
            continue
        axis = ax_val if name == "F" else ax_val.twinx() if name == "DOAE" else None
        if axis is None:
            continue  # two y axes at most: F and DOAE
        axis.plot(*curve, marker="o", ms=3, color=f"C{k + 1}", label=f"validation {name}")
        axis.set_ylabel("F(20°,1)" if name == "F" else "DOAE (°)")
    ax_val.set_xlabel("step")
    ax_val.set_ylim(0, 1)
    ax_val.grid(alpha=0.3)
    handles = [h for ax in fig.axes for h in ax.get_lines()]
    ax_val.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


def track_clips(refs: Mapping[str, EventTable], n: int) -> list[str]:
    """The ``n`` clips with the most reference events (ties: by name) -- deterministic plot choice."""
    order = sorted(refs, key=lambda name: (-len(refs[name]), name))
    return order[: max(n, 0)]


# ------------------------------------------------------------------------------------------------
# command line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m seldlib.report",
        description="Copy the generated results table (and the measured pipeline time) into README.md "
                    "between their markers.",
    )
    ap.add_argument("--readme", default="README.md", type=Path)
    ap.add_argument("--results", default="metrics/results.md", type=Path)
    ap.add_argument("--repro-time", default=None, type=Path, help="metrics/repro_time.json (benchmarks/bench_repro.py)")
    args = ap.parse_args(argv)
    try:
        update_readme_results(args.readme, args.results, args.repro_time)
    except SeldInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.readme}: results table updated from {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
