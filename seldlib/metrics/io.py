"""Reading reference and prediction CSVs the way the official DCASE2025 evaluation does.

The official loader (baseline ``utils.load_labels``) drops line 1 of every file whatever it holds,
then parses each remaining line as ``int frame, int class, int source, float azimuth,
float distance, int onscreen`` with Python's ``int()`` / ``float()`` on the raw text. This module
keeps exactly that behaviour for predictions AND references (so numbers match on any input), and
turns every way the official code would crash into one :class:`SeldInputError` naming file and line.

Deliberate, documented differences (only on inputs where the official code crashes or silently
misbehaves; they never change a number the official code would print):

* blank lines are skipped (the official loader raises ``ValueError`` on them);
* non-finite azimuth / distance (``nan``, ``inf``) is an error (officially it propagates NaN);
* only ``*.csv`` files are collected, recursively, and two CSVs with the same file name anywhere
  under one root are an error (officially the later one silently replaces the earlier one);
* a prediction or reference folder without any CSV is an error (officially it scores F = 0).

Like the official loader, columns after the sixth are ignored, values are not range-checked and line 1
is always dropped. Inputs the official code scores without a word are scored the same way here, and
reported as :class:`InputWarning` notes in a list the caller passes (the library prints nothing; the
command line prints them): line 1 that looks like an event, an empty file, a frame outside the 50 label
frames of a five-second clip, a class outside 0..12, an azimuth outside -180..180, a distance <= 0 and
an onscreen flag other than 0/1. One note per file and problem names the first line and counts the
others. (Frames from the last reference frame on are outside the official scoring window on every
clip; that is the official rule, not a mistake in the file, so it is not reported.)
"""

from __future__ import annotations

import io

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seldlib.constants import CLIP_SECONDS, N_CLASSES, N_LABEL_FRAMES
from seldlib.errors import SeldInputError
from seldlib.metadata import EventTable

# checked in this order when a row does not parse, so the message names its first bad column
_COLUMNS = ((0, "frame", int), (1, "class", int), (2, "source", int), (5, "onscreen", int),
            (3, "azimuth", float), (4, "distance", float))


@dataclass(frozen=True)
class InputWarning:
    """Something in an input file that is scored as the official code does but is probably a mistake."""

    path: Path
    line: int | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.path}, line {self.line}" if self.line is not None else f"{self.path}"
        return f"{where}: {self.problem}"


def _note_rows(notes: list[InputWarning], path: Path, lines: np.ndarray, bad: np.ndarray,
               describe: Callable[[int], str]) -> None:
    """Append one note for the rows where ``bad`` holds (``(n_events,)`` bool, ``lines`` the rows'
    line numbers): ``describe(i)`` words the problem of the first such row ``i``."""
    if bad.any():
        idx = np.flatnonzero(bad)
        more = f" (and {len(idx) - 1} more line{'s' if len(idx) > 2 else ''})" if len(idx) > 1 else ""
        notes.append(InputWarning(path, int(lines[idx[0]]), describe(int(idx[0])) + more))


def _value_notes(notes: list[InputWarning], path: Path, t: EventTable, lines: np.ndarray) -> None:
    last, top = N_LABEL_FRAMES - 1, N_CLASSES - 1
    if (t.frame.min() >= 0 and t.frame.max() <= last and t.cls.min() >= 0 and t.cls.max() <= top
            and np.abs(t.azimuth).max() <= 180.0 and t.distance.min() > 0.0
            and t.onscreen.min() >= 0 and t.onscreen.max() <= 1):
        return  # the usual case, one pass per column
    _note_rows(notes, path, lines, (t.frame < 0) | (t.frame > last),
               lambda i: f"frame {t.frame[i]} is outside the label frames 0..{last} of a {CLIP_SECONDS:g}-second "
                         "clip (the official evaluation scores only frames before the reference's last frame)")
    _note_rows(notes, path, lines, (t.cls < 0) | (t.cls > top),
               lambda i: f"class {t.cls[i]} is outside 0..{top}; the official evaluation never scores it")
    _note_rows(notes, path, lines, np.abs(t.azimuth) > 180.0,
               lambda i: f"azimuth {t.azimuth[i]:g} is outside -180..180; the official evaluation wraps it to "
                         f"{(t.azimuth[i] + 180.0) % 360.0 - 180.0:g}")
    _note_rows(notes, path, lines, t.distance <= 0.0,
               lambda i: f"distance {t.distance[i]:g} is not positive; scored as given")
    _note_rows(notes, path, lines, (t.onscreen != 0) & (t.onscreen != 1),
               lambda i: f"onscreen {t.onscreen[i]} is neither 0 nor 1; scored as given, so it never matches "
                         "a reference flag")


