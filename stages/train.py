"""Stage: train one model of the ``models`` (or ``av_models``) dict into ``models/<name>/`` (``model.pt``,
DVCLive log in ``live/``).

    python -m stages.train --model sed_doa \
        --params models.sed_doa train.device train.amp train.val_every train.nproc train.sync_bn \
            features.audio.n_fft ... features.standardize \
        --knobs train.checkpoint_every train.loader train.workers
    python -m stages.train --section av_models --model av_ts_sed_sce_ons --params av_models.av_ts_sed_sce_ons ...

Track A models train on ``data/features/{train,synth}.h5``. Track B models (``av_models``) train on the
clips with video only (``train.h5`` joined with ``video_train.h5``; the synthetic split has no video),
start from the checkpoint of their ``init`` entry and, if their kind is distilled, learn from the
frozen ``teacher`` entry; both checkpoints are checked for kind and feature settings before use.

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
from seldlib.featstore import video_store_attrs
from seldlib.kinds import KindSpec, get_kind
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


def _upstream(spec: KindSpec, cfg: TrainConfig, models: Path, feature_meta: dict) -> dict:
    """The trained models a Track B model starts from and learns from, checked for kind and features."""
    from seldlib.checkpoint import load_checkpoint
    from seldlib.distillation import Teacher

    out: dict = {}
    if "init" in spec.needs:
        if not cfg.init:
            raise SeldInputError("params.yaml", f"a {spec.label} model needs init: a models entry of kind {spec.init_kind}")
        net, meta = load_checkpoint(models / cfg.init / "model.pt", expect_kind=spec.init_kind, expect_features=feature_meta)
        out["init_model"] = (net, meta["kind"])
    if "teacher" in spec.needs:
        net, meta = load_checkpoint(models / str(cfg.teacher) / "model.pt", expect_kind=spec.teacher_kind,
                                    expect_features=feature_meta)
        out["teacher"] = Teacher(net, meta["kind"])
    return out




def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="key of the models (or --section) dict in params.yaml")
    ap.add_argument("--section", default="models", choices=("models", "av_models"))
    ap.add_argument("--params", nargs="+", required=True, help="dotted params keys DVC tracks for this stage")
    ap.add_argument("--knobs", nargs="*", default=[], help="untracked keys (cannot change results)")
    ap.add_argument("--features", default="data/features", type=Path)
    ap.add_argument("--out", default="models", type=Path)
    args = ap.parse_args(argv)

    from seldlib.models.paramcheck import MODEL_CHECK  # this stage builds the model: the model code judges its config

    p = read_params(args.params + args.knobs, model_check=MODEL_CHECK)
    entry = dict(p[f"{args.section}.{args.model}"])
    cfg = TrainConfig(device=p["train.device"], amp=p["train.amp"], val_every=p["train.val_every"],
                      checkpoint_every=p["train.checkpoint_every"], nproc=p["train.nproc"], sync_bn=p["train.sync_bn"],
                      **entry)
    if cfg.batch_size % cfg.nproc:
        raise SeldInputError("params.yaml", f"models.{args.model}.batch_size: a batch of {cfg.batch_size} clips cannot "
                                            f"be shared equally by train.nproc = {cfg.nproc} processes")
    spec = get_kind(cfg.kind)
    std = Standardizer.load(args.features / "standardizer.npz") if p["features.standardize"] else None
    if spec.track == "B":
        train_paths = [args.features / "train.h5"]
        train_set = StoreSet(train_paths, std, video=[args.features / "video_train.h5"])
        train_paths.append(args.features / "video_train.h5")
    else:
        train_paths = [args.features / "train.h5", args.features / "synth.h5"]
        train_set = StoreSet(train_paths, std)  # checks the stores before any process starts
    if cfg.nproc > 1 and not distributed.launched():
        return distributed.run_torchrun(cfg.nproc, "stages.train", sys.argv[1:] if argv is None else argv)
    if distributed.launched() and int(os.environ["WORLD_SIZE"]) != cfg.nproc:
        raise SeldInputError("params.yaml", f"train.nproc is {cfg.nproc}, but the launcher started "
                                            f"{os.environ['WORLD_SIZE']} processes")
    feature_meta = {k.rsplit(".", 1)[1]: v for k, v in p.items() if k.startswith("features.audio.")}
    feature_meta["standardize"] = bool(p["features.standardize"])
    upstream = _upstream(spec, cfg, args.out, feature_meta)
    if spec.track == "B":  # what `seld` must compute from a video: the video features' definition
        feature_meta = {**feature_meta, "video": video_store_attrs(args.features / "video_train.h5")}
    read = train_paths + [args.out / name / "model.pt" for name in {cfg.init, cfg.teacher} if name]
    run_train = partial(train, cfg, train_set, resume_path=args.out / ".resume" / f"{args.model}.pt",
                        feature_meta=feature_meta, data_digest=_digest(read), loader=p["train.loader"],
                        workers=p["train.workers"], **upstream)
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

    from seldlib.report import plot_training_curves

    spec = get_kind(cfg.kind)
    video = args.features / "video_val.h5" if spec.track == "B" else None
    val_set = load_tensor_set(args.features / "val.h5", std, fields=("doa", "level_dbfs"), references=True, video_h5=video)
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
    # A selection score, not the evaluated one: another split, references rebuilt from the targets,
    # and a kind without a direction head scored with the reference directions.
    how = " with reference directions (no direction head), so DOAE is 0 by construction" if not spec.has_direction else ""
    f_name, osa = ("F(20°,1,on)", f", OSA {_num(best['OSA']):.3f}") if spec.track == "B" else ("F", "")
    print(f"{args.model}: step {best['step']} selected on the validation set ({len(val_set)} clips){how}: "
          f"{f_name} {_num(best['F']):.4f}, DOAE {_num(best['DOAE']):.1f}°, RDE {_num(best['RDE']):.3f}{osa}. "
          f"Test-split scores: metrics/evaluate/{args.model}.json (evaluate stage). "
          f"{summary['clips_per_s']:.1f} clips/s, data wait {100 * summary['data_wait_share']:.1f} %")
    return 0


if __name__ == "__main__":
    run(main)
