"""The HDF5 feature store: log-mel features plus every label encoding, one file per split group.

Layout of a store holding ``N`` clips (``T`` = 50 label frames, ``C`` = 13 classes)::

    names     (N,)               utf-8 clip stems (unique within the file)
    split     (N,)               utf-8 split folder of each clip
    labelled  (N,)               uint8, 0 for a clip written without labels (eval); its label rows are 0
    features  (N, 2, 251, 64)    float32 log-mel dB, (channel, time, mel), one clip per chunk
    sed (N,T,C)  doa (N,T,C,2)  dist (N,T,C)  sce (N,T,C,2)  onscreen (N,T,C)  adpit (N,T,6,5,C)
    attrs: feature_config (JSON of LogMelConfig), class_names (JSON list), n_samples, format_version

Files are byte-identical for identical inputs (no timestamps, fixed creation properties) and are
written under a temporary name that is renamed only once complete.

Also here: :class:`FeatureDataset`, a torch ``Dataset`` over a store (optionally joined with a video
store and standardised with a :class:`seldlib.standardizer.Standardizer`).
"""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from seldlib.atomic import atomic_path
from seldlib.audio import load_audio
from seldlib.constants import CLASS_NAMES, CLIP_SAMPLES, N_CHANNELS, N_LABEL_FRAMES
from seldlib.errors import SeldInputError
from seldlib.labels import ClipLabels, encode_labels
from seldlib.layout import Clip
from seldlib.silence import frame_levels_dbfs
from seldlib.logmel import LogMel, LogMelConfig
from seldlib.metadata import EventTable, read_metadata_csv
from seldlib.standardizer import Standardizer

FORMAT_VERSION = 1
LABEL_FIELDS: tuple[str, ...] = ClipLabels.FIELDS
_STR = h5py.string_dtype("utf-8")


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

def _zero_labels(n_frames: int) -> dict[str, np.ndarray]:
    """All-zero targets with the exact shapes the encoder produces (used for unlabelled clips)."""
    return encode_labels(EventTable(), n_frames=n_frames).as_dict()


def _load_clip(clip: Clip, n_samples: int, n_frames: int) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
    """Worker job: decode one WAV ``(2, n_samples)`` and encode its labels (``None`` if unlabelled)."""
    wave = load_audio(clip.audio, n_samples=n_samples)
    labels = None
    if clip.labels is not None:
        labels = encode_labels(read_metadata_csv(clip.labels, n_frames=n_frames), n_frames=n_frames).as_dict()
        # the file as it is, so that validation reads it with the official loader's rules, as evaluation does
        labels["reference_csv"] = Path(clip.labels).read_text(encoding="utf-8")
    return wave, labels


def _check_clips(clips: Sequence[Clip], allow_unlabelled: bool) -> None:
    seen: dict[str, Clip] = {}
    for clip in clips:
        if clip.labels is None and not allow_unlabelled:
            raise SeldInputError(clip.audio, f"clip {clip.split}/{clip.stem} has no labels file")
        if clip.labels is not None and not Path(clip.labels).is_file():
            raise SeldInputError(clip.labels, f"labels file of clip {clip.split}/{clip.stem} not found")
        if clip.stem in seen:
            raise SeldInputError(clip.audio, f"clip name {clip.stem!r} also used by {seen[clip.stem].audio}; names must be unique in a store")
        seen[clip.stem] = clip


def _create(h5: h5py.File, name: str, shape: tuple[int, ...], dtype, compress: bool) -> h5py.Dataset:
    """One clip per chunk for random reads, no timestamps so identical inputs give identical bytes.

    ``compress`` adds LZF (fast, deterministic) for the label arrays, which are mostly zeros
    (~96 kB per clip raw); log-mel features barely compress, so they stay raw. An empty store uses
    contiguous layout, since chunks may not exceed a fixed zero extent.
    """
    if shape[0] == 0:
        return h5.create_dataset(name, shape=shape, dtype=dtype, track_times=False)
    return h5.create_dataset(name, shape=shape, dtype=dtype, chunks=(1, *shape[1:]), track_times=False,
                             compression="lzf" if compress else None)


