"""Stage: simulate the FOA SRIR rooms of the embedded default and write them as SOFA files.

    python -m stages.rooms --params rooms

Rooms per role (train / test / synth) never overlap, so the test split is rendered in rooms that
training never sees.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seldlib.config import read_params
from stages._cli import run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", nargs="+", required=True)
    ap.add_argument("--out", default="data/rooms", type=Path)
    args = ap.parse_args(argv)

    from dataclasses import replace

    from seldlib.atomic import atomic_path
    from seldlib.synth.rooms import default_room_specs, simulate_rooms

    p = read_params(args.params)["rooms"]
    grid = {"radii": tuple(p["radii"]), "elevations": tuple(p["elevations"]), "az_step_deg": float(p["az_step_deg"])}
    with atomic_path(args.out, suffix="") as tmp:
        for role in ("train", "test", "synth"):
            simulate_rooms(tmp / role, [replace(spec, **grid) for spec in default_room_specs(role)], seed=p["seed"])
    print(f"rooms -> {args.out}")
    return 0


if __name__ == "__main__":
    run(main)
