"""Stage: dataset report (clips, class balance, polyphony, on-screen share, azimuth/distance, examples).

    python -m stages.data_report --params data.source

Reads the train and test splits of ``data.source`` from ``--dataset`` and the synthetic split from
``--synth``; writes the whole ``--out`` folder (summary.json, plots/*.tsv, *.png) atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seldlib.config import read_params
from stages._cli import run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", nargs="+", required=True, help="parameter keys read (data.source)")
    ap.add_argument("--dataset", default="data/dataset", type=Path, help="official-layout dataset root")
    ap.add_argument("--synth", default="data/synth", type=Path, help="root holding the synthetic split")
    ap.add_argument("--out", default="metrics/data", type=Path)
    args = ap.parse_args(argv)

    from seldlib.atomic import atomic_path
    from seldlib.data_report import collect_events, write_report
    from seldlib.datasets import SPLITS, splits_for
    from seldlib.layout import discover

    p = read_params(args.params)
    source = p["data.source"]
    roles = [r for r in ("train", "val", "test") if r in SPLITS[source]]
    clips = discover(args.dataset, [s for r in roles for s in splits_for(source, r)])
    clips += discover(args.synth, splits_for(source, "synth"))
    stats = collect_events(clips)
    with atomic_path(args.out) as tmp:
        tmp.mkdir(parents=True)
        summary = write_report(stats, tmp, source=source)
    for split, s in summary["splits"].items():
        ratio = s["onscreen_ratio"]
        print(f"{split}: {s['clips']} clips, {s['events']} events, {s['rows']} active rows, "
              f"on-screen {'n/a' if ratio is None else f'{ratio:.3f}'}")
    print(f"report -> {args.out}")
    return 0


if __name__ == "__main__":
    run(main)
