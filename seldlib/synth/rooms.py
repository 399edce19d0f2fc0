"""Rooms as FOA spatial room impulse responses (SRIRs) on a grid of source positions.

* :class:`Room`: ``irs`` (M, 4, N) float32 FOA SRIRs (W, Y, Z, X; ACN/SN3D), ``positions`` (M, 3)
  metres relative to the microphone (x front, y left, z up), sample rate.
* :func:`write_sofa` / :func:`sofa_writer` / :func:`load_sofa` / :func:`open_sofa`: the SOFA
  "SingleRoomSRIR" layout SpatialScaper uses (``docs/spatial-scenes.md#rooms``): ``Data.IR`` (M, R, N),
  ``Data.SamplingRate`` (I), ``SourcePosition`` (M, C) mic-relative cartesian metres. Written and read
  with h5py (SOFA files are netCDF4 = HDF5), so SpatialScaper-prepared real rooms (TAU-SRIR DB
  ``*_foa.sofa``) load through the same functions. :func:`open_sofa` reads the IRs on demand
  (:class:`SofaIRs`), so a 6480-position TAU room costs a clip only the IRs its events use; a recorded
  room ambience beside the file (``<stem>_ambience.flac``, :func:`ambience_path`) is the room's background.
* :func:`simulate_room`: a vectorised image-source model of a shoebox (own implementation) for the
  early part plus a diffuse, exponentially decaying noise tail for the late part.

Image-source model (Allen & Berkley): for a box [0, Lx]x[0, Ly]x[0, Lz], source s, per axis the images
are at (1 - 2p) s + 2 n L (p in {0, 1}, n integer) after |n - p| + |n| wall reflections. Each image has
amplitude beta^order / d (so the direct path is exactly 1/d, d in metres), delay d / c and the FOA
gains of its direction seen from the mic. beta = sqrt(1 - alpha) with Eyring's absorption
alpha = 1 - exp(-0.161 V / (S RT60)), so the energy decays 60 dB in RT60.

Late tail: after t_mix = max_order * min(L) / c the image set is incomplete, so the IR crossfades (10 ms)
into Gaussian noise with the decay of a diffuse field, energy per sample E(t) ~ exp(-13.82 t / RT60)
(for images filling space with density 1/V, each of energy beta^(2 order) / d^2, the mean is
4 pi c / (V sr) exp(-13.82 t / RT60)); its level is matched to the image-source energy in the 20 ms
before t_mix, which in a shoebox exceeds that mean (long axes reflect less often). FOA diffuse-field statistics: W unit energy, X, Y, Z each 1/3 of it,
mutually uncorrelated.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import h5py
import numpy as np
import soundfile as sf
from tqdm import tqdm

from seldlib.atomic import atomic_path
from seldlib.audio import resample_audio
from seldlib.constants import CLIP_SAMPLES, SAMPLE_RATE
from seldlib.errors import SeldInputError

SPEED_OF_SOUND = 343.0
_SINC_HALF = 8  # fractional-delay windowed-sinc half-width in samples


AMBIENCE_SUFFIX = "_ambience.flac"


class SofaIRs:
    """``Data.IR`` of a SOFA file, read on demand: ``irs[index]`` -> (K, 4, N) float32 for an integer
    index array (any order, repeats allowed), resampled to ``sr`` if the file's rate differs.

    The file is opened once per process (forked synthesis workers open their own handle).
    """

    def __init__(self, path: Path, shape: tuple[int, int, int], file_sr: int, sr: int):
        self.path = path
        self.file_sr, self.sr = file_sr, sr
        m, r, n = shape
        self.shape = (m, r, n if file_sr == sr else -(-n * sr // file_sr))
        self._file: h5py.File | None = None
        self._pid = -1

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_file": None, "_pid": -1}

    def _data(self) -> h5py.Dataset:
        if self._pid != os.getpid():
            self._file, self._pid = h5py.File(self.path, "r"), os.getpid()
        return self._file["Data.IR"]

    def close(self) -> None:
        """Close this process's handle (the next read opens it again)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file, self._pid = None, -1

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: np.ndarray | int) -> np.ndarray:
        idx = np.atleast_1d(np.asarray(index, np.int64))
        if idx.ndim != 1 or np.any(idx < 0) or np.any(idx >= self.shape[0]):
            raise IndexError(f"{self.path}: measurement index out of range 0..{self.shape[0] - 1}: {index}")
        rows, inverse = np.unique(idx, return_inverse=True)  # h5py reads increasing indices only
        run = len(rows) == rows[-1] - rows[0] + 1  # consecutive: one slice, much faster than a point list
        irs = np.asarray(self._data()[rows[0]:rows[-1] + 1] if run else self._data()[rows], np.float32)
        bad = ~np.isfinite(irs).all(axis=(1, 2))
        if bad.any():
            raise SeldInputError(self.path, f"Data.IR of measurement {int(rows[np.argmax(bad)])} contains NaN/inf")
        if self.file_sr != self.sr:
            irs = resample_audio(irs, self.file_sr, self.sr)
        irs = irs[inverse]
        return irs[0] if np.ndim(index) == 0 else irs


