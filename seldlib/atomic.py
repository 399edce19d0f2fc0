"""Write-then-rename helpers so an interrupted stage never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only if the block succeeds.

    Works for files and directories (the caller creates whichever it needs at the yielded path).
    The temporary name keeps the target's suffix so libraries that sniff extensions still work.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = target.suffix if suffix is None else suffix
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # the caller decides whether it is a file or a directory
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


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
