"""Predict DCASE2025 events for stereo recordings and videos of any length with trained checkpoints.

    seld --models models/sed_doa models/sed_sde models/sed_sce \\
        --standardizer data/features/standardizer.npz --out predictions/ -- clip1.wav clip2.wav
    seld --models models/av_sed_sce_ons models/av_ts_sed_sce_ons \\
        --standardizer data/features/standardizer.npz --out predictions/ --png --video-out -- film.mp4

(``seld`` is the console script of ``python -m seldlib.predict``). Inputs are stereo audio files (WAV,
FLAC, ...: read with soundfile) or videos with a stereo audio track (MP4 or anything else PyAV opens:
``seldlib.media``); audio at another rate is resampled to 24 kHz with a notice. Each file is cut into 5-s
windows with a hop of ``--hop`` seconds (the tail is zero-padded), every window gets its log-mel features
exactly as in training (the 80 dB floor is relative to the window's own maximum, then the standardiser if
the checkpoints were trained on standardised features), the models' 50 output frames per window are
placed on the file's 100-ms frame grid and overlapping frames are averaged. The stitched arrays are
then combined into the requested system and decoded with the SED threshold:

* models of one kind that predicts a direction (``sed_doa``, ``sed_sce``, ``seldnet``, and the
  audio-visual ``av_sed_sce_ons``, ``av_ts_sed_sce_ons``, ``seldnet_av``): that kind alone (several
  checkpoints of it are averaged);
* a kind without a direction head (``sed_sde``) never runs alone: with models of its direction
  partner (``sed_doa``) it gives the joint prediction of the evaluation table's SED-SDE row
  (detection and distance from SED-SDE, direction from SED-DOA), or the posterior fusion when
  ``--sed-weights`` is given;
* any other set of class-wise kinds, audio-only and audio-visual alike: the posterior-fusion ensemble
  (``seldlib.ensemble``), equal SED weights unless ``--sed-weights`` gives them; several checkpoints of
  one kind are averaged first; the on-screen posteriors come from the audio-visual members.
  A SELDnet checkpoint (multi-ACCDOA, with or without video) cannot be combined with others.

Audio-visual (Track B) checkpoints need a video: the video features of each window are computed from
its 50 frames (the frame nearest each 0.1·k s, as ``seldlib.media.decode_frames`` picks them) with the
extractor settings the checkpoint records (``meta["features"]["video"]``: weights, resolution,
full_fov, seed, bf16; ``--video-store`` reads them from the training video store instead), and the
on-screen flag is the fused on-screen posterior thresholded at the value tuned at training
(``meta["onscreen_threshold"]``, the mean over the audio-visual checkpoints; ``--onscreen-threshold``
overrides it); an event beyond 50° azimuth is never on screen. A WAV given to them is refused. A video
given to audio-only models is predicted from its audio track (every event off-screen).

What each kind predicts is in ``seldlib.kinds`` (``docs/model-kinds.md``).

Output: ``OUT/<stem>.csv`` (DCASE2025 format, frame indices over the whole file) and, with ``--png``,
``OUT/<stem>.png`` (azimuth against time for each detected class); for a video, ``--video-out`` also
writes ``OUT/<stem>.annotated.mp4``: the input's pictures at 10 fps with every active event drawn as a
vertical line at its azimuth's column (on-screen events highlighted) and the input's stereo audio.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seldlib.constants import (CLASS_NAMES, CLIP_SAMPLES, LABEL_HOP_SECONDS, N_CHANNELS, N_LABEL_FRAMES, SAMPLE_RATE,
                               VIDEO_HFOV_DEG)
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
        video_settings: how the audio-visual models' video features were computed (the
            ``seldlib.visual.ResNetFeatureExtractor`` settings a video store records: ``weights``,
            ``seed``, ``full_fov``, ``resolution``, ``bf16``, ``fold_bn``, ``hop_s``); needed to predict
            from a video file, not when video features are given to :func:`predict_wave`.
        onscreen_threshold: the on-screen threshold of the audio-visual models (tuned at training);
            ``None``: 0.5.

    A Track B (audio-visual) module maps ``(features (B, 2, 251, 64), video (B, 50, 7, 7))`` to its dict.
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
    video_settings: dict[str, Any] | None = None
    onscreen_threshold: float | None = None
    _extractor: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.models:
            raise SeldInputError(None, "no model given")
        for kind, _ in self.models:
            try:
                get_kind(kind)
            except ValueError as err:
                raise SeldInputError(None, str(err)) from None
        kinds = set(self.kinds)
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
        if self.onscreen_threshold is not None and not 0.0 <= self.onscreen_threshold <= 1.0:
            raise SeldInputError(None, f"the on-screen threshold must be in [0, 1], got {self.onscreen_threshold}")

    @property
    def kinds(self) -> list[str]:
        return [k for k, _ in self.models]

    @property
    def needs_video(self) -> bool:
        """Whether a model reads video (a Track B kind)."""
        return any(get_kind(k).track == "B" for k in self.kinds)

    @property
    def video_labels(self) -> list[str]:
        """Labels of the audio-visual kinds among the models (for messages)."""
        return sorted({get_kind(k).label for k in self.kinds if get_kind(k).track == "B"})

    @property
    def onscreen_max_az(self) -> float | None:
        """The field-of-view rule of the kinds that predict on-screen posteriors (``seldlib.kinds``):
        events beyond this azimuth (degrees) are off-screen; ``None``: no rule."""
        rules = [get_kind(k).onscreen_max_az for k in self.kinds if get_kind(k).onscreen is not None]
        rules = [r for r in rules if r is not None]
        return min(rules) if rules else None

    def video_extractor(self):
        """The ``ResNetFeatureExtractor`` of :attr:`video_settings` on :attr:`device` (built once)."""
        if self._extractor is None:
            self._extractor = build_video_extractor(self.video_settings, self.device)
        return self._extractor

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
                         "among them (ensemble); with a video also av_sed_sce_ons / av_ts_sed_sce_ons (alone or "
                         "in the ensemble) or seldnet_av alone")


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


# Video-store attributes that define the features (``seldlib.visual.ResNetFeatureExtractor.attrs`` and the
# label grid); ``device`` and the store's format version do not change them.
VIDEO_SETTING_KEYS = ("weights", "seed", "full_fov", "resolution", "bf16", "fold_bn", "hop_s")


def load_system(
    model_paths: Sequence[str | Path],
    standardizer_path: str | Path | None = None,
    device: str | torch.device = "cpu",
    sed_weights: dict[str, float] | None = None,
    doa_sce_blend: float = 0.0,
    dist_sce_blend: float = 0.0,
    video_store: str | Path | None = None,
) -> System:
    """Load checkpoints (model directories or ``.pt`` files) and the standardiser into a :class:`System`.

    All checkpoints must share one log-mel recipe, and the audio-visual ones one video-feature recipe:
    ``meta["features"]["video"]``, the attributes of the video store they were trained on (written by
    ``stages/train.py``), or those of ``video_store`` (``data/features/video_train.h5``) when given, which
    must then agree with what the checkpoints record. The on-screen threshold is the mean of the
    audio-visual checkpoints' ``meta["onscreen_threshold"]`` (tuned on the validation split at training).
    ``device`` may be ``"auto"``. Raises :class:`SeldInputError` naming the offending file.
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
    video: dict[str, Any] | None = None
    video_source: str | None = None
    on_thresholds: list[float] = []
    for raw in model_paths:
        path = _checkpoint_path(raw)
        model, meta = load_checkpoint(path)
        feats = dict(meta.get("features") or {})
        own_video = feats.pop("video", None)  # audio-visual checkpoints: how their video features were made
        if features is None:
            features = feats
            default_distance = float(meta.get("default_distance_m", 1.0))
        elif feats != features:
            raise SeldInputError(path, f"was trained with feature settings {feats}, unlike {sources[0]} ({features})")
        if get_kind(meta["kind"]).track == "B":
            on_thresholds.append(float(meta.get("onscreen_threshold", 0.5)))
            if own_video is not None:
                own_video = _video_settings(own_video)
                if video is not None and own_video != video:
                    raise SeldInputError(path, f"was trained on video features {own_video}, unlike {video_source} "
                                               f"({video})")
                video, video_source = own_video, str(path)
        models.append((meta["kind"], model.to(dev).eval()))
        sources.append(str(path))
    if video_store is not None:
        from seldlib.featstore import video_store_attrs

        stored = _video_settings(video_store_attrs(video_store))
        if video is not None and stored != video:
            raise SeldInputError(video_store, f"records video features {stored}, but {video_source} was trained "
                                              f"on {video}")
        video = stored
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
    on_threshold = float(np.mean(on_thresholds)) if on_thresholds else None
    return System(models, features, std, dev, sed_weights, doa_sce_blend, dist_sce_blend, default_distance, sources,
                  video_settings=video, onscreen_threshold=on_threshold)


