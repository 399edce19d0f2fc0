"""Does distillation help? The distilled student against the undistilled one over several seeds, and λ.

Trains ``av_models.av_sed_sce_ons`` and ``av_models.av_ts_sed_sce_ons`` of ``params.yaml`` exactly as the
``train_av`` stage does (same data, initialisation, teacher, validation and on-screen threshold tuning),
once per seed, and the distilled one once per extra ``--ts-weights`` value, then scores every model on the
test split as the evaluate stage does (``seldlib.train.validate`` on the test store: decoded, written and
read back as DCASE CSVs, F(20°,1,on), DOAE, RDE, OSA). Needs the pipeline's outputs up to
``train@sed_sce`` and ``features_video@test`` (run ``dvc repro`` first). Prints each run, then mean and
sample standard deviation per system, and the CPU.

    python benchmarks/bench_distillation.py --seeds 22334 1 2 --ts-weights 0.3 3.0 [--out runs.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

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

FEATURES = Path("data/features")
MODELS = Path("models")


def _cpu() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    name = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "?")
    return f"{name}, {torch.get_num_threads()} threads"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", nargs="+", type=int, required=True)
    ap.add_argument("--ts-weights", nargs="*", type=float, default=[], help="extra λ values (first seed only)")
    ap.add_argument("--out", type=Path, help="JSON file of every run")
    args = ap.parse_args()

    keys = ["av_models.av_sed_sce_ons", "av_models.av_ts_sed_sce_ons", "train.val_every", "features.standardize",
            *(f"features.audio.{k}" for k in ("n_fft", "hop", "win", "n_mels", "fmin", "fmax", "top_db"))]
    p = read_params(keys, model_check=MODEL_CHECK)
    std = Standardizer.load(FEATURES / "standardizer.npz") if p["features.standardize"] else None
    train_set = StoreSet([FEATURES / "train.h5"], std, video=[FEATURES / "video_train.h5"])
    val = load_tensor_set(FEATURES / "val.h5", std, fields=("doa", "level_dbfs"), references=True,
                          video_h5=FEATURES / "video_val.h5")
    test = load_tensor_set(FEATURES / "test.h5", std, fields=("doa", "level_dbfs"), references=True,
                           video_h5=FEATURES / "video_test.h5")
    features = {k.rsplit(".", 1)[1]: v for k, v in p.items() if k.startswith("features.audio.")}
    features["standardize"] = bool(p["features.standardize"])
    meta_features = {**features, "video": video_store_attrs(FEATURES / "video_train.h5")}

    runs = [(entry, seed, None) for seed in args.seeds for entry in ("av_sed_sce_ons", "av_ts_sed_sce_ons")]
    runs += [("av_ts_sed_sce_ons", args.seeds[0], w) for w in args.ts_weights]
    results = []
    print(f"CPU: {_cpu()}")
    print(f"{'system':20s} {'seed':>6s} {'λ':>5s} {'F_on':>6s} {'DOAE':>7s} {'RDE':>6s} {'OSA':>6s} {'on-thr':>6s} {'s':>6s}")
    for entry, seed, weight in runs:
        base = dict(p[f"av_models.{entry}"])
        cfg = TrainConfig(**{**base, "seed": seed, "val_every": p["train.val_every"], "device": "cpu"})
        if weight is not None:
            cfg = replace(cfg, ts_weight=weight)
        spec = get_kind(cfg.kind)
        init, init_meta = load_checkpoint(MODELS / str(cfg.init) / "model.pt", expect_kind=spec.init_kind,
                                          expect_features=features)
        upstream = {"init_model": (init, init_meta["kind"])}
        if "teacher" in spec.needs:
            net, meta = load_checkpoint(MODELS / str(cfg.teacher) / "model.pt", expect_kind=spec.teacher_kind,
                                        expect_features=features)
            upstream["teacher"] = Teacher(net, meta["kind"])
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            train(cfg, train_set, val, Path(tmp) / "model.pt", feature_meta=meta_features, progress=False,
                  log=lambda s: None, **upstream)
            model, meta = load_checkpoint(Path(tmp) / "model.pt")
        scored = validate(model, cfg.kind, test, replace(cfg, onscreen_threshold=meta["onscreen_threshold"]),
                          torch.device("cpu"))
        wall = time.perf_counter() - t0
        row = {"entry": entry, "seed": seed, "ts_weight": cfg.ts_weight if "teacher" in spec.needs else None,
               "onscreen_threshold": meta["onscreen_threshold"], "wall_s": wall, **scored}
        results.append(row)
        lam = "-" if row["ts_weight"] is None else f"{row['ts_weight']:.2g}"
        print(f"{entry:20s} {seed:6d} {lam:>5s} {row['F']:6.3f} {row['DOAE']:6.2f}° {row['RDE']:6.3f} "
              f"{row['OSA']:6.3f} {row['onscreen_threshold']:6.2f} {wall:6.0f}", flush=True)

    print("\nover seeds (λ of params.yaml): mean ± sample std")
    default_w = p["av_models.av_ts_sed_sce_ons"].get("ts_weight", 0.0)
    for entry in ("av_sed_sce_ons", "av_ts_sed_sce_ons"):
        rows = [r for r in results if r["entry"] == entry and r["ts_weight"] in (None, default_w)]
        cells = []
        for m in ("F", "DOAE", "RDE", "OSA"):
            vals = [r[m] for r in rows]
            sd = statistics.stdev(vals) if len(vals) > 1 else float("nan")
            cells.append(f"{m} {statistics.mean(vals):.3f} ± {sd:.3f}")
        print(f"{entry:20s} n={len(rows)}  " + "  ".join(cells))
    if args.out:
        args.out.write_text(json.dumps({"cpu": _cpu(), "runs": results}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
