"""Training and validation splits read from the HDF5 feature stores.

A split is either in memory (:class:`TensorSet`, on the host or resident on the GPU) or left on disk
(:class:`StoreSet`) and streamed by ``DataLoader`` worker processes, so that the processes of a
data-parallel run do not each hold a copy (``docs/training.md#memory``). Which rows each step reads
is decided by the training loop (``seldlib.train.Planner``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import ConcatDataset, DataLoader, Sampler

from seldlib.standardizer import Standardizer

TRAIN_FIELDS: tuple[str, ...] = ("sed", "doa", "dist", "sce", "onscreen", "adpit")
LOADERS = ("auto", "memory", "stream")


@dataclass
class TensorSet:
    """An in-memory split: ``features (N, 2, T, 64)`` plus label tensors keyed like ``ClipLabels``, and
    (for validation) each clip's reference CSV text, read as the evaluation reads its files."""

    names: list[str]
    tensors: dict[str, Tensor]
    references: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)

    def batch(self, index: Tensor) -> dict[str, Tensor]:
        return {k: v[index] for k, v in self.tensors.items()}

    @staticmethod
    def concat(sets: list["TensorSet"]) -> "TensorSet":
        sets = [s for s in sets if len(s)]
        keys = set.intersection(*(set(s.tensors) for s in sets))
        refs = sum((s.references for s in sets), []) if all(s.references for s in sets) else []
        return TensorSet(sum((s.names for s in sets), []), {k: torch.cat([s.tensors[k] for s in sets]) for k in sorted(keys)},
                         refs)


def load_tensor_set(h5_path: str | Path, standardizer: Standardizer | None = None,
                    fields: tuple[str, ...] = TRAIN_FIELDS,
                    references: bool = False, video_h5: str | Path | None = None) -> TensorSet:
    """Read a whole feature store into memory (features standardised if a standardiser is given;
    ``references``: also each clip's reference CSV text; ``video_h5``: also each clip's video features
    ``video (N, 50, 7, 7)`` from that video store, joined by clip name)."""
    import h5py

    from seldlib.featstore import FeatureDataset

    with h5py.File(h5_path, "r") as h5:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in h5["names"][()]]
        tensors = {"features": torch.from_numpy(np.asarray(h5["features"][()], np.float32))}
        for f in fields:
            tensors[f] = torch.from_numpy(np.asarray(h5[f][()], np.float32))
        refs = [r.decode() if isinstance(r, bytes) else str(r) for r in h5["reference_csv"][()]] if references else []
    if video_h5 is not None:
        index = FeatureDataset(h5_path, video_h5=video_h5, fields=()).video_index  # checks the join
        with h5py.File(video_h5, "r") as vh5:
            tensors["video"] = torch.from_numpy(np.asarray(vh5["features"][()], np.float32)[index])
    if standardizer is not None and len(names):
        tensors["features"] = standardizer.apply(tensors["features"])
    return TensorSet(names, tensors, refs)


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
    return TensorSet(data.names, {k: v.to(device) for k, v in data.tensors.items()}, data.references)


# --------------------------------------------------------------------------- stores left on disk


class StoreSet:
    """Training stores left on disk (HDF5, :mod:`seldlib.featstore` layout), concatenated in order;
    rows are read when a step needs them, ``features`` standardised if a standardiser is given.
    Opening checks each store (:class:`~seldlib.featstore.FeatureDataset`: a missing file or dataset
    is a :class:`~seldlib.errors.SeldInputError` naming it)."""

    def __init__(self, paths: Iterable[str | Path], standardizer: Standardizer | None = None,
                 fields: tuple[str, ...] = TRAIN_FIELDS, video: Iterable[str | Path] | None = None) -> None:
        from seldlib.featstore import FeatureDataset

        self.paths = tuple(Path(p) for p in paths)
        self.standardizer, self.fields = standardizer, tuple(fields)
        # ``video``: one video store per audio store, for audio-visual training (``video``, ``video_flipped``)
        self.video = None if video is None else tuple(Path(v) for v in video)
        if self.video is not None and len(self.video) != len(self.paths):
            raise ValueError(f"{len(self.paths)} feature stores but {len(self.video)} video stores")
        self.stores = [FeatureDataset(p, standardizer, fields=self.fields, video_h5=v, video_flipped=v is not None)
                       for p, v in zip(self.paths, self.video or [None] * len(self.paths))]

    def __len__(self) -> int:
        return sum(len(s) for s in self.stores)

    def nbytes(self) -> int:
        """Size of the whole set in memory (float32 features and label arrays)."""
        import h5py

        with h5py.File(self.paths[0], "r") as h5:
            per_clip = sum(int(np.prod(h5[k].shape[1:])) * 4 for k in ("features", *self.fields))
        if self.video is not None:
            with h5py.File(self.video[0], "r") as vh5:
                per_clip += 2 * int(np.prod(vh5["features"].shape[1:])) * 4
        return per_clip * len(self)

    def dataset(self) -> ConcatDataset:
        """The rows as one torch ``Dataset``."""
        return ConcatDataset([s for s in self.stores if len(s)])

    def load(self, device: torch.device, block: int = 256) -> TensorSet:
        """The whole set in memory on ``device``, read ``block`` clips at a time (so that loading it
        onto a GPU never holds a host copy); values equal :func:`load_tensor_set`'s."""
        import h5py

        n = len(self)
        tensors: dict[str, Tensor] = {}
        at = 0
        for store in self.stores:
            with h5py.File(store.h5_path, "r") as h5:
                for key in ("features", *self.fields):
                    if key not in tensors:
                        tensors[key] = torch.empty((n, *h5[key].shape[1:]), dtype=torch.float32, device=device)
                    for start in range(0, len(store), block):
                        stop = min(start + block, len(store))
                        x = torch.from_numpy(np.asarray(h5[key][start:stop], np.float32)).to(device)
                        if key == "features" and self.standardizer is not None:
                            x = self.standardizer.apply(x)
                        tensors[key][at + start : at + stop] = x
            if store.video_h5 is not None:
                with h5py.File(store.video_h5, "r") as vh5:
                    for key, name in (("video", "features"), ("video_flipped", "features_flipped")):
                        rows = torch.from_numpy(np.asarray(vh5[name][()], np.float32)[store.video_index]).to(device)
                        if key not in tensors:
                            tensors[key] = torch.empty((n, *rows.shape[1:]), dtype=torch.float32, device=device)
                        tensors[key][at : at + len(store)] = rows
            at += len(store)
        return TensorSet(sum((s.names for s in self.stores), []), tensors)


