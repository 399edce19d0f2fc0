"""Dataset report: what the clips and labels of each split contain, as numbers, TSVs and pictures.

The report answers the questions one asks before training: how many clips and hours per split, how
often each class is active (label rows = active event-frames) and how many distinct events that is,
how much overlap there is (polyphony), what share of the activity is on-screen (the dataset notes
say about 1:3 on:off), and which azimuths and distances are covered. ``examples.png`` shows two
clips' L/R spectrograms above their label tracks so a person can check that labels sit on energy.

Everything here is deterministic: fixed bins, sorted orders, no timestamps, PNGs without metadata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seldlib.constants import CLASS_NAMES, LABEL_HOP_SECONDS, N_CLASSES, N_LABEL_FRAMES
from seldlib.errors import SeldInputError
from seldlib.layout import Clip
from seldlib.metadata import EventTable, read_metadata_csv

POLYPHONY_LABELS: tuple[str, ...] = ("0", "1", "2", "3", "4+")
AZIMUTH_BIN_DEG = 10.0  # 18 bins over the folded range [-90, 90]
DISTANCE_BIN_CM = 50.0


@dataclass
class SplitStats:
    """Accumulated label statistics of one split."""

    split: str
    n_clips: int = 0
    n_empty_clips: int = 0
    duration_s: float = 0.0
    rows_per_class: np.ndarray = field(default_factory=lambda: np.zeros(N_CLASSES, np.int64))
    events_per_class: np.ndarray = field(default_factory=lambda: np.zeros(N_CLASSES, np.int64))
    polyphony: np.ndarray = field(default_factory=lambda: np.zeros(len(POLYPHONY_LABELS), np.int64))
    n_onscreen: int = 0
    azimuth: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    distance: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    # The clip with the most distinct events (ties: most rows, then discovery order): an example.
    example: Clip | None = None
    example_score: tuple[int, int] = (-1, -1)

    @property
    def n_rows(self) -> int:
        return int(self.rows_per_class.sum())


def polyphony_histogram(events: EventTable, n_frames: int = N_LABEL_FRAMES) -> np.ndarray:
    """Frames of one clip by number of active events (rows): counts for 0, 1, 2, 3 and 4+.

    Frames without any row count as silent, so the counts always sum to ``n_frames``.
    """
    if len(events) and (events.frame.min() < 0 or events.frame.max() >= n_frames):
        raise ValueError(f"frame indices must lie in 0..{n_frames - 1}")
    per_frame = np.bincount(events.frame, minlength=n_frames)
    clipped = np.minimum(per_frame, len(POLYPHONY_LABELS) - 1)
    return np.bincount(clipped, minlength=len(POLYPHONY_LABELS)).astype(np.int64)


def count_distinct_events(events: EventTable) -> np.ndarray:
    """Distinct events per class: maximal runs of consecutive frames of one (class, source) pair.

    The CSVs have no event id; a (class, source) pair that is active in frames 3-5 and 9 is two
    events. (Same-class events of the same source that touch in time merge; that is the best the
    format allows.)
    """
    counts = np.zeros(N_CLASSES, np.int64)
    if not len(events):
        return counts
    pairs = np.stack([events.cls, events.source], axis=1)
    for cls, source in np.unique(pairs, axis=0):
        frames = np.unique(events.frame[(events.cls == cls) & (events.source == source)])
        counts[cls] += 1 + int(np.count_nonzero(np.diff(frames) > 1))
    return counts


def _duration_s(path: Path) -> float:
    from seldlib.audio import read_info

    info = read_info(path)  # refuses a missing, unreadable or truncated file by name
    return info.frames / info.samplerate


def collect_events(clips: list[Clip], n_frames: int = N_LABEL_FRAMES) -> dict[str, SplitStats]:
    """Read every clip's labels (and audio header for the duration) into per-split statistics.

    Splits keep the order in which they first appear in ``clips``. A clip without labels or a
    malformed CSV raises :class:`SeldInputError` naming the file (and line).
    """
    stats: dict[str, SplitStats] = {}
    az: dict[str, list[np.ndarray]] = {}
    dist: dict[str, list[np.ndarray]] = {}
    for clip in clips:
        if clip.labels is None:
            raise SeldInputError(clip.audio, "has no metadata CSV; the report needs labels")
        events = read_metadata_csv(clip.labels, n_frames=n_frames)
        s = stats.setdefault(clip.split, SplitStats(clip.split))
        s.n_clips += 1
        s.n_empty_clips += int(len(events) == 0)
        s.duration_s += _duration_s(clip.audio)
        s.rows_per_class += np.bincount(events.cls, minlength=N_CLASSES)
        distinct = count_distinct_events(events)
        s.events_per_class += distinct
        s.polyphony += polyphony_histogram(events, n_frames)
        s.n_onscreen += int(events.onscreen.sum())
        az.setdefault(clip.split, []).append(events.azimuth)
        dist.setdefault(clip.split, []).append(events.distance)
        score = (int(distinct.sum()), len(events))
        if len(events) and score > s.example_score:
            s.example, s.example_score = clip, score
    for split, s in stats.items():
        s.azimuth = np.concatenate(az[split])
        s.distance = np.concatenate(dist[split])
    return stats


def merge_stats(stats: dict[str, SplitStats], name: str = "all") -> SplitStats:
    """All splits pooled into one :class:`SplitStats` (for the ``total`` entry of the summary)."""
    total = SplitStats(name)
    for s in stats.values():
        total.n_clips += s.n_clips
        total.n_empty_clips += s.n_empty_clips
        total.duration_s += s.duration_s
        total.rows_per_class += s.rows_per_class
        total.events_per_class += s.events_per_class
        total.polyphony += s.polyphony
        total.n_onscreen += s.n_onscreen
    total.azimuth = np.concatenate([s.azimuth for s in stats.values()]) if stats else np.zeros(0)
    total.distance = np.concatenate([s.distance for s in stats.values()]) if stats else np.zeros(0)
    return total


def _describe(values: np.ndarray) -> dict[str, float | None]:
    if not len(values):
        return {"mean": None, "median": None, "min": None, "max": None}
    return {
        "mean": float(values.mean()), "median": float(np.median(values)),
        "min": float(values.min()), "max": float(values.max()),
    }


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def split_summary(s: SplitStats) -> dict[str, Any]:
    """The JSON-ready numbers of one split."""
    n_frames_total = int(s.polyphony.sum())
    return {
        "clips": s.n_clips,
        "empty_clips": s.n_empty_clips,
        "duration_s": s.duration_s,
        "duration_h": s.duration_s / 3600.0,
        "rows": s.n_rows,
        "rows_per_class": {name: int(n) for name, n in zip(CLASS_NAMES, s.rows_per_class)},
        "events": int(s.events_per_class.sum()),
        "events_per_class": {name: int(n) for name, n in zip(CLASS_NAMES, s.events_per_class)},
        "polyphony": {
            "frames": {lab: int(n) for lab, n in zip(POLYPHONY_LABELS, s.polyphony)},
            "fraction": {lab: _ratio(int(n), n_frames_total) for lab, n in zip(POLYPHONY_LABELS, s.polyphony)},
            # mean number of events over frames with at least one (4+ counted as 4: a lower bound)
            "mean_active": _ratio(float(np.dot(np.arange(len(POLYPHONY_LABELS)), s.polyphony)),
                                  n_frames_total - int(s.polyphony[0])),
        },
        "onscreen_rows": s.n_onscreen,
        "onscreen_ratio": _ratio(s.n_onscreen, s.n_rows),
        "azimuth_deg": _describe(s.azimuth),
        "distance_cm": _describe(s.distance),
    }


def summarize(stats: dict[str, SplitStats], source: str | None = None) -> dict[str, Any]:
    """The whole ``summary.json``: per split, pooled total, class names and the data source."""
    out: dict[str, Any] = {
        "splits": {split: split_summary(s) for split, s in stats.items()},
        "total": split_summary(merge_stats(stats)),
        "classes": list(CLASS_NAMES),
    }
    if source is not None:
        out["source"] = source
    return out


# ---------------------------------------------------------------- histograms and TSVs

def azimuth_edges(bin_deg: float = AZIMUTH_BIN_DEG) -> np.ndarray:
    """Fixed edges over the folded azimuth range [-90, 90] (the last bin includes +90)."""
    n = int(round(180.0 / bin_deg))
    return np.linspace(-90.0, 90.0, n + 1)


def distance_edges(stats: dict[str, SplitStats], bin_cm: float = DISTANCE_BIN_CM) -> np.ndarray:
    """Edges from 0 to the largest distance of any split, rounded up to a whole bin (>= one bin)."""
    top = max((float(s.distance.max()) for s in stats.values() if len(s.distance)), default=0.0)
    n = max(1, math.ceil(top / bin_cm))
    if n * bin_cm <= top:  # a value exactly on the top edge still needs its own closed bin
        n += 1
    return np.arange(n + 1, dtype=np.float64) * bin_cm


def histogram_table(stats: dict[str, SplitStats], attr: str, edges: np.ndarray) -> np.ndarray:
    """Counts ``(n_bins, n_splits)`` of ``attr`` ("azimuth" or "distance") per split."""
    cols = [np.histogram(getattr(s, attr), bins=edges)[0] for s in stats.values()]
    return np.stack(cols, axis=1) if cols else np.zeros((len(edges) - 1, 0), np.int64)


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _tsv(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["\t".join(header)] + ["\t".join(str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def plot_tables(stats: dict[str, SplitStats]) -> dict[str, str]:
    """DVC-plottable TSV texts, keyed by file name (relative to ``plots/``)."""
    splits = list(stats)
    tables: dict[str, str] = {}
    tables["class_counts.tsv"] = _tsv(
        ["class", "split", "count", "events"],
        [[CLASS_NAMES[c], sp, int(stats[sp].rows_per_class[c]), int(stats[sp].events_per_class[c])]
         for sp in splits for c in range(N_CLASSES)],
    )
    poly_rows = []
    for sp in splits:
        total = int(stats[sp].polyphony.sum())
        for lab, n in zip(POLYPHONY_LABELS, stats[sp].polyphony):
            frac = _ratio(int(n), total)
            poly_rows.append([lab, sp, int(n), "nan" if frac is None else _fmt(frac)])
    tables["polyphony.tsv"] = _tsv(["active", "split", "frames", "fraction"], poly_rows)
    for name, attr, edges, col in (
        ("azimuth_hist.tsv", "azimuth", azimuth_edges(), "azimuth_deg"),
        ("distance_hist.tsv", "distance", distance_edges(stats), "distance_cm"),
    ):
        counts = histogram_table(stats, attr, edges)
        centres = 0.5 * (edges[:-1] + edges[1:])
        tables[name] = _tsv([col] + splits, [[_fmt(c)] + [int(v) for v in counts[i]] for i, c in enumerate(centres)])
    on_rows = []
    for sp in splits:
        s = stats[sp]
        r = _ratio(s.n_onscreen, s.n_rows)
        on_rows.append([sp, s.n_onscreen, s.n_rows - s.n_onscreen, "nan" if r is None else _fmt(r)])
    tables["onscreen.tsv"] = _tsv(["split", "onscreen", "offscreen", "ratio"], on_rows)
    return tables


# ---------------------------------------------------------------- figures

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    # Software=None drops the only varying PNG metadata, so reruns are byte-identical.
    fig.savefig(path, dpi=100, metadata={"Software": None})
    _pyplot().close(fig)


SHORT_NAMES: tuple[str, ...] = tuple(n.split(",")[0] for n in CLASS_NAMES)


def _grouped_bars(ax: Any, labels: list[str], series: dict[str, np.ndarray]) -> None:
    n = max(1, len(series))
    width = 0.8 / n
    x = np.arange(len(labels))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x - 0.4 + width * (i + 0.5), values, width, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=45, ha="right")
    if series:
        ax.legend(fontsize=8)


def plot_classes(stats: dict[str, SplitStats], path: Path) -> None:
    """Share of label rows (active frames) and of distinct events per class, one bar per split."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(11, 8), constrained_layout=True)
    for ax, attr, title in (
        (axes[0], "rows_per_class", "active frames (label rows) per class, share of split"),
        (axes[1], "events_per_class", "distinct events per class, share of split"),
    ):
        series = {}
        for sp, s in stats.items():
            v = getattr(s, attr).astype(np.float64)
            series[f"{sp} (n={int(v.sum())})"] = v / v.sum() if v.sum() else v
        _grouped_bars(ax, list(SHORT_NAMES), series)
        ax.set_title(title)
        ax.set_ylabel("fraction")
    _save(fig, path)