def _columns(rows: list[list[str]]) -> EventTable | None:
    """The table of data rows (each split at commas), or None when some row is blank or malformed."""
    if not rows:
        return EventTable()
    if min(map(len, rows)) < 6:
        return None
    try:
        f, c, s, a, d, o = list(zip(*rows))[:6]  # zip stops at the shortest row: columns after the sixth go
        # numpy converts each str with Python's int() / float(), the official parsers (tests pin this)
        frame, cls, source, onscreen = (np.array(col, np.int64) for col in (f, c, s, o))
        azimuth, distance = np.array(a, np.float64), np.array(d, np.float64)
    except (ValueError, OverflowError):
        return None
    if not (np.isfinite(azimuth).all() and np.isfinite(distance).all()):
        return None
    return EventTable(frame, cls, source, azimuth, distance, onscreen)


def _row_problem(parts: list[str]) -> str | None:
    """What is wrong with one data row (its comma-separated fields), or None."""
    if len(parts) < 6:
        return f"expected 6 columns (frame,class,source,azimuth,distance,onscreen), got {len(parts)}"
    for col, name, kind in _COLUMNS:
        text = parts[col].strip()
        try:
            value = kind(parts[col])
        except ValueError:
            what = "an integer literal" if kind is int else "a number"
            return f"column {name!r} must be {what}, got {text!r}"
        if kind is int and not -(2**63) <= value < 2**63:
            return f"column {name!r} is out of the 64-bit integer range, got {text!r}"
        if not math.isfinite(value):
            return f"column {name!r} must be finite, got {text!r}"
    return None


def _looks_like_data(line: str) -> bool:
    parts = line.strip().split(",")
    if len(parts) < 6:
        return False
    try:
        int(parts[0])
        int(parts[1])
    except ValueError:
        return False
    return True


def read_seld_csv(path: str | Path, notes: list[InputWarning] | None = None) -> EventTable:
    """Parse one DCASE2025 CSV with the official loader's rules (line 1 dropped, integer literals).

    Returns an :class:`EventTable` whose rows keep the file order (the order decides Hungarian
    tie-breaks, exactly as in the official code). Raises :class:`SeldInputError` on any malformed
    row, naming the file and the 1-based line number. Rows that are read but look wrong are
    reported in ``notes`` when given (see the module docstring).
    """
    path = Path(path)
    try:
        # newline=None: universal newlines, like the official open(..., 'r').readlines()
        with open(path, encoding="utf-8", newline=None) as fh:
            lines = fh.readlines()
    except FileNotFoundError:
        raise SeldInputError(path, "file not found") from None
    except IsADirectoryError:
        raise SeldInputError(path, "is a directory, expected a CSV file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SeldInputError(path, f"cannot read as UTF-8 text ({err.__class__.__name__})") from None

    return parse_seld_lines(lines, path, notes)


def read_seld_text(text: str, source: str | Path, notes: list[InputWarning] | None = None) -> EventTable:
    """:func:`read_seld_csv` of a CSV already in memory (``source`` names it in messages)."""
    return parse_seld_lines(io.StringIO(text, newline=None).readlines(), Path(source), notes)


def parse_seld_lines(lines: list[str], path: Path, notes: list[InputWarning] | None = None) -> EventTable:
    """The official loader's rules applied to the lines of one CSV (see :func:`read_seld_csv`)."""
    found: list[InputWarning] = []
    if not lines:
        found.append(InputWarning(path, None, "file is empty (not even a header line); scored as no events"))
    elif _looks_like_data(lines[0]):
        found.append(InputWarning(path, 1, "looks like an event, not a header; dropped as the official loader does"))

    rows = [line.split(",") for line in lines[1:]]  # int() / float() ignore the spaces and the newline
    linenos = np.arange(2, len(rows) + 2)
    table = _columns(rows)
    if table is None:  # a blank line (skipped) or a malformed row (an error): look row by row
        kept = [n for n, r in enumerate(rows, start=2) if not (len(r) == 1 and r[0].isspace())]
        for n in kept:
            if (problem := _row_problem(rows[n - 2])) is not None:
                raise SeldInputError(path, problem, n)
        rows, linenos = [rows[n - 2] for n in kept], np.asarray(kept, dtype=np.int64)
        table = _columns(rows)
    if len(table):
        _value_notes(found, path, table, linenos)
    if notes is not None:
        notes.extend(found)
    return table


def collect_csvs(root: str | Path, what: str) -> dict[str, Path]:
    """All ``*.csv`` under ``root`` (recursively), keyed by file name.

    ``what`` names the folder's role in error messages. Two files with the same name anywhere under
    ``root`` raise :class:`SeldInputError` (the official loader would let one silently replace the other).
    """
    root = Path(root)
    if not root.is_dir():
        raise SeldInputError(root, f"{what} folder not found")
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.csv")):
        if not path.is_file():
            continue
        if path.name in found:
            raise SeldInputError(
                path, f"duplicate {what} file name; {found[path.name]} has the same name (files are keyed by name)"
            )
        found[path.name] = path
    return found