def _video_settings(attrs: dict[str, Any]) -> dict[str, Any]:
    """The feature-defining entries of a video store's attributes, as plain Python values."""
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in attrs.items() if k in VIDEO_SETTING_KEYS}


def build_video_extractor(settings: dict[str, Any] | None, device: str | torch.device = "cpu"):
    """A :class:`seldlib.visual.ResNetFeatureExtractor` computing the video features ``settings`` describe.

    ``bf16`` features are recomputed in bfloat16 where ``device`` supports it, else in float32 with a
    notice (the maps then differ by about 0.2 % of their scale). Raises :class:`SeldInputError` when
    the settings are missing or incomplete, or name ImageNet weights that are not in the torch hub cache.
    """
    from seldlib.device import bf16_supported
    from seldlib.visual import ResNetFeatureExtractor

    if not settings:
        raise SeldInputError(None, "the audio-visual checkpoints record no video feature settings "
                                   "(meta['features']['video']); pass --video-store with the video store they were "
                                   "trained on (data/features/video_train.h5)")
    missing = [k for k in ("weights", "seed", "full_fov", "resolution") if k not in settings]
    if missing:
        raise SeldInputError(None, f"the video feature settings {settings} lack {missing}")
    hop = float(settings.get("hop_s", LABEL_HOP_SECONDS))
    if abs(hop - LABEL_HOP_SECONDS) > 1e-9:
        raise SeldInputError(None, f"the video features were computed every {hop} s; seld picks a frame every "
                                   f"{LABEL_HOP_SECONDS} s")
    dev = torch.device("cuda" if str(device) == "auto" and torch.cuda.is_available() else
                       ("cpu" if str(device) == "auto" else device))
    bf16 = bool(settings.get("bf16", False))
    if bf16 and not bf16_supported(dev):
        print(f"note: the video features were computed in bfloat16, which {dev} does not support natively; "
              "computing them in float32", file=sys.stderr)
        bf16 = False
    try:
        return ResNetFeatureExtractor(weights=settings["weights"], seed=int(settings["seed"]),
                                      full_fov=bool(settings["full_fov"]), resolution=int(settings["resolution"]),
                                      device=dev, bf16=bf16, fold_bn=bool(settings.get("fold_bn", True)))
    except ValueError as err:
        raise SeldInputError(None, f"video feature settings {settings}: {err}") from None


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
    """Turn per-kind stitched arrays ``{kind: {key: (T, ...)}}`` into the system's decodable arrays
    (on-screen posteriors, if any, under ``onscreen``)."""
    from seldlib.ensemble import fuse_outputs, single_outputs

    kinds = set(stitched)
    if len(kinds) == 1:  # a single kind (SELDnet included) is decoded as it is
        kind = next(iter(kinds))
        return single_outputs((kind, stitched[kind]))
    joint = _joint_pair(kinds) if system.sed_weights is None else None
    if joint is not None:
        kind, partner = joint
        return single_outputs((kind, stitched[kind]), (partner, stitched[partner]))
    weights = system.sed_weights if system.sed_weights is not None else {k: 1.0 for k in kinds}
    try:  # on-screen posteriors: the equal-weight mean of the audio-visual members' (``onscreen``)
        return fuse_outputs({k: (k, a) for k, a in stitched.items()}, weights, system.doa_sce_blend,
                            system.dist_sce_blend)
    except ValueError as err:  # e.g. all weight on members without direction
        raise SeldInputError(None, str(err)) from None


