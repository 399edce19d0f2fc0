"""Data-parallel training: the training stage run for real by ``torchrun`` with 2 gloo processes on the CPU.

* With the same global batch, 2 processes (which stream the stores: ``train.loader: auto``) follow the
  single-process loss trajectory (rows in memory) to float32 rounding, sync batch norm on; without
  synchronised batch norm they do not (the control that shows the tolerance can fail).
* A 2-process run killed (SIGKILL, the whole process group) after a checkpoint and rerun writes exactly
  the files of an uninterrupted 2-process run.
* Only rank 0 writes: an audit hook (``sys.addaudithook``, loaded through ``sitecustomize``) reports every
  Python-level write (open for writing, rename, remove, mkdir) under the project from each rank.
* Every model kind trains under ``torchrun``, and the CPU synchronised batch norm equals batch norm over
  the whole batch, values and gradients: this file run as the ``torchrun`` worker (``__main__``).

Every subprocess has a deadline and is killed with its whole process group when it passes it, so a
stuck collective cannot hang the test run; ``--standalone`` lets the launcher pick a free port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tests.test_resume import ARGS, NAME, _files, _project

REPO = Path(__file__).resolve().parents[1]
DEADLINE_S = 240

# Python-level writes of every torchrun worker (RANK set) under SELD_AUDIT_ROOT, reported on stderr.
AUDIT_HOOK = '''
import os, sys
_rank, _root = os.environ.get("RANK"), os.environ.get("SELD_AUDIT_ROOT")
if _rank is not None and _root:
    _EVENTS = ("os.rename", "os.remove", "os.mkdir", "os.rmdir", "shutil.rmtree", "os.truncate")
    def _hook(event, args):
        if event == "open":
            path, mode, flags = args
            writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        elif event in _EVENTS:
            path, writing = args[1] if event == "os.rename" else args[0], True  # a rename: its target
        else:
            return
        if writing and isinstance(path, (str, bytes, os.PathLike)):
            full = os.path.abspath(os.fsdecode(path))
            if full.startswith(_root):
                sys.stderr.write(f"AUDIT rank {_rank} writes {full}\\n")
    sys.addaudithook(_hook)
'''


def _env(tmp: Path) -> dict[str, str]:
    hook = tmp / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(AUDIT_HOOK)
    return {**os.environ, "PYTHONPATH": f"{hook}{os.pathsep}{REPO}", "SELD_AUDIT_ROOT": str(tmp / "project"),
            "OMP_NUM_THREADS": "1"}


def _start(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _finish(proc: subprocess.Popen) -> str:
    try:
        out, _ = proc.communicate(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"no result within {DEADLINE_S} s:\n{out[-4000:]}")
    assert proc.returncode == 0, out[-4000:]
    return out


def _stage_params(root: Path, **train: object) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"].update(train)
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def _stage(root: Path, out: str, env: dict[str, str], **train: object) -> subprocess.Popen:
    """The training stage on the project at ``root`` into ``out``, with these ``train`` params."""
    _stage_params(root, **train)
    cmd = [sys.executable, "-m", "stages.train", *ARGS, "--features", "features", "--out", out]
    return _start(cmd, root, env)


def _losses(root: Path, out: str) -> np.ndarray:
    rows = (root / out / NAME / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    return np.array([float(r.split("\t")[1]) for r in rows[1:]])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("ddp")
    root = tmp / "project"
    root.mkdir()
    _project(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    entry = params["models"][NAME]
    # no dropout: its masks are drawn per process, the one thing 2 processes cannot share with 1
    entry["model"].update(dropout=0.0, input_dropout=0.0)
    entry["steps"] = 20  # 10 clips, batch 4, mixup on half the steps: partners come from the other process too
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root, _env(tmp)


@pytest.fixture(scope="module")
def runs(project) -> dict[str, str]:
    """One single-process run and one 2-process run of the same configuration, with their logs."""
    root, env = project
    return {"one": _finish(_stage(root, "one", env, nproc=1)), "two": _finish(_stage(root, "two", env, nproc=2))}


def test_two_processes_follow_the_single_process_trajectory(project, runs):
    root, env = project
    one, two = _losses(root, "one"), _losses(root, "two")
    assert len(one) == len(two) == 20
    # The same 4 clips per step, split 2 + 2, so only the order of the float32 sums differs (unit
    # roundoff 6e-8). Step 1 comes before any update: same weights, same batch; measured 8e-8 relative.
    # Adam then amplifies rounding (each weight moves by ~lr whatever the size of its gradient, so a
    # near-zero gradient's rounding sets the direction), by an amount that depends on the CPU's kernels:
    # over steps 2-5 measured up to 1.3e-7 on one 2-core EPYC and under 1e-6 on another (2.9e-6 at step 7,
    # which once failed a 1e-6 bound there); 1.4e-5 by step 20. So: the tight bound where nothing has been
    # amplified yet, 10x the worst measured over steps 2-5, and a same-trajectory bound over the run
    # (consecutive steps' losses differ by 1-7 %). The control below shows that batch norm over 2 clips
    # instead of 4 breaks the first bound (measured 1.9e-4 at step 1).
    np.testing.assert_allclose(two[:1], one[:1], rtol=1e-6, atol=0)
    np.testing.assert_allclose(two[:5], one[:5], rtol=1e-5, atol=0)
    np.testing.assert_allclose(two, one, rtol=2e-3, atol=0)
    assert runs["two"].count("selected on the validation set (3 clips)") == 1  # validated and reported once

    _finish(_stage(root, "nosync", env, nproc=2, sync_bn=False))
    gap = np.abs(_losses(root, "nosync") - one) / np.abs(one)
    assert gap[0] > 1e-5, gap
    _stage_params(root, sync_bn=True)


def test_only_rank_0_writes(project, runs):
    root, _ = project
    writes = [line.removeprefix("AUDIT rank ").split(" writes ") for line in runs["two"].splitlines()
              if line.startswith("AUDIT rank ")]
    assert writes, "the audit hook saw no write at all"
    assert {rank for rank, _ in writes} == {"0"}, [w for w in writes if w[0] != "0"]
    written = {path for _, path in writes}
    assert {str(root / "two" / NAME / "model.pt"), str(root / "two" / NAME / "live" / "metrics.json")} <= written


def test_killed_two_process_run_resumes_to_the_same_files(project, runs):
    root, env = project
    killed = _stage(root, "B", env, nproc=2)
    resume = root / "B" / ".resume" / f"{NAME}.pt"
    deadline = time.monotonic() + DEADLINE_S
    while not resume.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    os.killpg(killed.pid, signal.SIGKILL)  # the stage, torchrun and both ranks
    out, _ = killed.communicate()
    assert resume.exists() and not (root / "B" / NAME / "model.pt").exists(), out[-4000:]

    log = _finish(_stage(root, "B", env, nproc=2))
    assert "resuming sed_doa from step" in log and not resume.exists()
    a, b = _files(root / "two" / NAME), _files(root / "B" / NAME)
    assert sorted(a) == sorted(b) and "model.pt" in a
    for name in a:
        assert a[name] == b[name], name


def test_batch_that_cannot_be_shared_is_refused_before_any_process_starts(project, monkeypatch, capsys):
    from stages import train
    from stages._cli import run

    root, _ = project
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["nproc"] = 3
    bad = root.parent / "bad"
    bad.mkdir()
    (bad / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(bad)
    with pytest.raises(SystemExit) as done:
        run(lambda: train.main([*ARGS, "--features", str(root / "features"), "--out", "X"]))
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err == (f"error: params.yaml: models.{NAME}.batch_size: a batch of 4 clips cannot be shared equally by "
                   "train.nproc = 3 processes\n")
    assert list(bad.iterdir()) == [bad / "params.yaml"]


def test_every_kind_trains_under_torchrun(tmp_path):
    """This file as the worker of 2 gloo processes (see ``_worker``)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", __file__, str(tmp_path)]
    out = _finish(_start(cmd, REPO, _env(tmp_path)))
    assert out.count("worker done") == 2, out[-4000:]


