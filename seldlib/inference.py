"""Running a trained model over feature batches: frame-wise output arrays per kind.

The arrays are stored by ``seldlib.outputs`` and decoded into events by ``seldlib.predictions.decode_system``
for every system (single model, baseline, ensemble), so that all rows of a results table are scored by
the same code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import torch
from torch import Tensor, nn

from seldlib.kinds import KindSpec, get_kind


def iter_batches(features: Tensor, batch_size: int) -> Iterator[tuple[int, Tensor]]:
    """Yield ``(start, features[start:start+batch_size])``."""
    for start in range(0, len(features), batch_size):
        yield start, features[start : start + batch_size]


def model_inputs(spec: KindSpec, batch: Mapping[str, Tensor]) -> tuple[Tensor, ...]:
    """The positional inputs of a model of kind ``spec``: ``(features,)``, or ``(features, video)`` for a
    kind that reads video (``features (B, 2, T, 64)``, ``video (B, 50, 7, 7)``)."""
    if "video" not in spec.needs:
        return (batch["features"],)
    if batch.get("video") is None:
        raise ValueError(f"a {spec.label} model needs the clips' video features")
    return batch["features"], batch["video"]


@torch.inference_mode()
def predict_arrays(
    model: nn.Module, kind: str, features: Tensor, batch_size: int = 32, device: str | torch.device = "cpu",
    video: Tensor | None = None,
) -> dict[str, np.ndarray]:
    """Frame-wise outputs for a stack of clips.

    Args:
        features: ``(N, 2, T, 64)`` standardised log-mel features (on any device).
        video: ``(N, 50, 7, 7)`` video features of the same clips, for a kind that reads video.

    Returns:
        ``{key: (N, 50, ...) float32}`` for the output keys of ``kind`` (``seldlib.kinds``).
    """
    model.eval()
    spec = get_kind(kind)
    keys = spec.output_keys
    chunks: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for start, batch in iter_batches(features, batch_size):
        clips = {"features": batch.to(device, non_blocking=True),
                 "video": None if video is None else video[start : start + len(batch)].to(device, non_blocking=True)}
        out = model(*model_inputs(spec, clips))
        for k in keys:
            chunks[k].append(out[k].float().cpu().numpy())
    if not len(features):
        return {k: np.zeros((0,), np.float32) for k in keys}
    return {k: np.concatenate(v) for k, v in chunks.items()}