def window_video(video: np.ndarray, start_frames: np.ndarray, n_frames: int = N_LABEL_FRAMES) -> np.ndarray:
    """The video features of each window: ``video (F, 7, 7)`` per label frame of the file ->
    ``(n_windows, n_frames, 7, 7)``, window ``i`` taking frames ``start_frames[i] ...`` (+ ``n_frames - 1``).

    Frames past the file's last one (the zero-padded audio tail) repeat its last picture's features.
    """
    video = np.asarray(video, np.float32)
    if video.ndim != 3 or len(video) == 0:
        raise ValueError(f"expected (frames, H, W) video features, got shape {video.shape}")
    idx = np.minimum(np.asarray(start_frames, np.int64)[:, None] + np.arange(n_frames)[None, :], len(video) - 1)
    return video[idx]


def predict_wave(system: System, wave: np.ndarray, hop_s: float = 2.5, threshold: float = 0.5,
                 video: np.ndarray | None = None, onscreen_threshold: float | None = None,
                 postprocess: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None,
                 ) -> tuple[EventTable, dict[str, np.ndarray]]:
    """Predict events for one stereo signal already at the models' sample rate.

    Args:
        wave: ``(2, samples)`` float audio.
        video: ``(total_frames, 7, 7)`` video features, one map per 100-ms label frame of the signal
            (:func:`video_features`), for a system with audio-visual models; each window reads its 50
            frames (:func:`window_video`).
        onscreen_threshold: threshold of the on-screen posteriors; ``None``: the system's (tuned at
            training), 0.5 when it has none.
        postprocess: applied to the system's stitched arrays ``{key: (total_frames, ...)}`` just before
            decoding (the visual refinement, :class:`VisualRefiner`).

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
    if system.needs_video and video is None:
        raise SeldInputError(None, f"{', '.join(system.video_labels)} checkpoints are audio-visual models and need a "
                                   "video; give a video file with a stereo audio track (e.g. MP4)")
    hop = _hop_samples(hop_s)
    frame_samples = int(round(LABEL_HOP_SECONDS * SAMPLE_RATE))
    total_frames = math.ceil(wave.shape[1] / frame_samples)
    starts = window_starts(wave.shape[1], hop)
    start_frames = starts // frame_samples
    # Zero-pad so every window is a full 5-s clip, as in training.
    padded = np.zeros((N_CHANNELS, int(starts[-1]) + CLIP_SAMPLES), np.float32)
    padded[:, : wave.shape[1]] = wave
    logmel = _logmel_for(system)
    std = system.standardizer if system.features.get("standardize") else None
    windows_video = window_video(video, start_frames) if system.needs_video else None

    per_model: list[dict[str, list[np.ndarray]]] = [{} for _ in system.models]
    for b in range(0, len(starts), system.batch_size):
        chunk = starts[b : b + system.batch_size]
        clips = torch.from_numpy(np.stack([padded[:, s : s + CLIP_SAMPLES] for s in chunk]))
        feats = logmel(clips)  # (n, 2, 251, 64): each window's 80 dB floor is its own, as in training
        if std is not None:
            feats = std.apply(feats)
        vid = None if windows_video is None else torch.from_numpy(windows_video[b : b + system.batch_size])
        for i, (kind, model) in enumerate(system.models):
            own = vid if get_kind(kind).track == "B" else None
            out = predict_arrays(model, kind, feats, batch_size=system.batch_size, device=system.device, video=own)
            for key, value in out.items():
                if value.shape[1] != N_LABEL_FRAMES:
                    raise ValueError(f"model {i} ({kind}) returned {value.shape[1]} frames per window, expected {N_LABEL_FRAMES}")
                per_model[i].setdefault(key, []).append(value)

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
    if postprocess is not None:
        combined = postprocess(combined)
    events = decode_system({k: v[None] for k, v in combined.items()}, 0, threshold, system.default_distance_m,
                           onscreen_threshold=_onscreen_threshold(system, onscreen_threshold),
                           onscreen_max_az=system.onscreen_max_az)
    return events.sorted(), combined


def _onscreen_threshold(system: System, override: float | None) -> float:
    if override is not None:
        return float(override)
    return 0.5 if system.onscreen_threshold is None else float(system.onscreen_threshold)


def video_features(system: System, path: str | Path, n_frames: int, progress: bool = False,
                   chunk: int = 100) -> np.ndarray:
    """The video features of a file's first ``n_frames`` label frames: float32 ``(n_frames, 7, 7)``.

    Frame ``t`` is the picture nearest ``t * 0.1 s`` (:func:`seldlib.media.iter_label_frames`), its map
    computed with the system's extractor (:meth:`System.video_extractor`) exactly as the training store
    was; the maps do not depend on the window, so each frame's is computed once and every window takes
    its 50. Pictures are decoded and run through the CNN ``chunk`` at a time (a long video is never held
    in memory). Label frames with no picture within 0.1 s (a video that ends before its audio) take the
    nearest one, with a notice.
    """
    from tqdm import tqdm

    from seldlib.media import iter_label_frames

    extractor = system.video_extractor()
    out = np.zeros((n_frames, 7, 7), np.float32)
    batch: list[np.ndarray] = []
    done, far = 0, 0
    with tqdm(total=n_frames, desc=f"video {Path(path).name}", unit="frame", disable=not progress, leave=False,
              dynamic_ncols=True) as bar:
        def flush() -> None:
            nonlocal done, batch
            if batch:
                maps, _ = extractor.extract(np.stack(batch), flipped=False)
                out[done : done + len(batch)] = maps
                done += len(batch)
                bar.update(len(batch))
                batch = []

        for img, offset in iter_label_frames(path, n_frames, LABEL_HOP_SECONDS):
            far += offset > LABEL_HOP_SECONDS + 1e-9
            batch.append(img)
            if len(batch) >= chunk:
                flush()
        flush()
    if far:
        print(f"note: {path}: {far} of {n_frames} label frames have no picture within {LABEL_HOP_SECONDS} s "
              "(the video is shorter than its audio or has gaps); the nearest picture is used", file=sys.stderr)
    return out


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


def is_audio_file(path: str | Path) -> bool:
    """Whether ``path`` is read as an audio file (soundfile: WAV, FLAC, OGG, ... by its suffix); any other
    file is opened as a video with PyAV (:mod:`seldlib.media`)."""
    import soundfile as sf

    return Path(path).suffix.lower().lstrip(".") in {ext.lower() for ext in sf.available_formats()}


def check_input(path: str | Path, system: System | None = None, need_video: bool = False,
                why: str = "--video-out") -> None:
    """Check an input from its header before any prediction: an audio file (:func:`check_stereo`), or a
    video file with a stereo audio track (:func:`seldlib.media.probe_media`) that also has a video stream
    when ``need_video`` (for the option ``why``) or the system has audio-visual models. An audio file given
    to audio-visual models (or with ``need_video``) is refused. Every refusal is one :class:`SeldInputError`
    naming the file."""
    from seldlib.media import probe_media

    needs = need_video or (system is not None and system.needs_video)
    if is_audio_file(path):
        check_stereo(path)
        if system is not None and system.needs_video:
            raise SeldInputError(path, f"is an audio file, but {', '.join(system.video_labels)} checkpoints are "
                                       "audio-visual models and need a video: give a video file with a stereo audio "
                                       "track (e.g. MP4)")
        if need_video:
            raise SeldInputError(path, f"is an audio file; {why} needs a video input")
        return
    probe_media(path, need_video=needs)


def read_input_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The stereo audio of an audio file (:func:`read_stereo`) or of a video's audio track, as float32
    ``(2, samples)`` at ``sample_rate`` (``seldlib.audio.resample_audio``, with a notice on stderr)."""
    from seldlib.audio import resample_audio
    from seldlib.media import read_audio_track

    if is_audio_file(path):
        return read_stereo(path, sample_rate)
    wave, rate = read_audio_track(path)
    if rate != sample_rate:
        print(f"note: {path}: resampling from {rate} Hz to {sample_rate} Hz", file=sys.stderr)
        try:
            wave = resample_audio(wave, rate, sample_rate)
        except ValueError as err:
            raise SeldInputError(path, f"{err}; re-encode its audio at a common rate (e.g. {sample_rate} Hz)") from None
    return wave


