"""Running a trained model over feature batches and decoding its outputs into events.

Every system (single model, baseline, ensemble) is decoded by the functions here so that all rows of
a results table are scored by the same code.
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


def write_outputs_h5(path, names: list[str], arrays: dict[str, np.ndarray], attrs: dict | None = None) -> None:
    """Store frame-wise outputs ``{key: (N, 50, ...)}`` with clip ``names``, deterministically (no timestamps)."""
    import json

    import h5py

    from seldlib.atomic import atomic_path

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", track_order=True) as h5:
            h5.create_dataset("names", data=np.array(names, dtype=h5py.string_dtype()), track_times=False)
            for key in sorted(arrays):
                h5.create_dataset(key, data=np.asarray(arrays[key], np.float32), track_times=False)
            h5.attrs["meta"] = json.dumps(attrs or {}, sort_keys=True)


def read_outputs_h5(path) -> tuple[list[str], dict[str, np.ndarray], dict]:
    """Inverse of :func:`write_outputs_h5`; a missing file, or one without its model's kind, is a
    ``SeldInputError`` naming it."""
    import json
    from pathlib import Path

    import h5py

    from seldlib.errors import SeldInputError

    path = Path(path)
    if not path.is_file():
        raise SeldInputError(path, "model output file not found (run the infer stage for this model)")
    with h5py.File(path, "r") as h5:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in h5["names"][()]]
        arrays = {k: h5[k][()] for k in h5.keys() if k != "names"}
        meta = json.loads(h5.attrs.get("meta", "{}"))
    for key in ("kind", "threshold", "default_distance_m"):
        if key not in meta:
            raise SeldInputError(path, f"model outputs lack {key!r} in their meta (written by an older version?)")
    return names, arrays, meta
