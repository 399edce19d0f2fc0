"""Training loop for the Track A models: Adam, tri-stage learning rate, augmentation, validation with
the official metrics, best-checkpoint selection, interruption-safe resume, data-parallel processes.

Batches come from a permutation drawn from ``(seed, epoch)`` (:class:`Planner`), so
a resumed run sees exactly the batches an uninterrupted one would; the rows are held in memory or
streamed from the feature stores (:func:`seldlib.trainset.prepare`). Every ``checkpoint_every`` steps
the whole training state (weights, optimiser, RNG, best model so far and the history of every logger
call) is saved to the resume file; a rerun with the same config and data continues from it and first
replays the history into the logger, so its log equals an uninterrupted run's as well as its model.

Under ``torchrun`` (``docs/training.md``) each of ``nproc`` processes computes its equal share of every
global batch of ``batch_size`` clips through ``DistributedDataParallel`` (gradients averaged), so the
batch and learning rate mean what they mean for one process; with ``sync_bn`` batch-norm statistics
also cover the global batch. Rank 0 alone validates, logs and writes files.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn

from seldlib import distributed
from seldlib.augment import INPUT_KEYS, AugmentConfig, Augmenter, channel_swap, sample_beta
from seldlib.checkpoint import save_checkpoint, save_torch_atomic
from seldlib.constants import CLASS_NAMES
from seldlib.device import bf16_supported, resolve_device
from seldlib.distillation import Teacher, distillation_terms
from seldlib.ensemble import single_outputs
from seldlib.inference import model_inputs, predict_arrays
from seldlib.kinds import get_kind
from seldlib.losses import build_loss
from seldlib.models import build_model, count_parameters, initialise_from
from seldlib.metadata import format_metadata_csv
from seldlib.predictions import decode_system
from seldlib.silence import mute_silent_frames
from seldlib.trainset import StoreSet, TensorSet, batches, prepare

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
    nproc: int = 1  # data-parallel processes (torchrun's world size)
    sync_bn: bool = True  # batch-norm statistics over the global batch when nproc > 1
    # Track B (``av_models`` entries): the `models` entries whose checkpoints initialise the network and
    # teach it (the teacher is read only by kinds that need one), the distillation weights, and the
    # on-screen threshold (None: tuned on the validation set after training)
    init: str | None = None
    teacher: str | None = None
    ts_weight: float = 0.0
    ts_hidden_weight: float = 0.0
    onscreen_threshold: float | None = None

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


# --------------------------------------------------------------------------- the order of the rows


@dataclass(frozen=True)
class StepPlan:
    """What one process reads at one step and how it augments it (``b``: its share of the batch).

    ``rows`` ``(b,)`` int64 and ``swap`` ``(b,)`` bool: its items and their stereo channel swaps;
    ``mix_rows``/``mix_swap``: the mixup partner of each item and its swap (``None``: no mixup this
    step), ``lam`` the weight of the item itself.
    """

    rows: Tensor
    swap: Tensor
    mix_rows: Tensor | None = None
    mix_swap: Tensor | None = None
    lam: float = 1.0

    def reads(self) -> Tensor:
        """Rows to read: the items, then their partners."""
        return self.rows if self.mix_rows is None else torch.cat([self.rows, self.mix_rows])


class Planner:
    """The global batch of every step and this process's share of it.

    The batch is the slice ``pos`` of a permutation of the ``n`` rows drawn from ``(seed, epoch)``;
    its augmentation is drawn as :class:`seldlib.augment.Augmenter` draws it for the whole batch
    (swap mask, mixup gate, partner permutation, weight, from ``Augmenter.generator(step)``). Process
    ``rank`` of ``world`` takes the ``rank``-th of ``world`` equal contiguous slices, with the mixup
    partners of its items (which may belong to another slice), so that the processes together
    compute exactly the single-process batch.
    """

    def __init__(self, n: int, batch_size: int, seed: int, augmenter: Augmenter, rank: int = 0, world: int = 1):
        if n == 0:
            raise ValueError("the training set is empty")
        if world > 1 and (batch_size % world or n < batch_size):
            raise ValueError(f"a batch of {batch_size} cannot be shared equally by {world} processes"
                             + ("" if batch_size % world else f" from {n} clips"))
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.augmenter, self.rank, self.world = augmenter, rank, world
        self.steps_per_epoch = max(n // batch_size, 1)
        self._orders: dict[int, Tensor] = {}

    def _order(self, epoch: int) -> Tensor:
        if epoch not in self._orders:
            # keep the previous epoch's: a streaming loader runs ahead of the loop across the boundary
            self._orders = {e: o for e, o in self._orders.items() if e >= epoch - 1}
            self._orders[epoch] = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + epoch))
        return self._orders[epoch]

    def __call__(self, step: int) -> StepPlan:
        epoch, pos = divmod(step, self.steps_per_epoch)
        index = self._order(epoch)[pos * self.batch_size : (pos + 1) * self.batch_size]
        cfg, gen = self.augmenter.cfg, self.augmenter.generator(step)
        m = len(index)
        swap = torch.rand(m, generator=gen) < cfg.scs_prob
        share = slice(self.rank * m // self.world, (self.rank + 1) * m // self.world)
        if not float(torch.rand(1, generator=gen)) < cfg.mixup_prob:
            return StepPlan(index[share], swap[share])
        perm = torch.randperm(m, generator=gen)
        lam = sample_beta(gen, cfg.mixup_alpha)
        partners = perm[share]
        return StepPlan(index[share], swap[share], index[partners], swap[partners], lam)


def augment(rows: dict[str, Tensor], plan: StepPlan, swap_video: bool = True
            ) -> tuple[dict[str, Tensor], dict[str, Tensor] | None]:
    """The augmented share of the batch from the rows of ``plan.reads()``: the items (inputs mixed
    with their partners' as ``lam * x + (1 - lam) * x_partner``) and the partners' targets (``None``
    without mixup), value for value what :class:`seldlib.augment.Augmenter` gives these items of
    the whole batch (its ``targets[mix_perm]`` are the partners' targets)."""
    b = len(plan.rows)
    own = channel_swap({k: v[:b] for k, v in rows.items()}, plan.swap, swap_video=swap_video)
    if plan.mix_rows is None:
        return own, None
    partner = channel_swap({k: v[b:] for k, v in rows.items()}, plan.mix_swap, swap_video=swap_video)
    lam = plan.lam
    for key in INPUT_KEYS:
        if key in own:
            own[key] = lam * own[key] + (1.0 - lam) * partner[key]
    return own, {k: v for k, v in partner.items() if k not in INPUT_KEYS}


# --------------------------------------------------------------------------- validation


ONSCREEN_GRID = tuple(round(0.05 * i, 2) for i in range(2, 19))  # 0.10 … 0.90


def validate(model: nn.Module, kind: str, val: TensorSet, cfg: TrainConfig, device: torch.device,
             onscreen_thresholds: tuple[float, ...] | None = None, with_majority: bool = False) -> dict[str, Any]:
    """Official macro metrics (F(20°, 1), DOAE, RDE; for Track B F(20°, 1, on) and OSA) of ``model`` on ``val``, scored as the evaluate stage
    scores a system: events decoded by the same code, digital silence muted, written as DCASE CSV text
    and read back with the official loader's rules, against the clips' reference CSVs read the same
    way. On the same clips the numbers therefore equal the evaluate stage's.

    A kind without a direction head (SED-SDE) takes the reference direction of each class-frame for
    model selection, so its score measures detection and distance only (its DOAE is 0 by construction);
    at evaluation it borrows another model's direction instead.

    Args:
        val: a split loaded with ``references=True`` and the ``level_dbfs`` (and, for a kind without a
            direction head, ``doa``; for a Track B kind, ``video``) tensors.
        onscreen_thresholds: Track B: score once per on-screen threshold and return the list of
            results (one forward pass); otherwise the threshold is ``cfg.onscreen_threshold`` (0.5 if unset).
    """
    from seldlib.metrics import majority_osa, read_seld_text, score

    if len(val.references) != len(val):
        raise ValueError("validation needs the clips' reference CSVs (load_tensor_set(..., references=True))")
    spec = get_kind(kind)
    outputs = predict_arrays(model, kind, val.tensors["features"], batch_size=cfg.batch_size, device=device,
                             video=val.tensors.get("video"))
    outputs = mute_silent_frames(outputs, val.tensors["level_dbfs"].numpy())
    if not spec.has_direction:
        outputs = {**outputs, "doa": val.tensors["doa"].numpy()}
    else:
        outputs = single_outputs((kind, outputs))
    refs = {name: read_seld_text(val.references[i], f"{name}.csv (reference)") for i, name in enumerate(val.names)}
    onscreen = spec.track == "B"
    thresholds = onscreen_thresholds or (0.5 if cfg.onscreen_threshold is None else cfg.onscreen_threshold,)
    results = []
    for on_threshold in thresholds:
        preds = {}
        for i, name in enumerate(val.names):
            events = decode_system(outputs, i, cfg.threshold, cfg.default_distance_m, onscreen_threshold=on_threshold,
                                   onscreen_max_az=spec.onscreen_max_az)
            preds[name] = read_seld_text(format_metadata_csv(events.sorted()), f"{name}.csv (prediction)")
        s = score(refs, preds, onscreen=onscreen)
        results.append({"F": s.F, "DOAE": s.DOAE, "RDE": s.RDE, **({"OSA": s.OSA} if onscreen else {})})
        if onscreen and with_majority:
            results[-1]["OSA_majority"] = majority_osa(refs, preds)
    return results if onscreen_thresholds else results[0]


def tune_onscreen_threshold(model: nn.Module, kind: str, val: TensorSet, cfg: TrainConfig, device: torch.device,
                            grid: tuple[float, ...] = ONSCREEN_GRID) -> tuple[float, dict[str, Any]]:
    """The on-screen threshold of ``grid`` with the best validation F(20°, 1, on), ties → higher OSA,
    then the threshold nearest 0.5; returns it and its scores. Tuned on the validation split only,
    never on the scored one."""
    results = validate(model, kind, val, cfg, device, onscreen_thresholds=grid)

    def key(i: int) -> tuple[float, float, float]:
        r = results[i]
        f = r["F"] if r["F"] == r["F"] else -1.0
        osa = r["OSA"] if r["OSA"] == r["OSA"] else -1.0
        return (f, osa, -abs(grid[i] - 0.5))

    best = max(range(len(grid)), key=key)
    return grid[best], results[best]


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
    train_set: TensorSet | StoreSet,
    val_set: TensorSet | None,
    out_path: Path,
    resume_path: Path | None = None,
    feature_meta: dict[str, Any] | None = None,
    data_digest: str = "",
    logger: Logger | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
    loader: str = "auto",
    workers: int = 2,
    init_model: tuple[nn.Module, str] | None = None,
    teacher: Teacher | None = None,
) -> dict[str, Any]:
    """Train one model; write the best checkpoint (by validation F, ties → lower DOAE) to ``out_path``.

    ``resume_path`` holds the last saved training state; if it exists and was written by a run with the
    same config and data it is resumed, otherwise training starts clean (the decision is logged).
    ``logger(name, values, step)`` receives losses, learning rate and validation metrics; after a
    resume it first receives again every call made since step 0 (kept in the resume state), so a fresh
    logger (e.g. DVCLive) ends up with exactly the record of an uninterrupted run. ``loader`` and
    ``workers``: where the training rows live (:func:`seldlib.trainset.prepare`) and how many processes
    stream them; they do not change the result.

    Track B: ``init_model`` ``(network, kind)`` is the trained model (of the kind's ``init_kind``) whose
    weights initialise the network (``seldlib.models.initialise_from``); ``teacher`` the frozen model
    distilled into it (``seldlib.distillation``) for a kind that needs one. Without
    ``cfg.onscreen_threshold`` the on-screen threshold is tuned on ``val_set`` after training.

    In a process group of ``cfg.nproc`` processes (:func:`seldlib.distributed.start`) every process
    calls this; only rank 0 needs ``val_set``, and only it logs and writes ``out_path`` and the resume
    file, which every rank reads when resuming (a shared filesystem across nodes). Every rank returns
    rank 0's summary.
    """
    from tqdm import tqdm

    ctx = distributed.current()
    if ctx.world != cfg.nproc:
        raise ValueError(f"the configuration asks for {cfg.nproc} training processes, {ctx.world} are running")
    device = resolve_device(cfg.device, local_rank=ctx.local_rank if ctx.world > 1 else None)
    if not ctx.main:
        log, logger, progress = (lambda s: None), None, False
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    torch.manual_seed(cfg.seed)
    spec = get_kind(cfg.kind)
    for need, given in (("init", init_model), ("teacher", teacher)):
        if (need in spec.needs) != (given is not None):
            raise ValueError(f"a {cfg.kind} model {'needs' if need in spec.needs else 'takes no'} {need} model")
    net = build_model(cfg.kind, cfg.model)  # both look the kind up in seldlib.kinds
    if init_model is not None:
        mapped = initialise_from(net, cfg.kind, *init_model)
        log(f"initialised {len(mapped)} tensors of {cfg.kind} from the {init_model[1]} model {cfg.init!r}")
    net = net.to(device)
    if teacher is not None:
        teacher.to(device)
    if ctx.world > 1 and cfg.sync_bn:
        net = distributed.sync_batchnorm(net, device)
    if ctx.rank:  # the same initial weights, but each rank its own dropout
        torch.manual_seed(int(np.random.SeedSequence([cfg.seed, ctx.rank]).generate_state(1)[0]))
    loss_fn = build_loss(cfg.kind, cfg.loss_weights, reduction="none")
    optimiser = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    digest = cfg.digest({"data": data_digest, "features": feature_meta})
    augmenter = Augmenter(AugmentConfig(scs_prob=cfg.scs_prob, mixup_prob=cfg.mixup_prob, mixup_alpha=cfg.mixup_alpha), seed=cfg.seed)

    best, best_state = None, None
    history: list[tuple[str, dict[str, float], int]] = []  # every logger call, for the resume state
    state = None  # rank 0 decides whether to resume; the others follow
    if ctx.main and resume_path is not None and resume_path.exists():
        try:
            state = torch.load(resume_path, map_location="cpu", weights_only=True)
            ok = state.get("digest") == digest and "history" in state
        except Exception:  # noqa: BLE001 - a damaged resume file only means we start clean
            state, ok = None, False
        if not ok:
            state = None
            log(f"starting clean: {resume_path} belongs to another configuration or is unreadable")
    elif ctx.main:
        log(f"starting clean ({cfg.kind}, {count_parameters(net):,} parameters, device {device})")
    start_step = distributed.broadcast(0 if state is None else int(state["step"]))
    if start_step and not ctx.main:
        assert resume_path is not None
        state = torch.load(resume_path, map_location="cpu", weights_only=True)
        if int(state["step"]) != start_step:
            raise RuntimeError(f"rank {ctx.rank} reads step {state['step']} in {resume_path}, rank 0 step {start_step}")
    if state is not None:
        net.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        torch.set_rng_state(state["torch_rng"][ctx.rank])
        if device.type == "cuda" and state["cuda_rng"] is not None:
            torch.cuda.set_rng_state(state["cuda_rng"][ctx.rank], device)
        best, best_state, history = state["best"], state["best_state"], state["history"]
        log(f"resuming {cfg.kind} from step {start_step} ({resume_path})")
        if logger is not None:
            for split, values, at in history:
                logger(split, values, at)
    model = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None
                                                ) if ctx.world > 1 else net

    def record(split: str, values: dict[str, float], step: int) -> None:
        if ctx.main:
            history.append((split, values, step))
        if logger is not None:
            logger(split, values, step)

    planner = Planner(len(train_set), cfg.batch_size, cfg.seed, augmenter, ctx.rank, ctx.world)
    data = prepare(train_set, device, loader, ctx.local_world, log)
    stream = batches(data, (planner(s).reads() for s in range(start_step, cfg.steps)), cfg.steps - start_step,
                     device, workers)
    # bf16 autocast where the device has native bf16: a GPU, or a CPU with AVX512-BF16/AMX (about 1.8x
    # faster there for these models, benchmarks/bench_train.py --amp-compare); emulated elsewhere, so off.
    # Not for several CPU processes: SyncBatchNorm's CPU (gloo) path cannot gather bf16 statistics.
    use_amp = cfg.amp and bf16_supported(device) and (device.type == "cuda" or ctx.world == 1)
    timing = {"data": 0.0, "compute": 0.0}
    bar = tqdm(total=cfg.steps, initial=start_step, desc=f"train {cfg.kind}", disable=not progress, dynamic_ncols=True)
    last_log = time.perf_counter()
    try:
        for step in range(start_step, cfg.steps):
            t0 = time.perf_counter()
            plan = planner(step)
            batch, partner = augment(next(stream), plan)
            t1 = time.perf_counter()

            lr = tri_stage_lr(step, cfg.steps, cfg.lr, cfg.warmup_frac, cfg.hold_frac, cfg.init_lr_scale, cfg.final_lr_scale)
            for group in optimiser.param_groups:
                group["lr"] = lr
            model.train()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                pred = model(*model_inputs(spec, batch))
                # the teacher sees exactly the student's augmented audio
                soft = teacher(batch["features"]) if teacher is not None else None
            pred = {k: v.float() for k, v in pred.items()}
            targets = {k: v for k, v in batch.items() if k not in INPUT_KEYS}
            logged: dict[str, float] = {}

            def objective(p: dict[str, Tensor], t: dict[str, Tensor]) -> Tensor:
                per_sample, parts = loss_fn(p, t)
                logged.update({} if logged else parts)  # the unmixed targets' terms
                return per_sample.mean()

            if partner is None:
                loss = objective(pred, targets)
            else:  # seldlib.augment.mixup_loss, with the partners' targets read instead of permuted
                lam = torch.tensor(plan.lam, dtype=torch.float32, device=device)
                loss = lam * objective(pred, targets) + (1.0 - lam) * objective(pred, partner)
            if soft is not None:  # one distillation term on the (mixed) input: the teacher saw it too
                task = {k: getattr(loss_fn, f"w_{k}") for k in ("sed", "sce", "dir", "dist")}
                kd = distillation_terms(pred, soft, task, cfg.ts_weight, cfg.ts_hidden_weight)
                loss = loss + sum(w * t.mean() for w, t in kd.values())
                logged.update({name: float(t.detach().mean()) for name, (_, t) in kd.items()})
            parts = logged
            loss_value = float(loss.detach())
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_grad_norm:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
            optimiser.step()
            if ctx.world > 1:  # log the global batch's mean, as one process would
                loss_value, *means = distributed.all_mean([loss_value, *parts.values()])
                parts = dict(zip(parts, means))
            t2 = time.perf_counter()
            timing["data"] += t1 - t0
            timing["compute"] += t2 - t1

            done = step + 1
            record("train", {"loss": loss_value, "lr": lr, **{f"loss_{k}": v for k, v in parts.items() if k != "total"}}, done)
            bar.update(1)
            if time.perf_counter() - last_log > 0.5:
                bar.set_postfix(loss=f"{loss_value:.4f}", clips_per_s=f"{cfg.batch_size * bar.n / max(sum(timing.values()), 1e-9):.0f}")
                last_log = time.perf_counter()

            if ctx.main and (done % cfg.val_every == 0 or done == cfg.steps):
                if val_set is None:
                    raise ValueError("rank 0 validates: it needs the validation set")
                metrics = validate(net, cfg.kind, val_set, cfg, device)
                record("val", metrics, done)
                if _better(metrics, best):
                    best = {**metrics, "step": done}
                    best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            if resume_path is not None and (done % cfg.checkpoint_every == 0) and done < cfg.steps:
                rngs = distributed.gather(torch.get_rng_state())
                cuda_rngs = distributed.gather(torch.cuda.get_rng_state(device)) if device.type == "cuda" else None
                if ctx.main:
                    save_torch_atomic(resume_path, {"digest": digest, "step": done,
                                                    "model": {k: v.cpu() for k, v in net.state_dict().items()},
                                                    "optimiser": optimiser.state_dict(), "torch_rng": rngs,
                                                    "cuda_rng": cuda_rngs, "best": best, "best_state": best_state,
                                                    "history": history})
    finally:
        stream.close()  # stops the loader's worker processes
    bar.close()

    summary = None
    if ctx.main:
        assert best_state is not None and best is not None
        net.load_state_dict(best_state)
        onscreen_threshold = cfg.onscreen_threshold
        if spec.track == "B" and onscreen_threshold is None:
            assert val_set is not None
            onscreen_threshold, tuned = tune_onscreen_threshold(net, cfg.kind, val_set, cfg, device)
            best = {**best, **tuned}
            log(f"on-screen threshold {onscreen_threshold} (tuned on the validation set): "
                f"F(20°,1,on) {tuned['F']:.4f}, OSA {tuned['OSA']:.4f}")
        meta = {
            "kind": cfg.kind,
            "model": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.model.items()},
            "classes": list(CLASS_NAMES),
            "features": feature_meta or {},
            "best": {k: (None if isinstance(v, float) and v != v else v) for k, v in best.items()},
            "threshold": cfg.threshold,
            "default_distance_m": cfg.default_distance_m,
            "onscreen_threshold": 0.5 if onscreen_threshold is None else float(onscreen_threshold),
            "bf16": bool(use_amp),
        }
        save_checkpoint(out_path, net, meta)
        if resume_path is not None:
            resume_path.unlink(missing_ok=True)
        total = sum(timing.values())
        summary = {"best": meta["best"], "steps": cfg.steps - start_step,
                   "data_wait_share": timing["data"] / total if total else 0.0,
                   "clips_per_s": cfg.batch_size * (cfg.steps - start_step) / total if total else 0.0}
    return distributed.broadcast(summary)
