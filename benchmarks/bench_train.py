"""Training throughput: clips per second and the share of time spent waiting for data.

Runs the real training loop (``seldlib.train.train``: augmentation, loss, Adam, validation off) on
random features with realistic labels, for the embedded default configuration and the paper
configuration, on the CPU and (``--device cuda``) on a GPU with mixed precision. Track B entries
(``av_models``) get random video features and start from a fresh model of their ``init`` kind; the
distilled one runs its teacher every step, as in training.

    python benchmarks/bench_train.py [--steps 20] [--device cpu|cuda] [--configs default paper]
        [--kinds sed_doa ... av_sed_sce_ons av_ts_sed_sce_ons seldnet_av] [--amp-compare | --trunk-compare]
        [--allocator keep|system | --allocator-compare]

Rows train with ``train.amp`` of ``params.yaml`` in the default configuration (as the stages do) and
with bfloat16 autocast in the paper configuration (as the real-data preset). ``--amp-compare`` trains
every row twice, in float32 (``amp`` off) and with bfloat16 autocast, and prints the speed ratio (on a
CPU without native bf16 the training loop leaves autocast off, so both rows run float32 and the ratio is ~1).

``--trunk-compare`` trains every ResNet-Conformer and MVANet row twice, with the paper's trunk that never
pools time (``trunk_time_pool: 1``, Conformer at 251 frames) and with time pooled inside the trunk
(``trunk_time_pool: 5``, Conformer at 50 frames; ``docs/networks.md#time-pooling``), and prints the ratio.

``--allocator keep`` (the default, as every stage runs) keeps freed host memory for reuse
(:mod:`seldlib.hostmem`); ``system`` leaves glibc's own policy. ``--allocator-compare`` trains every row
in two fresh processes, one per policy, alternating, and prints the speed ratio, the kernel (system)
CPU time and the peak resident memory of each (a process's peak, so one row per process).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import numpy as np
import torch
import yaml

from bench_repro import cpu_model  # the benchmarks' one lscpu reader
from seldlib.distillation import Teacher
from seldlib.hostmem import keep_freed_memory
from seldlib.kinds import get_kind
from seldlib.labels import ClipLabels, encode_labels
from seldlib.metadata import EventTable, format_metadata_csv
from seldlib.models import build_model, count_parameters
from seldlib.train import TrainConfig, train
from seldlib.trainset import TensorSet


def fake_set(n: int, seed: int, video: bool = False) -> TensorSet:
    """``n`` clips of random features with 3 events each; the level and reference CSVs validation reads
    (``video``: also random video features and those of the "mirrored" frames)."""
    rng = np.random.default_rng(seed)
    tables = []
    for _ in range(n):
        rows = [(t, c, 0, float(rng.integers(-90, 91)), float(rng.integers(50, 600)), 0)
                for c in rng.choice(13, 3, replace=False) for t in range(int(rng.integers(0, 20)), 50)]
        tables.append(EventTable(*zip(*rows)))
    labels = [encode_labels(t) for t in tables]
    tensors = {"features": torch.from_numpy(rng.standard_normal((n, 2, 251, 64)).astype(np.float32)),
               "level_dbfs": torch.full((n, 50), -30.0)}
    for f in ClipLabels.FIELDS:
        tensors[f] = torch.from_numpy(np.stack([getattr(x, f) for x in labels]))
    if video:
        tensors["video"] = torch.from_numpy(rng.standard_normal((n, 50, 7, 7)).astype(np.float32))
        tensors["video_flipped"] = tensors["video"].flip(-1)
    return TensorSet([f"c{i}" for i in range(n)], tensors, [format_metadata_csv(t) for t in tables])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--configs", nargs="+", default=["default", "paper"])
    ap.add_argument("--kinds", nargs="+", default=["sed_doa", "sed_sde", "sed_sce", "seldnet"])
    ap.add_argument("--amp-compare", action="store_true", help="float32 and bf16 autocast side by side")
    ap.add_argument("--trunk-compare", action="store_true",
                    help="trunk_time_pool 1 (the paper's) and 5 side by side")
    ap.add_argument("--allocator", choices=("keep", "system"), default="keep",
                    help="keep freed host memory for reuse (as the stages do) or leave glibc's policy")
    ap.add_argument("--allocator-compare", action="store_true",
                    help="every row once per allocator policy, each in a fresh process")
    ap.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.allocator_compare:
        return _allocator_compare(args)
    if args.allocator == "keep":
        keep_freed_memory()
    params = yaml.safe_load(open("params.yaml"))
    sets = fake_set(256, 0, video=True), fake_set(4, 1, video=True)  # training, validation
    if not args.no_header:
        print(f"{cpu_model()}; device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"{args.steps} steps, allocator {args.allocator}")
        print(f"{'config':8s} {'model':8s} {'params':>10s} {'batch':>5s} {'amp':>4s} {'clips/s':>8s} {'data wait':>9s} "
              f"{'GPU mem':>8s} {'sys CPU':>8s} {'peak RSS':>9s}")
    for config in args.configs:
        for kind in args.kinds:
            entry = dict(params["models"][kind] if kind in params["models"] else params["av_models"][kind])
            if config == "paper":
                entry["model"] = {"preset": "paper"}
                entry["batch_size"] = 256 if kind == "seldnet" else 32
            amp = bool(params["train"]["amp"]) if config == "default" else True
            rows: list[tuple[str, bool, dict]] = [("", amp, {})]
            if args.amp_compare:
                rows = [("", False, {}), ("", True, {})]
            elif args.trunk_compare and get_kind(entry["kind"]).architecture != "seldnet":
                rows = [(f" pool {k}", amp, {"trunk_time_pool": k}) for k in (1, 5)]
            speeds: list[float] = []
            for label, row_amp, override in rows:
                speeds.append(_row(args, params, sets, config, kind, entry, row_amp, override, label, speeds))


def _row(args: argparse.Namespace, params: dict, sets: tuple[TensorSet, TensorSet], config: str, kind: str,
         entry: dict, amp: bool, override: dict, label: str, before: list[float]) -> float:
    """Train one row and print it; the ratio to the row before it where it is the second of a comparison."""
    entry = {**entry, "model": {**entry["model"], **override}}
    cfg = TrainConfig(**{**entry, "steps": args.steps, "val_every": 10**9, "checkpoint_every": 10**9,
                         "device": args.device, "amp": amp})
    n_params = count_parameters(build_model(cfg.kind, cfg.model))
    spec, upstream = get_kind(cfg.kind), {}
    if "init" in spec.needs:  # a fresh model of the upstream entry's architecture and size
        source = params["models"][cfg.init]
        model = {"preset": "paper"} if config == "paper" else source["model"]
        model = {**model, **override}
        upstream["init_model"] = (build_model(spec.init_kind, model), spec.init_kind)
        if "teacher" in spec.needs:
            upstream["teacher"] = Teacher(build_model(spec.teacher_kind, model), spec.teacher_kind)
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0, sys0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_stime
    # val_every beyond the run: validate once at the end only (needed to pick the best state)
    summary = train(cfg, *sets, _tmp_path(), progress=False, log=lambda s: None, **upstream)
    wall = time.perf_counter() - t0
    sys_share = (resource.getrusage(resource.RUSAGE_SELF).ru_stime - sys0) / (wall * torch.get_num_threads())
    mem = f"{torch.cuda.max_memory_allocated() / 2**30:.2f}G" if args.device.startswith("cuda") else "-"
    speed = summary["clips_per_s"]
    ratio = ""
    if before:
        what = "bf16/fp32" if args.amp_compare else "pool 5/pool 1"
        ratio = f"  {what} {speed / before[-1]:.2f}x"
    print(f"{config:8s} {kind + label:8s} {n_params:10,d} {cfg.batch_size:5d} {'on' if amp else 'off':>4s} "
          f"{speed:8.1f} {100 * summary['data_wait_share']:8.2f}% {mem:>8s} "
          f"{100 * sys_share:7.1f}% {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:8.2f}G{ratio}",
          flush=True)
    return speed


def _allocator_compare(args: argparse.Namespace) -> None:
    """Each (config, kind) row trained in a fresh process per allocator policy, ``system`` first."""
    print(f"{cpu_model()}; device {args.device}, torch {torch.__version__}, {args.steps} steps; sys CPU: share of "
          "the threads' time spent in the kernel")
    print(f"{'allocator':9s} {'config':8s} {'model':8s} {'params':>10s} {'batch':>5s} {'amp':>4s} {'clips/s':>8s} "
          f"{'data wait':>9s} {'GPU mem':>8s} {'sys CPU':>8s} {'peak RSS':>9s}")
    for config in args.configs:
        for kind in args.kinds:
            speeds = {}
            for policy in ("system", "keep"):
                cmd = [sys.executable, __file__, "--no-header", "--steps", str(args.steps), "--device", args.device,
                       "--configs", config, "--kinds", kind, "--allocator", policy]
                line = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
                speeds[policy] = float(line.split()[5])
                print(f"{policy:9s} {line}", flush=True)
            print(f"{'':9s} {config:8s} {kind:8s} keep/system {speeds['keep'] / speeds['system']:.2f}x", flush=True)


def _tmp_path():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp()) / "model.pt"


if __name__ == "__main__":
    main()
