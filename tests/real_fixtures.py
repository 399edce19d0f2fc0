"""Tiny stand-ins for the raw downloads of the FSD50K synthetic split, in their documented formats.

* FSD50K (Zenodo 4060432): ``FSD50K.dev_audio`` as a split zip (``.z01`` + ``.zip``) and
  ``FSD50K.eval_audio.zip``, flat folders of ``<id>.wav`` at 44.1 kHz; ``FSD50K_selected.txt`` (6406873),
  one ``<class>/<split>/<label>/<id>.wav`` per line: one train file per non-music class, one test file,
  one line whose file is missing and one whose file cannot be decoded;
* FMA: ``fma_metadata.zip`` with ``fma_metadata/tracks.csv`` (two header rows plus the ``track_id`` row,
  quoted fields with commas and newlines) and ``fma_small.zip`` with ``fma_small/<id[:3]>/<id>.mp3``;
* TAU-SRIR DB (6408611): ``rirs_01_bomb_shelter.mat`` (circular, 2 trajectories x 2 heights) and
  ``rirs_05_sa203.mat`` (linear, 2 x 2), MAT v7.3 written with h5py in MATLAB's layout (user block
  header, ``/rirs`` struct with reference datasets ``foa``/``mic`` of shape (heights, trajectories)
  pointing into ``/#refs#``), ``rirdata.mat`` / ``measinfo.mat`` written by scipy (MAT 5), and
  ``TAU-SNoise_DB.zip`` with an FOA and a tetra ambience per room.

The ground truth the tests compare against (source positions, IR markers, ambience samples) is built
here from the physical description, independently of the code under test.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import scipy.io
import soundfile as sf

from test_download import make_split_zip, make_zip

FS_SRC = 44100
SR = 24000
CLASSES = ("femaleSpeech", "maleSpeech", "clapping", "telephone", "laughter", "domesticSounds", "footsteps",
           "doorCupboard", "musicInstrument", "waterTap", "bell", "knock")  # FSD50K's twelve (music from FMA)


def wav_bytes(x: np.ndarray, sr: int, fmt: str = "WAV", subtype: str | None = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def tone(freq: float, seconds: float, sr: int = FS_SRC, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = 0.4 * np.sin(2 * np.pi * freq * t) * np.hanning(len(t))
    return x if channels == 1 else np.stack([x, 0.5 * x], axis=1)


# ----------------------------------------------------------------------------------------------- FSD50K


@dataclass
class Fsd50k:
    record: dict[str, bytes]           # files of Zenodo record 4060432
    selection: dict[str, bytes]        # files of Zenodo record 6406873
    expected: dict[str, float]         # output path -> tone frequency
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def fsd50k_fixture() -> Fsd50k:
    dev, ev, lines, expected = {}, {}, [], {}
    for c, cls in enumerate(CLASSES):
        fid, freq = 1000 + c, 300.0 + 100 * c
        dev[f"FSD50K.dev_audio/{fid}.wav"] = wav_bytes(tone(freq, 0.6 + 0.1 * c), FS_SRC)
        rel = f"{cls}/train/Label_{c}/{fid}.wav"
        lines.append(rel)
        expected[rel] = freq
    ev["FSD50K.eval_audio/2001.wav"] = wav_bytes(tone(2500.0, 0.8), FS_SRC)
    lines.append("bell/test/Chime/2001.wav")
    expected["bell/test/Chime/2001.wav"] = 2500.0
    lines.append("knock/train/Knock/1999.wav")  # not in the archive
    dev["FSD50K.dev_audio/1998.wav"] = b"RIFF\x00\x00\x00\x00WAVEjunk"  # in the archive, undecodable
    lines.append("clapping/train/Clapping/1998.wav")
    lines.append(lines[0])  # a repeated line is taken once
    parts = make_split_zip(dev, seg=sum(map(len, dev.values())) // 2)  # .z01, .z02, .zip
    record = {f"FSD50K.dev_audio.z{i:02d}": p for i, p in enumerate(parts[:-1], 1)}
    record |= {"FSD50K.dev_audio.zip": parts[-1], "FSD50K.eval_audio.zip": make_zip(ev),
               "FSD50K.ground_truth.zip": make_zip({"FSD50K.ground_truth/dev.csv": b"fname,labels\n"})}
    selection = {"FSD50K_selected.txt": ("\n".join(lines) + "\n").encode()}
    return Fsd50k(record, selection, expected,
                  missing=["line 14: knock/train/Knock/1999.wav: not in FSD50K.dev_audio.zip"],
                  unreadable=["line 15: clapping/train/Clapping/1998.wav"])


# ----------------------------------------------------------------------------------------------- FMA

# (id, genre_top, subset); genre order of first appearance: Rock, Electronic, Pop, Folk
FMA_TRACKS = [(2, "Rock", "small"), (3, "Electronic", "small"), (5, "Rock", "small"), (98565, "Rock", "small"),
              (10, "Pop", "small"), (11, "Rock", "medium"), (12, "Rock", "small"), (20, "Pop", "small"),
              (21, "Folk", "small"), (22, "", "small"), (30, "Rock", "small")]
FMA_MISSING = 21  # listed, no mp3 in the archive


def fma_fixture() -> dict[str, bytes]:
    """``fma_metadata.zip`` and ``fma_small.zip``."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["", "album", "set", "set", "track", "track"])
    w.writerow(["", "information", "split", "subset", "genre_top", "title"])
    w.writerow(["track_id", "", "", "", "", ""])
    for tid, genre, subset in FMA_TRACKS:
        w.writerow([tid, "a long text,\nwith a comma and a newline", "training", subset, genre, f"Song {tid}, live"])
    meta = make_zip({"fma_metadata/tracks.csv": out.getvalue().encode(), "fma_metadata/genres.csv": b"genre_id\n"})
    small = {}
    for tid, _, subset in FMA_TRACKS:
        if subset == "small" and tid != FMA_MISSING:
            name = f"{tid:06d}"
            small[f"fma_small/{name[:3]}/{name}.mp3"] = wav_bytes(tone(200.0 + tid % 1000, 1.2, channels=2), FS_SRC,
                                                                  "MP3", None)  # fmt: skip
    return {"fma_metadata.zip": meta, "fma_small.zip": make_zip(small)}


