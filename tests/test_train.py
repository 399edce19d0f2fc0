"""Training loop: schedule, determinism, resume after an interruption, checkpoint checks."""

import math

import numpy as np
import pytest
import torch

from seldlib.errors import SeldInputError
from seldlib.labels import ClipLabels, encode_labels
from seldlib.metadata import EventTable
from seldlib.checkpoint import load_checkpoint, save_checkpoint
from seldlib.train import validate, TrainConfig, train, tri_stage_lr
from seldlib.metadata import format_metadata_csv
from seldlib.trainset import TensorSet


def test_tri_stage_schedule_by_hand():
    # total 100: warm-up 10 steps from 0.01 to 1, hold 60 steps, exponential decay over 30 steps to 0.05.
    assert tri_stage_lr(0, 100, 1.0) == pytest.approx(0.01)
    assert tri_stage_lr(5, 100, 1.0) == pytest.approx(0.01 + 0.99 * 5 / 10)
    assert tri_stage_lr(10, 100, 1.0) == 1.0 and tri_stage_lr(69, 100, 1.0) == 1.0
    assert tri_stage_lr(85, 100, 2.0) == pytest.approx(2.0 * math.sqrt(0.05))  # halfway: 0.05 ** 0.5
    assert tri_stage_lr(100, 100, 1.0) == pytest.approx(0.05)
    assert tri_stage_lr(250, 100, 1.0) == pytest.approx(0.05)


def _tiny_set(n: int, seed: int) -> TensorSet:
    rng = np.random.default_rng(seed)
    feats = torch.from_numpy(rng.standard_normal((n, 2, 251, 64)).astype(np.float32))
    labels, tables = [], []
    for _ in range(n):
        rows = [(t, c, 0, float(rng.integers(-90, 91)), float(rng.integers(50, 500)), 0)
                for c in rng.choice(13, 2, replace=False) for t in range(10, 30)]
        tables.append(EventTable(*zip(*rows)))
        labels.append(encode_labels(tables[-1]))
    tensors = {"features": feats, "level_dbfs": torch.full((n, 50), -30.0)}
    for f in ClipLabels.FIELDS:
        tensors[f] = torch.from_numpy(np.stack([getattr(lab, f) for lab in labels]))
    return TensorSet([f"clip{i}" for i in range(n)], tensors, [format_metadata_csv(t) for t in tables])


def _cfg(**kw) -> TrainConfig:
    base = dict(kind="sed_doa", model={"preset": "small", "resnet_channels": [4, 4, 4, 4], "d_model": 16, "n_heads": 2,
                                       "n_blocks": 1, "head_hidden": 16},
                lr=1e-3, batch_size=4, steps=6, val_every=3, checkpoint_every=2, seed=3, scs_prob=0.5,
                mixup_prob=0.5, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def data():
    return _tiny_set(8, 0), _tiny_set(3, 1)


def test_same_params_give_byte_identical_checkpoints(tmp_path, data):
    train_set, val_set = data
    train(_cfg(), train_set, val_set, tmp_path / "a.pt", progress=False, log=lambda s: None)
    train(_cfg(), train_set, val_set, tmp_path / "b.pt", progress=False, log=lambda s: None)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    train(_cfg(seed=4), train_set, val_set, tmp_path / "c.pt", progress=False, log=lambda s: None)
    assert (tmp_path / "c.pt").read_bytes() != (tmp_path / "a.pt").read_bytes()


def test_interrupted_run_resumes_to_the_same_model(tmp_path, data):
    train_set, val_set = data
    train(_cfg(), train_set, val_set, tmp_path / "ref.pt", progress=False, log=lambda s: None)

    class Interrupt(Exception):
        pass

    def stop_at_5(split, values, step):
        if step == 5:
            raise Interrupt

    resume = tmp_path / "resume.pt"
    with pytest.raises(Interrupt):
        train(_cfg(), train_set, val_set, tmp_path / "out.pt", resume_path=resume, logger=stop_at_5, progress=False,
              log=lambda s: None)
    assert resume.exists() and not (tmp_path / "out.pt").exists()  # nothing half-written
    messages: list[str] = []
    train(_cfg(), train_set, val_set, tmp_path / "out.pt", resume_path=resume, progress=False, log=messages.append)
    assert messages == [f"resuming sed_doa from step 4 ({resume})"]
    assert not resume.exists()
    ref, _ = load_checkpoint(tmp_path / "ref.pt")
    out, _ = load_checkpoint(tmp_path / "out.pt")
    for (k, a), (_, b) in zip(ref.state_dict().items(), out.state_dict().items()):
        assert torch.equal(a, b), k


def test_resume_state_of_another_config_starts_clean(tmp_path, data):
    train_set, val_set = data
    resume = tmp_path / "resume.pt"

    def stop(split, values, step):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_cfg(), train_set, val_set, tmp_path / "out.pt", resume_path=resume, logger=stop, progress=False,
              log=lambda s: None)
    messages: list[str] = []
    train(_cfg(lr=2e-3), train_set, val_set, tmp_path / "out.pt", resume_path=resume, progress=False, log=messages.append)
    assert messages[0].startswith("starting clean")


