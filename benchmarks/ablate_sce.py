"""Why SED-SCE trails SED-DOA on the embedded data, measured: a diagnosis of the trained model and an
ablation of the SED-SCE loss (``docs/networks.md``, SED-SCE loss).

Diagnosis (``--diagnose``, seconds): on the reference-active class-frames of val and test, the angular
error of ``models/sed_sce`` against that of ``models/sed_doa`` by reference distance and by the length
of the predicted vector, and how the SCE loss splits into its radial (distance) and tangential
(direction) parts; then the gradient each loss term sends into the shared layers at initialisation.

Ablation: every variant is the ``models.sed_sce`` entry of ``params.yaml`` with some loss weights or
model fields replaced, trained in-process exactly as ``stages/train.py`` trains it (train + synth
stores, the best step selected on ``val.h5``), then scored on val and on test by
``seldlib.train.validate``, which decodes and scores as the evaluate stage does (same numbers as
``metrics/evaluate/*.json`` for the same model). Choose on the val columns; test is reported only.
The ``sed_doa`` row scores ``models/sed_doa/model.pt`` the same way (no training). One variant costs
3-20 min on a shared 2-core CPU. The ``rel`` variant's term (position error over the reference
distance) is not part of ``seldlib.losses``: it is defined here and handed to the loop in place of
``build_loss``.

    python benchmarks/ablate_sce.py --diagnose
    python benchmarks/ablate_sce.py [--variants base w2 rel dir3 dir1 dir1dist1 ...] [--out /tmp/ablate_sce]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import Tensor

import seldlib.train as train_mod
from bench_repro import cpu_model  # the benchmarks' one lscpu reader
from seldlib.checkpoint import load_checkpoint
from seldlib.inference import predict_arrays
from seldlib.losses import SedSceLoss, build_loss, masked_mse_per_sample
from seldlib.models import build_model
from seldlib.standardizer import Standardizer
from seldlib.trainset import StoreSet, TensorSet, load_tensor_set

# The entry before the fix: the small model of 2 Conformer blocks and the MVANet MSE in metres. Every
# variant replaces some of its weights or model fields; the other fields (lr, steps, seed, augmentation)
# are those of params.yaml's ``models.sed_sce`` entry.
BASE_WEIGHTS = {"sed": 1.0, "sce": 0.5}
BASE_MODEL: dict[str, Any] = {"preset": "small", "resnet_channels": [8, 16, 24, 32]}
FIX = {"sce": 0.0, "dir": 1.0, "dist": 1.0}

# name -> (what it tests, loss-weight overrides, model overrides, other entry fields)
VARIANTS: dict[str, tuple[str, dict[str, float], dict[str, Any], dict[str, Any]]] = {
    "base": ("before the fix: MVANet MSE, w_sce 0.5", {}, {}, {}),
    "w2": ("SCE weight 2.0 (the paper's 1:2)", {"sce": 2.0}, {}, {}),
    "rel": ("MSE of (s'-s)/d, relative position error", {"sce": 0.0, "rel": 1.0}, {}, {}),
    "dir3": ("MSE + unit-direction term w 3", {"dir": 3.0}, {}, {}),
    "dir1": ("MSE + unit-direction term w 1", {"dir": 1.0}, {}, {}),
    "dir1dist1": ("direction w 1 + MSPE(norm) w 1, no MSE", FIX, {}, {}),
    "dir2dist1": ("direction w 2 + MSPE(norm) w 1", {**FIX, "dir": 2.0}, {}, {}),
    "dir05dist1": ("direction w 0.5 + MSPE(norm) w 1", {**FIX, "dir": 0.5}, {}, {}),
    "dir1dist05": ("direction w 1 + MSPE(norm) w 0.5", {**FIX, "dist": 0.5}, {}, {}),
    "sce01dir1dist1": ("dir1dist1 + MSE w 0.1", {**FIX, "sce": 0.1}, {}, {}),
    "base_nb4": ("base, 4 Conformer blocks", {}, {"n_blocks": 4}, {}),
    "dir1dist1_nb4": ("dir1dist1, 4 Conformer blocks", FIX, {"n_blocks": 4}, {}),
    "dir2dist1_nb4": ("dir2dist1, 4 Conformer blocks", {**FIX, "dir": 2.0}, {"n_blocks": 4}, {}),
    "dir3dist1_nb4": ("direction w 3 + MSPE w 1, 4 blocks", {**FIX, "dir": 3.0}, {"n_blocks": 4}, {}),
    "dir1dist1_nb4_lr1": ("dir1dist1, 4 blocks, lr 0.001", FIX, {"n_blocks": 4}, {"lr": 0.001}),
    "dir2dist1_nb4_lr1": ("dir2dist1, 4 blocks, lr 0.001", {**FIX, "dir": 2.0}, {"n_blocks": 4}, {"lr": 0.001}),
    "dir3dist1_nb4_lr1": ("dir3dist1, 4 blocks, lr 0.001", {**FIX, "dir": 3.0}, {"n_blocks": 4}, {"lr": 0.001}),
}


class _RelativeSceLoss(SedSceLoss):
    """SED-SCE loss plus ``w_rel·MSE((ŝ − s)/d)``: the rejected relative-error variant (ablation only)."""

    def __init__(self, w_rel: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.w_rel = float(w_rel)

    def terms(self, pred: dict[str, Tensor], target: dict[str, Tensor]) -> dict[str, tuple[float, Tensor]]:
        d = torch.linalg.vector_norm(target["sce"], dim=-1, keepdim=True) + 1e-8
        rel = masked_mse_per_sample(pred["sce"] / d, target["sce"] / d, target["sed"])
        return {**super().terms(pred, target), "rel": (self.w_rel, rel)}


@contextlib.contextmanager
def _loss_override(weights: dict[str, float]) -> Iterator[None]:
    """Train with :class:`_RelativeSceLoss` when the variant weighs ``rel``, else with the real ``build_loss``."""
    if "rel" not in weights:
        yield
        return
    original = train_mod.build_loss
    train_mod.build_loss = lambda kind, w, reduction="mean": _RelativeSceLoss(
        reduction=reduction, **{f"w_{k}": float(v) for k, v in weights.items()})
    try:
        yield
    finally:
        train_mod.build_loss = original


def _angle_error_deg(vec: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Azimuth error in degrees between ``(..., 2)`` vectors of any length."""
    d = np.arctan2(vec[..., 1], vec[..., 0]) - np.arctan2(ref[..., 1], ref[..., 0])
    return np.rad2deg(np.abs(np.angle(np.exp(1j * d))))


