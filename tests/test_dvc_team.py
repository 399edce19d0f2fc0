"""Experiments and teams: a queued parameter sweep, and sharing outputs through a DVC remote (docs/experiments.md).

The tiny pipeline of tests/test_pipeline.py runs once in a copy of the repo. Then two experiments that
change only `models.sed_sce.lr` are queued and run by two queue workers, and `dvc exp show` must list
both with their own parameter, a retrained SED-SCE model and untouched other models. Separately, the
outputs are pushed to a local-directory remote named in the committed `.dvc/config`; a fresh `git clone`
then pulls them, and nothing is left to run there.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.test_pipeline import _copy_repo, _run, _tiny_params

QUEUE_TIMEOUT_S = 600  # the two experiments take about a minute on 2 cores
SWEEP = {"lr-low": 0.0005, "lr-high": 0.05}  # around params.yaml's models.sed_sce.lr, which the tiny config keeps
# sed_sce also initialises and teaches the two MVANet students (Track B), which follow it
RETRAINED = {"train@sed_sce", "infer@sed_sce", "ensemble", "ensemble_av", "postprocess", "evaluate",
             *(f"{s}@{m}" for s in ("train_av", "infer_av") for m in ("av_sed_sce_ons", "av_ts_sed_sce_ons"))}
ENV = {**os.environ, "DVC_NO_ANALYTICS": "1"}


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repo holding the tiny pipeline, reproduced once and committed (dvc.lock, metrics/)."""
    repo = tmp_path_factory.mktemp("team") / "repo"
    repo.mkdir()
    _copy_repo(repo)
    _tiny_params(repo / "params.yaml")
    _run(["git", "init", "-q"], repo)
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-qm", "tiny"], repo)  # DVCLive, in the train stage, needs a commit
    _run(["dvc", "repro"], repo)
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-qm", "tiny pipeline, reproduced"], repo)
    return repo


