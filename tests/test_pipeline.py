"""End-to-end reproducibility check: the whole DVC pipeline on a tiny configuration in a copy of the repo.

Runs `dvc repro`, checks every declared output, runs it again (nothing may rerun), then changes one
model's parameter with `dvc exp run -S` and checks that only that model's stages and their dependants ran.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import h5py
import pytest
import yaml

from seldlib.metadata import read_metadata_csv

ROOT = Path(__file__).resolve().parents[1]
TINY_MODEL = {"preset": "small", "resnet_channels": [4, 4, 4, 4], "d_model": 16, "n_heads": 2, "n_blocks": 1,
              "head_hidden": 16}


def _run(cmd: list[str], cwd: Path) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout + proc.stderr


def _copy_repo(dst: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split("\n")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file() and not rel.startswith(("data/", "models/", "metrics/")):
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)


def _tiny_params(path: Path) -> None:
    p = yaml.safe_load(path.read_text())
    p["rooms"].update(radii=[1.0, 2.0], elevations=[0.0], az_step_deg=60.0)
    p["data"]["workers"] = 1
    p["data"]["mini"].update(n_train=6, n_test=4, video_clips=2)
    p["synth"].update(n_clips=4, workers=1)
    p["train"].update(val_every=2, checkpoint_every=2)
    for name, m in p["models"].items():
        m.update(steps=2, batch_size=2)
        m["model"] = {"preset": "small"} if m["kind"] == "seldnet" else dict(TINY_MODEL)
    path.write_text(yaml.safe_dump(p, sort_keys=False))


def _ran(log: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", log))


@pytest.mark.slow
def test_pipeline_repro_is_complete_cached_and_granular(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _copy_repo(repo)
    _tiny_params(repo / "params.yaml")
    _run(["git", "init", "-q"], repo)
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-qm", "tiny"], repo)

    first = _run(["dvc", "repro"], repo)
    stages = {"rooms", "dataset", "synth", "data_report", "standardizer", "ensemble", "evaluate",
              *(f"features_audio@{s}" for s in ("train", "test", "synth")),
              *(f"features_video@{s}" for s in ("train", "test")),
              *(f"{kind}@{m}" for kind in ("train", "infer") for m in ("sed_doa", "sed_sde", "sed_sce", "seldnet"))}
    assert _ran(first) == stages

    # Every declared output exists and is well-formed.
    for split, n in (("dev-train-sim", 6), ("dev-test-sim", 4)):
        assert len(list((repo / "data/dataset/stereo_dev" / split).glob("*.wav"))) == n
        for csv in (repo / "data/dataset/metadata_dev" / split).glob("*.csv"):
            read_metadata_csv(csv)
        assert len(list((repo / "data/dataset/video_dev" / split).glob("*.mp4"))) == 2
    for name in ("train", "test", "synth"):
        with h5py.File(repo / f"data/features/{name}.h5") as h5:
            assert h5["features"].shape[1:] == (2, 251, 64)
    with h5py.File(repo / "data/features/video_test.h5") as h5:
        assert h5["features"].shape == (2, 50, 7, 7) and h5["features_flipped"].shape == (2, 50, 7, 7)
    for system in ("sed_doa", "sed_sde", "sed_sce", "seldnet", "ensemble"):
        scores = json.loads((repo / f"metrics/evaluate/{system}.json").read_text())
        assert {"F", "DOAE", "RDE", "DistE", "OSA", "classwise"} <= set(scores)
        assert 0.0 <= scores["F"] <= 1.0
    assert (repo / "metrics/results.md").read_text().count("|") > 10
    assert json.loads((repo / "metrics/data/summary.json").read_text())
    for png in [*(repo / "metrics/figures").glob("*.png"), *(repo / "metrics/data").glob("*.png")]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((repo / "data/predictions/ensemble").glob("*.csv"))) == 4

    # A second repro runs nothing, and the lock describes the workspace.
    assert _ran(_run(["dvc", "repro"], repo)) == set()
    _run(["dvc", "status", "-q"], repo)

    # Changing one model's parameter reruns only that model and what depends on it.
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-qm", "lock"], repo)
    exp = _run(["dvc", "exp", "run", "-S", "models.sed_sce.lr=0.002"], repo)
    assert _ran(exp) == {"train@sed_sce", "infer@sed_sce", "ensemble", "evaluate"}
