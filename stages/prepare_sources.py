"""Stage: the source tree of the FSD50K synthetic split, ``data/synth_sources`` (docs/real-data.md#the-source-tree).

    python -m stages.prepare_sources --params synth.source synth.fsd50k.max_missing synth.fsd50k.music_per_genre
        synth.fsd50k.music_train_share synth.fsd50k.split_seed --knobs synth.workers

From the verified downloads of the ``download_fsd50k`` and ``download_fma`` stages: the DCASE2022 FSD50K
selection (train = FSD50K dev audio, test = eval audio) and FMA-small music, per class folder, resampled
once to 24 kHz. Missing or unreadable files are reported by name (``data/synth_sources/manifest.json``);
more than ``synth.fsd50k.max_missing`` of them stop the stage. With ``synth.source: procedural`` the
folder only holds a report saying it is not used.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seldlib.config import read_params
from stages._cli import run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", nargs="+", required=True, help="dotted params keys DVC tracks for this stage")
    ap.add_argument("--knobs", nargs="*", default=[], help="untracked keys (cannot change results)")
    ap.add_argument("--fetched", nargs=2, type=Path, default=[Path("data/downloads/fsd50k.json"),
                                                              Path("data/downloads/fma.json")])
    ap.add_argument("--downloads", default="data/.downloads", type=Path, help="the download cache")
    ap.add_argument("--out", default="data/synth_sources", type=Path)
    args = ap.parse_args(argv)

    from seldlib.atomic import atomic_path, write_json_atomic
    from seldlib.download import read_fetched
    from seldlib.errors import SeldInputError

    p = {k.split(".")[-1]: v for k, v in read_params(args.params + args.knobs).items()}
    with atomic_path(args.out, suffix="") as tmp:
        tmp.mkdir()
        if p["source"] != "fsd50k":
            write_json_atomic(tmp / "manifest.json", {"used": False})
            print(f"synth sources: not used (synth.source: {p['source']}) -> {args.out}")
            return 0
        from seldlib.prepare.convert import arrange_sources

        files: dict[str, Path] = {}
        for record, stage in zip(args.fetched, ("download_fsd50k", "download_fma")):
            got = read_fetched(record, args.downloads, f"run `dvc repro -f {stage}`")
            if got is None:
                raise SeldInputError(record, f"says its downloads are not used; run `dvc repro {stage}`")
            files.update(got)
        report = arrange_sources(files, tmp, p["max_missing"], p["music_per_genre"], p["music_train_share"],
                                 p["split_seed"], workers=p["workers"])  # fmt: skip
    problems = report["missing"] + report["unreadable"]
    for line in problems:
        print(f"warning: {line}")
    total = sum(n for c in report["files"].values() for n in c.values())
    print(f"synth sources: {total} files ({len(problems)} missing or unreadable) -> {args.out}")
    return 0


if __name__ == "__main__":
    run(main)
