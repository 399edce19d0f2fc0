"""In-memory training and validation splits read from the HDF5 feature store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from seldlib.labels import decode_adpit
from seldlib.metadata import EventTable
from seldlib.standardizer import Standardizer


@dataclass
class TensorSet:
    """An in-memory split: ``features (N, 2, T, 64)`` plus label tensors keyed like ``ClipLabels``."""

    names: list[str]
    tensors: dict[str, Tensor]

    def __len__(self) -> int:
        return len(self.names)

    def batch(self, index: Tensor) -> dict[str, Tensor]:
        return {k: v[index] for k, v in self.tensors.items()}

    @staticmethod
    def concat(sets: list["TensorSet"]) -> "TensorSet":
        sets = [s for s in sets if len(s)]
        keys = set.intersection(*(set(s.tensors) for s in sets))
        return TensorSet(sum((s.names for s in sets), []), {k: torch.cat([s.tensors[k] for s in sets]) for k in sorted(keys)})


def load_tensor_set(h5_path: str | Path, standardizer: Standardizer | None = None,
                    fields: tuple[str, ...] = ("sed", "doa", "dist", "sce", "onscreen", "adpit")) -> TensorSet:
    """Read a whole feature store into memory (features standardised if a standardiser is given)."""
    import h5py

    with h5py.File(h5_path, "r") as h5:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in h5["names"][()]]
        tensors = {"features": torch.from_numpy(np.asarray(h5["features"][()], np.float32))}
        for f in fields:
            tensors[f] = torch.from_numpy(np.asarray(h5[f][()], np.float32))
    if standardizer is not None and len(names):
        tensors["features"] = standardizer.apply(tensors["features"])
    return TensorSet(names, tensors)


def on_device(data: TensorSet, device: torch.device, log: Callable[[str], None]) -> TensorSet:
    """Keep the whole set on the GPU when it takes under half of the free memory, so batches are
    gathered there instead of being copied from the host every step (the data wait on a GPU)."""
    if device.type != "cuda":
        return data
    size = sum(t.numel() * t.element_size() for t in data.tensors.values())
    free, _ = torch.cuda.mem_get_info(device)
    if size > free // 2:
        log(f"training set ({size / 2**30:.1f} GiB) stays in host memory")
        return data
    return TensorSet(data.names, {k: v.to(device) for k, v in data.tensors.items()})


def reference_events(labels: dict[str, Tensor], index: int) -> EventTable:
    """Reference events of clip ``index`` rebuilt from its ADPIT target (keeps up to 3 same-class events)."""
    return decode_adpit(labels["adpit"][index].numpy())
