"""Stage: the measured rooms of the FSD50K synthetic split, ``data/synth_rooms`` (docs/real-data.md#the-rooms).

    python -m stages.prepare_rooms --params synth.source

From the verified downloads of the ``download_tau_srir`` stage: every TAU-SRIR DB room as
``<room>_foa.sofa`` (the SOFA layout the synthesiser reads, positions rebuilt from the database's
geometry) with its TAU-SNoise FOA ambience ``<room>_foa_ambience.flac``. With ``synth.source:
procedural`` the folder only holds a report saying it is not used.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seldlib.config import read_params
from stages._cli import run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", nargs="+", required=True, help="dotted params keys DVC tracks for this stage")
    ap.add_argument("--fetched", default="data/downloads/tau_srir.json", type=Path)
    ap.add_argument("--downloads", default="data/.downloads", type=Path, help="the download cache")
    ap.add_argument("--out", default="data/synth_rooms", type=Path)
    args = ap.parse_args(argv)

    from seldlib.atomic import atomic_path, write_json_atomic
    from seldlib.download import read_fetched
    from seldlib.errors import SeldInputError

    p = read_params(args.params)
    with atomic_path(args.out, suffix="") as tmp:
        tmp.mkdir()
        if p["synth.source"] != "fsd50k":
            write_json_atomic(tmp / "manifest.json", {"used": False})
            print(f"synth rooms: not used (synth.source: {p['synth.source']}) -> {args.out}")
            return 0
        from seldlib.prepare.tau_srir import convert_tau

        files = read_fetched(args.fetched, args.downloads, "run `dvc repro -f download_tau_srir`")
        if files is None:
            raise SeldInputError(args.fetched, "says its downloads are not used; run `dvc repro download_tau_srir`")
        report = convert_tau(files, tmp, tmp / ".work")
    positions = sum(r["measurements"] for r in report.values())
    print(f"synth rooms: {len(report)} rooms ({positions} positions) -> {args.out}")
    return 0


if __name__ == "__main__":
    run(main)
