"""Run (or print) ``dvc exp run`` with the ``-S`` overrides of a preset file of ``dotted.key: value``.

    python -m seldlib.preset presets/dcase2025-paper.yaml --exp-run [--queue ...]

Every key must already exist in ``params.yaml`` (a typo is an error, not a silently new parameter).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

from seldlib.config import read_params
from seldlib.errors import SeldInputError


def _literal(value: Any) -> str:
    """A Hydra override literal for ``value`` (what ``-S`` parses)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value) if any(c in value for c in " ,:[]{}='\"") else value
    return repr(value) if isinstance(value, float) else str(value)


def preset_overrides(preset: str | Path, params: str | Path = "params.yaml") -> list[str]:
    """``["key=value", ...]`` for the preset, after checking every key exists in ``params``."""
    preset = Path(preset)
    try:
        overrides = yaml.safe_load(preset.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise SeldInputError(preset, "preset file not found") from None
    except yaml.YAMLError as err:
        raise SeldInputError(preset, f"invalid YAML ({err})") from None
    if not isinstance(overrides, dict):
        raise SeldInputError(preset, "expected a mapping of dotted parameter keys to values")
    read_params(list(overrides), params)  # raises on unknown keys
    return [f"{key}={_literal(value)}" for key, value in overrides.items()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("preset", type=Path)
    ap.add_argument("--params", default="params.yaml", type=Path)
    ap.add_argument("--exp-run", action="store_true", help="run `dvc exp run` with the overrides (further args go to it)")
    args, rest = ap.parse_known_args(argv)
    try:
        overrides = preset_overrides(args.preset, args.params)
    except SeldInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    command = ["dvc", "exp", "run", *rest, *(a for o in overrides for a in ("-S", o))]
    if not args.exp_run:
        print(shlex.join(command))
        return 0
    import subprocess

    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
