"""params.yaml validation: every bad value ends in one line naming the file, the key and what is allowed."""

from __future__ import annotations

import ast
import copy
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from seldlib.config import read_params
from seldlib.errors import SeldInputError
from seldlib.models.paramcheck import MODEL_CHECK
from seldlib.paramcheck import ModelCheck, validate
from seldlib.preset import main as preset_main
from seldlib.preset import preset_overrides

REPO = Path(__file__).resolve().parents[1]
PARAMS = REPO / "params.yaml"
PAPER_PRESET = REPO / "presets" / "dcase2025-paper.yaml"
DELETE = object()


def _real() -> dict[str, Any]:
    return yaml.safe_load(PARAMS.read_text(encoding="utf-8"))


def _set(tree: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    for part in parents:
        tree = tree[part]
    if value is DELETE:
        del tree[leaf]
    else:
        tree[leaf] = copy.deepcopy(value)


def _write(tmp_path: Path, tree: Any) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    return path


SMALL = {"preset": "small", "resnet_channels": [8, 16, 24, 32]}

# (set these keys, read these keys as a stage would, the key the message must name, what it must allow)
BAD = {
    "n_mels 0": ({"features.audio.n_mels": 0}, ["features.audio"], "features.audio.n_mels", ["got 0", "integer >= 1"]),
    "hop 0": ({"features.audio.hop": 0}, ["features.audio"], "features.audio.hop", ["integer >= 1"]),
    # 24 kHz audio: nothing above 12 kHz
    "fmax above Nyquist": ({"features.audio.fmax": 16000.0}, ["features.audio"], "features.audio.fmax",
                           ["got 16000", "(0, 12000]", "Nyquist"]),
    "fmin above Nyquist": ({"features.audio.fmin": 13000.0}, ["features.audio"], "features.audio.fmin",
                           ["[0, 12000)"]),
    "fmax below fmin, read alone": ({"features.audio.fmin": 11000.0, "features.audio.fmax": 10000.0},
                                    ["features.audio.fmax"], "features.audio.fmax", ["(11000, 12000]"]),
    "win above n_fft": ({"features.audio.win": 2048}, ["features.audio"], "features.audio.win", ["[1, 1024]"]),
    "top_db negative": ({"features.audio.top_db": -1}, ["features.audio"], "features.audio.top_db", ["> 0"]),
    "unknown data.source": ({"data.source": "dcase2026"}, ["data.source"], "data.source",
                            ["'synth-mini'", "'dcase2025'"]),
    "typo in features.audio": ({"features.audio.n_mel": 64}, ["features.audio"], "features.audio.n_mel",
                               ["unknown parameter", "n_mels"]),
    "typo in a model entry": ({"models.sed_doa.warmup_frc": 0.2}, ["models.sed_doa"], "models.sed_doa.warmup_frc",
                              ["unknown parameter", "warmup_frac"]),
    "typo'd section beside a read one": ({"evalute": {"jackknife": True}}, ["evaluate"], "evalute",
                                         ["unknown parameter", "evaluate"]),
    "unknown kind": ({"models.sed_doa.kind": "sed_xyz"}, ["models.sed_doa"], "models.sed_doa.kind",
                     ["'sed_doa'", "'sed_sde'", "'sed_sce'", "'seldnet'"]),
    "entry without kind": ({"models.sed_doa.kind": DELETE}, ["models.sed_doa"], "models.sed_doa.kind",
                           ["missing", "'sed_doa'", "'seldnet'"]),
    "unknown preset": ({"models.sed_doa.model": {"preset": "huge"}}, ["models.sed_doa"],
                       "models.sed_doa.model.preset", ["got 'huge'", "'paper'", "'small'"]),
    "loss weight of another kind": ({"models.sed_doa.loss_weights": {"sed": 1.0, "dist": 1.0}}, ["models.sed_doa"],
                                    "models.sed_doa.loss_weights.dist", ["'sed'", "'doa'"]),
    "device tpu": ({"train.device": "tpu"}, ["train"], "train.device", ["got 'tpu'", "'cpu'", "'cuda:<index>'"]),
    "lr -1": ({"models.sed_doa.lr": -1}, ["models.sed_doa"], "models.sed_doa.lr", ["got -1", "number > 0"]),
    "lr not a number": ({"models.sed_doa.lr": "abc"}, ["models.sed_doa"], "models.sed_doa.lr",
                        ["got 'abc'", "number > 0"]),
    "lr infinite": ({"models.sed_doa.lr": float("inf")}, ["models.sed_doa"], "models.sed_doa.lr", ["number > 0"]),
    "batch_size 0": ({"models.sed_doa.batch_size": 0}, ["models.sed_doa"], "models.sed_doa.batch_size",
                     ["integer >= 1"]),
    "steps 0": ({"models.sed_doa.steps": 0}, ["models.sed_doa"], "models.sed_doa.steps", ["integer >= 1"]),
    "val_every 0": ({"train.val_every": 0}, ["train"], "train.val_every", ["integer >= 1"]),
    "threshold 2": ({"models.sed_doa.threshold": 2}, ["models.sed_doa"], "models.sed_doa.threshold",
                    ["got 2", "(0, 1)"]),
    "clip_grad_norm negative": ({"models.sed_doa.clip_grad_norm": -1.0}, ["models.sed_doa"],
                                "models.sed_doa.clip_grad_norm", [">= 0 or null"]),
    "entry named ensemble": ({"models.ensemble": {"kind": "sed_doa"}}, ["models"], "models.ensemble",
                             ["other than 'ensemble'"]),
    "n_test 0": ({"data.mini.n_test": 0}, ["data"], "data.mini.n_test", ["integer >= 1"]),
    "n_val 0": ({"data.mini.n_val": 0}, ["data"], "data.mini.n_val", ["integer >= 1"]),
    "validation.source": ({"validation.source": "train"}, ["validation"], "validation.source",
                          ["'heldout'", "'test'"]),
    "validation.fraction": ({"validation.fraction": 0.7}, ["validation"], "validation.fraction", ["(0, 0.5]"]),
    "empty radii": ({"rooms.radii": []}, ["rooms"], "rooms.radii", ["got []", "one or more"]),
    "section not a mapping": ({"train": 5}, ["train"], "train", ["got 5", "mapping with keys device"]),
    "bf16 yes": ({"features.video.bf16": "yes"}, ["features.video"], "features.video.bf16",
                 ["'auto'", "true", "false"]),
    "untracked workers 0": ({"data.workers": 0}, ["data.workers"], "data.workers", ["integer >= 1"]),
    "untracked batch size 0": ({"features.audio.batch_size": 0}, ["features.audio.batch_size"],
                               "features.audio.batch_size", ["integer >= 1"]),
    "ensemble member not an entry": ({"ensemble.members": ["sed_doa", "nope"]}, ["ensemble"], "ensemble.members[1]",
                                     ["got 'nope'", "sed_doa, sed_sde, sed_sce, seldnet"]),
    "ensemble member not fusable": ({"ensemble.members": ["sed_doa", "seldnet"]}, ["ensemble"],
                                    "ensemble.members[1]", ["kind seldnet", "can be fused"]),
    "sed weight of a non-member": ({"ensemble.sed_weights": {"sed_doa": 1.0, "seldnet": 1.0}},
                                   ["ensemble.sed_weights"], "ensemble.sed_weights.seldnet",
                                   ["'sed_doa'", "'sed_sde'", "'sed_sce'"]),
    "evaluated system not an entry": ({"evaluate.systems": ["sed_doa", "nope"]}, ["evaluate"], "evaluate.systems[1]",
                                      ["got 'nope'", "'ensemble'"]),
    "evaluated system twice": ({"evaluate.systems": ["sed_doa", "sed_doa"]}, ["evaluate"], "evaluate.systems",
                               ["distinct"]),
    # SED-SDE has no direction head; at evaluation it borrows the SED-DOA direction
    "direction from a model without one": ({"evaluate.direction_entry": "sed_sde"}, ["evaluate"],
                                           "evaluate.direction_entry", ["kind sed_sde", "lends its direction to other kinds (sed_doa)"]),
    # Track B: init and teacher name exactly the checkpoints the stage reads (its DVC deps)
    "av init of another kind": ({"av_models.av_sed_sce_ons.init": "sed_doa"}, ["av_models"],
                                "av_models.av_sed_sce_ons.init", ["got 'sed_doa'", "(kind sed_doa)", "is sed_sce"]),
    "av teacher of an undistilled kind": ({"av_models.av_sed_sce_ons.teacher": "sed_doa"}, ["av_models"],
                                          "av_models.av_sed_sce_ons.teacher", ["got 'sed_doa'", "same entry as init"]),
    "av teacher of another kind": ({"av_models.av_ts_sed_sce_ons.teacher": "seldnet"}, ["av_models"],
                                   "av_models.av_ts_sed_sce_ons.teacher", ["(kind seldnet)", "is sed_sce"]),
    "av entry without init": ({"av_models.av_sed_sce_ons.init": None}, ["av_models"],
                              "av_models.av_sed_sce_ons.init", ["got null"]),
    "av kind among the audio models": ({"models.sed_doa.kind": "av_sed_sce_ons"}, ["models.sed_doa"],
                                       "models.sed_doa.kind", ["got 'av_sed_sce_ons'", "'sed_doa'"]),
    "audio kind among the av models": ({"av_models.av_sed_sce_ons.kind": "sed_sce"}, ["av_models.av_sed_sce_ons"],
                                       "av_models.av_sed_sce_ons.kind", ["got 'sed_sce'", "'av_sed_sce_ons'"]),
    "av entry named as an audio entry": ({"av_models.sed_sce": {"kind": "av_sed_sce_ons", "init": "sed_sce",
                                                                "teacher": "sed_sce"}}, ["av_models"],
                                         "av_models.sed_sce", ["not the name of a models entry"]),
    "av system not an av entry": ({"evaluate.av_systems": ["sed_doa"]}, ["evaluate"], "evaluate.av_systems[0]",
                                  ["got 'sed_doa'", "av_sed_sce_ons"]),
}


# Judged only by the model code, which the train stage passes in (seldlib.models.paramcheck.MODEL_CHECK)
BAD_MODEL = {
    "unknown model-config key": ({"models.sed_doa.model": {"preset": "small", "resnet_chanels": [8, 16, 24, 32]}},
                                 ["models.sed_doa"], "models.sed_doa.model.resnet_chanels",
                                 ["unknown parameter", "resnet_channels"]),
    "model field of the wrong type": ({"models.sed_doa.model": {"preset": "small", "resnet_channels": [8, 0, 24, 32]}},
                                      ["models.sed_doa"], "models.sed_doa.model.resnet_channels[1]",
                                      ["got 0", "integer >= 1"]),
    # 60 mel bands cannot be pooled by 4 * 4 * 2
    "model n_mels not poolable": ({"models.sed_doa.model": {**SMALL, "n_mels": 60}}, ["models.sed_doa"],
                                  "models.sed_doa.model", ["divisible"]),
    "model dropout above 1": ({"models.sed_doa.model": {**SMALL, "dropout": 2.0}}, ["models.sed_doa"],
                              "models.sed_doa.model", ["cannot be built", "dropout"]),
    "seldnet field of a resnet_conformer": ({"models.seldnet.model": {"preset": "paper", "resnet_channels": [8]}},
                                            ["models"], "models.seldnet.model.resnet_channels",
                                            ["unknown parameter", "a seldnet model takes preset"]),
}
CHECKS = {"model check": MODEL_CHECK, "no model check": None}


def _bad_message(tmp_path: Path, case: tuple[Any, ...], model_check: ModelCheck | None) -> str:
    changes, read, key, allowed = case
    tree = _real()
    for k, v in changes.items():
        _set(tree, k, v)
    path = _write(tmp_path, tree)
    with pytest.raises(SeldInputError) as err:
        read_params(read, path, model_check)
    msg = str(err.value)
    assert msg.startswith(f"{path}: {key}: "), msg
    assert "\n" not in msg
    for text in allowed:
        assert text in msg, msg
    return msg


@pytest.mark.parametrize("check", CHECKS, ids=list(CHECKS))
@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_value_one_line_naming_file_key_and_range(case: str, check: str, tmp_path: Path) -> None:
    _bad_message(tmp_path, BAD[case], CHECKS[check])


@pytest.mark.parametrize("case", BAD_MODEL, ids=list(BAD_MODEL))
def test_bad_model_config_one_line_with_the_model_check(case: str, tmp_path: Path) -> None:
    _bad_message(tmp_path, BAD_MODEL[case], MODEL_CHECK)


@pytest.mark.parametrize("case", BAD_MODEL, ids=list(BAD_MODEL))
def test_model_config_passes_unjudged_without_the_model_check(case: str, tmp_path: Path) -> None:
    """A stage that builds no model reads `models.<entry>` as written: only the model code judges it."""
    changes, read, _, _ = BAD_MODEL[case]
    tree = _real()
    for k, v in changes.items():
        _set(tree, k, v)
    (changed, model), = changes.items()
    got = read_params(read, _write(tmp_path, tree))
    node = got[read[0]]
    for part in changed.split(".")[len(read[0].split(".")):]:
        node = node[part]
    assert node == model


@pytest.mark.parametrize("check", CHECKS, ids=list(CHECKS))
def test_real_params_validate_clean_and_unchanged(check: str) -> None:
    tree = _real()
    assert read_params(list(tree), PARAMS, CHECKS[check]) == tree


def test_train_stage_judges_the_model_config_before_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from stages import train
    from stages._cli import run

    tree = _real()
    tree["models"]["sed_doa"]["model"] = {**SMALL, "n_mels": 60}
    _write(tmp_path, tree)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        run(lambda: train.main(["--model", "sed_doa", "--params", "models.sed_doa", "train", "features.standardize"]))
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: params.yaml: models.sed_doa.model: the sed_doa model cannot be built"), err
    assert err.count("\n") == 1 and "divisible" in err, err
    assert list(tmp_path.iterdir()) == [tmp_path / "params.yaml"]  # nothing written


def _imported_names(path: Path) -> set[str]:
    """Every module an import statement anywhere in ``path`` names (function bodies included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


MODEL_CODE = ("torch", "seldlib.models", "seldlib.losses")


def test_reading_params_needs_no_model_loss_or_torch_code() -> None:
    """Every stage reads params: if reading them imported the networks, one model edit would rerun
    every stage (their DVC code deps)."""
    for module in ("config", "paramcheck"):
        names = _imported_names(REPO / "seldlib" / f"{module}.py")
        assert not [n for n in names if n == MODEL_CODE[0] or n.startswith(MODEL_CODE)], (module, sorted(names))
    code = ("import sys, yaml\n"
            "from seldlib.config import read_params\n"
            f"tree = yaml.safe_load(open({str(PARAMS)!r}))\n"
            f"assert read_params(list(tree), {str(PARAMS)!r}) == tree\n"
            f"print(sorted(m for m in sys.modules if m == 'torch' or m.startswith({MODEL_CODE!r})))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_yaml_string_3e_3_read_as_float(tmp_path: Path) -> None:
    text = PARAMS.read_text(encoding="utf-8")
    assert "    lr: 0.003\n" in text
    path = tmp_path / "params.yaml"
    path.write_text(text.replace("    lr: 0.003\n", "    lr: 3e-3\n", 1), encoding="utf-8")
    assert yaml.safe_load(path.read_text())["models"]["sed_doa"]["lr"] == "3e-3"  # YAML 1.1: no dot, a string
    lr = read_params(["models.sed_doa"], path)["models.sed_doa"]["lr"]
    assert isinstance(lr, float) and lr == 0.003


def test_paper_preset_applied_by_dvc_gives_the_preset_values_and_validates(tmp_path: Path) -> None:
    from dvc.utils.hydra import apply_overrides

    overrides = preset_overrides(PAPER_PRESET, PARAMS)
    path = tmp_path / "params.yaml"
    path.write_text(PARAMS.read_text(encoding="utf-8"), encoding="utf-8")
    apply_overrides(path, overrides)  # what `dvc exp run -S ...` does to params.yaml
    applied = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in yaml.safe_load(PAPER_PRESET.read_text(encoding="utf-8")).items():
        node = applied
        for part in key.split("."):
            node = node[part]
        assert node == value, key  # e.g. {preset: paper} without the small model's channel overrides
    read_params(list(applied), path, MODEL_CHECK)


def _preset(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "preset.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "expected"), [
    ("models.sed_doa.lrr: 0.1\n", ": models.sed_doa.lrr: not a parameter in"),
    ("models.sed_doa.lr: -1\n", ": models.sed_doa.lr: got -1; expected a number > 0"),
    ("models.sed_doa.model: {preset: huge}\n", ": models.sed_doa.model.preset: got 'huge'"),
    ("models.sed_doa.model: {preset: small, n_mels: 60}\n",
     ": models.sed_doa.model: the sed_doa model cannot be built"),
    ("models.sed_doa.lr: [1,\n", ", line 2: invalid YAML"),
    ("- models.sed_doa.lr\n", ": expected a mapping of dotted parameter keys"),
])
def test_bad_preset_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str) -> None:
    preset = _preset(tmp_path, text)
    assert preset_main([str(preset), "--params", str(PARAMS)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {preset}") and expected in err and err.count("\n") == 1, err


def test_missing_preset_file_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert preset_main([str(tmp_path / "nope.yaml"), "--params", str(PARAMS)]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope.yaml'}: preset file not found\n"


def test_invalid_params_yaml_one_line_with_line(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("data:\n  source: synth-mini\n  seed: [1,\n", encoding="utf-8")
    with pytest.raises(SeldInputError) as err:
        read_params(["data"], path)
    assert str(err.value).startswith(f"{path}, line 4: invalid YAML") and "\n" not in str(err.value)


def test_stage_stops_before_work_with_one_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from stages import rooms
    from stages._cli import run

    tree = _real()
    tree["rooms"]["seed"] = -1
    _write(tmp_path, tree)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        run(lambda: rooms.main(["--params", "rooms"]))
    assert done.value.code == 2
    assert capsys.readouterr().err == "error: params.yaml: rooms.seed: got -1; expected an integer >= 0\n"
    assert not (tmp_path / "data").exists()


def test_schema_matches_the_dataclasses_the_stages_fill() -> None:
    """stages/train.py passes a models entry plus four `train` keys to TrainConfig, stages/features_audio.py
    passes features.audio (less batch_size) to LogMelConfig, and seldlib.models builds from the presets."""
    from seldlib.logmel import LogMelConfig
    from seldlib.models import PRESETS
    from seldlib.paramcheck import MODEL_PRESETS, model_entry, schema
    from seldlib.train import TrainConfig

    assert MODEL_PRESETS == PRESETS  # a copy: seldlib.paramcheck may not import the model code

    train_keys = set(schema().fields["train"].fields)
    assert train_keys == {"device", "amp", "val_every", "checkpoint_every", "nproc", "sync_bn", "loader", "workers"}
    # loader and workers are arguments of train(), not TrainConfig fields
    assert set(model_entry(track="B").fields) | (train_keys - {"loader", "workers"}) == {f.name for f in fields(TrainConfig)}
    # a Track A entry has none of the Track B keys (teacher, init, distillation, on-screen threshold)
    assert set(model_entry(track="B").fields) - set(model_entry().fields) == {
        "init", "teacher", "ts_weight", "ts_hidden_weight", "onscreen_threshold"}
    audio = set(schema().fields["features"].fields["audio"].fields) - {"batch_size"}
    assert audio == {f.name for f in fields(LogMelConfig)} - {"sample_rate", "amin"}


def test_detector_schema_matches_the_detector_classes(tmp_path):
    """detect.detectors entries take exactly the keys seldlib.detection builds its detectors from, and a
    bad one stops with the key named."""
    import inspect

    from seldlib import detection
    from seldlib.paramcheck import DETECTOR_ENTRIES

    assert {k: set(v) for k, v in DETECTOR_ENTRIES.items()} == {k: set(v) for k, v in detection.DETECTOR_PARAMS.items()}
    classes = {"haar": detection.HaarFaceDetector, "keypointrcnn": detection.KeypointRcnnDetector,
               "grounding_dino": detection.GroundingDinoDetector}
    for kind, cls in classes.items():
        assert set(DETECTOR_ENTRIES[kind]) <= set(inspect.signature(cls).parameters), kind

    tree = yaml.safe_load((REPO / "params.yaml").read_text())
    tree["detect"]["detectors"]["people"] = {"kind": "haar", "min_neighbors": -1}
    with pytest.raises(SeldInputError, match=r"detect\.detectors\.people\.min_neighbors: got -1"):
        validate(tree, ["detect"], "params.yaml")
    tree["detect"]["detectors"]["people"] = {"kind": "yolo"}
    with pytest.raises(SeldInputError, match=r"detect\.detectors\.people\.kind"):
        validate(tree, ["detect"], "params.yaml")
