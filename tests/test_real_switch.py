"""The switch to the real data, tested as far as possible offline.

The preset is applied to a copy of params.yaml; the dataset stage then downloads a tiny record in the
DCASE2025 format from a local fake Zenodo server, and the feature stage reads it unchanged.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf
import yaml

from seldlib.errors import SeldInputError
from seldlib.models import build_model, count_parameters
from seldlib.preset import preset_overrides
from test_download import FakeZenodo, make_zip

ROOT = Path(__file__).resolve().parents[1]
PRESET = ROOT / "presets" / "dcase2025-paper.yaml"


def _apply(params: dict, preset: Path) -> dict:
    """Apply ``dotted.key: value`` overrides the way ``-S`` does (independently of seldlib.preset)."""
    for key, value in yaml.safe_load(preset.read_text()).items():
        node = params
        *parents, leaf = key.split(".")
        for part in parents:
            node = node[part]
        assert leaf in node, key
        node[leaf] = value
    return params


def test_preset_overrides_are_known_keys_and_hydra_literals(tmp_path):
    args = preset_overrides(PRESET, ROOT / "params.yaml")
    assert "data.source=dcase2025" in args
    # a mapping replaces the whole mapping: delete it, then add the preset's (Hydra override grammar)
    assert args.index("~models.sed_doa.model") + 1 == args.index("+models.sed_doa.model={preset:paper}")
    assert all(" " not in a for a in args)  # survives word splitting
    bad = tmp_path / "bad.yaml"
    bad.write_text("models.sed_doa.lrr: 0.1\n")
    with pytest.raises(SeldInputError, match="models.sed_doa.lrr: not a parameter in"):
        preset_overrides(bad, ROOT / "params.yaml")


def test_preset_selects_the_paper_models():
    params = _apply(yaml.safe_load((ROOT / "params.yaml").read_text()), PRESET)
    assert params["data"]["source"] == "dcase2025" and params["synth"]["n_clips"] == 30000
    sizes = {name: count_parameters(build_model(m["kind"], m["model"])) for name, m in params["models"].items()}
    # Paper sizes (docs/networks.md#sizes): ~11.7 M for the ResNet-Conformers, 734,261 for the baseline SELDnet.
    assert all(11.6e6 < sizes[k] < 11.8e6 for k in ("sed_doa", "sed_sde", "sed_sce"))
    assert sizes["seldnet"] == 734_261
    assert params["models"]["sed_doa"]["loss_weights"] == {"sed": 0.1, "doa": 1.0}


def _wav(seconds: float = 5.0) -> bytes:
    path = Path(__file__).parent / ".tmp_switch.wav"
    rng = np.random.default_rng(0)
    sf.write(path, 0.1 * rng.standard_normal((int(24000 * seconds), 2)), 24000, subtype="PCM_16")
    data = path.read_bytes()
    path.unlink()
    return data


def test_dataset_and_feature_stages_run_on_a_dcase2025_record(tmp_path, monkeypatch):
    from stages import dataset as dataset_stage
    from stages import features_audio

    header = b"frame,class,source,azimuth,distance,onscreen\n"
    csv = header + b"3,1,0,20,150,1\n4,1,0,21,150,1\n"
    wav = _wav()
    train = {"dev-train-tau/fold3_room4_mix001_deg010_start0000", "dev-train-sony/fold3_room21_mix013_deg200_start0100"}
    test = {"dev-test-tau/fold4_room2_mix001_deg000_start0000", "dev-test-sony/fold4_room23_mix002_deg300_start0042"}
    archives = {
        "metadata_dev.zip": make_zip({f"{s}.csv": csv for s in train | test}, top="metadata_dev"),
        "stereo_dev.zip": make_zip({f"{s}.wav": wav for s in train | test}, top="stereo_dev"),
        "stereo_eval.zip": make_zip({"sample0001.wav": wav}, top="stereo_eval"),
    }
    zenodo = FakeZenodo()
    try:
        zenodo.add_record(15559774, archives)
        params = _apply(yaml.safe_load((ROOT / "params.yaml").read_text()), PRESET)
        params["data"]["dcase2025"].update(base_url=zenodo.url, video=False)
        params["validation"]["source"] = "test"  # keep both training clips in the training set
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
        argv = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["dataset"]["cmd"].split()[3:]
        monkeypatch.chdir(tmp_path)
        assert dataset_stage.main(argv) == 0
    finally:
        zenodo.close()
    assert (tmp_path / "data/dataset/stereo_eval/eval/sample0001.wav").read_bytes() == wav
    cache = tmp_path / "data/.downloads/dcase2025"  # archives kept for reruns (docs/real-data.md)
    assert all((cache / k).read_bytes() == v for k, v in archives.items())
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    logmel = next(v["logmel"] for v in dvc["vars"] if "logmel" in v)
    features_cmd = dvc["stages"]["features_audio"]["do"]["cmd"].replace("${logmel}", logmel)
    for role, stems in (("train", train), ("test", test)):
        argv = features_cmd.replace("${key}", role).replace("${item}", "data/dataset").split()[3:]
        assert features_audio.main(argv) == 0
        with h5py.File(tmp_path / f"data/features/{role}.h5") as h5:
            names = sorted(n.decode() for n in h5["names"][()])
            assert names == sorted(s.split("/")[1] for s in stems)
            assert h5["features"].shape == (2, 2, 251, 64)
            assert h5["sed"][:, 3, 1].tolist() == [1.0, 1.0] and h5["sed"][:, 5, 1].tolist() == [0.0, 0.0]
    shutil.rmtree(tmp_path / "data")
