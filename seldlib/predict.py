"""Predict DCASE2025 events for stereo WAV files of any length with trained checkpoints.

    python -m seldlib.predict --models models/sed_doa models/sed_sde models/sed_sce \\
        --standardizer data/features/standardizer.npz --out predictions/ clip1.wav clip2.wav

(also installed as the ``seld`` console script). Each file is cut into 5-s windows with a hop of
``--hop`` seconds (the tail is zero-padded), every window gets its log-mel features exactly as in
training (the 80 dB floor is relative to the window's own maximum, then the standardiser if the
checkpoints were trained on standardised features), the models' 50 output frames per window are
placed on the file's 100-ms frame grid and overlapping frames are averaged. The stitched arrays are
then combined into the requested system and decoded with the SED threshold:

* models of one kind that predicts a direction (``sed_doa``, ``sed_sce``, ``seldnet``): that kind
  alone (several checkpoints of it are averaged);
* a kind without a direction head (``sed_sde``) never runs alone: with models of its direction
  partner (``sed_doa``) it gives the joint prediction of the evaluation table's SED-SDE row
  (detection and distance from SED-SDE, direction from SED-DOA), or the posterior fusion when
  ``--sed-weights`` is given;
* any other set of class-wise kinds: the posterior-fusion ensemble (``seldlib.ensemble``), equal
  SED weights unless ``--sed-weights`` gives them; several checkpoints of one kind are averaged first.
  A SELDnet (multi-ACCDOA) checkpoint cannot be combined with others.

What each kind predicts is in ``seldlib.kinds`` (``docs/model-kinds.md``).

Output: ``OUT/<wav stem>.csv`` (DCASE2025 format, frame indices over the whole file) and, with
``--png``, ``OUT/<wav stem>.png`` (azimuth against time for each detected class).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seldlib.constants import CLASS_NAMES, CLIP_SAMPLES, LABEL_HOP_SECONDS, N_CHANNELS, N_LABEL_FRAMES, SAMPLE_RATE
from seldlib.errors import SeldInputError
from seldlib.kinds import KINDS, get_kind
from seldlib.metadata import EventTable
from seldlib.standardizer import Standardizer

WINDOW_SECONDS = CLIP_SAMPLES / SAMPLE_RATE  # 5.0: the models were trained on 5-s clips


@dataclass
class System:
    """Everything needed to predict a file: models, feature recipe, standardiser and how to combine.

    Attributes:
        models: ``[(kind, module)]``; each module maps features ``(B, 2, 251, 64)`` to a dict holding the
            output keys of its kind (``seldlib.kinds``) with 50 frames per clip. Any ``nn.Module``
            honouring that contract works (trained checkpoints or test doubles).
        features: the checkpoints' log-mel config dict (``LogMelConfig`` fields plus ``standardize``);
            empty means the baseline defaults without standardisation.
        standardizer: the training standardiser (``mean``, ``std`` ``(2, 64)``), required when
            ``features["standardize"]``.
        device: where the models run.
        sed_weights: SED weights per kind for the fusion; ``None`` = equal weights.
        default_distance_m: distance written when no model predicts one (a lone SED-DOA).
        sources: where each model came from (for messages), parallel to ``models``.
    """

    models: list[tuple[str, nn.Module]]
    features: dict[str, Any] = field(default_factory=dict)
    standardizer: Standardizer | None = None
    device: str | torch.device = "cpu"
    sed_weights: dict[str, float] | None = None
    doa_sce_blend: float = 0.0
    dist_sce_blend: float = 0.0
    default_distance_m: float = 1.0
    sources: list[str] = field(default_factory=list)
    batch_size: int = 16

    def __post_init__(self) -> None:
        if not self.models:
            raise SeldInputError(None, "no model given")
        for kind, _ in self.models:
            try:
                get_kind(kind)
            except ValueError as err:
                raise SeldInputError(None, str(err)) from None
        kinds = set(self.kinds)
        video = sorted(get_kind(k).label for k in kinds if get_kind(k).track == "B")
        if video:  # they need the clip's video features, which a WAV does not have
            raise SeldInputError(None, f"{', '.join(video)} checkpoints are audio-visual models and need a video; "
                                       f"seld predicts from audio with the Track A models ({ACCEPTED_COMBINATIONS})")
        if len(kinds) > 1 and any(not get_kind(k).fusable for k in kinds):
            lone = sorted(get_kind(k).label for k in kinds if not get_kind(k).fusable)
            raise SeldInputError(None, f"{', '.join(lone)} checkpoints cannot be combined with other models; "
                                       f"accepted: {ACCEPTED_COMBINATIONS}")
        if not any(get_kind(k).has_direction for k in kinds):
            lone = sorted(get_kind(k).label for k in kinds)
            partners = sorted({get_kind(k).direction_partner for k in kinds if get_kind(k).direction_partner})
            raise SeldInputError(None, f"{' + '.join(lone)} predict(s) no direction; add a model of kind "
                                       f"{' or '.join(partners)} (e.g. --models models/sed_doa models/sed_sde). "
                                       f"Accepted: {ACCEPTED_COMBINATIONS}")
        if self.sed_weights is not None:
            unknown = sorted(set(self.sed_weights) - kinds)
            if unknown:
                raise SeldInputError(None, f"--sed-weights names kinds without a model: {unknown}")
            if any(not math.isfinite(w) or w < 0 for w in self.sed_weights.values()):
                raise SeldInputError(None, "--sed-weights must be finite and non-negative")
            if not any(self.sed_weights.get(k, 0.0) > 0 for k in kinds):
                raise SeldInputError(None, "--sed-weights gives no model a positive weight")
        if int(self.features.get("sample_rate", SAMPLE_RATE)) != SAMPLE_RATE:
            raise SeldInputError(None, f"the checkpoints use {self.features['sample_rate']} Hz features; only {SAMPLE_RATE} Hz is supported")
        self.models = [(kind, model.to(self.device).eval()) for kind, model in self.models]
        if self.features.get("standardize") and self.standardizer is None:
            raise SeldInputError(None, "the checkpoints were trained on standardised features; pass --standardizer "
                                       "(e.g. data/features/standardizer.npz)")

    @property
    def kinds(self) -> list[str]:
        return [k for k, _ in self.models]

    @property
    def description(self) -> str:
        kinds = sorted(set(self.kinds))
        if len(kinds) == 1:
            return kinds[0] if len(self.models) == 1 else f"{kinds[0]} (average of {len(self.models)})"
        joint = _joint_pair(set(kinds)) if self.sed_weights is None else None
        if joint is not None:
            return f"{joint[0]} joint prediction (direction from {joint[1]})"
        return "ensemble of " + " + ".join(kinds)


ACCEPTED_COMBINATIONS = ("one kind with a direction head (sed_doa, sed_sce or seldnet), sed_doa + sed_sde "
                         "(joint prediction), or any set of sed_doa / sed_sde / sed_sce with sed_doa or sed_sce "
                         "among them (ensemble)")


def _joint_pair(kinds: set[str]) -> tuple[str, str] | None:
    """``(kind, partner)`` when ``kinds`` is exactly a direction-less kind and its direction partner."""
    for kind in kinds:
        spec = get_kind(kind)
        if not spec.has_direction and kinds == {kind, spec.direction_partner}:
            return kind, spec.direction_partner
    return None


# --------------------------------------------------------------------------------------- loading


def _checkpoint_path(path: str | Path) -> Path:
    """A model directory means its ``model.pt``; anything else is taken as the checkpoint file."""
    path = Path(path)
    return path / "model.pt" if path.is_dir() else path


def load_system(
    model_paths: Sequence[str | Path],
    standardizer_path: str | Path | None = None,
    device: str | torch.device = "cpu",
    sed_weights: dict[str, float] | None = None,
    doa_sce_blend: float = 0.0,
    dist_sce_blend: float = 0.0,
) -> System:
    """Load checkpoints (model directories or ``.pt`` files) and the standardiser into a :class:`System`.

    All checkpoints must share one feature recipe. ``device`` may be ``"auto"``.
    Raises :class:`SeldInputError` naming the offending file.
    """
    from seldlib.checkpoint import load_checkpoint
    from seldlib.device import resolve_device

    try:
        dev = resolve_device(str(device))
    except RuntimeError as err:
        raise SeldInputError(None, str(err)) from None
    models: list[tuple[str, nn.Module]] = []
    features: dict[str, Any] | None = None
    sources: list[str] = []
    default_distance = 1.0
    for raw in model_paths:
        path = _checkpoint_path(raw)
        model, meta = load_checkpoint(path)
        feats = dict(meta.get("features") or {})
        if features is None:
            features = feats
            default_distance = float(meta.get("default_distance_m", 1.0))
        elif feats != features:
            raise SeldInputError(path, f"was trained with feature settings {feats}, unlike {sources[0]} ({features})")
        models.append((meta["kind"], model.to(dev).eval()))
        sources.append(str(path))
    features = features or {}
    std = None
    if standardizer_path is not None and features.get("standardize"):
        std = Standardizer.load(standardizer_path)
        n_mels = int(features.get("n_mels", 64))
        if std.shape != (N_CHANNELS, n_mels):
            raise SeldInputError(standardizer_path, f"holds statistics of shape {std.shape}, the models expect "
                                                    f"({N_CHANNELS}, {n_mels})")
    elif standardizer_path is not None:
        print(f"note: the checkpoints use unstandardised features; ignoring {standardizer_path}", file=sys.stderr)
    return System(models, features, std, dev, sed_weights, doa_sce_blend, dist_sce_blend, default_distance, sources)


def _logmel_for(system: System):
    """The training log-mel transform from the checkpoints' feature dict (unknown keys ignored)."""
    from seldlib.logmel import LogMel, LogMelConfig

    known = {f.name for f in fields(LogMelConfig)}
    return LogMel(LogMelConfig(**{k: v for k, v in system.features.items() if k in known}))


