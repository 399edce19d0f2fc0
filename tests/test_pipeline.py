"""End-to-end reproducibility check: the whole DVC pipeline on a tiny configuration in a copy of the repo.

Runs `dvc repro`, checks every declared output, runs it again (nothing may rerun), changes knobs that
cannot change results (nothing may rerun), changes one model's parameter with `dvc exp run -S` (only that
model's stages and their dependants may run), then adds a second SED-SDE entry to the ensemble and
checks that every stage, the results table, the figures and `seld` handle it with no code change.
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
import soundfile as sf
import yaml

from seldlib.detection import read_detection_store
from seldlib.media import write_video
from seldlib.metadata import read_metadata_csv
from seldlib.media import decode_frames

ROOT = Path(__file__).resolve().parents[1]
TINY_MODEL = {"preset": "small", "resnet_channels": [4, 4, 4, 4], "d_model": 16, "n_heads": 2, "n_blocks": 1,
              "head_hidden": 16}
# MVANet's audio path is 2 blocks in the small preset (1, 0, 0, 1): the SED-SCE model that initialises it has as many
TINY_MVANET = {k: v for k, v in TINY_MODEL.items() if k != "n_blocks"}
AV_ENTRIES = ("av_sed_sce_ons", "av_ts_sed_sce_ons", "seldnet_av")


def _run(cmd: list[str], cwd: Path) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)  # never hang CI
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
    p["data"]["mini"].update(n_train=6, n_val=3, n_test=4)
    p["synth"].update(n_clips=4, workers=1)
    tiny_training(p)
    path.write_text(yaml.safe_dump(p, sort_keys=False))


def tiny_training(p: dict) -> None:
    """Two steps of batch 2 for every model, with tiny networks (in place on a params tree)."""
    p["train"].update(val_every=2, checkpoint_every=2)
    for m in p["models"].values():
        m.update(steps=2, batch_size=2)
        m["model"] = {"preset": "small"} if m["kind"] == "seldnet" else dict(TINY_MODEL)
    p["models"]["sed_sce"]["model"]["n_blocks"] = 2
    for m in p["av_models"].values():
        m.update(steps=2, batch_size=2)
        m["model"] = {"preset": "small"} if m["kind"] == "seldnet_av" else dict(TINY_MVANET)


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
              "ensemble_av", "detect@people", "detect@objects", "postprocess",
              "download_fsd50k", "download_fma", "download_tau_srir", "prepare_sources", "prepare_rooms",
              *(f"features_audio@{s}" for s in ("train", "val", "test", "synth")),
              *(f"features_video@{s}" for s in ("train", "val", "test")),
              *(f"{kind}@{m}" for kind in ("train", "infer") for m in ("sed_doa", "sed_sde", "sed_sce", "seldnet")),
              *(f"{kind}@{m}" for kind in ("train_av", "infer_av") for m in AV_ENTRIES)}
    # With the committed dvc.lock, a stage whose outputs the cache already holds is restored instead of
    # run: the "not used" records of the real-data stages are identical, so after the first of each
    # kind has run, DVC checks the others out.
    not_used = {"download_fsd50k", "download_fma", "download_tau_srir", "prepare_sources", "prepare_rooms"}
    assert stages - not_used <= _ran(first) <= stages
    assert {"download_fsd50k", "prepare_sources"} <= _ran(first)
    for out in ("data/downloads/fma.json", "data/downloads/tau_srir.json", "data/synth_rooms/manifest.json"):
        assert json.loads((repo / out).read_text()) == {"used": False}

    # Every declared output exists and is well-formed.
    for split, n in (("dev-train-sim", 6), ("dev-val-sim", 3), ("dev-test-sim", 4)):
        assert len(list((repo / "data/dataset/stereo_dev" / split).glob("*.wav"))) == n
        for csv in (repo / "data/dataset/metadata_dev" / split).glob("*.csv"):
            read_metadata_csv(csv)
    for split, n in (("dev-train-sim", 6), ("dev-val-sim", 3), ("dev-test-sim", 4)):  # every clip has its video
        assert len(list((repo / "data/dataset/video_dev" / split).glob("*.mp4"))) == n
    stems = [{p.stem for p in (repo / "data/dataset/stereo_dev" / s).glob("*.wav")}
             for s in ("dev-train-sim", "dev-val-sim", "dev-test-sim")]
    assert not (stems[0] & stems[1]) and not (stems[1] & stems[2])  # validation clips are clips of their own
    for name in ("train", "val", "test", "synth"):
        with h5py.File(repo / f"data/features/{name}.h5") as h5:
            assert h5["features"].shape[1:] == (2, 251, 64)
    with h5py.File(repo / "data/features/video_train.h5") as h5:  # the mirrored frames: the training set only
        assert h5["features"].shape == (6, 50, 7, 7) and h5["features_flipped"].shape == (6, 50, 7, 7)
    with h5py.File(repo / "data/features/video_test.h5") as h5:
        assert h5["features"].shape == (4, 50, 7, 7) and "features_flipped" not in h5
    for system in ("sed_doa", "sed_sde", "sed_sce", "seldnet", "ensemble", *AV_ENTRIES):
        scores = json.loads((repo / f"metrics/evaluate/{system}.json").read_text())
        assert {"F", "DOAE", "RDE", "DistE", "OSA", "classwise"} <= set(scores)
        assert 0.0 <= scores["F"] <= 1.0
        assert scores.get("onscreen", False) == (system in AV_ENTRIES)  # Track B: F(20°,1,on)
    for system in ("ensemble_av", "pp_people", "pp_people_objects"):  # the Track B system and its PP stages
        scores = json.loads((repo / f"metrics/evaluate/{system}.json").read_text())
        assert scores["onscreen"] is True and 0.0 <= scores["OSA"] <= 1.0
    results = (repo / "metrics/results.md").read_text()
    assert "| Baseline-AV |" in results and "| AV Model Ensemble |" in results
    assert "| + PP (stage 1: people) |" in results and "objects skipped" in results  # no Grounding DINO weights here
    people = read_detection_store(repo / "data/detections/people.h5")
    assert people.ok and len(people.clips) == 4 + 3  # every test and validation clip
    objects = read_detection_store(repo / "data/detections/objects.h5")
    assert objects.status.startswith("skipped: no weights at") and not objects.clips
    assert len(list((repo / "data/predictions/ensemble_av").glob("*.csv"))) == 4
    assert len(list((repo / "data/predictions/pp/pp_people").glob("*.csv"))) == 4
    assert (repo / "metrics/results.md").read_text().count("|") > 10
    assert json.loads((repo / "metrics/data/summary.json").read_text())
    for png in [*(repo / "metrics/figures").glob("*.png"), *(repo / "metrics/data").glob("*.png")]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((repo / "data/predictions/ensemble").glob("*.csv"))) == 4

    # The plots page works offline: nothing fetched from the network, every plot an image that is there,
    # training curves of every model included.
    _run(["dvc", "plots", "show"], repo)
    page = (repo / "dvc_plots/index.html").read_text()
    assert "http://" not in page and "https://" not in page and "<script" not in page
    images = re.findall(r'<img src="([^"]+)"', page)
    assert images and all((repo / "dvc_plots" / src).is_file() for src in images)
    for name in ("sed_doa", "sed_sde", "sed_sce", "seldnet", *AV_ENTRIES):
        assert f"models/{name}/curves.png" in page
    assert "metrics/figures/summary.png" in page and "metrics/data/classes.png" in page
    assert len(images) == len(re.findall(r"<p>workspace</p>", page))  # no plot without its image

    # A second repro runs nothing, and the lock describes the workspace.
    assert _ran(_run(["dvc", "repro"], repo)) == set()
    _run(["dvc", "status", "-q"], repo)

    # Changing one model's parameter reruns only that model and what depends on it.
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-qm", "lock"], repo)
    exp = _run(["dvc", "exp", "run", "-S", "models.sed_sce.lr=0.002"], repo)
    # sed_sce initialises and teaches the MVANet models: they follow it
    assert _ran(exp) == {"train@sed_sce", "infer@sed_sce", "ensemble", "ensemble_av", "postprocess", "evaluate",
                         *(f"{s}@{m}" for s in ("train_av", "infer_av") for m in ("av_sed_sce_ons", "av_ts_sed_sce_ons"))}
    # the distillation weight reruns that student alone (and the evaluation)
    exp = _run(["dvc", "exp", "run", "-S", "av_models.av_ts_sed_sce_ons.ts_weight=0.5"], repo)
    assert _ran(exp) == {"train_av@av_ts_sed_sce_ons", "infer_av@av_ts_sed_sce_ons", "ensemble_av", "postprocess",
                         "evaluate"}
    # a post-processing gate reruns the post-processing and the evaluation only (the detections are cached)
    exp = _run(["dvc", "exp", "run", "-S", "postprocess.people.gate_deg=10"], repo)
    assert _ran(exp) == {"postprocess", "evaluate"}

    # Knobs that cannot change results rerun nothing; a feature-extraction batch size retrains nothing.
    knobs = ["data.workers=2", "synth.workers=2", "features.audio.batch_size=3", "features.video.batch_size=7",
             "train.checkpoint_every=1"]
    assert _ran(_run(["dvc", "exp", "run", *(a for k in knobs for a in ("-S", k))], repo)) == set()

    # Editing a library module reruns exactly the stages whose code imports it (checked with `dvc status`).
    def changed_by(module: str) -> set[str]:
        path = repo / module
        original = path.read_bytes()
        path.write_bytes(original + b"\n# touched\n")
        try:
            status = subprocess.run(["dvc", "status", "--json"], cwd=repo, capture_output=True, text=True, check=True)
            return set(json.loads(status.stdout))
        finally:
            path.write_bytes(original)

    silence = changed_by("seldlib/silence.py")
    assert {"features_audio@train", "features_audio@test", "infer@sed_doa"} <= silence
    assert not silence & {"rooms", "dataset", "synth", "data_report", "ensemble", "evaluate"}
    assert {"rooms", "dataset", "features_audio@train", "train@sed_doa", "infer@seldnet", "ensemble",
            "evaluate"} <= changed_by("seldlib/constants.py")

    # A second entry of an existing kind flows through every stage, the table, the figures and `seld`.
    p = yaml.safe_load((repo / "params.yaml").read_text())
    p["models"]["sed_sde_b"] = {**p["models"]["sed_sde"], "seed": 4242}
    p["ensemble"]["members"] = ["sed_doa", "sed_sde", "sed_sde_b", "sed_sce"]
    p["ensemble"]["sed_weights"]["sed_sde_b"] = 1.0
    p["evaluate"]["systems"] = ["sed_doa", "sed_sde", "sed_sde_b", "sed_sce", "seldnet", "ensemble"]
    (repo / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    added = _run(["dvc", "repro"], repo)
    # ensemble_av reads the folder of all outputs, so it reruns, and writes the same fused arrays
    assert _ran(added) == {"train@sed_sde_b", "infer@sed_sde_b", "ensemble", "ensemble_av", "evaluate"}
    scores = json.loads((repo / "metrics/evaluate/sed_sde_b.json").read_text())
    assert 0.0 <= scores["F"] <= 1.0 and scores["system"] == "sed_sde_b"
    assert "| SED-SDE (sed_sde_b) |" in (repo / "metrics/results.md").read_text()
    assert (repo / "models/sed_sde_b/live/plots/metrics/train/loss.tsv").is_file()
    wav = next((repo / "data/dataset/stereo_dev/dev-test-sim").glob("*.wav"))
    out = _run(["seld", "--models", "models/sed_doa", "models/sed_sde", "models/sed_sde_b", "models/sed_sce",
                "--standardizer", "data/features/standardizer.npz", "--out", "pred", "--", str(wav)], repo)
    assert "ensemble" in out and (repo / "pred" / f"{wav.stem}.csv").is_file()
    # the trained audio-visual system on a test clip's video with its audio muxed in (the dataset keeps
    # them apart), refined with the people detector
    clip = next((repo / "data/dataset/video_dev/dev-test-sim").glob("*.mp4"))
    wave, rate = sf.read(repo / "data/dataset/stereo_dev/dev-test-sim" / f"{clip.stem}.wav", dtype="float32")
    mp4 = repo / f"{clip.stem}.mp4"
    write_video(mp4, decode_frames(clip), fps=10, audio=wave.T, audio_rate=rate)
    _run(["seld", "--models", "models/av_sed_sce_ons", "models/av_ts_sed_sce_ons", "--standardizer",
          "data/features/standardizer.npz", "--detector", "haar", "--out", "pred_av", "--", str(mp4)], repo)
    rows = (repo / "pred_av" / f"{mp4.stem}.csv").read_text().splitlines()
    assert all(line.rsplit(",", 1)[1] in ("0", "1") for line in rows if line and line[0].isdigit())

    # With the DCASE convention (validate on the test split), the score the training stage selected with
    # and printed is the evaluate stage's score of the same checkpoint, to the last digit.
    log = _run(["dvc", "exp", "run", "-S", "validation.source=test"], repo)
    for name in ("sed_doa", "sed_sce", "seldnet", *AV_ENTRIES):
        best = json.loads((repo / f"models/{name}/live/metrics.json").read_text())["best"]
        evaluated = json.loads((repo / f"metrics/evaluate/{name}.json").read_text())
        assert best["F"] == pytest.approx(evaluated["F"], abs=1e-6), name
        f_name = "F(20°,1,on)" if name in AV_ENTRIES else "F"
        assert f"{name}: step {best['step']} selected on the validation set (4 clips): {f_name} {best['F']:.4f}" in log
    assert "selected on the scored test split" in (repo / "metrics/results.md").read_text()
