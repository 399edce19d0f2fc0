"""The DVC cache link type of this project cannot be corrupted by editing a tracked output in place.

A hard-linked (or symlinked) workspace file *is* the cache object: read-only bits do not stop root, so
appending a line rewrote the object, `dvc checkout --force` relinked the rewritten object and `dvc status`
then said up to date. The test runs a real DVC repo in a temp dir with the project's own `.dvc/config` (docs/real-data.md).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TABLE = b"frame,class\n0,1\n1,2\n"

pytestmark = pytest.mark.skipif(shutil.which("dvc") is None, reason="dvc not installed")


def _run(cmd: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode in ok, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _repo(tmp_path: Path, link: str | None) -> tuple[Path, Path]:
    """A DVC repo with the project's ``.dvc/config`` (``link`` overrides ``cache.type`` locally) whose one
    stage wrote ``out/table.csv``; returns that file and its cache object."""
    _run(["git", "init", "-q"], tmp_path)
    _run(["dvc", "init", "-q"], tmp_path)
    shutil.copyfile(ROOT / ".dvc" / "config", tmp_path / ".dvc" / "config")
    if link:
        _run(["dvc", "config", "--local", "cache.type", link], tmp_path)
    (tmp_path / "make.py").write_text(
        "from pathlib import Path\n"
        "Path('out').mkdir()\n"
        f"Path('out/table.csv').write_bytes({TABLE!r})\n"
    )
    (tmp_path / "dvc.yaml").write_text("stages:\n  make:\n    cmd: python make.py\n    deps: [make.py]\n    outs: [out]\n")
    _run(["dvc", "repro", "-q"], tmp_path)
    # depending on the link type a run leaves a separate file or a link; checkout links it the way a
    # run-cache restore, `dvc pull` or `dvc exp apply` does, and that file is the one a user then edits
    shutil.rmtree(tmp_path / "out")
    _run(["dvc", "checkout", "-q"], tmp_path)
    digest = hashlib.md5(TABLE).hexdigest()
    obj = tmp_path / ".dvc" / "cache" / "files" / "md5" / digest[:2] / digest[2:]
    table = tmp_path / "out" / "table.csv"
    assert table.read_bytes() == TABLE and obj.read_bytes() == TABLE
    assert _run(["dvc", "status", "-q"], tmp_path).returncode == 0
    return table, obj


def _append_and_restore(tmp_path: Path, table: Path, obj: Path) -> None:
    if not os.access(table, os.W_OK):  # a read-only link does not stop root; make it so for any user
        os.chmod(table, 0o644)
    with open(table, "ab") as fh:
        fh.write(b"2,3\n")
    assert _run(["dvc", "status", "-q"], tmp_path, ok=(0, 1)).returncode == 1, "the edit went unnoticed"
    assert re.search(r"modified:\s+out", _run(["dvc", "status"], tmp_path).stdout)
    _run(["dvc", "checkout", "--force", "-q"], tmp_path)
    assert table.read_bytes() == TABLE
    assert hashlib.md5(obj.read_bytes()).hexdigest() == obj.parent.name + obj.name  # object still matches its name
    assert _run(["dvc", "status", "-q"], tmp_path).returncode == 0


def test_editing_a_tracked_output_leaves_the_cache_intact(tmp_path):
    table, obj = _repo(tmp_path, None)  # the committed cache.type
    _append_and_restore(tmp_path, table, obj)


def test_hardlink_opt_in_is_safe_after_dvc_unprotect(tmp_path):
    table, obj = _repo(tmp_path, "hardlink")
    assert table.stat().st_ino == obj.stat().st_ino  # the workspace file is the cache object...
    _run(["dvc", "unprotect", "out"], tmp_path)  # ...until unprotect replaces it with a copy
    assert table.stat().st_ino != obj.stat().st_ino
    _append_and_restore(tmp_path, table, obj)
