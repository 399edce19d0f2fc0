"""Training loop for the Track A models: Adam, tri-stage learning rate, augmentation, validation with
the official metrics, best-checkpoint selection, interruption-safe resume.

The loop works on in-memory tensors when the training set fits (the embedded data does) and otherwise
on a ``DataLoader`` over the HDF5 feature store; either way batches come from a permutation drawn from
``(seed, epoch)`` so a resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn

from seldlib.atomic import atomic_path
from seldlib.constants import CLASS_NAMES
from seldlib.inference import predict_arrays
from seldlib.predictions import decode_system
from seldlib.labels import decode_adpit, decode_classwise
from seldlib.losses import build_loss
from seldlib.metadata import EventTable
from seldlib.models import build_model, count_parameters

CHECKPOINT_FORMAT = 1


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
    """Tri-stage schedule (models.md §1.6): linear warm-up from ``init_scale·peak``, hold at ``peak``,
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


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available")
    return torch.device(name)


# --------------------------------------------------------------------------- data


@dataclass
class TensorSet:
    """An in-memory split: ``features (N, 2, T, 64)`` plus label tensors keyed like ``ClipLabels``."""

    names: list[str]
    tensors: dict[str, Tensor]

    def __len__(self) -> int:
        return len(self.names)

    def batch(self, index: Tensor) -> dict[str, Tensor]:
        return {k: v[index] for k, v in self.tensors.items()}

    @staticmethod
    def concat(sets: list["TensorSet"]) -> "TensorSet":
        sets = [s for s in sets if len(s)]
        keys = set.intersection(*(set(s.tensors) for s in sets))
        return TensorSet(sum((s.names for s in sets), []), {k: torch.cat([s.tensors[k] for s in sets]) for k in sorted(keys)})


def _on_device(data: TensorSet, device: torch.device, log: Callable[[str], None]) -> TensorSet:
    """Keep the whole set on the GPU when it takes under half of the free memory, so batches are
    gathered there instead of being copied from the host every step (the data wait on a GPU)."""
    if device.type != "cuda":
        return data
    size = sum(t.numel() * t.element_size() for t in data.tensors.values())
    free, _ = torch.cuda.mem_get_info(device)
    if size > free // 2:
        log(f"training set ({size / 2**30:.1f} GiB) stays in host memory")
        return data
    return TensorSet(data.names, {k: v.to(device) for k, v in data.tensors.items()})


def reference_events(labels: dict[str, Tensor], index: int) -> EventTable:
    """Reference events of clip ``index`` rebuilt from its ADPIT target (keeps up to 3 same-class events)."""
    return decode_adpit(labels["adpit"][index].numpy())


# --------------------------------------------------------------------------- checkpoints


