"""TAU-SRIR DB rooms (Politis, Adavanne, Virtanen, DCASE 2020 workshop; Zenodo 6408611) as SOFA rooms.

The archive ``TAU-SRIR_DB.zip`` (split) holds, per room, ``rirs_NN_<room>.mat`` (MAT v7.3, i.e. HDF5)
and the geometry files ``rirdata.mat`` and ``measinfo.mat`` (older MAT format, read with scipy). As
the database README describes them:

* ``rirs`` (trajectory x height) has fields ``foa`` and ``mic``; in the HDF5 file ``/rirs/foa`` is a
  (height, trajectory) array of object references (MATLAB stores arrays transposed), each to an
  IR array of HDF5 shape (points, 4, 7200), MATLAB ``[7200 x 4 x points]``: 0.3-s FOA IRs (ACN, SN3D)
  at 24 kHz, one per point of the trajectory;
* ``rirdata.room(k).rirs(i, j).doa_xyz`` (points, 3): the measured unit DOA vector of each IR;
* ``measinfo(k)``: read by field position as SpatialScaper's ``spatialscaper/tau_utils.py::load_paths``
  does: 4 the trajectory groups, 5 the source heights, 6 the distances (circular: one per trajectory;
  linear: the first of its (3, trajectory) arrays, the start points), 7 the mic position, 9 the
  trajectory type (``circular`` or ``linear``).

Room k of the geometry files is the k-th room file in order of its number NN. Source positions are
rebuilt as SpatialScaper does (``docs/spatial-scenes.md#fsd50k-in-measured-rooms``): a circular room's
unit vectors are scaled so that their horizontal radius is the trajectory distance d (a vertical
cylinder); a linear room's so that sqrt(x^2 + z^2) = sqrt(d_x^2 + (d_z + height)^2) (a cylinder about
the y axis, which holds the straight path); every second height is reversed (positions and IRs), as
the DCASE generator stacks them. Positions stay mic-relative; the mic position is the SOFA listener.

Each room is converted one trajectory at a time (a 2.8-GB room file is never loaded whole) into
``<room>_foa.sofa``; its FOA ambience from ``TAU-SNoise_DB.zip`` (folder named after the room,
``bomb_center`` for the bomb shelter, file name containing ``foa``) becomes ``<room>_foa_ambience.flac``
beside it (:func:`seldlib.synth.rooms.ambience_path`).
"""

from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import h5py
import numpy as np
import scipy.io
import soundfile as sf

from seldlib.atomic import atomic_path, write_json_atomic
from seldlib.constants import SAMPLE_RATE
from seldlib.download import open_zip
from seldlib.errors import SeldInputError
from seldlib.synth.rooms import ambience_path, sofa_writer

SRIR_ARCHIVE = "TAU-SRIR_DB.zip"
SNOISE_ARCHIVE = "TAU-SNoise_DB.zip"
ROOM_FILE = re.compile(r"rirs_(\d{2})_([a-z0-9_]+)\.mat")
AMBIENCE_FOLDER = {"bomb_shelter": "bomb_center"}  # the one room whose noise folder is named otherwise
REPORT_NAME = "manifest.json"


@dataclass
class RoomGeometry:
    """Geometry of one room: ``doa[i][j]`` (points, 3) unit vectors of trajectory i, height j;
    ``distances`` (T,) circular or (3, T) linear start points; ``heights`` (H,); ``mic`` (3,) metres."""

    trajectory_type: str
    distances: np.ndarray
    heights: np.ndarray
    mic: np.ndarray
    doa: list[list[np.ndarray]]