def _worker(out: Path) -> None:
    """Under torchrun: synchronised batch norm against plain batch norm, then every kind for 2 steps."""
    from torch import nn

    from seldlib import distributed
    from seldlib.checkpoint import load_checkpoint
    from seldlib.kinds import KINDS
    from seldlib.train import train
    from tests.test_train import _cfg, _tiny_set

    ctx = distributed.start("cpu")
    try:
        assert ctx.world == 2
        # The whole batch on both ranks; each normalises its half. Loss: a weighted sum over the batch.
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(6, 3, 5, 4, generator=gen) * 3 + 1
        weights = torch.randn(6, 3, 5, 4, generator=gen)
        ref = nn.BatchNorm2d(3)
        whole = x.clone().requires_grad_()
        expected = ref(whole)
        (expected * weights).sum().backward()
        sync = distributed.sync_batchnorm(nn.Sequential(nn.BatchNorm2d(3)), torch.device("cpu"))[0]
        assert isinstance(sync, distributed.GlooSyncBatchNorm)
        half = slice(3 * ctx.rank, 3 * ctx.rank + 3)
        mine = x[half].clone().requires_grad_()
        y = sync(mine)
        (y * weights[half]).sum().backward()
        torch.testing.assert_close(y, expected[half].detach(), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(mine.grad, whole.grad[half], rtol=1e-5, atol=1e-5)
        for p_sync, p_ref in ((sync.weight, ref.weight), (sync.bias, ref.bias)):
            grad = p_sync.grad.clone()
            torch.distributed.all_reduce(grad)  # each rank holds its half's share
            torch.testing.assert_close(grad, p_ref.grad, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(sync.running_mean, ref.running_mean)
        torch.testing.assert_close(sync.running_var, ref.running_var)

        train_set, val_set = _tiny_set(8, 0), _tiny_set(3, 1)
        for kind in (k for k, spec in KINDS.items() if spec.track == "A"):  # Track B: tests/test_train_av.py
            model = {"preset": "small"} if kind == "seldnet" else _cfg().model
            cfg = _cfg(kind=kind, model=model, steps=2, val_every=2, nproc=2)
            summary = train(cfg, train_set, val_set if ctx.main else None, out / f"{kind}.pt", progress=False,
                            log=lambda s: None)
            assert summary["steps"] == 2, summary
            if ctx.main:
                load_checkpoint(out / f"{kind}.pt", expect_kind=kind)
        print("worker done", flush=True)
    finally:
        distributed.stop()


if __name__ == "__main__":
    _worker(Path(sys.argv[1]))
