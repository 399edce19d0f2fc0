"""Batched training augmentation: stereo channel swap (with its audio-visual form) and input mixup.

* **Stereo channel swap (SCS)** (NERC-SLIP report, section 1.1; ``docs/networks.md#stereo-channel-swap``):
  L = W + Y', R = W - Y', so swapping L and R flips Y' -> -Y', a mirror about the front-back plane:
  azimuth -> -azimuth. Distance, class and onscreen do not change (the camera's field of view is
  symmetric about its centre). On log-mel features it is exactly a swap of the two channels; on
  targets it negates every y = sin(azimuth) component.
* **Audio-visual pixel swap (AVPS)** (report, section 2.1; ``docs/networks.md#audio-visual-pixel-swap``):
  for the rectilinear camera az = atan((c_x - x)/f), so mirroring the frame horizontally is the same
  azimuth negation. With video features of the flipped frames precomputed (``video_flipped``), the
  swap exchanges ``video`` and ``video_flipped``.
* **Mixup** (Zhang et al., ICLR 2018; report, section 1.1; ``docs/networks.md#mixup``):
  ``x~ = lam * x + (1 - lam) * x[perm]`` with ``lam ~ Beta(alpha, alpha)`` (lam weights the *original* item; the group's code writes the mirror-image convention, which has the
  same distribution because Beta(a, a) is symmetric). Targets are not mixed: the loss is
  ``lam * L(pred, y) + (1 - lam) * L(pred, y[perm])``, so unit DOA vectors of different sources are
  never averaged.

Batch layout (keys as produced by the feature stores): ``features (B, 2, T, F)`` (0 = L, 1 = R),
optional ``video``/``video_flipped (B, 50, 7, 7)``, targets ``sed (B, 50, 13)``, ``doa (B, 50, 13, 2)``,
``dist``, ``sce (B, 50, 13, 2)``, ``onscreen``, ``adpit (B, 50, 6, 5, 13)`` with elements
(act, x, y, dist, onscreen). Keys not listed pass through unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import Tensor

FEATURE_KEY = "features"
VIDEO_KEYS = ("video", "video_flipped")
# Inputs that mixup blends; everything else in a batch is a target (or passes through).
INPUT_KEYS = (FEATURE_KEY, *VIDEO_KEYS)
ADPIT_Y = 2  # index of y = sin(azimuth) among the ADPIT elements (act, x, y, dist, onscreen)


def _negate_where(x: Tensor, mask: Tensor, index: tuple) -> Tensor:
    """Copy of ``x`` with ``x[b][index]`` negated for the batch items ``b`` where ``mask`` is True."""
    out = x.clone()
    sel = (mask.to(x.device), Ellipsis, *index)
    out[sel] = -out[sel]
    return out


def channel_swap(batch: Mapping[str, Tensor], mask: Tensor, swap_video: bool = True) -> dict[str, Tensor]:
    """Stereo channel swap of the batch items where ``mask`` (bool ``(B,)``) is True; returns a new dict.

    ``features (B, 2, T, F)``: channels exchanged. ``doa``/``sce`` ``(..., 2)``: y -> -y. ``adpit
    (B, 50, 6, 5, 13)``: element 2 (y) -> -y. ``sed``, ``dist``, ``onscreen`` unchanged.
    With ``swap_video`` (audio-visual pixel swap), ``video`` and ``video_flipped`` are exchanged for the
    swapped items; both must then be present if either is. Without it video passes unchanged, which is
    only consistent for audio-only models. The input tensors are not modified.
    """
    mask = torch.as_tensor(mask, dtype=torch.bool)
    out = dict(batch)
    feats = batch.get(FEATURE_KEY)
    if feats is not None:
        if feats.ndim < 2 or feats.shape[1] != 2:
            raise ValueError(f"channel swap needs stereo features (B, 2, ...), got shape {tuple(feats.shape)}")
        if mask.shape != (feats.shape[0],):
            raise ValueError(f"mask must have shape ({feats.shape[0]},), got {tuple(mask.shape)}")
        m = mask.to(feats.device).view(-1, *([1] * (feats.ndim - 1)))
        out[FEATURE_KEY] = torch.where(m, feats.flip(1), feats)
    if not bool(mask.any()):
        return out
    for key in ("doa", "sce"):
        if key in batch:
            out[key] = _negate_where(batch[key], mask, (1,))
    if "adpit" in batch:
        out["adpit"] = _negate_where(batch["adpit"], mask, (ADPIT_Y, slice(None)))
    present = [k for k in VIDEO_KEYS if k in batch]
    if swap_video and present:
        if len(present) != 2:
            raise ValueError("audio-visual swap needs both 'video' and 'video_flipped' in the batch")
        video, flipped = batch["video"], batch["video_flipped"]
        m = mask.to(video.device).view(-1, *([1] * (video.ndim - 1)))
        out["video"] = torch.where(m, flipped, video)
        out["video_flipped"] = torch.where(m, video, flipped)
    return out


def sample_beta(generator: torch.Generator, alpha: float) -> float:
    """One draw of Beta(alpha, alpha), reproducible from ``generator``.

    torch's Beta sampler takes no generator, so a numpy stream is seeded from one draw of ``generator``.
    """
    if alpha <= 0:
        raise ValueError(f"mixup alpha must be positive, got {alpha}")
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def mixup(features: Tensor, generator: torch.Generator, alpha: float) -> tuple[Tensor, Tensor, float]:
    """Input mixup: ``(lam * x + (1 - lam) * x[perm], perm, lam)``.

    ``features``: ``(B, ...)``; ``perm``: int64 ``(B,)`` random permutation (on CPU); ``lam`` in [0, 1].
    """
    perm = torch.randperm(features.shape[0], generator=generator)
    lam = sample_beta(generator, alpha)
    return mix_with(features, perm, lam), perm, lam


def mix_with(x: Tensor, perm: Tensor, lam: float) -> Tensor:
    """``lam * x + (1 - lam) * x[perm]`` for a given permutation and weight (same dtype as ``x``)."""
    return lam * x + (1.0 - lam) * x[perm.to(x.device)]


def _take(targets: Any, perm: Tensor) -> Any:
    if isinstance(targets, Tensor):
        return targets[perm.to(targets.device)]
    if isinstance(targets, Mapping):
        return {k: _take(v, perm) for k, v in targets.items()}
    if isinstance(targets, (list, tuple)):
        return type(targets)(_take(v, perm) for v in targets)
    raise TypeError(f"cannot permute targets of type {type(targets).__name__}")


def mixup_loss(loss_fn: Callable[[Any, Any], Tensor], pred: Any, targets: Any, perm: Tensor | None,
               lam: float | Tensor) -> Tensor:
    """``lam * loss_fn(pred, targets) + (1 - lam) * loss_fn(pred, targets[perm])``.

    ``targets`` may be a tensor, a dict or a list/tuple of tensors (each indexed by ``perm`` along dim 0).
    Each term computes its own loss (own activity masks), so targets are never averaged.
    With ``perm`` None (no mixup this step) it is just ``loss_fn(pred, targets)``.
    """
    if perm is None:
        return loss_fn(pred, targets)
    return lam * loss_fn(pred, targets) + (1.0 - lam) * loss_fn(pred, _take(targets, perm))


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings.

    scs_prob: per-item probability of the stereo channel swap.
    avps: also swap the video features (audio-visual pixel swap) when the batch carries them.
    mixup_prob: per-batch probability of mixup. mixup_alpha: Beta(alpha, alpha) parameter.
    """

    scs_prob: float = 0.5
    avps: bool = True
    mixup_prob: float = 0.0
    mixup_alpha: float = 0.5

    def __post_init__(self) -> None:
        for name in ("scs_prob", "mixup_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.mixup_alpha <= 0:
            raise ValueError(f"mixup_alpha must be positive, got {self.mixup_alpha}")


class Augmenter:
    """Applies SCS (and AVPS), then mixup, to a batch dict.

    Randomness comes from a generator seeded by ``(seed, step)``, so a step's augmentation does not depend
    on what ran before it (resuming at step k reproduces the same batches). Without ``step`` an internal
    counter is used. When mixup is applied the returned batch carries ``mix_perm`` (int64 ``(B,)``) and
    ``mix_lam`` (float32 scalar tensor) for :func:`mixup_loss`; the targets themselves are left unmixed.
    """

    def __init__(self, cfg: AugmentConfig, seed: int) -> None:
        self.cfg = cfg
        self.seed = int(seed)
        self._calls = 0

    def generator(self, step: int) -> torch.Generator:
        state = np.random.SeedSequence([self.seed, int(step)]).generate_state(2, dtype=np.uint32)
        return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))

    def __call__(self, batch: Mapping[str, Tensor], step: int | None = None) -> dict[str, Tensor]:
        if step is None:
            step = self._calls
        self._calls += 1
        gen = self.generator(step)
        n = batch[FEATURE_KEY].shape[0]
        # Fixed draw order (swap mask, then mixup gate, then perm and lam), whatever gets applied.
        swap = torch.rand(n, generator=gen) < self.cfg.scs_prob
        out = channel_swap(batch, swap, swap_video=self.cfg.avps)
        if float(torch.rand(1, generator=gen)) < self.cfg.mixup_prob:
            out[FEATURE_KEY], perm, lam = mixup(out[FEATURE_KEY], gen, self.cfg.mixup_alpha)
            for key in VIDEO_KEYS:  # the same blend for the video inputs, so modalities stay paired
                if key in out:
                    out[key] = mix_with(out[key], perm, lam)
            out["mix_perm"] = perm
            out["mix_lam"] = torch.tensor(lam, dtype=torch.float32)
        return out
