"""TAU-SRIR DB -> SOFA rooms: positions rebuilt from the geometry, IRs paired with them, one trajectory at a
time, the ambience copied losslessly; bad layouts named. Fixtures: tests/real_fixtures.py."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import h5py
import numpy as np
import pytest
import soundfile as sf

from real_fixtures import MIC, N_TAPS, ambience, marker, tau_fixture, write_mat73
from seldlib.errors import SeldInputError
from seldlib.prepare.tau_srir import convert_room, convert_tau, path_positions, read_geometry
from seldlib.synth.rooms import load_sofa, open_sofa


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tau")
    record, rooms = tau_fixture(tmp / "src")
    for key, data in record.items():
        (tmp / key).write_bytes(data)
    out = tmp / "sofa"
    out.mkdir()
    files = {"TAU-SRIR_DB.zip": tmp / "TAU-SRIR_DB.zip", "TAU-SNoise_DB.zip": tmp / "TAU-SNoise_DB.zip"}
    report = convert_tau(files, out, tmp / "work")
    return out, rooms, report, tmp


def _expected(room):
    """Positions and W markers in SOFA order: trajectories, heights, every second height reversed."""
    pos, marks = [], []
    k = 0 if room.name == "bomb_shelter" else 1
    for i, heights in enumerate(room.points):
        for j, pts in enumerate(heights):
            idx = np.arange(len(pts))[::-1] if j % 2 else np.arange(len(pts))
            pos.append(pts[idx])
            marks += [marker(k, i, j, p) for p in idx]
    return np.concatenate(pos), np.array(marks)


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_rooms_positions_irs_and_listener(db):
    out, rooms, report, tmp = db
    again = tmp / "again"
    again.mkdir()
    convert_tau({n: tmp / n for n in ("TAU-SRIR_DB.zip", "TAU-SNoise_DB.zip")}, again, tmp / "work")
    assert _files(again) == _files(out)  # same bytes on a second run
    assert sorted(p.name for p in out.iterdir()) == [
        "bomb_shelter_foa.sofa", "bomb_shelter_foa_ambience.flac", "manifest.json", "sa203_foa.sofa",
        "sa203_foa_ambience.flac"]  # the work folder is gone
    for room in rooms:
        sofa = load_sofa(out / f"{room.name}_foa.sofa")
        positions, marks = _expected(room)
        # circular: on the ring of its distance at the DOA's direction; linear: back on the straight path
        np.testing.assert_allclose(sofa.positions, positions, atol=1e-9)
        assert sofa.irs.shape == (len(positions), 4, N_TAPS) and sofa.name == room.name
        np.testing.assert_allclose(sofa.irs[:, 0, 0], marks, rtol=1e-6)  # each IR next to its own position
        with h5py.File(out / f"{room.name}_foa.sofa") as f:
            np.testing.assert_allclose(f["ListenerPosition"][()], [MIC[room.name]])
            assert f["Data.SamplingRate"][()].tolist() == [24000.0] and f.attrs["SOFAConventions"] == "SingleRoomSRIR"
        assert report[room.name]["measurements"] == len(positions)
        assert report[room.name]["trajectory_type"] == room.kind


def test_ambience_is_the_rooms_foa_recording_losslessly(db):
    out, rooms, _, _ = db
    for room in rooms:
        lazy = open_sofa(out / f"{room.name}_foa.sofa")
        assert lazy.ambience == out / f"{room.name}_foa_ambience.flac"
        x, sr = sf.read(lazy.ambience, dtype="float64")
        ref = sf.read(io.BytesIO(_wav24(ambience(room.name))), dtype="float64")[0]
        assert sr == 24000 and x.shape == ref.shape
        np.testing.assert_array_equal(x, ref)  # 24-bit samples kept exactly, the tetra file not taken


def _wav24(x):
    buf = io.BytesIO()
    sf.write(buf, x, 24000, format="WAV", subtype="PCM_24")
    return buf.getvalue()


def test_path_positions_match_the_geometry_by_hand(db):
    _, rooms, _, tmp = db
    geo = read_geometry(tmp / "src" / "measinfo.mat", tmp / "src" / "rirdata.mat")
    assert [g.trajectory_type for g in geo] == ["circular", "linear"]
    # circular, trajectory 2 (d = 3 m), height 1: horizontal radius 3 m, z = d tan(elevation) = -0.5 m
    p = path_positions(geo[0], 1, 0)
    np.testing.assert_allclose(np.hypot(p[:, 0], p[:, 1]), 3.0)
    np.testing.assert_allclose(p[:, 2], -0.5)
    # linear, trajectory 1 starts at (2, -1.5, -0.3), height 0.9: x = 2 and z = 0.6 all along the path
    p = path_positions(geo[1], 0, 1)
    np.testing.assert_allclose(p[:, 0], 2.0)
    np.testing.assert_allclose(p[:, 2], 0.6)
    np.testing.assert_allclose(p[:, 1], np.linspace(-1.5, 1.5, 6))


def test_a_room_is_converted_one_trajectory_at_a_time(tmp_path, db):
    """A room ~8x one path: peak memory stays near one path (float64 read + float32 copy), not the room."""
    _, rooms, _, tmp = db
    room = rooms[0]
    n_pts = 120
    geo = read_geometry(tmp / "src" / "measinfo.mat", tmp / "src" / "rirdata.mat")[0]
    rng = np.random.default_rng(0)
    for i in range(2):
        for j in range(2):
            u = rng.standard_normal((n_pts, 3))
            geo.doa[i][j] = u / np.linalg.norm(u, axis=1, keepdims=True)
    room.foa = [[rng.standard_normal((n_pts, 4, N_TAPS)) for _ in range(2)] for _ in range(2)]
    write_mat73(tmp_path / "big.mat", room)
    whole = 4 * n_pts * 4 * N_TAPS * 8  # bytes of the room's FOA IRs as float64
    tracemalloc.start()
    try:
        assert convert_room(tmp_path / "big.mat", geo, tmp_path / "big.sofa", "big") == 4 * n_pts
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * whole, f"peak {peak / 1e6:.1f} MB for a {whole / 1e6:.1f}-MB room"
    np.testing.assert_array_equal(load_sofa(tmp_path / "big.sofa").irs[:n_pts], room.foa[0][0].astype(np.float32))


def test_mismatched_geometry_and_bad_files_are_named(tmp_path, db):
    _, rooms, _, tmp = db
    geo = read_geometry(tmp / "src" / "measinfo.mat", tmp / "src" / "rirdata.mat")
    write_mat73(tmp_path / "rirs_05_sa203.mat", rooms[1])
    with pytest.raises(SeldInputError, match=r"rirs_05_sa203.mat: trajectory 1, height 1: IRs of shape \(6, 4, 2400\), "
                                             r"expected \(5, 4, 2400\)"):
        convert_room(tmp_path / "rirs_05_sa203.mat", geo[0], tmp_path / "x.sofa", "sa203")  # the other room's DOAs
    assert not (tmp_path / "x.sofa").exists()
    (tmp_path / "garbage.mat").write_bytes(b"MATLAB 5.0 MAT-file")
    with pytest.raises(SeldInputError, match="garbage.mat: not a MAT v7.3"):
        convert_room(tmp_path / "garbage.mat", geo[0], tmp_path / "x.sofa", "x")
    with pytest.raises(SeldInputError, match=r"measinfo.mat: not the TAU-SRIR DB rirdata.mat layout \(KeyError"):
        read_geometry(tmp / "src" / "measinfo.mat", tmp / "src" / "measinfo.mat")  # given as rirdata.mat

    # an ambience archive without the room's FOA file
    noise = tmp_path / "TAU-SNoise_DB.zip"
    with zipfile.ZipFile(tmp / "TAU-SNoise_DB.zip") as src, zipfile.ZipFile(noise, "w") as dst:
        for name in src.namelist():
            if "bomb" not in name or "tetra" in name:
                dst.writestr(name, src.read(name))
    out = tmp_path / "out"
    out.mkdir()
    files = {"TAU-SRIR_DB.zip": tmp / "TAU-SRIR_DB.zip", "TAU-SNoise_DB.zip": noise}
    with pytest.raises(SeldInputError, match=r"TAU-SNoise_DB.zip: expected one FOA ambience for room bomb_shelter "
                                             r"\(a folder named \*bomb_center\*"):
        convert_tau(files, out, tmp_path / "work")