def _prefetch(executor: ThreadPoolExecutor, clips: Sequence[Clip], depth: int, n_samples: int,
              n_frames: int) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray] | None]]:
    """Results of :func:`_load_clip` in clip order, keeping at most ``depth`` reads in flight."""
    pending: collections.deque[Future] = collections.deque()
    it = iter(clips)
    for clip in it:
        pending.append(executor.submit(_load_clip, clip, n_samples, n_frames))
        if len(pending) >= depth:
            break
    while pending:
        result = pending.popleft().result()
        nxt = next(it, None)
        if nxt is not None:
            pending.append(executor.submit(_load_clip, nxt, n_samples, n_frames))
        yield result


def write_feature_store(
    out_path: str | Path,
    clips: Sequence[Clip],
    logmel: LogMel | None = None,
    batch_size: int = 32,
    workers: int = 2,
    allow_unlabelled: bool = False,
    n_samples: int = CLIP_SAMPLES,
    n_label_frames: int = N_LABEL_FRAMES,
    progress: bool = True,
) -> int:
    """Compute log-mel features and labels of ``clips`` into one HDF5 store at ``out_path``.

    WAVs are decoded (and labels encoded) by ``workers`` threads while torch computes the features
    of the previous batch. Every clip must be exactly ``n_samples`` long. A clip without a labels
    file is an error unless ``allow_unlabelled`` (its label rows are then zero and ``labelled`` 0).
    The file is always rewritten from scratch. Returns the number of clips written.
    """
    logmel = logmel or LogMel()
    cfg: LogMelConfig = logmel.config
    clips = list(clips)
    _check_clips(clips, allow_unlabelled)
    n = len(clips)
    n_frames = cfg.n_frames(n_samples)
    zero = _zero_labels(n_label_frames)
    batch_size = max(1, int(batch_size))
    with atomic_path(out_path) as tmp, h5py.File(tmp, "w", libver="earliest") as h5:
        h5.attrs["format_version"] = FORMAT_VERSION
        h5.attrs["feature_config"] = cfg.to_json()
        h5.attrs["class_names"] = json.dumps(list(CLASS_NAMES))
        h5.attrs["n_samples"] = n_samples
        h5.create_dataset("names", data=np.array([c.stem for c in clips], dtype=object), dtype=_STR, track_times=False)
        h5.create_dataset("split", data=np.array([c.split for c in clips], dtype=object), dtype=_STR, track_times=False)
        h5.create_dataset("labelled", data=np.array([c.labels is not None for c in clips], np.uint8), track_times=False)
        feats = _create(h5, "features", (n, N_CHANNELS, n_frames, cfg.n_mels), np.float32, compress=False)
        label_ds = {k: _create(h5, k, (n, *v.shape), np.float32, compress=True) for k, v in zero.items()}
        # input level per label frame: inference reports no event on digital silence (seldlib.silence)
        levels = _create(h5, "level_dbfs", (n, n_label_frames), np.float32, compress=False)
        references = h5.create_dataset("reference_csv", shape=(n,), dtype=_STR, track_times=False)

        bar = tqdm(total=n, desc=f"features {Path(out_path).name}", unit="clip", disable=not progress)
        with ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
            try:
                stream = _prefetch(pool, clips, 2 * batch_size, n_samples, n_label_frames)
                for start in range(0, n, batch_size):
                    stop = min(start + batch_size, n)
                    loaded = [next(stream) for _ in range(stop - start)]
                    wave = torch.from_numpy(np.stack([w for w, _ in loaded]))
                    feats[start:stop] = logmel(wave).numpy()
                    levels[start:stop] = frame_levels_dbfs(wave.numpy(), n_label_frames)
                    for key, ds in label_ds.items():
                        ds[start:stop] = np.stack([(lab if lab is not None else zero)[key] for _, lab in loaded])
                    # one write per clip: the string heap's layout then depends on the clip order only,
                    # not on the (untracked) batch size
                    for i, (_, lab) in enumerate(loaded, start=start):
                        references[i] = lab["reference_csv"] if lab is not None else ""
                    bar.update(stop - start)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        bar.close()
    return n


