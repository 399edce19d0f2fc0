"""Reading, validating and writing DCASE metadata CSVs.

Two formats:

* DCASE2025 (stereo): header ``frame,class,source,azimuth,distance,onscreen``; azimuth in degrees
  (positive = left); distance in centimetres; onscreen 0/1.
* STARSS23 / SpatialScaper (FOA): headerless ``frame,class,source,azimuth,elevation,distance``;
  the distance unit is given by the caller (STARSS23 uses cm, SpatialScaper writes metres).

Events are held column-wise in an :class:`EventTable` (one row per active event per frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seldlib.atomic import atomic_path
from seldlib.constants import CSV_HEADER, N_CLASSES, N_LABEL_FRAMES
from seldlib.errors import SeldInputError


@dataclass
class EventTable:
    """Events, one row per (frame, event). All arrays have shape ``(n_events,)``.

    ``distance`` is in the file's unit (cm for DCASE2025 CSVs). ``elevation`` is NaN where unknown.
    """

    frame: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cls: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    source: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    azimuth: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    distance: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    onscreen: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    elevation: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.frame = np.asarray(self.frame, np.int64).reshape(-1)
        self.cls = np.asarray(self.cls, np.int64).reshape(-1)
        self.source = np.asarray(self.source, np.int64).reshape(-1)
        self.azimuth = np.asarray(self.azimuth, np.float64).reshape(-1)
        self.distance = np.asarray(self.distance, np.float64).reshape(-1)
        self.onscreen = np.asarray(self.onscreen, np.int64).reshape(-1)
        if self.elevation is not None:
            self.elevation = np.asarray(self.elevation, np.float64).reshape(-1)
        n = len(self.frame)
        for name in ("cls", "source", "azimuth", "distance", "onscreen"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"EventTable column {name!r} has {len(getattr(self, name))} rows, expected {n}")

    def __len__(self) -> int:
        return len(self.frame)

    def sorted(self) -> "EventTable":
        """Rows ordered by (frame, class, source) with a stable sort, as the official writers emit them."""
        order = np.lexsort((self.source, self.cls, self.frame))
        return self.take(order)

    def take(self, index: np.ndarray) -> "EventTable":
        return EventTable(
            self.frame[index], self.cls[index], self.source[index], self.azimuth[index],
            self.distance[index], self.onscreen[index],
            None if self.elevation is None else self.elevation[index],
        )

    @staticmethod
    def concat(tables: list["EventTable"]) -> "EventTable":
        if not tables:
            return EventTable()
        has_el = all(t.elevation is not None for t in tables)
        return EventTable(
            np.concatenate([t.frame for t in tables]), np.concatenate([t.cls for t in tables]),
            np.concatenate([t.source for t in tables]), np.concatenate([t.azimuth for t in tables]),
            np.concatenate([t.distance for t in tables]), np.concatenate([t.onscreen for t in tables]),
            np.concatenate([t.elevation for t in tables]) if has_el else None,
        )


def _parse_int(text: str, path: Path, line: int, column: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise SeldInputError(path, f"column {column!r} must be an integer, got {text.strip()!r}", line) from None


def _parse_float(text: str, path: Path, line: int, column: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise SeldInputError(path, f"column {column!r} must be a number, got {text.strip()!r}", line) from None
    if not math.isfinite(value):
        raise SeldInputError(path, f"column {column!r} must be finite, got {text.strip()!r}", line)
    return value


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise SeldInputError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SeldInputError(path, f"cannot read as UTF-8 text ({err.__class__.__name__})") from None


def read_metadata_csv(path: str | Path, n_frames: int | None = N_LABEL_FRAMES) -> EventTable:
    """Read and validate a DCASE2025 metadata CSV (header required).

    ``n_frames`` bounds the frame index (``0 <= frame < n_frames``); ``None`` disables that check.
    Raises :class:`SeldInputError` naming the file and line of the first problem.
    """
    path = Path(path)
    lines = _read_lines(path)
    if not lines or tuple(c.strip() for c in lines[0].split(",")) != CSV_HEADER:
        first = lines[0] if lines else "<empty file>"
        raise SeldInputError(path, f"expected header {','.join(CSV_HEADER)!r}, got {first!r}", 1)
    rows: list[tuple[int, int, int, float, float, int]] = []
    for lineno, text in enumerate(lines[1:], start=2):
        if not text.strip():
            continue
        parts = text.split(",")
        if len(parts) != 6:
            raise SeldInputError(path, f"expected 6 columns, got {len(parts)}", lineno)
        frame = _parse_int(parts[0], path, lineno, "frame")
        cls = _parse_int(parts[1], path, lineno, "class")
        source = _parse_int(parts[2], path, lineno, "source")
        az = _parse_float(parts[3], path, lineno, "azimuth")
        dist = _parse_float(parts[4], path, lineno, "distance")
        on = _parse_int(parts[5], path, lineno, "onscreen")
        _validate_row(path, lineno, frame, cls, az, dist, n_frames)
        if on not in (0, 1):
            raise SeldInputError(path, f"onscreen must be 0 or 1, got {on}", lineno)
        rows.append((frame, cls, source, az, dist, on))
    return _table_from_rows(rows, elevation=None)


def _validate_row(path: Path, lineno: int, frame: int, cls: int, az: float, dist: float, n_frames: int | None) -> None:
    if not 0 <= cls < N_CLASSES:
        raise SeldInputError(path, f"class must be in 0..{N_CLASSES - 1}, got {cls}", lineno)
    if frame < 0 or (n_frames is not None and frame >= n_frames):
        limit = "" if n_frames is None else f"..{n_frames - 1}"
        raise SeldInputError(path, f"frame {frame} is outside the clip (0{limit})", lineno)
    if not -180.0 <= az <= 180.0:
        raise SeldInputError(path, f"azimuth must be in [-180, 180] degrees, got {az:g}", lineno)
    if dist <= 0:
        raise SeldInputError(path, f"distance must be > 0, got {dist:g}", lineno)


def _table_from_rows(rows: list[tuple], elevation: list[float] | None) -> EventTable:
    if not rows:
        return EventTable(elevation=None if elevation is None else np.zeros(0))
    cols = list(zip(*rows))
    return EventTable(cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], elevation)


def _fmt_number(value: float, integer: bool) -> str:
    if integer:
        return str(int(round(value)))
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_metadata_csv(events: EventTable, integer: bool = True) -> str:
    """The CSV text (header + rows, ``\\n`` endings). ``integer`` rounds azimuth and distance as the dataset does."""
    lines = [",".join(CSV_HEADER)]
    for i in range(len(events)):
        lines.append(
            f"{int(events.frame[i])},{int(events.cls[i])},{int(events.source[i])},"
            f"{_fmt_number(events.azimuth[i], integer)},{_fmt_number(events.distance[i], integer)},"
            f"{int(events.onscreen[i])}"
        )
    return "\n".join(lines) + "\n"


def write_metadata_csv(path: str | Path, events: EventTable, integer: bool = True) -> None:
    """Write a DCASE2025 CSV atomically, rows sorted by (frame, class, source)."""
    text = format_metadata_csv(events.sorted(), integer=integer)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")


def fold_azimuth(az: np.ndarray | float) -> np.ndarray:
    """Wrap to [-180, 180) then fold rear directions to the front half-plane: result in [-90, 90]."""
    a = (np.asarray(az, np.float64) + 180.0) % 360.0 - 180.0
    a = np.where(a < -90.0, -180.0 - a, a)
    return np.where(a > 90.0, 180.0 - a, a)
