"""Write-then-rename helpers so an interrupted stage never leaves a half-written output behind.

Temporaries sit beside the target as ``.<name>.<pid>.<8 hex>.tmp<suffix>`` (ignored by git and DVC).
A later write of the same target removes the ones whose process is gone or a zombie (a run killed by
SIGKILL or a power cut cannot clean up after itself).

A folder output carries a marker file, :data:`OUTPUT_MARKER`, so that a later run may replace it as a
whole; a folder without the marker was made by someone else and is never removed, and a file output
never replaces a folder. DVC keeps the marker inside cached data outputs; ``.dvcignore`` hides it under
``metrics/``, where DVC would read every file as a metrics or plots file (git keeps it there).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seldlib.errors import SeldInputError

OUTPUT_MARKER = ".seldlib-output"
_MARKER_TEXT = (
    "This folder was written by seldlib (seldlib/atomic.py). seldlib replaces it as a whole when it\n"
    "writes it again; delete this file to keep seldlib from doing so.\n"
)
_NOT_OURS = "exists and was not written by seldlib; remove it or choose another path"

# Temporaries this process is writing (absolute paths): a folder inside one of them was created by
# this run, so it holds no leftovers and is not scanned (keeps writing thousands of files linear).
_active: set[str] = set()


def _temp_name(target: Path, suffix: str) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp{suffix}")


def _process_gone(pid: int) -> bool:
    if pid == os.getpid():
        return True  # this process is not writing the target yet: an earlier run had the same pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False  # alive under another user, or not a pid this system can have: leave it
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """True when ``pid`` has exited but nobody has reaped it yet: a run killed with its parent is
    reparented to PID 1, which in many containers never reaps, so its pid stays taken (Linux only)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    # the command name is in parentheses and may hold spaces; the state follows the last ")"
    return stat.rpartition(")")[2].split()[:1] in (["Z"], ["X"])


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _remove_stale_temporaries(target: Path, suffix: str) -> None:
    """Delete temporaries of ``target`` (exactly its name pattern) whose writing process has died."""
    parent = os.path.abspath(target.parent)
    if any(parent == a or parent.startswith(a + os.sep) for a in _active):
        return
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(\d+)\.[0-9a-f]{{8}}\.tmp{re.escape(suffix)}")
    prefix = f".{target.name}."
    with contextlib.suppress(OSError), os.scandir(target.parent) as entries:
        stale = [e.name for e in entries if e.name.startswith(prefix) and (m := pattern.fullmatch(e.name))
                 and _process_gone(int(m.group(1)))]
    for name in stale:
        _remove(target.parent / name)


def _check_target(target: Path, output_is_dir: bool | None) -> None:
    """Raise :class:`SeldInputError` unless ``target`` may be replaced by an output of that kind
    (``None``: not known yet, so anything replaceable by a file or a folder output passes)."""
    if not os.path.lexists(target):
        return
    if target.is_dir():
        if target.is_symlink():
            raise SeldInputError(target, "is a link to a folder; remove it or choose another path")
        if not (target / OUTPUT_MARKER).is_file():
            raise SeldInputError(target, _NOT_OURS)
        if output_is_dir is False:
            raise SeldInputError(target, "is a folder; expected a file path for this output")
    elif target.is_file():
        if output_is_dir:
            raise SeldInputError(target, "is a file; expected a folder for this output")
    else:
        raise SeldInputError(target, "exists and is neither a file nor a folder; remove it or choose another path")


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only if the block succeeds.

    Works for files and directories (the caller creates whichever it needs at the yielded path; folder
    outputs pass ``suffix=""``). The temporary name keeps the target's suffix so libraries that sniff
    extensions still work. Raises :class:`SeldInputError` naming ``target`` when it cannot be written
    or is something this output must not replace (see the module docstring).
    """
    target = Path(target)
    suffix = target.suffix if suffix is None else suffix
    _check_target(target, None)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(target, suffix)
        tmp = _temp_name(target, suffix)
        # probe that the folder is writable, so the error names the output rather than the temporary
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        tmp.unlink()  # the caller decides whether it is a file or a directory
    except OSError as err:
        why = err.strerror or err.__class__.__name__
        raise SeldInputError(target, f"cannot write into the folder {target.parent} ({why})") from None
    key = os.path.abspath(tmp)
    _active.add(key)
    try:
        yield tmp
        is_dir = tmp.is_dir() and not tmp.is_symlink()
        _check_target(target, is_dir)
        if is_dir:
            (tmp / OUTPUT_MARKER).write_text(_MARKER_TEXT, encoding="utf-8", newline="\n")
            if os.path.lexists(target):
                # set the old folder aside under a temporary name: if this run dies now, the next
                # write removes it; the target is never a half-deleted folder
                old = _temp_name(target, suffix)
                os.rename(target, old)
                try:
                    os.replace(tmp, target)
                except BaseException:
                    os.rename(old, target)
                    raise
                _remove(old)
                return
        os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise
    finally:
        _active.discard(key)


def write_text_atomic(target: str | Path, text: str) -> None:
    """Write ``text`` (with ``\\n`` line endings) to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")


def write_json_atomic(target: str | Path, obj: Any, ndigits: int | None = 6) -> None:
    """Write sorted, indented JSON with floats rounded to ``ndigits`` (deterministic bytes)."""

    def _round(x: Any) -> Any:
        if isinstance(x, float):
            if x != x or x in (float("inf"), float("-inf")):
                return None
            return round(x, ndigits) if ndigits is not None else x
        if isinstance(x, dict):
            return {str(k): _round(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [_round(v) for v in x]
        return x

    write_text_atomic(target, json.dumps(_round(obj), indent=2, sort_keys=True) + "\n")