def predict_file(system: System, path: str | Path, hop_s: float = 2.5, threshold: float = 0.5,
                 onscreen_threshold: float | None = None, progress: bool = False,
                 refiner: VisualRefiner | None = None,
                 ) -> tuple[EventTable, dict[str, np.ndarray]]:
    """Read a stereo audio file or a video with a stereo audio track (any length, any sample rate) and
    predict its events; see :func:`predict_wave`. A system with audio-visual models reads the video
    (:func:`video_features`, with a progress bar when ``progress``) and refuses an audio file.
    ``refiner``: refine the fused arrays with detections on the video's key frames before decoding."""
    path = Path(path)
    check_input(path, system)
    wave = read_input_audio(path, SAMPLE_RATE)
    video = None
    if system.needs_video:
        total_frames = math.ceil(wave.shape[1] / int(round(LABEL_HOP_SECONDS * SAMPLE_RATE)))
        video = video_features(system, path, total_frames, progress=progress)
    hook = None
    if refiner is not None:
        check_input(path, need_video=True, why="--detector")
        on_threshold = _onscreen_threshold(system, onscreen_threshold)
        hook = lambda arrays: refiner.refine(arrays, path, threshold, on_threshold, progress)  # noqa: E731
    return predict_wave(system, wave, hop_s, threshold, video=video, onscreen_threshold=onscreen_threshold,
                        postprocess=hook)


