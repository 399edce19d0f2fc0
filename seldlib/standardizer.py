"""The per-channel, per-mel-band feature standardiser: fitted on the training stores only, saved as
``.npz`` (``mean.npy``, ``std.npy``, float64 ``(channels, mels)``) and applied the same way in
training, inference and ``seld``.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from seldlib.atomic import atomic_path
from seldlib.errors import SeldInputError

Array = TypeVar("Array", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class Standardizer:
    """``mean`` and ``std`` of the log-mel features, each ``(2, n_mels)`` float64."""

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        mean, std = np.asarray(self.mean, np.float64), np.asarray(self.std, np.float64)
        if mean.ndim != 2 or mean.shape != std.shape:
            raise ValueError(f"mean {mean.shape} and std {std.shape} must both be (channels, mels)")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @property
    def shape(self) -> tuple[int, int]:
        """``(channels, mels)`` of the features it applies to."""
        return self.mean.shape  # type: ignore[return-value]

    @classmethod
    def fit(cls, h5_paths: Sequence[str | Path], splits: Sequence[str] | None = None, block: int = 64,
            min_std: float = 1e-3) -> Standardizer:
        """Mean and std per channel and mel band of the ``features`` of feature stores.

        Pass the training stores only. ``splits`` optionally keeps only clips of those split names.
        Streams ``block`` clips at a time and merges block statistics with Chan's parallel formula
        (Chan, Golub & LeVeque, "Updating formulae and a pairwise algorithm for computing sample
        variances", 1979) in float64, so memory stays small and the result does not suffer from
        sum-of-squares cancellation. A std below ``min_std`` (a constant band) is raised to
        ``min_std`` to avoid dividing by zero.
        """
        from seldlib.featstore import _open  # the store opener with its clear errors

        count = 0
        mean: np.ndarray | None = None
        m2: np.ndarray | None = None
        for path in h5_paths:
            with _open(path) as h5:
                if "features" not in h5:
                    raise SeldInputError(path, "not a feature store: dataset 'features' is missing")
                feats = h5["features"]
                keep = np.ones(feats.shape[0], bool)
                if splits is not None:
                    keep = np.isin(np.array([s.decode() if isinstance(s, bytes) else s for s in h5["split"][()]], dtype=object),
                                   np.array(list(splits), dtype=object))
                for start in range(0, feats.shape[0], block):
                    sel = keep[start:start + block]
                    if not sel.any():
                        continue
                    x = np.asarray(feats[start:start + block], np.float64)[sel]  # (b, 2, frames, mels)
                    x = x.transpose(1, 3, 0, 2).reshape(x.shape[1], x.shape[3], -1)  # (2, mels, b*frames)
                    n_b = x.shape[2]
                    mean_b = x.mean(axis=2)
                    m2_b = np.square(x - mean_b[..., None]).sum(axis=2)
                    if mean is None:
                        mean, m2, count = mean_b, m2_b, n_b
                        continue
                    if mean.shape != mean_b.shape:
                        raise SeldInputError(path, f"feature shape {x.shape[:2]} differs from the earlier stores' {mean.shape}")
                    total = count + n_b
                    delta = mean_b - mean
                    mean = mean + delta * (n_b / total)
                    m2 = m2 + m2_b + np.square(delta) * (count * n_b / total)
                    count = total
        if mean is None or m2 is None:
            raise SeldInputError(None, "no clips to fit the standardiser on in: " + ", ".join(map(str, h5_paths)))
        return cls(mean, np.maximum(np.sqrt(m2 / count), min_std))

    def save(self, path: str | Path) -> None:
        """Write the ``.npz`` atomically, with fixed zip timestamps (byte-identical reruns)."""
        with atomic_path(path) as tmp:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
                for key, arr in (("mean", self.mean), ("std", self.std)):
                    buf = io.BytesIO()
                    np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
                    info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                    info.external_attr = 0o644 << 16
                    zf.writestr(info, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> Standardizer:
        """Read a file written by :meth:`save` (or any ``.npz`` with ``mean`` and ``std``)."""
        path = Path(path)
        if not path.is_file():
            raise SeldInputError(path, "standardiser file not found")
        try:
            with np.load(path, allow_pickle=False) as data:
                mean, std = np.asarray(data["mean"], np.float64), np.asarray(data["std"], np.float64)
        except KeyError as err:
            raise SeldInputError(path, f"not a standardiser file: the .npz lacks an array ({err})") from None
        except (OSError, ValueError, TypeError, zipfile.BadZipFile):
            # not numpy's message: it suggests allow_pickle=True, which must stay off for files from elsewhere
            raise SeldInputError(path, "not a standardiser file (expected a .npz with arrays 'mean' and 'std', "
                                       "as the standardizer stage writes)") from None
        if mean.ndim != 2 or mean.shape != std.shape:
            raise SeldInputError(path, f"mean {mean.shape} and std {std.shape} must both be (channels, mels)")
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise SeldInputError(path, "mean/std must be finite and std positive")
        return cls(mean, std)

    def apply(self, features: Array) -> Array:
        """``(features - mean) / std`` in float32 for features ``(..., channels, T, mels)``.

        A numpy array gives a numpy array, a tensor a tensor on the same device.
        """
        if features.ndim < 3 or (features.shape[-3], features.shape[-1]) != self.shape:
            raise ValueError(f"features {tuple(features.shape)} do not fit a standardiser of shape {self.shape} "
                             "(need (..., channels, T, mels))")
        mean = self.mean[:, None, :].astype(np.float32)  # (channels, 1, mels) broadcasts over T
        std = self.std[:, None, :].astype(np.float32)
        if isinstance(features, torch.Tensor):
            x = features.float()
            return (x - torch.from_numpy(mean).to(x.device)) / torch.from_numpy(std).to(x.device)
        return (np.asarray(features, np.float32) - mean) / std