# ----------------------------------------------------------------------------------------------- TAU-SRIR DB

N_TAPS = 2400
MIC = {"bomb_shelter": (0.3, -0.2, 1.45), "sa203": (1.1, 0.4, 1.3)}


@dataclass
class TauRoom:
    name: str
    number: int
    kind: str
    distances: np.ndarray      # circular (T,), linear (2, 3, T): start and end points
    heights: np.ndarray        # (H,)
    points: list[list[np.ndarray]]  # [traj][height] (P, 3) true mic-relative source positions
    foa: list[list[np.ndarray]] = field(default_factory=list)   # [traj][height] (P, 4, N) HDF5 order


def _ring(d: float, h: float, n: int) -> np.ndarray:
    """``n`` points (n, 3) on the circle of radius ``d`` at height ``h`` about the mic's vertical axis."""
    a = np.deg2rad(np.arange(n) * 360.0 / n - 170.0)
    return np.stack([d * np.cos(a), d * np.sin(a), np.full(n, h)], axis=1)


def _circular() -> TauRoom:
    dist, heights = np.array([1.5, 3.0]), np.array([-0.5, 0.8])
    pts = [[_ring(d, h, 5 + i + j) for j, h in enumerate(heights)] for i, d in enumerate(dist)]
    return TauRoom("bomb_shelter", 1, "circular", dist, heights, pts)


def _linear() -> TauRoom:
    start = np.array([[2.0, -1.5, -0.3], [-2.5, -1.5, -0.3]]).T  # (3, T): a line parallel to y either side
    end = start + np.array([[0.0], [3.0], [0.0]])
    heights = np.array([0.0, 0.9])
    pts = [[np.stack([np.full(6 + i, start[0, i]), np.linspace(-1.5, 1.5, 6 + i), np.full(6 + i, start[2, i] + h)],
                     axis=1) for h in heights] for i in range(2)]  # fmt: skip
    return TauRoom("sa203", 5, "linear", np.stack([start, end]), heights, pts)


def marker(room: int, traj: int, height: int, point: int) -> float:
    """The W value at tap 0 that identifies one measured IR."""
    return 1.0 + room * 0.1 + traj * 0.01 + height * 0.001 + point * 1e-5


def tau_rooms() -> list[TauRoom]:
    rng = np.random.default_rng(5)
    rooms = [_circular(), _linear()]
    decay = np.exp(-np.arange(N_TAPS) / 300.0)
    for k, room in enumerate(rooms):
        room.foa = []
        for i, heights in enumerate(room.points):
            row = []
            for j, pts in enumerate(heights):
                ir = 0.01 * rng.standard_normal((len(pts), 4, N_TAPS)) * decay
                ir[:, 0, 0] = [marker(k, i, j, p) for p in range(len(pts))]
                row.append(ir)
            room.foa.append(row)
    return rooms


MATLAB_HEADER = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 ."


