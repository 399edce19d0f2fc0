"""seldlib.atomic: write-then-rename outputs that never remove what seldlib did not write,
and that clean up the temporaries of earlier runs that were killed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seldlib.atomic import OUTPUT_MARKER, atomic_path, write_text_atomic
from seldlib.errors import SeldInputError

REPO = Path(__file__).resolve().parents[1]


def _user_folder(path: Path) -> dict[str, bytes]:
    """A folder a person made (no seldlib marker): a file and a sub-folder."""
    (path / "sub").mkdir(parents=True)
    (path / "notes.txt").write_text("x\n")
    (path / "sub" / "data.bin").write_bytes(b"\x00\x01")
    return _tree(path)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _write_dir(target: Path, files: dict[str, str]) -> None:
    with atomic_path(target, suffix="") as tmp:
        tmp.mkdir()
        for name, text in files.items():
            (tmp / name).write_text(text)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --------------------------------------------------------------------------------------------
# never remove a folder seldlib did not write


def test_file_output_onto_a_user_folder_is_an_error_and_keeps_it(tmp_path):
    victim = tmp_path / "victim"
    before = _user_folder(victim)
    with pytest.raises(SeldInputError, match="victim") as err:
        write_text_atomic(victim, "{}\n")
    assert "was not written by seldlib" in str(err.value)
    assert _tree(victim) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["victim"]  # no temporary left


def test_folder_output_onto_a_user_folder_is_an_error_and_keeps_it(tmp_path):
    out = tmp_path / "out"
    before = _user_folder(out)
    with pytest.raises(SeldInputError, match="remove it or choose another path"):
        _write_dir(out, {"a.csv": "new\n"})
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_folder_output_replaces_the_folder_it_wrote_before(tmp_path):
    out = tmp_path / "out"
    _write_dir(out, {"a.csv": "one\n", "b.csv": "one\n"})
    marker = (out / OUTPUT_MARKER).read_bytes()
    assert marker  # the marker carries a note for people who find it
    _write_dir(out, {"a.csv": "two\n"})
    assert _tree(out) == {OUTPUT_MARKER: marker, "a.csv": b"two\n"}  # b.csv is gone, same marker bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing set aside is left


def test_file_output_onto_a_seldlib_folder_is_an_error(tmp_path):
    out = tmp_path / "out"
    _write_dir(out, {"a.csv": "one\n"})
    before = _tree(out)
    with pytest.raises(SeldInputError, match="is a folder"):
        write_text_atomic(out, "{}\n")
    assert _tree(out) == before


def test_folder_output_onto_a_file_is_an_error(tmp_path):
    target = tmp_path / "out"
    target.write_text("keep\n")
    with pytest.raises(SeldInputError, match="out"):
        _write_dir(target, {"a.csv": "x\n"})
    assert target.read_text() == "keep\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_file_output_through_a_link_to_a_folder_is_an_error(tmp_path):
    real = tmp_path / "real"
    before = _user_folder(real)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    with pytest.raises(SeldInputError, match="link"):
        write_text_atomic(link, "{}\n")
    assert link.is_symlink() and _tree(real) == before


def test_file_output_onto_a_fifo_is_an_error(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(SeldInputError, match="pipe"):
        write_text_atomic(fifo, "x\n")


def test_file_output_replaces_a_file_and_a_link_to_a_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old\n")
    write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    other = tmp_path / "other.txt"
    other.write_text("linked\n")
    link = tmp_path / "link.txt"
    link.symlink_to(other)
    write_text_atomic(link, "new\n")
    # the link itself is replaced; the file it pointed to is untouched
    assert not link.is_symlink() and link.read_text() == "new\n" and other.read_text() == "linked\n"


def test_failed_block_leaves_the_old_output_and_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    out = tmp_path / "d"
    _write_dir(out, {"a.csv": "one\n"})
    with pytest.raises(RuntimeError), atomic_path(out, suffix="") as tmp:
        tmp.mkdir()
        (tmp / "a.csv").write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old\n" and (out / "a.csv").read_text() == "one\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "d"]


# --------------------------------------------------------------------------------------------
# the output folder cannot be written


def test_parent_that_is_a_file_names_the_output(tmp_path):
    (tmp_path / "plain").write_text("x")
    target = tmp_path / "plain" / "scores.json"
    with pytest.raises(SeldInputError) as err:
        write_text_atomic(target, "{}\n")
    assert str(err.value).startswith(str(target))


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_read_only_folder_names_the_output_not_a_temporary(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(SeldInputError) as err:
            write_text_atomic(ro / "scores.json", "{}\n")
    finally:
        ro.chmod(0o755)
    msg = str(err.value)
    assert msg.startswith(str(ro / "scores.json")) and ".tmp" not in msg


# --------------------------------------------------------------------------------------------
# temporaries left by killed runs


def test_temporary_of_a_killed_run_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "train.h5"
    code = (
        "import os, signal, sys\n"
        "from seldlib.atomic import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_bytes(b'half a feature store')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(target)], cwd=REPO, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".train.h5.") and left[0].endswith(".tmp.h5")

    with atomic_path(target) as tmp:
        tmp.write_bytes(b"complete")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.h5"]


def test_only_dead_temporaries_of_the_same_target_are_removed(tmp_path):
    dead = _dead_pid()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale_file = tmp_path / f".out.json.{dead}.0123abcd.tmp.json"
        stale_file.write_text("half")
        stale_dir = tmp_path / f".d.{dead}.89abcdef.tmp"
        (stale_dir / "sub").mkdir(parents=True)
        (stale_dir / "sub" / "x.csv").write_text("half")
        keep = [
            tmp_path / f".out.json.{live.pid}.0123abcd.tmp.json",  # a run still writing
            tmp_path / f".other.json.{dead}.0123abcd.tmp.json",  # another target
            tmp_path / f".out.{dead}.0123abcd.tmp.json",  # another target (same stem)
            tmp_path / f".out.json.{dead}.0123abcd.tmp.json.bak",  # not the pattern
            tmp_path / ".out.json.notes",  # an unrelated hidden file
        ]
        for p in keep:
            p.write_text("keep")
        write_text_atomic(tmp_path / "out.json", "{}\n")
        _write_dir(tmp_path / "d", {"a.csv": "x\n"})
        assert not stale_file.exists() and not stale_dir.exists()
        assert all(p.read_text() == "keep" for p in keep)
    finally:
        live.kill()
        live.wait()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_temporary_of_an_unreaped_killed_run_is_removed(tmp_path):
    # a killed stage whose parent died too stays a zombie where PID 1 does not reap (as in CI): its
    # pid still answers kill(pid, 0), yet it writes nothing any more
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(600):  # read /proc rather than poll(), which would reap it
            state = Path(f"/proc/{zombie.pid}/stat").read_text().rpartition(")")[2].split()[0]
            if state == "Z":
                break
            time.sleep(0.01)
        assert state == "Z"
        os.kill(zombie.pid, 0)  # the pid is still taken
        stale = tmp_path / f".out.json.{zombie.pid}.0123abcd.tmp.json"
        stale.write_text("half")
        write_text_atomic(tmp_path / "out.json", "{}\n")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    finally:
        zombie.wait()


def test_temporary_names_and_marker_are_ignored_as_intended(tmp_path):
    """git and DVC ignore the temporaries; DVC ignores the marker only under metrics/ (JSON metrics and
    plots folders), so cached data folders keep it through ``dvc checkout``."""
    names = []
    with atomic_path(tmp_path / "train.h5") as tmp:
        tmp.write_bytes(b"x")
        names.append(f"data/features/{tmp.name}")
    with atomic_path(tmp_path / "singles", suffix="") as tmp:
        tmp.mkdir()
        names.append(f"data/predictions/{tmp.name}")
    for tool in ("git", "dvc"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")

    def ignored(tool: str, path: str) -> bool:
        cmd = ["git", "check-ignore", "--no-index", "-q", path] if tool == "git" else [tool, "check-ignore", "-q", path]
        return subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=60).returncode == 0

    for name in names:
        assert ignored("git", name) and ignored("dvc", name), name
    assert ignored("dvc", f"metrics/evaluate/{OUTPUT_MARKER}") and ignored("dvc", f"metrics/data/{OUTPUT_MARKER}")
    assert not ignored("dvc", f"data/predictions/singles/{OUTPUT_MARKER}")
    assert not ignored("git", f"metrics/evaluate/{OUTPUT_MARKER}")  # git keeps the cache-less outputs' marker