# --------------------------------------------------------------------------------------- windows


def window_starts(n_samples: int, hop_samples: int, window_samples: int = CLIP_SAMPLES) -> np.ndarray:
    """Start samples of the windows covering ``n_samples``: ``0, hop, 2·hop, …`` until the file's end
    lies inside a window (at least one window, even for a short file)."""
    if hop_samples <= 0:
        raise ValueError("hop must be positive")
    n = 1 if n_samples <= window_samples else 1 + math.ceil((n_samples - window_samples) / hop_samples)
    return np.arange(n, dtype=np.int64) * hop_samples


def stitch(window_arrays: np.ndarray, starts_frames: Sequence[int] | np.ndarray, total_frames: int) -> np.ndarray:
    """Place per-window frame outputs on the file's frame grid, averaging where windows overlap.

    Args:
        window_arrays: ``(n_windows, F, ...)`` outputs (``F`` = 50 frames per 5-s window).
        starts_frames: ``(n_windows,)`` first frame of each window on the file grid.
        total_frames: frames of the whole file; window frames at or beyond it (zero padding) are dropped.

    Returns:
        ``(total_frames, ...)`` float64 mean over the windows covering each frame (0 where none does).
    """
    arr = np.asarray(window_arrays, np.float64)
    starts = np.asarray(starts_frames, np.int64).reshape(-1)
    if arr.ndim < 2 or len(arr) != len(starts):
        raise ValueError(f"need (n_windows, frames, ...) arrays and one start per window, got {arr.shape} and {starts.shape}")
    if total_frames < 0 or (starts < 0).any():
        raise ValueError("start frames and total_frames must be non-negative")
    total = np.zeros((total_frames, *arr.shape[2:]), np.float64)
    count = np.zeros(total_frames, np.int64)
    span = arr.shape[1]
    for window, s in zip(arr, starts):
        stop = min(int(s) + span, total_frames)
        if stop <= s:
            continue
        total[s:stop] += window[: stop - s]
        count[s:stop] += 1
    shape = (total_frames,) + (1,) * (arr.ndim - 2)
    # Frames no window covers stay 0 rather than NaN so decoding treats them as silent.
    return np.divide(total, count.reshape(shape), out=np.zeros_like(total), where=count.reshape(shape) > 0)


