"""Training the Track B models: video inputs, initialisation from a trained audio model, distillation
from a frozen teacher, on-screen threshold tuned on the validation set, on-screen scoring."""

from __future__ import annotations

import pytest
import torch

from seldlib.checkpoint import load_checkpoint
from seldlib.distillation import Teacher
from seldlib.models import build_model
from seldlib.train import ONSCREEN_GRID, TrainConfig, train, validate
from seldlib.trainset import TensorSet
from tests.test_train import _tiny_set

AUDIO = {"preset": "small", "resnet_channels": [4, 4, 4, 4], "d_model": 16, "n_heads": 2, "dim_head": 8,
         "head_hidden": 16}
MVANET = AUDIO  # 2 audio blocks: (1, 0, 0, 1), as the small audio model


def _with_video(s: TensorSet, seed: int) -> TensorSet:
    g = torch.Generator().manual_seed(seed)
    video = torch.randn(len(s), 50, 7, 7, generator=g)
    return TensorSet(s.names, {**s.tensors, "video": video, "video_flipped": video.flip(-1)}, s.references)


@pytest.fixture(scope="module")
def data():
    return _with_video(_tiny_set(8, 0), 0), _with_video(_tiny_set(3, 1), 1)


def _cfg(kind: str, **kw) -> TrainConfig:
    model = {"preset": "small"} if kind == "seldnet_av" else MVANET
    base = dict(kind=kind, model=model, lr=1e-3, batch_size=4, steps=2, val_every=2, checkpoint_every=2, seed=3,
                scs_prob=0.5, mixup_prob=0.5, device="cpu", init="audio", teacher="audio")
    base.update(kw)
    return TrainConfig(**base)


def _upstream(kind: str):
    torch.manual_seed(0)
    if kind == "seldnet_av":
        return build_model("seldnet", {"preset": "small"}), "seldnet"
    return build_model("sed_sce", AUDIO), "sed_sce"


@pytest.mark.parametrize("kind", ["av_sed_sce_ons", "av_ts_sed_sce_ons", "seldnet_av"])
def test_every_track_b_kind_trains_and_tunes_its_onscreen_threshold(tmp_path, data, kind):
    train_set, val_set = data
    init = _upstream(kind)
    teacher = Teacher(*_upstream(kind)) if kind == "av_ts_sed_sce_ons" else None
    cfg = _cfg(kind, ts_weight=1.0, ts_hidden_weight=0.2) if teacher else _cfg(kind)
    summary = train(cfg, train_set, val_set, tmp_path / "m.pt", progress=False, log=lambda s: None,
                    init_model=init, teacher=teacher)
    model, meta = load_checkpoint(tmp_path / "m.pt", expect_kind=kind)
    assert meta["onscreen_threshold"] in ONSCREEN_GRID
    assert {"F", "DOAE", "RDE", "OSA", "step"} <= set(summary["best"])
    # the stored best is the validation score at the tuned threshold, on-screen flags included
    again = validate(model, kind, val_set, TrainConfig(**{**cfg.__dict__, "onscreen_threshold": meta["onscreen_threshold"]}),
                     torch.device("cpu"))
    assert again["F"] == pytest.approx(summary["best"]["F"], nan_ok=True)
    assert again["OSA"] == pytest.approx(summary["best"]["OSA"], nan_ok=True)


def test_init_and_teacher_are_required_exactly_where_the_kind_needs_them(tmp_path, data):
    train_set, val_set = data
    with pytest.raises(ValueError, match="needs init"):
        train(_cfg("av_sed_sce_ons"), train_set, val_set, tmp_path / "a.pt", progress=False, log=lambda s: None)
    with pytest.raises(ValueError, match="needs teacher"):
        train(_cfg("av_ts_sed_sce_ons"), train_set, val_set, tmp_path / "b.pt", progress=False, log=lambda s: None,
              init_model=_upstream("av_ts_sed_sce_ons"))
    with pytest.raises(ValueError, match="takes no teacher"):
        train(_cfg("av_sed_sce_ons"), train_set, val_set, tmp_path / "c.pt", progress=False, log=lambda s: None,
              init_model=_upstream("av_sed_sce_ons"), teacher=Teacher(*_upstream("av_sed_sce_ons")))
    with pytest.raises(ValueError, match="initialised from a sed_sce model, not a sed_doa one"):
        torch.manual_seed(0)
        train(_cfg("av_sed_sce_ons"), train_set, val_set, tmp_path / "d.pt", progress=False, log=lambda s: None,
              init_model=(build_model("sed_doa", AUDIO), "sed_doa"))


def test_distillation_changes_the_student_and_weight_zero_does_not(tmp_path, data):
    """Same seed, same batches: λ = 0 (and no hidden term) trains exactly the undistilled model."""
    train_set, val_set = data
    kw = dict(progress=False, log=lambda s: None)
    train(_cfg("av_sed_sce_ons", onscreen_threshold=0.5), train_set, val_set, tmp_path / "plain.pt",
          init_model=_upstream("av_sed_sce_ons"), **kw)
    for name, w in (("zero", 0.0), ("one", 1.0)):
        train(_cfg("av_ts_sed_sce_ons", ts_weight=w, onscreen_threshold=0.5), train_set, val_set, tmp_path / f"{name}.pt",
              init_model=_upstream("av_ts_sed_sce_ons"), teacher=Teacher(*_upstream("av_ts_sed_sce_ons")), **kw)
    plain, zero, one = (load_checkpoint(tmp_path / f"{n}.pt")[0].state_dict() for n in ("plain", "zero", "one"))
    assert all(torch.equal(plain[k], zero[k]) for k in plain)
    assert any(not torch.equal(plain[k], one[k]) for k in plain)