def write_mat73(path: Path, room: TauRoom) -> None:
    """``rirs`` as MATLAB v7.3 stores a (trajectory x height) struct array with fields ``mic`` and ``foa``."""
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        rirs = f.create_group("rirs")
        rirs.attrs["MATLAB_class"] = np.bytes_("struct")
        n_traj, n_heights = len(room.foa), len(room.foa[0])
        for fmt in ("mic", "foa"):
            ds = rirs.create_dataset(fmt, (n_heights, n_traj), dtype=h5py.ref_dtype)
            for i in range(n_traj):
                for j in range(n_heights):
                    data = room.foa[i][j] if fmt == "foa" else -room.foa[i][j]
                    d = refs.create_dataset(f"{fmt}{i}{j}", data=data)
                    d.attrs["MATLAB_class"] = np.bytes_("double")
                    ds[j, i] = d.ref
    with open(path, "r+b") as fh:
        fh.write(MATLAB_HEADER.ljust(116) + b"\x00" * 8 + b"\x00\x02IM")


def _struct(rows: list[dict], shape: tuple[int, ...]) -> np.ndarray:
    arr = np.empty(shape, dtype=[(k, "O") for k in rows[0]])
    for idx, row in zip(np.ndindex(shape), rows):
        for k, v in row.items():
            arr[idx][k] = v
    return arr


def write_geometry(folder: Path, rooms: list[TauRoom]) -> None:
    """``rirdata.mat`` (fields named as the DB README describes) and ``measinfo.mat`` (fields in the order
    SpatialScaper reads them: 4 groups, 5 heights, 6 distances, 7 mic, 9 type; other names are stand-ins)."""
    room_rows = []
    for r in rooms:
        unit = [{"doa_xyz": p / np.linalg.norm(p, axis=1, keepdims=True)} for heights in r.points for p in heights]
        doa = _struct(unit, (len(r.points), len(r.points[0])))
        counts = np.array([[len(p) for p in heights] for heights in r.points], float)
        room_rows.append({"name": r.name, "year": 2019.0, "rirs": doa, "n_rirs": counts})
    scipy.io.savemat(folder / "rirdata.mat", {"rirdata": {
        "fs": 24000.0, "room": _struct(room_rows, (len(rooms), 1)), "tetra_mic_radius_m": 0.042,
        "tetra_mic_azel_deg": np.array([[45, 35], [-45, -35], [135, -35], [-135, 35]], float),
        "foa_norm": "sn3d", "foa_order": "wyzx"}})  # fmt: skip
    info_rows = [{"name": r.name, "year": 2019.0, "format": "foa,mic", "dimensions": np.array([[10.0, 8.0, 3.0]]),
                  "groups": np.arange(1.0, len(r.points) + 1)[None], "heights": r.heights[None],
                  "distances": r.distances[None] if r.kind == "circular" else r.distances,
                  "micPosition": np.array([MIC[r.name]]), "device": "em32", "trajectory": r.kind}
                 for r in rooms]  # fmt: skip
    scipy.io.savemat(folder / "measinfo.mat", {"measinfo": _struct(info_rows, (len(rooms), 1))})


def ambience(name: str, seconds: float = 7.0) -> np.ndarray:
    """(samples, 4) FOA ambience of a room (W loudest), deterministic per room."""
    rng = np.random.default_rng(len(name))
    x = rng.standard_normal((int(seconds * SR), 4)) * np.array([0.02, 0.01, 0.008, 0.012])
    return np.clip(x, -0.99, 0.99)


AMBIENCE_FOLDERS = {"bomb_shelter": "001_bomb_center", "sa203": "405_sa203_sahkotalo_lecturehall"}


def tau_fixture(tmp: Path) -> tuple[dict[str, bytes], list[TauRoom]]:
    """Files of Zenodo record 6408611 and the rooms they hold."""
    rooms = tau_rooms()
    tmp.mkdir(parents=True, exist_ok=True)
    write_geometry(tmp, rooms)
    members = {"TAU-SRIR_DB/measinfo.mat": (tmp / "measinfo.mat").read_bytes(),
               "TAU-SRIR_DB/rirdata.mat": (tmp / "rirdata.mat").read_bytes(),
               "TAU-SRIR_DB/README.md": b"readme"}
    for r in rooms:
        write_mat73(tmp / "room.mat", r)
        members[f"TAU-SRIR_DB/rirs_{r.number:02d}_{r.name}.mat"] = (tmp / "room.mat").read_bytes()
    parts = make_split_zip(members, seg=len(members["TAU-SRIR_DB/rirs_01_bomb_shelter.mat"]) // 2)
    record = {f"TAU-SRIR_DB.z{i:02d}": p for i, p in enumerate(parts[:-1], 1)} | {"TAU-SRIR_DB.zip": parts[-1]}
    noise = {}
    for r in rooms:
        folder = f"TAU-SNoise_DB/{AMBIENCE_FOLDERS[r.name]}"
        noise[f"{folder}/ambience_foa_sn3d_24k.wav"] = wav_bytes(ambience(r.name), SR, subtype="PCM_24")
        noise[f"{folder}/ambience_tetra_24k.wav"] = wav_bytes(ambience(r.name)[:, ::-1], SR, subtype="PCM_24")
    record["TAU-SNoise_DB.zip"] = make_zip(noise)
    return record, rooms