def _host_available() -> int:
    """Bytes of host memory available to new allocations (``MemAvailable`` where the kernel reports it)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def prepare(data: TensorSet | StoreSet, device: torch.device, loader: str, local_world: int,
            log: Callable[[str], None]) -> TensorSet | StoreSet:
    """Where the training rows live during the run: in memory (a :class:`TensorSet`, resident on the
    GPU when it takes under half of its free memory) or streamed from the stores (the
    :class:`StoreSet` itself). ``loader``: ``memory``, ``stream`` or ``auto``, which keeps the set on
    the GPU when it fits, else streams; on a CPU it keeps the set in memory for a single process
    when it takes under half of the available memory, and streams for several processes
    (``local_world`` on this node), which would each hold a copy."""
    if loader not in LOADERS:
        raise ValueError(f"loader must be one of {LOADERS}, got {loader!r}")
    if isinstance(data, TensorSet):
        return on_device(data, device, log)
    size = data.nbytes()
    if loader == "auto":
        if device.type == "cuda":
            loader = "memory" if size <= torch.cuda.mem_get_info(device)[0] // 2 else "stream"
        else:
            loader = "memory" if local_world == 1 and size <= _host_available() // 2 else "stream"
    if loader == "stream":
        log(f"training set ({len(data)} clips, {size / 2**30:.1f} GiB) streamed from {len(data.paths)} store(s)")
        return data
    if device.type == "cuda" and size <= torch.cuda.mem_get_info(device)[0] // 2:
        return data.load(device)
    return on_device(data.load(torch.device("cpu")), device, log)


class _StepReads(Sampler[list[int]]):
    """The rows of each step, in step order: the batch sampler of the streaming ``DataLoader``."""

    def __init__(self, reads: Iterable[Tensor], n_steps: int) -> None:
        self.reads, self.n_steps = reads, n_steps

    def __iter__(self) -> Iterator[list[int]]:
        return (r.tolist() for r in self.reads)

    def __len__(self) -> int:
        return self.n_steps


def batches(data: TensorSet | StoreSet, reads: Iterable[Tensor], n_steps: int, device: torch.device,
            workers: int) -> Iterator[dict[str, Tensor]]:
    """For each tensor of rows in ``reads`` (``n_steps`` of them), those rows of ``data`` on ``device``.

    A :class:`StoreSet` is read by ``workers`` ``DataLoader`` processes (0: in this one) that run
    ahead of the training loop by two steps each; a :class:`TensorSet` is indexed where it lives.
    """
    if isinstance(data, TensorSet):
        for rows in reads:
            yield {k: v.to(device, non_blocking=True) for k, v in data.batch(rows).items()}
        return
    stream = DataLoader(data.dataset(), batch_sampler=_StepReads(reads, n_steps), num_workers=workers,
                        pin_memory=device.type == "cuda", prefetch_factor=2 if workers else None,
                        # its own generator: seeding the workers must not draw from the global RNG
                        # (dropout's), or streaming would change the trained model
                        generator=torch.Generator())
    for batch in stream:
        yield {k: v.to(device, non_blocking=True) for k, v in batch.items()}