def plot_polyphony(stats: dict[str, SplitStats], path: Path) -> None:
    """Fraction of frames with 0, 1, 2, 3, 4+ active events, one bar per split."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    series = {}
    for sp, s in stats.items():
        total = s.polyphony.sum()
        series[sp] = s.polyphony / total if total else s.polyphony.astype(np.float64)
    _grouped_bars(ax, list(POLYPHONY_LABELS), series)
    ax.set_xticklabels(POLYPHONY_LABELS, rotation=0, ha="center")
    ax.set_xlabel("active events in a 100 ms frame")
    ax.set_ylabel("fraction of frames")
    ax.set_title("polyphony")
    _save(fig, path)


def _plot_hist(stats: dict[str, SplitStats], attr: str, edges: np.ndarray, xlabel: str, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), constrained_layout=True)
    counts = histogram_table(stats, attr, edges)
    for i, sp in enumerate(stats):
        total = counts[:, i].sum()
        frac = counts[:, i] / total if total else counts[:, i].astype(np.float64)
        ax.stairs(frac, edges, label=f"{sp} (n={int(total)})", linewidth=1.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of active rows")
    ax.set_xlim(edges[0], edges[-1])
    if stats:
        ax.legend(fontsize=8)
    _save(fig, path)


def plot_azimuth(stats: dict[str, SplitStats], path: Path) -> None:
    """Azimuth histogram (folded, + = left) of active rows per split, normalised per split."""
    _plot_hist(stats, "azimuth", azimuth_edges(), "azimuth (deg, + = left)", path)


def plot_distance(stats: dict[str, SplitStats], path: Path) -> None:
    """Distance histogram of active rows per split, normalised per split."""
    _plot_hist(stats, "distance", distance_edges(stats), "distance (cm)", path)


def plot_onscreen(stats: dict[str, SplitStats], path: Path) -> None:
    """Stacked on-/off-screen share of active rows per split, with the dataset's 1:3 (0.25) as a line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    names = list(stats)
    has_rows = np.array([s.n_rows > 0 for s in stats.values()], dtype=bool)
    on = np.array([_ratio(s.n_onscreen, s.n_rows) or 0.0 for s in stats.values()])
    x = np.arange(len(names))
    ax.bar(x, on, label="on-screen")
    ax.bar(x, np.where(has_rows, 1.0 - on, 0.0), bottom=on, label="off-screen")
    ax.axhline(0.25, color="k", linestyle="--", linewidth=1, label="dataset note 1:3")
    for xi, r in zip(x, on):
        ax.text(xi, r + 0.01, f"{r:.2f}", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("fraction of active rows")
    ax.legend(fontsize=8, loc="upper right")
    _save(fig, path)


def log_mel_spectrogram(wave: np.ndarray, sample_rate: int, n_mels: int = 64, nperseg: int = 960,
                        hop: int = 480) -> tuple[np.ndarray, np.ndarray]:
    """Cheap log-mel picture of ``(channels, samples)``: ``(channels, n_mels, frames)`` dB and frame times.

    Both channels share one dB reference (the clip maximum) so the L/R level difference stays
    visible, with an 80 dB floor as in the baseline features.
    """
    import librosa
    from scipy.signal import spectrogram

    freqs, times, power = spectrogram(wave, fs=sample_rate, window="hann", nperseg=nperseg,
                                      noverlap=nperseg - hop, nfft=1024, mode="psd", axis=-1)
    mel = librosa.filters.mel(sr=sample_rate, n_fft=1024, n_mels=n_mels, fmin=0.0, fmax=sample_rate / 2)
    mel_power = np.einsum("mf,cft->cmt", mel, power)
    db = 10.0 * np.log10(np.maximum(mel_power, 1e-12))
    return np.maximum(db, db.max() - 80.0), times


def plot_examples(clips: list[Clip], path: Path, n_frames: int = N_LABEL_FRAMES) -> None:
    """For each clip: L and R log-mel spectrograms, then its label track (azimuth over time per class)."""
    from seldlib.audio import load_audio, read_info

    plt = _pyplot()
    n = max(1, len(clips))
    fig, axes = plt.subplots(3 * n, 1, figsize=(11, 6.5 * n), sharex=True, constrained_layout=True,
                             gridspec_kw={"height_ratios": [1, 1, 1.1] * n})
    axes = np.atleast_1d(axes)
    cmap = plt.get_cmap("tab20")
    clip_seconds = n_frames * LABEL_HOP_SECONDS
    for k, clip in enumerate(clips):
        wave = load_audio(clip.audio, sample_rate=None, channels=2)
        sr = read_info(clip.audio).samplerate
        db, _ = log_mel_spectrogram(wave, sr)
        for ch, name in enumerate(("L", "R")):
            ax = axes[3 * k + ch]
            ax.imshow(db[ch], origin="lower", aspect="auto", cmap="magma",
                      extent=(0.0, wave.shape[1] / sr, 0, db.shape[1]), vmin=db.min(), vmax=db.max())
            ax.set_ylabel(f"{name}: mel band")
            ax.set_title(f"{clip.split}/{clip.stem}  channel {name}", fontsize=9)
        ax = axes[3 * k + 2]
        events = read_metadata_csv(clip.labels, n_frames=n_frames) if clip.labels else EventTable()
        t = (events.frame + 0.5) * LABEL_HOP_SECONDS
        for c in np.unique(events.cls):
            sel = events.cls == c
            ms = np.where(events.onscreen[sel] == 1, 28, 10)
            ax.scatter(t[sel], events.azimuth[sel], s=ms, color=cmap(int(c) % 20), label=f"{c}: {SHORT_NAMES[c]}")
        ax.set_ylim(-95, 95)
        ax.axhline(0, color="0.7", linewidth=0.8)
        ax.set_ylabel("azimuth (deg, + = left)")
        ax.set_title("labels (large markers = on-screen)", fontsize=9)
        if len(events):
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes[-1].set_xlim(0, clip_seconds)
    axes[-1].set_xlabel("time (s)")
    _save(fig, path)


def pick_examples(stats: dict[str, SplitStats], k: int = 2) -> list[Clip]:
    """Up to ``k`` example clips: the busiest clip of the first split, then of the last, and so on.

    Taking them from different ends of the split list shows a real and a synthetic clip when both exist.
    """
    candidates = [s.example for s in stats.values() if s.example is not None]
    order: list[Clip] = []
    lo, hi = 0, len(candidates) - 1
    while lo <= hi and len(order) < k:
        order.append(candidates[lo])
        if hi != lo and len(order) < k:
            order.append(candidates[hi])
        lo, hi = lo + 1, hi - 1
    return order


def write_report(stats: dict[str, SplitStats], out_dir: Path, source: str | None = None,
                 examples: int = 2) -> dict[str, Any]:
    """Write ``summary.json``, ``plots/*.tsv`` and the PNGs into the (existing, empty) ``out_dir``."""
    from seldlib.atomic import write_json_atomic, write_text_atomic

    out_dir = Path(out_dir)
    summary = summarize(stats, source)
    write_json_atomic(out_dir / "summary.json", summary, ndigits=6)
    for name, text in plot_tables(stats).items():
        write_text_atomic(out_dir / "plots" / name, text)
    plot_classes(stats, out_dir / "classes.png")
    plot_polyphony(stats, out_dir / "polyphony.png")
    plot_azimuth(stats, out_dir / "azimuth_hist.png")
    plot_distance(stats, out_dir / "distance_hist.png")
    plot_onscreen(stats, out_dir / "onscreen.png")
    plot_examples(pick_examples(stats, examples), out_dir / "examples.png")
    return summary
