"""The model output store: one system's frame-wise output arrays for a set of clips, in HDF5.

The infer stages write it (``data/outputs/<model>.h5``, ``data/outputs_av/<model>.h5``), the ensembles
and the post-processing read and write it, and the evaluation reads it. It needs neither torch nor a
model, so the stages that only fuse, refine or score outputs start without importing torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from seldlib.atomic import atomic_path
from seldlib.errors import SeldInputError

__all__ = ["write_outputs_h5", "read_outputs_h5"]


def write_outputs_h5(path, names: list[str], arrays: dict[str, np.ndarray], attrs: dict | None = None) -> None:
    """Store frame-wise outputs ``{key: (N, 50, ...)}`` with clip ``names``, deterministically (no timestamps)."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", track_order=True) as h5:
            h5.create_dataset("names", data=np.array(names, dtype=h5py.string_dtype()), track_times=False)
            for key in sorted(arrays):
                h5.create_dataset(key, data=np.asarray(arrays[key], np.float32), track_times=False)
            h5.attrs["meta"] = json.dumps(attrs or {}, sort_keys=True)


def read_outputs_h5(path) -> tuple[list[str], dict[str, np.ndarray], dict]:
    """Inverse of :func:`write_outputs_h5`; a missing file, or one without its model's kind, is a
    ``SeldInputError`` naming it."""
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
