"""Memory and data wait of (data-parallel) training on a feature store of realistic size.

Builds a store of ``--clips`` clips in the layout of ``seldlib.featstore`` (10,000 by default: 2.2 GB
as float32 in memory, less on disk where the label arrays are LZF-compressed) in a temporary folder
under ``--dir``, trains the embedded default ``sed_doa`` entry of ``params.yaml`` on it for ``--steps``
steps under ``torchrun`` with each number of processes of ``--ranks``, the rows either held in memory
by every process (``train.loader: memory``) or streamed from the store (``stream``, ``--workers``
reading processes per training process), and prints per rank the peak RSS of the training process and
of its reading processes, and rank 0's data-wait share. The folder is deleted afterwards.

    python benchmarks/bench_memory.py [--clips 10000] [--dir /tmp] [--steps 40] [--ranks 1 2] \\
        [--loaders memory stream] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_repro import cpu_model  # the benchmarks' one lscpu reader

REPO = Path(__file__).resolve().parents[1]
STORES = {"train.h5": 0.9, "synth.h5": 0.1}  # shares of the clips: training reads both, concatenated
VAL_CLIPS = 16
BYTES_PER_CLIP = (2 * 251 * 64 + 50 * 13 * (1 + 2 + 1 + 2 + 1 + 30)) * 4  # features + the six label arrays, float32


def _label_pool(n: int, seed: int) -> list[tuple[dict[str, np.ndarray], str]]:
    """``n`` label sets of 1-3 events each (encoded arrays, reference CSV text), cycled over the clips."""
    from seldlib.labels import encode_labels
    from seldlib.metadata import EventTable, format_metadata_csv

    rng = np.random.default_rng(seed)
    pool = []
    for _ in range(n):
        rows = [(t, int(c), int(k), float(rng.integers(-90, 91)), float(rng.integers(50, 600)), int(rng.integers(0, 2)))
                for k, c in enumerate(rng.choice(13, int(rng.integers(1, 4)), replace=False))
                for t in range(int(rng.integers(0, 25)), int(rng.integers(25, 51)))]
        table = EventTable(*zip(*rows))
        pool.append((encode_labels(table).as_dict(), format_metadata_csv(table)))
    return pool


def build_store(path: Path, n: int, seed: int, block: int = 256) -> None:
    """A feature store of ``n`` clips (random log-mel-like features, labels from a pool), chunked and
    compressed as ``seldlib.featstore.write_feature_store`` writes them."""
    import h5py

    text = h5py.string_dtype("utf-8")
    pool = _label_pool(64, seed)
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w", libver="earliest") as h5:
        h5.create_dataset("names", data=np.array([f"bench{seed}_{i:06d}" for i in range(n)], dtype=object), dtype=text)
        h5.create_dataset("split", data=np.array(["bench"] * n, dtype=object), dtype=text)
        h5.create_dataset("labelled", data=np.ones(n, np.uint8))

        def create(name: str, shape: tuple[int, ...], compress: bool) -> h5py.Dataset:
            if n == 0:
                return h5.create_dataset(name, shape=(0, *shape), dtype=np.float32)
            return h5.create_dataset(name, shape=(n, *shape), dtype=np.float32, chunks=(1, *shape),
                                     compression="lzf" if compress else None)

        feats = create("features", (2, 251, 64), False)
        labels = {k: create(k, v.shape, True) for k, v in pool[0][0].items()}
        levels = create("level_dbfs", (50,), False)
        refs = h5.create_dataset("reference_csv", shape=(n,), dtype=text)
        for start in range(0, n, block):
            stop = min(start + block, n)
            feats[start:stop] = rng.normal(-40.0, 10.0, (stop - start, 2, 251, 64)).astype(np.float32)
            for key, ds in labels.items():
                ds[start:stop] = np.stack([pool[i % len(pool)][0][key] for i in range(start, stop)])
            levels[start:stop] = -30.0
            refs[start:stop] = np.array([pool[i % len(pool)][1] for i in range(start, stop)], dtype=object)


def _standardizer():
    from seldlib.standardizer import Standardizer

    return Standardizer(np.full((2, 64), -40.0), np.full((2, 64), 10.0))


def worker(root: Path, loader: str, steps: int, workers: int) -> None:
    """One process of a torchrun launch: train, then rank 0 prints one JSON line for the whole run."""
    import resource

    import yaml

    from seldlib import distributed
    from seldlib.train import TrainConfig, train
    from seldlib.trainset import StoreSet, load_tensor_set

    ctx = distributed.start("cpu")
    try:
        entry = yaml.safe_load((REPO / "params.yaml").read_text())["models"]["sed_doa"]
        cfg = TrainConfig(**{**entry, "steps": steps, "val_every": 10**9, "checkpoint_every": 10**9, "device": "cpu",
                             "amp": False, "nproc": ctx.world})
        std = _standardizer()
        train_set = StoreSet([root / name for name in STORES], std)
        val = load_tensor_set(root / "val.h5", std, fields=("doa", "level_dbfs"), references=True) if ctx.main else None
        summary = train(cfg, train_set, val, root / f"model-{loader}-{ctx.world}.pt", progress=False, log=lambda s: None,
                        loader=loader, workers=workers)
        usage = {"rank": ctx.rank, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                 "readers_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}
        ranks = distributed.gather(usage)
        if ctx.main:
            print("RESULT " + json.dumps({"loader": loader, "world": ctx.world, "clips": len(train_set),
                                          "data_wait_share": summary["data_wait_share"],
                                          "clips_per_s": summary["clips_per_s"], "ranks": ranks}), flush=True)
    finally:
        distributed.stop()


def _launch(root: Path, ranks: int, loader: str, steps: int, workers: int) -> dict:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}", __file__,
           "--worker", str(root), "--loader", loader, "--steps", str(steps), "--workers", str(workers)]
    # the cores shared out between the training processes (their reading processes come on top)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // ranks))}
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    found = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not found:
        sys.exit(f"the {ranks}-process {loader} run failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return json.loads(found[0].removeprefix("RESULT "))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=10_000)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--loaders", nargs="+", default=["memory", "stream"], choices=["memory", "stream"])
    ap.add_argument("--workers", type=int, default=2, help="reading processes per training process (stream)")
    ap.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--loader", default="stream", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        worker(args.worker, args.loader, args.steps, args.workers)
        return

    need = args.clips * BYTES_PER_CLIP
    free = shutil.disk_usage(args.dir).free
    if free < need + 2**30:
        sys.exit(f"{args.dir} has {free / 2**30:.1f} GiB free; the store needs up to {need / 2**30:.1f} GiB and 1 GiB to spare")
    root = Path(tempfile.mkdtemp(prefix="seld-bench-memory-", dir=args.dir))
    try:
        t0 = time.perf_counter()
        sizes = [int(round(args.clips * share)) for share in STORES.values()]
        sizes[-1] = args.clips - sum(sizes[:-1])
        for (name, _), n in zip(STORES.items(), sizes):
            build_store(root / name, n, seed=len(name) + n)
        build_store(root / "val.h5", VAL_CLIPS, seed=1)
        on_disk = sum(p.stat().st_size for p in root.glob("*.h5"))
        print(f"store: {args.clips:,} clips, {need / 2**30:.2f} GiB as float32, {on_disk / 2**30:.2f} GiB on disk "
              f"(built in {time.perf_counter() - t0:.0f} s, {root})")
        print(f"{cpu_model()}; default sed_doa entry, batch 32, {args.steps} steps, "
              f"{args.workers} reading processes per rank when streaming")
        print(f"{'loader':7s} {'ranks':>5s} {'rank':>4s} {'peak RSS':>9s} {'readers':>8s} {'data wait':>9s} {'clips/s':>8s}")
        for loader in args.loaders:
            for ranks in args.ranks:
                res = _launch(root, ranks, loader, args.steps, args.workers)
                for r in res["ranks"]:
                    readers = f"{r['readers_rss'] / 2**30:.2f}G" if loader == "stream" else "-"
                    wait = f"{100 * res['data_wait_share']:8.1f}%" if r["rank"] == 0 else ""
                    speed = f"{res['clips_per_s']:8.1f}" if r["rank"] == 0 else ""
                    print(f"{loader:7s} {ranks:5d} {r['rank']:4d} {r['rss'] / 2**30:8.2f}G {readers:>8s} {wait:>9s} {speed:>8s}",
                          flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