def _processes_in(repo: Path) -> list[int]:
    """Ids of the processes whose working directory is inside `repo` (queue workers and their experiments)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and Path(os.readlink(proc / "cwd")).is_relative_to(repo.resolve()):
                pids.append(int(proc.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return pids


def _stop_queue(repo: Path) -> None:
    """Stop the queue and end any worker left behind: a worker whose idle check ran while it was busy
    never exits on its own (dvc-task's TemporaryWorker.monitor), and `dvc queue stop` may not reach it."""
    subprocess.run(["dvc", "queue", "stop", "--kill"], cwd=repo, capture_output=True, timeout=60, env=ENV)
    for sig in (None, signal.SIGTERM, signal.SIGKILL):  # a grace period, then a warm shutdown, then a kill
        for pid in _processes_in(repo) if sig else ():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while _processes_in(repo) and time.monotonic() < deadline:
            time.sleep(0.5)
        if not _processes_in(repo):
            return
    raise AssertionError(f"queue processes still alive: {_processes_in(repo)}")


def _queue(args: list[str], repo: Path) -> str:
    """Output of one `dvc queue` command, bounded in time."""
    proc = subprocess.run(["dvc", "queue", *args], cwd=repo, capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == 0, f"dvc queue {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def _wait_for_queue(repo: Path) -> str:
    """Poll `dvc queue status` until no experiment is queued or running; returns the last status table."""
    deadline = time.monotonic() + QUEUE_TIMEOUT_S
    while True:
        status = _queue(["status"], repo)
        if not re.search(r"\b(Queued|Running)\b", status):
            return status
        assert time.monotonic() < deadline, f"queue not done after {QUEUE_TIMEOUT_S} s:\n{status}"
        time.sleep(3)


@pytest.mark.slow
def test_queued_sweep_runs_in_parallel_and_compares(tiny_repo: Path) -> None:
    repo = tiny_repo
    baseline = _run(["git", "rev-parse", "HEAD"], repo).strip()
    for name, lr in SWEEP.items():
        _run(["dvc", "exp", "run", "--queue", "-n", name, "-S", f"models.sed_sce.lr={lr}"], repo)
    try:
        # The workers are daemons that inherit the output pipes: capturing would wait for them to exit.
        log = repo.parent / "queue-start.log"
        with log.open("w") as out:
            subprocess.run(["dvc", "queue", "start", "-j", "2"], cwd=repo, stdin=subprocess.DEVNULL, stdout=out,
                           stderr=subprocess.STDOUT, timeout=120, check=True, env=ENV)
        status = _wait_for_queue(repo)
        for name in SWEEP:
            assert re.search(rf"\b{name}\s.*\bSuccess\b", status), status
            ran = set(re.findall(r"Running stage '([^']+)'", _queue(["logs", name], repo)))
            assert ran == RETRAINED, f"{name} ran {sorted(ran)}"
    finally:
        _stop_queue(repo)

    shown = json.loads(subprocess.run(["dvc", "exp", "show", "--json"], cwd=repo, capture_output=True, text=True,
                                      check=True, timeout=120, env=ENV).stdout)
    base = next(row for row in shown if row["rev"] == baseline)
    exps = {e["name"]: e["revs"][0]["data"] for e in base["experiments"]}
    assert set(exps) == set(SWEEP)

    def lr(data: dict) -> float:
        return data["params"]["params.yaml"]["data"]["models"]["sed_sce"]["lr"]

    def out_hash(data: dict, path: str) -> str:
        return data["outs"][path]["hash"]

    def metrics(data: dict, path: str) -> dict:
        return data["metrics"][path]["data"]

    committed = yaml.safe_load((repo / "params.yaml").read_text())["models"]["sed_sce"]["lr"]
    assert committed not in SWEEP.values()
    assert lr(base["data"]) == committed and {n: lr(d) for n, d in exps.items()} == SWEEP
    sce = {out_hash(d, "models/sed_sce/model.pt") for d in [base["data"], *exps.values()]}
    assert len(sce) == 3, "each learning rate trains a different SED-SCE model"
    for data in exps.values():
        # Models whose parameters did not change were not retrained, so their weights and scores are the baseline's.
        for entry in ("sed_doa", "sed_sde", "seldnet"):
            assert out_hash(data, f"models/{entry}/model.pt") == out_hash(base["data"], f"models/{entry}/model.pt")
            scores = f"metrics/evaluate/{entry}.json"
            assert metrics(data, scores) == metrics(base["data"], scores)
        assert 0.0 <= metrics(data, "metrics/evaluate/sed_sce.json")["F"] <= 1.0
    # The experiments stay experiments: the workspace is still the committed baseline.
    _run(["dvc", "status", "-q"], repo)
    assert _run(["git", "status", "--porcelain"], repo) == ""


@pytest.mark.slow
def test_team_pulls_outputs_instead_of_rebuilding(tiny_repo: Path) -> None:
    repo = tiny_repo
    remote = repo.parent / "remote"
    _run(["dvc", "remote", "add", "-d", "team", str(remote)], repo)
    _run(["git", "commit", "-qm", "team remote", ".dvc/config"], repo)
    _run(["dvc", "push"], repo)

    clone = repo.parent / "clone"
    _run(["git", "clone", "-q", str(repo), str(clone)], repo)
    # Git brings the small metrics (cache: false) but neither data/ nor models/, which live in the DVC cache.
    scores = "metrics/evaluate/ensemble.json"
    assert (clone / scores).read_bytes() == (repo / scores).read_bytes()
    assert not (clone / "models/sed_doa/model.pt").exists() and not (clone / "data/features/test.h5").exists()
    missing = subprocess.run(["dvc", "status", "-q"], cwd=clone, capture_output=True, timeout=120, env=ENV)
    assert missing.returncode == 1, "a clone without the outputs must not look up to date"

    _run(["dvc", "pull"], clone)  # the remote comes from the committed .dvc/config
    first_csv = sorted((repo / "data/predictions/ensemble").glob("*.csv"))[0].relative_to(repo)
    for path in ("models/sed_sce/model.pt", "data/features/test.h5", "data/outputs/sed_doa.h5", first_csv):
        assert (clone / path).read_bytes() == (repo / path).read_bytes(), path
    _run(["dvc", "status", "-q"], clone)
    assert "Data and pipelines are up to date." in _run(["dvc", "status"], clone)
    assert "Running stage" not in _run(["dvc", "repro"], clone)
    assert _run(["git", "status", "--porcelain"], clone) == ""