def diagnose(features: Path, std: Standardizer | None, models: Path) -> None:
    """Where the trained SED-SCE model's direction error comes from (reference-active class-frames)."""
    nets = {m: load_checkpoint(models / m / "model.pt")[0] for m in ("sed_doa", "sed_sce")}
    for split in ("val", "test"):
        ts = load_tensor_set(features / f"{split}.h5", std, fields=("sed", "doa", "sce"))
        act = ts.tensors["sed"].numpy() > 0.5
        ref = ts.tensors["sce"].numpy()
        dref = np.linalg.norm(ref, axis=-1)
        doa = predict_arrays(nets["sed_doa"], "sed_doa", ts.tensors["features"])["doa"]
        sce = predict_arrays(nets["sed_sce"], "sed_sce", ts.tensors["features"])["sce"]
        e_doa, e_sce = _angle_error_deg(doa, ref), _angle_error_deg(sce, ref)
        norm = np.linalg.norm(sce, axis=-1)
        print(f"\n{split}: {act.sum()} active class-frames, reference distance {dref[act].mean():.2f} m on average, "
              f"SED-SCE predicted norm {norm[act].mean():.2f} m")
        print(f"  {'ref distance':14s} {'frames':>6s} {'SED-DOA err':>11s} {'SED-SCE err':>11s} {'|s_hat|':>7s}")
        for lo, hi in ((0.0, 1.0), (1.0, 1.6), (1.6, 2.5), (2.5, 3.5), (3.5, 7.0)):
            m = act & (dref >= lo) & (dref < hi)
            print(f"  [{lo:.1f}, {hi:.1f}) m   {m.sum():6d} {e_doa[m].mean():10.1f}° {e_sce[m].mean():10.1f}° "
                  f"{norm[m].mean():6.2f}")
        print(f"  {'|s_hat|':14s} {'frames':>6s} {'SED-SCE err':>11s}")
        for lo, hi in ((0.0, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 99.0)):
            m = act & (norm >= lo) & (norm < hi)
            if m.any():
                print(f"  [{lo:.1f}, {hi:.1f}) m   {m.sum():6d} {e_sce[m].mean():10.1f}°")
        err = (sce - ref)[act]
        unit = ref[act] / dref[act][:, None]
        radial = (err * unit).sum(-1)
        tangential = err[:, 1] * unit[:, 0] - err[:, 0] * unit[:, 1]
        far, sq = dref[act] >= 2.5, radial**2 + tangential**2
        print(f"  SCE squared error: radial (distance) {np.mean(radial**2):.2f} m², tangential (direction) "
              f"{np.mean(tangential**2):.2f} m², direction share {np.mean(tangential**2) / np.mean(sq):.2f}; "
              f"frames >= 2.5 m: {far.mean():.2f} of the frames, {sq[far].sum() / sq.sum():.2f} of the loss")


