"""Stage: train one model of the ``models`` dict into ``models/<name>/`` (``model.pt``, DVCLive log in ``live/``).

    python -m stages.train --model sed_doa \
        --params models.sed_doa train.device train.amp train.val_every train.nproc train.sync_bn \
            features.audio.n_fft ... features.standardize \
        --knobs train.checkpoint_every train.loader train.workers

With ``train.nproc`` above 1 the stage starts itself again under ``torchrun`` (``python -m
torch.distributed.run --standalone --nproc-per-node N -m stages.train ...``), one process per GPU
(or CPU share), and waits for it; started by ``torchrun`` itself (several nodes, ``docs/training.md``)
it joins the launcher's process group, whose size must equal ``train.nproc``. Rank 0 alone validates,
writes the model, the DVCLive log and the resume state.

The best step is chosen on the validation set ``data/features/val.h5`` (``validation`` in params.yaml;
never the scored test split unless ``validation.source: test``).

Resuming: every ``train.checkpoint_every`` steps the training state, including the history of every
logged value, is saved to ``models/.resume/<name>.pt``, which is not a DVC output, so it survives a
kill (Ctrl-C, SIGKILL) and DVC's removal of the stage's outputs before a rerun. Rerunning
the stage (``dvc repro``) with the same parameters and data continues from that step and rewrites
the DVCLive log from the saved history, so ``models/<name>/`` is byte-identical to that of an
uninterrupted run; the resume file is deleted once the model is written. With other parameters or
data the stale state is ignored (the log says "starting clean").
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from seldlib import distributed
from seldlib.config import read_params
from seldlib.errors import SeldInputError
from seldlib.standardizer import Standardizer
from seldlib.train import TrainConfig, train
from seldlib.trainset import StoreSet, load_tensor_set
from stages._cli import run


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(str(p.stat().st_size).encode())
        h.update(str(p.stat().st_mtime_ns).encode())
    return h.hexdigest()[:16]


def _num(x: float | None) -> float:
    return float("nan") if x is None else float(x)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="key of the models dict in params.yaml")
    ap.add_argument("--params", nargs="+", required=True, help="dotted params keys DVC tracks for this stage")
    ap.add_argument("--knobs", nargs="*", default=[], help="untracked keys (cannot change results)")
    ap.add_argument("--features", default="data/features", type=Path)
    ap.add_argument("--out", default="models", type=Path)
    args = ap.parse_args(argv)

    from seldlib.models.paramcheck import MODEL_CHECK  # this stage builds the model: the model code judges its config

    p = read_params(args.params + args.knobs, model_check=MODEL_CHECK)
    entry = dict(p[f"models.{args.model}"])
    cfg = TrainConfig(device=p["train.device"], amp=p["train.amp"], val_every=p["train.val_every"],
                      checkpoint_every=p["train.checkpoint_every"], nproc=p["train.nproc"], sync_bn=p["train.sync_bn"],
                      **entry)
    if cfg.batch_size % cfg.nproc:
        raise SeldInputError("params.yaml", f"models.{args.model}.batch_size: a batch of {cfg.batch_size} clips cannot "
                                            f"be shared equally by train.nproc = {cfg.nproc} processes")
    std = Standardizer.load(args.features / "standardizer.npz") if p["features.standardize"] else None
    train_paths = [args.features / "train.h5", args.features / "synth.h5"]
    train_set = StoreSet(train_paths, std)  # checks the stores before any process starts
    if cfg.nproc > 1 and not distributed.launched():
        return distributed.run_torchrun(cfg.nproc, "stages.train", sys.argv[1:] if argv is None else argv)
    if distributed.launched() and int(os.environ["WORLD_SIZE"]) != cfg.nproc:
        raise SeldInputError("params.yaml", f"train.nproc is {cfg.nproc}, but the launcher started "
                                            f"{os.environ['WORLD_SIZE']} processes")
    feature_meta = {k.rsplit(".", 1)[1]: v for k, v in p.items() if k.startswith("features.audio.")}
    feature_meta["standardize"] = bool(p["features.standardize"])
    run_train = partial(train, cfg, train_set, resume_path=args.out / ".resume" / f"{args.model}.pt",
                        feature_meta=feature_meta, data_digest=_digest(train_paths), loader=p["train.loader"],
                        workers=p["train.workers"])
    ctx = distributed.start(cfg.device)
    try:
        if ctx.main:
            return _train_and_log(args, cfg, std, run_train)
        run_train(None, args.out / args.model / "model.pt")
        return 0
    finally:
        distributed.stop()


def _train_and_log(args: argparse.Namespace, cfg: TrainConfig, std: Standardizer | None,
                   run_train: Callable[..., dict]) -> int:
    """Rank 0's part (the only one for a single process): validation, DVCLive log, model, summary line."""
    from dvclive import Live

    from seldlib.kinds import get_kind
    from seldlib.report import plot_training_curves

    val_set = load_tensor_set(args.features / "val.h5", std, fields=("doa", "level_dbfs"), references=True)
    out_dir = args.out / args.model
    (args.out / ".resume").mkdir(parents=True, exist_ok=True)
    with Live(str(out_dir / "live"), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        def log(split: str, values: dict[str, float], step: int) -> None:
            live.step = step
            for k, v in values.items():
                if v == v:  # keep NaN out of the plot files
                    live.log_metric(f"{split}/{k}", float(v), timestamp=False)

        summary = run_train(val_set, out_dir / "model.pt", logger=log)
        live.summary = {"best": summary["best"]}
    # the curves as a PNG too: DVC's plots page needs a network connection to draw the TSVs
    plot_training_curves(out_dir / "live", out_dir / "curves.png", f"{args.model} ({cfg.kind})")
    best = summary["best"]
    spec = get_kind(cfg.kind)
    # A selection score, not the evaluated one: another split, references rebuilt from the targets,
    # and a kind without a direction head scored with the reference directions.
    how = " with reference directions (no direction head), so DOAE is 0 by construction" if not spec.has_direction else ""
    print(f"{args.model}: step {best['step']} selected on the validation set ({len(val_set)} clips){how}: "
          f"F {_num(best['F']):.4f}, DOAE {_num(best['DOAE']):.1f}°, RDE {_num(best['RDE']):.3f}. "
          f"Test-split scores: metrics/evaluate/{args.model}.json (evaluate stage). "
          f"{summary['clips_per_s']:.1f} clips/s, data wait {100 * summary['data_wait_share']:.1f} %")
    return 0


if __name__ == "__main__":
    run(main)
