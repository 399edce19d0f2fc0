"""The DCASE2022 FSD50K selection (``FSD50K_selected.txt``, Zenodo 6406873) as conversion jobs.

Each line of the list is ``<class folder>/<split>/<FSD50K label folder>/<fsd_id>.wav``, e.g.
``clapping/train/Clapping/12345.wav``. As in SpatialScaper's ``scripts/prepare_fsd50k_fma.py``, a
``train`` line is the file ``<fsd_id>.wav`` of the FSD50K dev audio and a ``test`` line that of the eval
audio (FSD50K, Zenodo 4060432); it goes to the same relative path in the source tree
(docs/real-data.md#the-source-tree). The class folders are the twelve non-music classes of
:data:`seldlib.synth.sources.FOLDER_NAMES`; music comes from FMA (:mod:`seldlib.prepare.fma`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from seldlib.download import open_zip
from seldlib.errors import SeldInputError
from seldlib.prepare.jobs import Job
from seldlib.synth.sources import FOLDER_NAMES

SELECTION = "FSD50K_selected.txt"
AUDIO_ARCHIVES = {"train": "FSD50K.dev_audio.zip", "test": "FSD50K.eval_audio.zip"}
FSD50K_CLASSES = tuple(c for c in FOLDER_NAMES if c != "music")
_LABEL = re.compile(r"[A-Za-z0-9_(),.'-]+")
_FILE = re.compile(r"\d+\.wav")


@dataclass(frozen=True)
class SelectedFile:
    """One line of the selection list (``line`` counted from 1)."""

    line: int
    cls: str
    split: str
    label: str
    file: str

    @property
    def rel(self) -> str:
        return f"{self.cls}/{self.split}/{self.label}/{self.file}"


def read_selection(path: str | Path) -> list[SelectedFile]:
    """The entries of the list at ``path`` in file order (blank lines skipped, a repeated line kept once).

    Raises :class:`SeldInputError` naming the file and line for a malformed line, an unknown class folder
    or a split other than train/test.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise SeldInputError(path, f"cannot read the selection list ({err})") from None
    out: dict[str, SelectedFile] = {}
    for n, text in enumerate(lines, 1):
        text = text.strip()
        if not text:
            continue
        parts = text.split("/")
        if len(parts) != 4 or not _LABEL.fullmatch(parts[2]) or not _FILE.fullmatch(parts[3]):
            raise SeldInputError(path, f"expected <class>/<train|test>/<FSD50K label>/<id>.wav, got {text!r}", line=n)
        cls, split, label, file = parts
        if cls not in FSD50K_CLASSES:
            raise SeldInputError(path, f"unknown class folder {cls!r}; expected one of {', '.join(FSD50K_CLASSES)}",
                                 line=n)  # fmt: skip
        if split not in AUDIO_ARCHIVES:
            raise SeldInputError(path, f"split must be train or test, got {split!r}", line=n)
        out.setdefault(text, SelectedFile(n, cls, split, label, file))
    if not out:
        raise SeldInputError(path, "the selection list is empty")
    return list(out.values())


def _members(archive: Path) -> dict[str, str]:
    """File name -> member name of every file in ``archive`` (the FSD50K zips hold one flat folder)."""
    with open_zip(archive) as zf:
        return {PurePosixPath(n).name: n for n in zf.namelist() if not n.endswith("/")}


def fsd50k_jobs(selection: list[SelectedFile], files: Mapping[str, Path]) -> tuple[list[Job], list[str]]:
    """Conversion jobs for the entries found in the FSD50K audio archives, and the names of those missing."""
    members = {split: _members(files[key]) for split, key in AUDIO_ARCHIVES.items()}
    jobs, missing = [], []
    for s in selection:
        name = f"line {s.line}: {s.rel}"
        member = members[s.split].get(s.file)
        if member is None:
            missing.append(f"{name}: not in {AUDIO_ARCHIVES[s.split]}")
        else:
            jobs.append(Job(files[AUDIO_ARCHIVES[s.split]], member, s.rel, name))
    return jobs, missing