def trunk_gradients(features: Path, std: Standardizer | None, params: dict) -> None:
    """Gradient norm of each unweighted loss term on the shared layers (all but the heads) of a freshly
    initialised model, on the first 32 training clips: how hard each term pulls on what SED also uses."""
    ts = load_tensor_set(features / "train.h5", std, fields=("sed", "doa", "sce"))
    batch = {k: v[:32] for k, v in ts.tensors.items()}
    print("\ntrunk gradient norm per unweighted term at initialisation (first 32 training clips):")
    setups = {"sed_doa": (params["models"]["sed_doa"]["model"], params["models"]["sed_doa"]["loss_weights"]),
              "sed_sce": (BASE_MODEL, BASE_WEIGHTS)}  # every SCE term is computed, weighed or not
    for kind, (model, weights) in setups.items():
        torch.manual_seed(params["models"][kind]["seed"])
        net = build_model(kind, model).train()
        shared = [p for n, p in net.named_parameters() if "_head." not in n]
        terms = build_loss(kind, weights).terms(net(batch["features"]), batch)
        norms = []
        for name, (w, value) in terms.items():
            grads = torch.autograd.grad(value.mean(), shared, retain_graph=True)
            norms.append(f"{name} {float(torch.sqrt(sum((g**2).sum() for g in grads))):.3f} (weight {w:g})")
        print(f"  {kind}: " + ", ".join(norms))


def score(net: torch.nn.Module, kind: str, cfg: train_mod.TrainConfig, sets: dict[str, TensorSet]) -> dict[str, dict]:
    device = torch.device("cpu")
    return {split: train_mod.validate(net, kind, ts, cfg, device) for split, ts in sets.items()}


def run_variant(name: str, params: dict, train_set: StoreSet, sets: dict[str, TensorSet], out: Path) -> dict[str, Any]:
    """Train one variant as ``stages/train.py`` does (CPU), then score its selected model on val and test."""
    _, weights, model, fields = VARIANTS[name]
    entry = {**params["models"]["sed_sce"], **fields}
    entry["model"] = {**BASE_MODEL, **model}
    entry["loss_weights"] = {**BASE_WEIGHTS, **weights}
    tr = params["train"]
    cfg = train_mod.TrainConfig(device="cpu", amp=tr["amp"], val_every=tr["val_every"], checkpoint_every=50,
                                nproc=1, sync_bn=tr["sync_bn"], **entry)
    t0 = time.perf_counter()
    with _loss_override(entry["loss_weights"]):
        # a killed run continues from its last resume state (the same model as an uninterrupted run)
        history: list[tuple[int, dict]] = []  # the validation scores of every val_every steps
        summary = train_mod.train(cfg, train_set, sets["val"], out / f"{name}.pt", progress=False,
                                  resume_path=out / f"{name}.resume.pt",
                                  logger=lambda split, v, step: history.append((step, v)) if split == "val" else None)
    wall = time.perf_counter() - t0
    net, _ = load_checkpoint(out / f"{name}.pt")
    return {"variant": name, "loss_weights": entry["loss_weights"], "model": entry["model"],
            "best_step": summary["best"]["step"], **score(net, "sed_sce", cfg, sets), "wall_s": wall,
            "val_history": history, "fields": fields}


def _row(r: dict[str, Any]) -> str:
    cells = [f"{r[s]['F']:.3f} | {r[s]['DOAE']:.1f} | {r[s]['RDE']:.3f}" for s in ("val", "test")]
    wall = f"{r['wall_s'] / 60:.1f}" if r.get("wall_s") is not None else "-"
    return f"| {r['variant']} | {r['what']} | {r.get('best_step', '-')} | {cells[0]} | {cells[1]} | {wall} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--diagnose", action="store_true", help="only the diagnosis of models/sed_sce")
    ap.add_argument("--features", default=Path("data/features"), type=Path)
    ap.add_argument("--models", default=Path("models"), type=Path)
    ap.add_argument("--out", default=Path("/tmp/ablate_sce"), type=Path, help="checkpoints and results.jsonl")
    args = ap.parse_args()
    params = yaml.safe_load(Path("params.yaml").read_text())
    std = Standardizer.load(args.features / "standardizer.npz") if params["features"]["standardize"] else None
    print(f"CPU: {cpu_model()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.diagnose:
        diagnose(args.features, std, args.models)
        trunk_gradients(args.features, std, params)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    sets = {s: load_tensor_set(args.features / f"{s}.h5", std, fields=("doa", "level_dbfs"), references=True)
            for s in ("val", "test")}
    rows = []
    net, meta = load_checkpoint(args.models / "sed_doa" / "model.pt")
    rows.append({"variant": "sed_doa", "what": "models/sed_doa (reference, not retrained)",
                 **score(net, "sed_doa", train_mod.TrainConfig(kind="sed_doa", threshold=meta["threshold"]), sets)})
    train_set = StoreSet([args.features / "train.h5", args.features / "synth.h5"], std)
    for name in args.variants:
        result = run_variant(name, params, train_set, sets, args.out)
        with (args.out / "results.jsonl").open("a") as f:
            f.write(json.dumps(result) + "\n")
        rows.append({**result, "what": VARIANTS[name][0]})
        print(_row(rows[-1]), flush=True)
    print("\n| variant | what | step | val F | val DOAE | val RDE | test F | test DOAE | test RDE | train min |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(_row(r))


if __name__ == "__main__":
    main()
