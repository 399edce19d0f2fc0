"""Training loop for the Track A models: Adam, tri-stage learning rate, augmentation, validation with
the official metrics, best-checkpoint selection, interruption-safe resume.

The loop works on in-memory tensors (:mod:`seldlib.trainset`); batches come from a permutation drawn
from ``(seed, epoch)`` so a resumed run sees exactly the batches an uninterrupted one would. Every
``checkpoint_every`` steps the whole training state (weights, optimiser, RNG, best model so far and
the history of every logger call) is saved to the resume file; a rerun with the same config and data
continues from it and first replays the history into the logger, so its log equals an uninterrupted
run's as well as its model.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from seldlib.checkpoint import save_checkpoint, save_torch_atomic
from seldlib.constants import CLASS_NAMES
from seldlib.device import resolve_device
from seldlib.inference import predict_arrays
from seldlib.kinds import get_kind
from seldlib.labels import decode_classwise
from seldlib.losses import build_loss
from seldlib.models import build_model, count_parameters
from seldlib.predictions import decode_system
from seldlib.trainset import TensorSet, on_device, reference_events

Logger = Callable[[str, dict[str, float], int], None]


@dataclass
class TrainConfig:
    """Everything one training run reads (one ``models.<name>`` entry of ``params.yaml``)."""

    kind: str
    model: dict[str, Any] = field(default_factory=dict)
    loss_weights: dict[str, float] = field(default_factory=dict)
    lr: float = 1e-3
    batch_size: int = 32
    steps: int = 1000
    warmup_frac: float = 0.1
    hold_frac: float = 0.6
    init_lr_scale: float = 0.01
    final_lr_scale: float = 0.05
    clip_grad_norm: float | None = 1.0
    val_every: int = 100
    checkpoint_every: int = 100
    seed: int = 0
    scs_prob: float = 0.5
    mixup_prob: float = 0.5
    mixup_alpha: float = 0.5
    threshold: float = 0.5
    default_distance_m: float = 1.0
    device: str = "auto"
    amp: bool = True

    def digest(self, extra: dict[str, Any] | None = None) -> str:
        """Stable hash of the config (and of ``extra`` facts such as data hashes) for resume checks."""
        blob = json.dumps({"cfg": asdict(self), "extra": extra or {}}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def tri_stage_lr(step: int, total: int, peak: float, warmup_frac: float = 0.1, hold_frac: float = 0.6,
                 init_scale: float = 0.01, final_scale: float = 0.05) -> float:
    """Tri-stage schedule (Park et al., "SpecAugment", Interspeech 2019, §4; fairseq
    ``tri_stage_lr_scheduler.py``): linear warm-up from ``init_scale·peak``, hold at ``peak``,
    exponential decay to ``final_scale·peak`` over the remaining steps, then constant."""
    warm = int(round(warmup_frac * total))
    hold = int(round(hold_frac * total))
    decay = max(total - warm - hold, 0)
    init = init_scale * peak
    if step < warm:
        return init + (peak - init) * step / warm
    if step < warm + hold:
        return peak
    s = step - warm - hold
    if decay == 0 or s >= decay:
        return final_scale * peak
    return peak * math.exp(math.log(final_scale) * s / decay)


# --------------------------------------------------------------------------- validation


def validate(model: nn.Module, kind: str, val: TensorSet, cfg: TrainConfig, device: torch.device) -> dict[str, Any]:
    """Official macro metrics (F(20°, 1), DOAE, RDE) of ``model`` on ``val``.

    A kind without a direction head (SED-SDE) takes the reference direction of each class-frame for
    model selection, so its score measures detection and distance only (its DOAE is 0 by construction).
    References are rebuilt from the ADPIT targets, so the numbers are close to, not equal to, the
    evaluate stage's scores from the CSVs of the same clips.
    """
    from seldlib.metrics import score

    borrow = not get_kind(kind).has_direction

    outputs = predict_arrays(model, kind, val.tensors["features"], batch_size=cfg.batch_size, device=device)
    refs, preds = {}, {}
    for i, name in enumerate(val.names):
        refs[name] = reference_events(val.tensors, i)
        if borrow:
            preds[name] = decode_classwise(outputs["sed"][i], doa=val.tensors["doa"][i].numpy(), dist=outputs["dist"][i],
                                           threshold=cfg.threshold)
        else:
            preds[name] = decode_system(outputs, i, cfg.threshold, cfg.default_distance_m)
    s = score(refs, preds)
    return {"F": s.F, "DOAE": s.DOAE, "RDE": s.RDE}


def _better(new: dict[str, Any], best: dict[str, Any] | None) -> bool:
    if best is None:
        return True
    if new["F"] != best["F"]:
        return new["F"] > best["F"]
    nd = new["DOAE"] if new["DOAE"] == new["DOAE"] else math.inf
    bd = best["DOAE"] if best["DOAE"] == best["DOAE"] else math.inf
    return nd < bd


# --------------------------------------------------------------------------- training


def train(
    cfg: TrainConfig,
    train_set: TensorSet,
    val_set: TensorSet,
    out_path: Path,
    resume_path: Path | None = None,
    feature_meta: dict[str, Any] | None = None,
    data_digest: str = "",
    logger: Logger | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one model; write the best checkpoint (by validation F, ties → lower DOAE) to ``out_path``.

    ``resume_path`` holds the last saved training state; if it exists and was written by a run with the
    same config and data it is resumed, otherwise training starts clean (the decision is logged).
    ``logger(name, values, step)`` receives losses, learning rate and validation metrics; after a
    resume it first receives again every call made since step 0 (kept in the resume state), so a fresh
    logger (e.g. DVCLive) ends up with exactly the record of an uninterrupted run.
    """
    from tqdm import tqdm

    from seldlib.augment import AugmentConfig, Augmenter, mixup_loss

    device = resolve_device(cfg.device)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.kind, cfg.model).to(device)  # both look the kind up in seldlib.kinds
    loss_fn = build_loss(cfg.kind, cfg.loss_weights, reduction="none")
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    digest = cfg.digest({"data": data_digest, "features": feature_meta})
    augmenter = Augmenter(AugmentConfig(scs_prob=cfg.scs_prob, mixup_prob=cfg.mixup_prob, mixup_alpha=cfg.mixup_alpha), seed=cfg.seed)

    start_step, best, best_state = 0, None, None
    history: list[tuple[str, dict[str, float], int]] = []  # every logger call, for the resume state
    if resume_path is not None and resume_path.exists():
        try:
            state = torch.load(resume_path, map_location="cpu", weights_only=True)
            ok = state.get("digest") == digest and "history" in state
        except Exception:  # noqa: BLE001 - a damaged resume file only means we start clean
            state, ok = None, False
        if ok:
            model.load_state_dict(state["model"])
            optimiser.load_state_dict(state["optimiser"])
            torch.set_rng_state(state["torch_rng"])
            start_step, best = int(state["step"]), state["best"]
            best_state, history = state["best_state"], state["history"]
            log(f"resuming {cfg.kind} from step {start_step} ({resume_path})")
            if logger is not None:
                for split, values, at in history:
                    logger(split, values, at)
        else:
            log(f"starting clean: {resume_path} belongs to another configuration or is unreadable")
    else:
        log(f"starting clean ({cfg.kind}, {count_parameters(model):,} parameters, device {device})")

    def record(split: str, values: dict[str, float], step: int) -> None:
        history.append((split, values, step))
        if logger is not None:
            logger(split, values, step)

    n = len(train_set)
    if n == 0:
        raise ValueError("the training set is empty")
    train_set = on_device(train_set, device, log)
    steps_per_epoch = max(n // cfg.batch_size, 1)
    use_amp = cfg.amp and device.type == "cuda"
    timing = {"data": 0.0, "compute": 0.0}
    bar = tqdm(total=cfg.steps, initial=start_step, desc=f"train {cfg.kind}", disable=not progress, dynamic_ncols=True)
    last_log = time.perf_counter()
    for step in range(start_step, cfg.steps):
        t0 = time.perf_counter()
        epoch, pos = divmod(step, steps_per_epoch)
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
        perm = torch.randperm(n, generator=gen)
        index = perm[pos * cfg.batch_size : (pos + 1) * cfg.batch_size]
        batch = augmenter(train_set.batch(index), step)
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        t1 = time.perf_counter()

        lr = tri_stage_lr(step, cfg.steps, cfg.lr, cfg.warmup_frac, cfg.hold_frac, cfg.init_lr_scale, cfg.final_lr_scale)
        for group in optimiser.param_groups:
            group["lr"] = lr
        model.train()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            pred = model(batch["features"])
        pred = {k: v.float() for k, v in pred.items()}
        targets = {k: v for k, v in batch.items() if k not in ("features", "mix_perm", "mix_lam")}
        logged: dict[str, float] = {}

        def objective(p: dict[str, Tensor], t: dict[str, Tensor]) -> Tensor:
            per_sample, parts = loss_fn(p, t)
            logged.update({} if logged else parts)  # the unmixed targets' terms
            return per_sample.mean()

        loss = mixup_loss(objective, pred, targets, batch.get("mix_perm"), batch.get("mix_lam"))
        parts = logged
        loss_value = float(loss.detach())
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip_grad_norm:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
        optimiser.step()
        t2 = time.perf_counter()
        timing["data"] += t1 - t0
        timing["compute"] += t2 - t1

        done = step + 1
        record("train", {"loss": loss_value, "lr": lr, **{f"loss_{k}": v for k, v in parts.items() if k != "total"}}, done)
        bar.update(1)
        if time.perf_counter() - last_log > 0.5:
            bar.set_postfix(loss=f"{loss_value:.4f}", clips_per_s=f"{cfg.batch_size * bar.n / max(sum(timing.values()), 1e-9):.0f}")
            last_log = time.perf_counter()

        if done % cfg.val_every == 0 or done == cfg.steps:
            metrics = validate(model, cfg.kind, val_set, cfg, device)
            record("val", metrics, done)
            if _better(metrics, best):
                best = {**metrics, "step": done}
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if resume_path is not None and (done % cfg.checkpoint_every == 0) and done < cfg.steps:
            save_torch_atomic(resume_path, {"digest": digest, "step": done,
                                            "model": {k: v.cpu() for k, v in model.state_dict().items()},
                                            "optimiser": optimiser.state_dict(), "torch_rng": torch.get_rng_state(),
                                            "best": best, "best_state": best_state, "history": history})
    bar.close()

    assert best_state is not None and best is not None
    model.load_state_dict(best_state)
    meta = {
        "kind": cfg.kind,
        "model": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.model.items()},
        "classes": list(CLASS_NAMES),
        "features": feature_meta or {},
        "best": {k: (None if isinstance(v, float) and v != v else v) for k, v in best.items()},
        "threshold": cfg.threshold,
        "default_distance_m": cfg.default_distance_m,
    }
    save_checkpoint(out_path, model, meta)
    if resume_path is not None:
        resume_path.unlink(missing_ok=True)
    total = sum(timing.values())
    return {"best": meta["best"], "steps": cfg.steps - start_step, "data_wait_share": timing["data"] / total if total else 0.0,
            "clips_per_s": cfg.batch_size * (cfg.steps - start_step) / total if total else 0.0}

