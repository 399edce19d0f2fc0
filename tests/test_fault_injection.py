"""Fault injection: a stage killed at a random point and rerun ends exactly as an uninterrupted run.

For each long stage class — data generation (``dataset``), feature extraction (``features_audio``) and
training (``train``) — ``dvc repro <stage>`` is SIGKILLed (with its whole process group) at a seeded
random moment while the stage's command runs, then ``dvc repro`` is run again. The final ``dvc.lock``
(every output hash) must equal an uninterrupted run's, and no temporary file may remain.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.test_pipeline import _copy_repo, _run, _tiny_params

TARGET = "train@sed_doa"  # pulls in rooms, dataset, synth, features, standardizer
KILLED = ("dataset", "features_audio@train", "train@sed_doa")


def _make_repo(path: Path) -> Path:
    path.mkdir()
    _copy_repo(path)
    _tiny_params(path / "params.yaml")
    p = yaml.safe_load((path / "params.yaml").read_text())
    # enough work in each killed stage to be caught in the middle of it
    p["data"]["mini"].update(n_train=16, n_val=4, n_test=4)
    p["models"]["sed_doa"].update(steps=12)
    p["train"].update(val_every=4, checkpoint_every=4)
    (path / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "tiny"]):
        _run(cmd, path)
    return path


def _lock_outs(repo: Path) -> dict[str, list]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {name: sorted((o["path"], o.get("md5"), o.get("nfiles")) for o in st.get("outs", [])) for name, st in lock.items()}


def _kill_during(repo: Path, stage: str, fraction: float, duration: float) -> None:
    """Run ``dvc repro <stage>`` (its upstream stages complete first); once the stage's own command runs,
    SIGKILL the whole process group after ``fraction·duration`` seconds."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(["dvc", "repro", stage], cwd=repo, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if f"Running stage '{stage}'" in line:
            break
    time.sleep(fraction * duration)
    finished = proc.poll() is not None
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not finished, f"{stage} ended before it could be killed; give it more work"


@pytest.mark.slow
def test_killed_stages_rerun_to_the_uninterrupted_result(tmp_path):
    clean = _make_repo(tmp_path / "clean")
    _run(["dvc", "repro", TARGET], clean)
    expected = _lock_outs(clean)

    # how long each stage's command runs, measured by forcing it again on the clean copy
    durations = {}
    for stage in KILLED:
        start = time.perf_counter()
        _run(["dvc", "repro", "-f", "-s", stage], clean)
        durations[stage] = time.perf_counter() - start
    assert _lock_outs(clean) == expected  # a forced rerun reproduces the same bytes

    faulty = _make_repo(tmp_path / "faulty")
    rng = random.Random(20251201)
    for stage in KILLED:
        # DVC's own start-up and hashing take about 2 s of each measured run
        _kill_during(faulty, stage, rng.uniform(0.2, 0.8), max(durations[stage] - 2.0, 0.5))
    _run(["dvc", "repro", TARGET], faulty)
    assert _lock_outs(faulty) == expected
    leftovers = [p for p in faulty.rglob("*") if ".tmp" in p.name and not {".dvc", ".git"} & set(p.parts)]
    assert leftovers == [], leftovers