def _hop_samples(hop_s: float) -> int:
    """The hop in samples; it must be a whole number of 100-ms frames so windows share the label grid."""
    frames = hop_s / LABEL_HOP_SECONDS
    if not (math.isfinite(hop_s) and 0 < hop_s <= WINDOW_SECONDS and abs(frames - round(frames)) < 1e-6):
        raise SeldInputError(None, f"--hop must be a multiple of {LABEL_HOP_SECONDS} s in (0, {WINDOW_SECONDS:g}], got {hop_s:g}")
    return int(round(frames)) * int(round(LABEL_HOP_SECONDS * SAMPLE_RATE))


# --------------------------------------------------------------------------------------- prediction


def _combine(system: System, stitched: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Turn per-kind stitched arrays ``{kind: {key: (T, ...)}}`` into the system's decodable arrays."""
    from seldlib.ensemble import fuse_outputs, single_outputs

    kinds = set(stitched)
    if len(kinds) == 1:  # a single kind (SELDnet included) is decoded as it is
        return dict(next(iter(stitched.values())))
    joint = _joint_pair(kinds) if system.sed_weights is None else None
    if joint is not None:
        kind, partner = joint
        return single_outputs((kind, stitched[kind]), (partner, stitched[partner]))
    weights = system.sed_weights if system.sed_weights is not None else {k: 1.0 for k in kinds}
    try:
        return fuse_outputs({k: (k, a) for k, a in stitched.items()}, weights, system.doa_sce_blend, system.dist_sce_blend)
    except ValueError as err:  # e.g. all weight on members without direction
        raise SeldInputError(None, str(err)) from None


def predict_wave(system: System, wave: np.ndarray, hop_s: float = 2.5, threshold: float = 0.5
                 ) -> tuple[EventTable, dict[str, np.ndarray]]:
    """Predict events for one stereo signal already at the models' sample rate.

    Args:
        wave: ``(2, samples)`` float audio.

    Returns:
        ``(events, arrays)``: events with frame indices over the whole signal (100-ms frames), and the
        stitched system arrays ``{key: (total_frames, ...)}`` they were decoded from.
    """
    from seldlib.inference import predict_arrays
    from seldlib.predictions import decode_system
    from seldlib.silence import frame_levels_dbfs, mute_silent_frames

    wave = np.asarray(wave, np.float32)
    if wave.ndim != 2 or wave.shape[0] != N_CHANNELS:
        raise ValueError(f"expected (2, samples) audio, got shape {wave.shape}")
    hop = _hop_samples(hop_s)
    frame_samples = int(round(LABEL_HOP_SECONDS * SAMPLE_RATE))
    total_frames = math.ceil(wave.shape[1] / frame_samples)
    starts = window_starts(wave.shape[1], hop)
    # Zero-pad so every window is a full 5-s clip, as in training.
    padded = np.zeros((N_CHANNELS, int(starts[-1]) + CLIP_SAMPLES), np.float32)
    padded[:, : wave.shape[1]] = wave
    logmel = _logmel_for(system)
    std = system.standardizer if system.features.get("standardize") else None

    per_model: list[dict[str, list[np.ndarray]]] = [{} for _ in system.models]
    for b in range(0, len(starts), system.batch_size):
        chunk = starts[b : b + system.batch_size]
        clips = torch.from_numpy(np.stack([padded[:, s : s + CLIP_SAMPLES] for s in chunk]))
        feats = logmel(clips)  # (n, 2, 251, 64): each window's 80 dB floor is its own, as in training
        if std is not None:
            feats = std.apply(feats)
        for i, (kind, model) in enumerate(system.models):
            out = predict_arrays(model, kind, feats, batch_size=system.batch_size, device=system.device)
            for key, value in out.items():
                if value.shape[1] != N_LABEL_FRAMES:
                    raise ValueError(f"model {i} ({kind}) returned {value.shape[1]} frames per window, expected {N_LABEL_FRAMES}")
                per_model[i].setdefault(key, []).append(value)

    start_frames = starts // frame_samples
    stitched: dict[str, dict[str, np.ndarray]] = {}
    counts: dict[str, int] = {}
    for (kind, _), outs in zip(system.models, per_model):
        arrays = {k: stitch(np.concatenate(v), start_frames, total_frames) for k, v in outs.items()}
        # Several checkpoints of one kind: running mean of their stitched outputs.
        n = counts.get(kind, 0)
        if n:
            arrays = {k: (stitched[kind][k] * n + v) / (n + 1) for k, v in arrays.items()}
        stitched[kind], counts[kind] = arrays, n + 1
    combined = _combine(system, stitched)
    # no event on digitally silent frames, as in the pipeline's infer stage (seldlib.silence)
    levels = frame_levels_dbfs(wave, total_frames)
    combined = {k: v[0] for k, v in mute_silent_frames({k: v[None] for k, v in combined.items()}, levels[None]).items()}
    events = decode_system({k: v[None] for k, v in combined.items()}, 0, threshold, system.default_distance_m)
    return events.sorted(), combined


def check_stereo(path: str | Path) -> int:
    """Check (from the header only) that ``path`` is a readable, non-empty stereo audio file; return its rate.

    Raises :class:`SeldInputError` naming the file when it is missing, a directory, unreadable,
    truncated (:func:`seldlib.audio.read_info`), not stereo or empty.
    """
    from seldlib.audio import read_info

    info = read_info(path)
    if info.channels != N_CHANNELS:
        what = "mono" if info.channels == 1 else f"{info.channels} channels"
        raise SeldInputError(path, f"expected stereo audio (2 channels), got {what}")
    if info.frames == 0:
        raise SeldInputError(path, "audio file is empty")
    return int(info.samplerate)


def read_stereo(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read a stereo audio file as ``(2, samples)`` float32 at ``sample_rate``, resampling with a notice
    on stderr. Bad files raise :class:`SeldInputError` (see :func:`check_stereo`)."""
    from seldlib.audio import load_audio

    rate = check_stereo(path)
    if rate != sample_rate:
        print(f"note: {path}: resampling from {rate} Hz to {sample_rate} Hz", file=sys.stderr)
    return load_audio(path, sample_rate=sample_rate, channels=N_CHANNELS, resample=True)


def predict_file(system: System, wav_path: str | Path, hop_s: float = 2.5, threshold: float = 0.5
                 ) -> tuple[EventTable, dict[str, np.ndarray]]:
    """Read a stereo WAV of any length (any sample rate) and predict its events; see :func:`predict_wave`."""
    return predict_wave(system, read_stereo(wav_path, SAMPLE_RATE), hop_s, threshold)


# --------------------------------------------------------------------------------------- output


def plot_events(path: str | Path, events: EventTable, total_frames: int, title: str = "") -> None:
    """PNG of detected events: azimuth (degrees) against time, one colour per class (written atomically)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from seldlib.atomic import atomic_path

    # Figure + Agg canvas directly: no pyplot, so no global backend or display is touched.
    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    cmap = matplotlib.colormaps["tab20"]  # 20 distinct colours, enough for the 13 classes
    for c in np.unique(events.cls):
        sel = events.cls == c
        ax.scatter(events.frame[sel] * LABEL_HOP_SECONDS, events.azimuth[sel], s=8, color=cmap(int(c) % 20),
                   label=CLASS_NAMES[int(c)])
    ax.set_xlim(0, max(total_frames, 1) * LABEL_HOP_SECONDS)
    ax.set_ylim(-95, 95)
    ax.set_yticks([-90, -45, 0, 45, 90])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("azimuth (°, + = left)")
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)
    if len(events):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def _parse_weights(text: str | None) -> dict[str, float] | None:
    """``"sed_doa=1,sed_sde=0.5"`` -> ``{"sed_doa": 1.0, "sed_sde": 0.5}`` (``None`` stays ``None``)."""
    if text is None:
        return None
    weights: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        kind, sep, value = item.partition("=")
        try:
            w = float(value)
        except ValueError:
            w = float("nan")
        fusable = sorted(k for k, spec in KINDS.items() if spec.fusable and spec.track == "A")
        if not sep or kind not in fusable or not math.isfinite(w):
            raise SeldInputError(None, f"--sed-weights expects KIND=WEIGHT with KIND in {fusable}, got {item!r}")
        weights[kind] = w
    return weights


def _build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="seld", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="--models takes several paths: put the WAVs after another option or after --.")
    ap.add_argument("wavs", nargs="+", metavar="WAV", type=Path, help="stereo audio files of any length")
    ap.add_argument("--models", nargs="+", required=True, type=Path,
                    help="model directories (holding model.pt) or checkpoint files")
    ap.add_argument("--standardizer", type=Path, default=None, help="standardiser .npz (data/features/standardizer.npz)")
    ap.add_argument("--out", type=Path, required=True, help="folder for <wav stem>.csv (and .png)")
    ap.add_argument("--threshold", type=float, default=0.5, help="SED threshold (default 0.5)")
    ap.add_argument("--hop", type=float, default=2.5, help="window hop in seconds, a multiple of 0.1 (default 2.5)")
    ap.add_argument("--png", action="store_true", help="also plot detected events to <wav stem>.png")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] (default auto)")
    ap.add_argument("--sed-weights", default=None, metavar="KIND=W[,KIND=W...]",
                    help="SED fusion weights, e.g. sed_doa=1,sed_sde=0.5,sed_sce=1 (default equal)")
    ap.add_argument("--doa-sce-blend", type=float, default=0.0, help="weight of the SCE direction in the fusion")
    ap.add_argument("--dist-sce-blend", type=float, default=0.0, help="weight of the SCE norm in the fused distance")
    ap.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns 0 on success, 2 on bad input (one ``error:`` line on stderr)."""
    try:
        args = _build_parser().parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # argparse already printed its usage message
        return int(exc.code or 0)
    try:
        return _run(args)
    except SeldInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from seldlib.metadata import write_metadata_csv

    if not math.isfinite(args.threshold):
        raise SeldInputError(None, "--threshold must be finite")
    for name in ("doa_sce_blend", "dist_sce_blend"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise SeldInputError(None, f"--{name.replace('_', '-')} must be in [0, 1]")
    _hop_samples(args.hop)
    stems: dict[str, Path] = {}
    for wav in args.wavs:
        if wav.stem in stems:
            raise SeldInputError(wav, f"has the same name as {stems[wav.stem]}; both would write {wav.stem}.csv")
        stems[wav.stem] = wav
        check_stereo(wav)  # fail on a bad file before spending time on the good ones
    system = load_system(args.models, args.standardizer, args.device, _parse_weights(args.sed_weights),
                         args.doa_sce_blend, args.dist_sce_blend)
    if args.out.exists() and not args.out.is_dir():
        raise SeldInputError(args.out, "output path exists and is not a folder")
    print(f"system: {system.description} on {system.device}", file=sys.stderr)
    for wav in tqdm(args.wavs, desc="predict", unit="file", disable=args.no_progress, dynamic_ncols=True):
        events, arrays = predict_file(system, wav, hop_s=args.hop, threshold=args.threshold)
        total_frames = len(next(iter(arrays.values())))
        write_metadata_csv(args.out / f"{wav.stem}.csv", events)
        if args.png:
            plot_events(args.out / f"{wav.stem}.png", events, total_frames, title=f"{wav.name}: {system.description}")
    print(f"{len(args.wavs)} file(s) -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