# --------------------------------------------------------------------------------------- visual refinement

# The refinement step of `seld --detector` when --refine does not set them: the values docs/postprocessing.md
# gives for the people step (hold_s: half the key-frame interval, so every label frame has a key frame).
DEFAULT_REFINE = {"gate_deg": 15.0, "blend": 1.0, "min_score": 0.5, "onscreen_hit": 1.0, "miss_scale": 0.5}


@dataclass
class VisualRefiner:
    """The visual post-processing of one detector on a whole video (``seldlib.postprocess.refine``).

    Attributes:
        detector: a ``seldlib.detection`` detector (``build_detector``), ``detect(frames, times)``.
        cfg: its ``seldlib.postprocess.RefineConfig``.
        key_fps: key frames per second: the detector sees the picture nearest each ``k / key_fps`` s.
        chunk: key frames decoded and detected at a time (a long video is never held in memory).
        stats: the refinement statistics of the last file (``refine``'s second result).
    """

    detector: Any
    cfg: Any
    key_fps: float = 2.0
    chunk: int = 32
    stats: dict | None = None

    def detect(self, path: str | Path, n_label_frames: int, progress: bool = False):
        """``ClipDetections`` on the key frames covering ``n_label_frames`` label frames of ``path``."""
        from tqdm import tqdm

        from seldlib.detection import ClipDetections
        from seldlib.media import iter_label_frames

        n_keys = max(1, math.ceil(n_label_frames * LABEL_HOP_SECONDS * self.key_fps - 1e-9))
        times = np.arange(n_keys, dtype=np.float64) / self.key_fps
        parts: list[ClipDetections] = []
        batch: list[np.ndarray] = []
        with tqdm(total=n_keys, desc=f"detect {self.detector.name}", unit="frame", disable=not progress,
                  leave=False, dynamic_ncols=True) as bar:
            def flush() -> None:
                start = sum(len(p.times) for p in parts)
                parts.append(self.detector.detect(np.stack(batch), times[start : start + len(batch)]))
                bar.update(len(batch))
                batch.clear()

            for img, _ in iter_label_frames(path, n_keys, 1.0 / self.key_fps):
                batch.append(img)
                if len(batch) == self.chunk:
                    flush()
            if batch:
                flush()
        return _merge_detections(parts, times)

    def refine(self, arrays: dict[str, np.ndarray], path: str | Path, threshold: float, onscreen_threshold: float,
               progress: bool = False) -> dict[str, np.ndarray]:
        """The refined system arrays ``{key: (T, ...)}`` of the video ``path`` (its stem names the clip)."""
        from seldlib.detection import STATUS_OK, DetectionStore
        from seldlib.postprocess import refine

        if "onscreen" not in arrays or "sed" not in arrays:
            raise SeldInputError(None, "--detector refines the on-screen posteriors of class-wise audio-visual models "
                                       "(av_sed_sce_ons, av_ts_sed_sce_ons)")
        arrays = dict(arrays)
        if "doa" not in arrays:  # SCE systems: the direction is the SCE vector's, the distance stays its norm
            arrays["doa"] = arrays["sce"]
        n_frames = len(arrays["sed"])
        name = Path(path).stem
        store = DetectionStore(self.detector.name, STATUS_OK, np.asarray(self.detector.covered, bool),
                               {name: self.detect(path, n_frames, progress)}, self.detector.meta())
        out, self.stats = refine({k: v[None] for k, v in arrays.items()}, [name], store, self.cfg, threshold,
                                 onscreen_threshold)
        return {k: v[0] for k, v in out.items()}


def _merge_detections(parts: list, times: np.ndarray):
    """One ``ClipDetections`` over ``times`` from consecutive chunks of key frames."""
    from seldlib.detection import ClipDetections

    offsets = np.cumsum([0] + [len(p.times) for p in parts])
    keypoints = None
    if parts and all(p.keypoints is not None for p in parts):
        keypoints = np.concatenate([p.keypoints for p in parts])
    return ClipDetections(
        times, np.concatenate([p.frame + o for p, o in zip(parts, offsets)]), np.concatenate([p.box for p in parts]),
        np.concatenate([p.score for p in parts]), [lab for p in parts for lab in p.label],
        np.concatenate([p.azimuth for p in parts]), parts[0].width, parts[0].height, keypoints)