def read_geometry(measinfo: Path, rirdata: Path) -> list[RoomGeometry]:
    """Every room of the two geometry files, in database order. Raises :class:`SeldInputError` naming the
    file when its layout is not the one described in the module doc."""
    try:
        rooms = scipy.io.loadmat(rirdata)["rirdata"]["room"][0, 0].ravel()
        doas = [[[np.asarray(r["rirs"][i, j]["doa_xyz"], np.float64).reshape(-1, 3)
                  for j in range(r["rirs"].shape[1])] for i in range(r["rirs"].shape[0])] for r in rooms]
    except (OSError, ValueError, KeyError, IndexError, TypeError, NotImplementedError) as err:
        raise SeldInputError(rirdata, f"not the TAU-SRIR DB rirdata.mat layout ({type(err).__name__}: {err})"
                             ) from None
    try:
        info = scipy.io.loadmat(measinfo)["measinfo"].ravel()
        out = []
        for rec, doa in zip(info, doas):
            kind = str(np.asarray(rec[9]).ravel()[0]).strip().lower()
            dist = np.asarray(rec[6], np.float64)[0]
            heights = np.atleast_2d(np.asarray(rec[5], np.float64))[0]
            mic = np.atleast_2d(np.asarray(rec[7], np.float64))[0]
            out.append(RoomGeometry(kind, dist, heights, mic, doa))
    except (OSError, ValueError, KeyError, IndexError, TypeError, NotImplementedError) as err:
        raise SeldInputError(measinfo, f"not the TAU-SRIR DB measinfo.mat layout ({type(err).__name__}: {err})"
                             ) from None
    if len(info) != len(doas):
        raise SeldInputError(measinfo, f"{len(info)} rooms, but {rirdata.name} has {len(doas)}")
    for k, g in enumerate(out):
        n_traj, n_heights = len(g.doa), len(g.doa[0]) if g.doa else 0
        d = g.distances
        fits = (d.shape == (n_traj,) if g.trajectory_type == "circular" else
                g.trajectory_type == "linear" and d.ndim == 2 and d.shape[0] >= 3 and d.shape[1] == n_traj)
        if not fits or len(g.heights) != n_heights or g.mic.shape != (3,):
            raise SeldInputError(measinfo, f"room {k + 1}: type {g.trajectory_type!r}, distances {d.shape}, "
                                           f"heights {g.heights.shape}, mic {g.mic.shape} do not fit its "
                                           f"{n_traj} x {n_heights} trajectories")  # fmt: skip
    return out


def path_positions(g: RoomGeometry, traj: int, height: int) -> np.ndarray:
    """Mic-relative source positions (points, 3) of trajectory ``traj`` at height ``height`` (module doc)."""
    u = g.doa[traj][height]
    if g.trajectory_type == "circular":
        radius, across = g.distances[traj], np.hypot(u[:, 0], u[:, 1])
    else:
        d = g.distances[:3, traj]
        radius, across = np.hypot(d[0], d[2] + g.heights[height]), np.hypot(u[:, 0], u[:, 2])
    if np.any(across < 1e-9):
        raise ValueError(f"trajectory {traj + 1}, height {height + 1}: a DOA lies on the cylinder axis")
    return u * (radius / across)[:, None]


def _extract(zf: zipfile.ZipFile, member: str, dest: Path) -> Path:
    with zf.open(member) as src, open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 22)
    return dest


def convert_room(mat: Path, g: RoomGeometry, out: Path, name: str) -> int:
    """Write the FOA IRs of room file ``mat`` with the positions of ``g`` to the SOFA file ``out``, one
    trajectory/height at a time; returns the number of measurements. Raises :class:`SeldInputError`."""
    order = [(i, j) for i in range(len(g.doa)) for j in range(len(g.doa[i])) if len(g.doa[i][j])]
    try:
        positions = [path_positions(g, i, j)[:: -1 if j % 2 else 1] for i, j in order]
    except ValueError as err:
        raise SeldInputError(mat, f"room {name}: {err}") from None
    try:
        f = h5py.File(mat, "r")
    except OSError:
        raise SeldInputError(mat, "not a MAT v7.3 (HDF5) file") from None
    with f:
        refs = f.get("rirs/foa")
        want = (len(g.doa[0]), len(g.doa))
        if not isinstance(refs, h5py.Dataset) or h5py.check_ref_dtype(refs.dtype) is None or refs.shape != want:
            raise SeldInputError(mat, f"expected /rirs/foa: references of shape (heights, trajectories) = {want}")
        paths = [f[refs[j, i]] for i, j in order]
        n_taps = paths[0].shape[-1]
        for (i, j), ds, pos in zip(order, paths, positions):
            if ds.shape != (len(pos), 4, n_taps):
                raise SeldInputError(mat, f"trajectory {i + 1}, height {j + 1}: IRs of shape {ds.shape}, expected "
                                          f"({len(pos)}, 4, {n_taps}) for its {len(pos)} DOAs")  # fmt: skip
        with sofa_writer(out, name, np.concatenate(positions), n_taps, SAMPLE_RATE, listener=tuple(g.mic),
                         database="TAU-SRIR DB", comment=f"SOFA conversion of {name} from TAU-SRIR DB") as ir:
            m = 0
            for (i, j), ds in zip(order, paths):
                block = ds.astype(np.float32)[()]  # converted while read: no float64 copy of the path
                if j % 2:
                    block = np.ascontiguousarray(block[::-1])
                if not np.all(np.isfinite(block)):
                    raise SeldInputError(mat, f"trajectory {i + 1}, height {j + 1}: IRs contain NaN/inf")
                ir[m:m + len(block)] = block
                m += len(block)
    return m