def test_checkpoint_refuses_other_kind_or_features(tmp_path, data):
    train_set, val_set = data
    train(_cfg(steps=3), train_set, val_set, tmp_path / "m.pt", feature_meta={"n_mels": 64}, progress=False,
          log=lambda s: None)
    model, meta = load_checkpoint(tmp_path / "m.pt", expect_kind="sed_doa", expect_features={"n_mels": 64})
    assert meta["kind"] == "sed_doa" and len(meta["classes"]) == 13
    with pytest.raises(SeldInputError, match="is a 'sed_doa' checkpoint, expected 'sed_sce'"):
        load_checkpoint(tmp_path / "m.pt", expect_kind="sed_sce")
    with pytest.raises(SeldInputError, match="feature settings"):
        load_checkpoint(tmp_path / "m.pt", expect_features={"n_mels": 128})
    save_checkpoint(tmp_path / "alien.pt", model, {**meta, "kind": "sed_xyz"})
    with pytest.raises(SeldInputError, match="alien.pt: unknown model kind 'sed_xyz'"):
        load_checkpoint(tmp_path / "alien.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SeldInputError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")


@pytest.mark.parametrize("kind", ["sed_sde", "sed_sce", "seldnet"])
def test_every_kind_trains_and_validates(tmp_path, data, kind):
    train_set, val_set = data
    model = {"preset": "small"} if kind == "seldnet" else _cfg().model
    summary = train(_cfg(kind=kind, model=model, steps=2, val_every=2), train_set, val_set, tmp_path / "m.pt",
                    progress=False, log=lambda s: None)
    assert set(summary["best"]) >= {"F", "DOAE", "RDE", "step"}


@pytest.mark.parametrize("kind", ["sed_doa", "sed_sce", "seldnet"])
def test_validation_score_equals_the_evaluate_stages(tmp_path, data, kind):
    """The selection score is the score the evaluate stage gives the same clips: predictions written as
    CSVs and scored from files against the reference CSVs (seldlib.metrics.score_dirs)."""
    from seldlib.inference import predict_arrays
    from seldlib.metrics import score_dirs
    from seldlib.models import build_model
    from seldlib.predictions import write_prediction_dir

    _, val_set = data
    torch.manual_seed(0)
    model = build_model(kind, {"preset": "small"} if kind == "seldnet" else _cfg().model)
    cfg = _cfg(kind=kind, threshold=0.3)
    got = validate(model, kind, val_set, cfg, torch.device("cpu"))
    for name, text in zip(val_set.names, val_set.references):
        (tmp_path / "ref").mkdir(exist_ok=True)
        (tmp_path / "ref" / f"{name}.csv").write_text(text)
    arrays = predict_arrays(model, kind, val_set.tensors["features"])
    write_prediction_dir(tmp_path / "pred", val_set.names, arrays, threshold=0.3)
    want = score_dirs(tmp_path / "ref", tmp_path / "pred")
    for m in ("F", "DOAE", "RDE"):
        assert got[m] == pytest.approx(getattr(want, m), abs=1e-12, nan_ok=True), m