def save_checkpoint(path: Path, model: nn.Module, meta: dict[str, Any]) -> None:
    """Weights plus metadata (plain Python types only, so ``weights_only=True`` loading works)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _save_atomic(path, {"format": CHECKPOINT_FORMAT, "state_dict": state, "meta": meta})


def _save_atomic(path: Path, obj: Any) -> None:
    # Saving through a buffer keeps the archive's internal name fixed ("archive"); saving to the
    # temporary file name would embed that random name and break byte-identical outputs.
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load_checkpoint(path: str | Path, expect_kind: str | None = None, expect_features: dict[str, Any] | None = None
                    ) -> tuple[nn.Module, dict[str, Any]]:
    """Load a checkpoint written by :func:`save_checkpoint` and rebuild its model.

    Refuses (``ValueError`` with a clear message) a checkpoint of another model kind or feature setting.
    """
    from seldlib.errors import SeldInputError

    path = Path(path)
    if not path.is_file():
        raise SeldInputError(path, "checkpoint not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        raise SeldInputError(path, f"not a loadable checkpoint ({err.__class__.__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        raise SeldInputError(path, f"not a seldlib checkpoint of format {CHECKPOINT_FORMAT}")
    meta = blob["meta"]
    if expect_kind is not None and meta["kind"] != expect_kind:
        raise SeldInputError(path, f"is a {meta['kind']!r} checkpoint, expected {expect_kind!r}")
    if expect_features is not None and meta.get("features") != expect_features:
        raise SeldInputError(path, f"was trained with feature settings {meta.get('features')}, not {expect_features}")
    if list(meta.get("classes", [])) != list(CLASS_NAMES):
        raise SeldInputError(path, "was trained with a different class list")
    model = build_model(meta["kind"], meta["model"])
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, meta


# --------------------------------------------------------------------------- validation


def validate(model: nn.Module, kind: str, val: TensorSet, cfg: TrainConfig, device: torch.device) -> dict[str, Any]:
    """Official macro metrics (F(20°, 1), DOAE, RDE) of ``model`` on ``val``.

    A SED-SDE model predicts no direction; for model selection its events take the reference
    direction of their class-frame, so its score measures detection and distance only.
    """
    from seldlib.metrics import score

    outputs = predict_arrays(model, kind, val.tensors["features"], batch_size=cfg.batch_size, device=device)
    refs, preds = {}, {}
    for i, name in enumerate(val.names):
        refs[name] = reference_events(val.tensors, i)
        if kind == "sed_sde":
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
    logger: Callable[[str, dict[str, float], int], None] | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one model; write the best checkpoint (by validation F, ties → lower DOAE) to ``out_path``.

    ``resume_path`` holds the last saved training state; if it exists and was written by a run with the
    same config and data it is resumed, otherwise training starts clean (the decision is logged).
    ``logger(name, values, step)`` receives losses, learning rate and validation metrics.
    """
    from tqdm import tqdm

    from seldlib.augment import AugmentConfig, Augmenter, mixup_loss

    device = resolve_device(cfg.device)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.kind, cfg.model).to(device)
    loss_fn = build_loss(cfg.kind, cfg.loss_weights, reduction="none")
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    digest = cfg.digest({"data": data_digest, "features": feature_meta})
    augmenter = Augmenter(AugmentConfig(scs_prob=cfg.scs_prob, mixup_prob=cfg.mixup_prob, mixup_alpha=cfg.mixup_alpha), seed=cfg.seed)

    start_step, best, best_state = 0, None, None
    if resume_path is not None and resume_path.exists():
        try:
            state = torch.load(resume_path, map_location="cpu", weights_only=True)
            ok = state.get("digest") == digest
        except Exception:  # noqa: BLE001 - a damaged resume file only means we start clean
            state, ok = None, False
        if ok:
            model.load_state_dict(state["model"])
            optimiser.load_state_dict(state["optimiser"])
            torch.set_rng_state(state["torch_rng"])
            start_step, best = int(state["step"]), state["best"]
            best_state = state["best_state"]
            log(f"resuming {cfg.kind} from step {start_step} ({resume_path})")
        else:
            log(f"starting clean: {resume_path} belongs to another configuration or is unreadable")
    else:
        log(f"starting clean ({cfg.kind}, {count_parameters(model):,} parameters, device {device})")

    n = len(train_set)
    if n == 0:
        raise ValueError("the training set is empty")
    train_set = _on_device(train_set, device, log)
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
        if logger is not None:
            logger("train", {"loss": loss_value, "lr": lr, **{f"loss_{k}": v for k, v in parts.items() if k != "total"}}, done)
        bar.update(1)
        if time.perf_counter() - last_log > 0.5:
            bar.set_postfix(loss=f"{loss_value:.4f}", clips_per_s=f"{cfg.batch_size * bar.n / max(sum(timing.values()), 1e-9):.0f}")
            last_log = time.perf_counter()

        if done % cfg.val_every == 0 or done == cfg.steps:
            metrics = validate(model, cfg.kind, val_set, cfg, device)
            if logger is not None:
                logger("val", metrics, done)
            if _better(metrics, best):
                best = {**metrics, "step": done}
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if resume_path is not None and (done % cfg.checkpoint_every == 0) and done < cfg.steps:
            _save_atomic(resume_path, {"digest": digest, "step": done,
                                       "model": {k: v.cpu() for k, v in model.state_dict().items()},
                                       "optimiser": optimiser.state_dict(), "torch_rng": torch.get_rng_state(),
                                       "best": best, "best_state": best_state})
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


def load_tensor_set(h5_path: str | Path, standardizer: tuple[np.ndarray, np.ndarray] | None = None,
                    fields: tuple[str, ...] = ("sed", "doa", "dist", "sce", "onscreen", "adpit")) -> TensorSet:
    """Read a whole feature store into memory (features standardised with ``(mean, std)`` if given)."""
    import h5py

    with h5py.File(h5_path, "r") as h5:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in h5["names"][()]]
        tensors = {"features": torch.from_numpy(np.asarray(h5["features"][()], np.float32))}
        for f in fields:
            tensors[f] = torch.from_numpy(np.asarray(h5[f][()], np.float32))
    if standardizer is not None and len(names):
        mean, std = (torch.from_numpy(np.asarray(a, np.float32)) for a in standardizer)
        tensors["features"] = (tensors["features"] - mean.reshape(1, 2, 1, -1)) / std.reshape(1, 2, 1, -1)
    return TensorSet(names, tensors)
