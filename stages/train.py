"""Stage: train one model of the ``models`` dict.

    python -m stages.train --model sed_doa --params models.sed_doa train features.audio features.standardize
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from seldlib.config import read_params
from stages._cli import run


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(str(p.stat().st_size).encode())
        h.update(str(p.stat().st_mtime_ns).encode())
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="key of the models dict in params.yaml")
    ap.add_argument("--params", nargs="+", required=True, help="dotted params keys this stage reads")
    ap.add_argument("--features", default="data/features", type=Path)
    ap.add_argument("--out", default="models", type=Path)
    args = ap.parse_args(argv)

    from dvclive import Live

    from seldlib.featstore import load_standardizer
    from seldlib.train import TensorSet, TrainConfig, load_tensor_set, train

    p = read_params(args.params)
    entry = dict(p[f"models.{args.model}"])
    shared = p["train"]
    cfg = TrainConfig(
        device=shared["device"], amp=shared["amp"], val_every=shared["val_every"],
        checkpoint_every=shared["checkpoint_every"], **entry,
    )
    std = load_standardizer(args.features / "standardizer.npz") if p["features.standardize"] else None
    train_paths = [args.features / "train.h5", args.features / "synth.h5"]
    train_set = TensorSet.concat([load_tensor_set(path, std) for path in train_paths])
    val_set = load_tensor_set(args.features / "test.h5", std)
    feature_meta = {**p["features.audio"], "standardize": bool(p["features.standardize"])}
    feature_meta.pop("batch_size", None)

    out_dir = args.out / args.model
    resume = args.out / ".resume" / f"{args.model}.pt"
    resume.parent.mkdir(parents=True, exist_ok=True)
    with Live(str(out_dir / "live"), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        def log(split: str, values: dict[str, float], step: int) -> None:
            live.step = step
            for k, v in values.items():
                if v == v:  # keep NaN out of the plot files
                    live.log_metric(f"{split}/{k}", float(v), timestamp=False)

        live.log_params({"model": args.model, **{k: v for k, v in entry.items() if not isinstance(v, dict)}})
        summary = train(cfg, train_set, val_set, out_dir / "model.pt", resume_path=resume,
                        feature_meta=feature_meta, data_digest=_digest(train_paths), logger=log)
        live.summary = {"best": summary["best"]}
    print(f"{args.model}: best {summary['best']}, {summary['clips_per_s']:.1f} clips/s, "
          f"data wait {100 * summary['data_wait_share']:.1f} %")
    return 0


if __name__ == "__main__":
    run(main)