def test_shares_of_the_plan_are_the_augmenters_batch(data):
    """Planner + augment, for 1 process or the 2 shares of 2, give value for value what the Augmenter
    gives the whole batch (features swapped and mixed, targets swapped, partners' targets = targets[perm])."""
    from seldlib.augment import AugmentConfig, Augmenter
    from seldlib.train import Planner, augment

    train_set, _ = data
    augmenter = Augmenter(AugmentConfig(scs_prob=0.5, mixup_prob=0.5, mixup_alpha=0.5), seed=3)
    mixed = 0
    for step in range(24):
        whole = Planner(len(train_set), 4, 3, augmenter)(step)
        want = augmenter(train_set.batch(whole.rows), step)
        for world in (1, 2):
            shares = [augment(train_set.batch(plan.reads()), plan)
                      for plan in (Planner(len(train_set), 4, 3, augmenter, rank, world)(step) for rank in range(world))]
            for key in ("features", "doa", "sce", "adpit", "sed", "dist"):
                assert torch.equal(torch.cat([own[key] for own, _ in shares]), want[key]), (step, world, key)
            if "mix_perm" in want:
                for key in ("doa", "adpit"):
                    got = torch.cat([partner[key] for _, partner in shares])
                    assert torch.equal(got, want[key][want["mix_perm"]]), (step, world, key)
            else:
                assert all(partner is None for _, partner in shares)
        mixed += "mix_perm" in want
    assert 0 < mixed < 24  # both kinds of step were compared


def test_streamed_stores_train_the_same_model_as_memory(tmp_path):
    """The loader knob changes where rows live, not the model: the stores streamed by 2 worker
    processes, read into memory, or loaded as one TensorSet give byte-identical checkpoints and logs."""
    from tests.test_resume import _store
    from seldlib.standardizer import Standardizer
    from seldlib.trainset import StoreSet, load_tensor_set, prepare

    _store(tmp_path / "a.h5", 6, 0)
    _store(tmp_path / "b.h5", 5, 1)
    _store(tmp_path / "val.h5", 3, 2)
    rng = np.random.default_rng(3)
    std = Standardizer(rng.normal(-40.0, 1.0, (2, 64)), rng.uniform(8.0, 12.0, (2, 64)))
    stores = StoreSet([tmp_path / "a.h5", tmp_path / "b.h5"], std)
    assert isinstance(prepare(stores, torch.device("cpu"), "auto", 2, lambda s: None), StoreSet)  # 2 processes: stream
    assert isinstance(prepare(stores, torch.device("cpu"), "auto", 1, lambda s: None), TensorSet)
    val = load_tensor_set(tmp_path / "val.h5", std, fields=("doa", "level_dbfs"), references=True)
    memory = TensorSet.concat([load_tensor_set(tmp_path / n, std) for n in ("a.h5", "b.h5")])
    cfg = _cfg(steps=8, mixup_prob=0.7)
    logs = {}
    for name, source, loader in (("tensors", memory, "auto"), ("memory", stores, "memory"), ("stream", stores, "stream")):
        logs[name] = []
        train(cfg, source, val, tmp_path / f"{name}.pt", progress=False, log=lambda s: None, loader=loader, workers=2,
              logger=lambda split, values, step, name=name: logs[name].append((split, values, step)))
    reference = (tmp_path / "tensors.pt").read_bytes()
    for name in ("memory", "stream"):
        assert (tmp_path / f"{name}.pt").read_bytes() == reference, name
        assert logs[name] == logs["tensors"], name