def _ambience_member(zf: zipfile.ZipFile, room: str, archive: Path) -> str:
    key = AMBIENCE_FOLDER.get(room, room)
    found = [n for n in zf.namelist() if not n.endswith("/") and key in PurePosixPath(n).parent.name
             and "foa" in PurePosixPath(n).name.lower()]  # fmt: skip
    if len(found) != 1:
        raise SeldInputError(archive, f"expected one FOA ambience for room {room} (a folder named *{key}* "
                                             f"holding a file named *foa*), found {found or 'none'}")  # fmt: skip
    return found[0]


def convert_ambience(wav: Path, out: Path, member: str) -> None:
    """Copy the 4-channel 24-kHz ambience ``wav`` to FLAC ``out`` (lossless, block by block)."""
    try:
        info = sf.info(str(wav))
    except (sf.LibsndfileError, RuntimeError) as err:
        raise SeldInputError(member, f"cannot read the ambience ({err})") from None
    if info.channels != 4 or info.samplerate != SAMPLE_RATE:
        raise SeldInputError(member, f"expected 4-channel FOA at {SAMPLE_RATE} Hz, got {info.channels} channels "
                                     f"at {info.samplerate} Hz")  # fmt: skip
    subtype = "PCM_16" if info.subtype == "PCM_16" else "PCM_24"
    with atomic_path(out) as tmp, sf.SoundFile(str(tmp), "w", SAMPLE_RATE, 4, subtype, format="FLAC") as dst:
        for block in sf.blocks(str(wav), blocksize=10 * SAMPLE_RATE, dtype="int32"):
            dst.write(block)


def convert_tau(files: dict[str, Path], out: Path, work: Path) -> dict:
    """Every room of the TAU-SRIR DB into ``<out>/<room>_foa.sofa`` plus its ambience; ``work`` holds one
    extracted room file at a time. Writes and returns the report ``<out>/manifest.json``."""
    work.mkdir(parents=True, exist_ok=True)
    report = {}
    with open_zip(files[SRIR_ARCHIVE]) as srir, open_zip(files[SNOISE_ARCHIVE]) as snoise:
        by_name = {PurePosixPath(n).name: n for n in srir.namelist() if not n.endswith("/")}
        rooms = sorted((int(m.group(1)), m.group(2), n) for base, n in by_name.items()
                       if (m := ROOM_FILE.fullmatch(base)))  # fmt: skip
        for geo in ("measinfo.mat", "rirdata.mat"):
            if geo not in by_name:
                raise SeldInputError(files[SRIR_ARCHIVE], f"has no {geo}")
        geometry = read_geometry(_extract(srir, by_name["measinfo.mat"], work / "measinfo.mat"),
                                 _extract(srir, by_name["rirdata.mat"], work / "rirdata.mat"))  # fmt: skip
        if len(rooms) != len(geometry):
            raise SeldInputError(files[SRIR_ARCHIVE],
                                 f"{len(rooms)} room files but {len(geometry)} rooms in rirdata.mat")
        for (number, room, member), g in zip(rooms, geometry):
            mat = _extract(srir, member, work / PurePosixPath(member).name)
            sofa = out / f"{room}_foa.sofa"
            try:
                n = convert_room(mat, g, sofa, room)
            finally:
                mat.unlink()
            noise_member = _ambience_member(snoise, room, files[SNOISE_ARCHIVE])
            wav = _extract(snoise, noise_member, work / "ambience.wav")
            try:
                convert_ambience(wav, ambience_path(sofa), noise_member)
            finally:
                wav.unlink()
            report[room] = {"number": number, "measurements": n, "trajectory_type": g.trajectory_type,
                            "ambience": noise_member}  # fmt: skip
    shutil.rmtree(work)
    write_json_atomic(out / REPORT_NAME, {"used": True, "rooms": report})
    return report