def pipeline_refine_settings(params: str | Path, entry: str) -> tuple[dict, dict[str, float], float]:
    """``(detector entry, refinement parameters, key frames per second)`` of detector ``entry`` in a
    pipeline's params file: ``detect.detectors.<entry>``, ``postprocess.<entry>`` (empty when the
    pipeline does not refine with it) and ``detect.key_fps`` -- what ``stages.detect`` and
    ``stages.postprocess`` use, so that ``seld`` refines a video as ``dvc repro`` did. A relative
    ``weights`` path is taken from the params file's folder, where the pipeline runs."""
    from seldlib.config import read_params

    p = read_params(["detect.key_fps", "detect.detectors", "postprocess"], params)
    detectors = p["detect.detectors"]
    if entry not in detectors:
        raise SeldInputError(params, f"detect.detectors has no entry {entry!r} (it has {', '.join(detectors)})")
    spec = dict(detectors[entry])
    if spec.get("weights") is not None and not Path(spec["weights"]).is_absolute():
        spec["weights"] = str(Path(params).parent / spec["weights"])
    return spec, dict(p["postprocess"].get(entry) or {}), float(p["detect.key_fps"])


def build_refiner(detector: str | dict, key_fps: float = 2.0, refine_args: dict[str, float] | None = None,
                  device: str | torch.device = "cpu", name: str | None = None) -> VisualRefiner:
    """A :class:`VisualRefiner` for ``detector``: a ``seldlib.detection`` kind with its default arguments
    (e.g. ``"haar"``: OpenCV's bundled frontal-face cascade) or a whole ``detect.detectors`` entry
    (``{"kind": "haar", "min_neighbors": 3, ...}``, :func:`pipeline_refine_settings`), with the
    refinement parameters :data:`DEFAULT_REFINE` updated by ``refine_args`` (``hold_s`` defaults to half
    the key-frame interval)."""
    from seldlib.detection import build_detector
    from seldlib.postprocess import RefineConfig

    if not (math.isfinite(key_fps) and key_fps > 0):
        raise SeldInputError(None, f"--key-fps must be positive, got {key_fps:g}")
    values = {**DEFAULT_REFINE, "hold_s": 0.5 / key_fps, **(refine_args or {})}
    try:
        cfg = RefineConfig.from_mapping(values)
    except ValueError as err:
        raise SeldInputError(None, f"--refine: {err}") from None
    spec = {"kind": detector} if isinstance(detector, str) else dict(detector)
    name = name or spec["kind"]
    return VisualRefiner(build_detector(spec, device=str(device), name=name), cfg, key_fps)


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


def azimuth_column(azimuth_deg: np.ndarray | float, width: int, hfov_deg: float = VIDEO_HFOV_DEG) -> np.ndarray:
    """Continuous pixel column ``x = W/2 - f tan(az)`` of azimuth ``az`` (degrees, positive = left) in a
    ``width``-pixel frame of the DCASE2025 pinhole camera, ``f = (W/2) / tan(hfov/2)``; ``(...) -> (...)``.
    Directions outside the field of view fall outside ``[0, W]`` (at the side they lie on)."""
    az = np.clip(np.asarray(azimuth_deg, np.float64), -89.9, 89.9)  # folded azimuths: the front half-plane
    f = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
    return width / 2.0 - f * np.tan(np.deg2rad(az))


