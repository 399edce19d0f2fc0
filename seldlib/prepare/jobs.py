"""One conversion job: an archive member and where it goes in the source tree (:mod:`seldlib.prepare.convert`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Job:
    """Member ``member`` of the zip ``archive`` (``.zNN`` parts beside it) goes to ``<root>/<out>``;
    ``name`` is how the report calls it (a selection-list line, an FMA track)."""

    archive: Path
    member: str
    out: str
    name: str
