"""Zip extraction that refuses unsafe members and never leaves a half-extracted tree behind."""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from seldlib.atomic import atomic_path
from seldlib.download.splitzip import PathLike, open_zip
from seldlib.errors import SeldInputError


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a member must not be extracted, or None when it is a plain file/directory with a relative path."""
    name = info.filename
    if "\x00" in name:
        return "contains a NUL byte"
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in re.split(r"[\\/]", name):
        return "contains '..' (path traversal)"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "is not a regular file or directory"
    return None


def _relative_parts(archive: Path, members: list[zipfile.ZipInfo]) -> list[tuple[str, ...]]:
    parts = []
    for info in members:
        if problem := _member_problem(info):
            raise SeldInputError(archive, f"refusing to extract member {info.filename!r}: it {problem}")
        parts.append(tuple(p for p in info.filename.split("/") if p not in ("", ".")))
    return parts


def _relayout(parts: list[tuple[str, ...]], strip_top: str | None, wrap_in: str | None) -> list[tuple[str, ...]]:
    """Drop a shared top folder named ``strip_top``; then make sure everything sits under ``wrap_in``."""
    named = [p for p in parts if p]
    if strip_top and named and all(p[0] == strip_top for p in named):
        parts = [p[1:] for p in parts]
        named = [p for p in parts if p]
    if wrap_in and named and not all(p[0] == wrap_in and len(p) > 1 or p == (wrap_in,) for p in named):
        parts = [(wrap_in, *p) for p in parts]
    return parts


def safe_extract(
    zip_path: PathLike | Sequence[PathLike],
    target_dir: PathLike,
    *,
    strip_top: str | None = None,
    wrap_in: str | None = None,
    progress: bool = True,
) -> Path:
    """Extract a zip (or the parts of a split zip) into ``target_dir``, all or nothing.

    Every member is checked before anything is written: absolute paths, ``..`` components, symlinks and
    other special files are refused with one error naming the archive and the member. Members are
    written into a temporary directory beside ``target_dir`` that replaces it only once complete.
    ``strip_top``: when every member sits under this folder, drop it (archives with and without a top
    folder give the same tree). ``wrap_in``: then, unless everything already sits in this folder, put it
    there. Returns ``target_dir``.
    """
    archive = Path(zip_path if isinstance(zip_path, (str, Path)) else zip_path[-1])
    target = Path(target_dir)
    with open_zip(zip_path) as zf:
        members = zf.infolist()
        rel = _relayout(_relative_parts(archive, members), strip_top, wrap_in)
        total = sum(m.file_size for m in members)
        try:
            with atomic_path(target, suffix="") as tmp, tqdm(
                total=total, unit="B", unit_scale=True, unit_divisor=1024,
                desc=f"extract {archive.name}", disable=not progress, leave=False,
            ) as bar:  # fmt: skip
                tmp.mkdir()
                for info, parts in zip(members, rel):
                    out = tmp.joinpath(*parts)
                    if info.is_dir():
                        out.mkdir(parents=True, exist_ok=True)
                        continue
                    if not parts:
                        raise SeldInputError(archive, f"member {info.filename!r} has an empty file name")
                    out.parent.mkdir(parents=True, exist_ok=True)
                    try:
                        with zf.open(info) as src, open(out, "xb") as dst:
                            shutil.copyfileobj(src, dst, 1 << 20)
                    except FileExistsError:
                        raise SeldInputError(archive, f"member {info.filename!r} occurs twice") from None
                    bar.update(info.file_size)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
            raise SeldInputError(archive, f"cannot extract: {err}") from None
        except OSError as err:  # disk full, a member that is both a file and a folder, ...
            raise SeldInputError(archive, f"cannot extract into {target}: {err}") from None
    return target