@dataclass
class Room:
    """FOA SRIRs of one room.

    irs: (M, 4, N) float32, channels W, Y, Z, X (an array, or a :class:`SofaIRs` reading them on demand).
    positions: (M, 3) float64 metres, mic-relative. ambience: a recorded FOA room ambience (4 channels,
    24 kHz), the background of every clip in the room; None: simulated diffuse noise.
    """

    name: str
    irs: np.ndarray | SofaIRs
    positions: np.ndarray
    sr: int = SAMPLE_RATE
    ambience: Path | None = None


@dataclass
class RoomSpec:
    """A shoebox room to simulate. Lengths in metres; the mic position is absolute inside the box."""

    name: str
    size: tuple[float, float, float]
    rt60: float
    mic: tuple[float, float, float]
    radii: tuple[float, ...] = (0.6, 1.0, 1.5, 2.2, 3.0, 4.0, 5.0, 6.0)
    elevations: tuple[float, ...] = (-40.0, -20.0, 0.0, 20.0, 40.0)
    az_step_deg: float = 20.0
    max_order: int = 8
    ir_seconds: float | None = None  # None: min(0.5, max(0.2, rt60)), i.e. truncated ~60 dB down
    wall_margin: float = 0.3
    extra: dict = field(default_factory=dict)


def cart_to_polar(xyz: np.ndarray) -> np.ndarray:
    """(…, 3) cartesian -> (…, 3) azimuth deg (atan2(y, x)), elevation deg, distance."""
    xyz = np.asarray(xyz, np.float64)
    r = np.linalg.norm(xyz, axis=-1)
    az = np.rad2deg(np.arctan2(xyz[..., 1], xyz[..., 0]))
    el = np.rad2deg(np.arcsin(np.clip(xyz[..., 2] / np.maximum(r, 1e-12), -1.0, 1.0)))
    return np.stack([az, el, r], axis=-1)