def _open(path: str | Path) -> h5py.File:
    path = Path(path)
    if not path.is_file():
        raise SeldInputError(path, "feature store not found")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise SeldInputError(path, f"cannot open as HDF5 ({err})") from None


def _names(h5: h5py.File, path: str | Path) -> list[str]:
    if "names" not in h5:
        raise SeldInputError(path, "not a feature store: dataset 'names' is missing")
    return [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in h5["names"][()]]


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

def video_store_attrs(path: str | Path) -> dict[str, object]:
    """The settings a video feature store records (``seldlib.visual.write_video_store``: weights,
    resolution, …), sorted by name; a missing or unreadable file is a ``SeldInputError`` naming it."""
    with _open(path) as h5:
        return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in sorted(h5.attrs.items())}


class FeatureDataset(Dataset):
    """A torch ``Dataset`` over one feature store.

    Item ``i`` is a dict of float32 tensors: ``features (2, 251, 64)`` (standardised when a
    :class:`~seldlib.standardizer.Standardizer` is given), the label arrays in ``fields``
    (``sed (50, 13)``, ``doa (50, 13, 2)``, ``dist (50, 13)``, ``sce (50, 13, 2)``, ``onscreen (50, 13)``,
    ``adpit (50, 6, 5, 13)``) and, with ``video_h5``, ``video (50, 7, 7)`` joined by clip name, plus
    ``video_flipped (50, 7, 7)`` where the video store has the mirrored frames (the sets trained on;
    ``video_flipped=True`` requires them).

    HDF5 handles are opened on first use in each process (h5py handles do not survive ``fork``),
    so the dataset works with ``DataLoader(num_workers > 0)``. ``preload=True`` reads everything
    into memory once instead. Clip names are in :attr:`names`.
    """

    def __init__(
        self,
        h5_path: str | Path,
        standardizer: Standardizer | None = None,
        video_h5: str | Path | None = None,
        preload: bool = False,
        fields: Sequence[str] = LABEL_FIELDS,
        video_flipped: bool = False,
    ):
        self.h5_path = Path(h5_path)
        self.video_h5 = None if video_h5 is None else Path(video_h5)
        self.fields = tuple(fields)
        with _open(self.h5_path) as h5:
            self.names = _names(h5, self.h5_path)
            for key in ("features", *self.fields):
                if key not in h5:
                    raise SeldInputError(self.h5_path, f"not a feature store: dataset {key!r} is missing")
                if h5[key].shape[0] != len(self.names):
                    raise SeldInputError(self.h5_path, f"dataset {key!r} has {h5[key].shape[0]} rows, 'names' has {len(self.names)}")
            feat_shape = h5["features"].shape[1:]
            self.feature_config = LogMelConfig.from_json(h5.attrs["feature_config"]) if "feature_config" in h5.attrs else None
        if standardizer is not None and standardizer.shape != (feat_shape[0], feat_shape[2]):
            raise SeldInputError(self.h5_path, f"standardiser shape {standardizer.shape} does not fit features {feat_shape} (need (channels, mels))")
        self.standardizer = standardizer
        self._video_index: np.ndarray | None = None
        self.has_flipped = False
        if self.video_h5 is not None:
            with _open(self.video_h5) as vh5:
                vnames = _names(vh5, self.video_h5)
                if "features" not in vh5:
                    raise SeldInputError(self.video_h5, "not a video feature store: dataset 'features' is missing")
                self.has_flipped = "features_flipped" in vh5
                if video_flipped and not self.has_flipped:
                    raise SeldInputError(self.video_h5, "has no features of the mirrored frames ('features_flipped'),"
                                         " which training needs for the audio-visual swap; only the training"
                                         " sets' stores are written with them (stages/features_video.py)")
            where = {name: i for i, name in enumerate(vnames)}
            missing = [name for name in self.names if name not in where]
            if missing:
                raise SeldInputError(self.video_h5, f"has no video features for {len(missing)} clip(s) of {self.h5_path}, e.g. {missing[0]!r}")
            self._video_index = np.array([where[name] for name in self.names], np.int64)
        self._pid: int | None = None
        self._h5: h5py.File | None = None
        self._vh5: h5py.File | None = None
        self._ds: dict[str, h5py.Dataset] = {}
        self._mem: dict[str, np.ndarray] | None = None
        if preload:
            self._mem = self._read_all()

    def __len__(self) -> int:
        return len(self.names)

    @property
    def video_index(self) -> np.ndarray:
        """Row of each clip in the video store, ``(N,)`` int64 (requires ``video_h5``)."""
        if self._video_index is None:
            raise ValueError(f"{self.h5_path} was opened without a video store")
        return self._video_index

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        return x if self.standardizer is None else self.standardizer.apply(x)

    def _read_all(self) -> dict[str, np.ndarray]:
        mem: dict[str, np.ndarray] = {}
        with h5py.File(self.h5_path, "r") as h5:
            mem["features"] = self._standardise(np.asarray(h5["features"][()], np.float32))
            for key in self.fields:
                mem[key] = np.asarray(h5[key][()], np.float32)
        if self.video_h5 is not None:
            assert self._video_index is not None
            with h5py.File(self.video_h5, "r") as vh5:
                mem["video"] = np.asarray(vh5["features"][()], np.float32)[self._video_index]
                if self.has_flipped:
                    mem["video_flipped"] = np.asarray(vh5["features_flipped"][()], np.float32)[self._video_index]
        return mem

    def _handles(self) -> dict[str, h5py.Dataset]:
        """This process's open datasets (looked up once: h5py's per-access group lookup costs ~60 us)."""
        pid = os.getpid()
        if self._h5 is None or self._pid != pid:
            # A handle inherited through fork is unusable; drop it without closing the parent's.
            self._h5 = h5py.File(self.h5_path, "r")
            self._vh5 = h5py.File(self.video_h5, "r") if self.video_h5 is not None else None
            self._pid = pid
            ds = {key: self._h5[key] for key in ("features", *self.fields)}
            if self._vh5 is not None:
                ds["video"] = self._vh5["features"]
                if self.has_flipped:
                    ds["video_flipped"] = self._vh5["features_flipped"]
            self._ds = ds
        return self._ds

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} clips")
        index %= len(self)
        if self._mem is not None:
            return {k: torch.from_numpy(v[index]) for k, v in self._mem.items()}
        ds = self._handles()
        item = {"features": torch.from_numpy(self._standardise(ds["features"][index]))}
        for key in self.fields:
            item[key] = torch.from_numpy(ds[key][index])
        if self._video_index is not None:
            j = int(self._video_index[index])
            item["video"] = torch.from_numpy(np.asarray(ds["video"][j], np.float32))
            if self.has_flipped:
                item["video_flipped"] = torch.from_numpy(np.asarray(ds["video_flipped"][j], np.float32))
        return item

    def close(self) -> None:
        """Close this process's HDF5 handles (reopened on the next access)."""
        if self._h5 is not None and self._pid == os.getpid():
            self._h5.close()
            if self._vh5 is not None:
                self._vh5.close()
        self._h5 = self._vh5 = None
        self._ds = {}
        self._pid = None

    def __getstate__(self) -> dict:
        # Open handles cannot be pickled (spawned DataLoader workers); each process reopens.
        state = self.__dict__.copy()
        state["_h5"] = state["_vh5"] = None
        state["_ds"] = {}
        state["_pid"] = None
        return state
