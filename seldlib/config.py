"""Reading exactly the declared parameter keys from ``params.yaml``.

Stages name the dotted keys they read on their command line (``--params models.sed_doa train``), the
same list ``dvc.yaml`` declares, so a stage can never depend on a value DVC does not track.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from seldlib.errors import SeldInputError


def read_params(keys: list[str], path: str | Path = "params.yaml") -> dict[str, Any]:
    """Return ``{dotted_key: value}`` for ``keys`` from the YAML file at ``path``."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as fh:
            tree = yaml.safe_load(fh) or {}
    except FileNotFoundError:
        raise SeldInputError(path, "parameter file not found") from None
    except yaml.YAMLError as err:
        raise SeldInputError(path, f"invalid YAML ({err})") from None
    out: dict[str, Any] = {}
    for key in keys:
        node: Any = tree
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise SeldInputError(path, f"missing parameter {key!r}")
            node = node[part]
        out[key] = node
    return out
