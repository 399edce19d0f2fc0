"""Design choices of the embedded MVANet, measured: on-screen readout, AVAM output mode, video
normalisation, on-screen loss weight, lr.

Every variant is ``av_models.av_sed_sce_ons`` of ``params.yaml`` with some fields replaced, trained
in-process exactly as the ``train_av`` stage trains it and scored on the validation split (choose on
these columns) and the test split (reported only) as the evaluate stage scores it, each OSA next to the
majority-label OSA it has to beat (``benchmarks/_av_runs.py``). Needs the pipeline's outputs up to
``train@sed_sce`` and ``features_video@test``. One variant costs 2-6 min on a 2-core CPU.

    python benchmarks/ablate_av.py [--variants plain plain_wv readout ...] [--out runs.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from _av_runs import AvRunner, cpu_name, format_scores

# name -> (what it tests, replaced entry fields; "model" and "loss_weights" are merged into the entry's)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "plain": ("plain ONS head (no readout)", {"model": {"ons_readout": False}}),
    "plain_wv": ("plain ONS head, AVAM returns w ⊙ v", {"model": {"ons_readout": False, "avam_mode": "wv"}}),
    "plain_ons3": ("plain ONS head, on-screen weight 3", {"model": {"ons_readout": False}, "loss_weights": {"ons": 3.0}}),
    "plain_lr3": ("plain ONS head, lr 0.003", {"model": {"ons_readout": False}, "lr": 0.003}),
    "plain_clip": ("plain ONS head, video_norm clip", {"model": {"ons_readout": False, "video_norm": "clip"}}),
    "plain_clip_lr3": ("plain, video_norm clip, lr 0.003", {"model": {"ons_readout": False, "video_norm": "clip"},
                                                            "lr": 0.003}),
    "readout": ("ONS head also reads the video column", {"model": {"ons_readout": True}}),
    "readout_ons3": ("readout, on-screen weight 3", {"model": {"ons_readout": True}, "loss_weights": {"ons": 3.0}}),
    "readout_wv": ("readout, AVAM returns w ⊙ v", {"model": {"ons_readout": True, "avam_mode": "wv"}}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--out", type=Path, help="JSON file of every run")
    args = ap.parse_args()

    runner = AvRunner()
    print(f"CPU: {cpu_name()}")
    print(f"{'variant':10s} {'what':38s} | {'val: F_on':>9s} {'DOAE':>7s} {'RDE':>6s} {'OSA (maj.)':>14s} | "
          f"{'test: F_on':>10s} {'DOAE':>7s} {'RDE':>6s} {'OSA (maj.)':>14s} | {'thr':>4s} {'step':>4s} {'s':>5s}")
    results = []
    for name in args.variants:
        what, fields = VARIANTS[name]
        row = {"variant": name, **runner.run("av_sed_sce_ons", **fields)}
        results.append(row)
        print(f"{name:10s} {what:38s} | {format_scores(row['val'])} | {format_scores(row['test'])} | "
              f"{row['onscreen_threshold']:4.2f} {row['best_step']:4d} {row['wall_s']:5.0f}", flush=True)
        if args.out:
            args.out.write_text(json.dumps({"cpu": cpu_name(), "runs": results}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
