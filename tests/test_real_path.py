"""The real-data path end to end, offline: the paper preset, every raw download served by a local fake
record server, and `dvc repro` from nothing to trained models with no manual step.

The preset is applied to a copy of the repository (with tiny sizes: 3 synthetic clips, 2 training steps);
the fake server holds the DCASE2025 record, FSD50K with the DCASE2022 selection list, FMA, and the
TAU-SRIR DB with TAU-SNoise (tests/real_fixtures.py). DVC then runs the download stages, source
arrangement, SOFA conversion, the dataset, the synthesis, the features and two training steps of every
model kind; a second `dvc repro` runs nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf
import yaml

from real_fixtures import fma_fixture, fsd50k_fixture, tau_fixture
from seldlib.metadata import read_metadata_csv
from seldlib.synth.rooms import load_sofa
from test_download import FakeZenodo, make_zip
from tests.test_pipeline import _copy_repo, _run, tiny_training
from test_real_switch import PRESET, _apply, _wav

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("sed_doa", "sed_sde", "sed_sce", "seldnet")


def _serve(fake: FakeZenodo, tmp: Path) -> dict[str, str]:
    header = b"frame,class,source,azimuth,distance,onscreen\n"
    csv = header + b"3,1,0,20,150,1\n4,1,0,21,150,1\n"
    wav = _wav()
    stems = ["dev-train-tau/fold3_room4_mix001_deg010_start0000", "dev-train-sony/fold3_room21_mix013_deg200_start0100",
             "dev-test-tau/fold4_room2_mix001_deg000_start0000", "dev-test-sony/fold4_room23_mix002_deg300_start0042"]
    fake.add_record(15559774, {
        "metadata_dev.zip": make_zip({f"{s}.csv": csv for s in stems}, top="metadata_dev"),
        "stereo_dev.zip": make_zip({f"{s}.wav": wav for s in stems}, top="stereo_dev"),
        "stereo_eval.zip": make_zip({"sample0001.wav": wav}, top="stereo_eval"),
    })
    fsd = fsd50k_fixture()
    fake.add_record(4060432, fsd.record)
    fake.add_record(6406873, {**fsd.selection, "DCASE2022_mixtures.zip": b"not fetched"})
    tau, _ = tau_fixture(tmp / "tau_src")
    fake.add_record(6408611, tau)
    fma = fma_fixture()
    for key, data in fma.items():
        fake.files[f"/fma/{key}"] = data
    return {"metadata": hashlib.sha1(fma["fma_metadata.zip"]).hexdigest(),
            "small": hashlib.sha1(fma["fma_small.zip"]).hexdigest()}


def _params(path: Path, url: str, fma_sha1: dict[str, str]) -> None:
    p = _apply(yaml.safe_load((ROOT / "params.yaml").read_text()), PRESET)
    assert p["synth"]["source"] == "fsd50k" and p["data"]["source"] == "dcase2025"
    p["data"]["dcase2025"].update(base_url=url, video=False)
    p["data"]["workers"] = 1
    p["synth"]["fsd50k"].update(base_url=url, fma_url=f"{url}/fma", fma_sha1=fma_sha1, max_missing=3)
    p["synth"].update(n_clips=3, workers=0)  # 0: every core
    p["validation"]["source"] = "test"  # two training clips: keep both for training
    p["rooms"].update(radii=[1.0, 2.0], elevations=[0.0], az_step_deg=60.0)
    tiny_training(p)
    path.write_text(yaml.safe_dump(p, sort_keys=False))


def _ran(log: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", log))


@pytest.mark.slow
def test_paper_preset_from_raw_downloads_to_training(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _copy_repo(repo)
    fake = FakeZenodo()
    try:
        _params(repo / "params.yaml", fake.url, _serve(fake, tmp_path))
        for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "real path"]):
            _run(cmd, repo)
        targets = [f"train@{m}" for m in MODELS]
        first = _run(["dvc", "repro", *targets], repo)
        assert _ran(first) == {"rooms", "download_fsd50k", "download_fma", "download_tau_srir", "prepare_sources",
                               "prepare_rooms", "dataset", "synth", "standardizer",
                               *(f"features_audio@{s}" for s in ("train", "val", "synth")), *targets}
        assert _ran(_run(["dvc", "repro", *targets], repo)) == set()
    finally:
        fake.close()

    # the source tree: every class, 24 kHz, the missing and unreadable files named
    report = json.loads((repo / "data/synth_sources/manifest.json").read_text())
    assert all(c["train"] >= 1 for c in report["files"].values()) and len(report["files"]) == 13
    assert len(report["missing"]) == 2 and len(report["unreadable"]) == 1
    assert {sf.info(str(p)).samplerate for p in (repo / "data/synth_sources").rglob("*.wav")} == {24000}
    # the rooms: two TAU rooms with their ambience, read back through the synthesiser's loader
    rooms = sorted(p.name for p in (repo / "data/synth_rooms").glob("*.sofa"))
    assert rooms == ["bomb_shelter_foa.sofa", "sa203_foa.sofa"]
    assert all((repo / f"data/synth_rooms/{r[:-5]}_ambience.flac").is_file() for r in rooms)
    assert load_sofa(repo / "data/synth_rooms/sa203_foa.sofa").irs.shape[1:] == (4, 2400)
    # the synthetic split and its features
    wavs = sorted((repo / "data/synth/stereo_dev/dev-train-synth").glob("*.wav"))
    assert len(wavs) == 3
    for w in wavs:
        x, sr = sf.read(w)
        assert sr == 24000 and x.shape == (120000, 2) and np.abs(x).max() > 0
        assert len(read_metadata_csv(repo / f"data/synth/metadata_dev/dev-train-synth/{w.stem}.csv")) > 0
    with h5py.File(repo / "data/features/synth.h5") as h5:
        assert h5["features"].shape == (3, 2, 251, 64)
    for m in MODELS:
        assert (repo / f"models/{m}/model.pt").stat().st_size > 0
        assert json.loads((repo / f"models/{m}/live/metrics.json").read_text())["step"] >= 1
    shutil.rmtree(repo / "data")
