"""A training stage killed after a checkpoint and rerun gives exactly the outputs of an uninterrupted run.

The stage (``stages.train``) is run for real on tiny generated feature stores: once straight through
into ``A``; once into ``B`` in a subprocess that is SIGKILLed as soon as its resume file appears, then
rerun into ``B``. Everything under ``models/<name>/`` (``model.pt`` and the DVCLive files under
``live/``) must be byte-identical, since DVC hashes the whole output folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import yaml

from seldlib.labels import ClipLabels, encode_labels
from seldlib.metadata import EventTable, format_metadata_csv

REPO = Path(__file__).resolve().parents[1]
NAME = "tiny"
LOGMEL = [f"features.audio.{k}" for k in ("n_fft", "hop", "win", "n_mels", "fmin", "fmax", "top_db")]
ARGS = ["--model", NAME, "--params", f"models.{NAME}", "train.device", "train.amp", "train.val_every", "train.nproc",
        "train.sync_bn", *LOGMEL, "features.standardize", "--knobs", "train.checkpoint_every", "train.loader",
        "train.workers"]


def _store(path: Path, n: int, seed: int) -> None:
    """A feature store with the datasets training reads: names, features (n, 2, 251, 64) and label arrays."""
    rng = np.random.default_rng(seed)
    labels, csvs = [], []
    for _ in range(n):
        rows = [(t, int(c), 0, float(rng.integers(-90, 91)), float(rng.integers(50, 500)), 0)
                for c in rng.choice(13, 2, replace=False) for t in range(10, 30)]
        labels.append(encode_labels(EventTable(*zip(*rows))))
        csvs.append(format_metadata_csv(EventTable(*zip(*rows))))
    with h5py.File(path, "w") as h5:
        h5["names"] = np.array([f"clip{seed}_{i}" for i in range(n)], dtype=object).astype(h5py.string_dtype())
        h5["features"] = rng.normal(-40.0, 10.0, (n, 2, 251, 64)).astype(np.float32)
        h5["level_dbfs"] = np.full((n, 50), -30.0, np.float32)
        h5["reference_csv"] = np.array(csvs, dtype=object).astype(h5py.string_dtype())
        for f in ClipLabels.FIELDS:
            h5[f] = np.stack([getattr(lab, f) for lab in labels]).astype(np.float32)


def _project(root: Path) -> None:
    feats = root / "features"
    feats.mkdir()
    _store(feats / "train.h5", 6, 0)
    _store(feats / "synth.h5", 4, 1)
    _store(feats / "val.h5", 3, 2)
    rng = np.random.default_rng(3)
    np.savez(feats / "standardizer.npz", mean=rng.normal(-40.0, 1.0, (2, 64)), std=rng.uniform(8.0, 12.0, (2, 64)))
    params = {
        "features": {"standardize": True, "audio": {"n_fft": 1024, "hop": 480, "win": 960, "n_mels": 64, "fmin": 0.0,
                                                    "fmax": 12000.0, "top_db": 80.0, "batch_size": 8}},
        "train": {"device": "cpu", "amp": False, "val_every": 4, "checkpoint_every": 3, "nproc": 1, "sync_bn": True,
                  "loader": "auto", "workers": 2},
        "models": {NAME: {"kind": "sed_doa", "model": {"preset": "small", "resnet_channels": [4, 4, 4, 4], "d_model": 16,
                                                       "n_heads": 2, "n_blocks": 1, "head_hidden": 16},
                          "loss_weights": {"sed": 1.0, "doa": 3.0}, "lr": 0.003, "batch_size": 4, "steps": 40,
                          "seed": 5, "scs_prob": 0.5, "mixup_prob": 0.5}},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _stage(root: Path, out: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "stages.train", *ARGS, "--features", "features", "--out", out]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_killed_and_resumed_stage_matches_an_uninterrupted_run(tmp_path):
    _project(tmp_path)
    straight = _stage(tmp_path, "A")
    log_a, _ = straight.communicate(timeout=600)
    assert straight.returncode == 0, log_a
    # the closing line says plainly what the printed score is (a selection score on the validation set)
    assert "selected on the validation set (3 clips): F " in log_a and f"metrics/evaluate/{NAME}.json" in log_a

    killed = _stage(tmp_path, "B")
    resume = tmp_path / "B" / ".resume" / f"{NAME}.pt"
    deadline = time.monotonic() + 600
    while not resume.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    # Really interrupted mid-run: a resume state, no model yet, part of the history already logged.
    assert resume.exists() and not (tmp_path / "B" / NAME / "model.pt").exists()
    assert (tmp_path / "B" / NAME / "live" / "plots" / "metrics" / "train" / "loss.tsv").exists()

    rerun = _stage(tmp_path, "B")
    log_b, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, log_b
    assert "resuming sed_doa from step" in log_b
    assert not resume.exists()

    a, b = _files(tmp_path / "A" / NAME), _files(tmp_path / "B" / NAME)
    assert "model.pt" in a and "live/metrics.json" in a
    assert any(k.startswith("live/plots/metrics/val/") for k in a)
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name] == b[name], name
    # The logged history starts at step 1 and has one row per step, also after a resume.
    rows = (tmp_path / "B" / NAME / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    assert rows[0] == "step\tloss" and [int(r.split("\t")[0]) for r in rows[1:]] == list(range(1, 41))