def draw_events(image: np.ndarray, events: EventTable, time_s: float | None = None,
                hfov_deg: float = VIDEO_HFOV_DEG) -> np.ndarray:
    """Draw the events of one label frame on a copy of ``image`` uint8 ``(H, W, 3)`` RGB.

    An event inside the camera's field of view is a vertical line at its azimuth's column
    (:func:`azimuth_column`) in its class colour (``seldlib.synth.video.CLASS_COLOURS``) with its class
    name, azimuth and distance; an on-screen event gets a line three times as thick and a filled label
    marked "ON". An event outside the field of view is an arrow at the edge on its side. Sizes scale
    with the width (the reference is 640 px). Returns the drawn copy.
    """
    import cv2

    from seldlib.synth.video import CLASS_COLOURS

    out = np.ascontiguousarray(np.asarray(image, np.uint8).copy())
    h, w = out.shape[:2]
    scale = w / 640.0
    thick = max(1, round(1.5 * scale))
    font, font_scale = cv2.FONT_HERSHEY_SIMPLEX, max(0.3, 0.45 * scale)
    row = int(round(18 * max(scale, 0.6)))
    half = hfov_deg / 2.0
    for i in range(len(events)):
        c, az, on = int(events.cls[i]), float(events.azimuth[i]), bool(events.onscreen[i])
        colour = tuple(int(v) for v in CLASS_COLOURS[c % len(CLASS_COLOURS)])
        name = CLASS_NAMES[c].split(",")[0]
        text = f"{name} {az:+.0f}deg {events.distance[i] / 100:.1f}m" + (" ON" if on else "")
        y = row * (i + 1) + 4
        (tw, th), base = cv2.getTextSize(text, font, font_scale, 1)
        if abs(az) <= half:
            col = int(np.clip(math.floor(float(azimuth_column(az, w, hfov_deg))), 0, w - 1))  # pixel holding x
            width = 3 * thick if on else thick
            out[:, max(col - (width - 1) // 2, 0) : col + width // 2 + 1] = colour
            x = min(col + width + 2, w - tw - 2) if col < w / 2 else max(col - width - 2 - tw, 2)
        else:  # outside the picture: an arrow on its side (positive azimuth = left)
            tip = 2 if az > 0 else w - 3
            direction = 1 if az > 0 else -1
            length = int(round(14 * max(scale, 0.6)))
            cv2.arrowedLine(out, (tip + direction * length, y - th // 2), (tip, y - th // 2), colour, thick,
                            tipLength=0.5)
            x = tip + direction * (length + 4) if az > 0 else tip - length - 4 - tw
        x = int(np.clip(x, 0, max(w - tw, 0)))
        if on:
            cv2.rectangle(out, (x - 2, y - th - 2), (x + tw + 2, y + base), colour, cv2.FILLED)
            cv2.putText(out, text, (x, y), font, font_scale, (0, 0, 0), 1, cv2.LINE_AA)
        else:
            cv2.putText(out, text, (x, y), font, font_scale, (0, 0, 0), 3, cv2.LINE_AA)  # dark outline
            cv2.putText(out, text, (x, y), font, font_scale, colour, 1, cv2.LINE_AA)
    if time_s is not None:
        stamp = f"{time_s:7.1f} s"
        cv2.putText(out, stamp, (4, h - 6), font, font_scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, stamp, (4, h - 6), font, font_scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def write_annotated_video(path: str | Path, video_path: str | Path, events: EventTable, total_frames: int,
                          with_audio: bool = True, progress: bool = False) -> int:
    """Write ``path``: the pictures of ``video_path`` at the 10-fps label rate (the frame nearest each
    0.1·k s, ``total_frames`` of them) with each label frame's events drawn (:func:`draw_events`), H.264,
    and (``with_audio``) the input's stereo audio track as AAC; atomically. Returns the frame count."""
    from tqdm import tqdm

    from seldlib.media import iter_label_frames, read_audio_track, write_video

    events = events.sorted()
    bounds = np.searchsorted(events.frame, np.arange(total_frames + 1))
    audio, rate = read_audio_track(video_path) if with_audio else (None, None)

    def frames():
        for t, (img, _) in enumerate(iter_label_frames(video_path, total_frames, LABEL_HOP_SECONDS)):
            yield draw_events(img, events.take(np.arange(bounds[t], bounds[t + 1])), time_s=t * LABEL_HOP_SECONDS)

    bar = tqdm(frames(), total=total_frames, desc=f"annotate {Path(video_path).name}", unit="frame",
               disable=not progress, leave=False, dynamic_ncols=True)
    return write_video(path, bar, 1.0 / LABEL_HOP_SECONDS, audio, rate)


def _parse_weights(text: str | None) -> dict[str, float] | None:
    """``"sed_doa=1,sed_sde=0.5"`` -> ``{"sed_doa": 1.0, "sed_sde": 0.5}`` (``None`` stays ``None``)."""
    weights = _parse_key_values(text, "--sed-weights")
    fusable = sorted(k for k, spec in KINDS.items() if spec.fusable)
    for kind in weights or {}:
        if kind not in fusable:
            raise SeldInputError(None, f"--sed-weights expects KIND=WEIGHT with KIND in {fusable}, got {kind!r}")
    return weights


def _parse_key_values(text: str | None, option: str) -> dict[str, float] | None:
    """``"a=1,b=0.5"`` -> ``{"a": 1.0, "b": 0.5}`` (``None`` stays ``None``); names are checked by the user."""
    if text is None:
        return None
    out: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        key, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or not key.strip() or not math.isfinite(number):
            raise SeldInputError(None, f"{option} expects KEY=NUMBER[,KEY=NUMBER...], got {item!r}")
        out[key.strip()] = number
    return out


def _build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="seld", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="--models takes several paths: put the inputs after another option or "
                                        "after --.")
    ap.add_argument("inputs", nargs="+", metavar="FILE", type=Path,
                    help="stereo audio files (WAV, FLAC, ...) or videos with a stereo audio track (MP4, ...), "
                         "any length")
    ap.add_argument("--models", nargs="+", required=True, type=Path,
                    help="model directories (holding model.pt) or checkpoint files")
    ap.add_argument("--standardizer", type=Path, default=None, help="standardiser .npz (data/features/standardizer.npz)")
    ap.add_argument("--out", type=Path, required=True, help="folder for <stem>.csv (and .png, .annotated.mp4)")
    ap.add_argument("--threshold", type=float, default=0.5, help="SED threshold (default 0.5)")
    ap.add_argument("--onscreen-threshold", type=float, default=None,
                    help="on-screen threshold (default: the audio-visual checkpoints' tuned value)")
    ap.add_argument("--hop", type=float, default=2.5, help="window hop in seconds, a multiple of 0.1 (default 2.5)")
    ap.add_argument("--png", action="store_true", help="also plot detected events to <stem>.png")
    ap.add_argument("--video-out", action="store_true",
                    help="for a video: also write <stem>.annotated.mp4 (10 fps, events drawn, stereo audio)")
    ap.add_argument("--video-store", type=Path, default=None,
                    help="video feature store whose settings the audio-visual checkpoints were trained with "
                         "(data/features/video_train.h5); only for checkpoints that do not record them")
    ap.add_argument("--detector", default=None, metavar="NAME",
                    help="visual post-processing of a video: refine the audio-visual prediction with faces found "
                         "on key frames. Without --params: haar (OpenCV's bundled frontal-face cascade, default "
                         "settings); with --params: an entry of its detect.detectors, e.g. people")
    ap.add_argument("--params", type=Path, default=None, metavar="PARAMS_YAML",
                    help="a pipeline's params.yaml: --detector NAME then takes detect.detectors.NAME, "
                         "postprocess.NAME and detect.key_fps from it, as the pipeline's detect and postprocess "
                         "stages do (--key-fps and --refine override them)")
    ap.add_argument("--key-fps", type=float, default=None,
                    help="key frames per second for --detector (default: detect.key_fps of --params, else 2)")
    ap.add_argument("--refine", default=None, metavar="KEY=V[,KEY=V...]",
                    help="refinement parameters for --detector (seldlib.postprocess.RefineConfig; default: "
                         "postprocess.NAME of --params, else "
                         + ",".join(f"{k}={v:g}" for k, v in DEFAULT_REFINE.items()) + ",hold_s=0.5/key_fps)")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] (default auto)")
    ap.add_argument("--sed-weights", default=None, metavar="KIND=W[,KIND=W...]",
                    help="SED fusion weights, e.g. sed_doa=1,sed_sde=0.5,sed_sce=1 (default equal)")
    ap.add_argument("--doa-sce-blend", type=float, default=0.0, help="weight of the SCE direction in the fusion")
    ap.add_argument("--dist-sce-blend", type=float, default=0.0, help="weight of the SCE norm in the fused distance")
    ap.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns 0 on success, 2 on bad input (one ``error:`` line on stderr)."""
    from seldlib.hostmem import keep_freed_memory

    keep_freed_memory()  # as the stages: freed activations are reused, not faulted in again
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
    if args.onscreen_threshold is not None and not 0.0 <= args.onscreen_threshold <= 1.0:
        raise SeldInputError(None, "--onscreen-threshold must be in [0, 1]")
    for name in ("doa_sce_blend", "dist_sce_blend"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise SeldInputError(None, f"--{name.replace('_', '-')} must be in [0, 1]")
    _hop_samples(args.hop)
    stems: dict[str, Path] = {}
    need_video = args.video_out or args.detector is not None
    why = "--video-out" if args.video_out else "--detector"
    refine_args = _parse_key_values(args.refine, "--refine")
    if args.detector is None and (refine_args or args.params is not None or args.key_fps is not None):
        raise SeldInputError(None, "--refine, --params and --key-fps set up --detector; give --detector too")
    detector: str | dict | None = args.detector
    key_fps = args.key_fps
    if args.params is not None:
        detector, pipeline_refine, pipeline_fps = pipeline_refine_settings(args.params, args.detector)
        refine_args = {**pipeline_refine, **(refine_args or {})}
        key_fps = pipeline_fps if key_fps is None else key_fps
    elif args.detector is not None and args.detector != "haar":
        raise SeldInputError(None, f"--detector {args.detector!r}: without --params only haar is known "
                                   "(give --params params.yaml to use one of its detect.detectors entries)")
    key_fps = 2.0 if key_fps is None else key_fps
    for path in args.inputs:
        if path.stem in stems:
            raise SeldInputError(path, f"has the same name as {stems[path.stem]}; both would write {path.stem}.csv")
        stems[path.stem] = path
        check_input(path, need_video=need_video, why=why)  # fail on a bad file before loading or predicting anything
    system = load_system(args.models, args.standardizer, args.device, _parse_weights(args.sed_weights),
                         args.doa_sce_blend, args.dist_sce_blend, video_store=args.video_store)
    for path in args.inputs:
        check_input(path, system, need_video=need_video, why=why)  # e.g. a WAV given to audio-visual models
    refiner = None
    if args.detector is not None:
        if not system.needs_video or any("accdoa" in get_kind(k).outputs for k in system.kinds):
            raise SeldInputError(None, "--detector refines the on-screen posteriors of class-wise audio-visual "
                                       "models: give av_sed_sce_ons / av_ts_sed_sce_ons checkpoints")
        refiner = build_refiner(detector, key_fps, refine_args, system.device, name=args.detector)
    if args.out.exists() and not args.out.is_dir():
        raise SeldInputError(args.out, "output path exists and is not a folder")
    for path in args.inputs:
        target = args.out / f"{path.stem}.annotated.mp4"
        if args.video_out and target.resolve() == path.resolve():
            raise SeldInputError(path, f"would be overwritten by its annotated video {target}; choose another --out")
    if system.needs_video:
        system.video_extractor()  # missing ImageNet weights or settings: fail before the first file
    print(f"system: {system.description} on {system.device}", file=sys.stderr)
    progress = not args.no_progress
    for path in tqdm(args.inputs, desc="predict", unit="file", disable=not progress, dynamic_ncols=True):
        events, arrays = predict_file(system, path, hop_s=args.hop, threshold=args.threshold,
                                      onscreen_threshold=args.onscreen_threshold, progress=progress, refiner=refiner)
        if refiner is not None and refiner.stats is not None:
            n = {k: sum(refiner.stats[k]) for k in ("snapped", "lowered", "untouched")}
            print(f"{path.name}: {args.detector} refinement: {n['snapped']} class-frames snapped to a detection, "
                  f"{n['lowered']} on-screen posteriors lowered, {n['untouched']} untouched", file=sys.stderr)
        total_frames = len(next(iter(arrays.values())))
        write_metadata_csv(args.out / f"{path.stem}.csv", events)
        if args.png:
            plot_events(args.out / f"{path.stem}.png", events, total_frames, title=f"{path.name}: {system.description}")
        if args.video_out:
            write_annotated_video(args.out / f"{path.stem}.annotated.mp4", path, events, total_frames,
                                  progress=progress)
    print(f"{len(args.inputs)} file(s) -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
