"""Train and score Track B entries in-process, exactly as the ``train_av`` and evaluate stages do.

Shared by ``bench_distillation.py`` and ``ablate_av.py``. :class:`AvRunner` reads ``params.yaml`` and the
pipeline's feature stores and checkpoints once (run ``dvc repro`` up to ``train@sed_sce``,
``train@seldnet`` and ``features_video@test`` first); :meth:`AvRunner.run` trains one ``av_models`` entry
with some fields replaced (same data, initialisation, teacher, validation split and on-screen threshold
tuning as the stage) and scores it on the validation split and on the test split with
``seldlib.train.validate`` (decoded, written and read back as DCASE CSVs: the evaluate stage's numbers
for the same model), with the majority-label OSA next to each OSA.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from seldlib.checkpoint import load_checkpoint
from seldlib.config import read_params
from seldlib.distillation import Teacher
from seldlib.featstore import video_store_attrs
from seldlib.kinds import get_kind
from seldlib.models.paramcheck import MODEL_CHECK
from seldlib.standardizer import Standardizer
from seldlib.train import TrainConfig, train, validate
from seldlib.trainset import StoreSet, load_tensor_set

from bench_repro import cpu_model  # the benchmarks' one lscpu reader

FEATURES = Path("data/features")
MODELS = Path("models")
AV_ENTRIES = ("av_sed_sce_ons", "av_ts_sed_sce_ons", "seldnet_av")


def cpu_name() -> str:
    """``lscpu``'s model name, the core count and the torch thread count."""
    return f"{cpu_model()}, {torch.get_num_threads()} threads"


class AvRunner:
    """The stores, params and upstream checkpoints that every run shares."""

    def __init__(self) -> None:
        keys = [*(f"av_models.{e}" for e in AV_ENTRIES), "train.val_every", "features.standardize",
                *(f"features.audio.{k}" for k in ("n_fft", "hop", "win", "n_mels", "fmin", "fmax", "top_db"))]
        self.params = read_params(keys, model_check=MODEL_CHECK)
        p = self.params
        std = Standardizer.load(FEATURES / "standardizer.npz") if p["features.standardize"] else None
        self.train_set = StoreSet([FEATURES / "train.h5"], std, video=[FEATURES / "video_train.h5"])
        self.sets = {split: load_tensor_set(FEATURES / f"{split}.h5", std, fields=("doa", "level_dbfs"),
                                            references=True, video_h5=FEATURES / f"video_{split}.h5")
                     for split in ("val", "test")}
        self.features = {k.rsplit(".", 1)[1]: v for k, v in p.items() if k.startswith("features.audio.")}
        self.features["standardize"] = bool(p["features.standardize"])
        self.meta_features = {**self.features, "video": video_store_attrs(FEATURES / "video_train.h5")}

    def entry(self, name: str) -> dict[str, Any]:
        """A copy of ``av_models.<name>`` of params.yaml."""
        return dict(self.params[f"av_models.{name}"])

    def run(self, name: str, **fields: Any) -> dict[str, Any]:
        """Train ``av_models.<name>`` with ``fields`` replaced (``model`` and ``loss_weights`` are merged
        into the entry's dicts) and score it; returns the fields, the tuned on-screen threshold, the best
        step, the wall time and ``val``/``test`` score dicts (F, DOAE, RDE, OSA, OSA_majority)."""
        base = self.entry(name)
        for merged in ("model", "loss_weights"):
            if merged in fields:
                fields = {**fields, merged: {**base.get(merged, {}), **fields[merged]}}
        cfg = TrainConfig(**{**base, **fields, "val_every": self.params["train.val_every"], "device": "cpu"})
        spec = get_kind(cfg.kind)
        init, init_meta = load_checkpoint(MODELS / str(cfg.init) / "model.pt", expect_kind=spec.init_kind,
                                          expect_features=self.features)
        upstream: dict[str, Any] = {"init_model": (init, init_meta["kind"])}
        if "teacher" in spec.needs:
            net, meta = load_checkpoint(MODELS / str(cfg.teacher) / "model.pt", expect_kind=spec.teacher_kind,
                                        expect_features=self.features)
            upstream["teacher"] = Teacher(net, meta["kind"])
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            summary = train(cfg, self.train_set, self.sets["val"], Path(tmp) / "model.pt",
                            feature_meta=self.meta_features, progress=False, log=lambda s: None, **upstream)
            model, meta = load_checkpoint(Path(tmp) / "model.pt")
        wall = time.perf_counter() - t0
        tuned = replace(cfg, onscreen_threshold=meta["onscreen_threshold"])
        scores = {split: validate(model, cfg.kind, s, tuned, torch.device("cpu"), with_majority=True)
                  for split, s in self.sets.items()}
        return {"entry": name, "fields": fields, "seed": cfg.seed,
                "ts_weight": cfg.ts_weight if "teacher" in spec.needs else None,
                "onscreen_threshold": meta["onscreen_threshold"], "best_step": summary["best"]["step"],
                "wall_s": wall, **scores}


def format_scores(s: dict[str, float]) -> str:
    """``F DOAE RDE OSA (majority)`` of one split."""
    return (f"{s['F']:6.3f} {s['DOAE']:6.2f}° {s['RDE']:6.3f} {s['OSA']:6.3f} ({s['OSA_majority']:.3f})")
