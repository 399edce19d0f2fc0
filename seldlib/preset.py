"""Run (or print) ``dvc exp run`` with the ``-S`` overrides of a preset file of ``dotted.key: value``.

    python -m seldlib.preset presets/dcase2025-paper.yaml --exp-run [--queue ...]

Every key must already exist in ``params.yaml`` (a typo is an error, not a silently new parameter), and
``params.yaml`` with the preset applied must pass :mod:`seldlib.paramcheck`, model configurations
included (built on the ``meta`` device, as the train stage checks them). A mapping value replaces
the whole mapping (``models.x.model: {preset: paper}`` drops the small model's channel overrides).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from seldlib.config import load_yaml
from seldlib.errors import SeldInputError
from seldlib.models.paramcheck import MODEL_CHECK
from seldlib.paramcheck import validate


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
    """The ``-S`` overrides of the preset (``key=value``; ``~key`` then ``+key={...}`` for a mapping), after
    checking that every key exists in ``params`` and that ``params`` with the preset applied is valid
    (:mod:`seldlib.paramcheck`; errors name the preset)."""
    preset = Path(preset)
    overrides = load_yaml(preset, "preset file") or {}
    if not isinstance(overrides, dict):
        raise SeldInputError(preset, "expected a mapping of dotted parameter keys to values")
    tree = load_yaml(params) or {}
    for key, value in overrides.items():
        *parents, leaf = str(key).split(".")
        node = tree
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            raise SeldInputError(preset, f"{key}: not a parameter in {params} (a preset only changes existing keys)")
        node[leaf] = value
    validate(tree, [str(key) for key in overrides], preset, MODEL_CHECK)
    out: list[str] = []
    for key, value in overrides.items():
        # `-S key={...}` alone merges into the mapping in params.yaml; delete it first so the preset's wins
        out += [f"~{key}", f"+{key}={_literal(value)}"] if isinstance(value, dict) else [f"{key}={_literal(value)}"]
    return out


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
