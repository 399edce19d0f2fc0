"""DCASE2025 / STARSS CSV reading, validation and round trips."""

from pathlib import Path

import pytest

from seldlib.errors import SeldInputError
from seldlib.metadata import EventTable, fold_azimuth, read_metadata_csv, write_metadata_csv

HEADER = "frame,class,source,azimuth,distance,onscreen\n"


def _write(tmp_path: Path, text: str, name: str = "clip.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_valid_file(tmp_path):
    path = _write(tmp_path, HEADER + "0,3,1,-45,250,1\n12,12,0,90,31,0\n")
    ev = read_metadata_csv(path)
    assert ev.frame.tolist() == [0, 12]
    assert ev.cls.tolist() == [3, 12]
    assert ev.azimuth.tolist() == [-45.0, 90.0]
    assert ev.distance.tolist() == [250.0, 31.0]
    assert ev.onscreen.tolist() == [1, 0]


def test_header_only_file_is_empty(tmp_path):
    assert len(read_metadata_csv(_write(tmp_path, HEADER))) == 0


@pytest.mark.parametrize(
    "row, fragment",
    [
        ("0,3,1,-45,250", "expected 6 columns, got 5"),
        ("0,3,1,-45,250,1,7", "expected 6 columns, got 7"),
        ("0.5,3,1,-45,250,1", "'frame' must be an integer"),
        ("0,x,1,-45,250,1", "'class' must be an integer"),
        ("0,3,1.0,-45,250,1", "'source' must be an integer"),
        ("0,3,1,-45,250,0.7", "'onscreen' must be an integer"),
        ("0,13,1,-45,250,1", "class must be in 0..12"),
        ("0,-1,1,-45,250,1", "class must be in 0..12"),
        ("50,3,1,-45,250,1", "frame 50 is outside the clip"),
        ("-1,3,1,-45,250,1", "frame -1 is outside the clip"),
        ("0,3,1,-181,250,1", "azimuth must be in [-180, 180]"),
        ("0,3,1,180.5,250,1", "azimuth must be in [-180, 180]"),
        ("0,3,1,10,0,1", "distance must be > 0"),
        ("0,3,1,10,-3,1", "distance must be > 0"),
        ("0,3,1,10,nan,1", "'distance' must be finite"),
        ("0,3,1,10,100,2", "onscreen must be 0 or 1"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, row, fragment):
    path = _write(tmp_path, HEADER + "1,2,0,0,100,0\n" + row + "\n")
    with pytest.raises(SeldInputError) as err:
        read_metadata_csv(path)
    msg = str(err.value)
    assert str(path) in msg and "line 3" in msg and fragment in msg


def test_missing_header_and_missing_file(tmp_path):
    with pytest.raises(SeldInputError, match="line 1.*expected header"):
        read_metadata_csv(_write(tmp_path, "0,3,1,-45,250,1\n"))
    with pytest.raises(SeldInputError, match="file not found"):
        read_metadata_csv(tmp_path / "absent.csv")


def test_boundaries_are_accepted(tmp_path):
    ev = read_metadata_csv(_write(tmp_path, HEADER + "49,0,0,-180,1,0\n0,12,9,180,1,1\n"))
    assert ev.frame.tolist() == [49, 0]


def test_round_trip_sorted_and_byte_stable(tmp_path):
    ev = EventTable([5, 0, 5], [2, 7, 1], [0, 3, 1], [12.4, -89.6, 0.0], [100.2, 51.0, 633.0], [0, 1, 1])
    out = tmp_path / "out.csv"
    write_metadata_csv(out, ev)
    text = out.read_text()
    # Sorted by frame then class, integers rounded half-to-even by hand: 12.4→12, -89.6→-90, 100.2→100.
    assert text == HEADER + "0,7,3,-90,51,1\n5,1,1,0,633,1\n5,2,0,12,100,0\n"
    back = read_metadata_csv(out)
    assert back.frame.tolist() == [0, 5, 5] and back.cls.tolist() == [7, 1, 2]
    write_metadata_csv(tmp_path / "again.csv", back)
    assert (tmp_path / "again.csv").read_bytes() == out.read_bytes()


def test_float_round_trip(tmp_path):
    ev = EventTable([0], [1], [0], [-12.25], [123.5], [0])
    write_metadata_csv(tmp_path / "f.csv", ev, integer=False)
    assert (tmp_path / "f.csv").read_text() == HEADER + "0,1,0,-12.25,123.5,0\n"


@pytest.mark.parametrize(
    "az, folded",
    [(0, 0), (90, 90), (-90, -90), (135, 45), (-135, -45), (180, 0), (-180, 0), (100, 80), (-91, -89), (270, -90), (450, 90)],
)
def test_fold_azimuth(az, folded):
    # fold: wrap to [-180, 180), then a < -90 → -180 - a, a > 90 → 180 - a (docs/data-contract.md#azimuth-convention).
    assert float(fold_azimuth(az)) == pytest.approx(folded)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    class Boom(EventTable):
        def sorted(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_metadata_csv(tmp_path / "x.csv", Boom())
    assert list(tmp_path.iterdir()) == []