def polar_to_cart(az_deg: np.ndarray, el_deg: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Azimuth/elevation (deg) and distance -> (…, 3) cartesian."""
    a, e = np.deg2rad(az_deg), np.deg2rad(el_deg)
    r = np.asarray(r, np.float64)
    return np.stack([r * np.cos(e) * np.cos(a), r * np.cos(e) * np.sin(a), r * np.sin(e)], axis=-1)


def grid_positions(spec: RoomSpec) -> np.ndarray:
    """Mic-relative grid (M, 3): rings of ``radii`` x ``elevations`` x azimuth steps, kept inside the box.

    Odd rings are offset by half an azimuth step so that neighbouring rings interleave.
    """
    size, mic = np.asarray(spec.size, float), np.asarray(spec.mic, float)
    pts = []
    for i_r, r in enumerate(spec.radii):
        for i_e, el in enumerate(spec.elevations):
            offset = 0.5 * spec.az_step_deg * ((i_r + i_e) % 2)
            az = np.arange(0.0, 360.0, spec.az_step_deg) + offset
            pts.append(polar_to_cart(az, np.full_like(az, el), np.full_like(az, r)))
    rel = np.concatenate(pts)
    absolute = rel + mic
    inside = np.all((absolute >= spec.wall_margin) & (absolute <= size - spec.wall_margin), axis=1)
    return rel[inside]


def eyring_beta(size: tuple[float, float, float], rt60: float) -> float:
    """Wall reflection coefficient (pressure) giving ``rt60`` by Eyring's formula."""
    lx, ly, lz = size
    volume, surface = lx * ly * lz, 2 * (lx * ly + lx * lz + ly * lz)
    alpha = 1.0 - np.exp(-0.161 * volume / (surface * rt60))
    return float(np.sqrt(1.0 - np.clip(alpha, 0.01, 0.99)))


def _image_lattice(max_order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (p, n) per axis with total reflection order <= max_order.

    Returns sign (Q, 3) = 1 - 2p, n (Q, 3), order (Q,).
    """
    k = max_order // 2 + 1
    n1 = np.arange(-k, k + 1)
    p1 = np.array([0, 1])
    nn, pp = np.meshgrid(n1, p1, indexing="ij")
    nn, pp = nn.ravel(), pp.ravel()
    axis_order = np.abs(nn - pp) + np.abs(nn)
    ix, iy, iz = np.meshgrid(*(np.arange(len(nn)),) * 3, indexing="ij")
    ix, iy, iz = ix.ravel(), iy.ravel(), iz.ravel()
    order = axis_order[ix] + axis_order[iy] + axis_order[iz]
    keep = order <= max_order
    ix, iy, iz = ix[keep], iy[keep], iz[keep]
    sign = np.stack([1 - 2 * pp[ix], 1 - 2 * pp[iy], 1 - 2 * pp[iz]], axis=1).astype(np.float64)
    n = np.stack([nn[ix], nn[iy], nn[iz]], axis=1).astype(np.float64)
    return sign, n, order[keep]


def image_source_foa(
    size: np.ndarray,
    mic: np.ndarray,
    source: np.ndarray,
    beta: float,
    lattice: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_samples: int,
    sr: int = SAMPLE_RATE,
    t_end: float | None = None,
) -> np.ndarray:
    """Early FOA SRIR (4, n_samples) of one source by the image-source model (images with delay < t_end).

    Each image adds amplitude beta^order / d times (1, u_y, u_z, u_x) through a Hann-windowed sinc
    fractional delay at d / c seconds; u is the unit vector mic -> image.
    """
    sign, n, order = lattice
    img = sign * source + 2.0 * n * size  # (Q, 3)
    vec = img - mic
    dist = np.linalg.norm(vec, axis=1)
    delay = dist / SPEED_OF_SOUND * sr
    limit = n_samples - _SINC_HALF - 1 if t_end is None else min(n_samples - _SINC_HALF - 1, t_end * sr)
    keep = delay < limit
    vec, dist, delay, order = vec[keep], dist[keep], delay[keep], order[keep]
    amp = beta ** order / np.maximum(dist, 1e-3)
    unit = vec / np.maximum(dist, 1e-9)[:, None]
    gains = np.stack([np.ones_like(dist), unit[:, 1], unit[:, 2], unit[:, 0]])  # (4, Q) W, Y, Z, X
    base = np.floor(delay).astype(np.int64)
    taps = np.arange(-_SINC_HALF + 1, _SINC_HALF + 1)  # 16 taps around the delay
    idx = base[:, None] + taps[None, :]  # (Q, 16)
    frac = idx - delay[:, None]
    kernel = np.sinc(frac) * (0.5 + 0.5 * np.cos(np.pi * frac / _SINC_HALF))
    kernel *= amp[:, None]
    valid = idx >= 0
    out = np.empty((4, n_samples))
    for c in range(4):
        w = kernel * gains[c][:, None]
        out[c] = np.bincount(idx[valid], weights=w[valid], minlength=n_samples)[:n_samples]
    return out


def simulate_room(spec: RoomSpec, seed: int, sr: int = SAMPLE_RATE, progress: bool = False) -> Room:
    """Simulate FOA SRIRs for every grid position of ``spec`` (see module doc for the model)."""
    size, mic = np.asarray(spec.size, float), np.asarray(spec.mic, float)
    if np.any(mic <= 0) or np.any(mic >= size):
        raise ValueError(f"room {spec.name}: mic {spec.mic} is outside the box {spec.size}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, _name_key(spec.name)]))
    positions = grid_positions(spec)
    ir_seconds = spec.ir_seconds if spec.ir_seconds is not None else min(0.5, max(0.2, spec.rt60))
    n = int(round(ir_seconds * sr))
    beta = eyring_beta(spec.size, spec.rt60)
    lattice = _image_lattice(spec.max_order)
    volume = float(np.prod(size))
    t_mix = spec.max_order * float(size.min()) / SPEED_OF_SOUND
    ramp = int(0.010 * sr)
    i_mix = min(int(t_mix * sr), n - ramp - 1)
    t = np.arange(n) / sr
    # Expected tail energy per sample in W (see module doc); fade in over `ramp` samples after t_mix.
    env = np.sqrt(4 * np.pi * SPEED_OF_SOUND / (volume * sr) * np.exp(-13.82 * t / spec.rt60))
    fade_in = np.clip((np.arange(n) - i_mix) / ramp, 0.0, 1.0)
    early_gain = np.sqrt(1.0 - fade_in**2)  # equal-power crossfade: early and tail are uncorrelated
    tail_gain = env * fade_in
    end_fade = np.ones(n)
    n_end = int(0.02 * sr)
    end_fade[-n_end:] = 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, n_end))
    chan_scale = np.array([1.0, 1 / np.sqrt(3), 1 / np.sqrt(3), 1 / np.sqrt(3)])[:, None]
    irs = np.empty((len(positions), 4, n), np.float32)
    for m in tqdm(range(len(positions)), desc=f"simulate {spec.name}", disable=not progress, leave=False):
        early = image_source_foa(size, mic, mic + positions[m], beta, lattice, n, sr, t_end=(i_mix + ramp) / sr)
        # Match the tail to the image-source energy just before t_mix: a shoebox's energy decays
        # direction-dependently, so the diffuse formula alone would leave a level step at t_mix.
        win = early[0, max(0, i_mix - int(0.02 * sr)):i_mix]
        measured = float(np.mean(win**2)) if len(win) else 0.0
        expected = float(env[max(0, i_mix - int(0.01 * sr))] ** 2)
        level = np.sqrt(measured / expected) if measured > 0 and expected > 0 else 1.0
        tail = rng.standard_normal((4, n)) * chan_scale
        irs[m] = ((early * early_gain + tail * tail_gain * level) * end_fade).astype(np.float32)
    return Room(spec.name, irs, positions, sr)


def _name_key(name: str) -> int:
    import zlib

    return zlib.crc32(name.encode("utf-8"))


def default_room_specs(role: str) -> list[RoomSpec]:
    """Default simulated rooms per role: ``"train"`` (3), ``"test"`` (2, unseen in training), ``"synth"`` (2).

    Sizes 5-16 m, RT60 0.25-0.8 s; the larger rooms allow the 4-6 m rings.
    """
    specs = {
        "train": [
            RoomSpec("sim_train_office", (6.0, 5.0, 3.0), 0.35, (3.2, 2.4, 1.5)),
            RoomSpec("sim_train_classroom", (9.5, 7.0, 3.2), 0.55, (4.6, 3.6, 1.6)),
            RoomSpec("sim_train_hall", (14.0, 10.0, 4.5), 0.75, (7.2, 4.8, 1.7)),
        ],
        "test": [
            RoomSpec("sim_test_meeting", (7.0, 6.0, 2.8), 0.30, (3.4, 3.1, 1.4)),
            RoomSpec("sim_test_lecture", (12.5, 9.0, 4.0), 0.65, (6.1, 4.4, 1.6)),
        ],
        "synth": [
            RoomSpec("sim_synth_small", (5.0, 4.2, 2.7), 0.25, (2.6, 2.0, 1.4)),
            RoomSpec("sim_synth_large", (16.0, 12.0, 5.0), 0.80, (8.1, 6.2, 1.8)),
        ],
    }
    if role not in specs:
        raise ValueError(f"role must be one of {sorted(specs)}, got {role!r}")
    return specs[role]


@contextlib.contextmanager
def sofa_writer(
    path: str | Path,
    name: str,
    positions: np.ndarray,
    n_taps: int,
    sr: int = SAMPLE_RATE,
    *,
    irs: np.ndarray | None = None,
    listener: tuple[float, float, float] = (0.0, 0.0, 0.0),
    database: str = "seldlib",
    comment: str = "",
) -> Iterator[h5py.Dataset]:
    """Write a SOFA SingleRoomSRIR file (h5py; netCDF4-style dimension scales) atomically.

    Yields ``Data.IR`` (M, 4, ``n_taps``) float32 to be filled (by slices, so a room larger than memory
    can be written), or already holding ``irs``. ``positions`` (M, 3): mic-relative metres;
    ``listener``: the mic's position in the room (ListenerPosition; the generator does not use it).
    The file appears at ``path`` only when the block succeeds.
    """
    path = Path(path)
    positions = np.asarray(positions, np.float64)
    m, r, n = len(positions), 4, int(n_taps)
    title = f"{'seldlib simulated' if database == 'seldlib' else database} - {name}"
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", track_order=True) as f:
            attrs = {
                "Conventions": "SOFA", "Version": "2.1", "SOFAConventions": "SingleRoomSRIR",
                "SOFAConventionsVersion": "1.0", "APIName": "seldlib", "APIVersion": "0.1",
                "AuthorContact": "n/a", "Organization": "n/a", "License": "MIT", "DataType": "FIR",
                "RoomType": "shoebox", "Title": title,
                "DateCreated": "1970-01-01 00:00:00", "DateModified": "1970-01-01 00:00:00",
                "DatabaseName": database, "ListenerShortName": "foa", "RoomShortName": name,
                "Comment": comment,
            }
            for k, v in attrs.items():
                f.attrs[k] = v
            dims = {}
            for dim, size in (("M", m), ("R", r), ("N", n), ("E", 1), ("I", 1), ("C", 3)):
                d = f.create_dataset(dim, data=np.arange(size, dtype=np.float32))
                d.make_scale(dim)
                d.attrs["NAME"] = np.bytes_(f"This is a netCDF dimension but not a netCDF variable. {size:10d}")
                dims[dim] = d

            def var(key: str, dim_names: tuple[str, ...], data: np.ndarray | None = None,
                    **var_attrs: str) -> h5py.Dataset:
                ds = (f.create_dataset(key, data=data) if data is not None
                      else f.create_dataset(key, shape=(m, r, n), dtype=np.float32))  # fmt: skip
                for i, dn in enumerate(dim_names):
                    ds.dims[i].attach_scale(dims[dn])
                for k, v in var_attrs.items():
                    ds.attrs[k] = v
                return ds

            ir = var("Data.IR", ("M", "R", "N"), None if irs is None else np.asarray(irs, np.float32),
                     ChannelOrdering="acn", Normalization="sn3d")  # fmt: skip
            var("Data.SamplingRate", ("I",), np.array([float(sr)]), Units="hertz")
            var("Data.Delay", ("I", "R"), np.zeros((1, r)))
            var("SourcePosition", ("M", "C"), positions, Units="metre", Type="cartesian")
            var("ListenerPosition", ("I", "C"), np.array([listener], np.float64), Units="metre", Type="cartesian")
            var("ReceiverPosition", ("R", "C", "I"), np.zeros((r, 3, 1)), Units="metre", Type="cartesian")
            var("EmitterPosition", ("E", "C", "I"), np.zeros((1, 3, 1)), Units="metre", Type="cartesian")
            var("ListenerUp", ("I", "C"), np.array([[0.0, 0.0, 1.0]]))
            var("ListenerView", ("I", "C"), np.array([[1.0, 0.0, 0.0]]), Units="metre", Type="cartesian")
            yield ir


def write_sofa(path: str | Path, room: Room, comment: str = "") -> None:
    """Write ``room`` (IRs in memory) as a SOFA SingleRoomSRIR file, atomically (:func:`sofa_writer`)."""
    with sofa_writer(path, room.name, room.positions, room.irs.shape[2], room.sr, irs=room.irs, comment=comment):
        pass


def ambience_path(sofa: str | Path) -> Path:
    """Where a room's recorded ambience sits beside its SOFA file: ``<stem>_ambience.flac``."""
    sofa = Path(sofa)
    return sofa.with_name(sofa.stem + AMBIENCE_SUFFIX)


def open_sofa(path: str | Path, sr: int = SAMPLE_RATE) -> Room:
    """Open a SOFA FOA SRIR room (simulated here, or SpatialScaper-prepared, e.g. TAU ``gym_foa.sofa``) with
    its IRs read on demand (:class:`SofaIRs`).

    Reads ``Data.SamplingRate`` and ``SourcePosition`` (M, 3), cartesian metres relative to the mic, or
    spherical (azimuth deg, elevation deg, radius m) if its ``Type`` says so, and the shape of
    ``Data.IR`` (M, R, N). IRs are resampled to ``sr`` when needed (:func:`seldlib.audio.resample_audio`).
    A file :func:`ambience_path` beside it becomes ``Room.ambience`` (checked: 4 channels at ``sr``,
    at least one clip long). Raises :class:`SeldInputError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise SeldInputError(path, "SOFA file not found")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise SeldInputError(path, "not a SOFA (netCDF4/HDF5) file") from None
    with f:
        for key in ("Data.IR", "Data.SamplingRate", "SourcePosition"):
            if key not in f:
                raise SeldInputError(path, f"SOFA variable {key!r} missing")
        shape = f["Data.IR"].shape
        file_sr = float(np.asarray(f["Data.SamplingRate"][()]).ravel()[0])
        pos_ds = f["SourcePosition"]
        pos = np.asarray(pos_ds[()], np.float64)
        pos_type = _attr_str(pos_ds.attrs.get("Type", "cartesian")).lower()
        name = _attr_str(f.attrs.get("RoomShortName", path.stem)) or path.stem
    if len(shape) != 3 or shape[1] != 4:
        raise SeldInputError(path, f"Data.IR must be (M, 4, N) FOA, got shape {shape}")
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise SeldInputError(path, f"SourcePosition must be (M, 3), got shape {pos.shape}")
    if pos.shape[0] == 1 and shape[0] > 1:
        pos = np.repeat(pos, shape[0], axis=0)
    if pos.shape[0] != shape[0]:
        raise SeldInputError(path, f"SourcePosition has {pos.shape[0]} rows but Data.IR has {shape[0]} measurements")
    if not np.all(np.isfinite(pos)):
        raise SeldInputError(path, "SourcePosition contains NaN/inf")
    if "spherical" in pos_type:
        pos = polar_to_cart(pos[:, 0], pos[:, 1], pos[:, 2])
    if file_sr <= 0:
        raise SeldInputError(path, f"Data.SamplingRate must be > 0, got {file_sr}")
    irs = SofaIRs(path, shape, int(round(file_sr)), sr)
    if irs.file_sr != sr:
        try:
            resample_audio(np.zeros((1, 8), np.float32), irs.file_sr, sr)  # refuse an unusable rate now, not per clip
        except ValueError as err:
            raise SeldInputError(path, str(err)) from None
    return Room(name, irs, pos, sr, _checked_ambience(ambience_path(path), sr))


def _checked_ambience(path: Path, sr: int) -> Path | None:
    if not path.exists():
        return None
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise SeldInputError(path, f"cannot read the room ambience ({err})") from None
    if info.channels != 4 or info.samplerate != sr or info.frames < CLIP_SAMPLES:
        raise SeldInputError(path, f"a room ambience must be 4-channel FOA at {sr} Hz and at least {CLIP_SAMPLES} "
                                   f"samples long, got {info.channels} channels at {info.samplerate} Hz, "
                                   f"{info.frames} samples")  # fmt: skip
    return path


def load_sofa(path: str | Path, sr: int = SAMPLE_RATE) -> Room:
    """:func:`open_sofa` with every IR read into memory (``irs`` a (M, 4, N) float32 array)."""
    room = open_sofa(path, sr)
    room.irs = room.irs[np.arange(len(room.irs))]
    return room


def _attr_str(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return _attr_str(value.ravel()[0]) if value.size else ""
    return str(value)


def simulate_rooms(out_dir: str | Path, specs: list[RoomSpec], seed: int, progress: bool = True) -> list[Path]:
    """Simulate every spec and write ``<out_dir>/<name>.sofa``. Returns the paths in spec order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in tqdm(specs, desc="rooms", disable=not progress):
        room = simulate_room(spec, seed)
        path = out_dir / f"{spec.name}.sofa"
        write_sofa(path, room, comment=json.dumps(asdict(spec), sort_keys=True))
        paths.append(path)
    return paths
