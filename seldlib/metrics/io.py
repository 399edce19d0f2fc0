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
* a prediction folder without any CSV is an error (officially it scores F = 0).

Like the official loader, columns after the sixth are ignored, class / onscreen values are not
range-checked (classes outside 0..12 are simply never scored) and line 1 is always dropped; when
line 1 looks like a data row a :class:`HeaderLineWarning` is issued so the lost event is visible.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from seldlib.errors import SeldInputError
from seldlib.metadata import EventTable

_INT_COLUMNS = ((0, "frame"), (1, "class"), (2, "source"), (5, "onscreen"))
_FLOAT_COLUMNS = ((3, "azimuth"), (4, "distance"))


class HeaderLineWarning(UserWarning):
    """Line 1 of a CSV looked like a data row; it was dropped anyway, as the official loader does."""


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


def read_seld_csv(path: str | Path) -> EventTable:
    """Parse one DCASE2025 CSV with the official loader's rules (line 1 dropped, integer literals).

    Returns an :class:`EventTable` whose rows keep the file order (the order decides Hungarian
    tie-breaks, exactly as in the official code). Raises :class:`SeldInputError` on any malformed
    row, naming the file and the 1-based line number.
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

    if lines and _looks_like_data(lines[0]):
        warnings.warn(
            f"{path}: line 1 looks like an event, not a header; it is dropped as the official loader does",
            HeaderLineWarning,
            stacklevel=2,
        )

    ints: list[tuple[int, int, int, int]] = []
    floats: list[tuple[float, float]] = []
    for lineno, line in enumerate(lines[1:], start=2):
        text = line.strip()
        if not text:
            continue
        parts = text.split(",")
        if len(parts) < 6:
            raise SeldInputError(
                path, f"expected 6 columns (frame,class,source,azimuth,distance,onscreen), got {len(parts)}", lineno
            )
        row_i = []
        for col, name in _INT_COLUMNS:
            try:
                row_i.append(int(parts[col]))
            except ValueError:
                raise SeldInputError(
                    path, f"column {name!r} must be an integer literal, got {parts[col].strip()!r}", lineno
                ) from None
        row_f = []
        for col, name in _FLOAT_COLUMNS:
            try:
                value = float(parts[col])
            except ValueError:
                raise SeldInputError(path, f"column {name!r} must be a number, got {parts[col].strip()!r}", lineno) from None
            if not math.isfinite(value):
                raise SeldInputError(path, f"column {name!r} must be finite, got {parts[col].strip()!r}", lineno)
            row_f.append(value)
        ints.append(tuple(row_i))  # type: ignore[arg-type]
        floats.append(tuple(row_f))  # type: ignore[arg-type]

    if not ints:
        return EventTable()
    iarr = np.asarray(ints, dtype=np.int64)
    farr = np.asarray(floats, dtype=np.float64)
    return EventTable(iarr[:, 0], iarr[:, 1], iarr[:, 2], farr[:, 0], farr[:, 1], iarr[:, 3])


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
