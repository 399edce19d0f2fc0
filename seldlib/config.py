"""Reading exactly the declared parameter keys from ``params.yaml``, checked against its schema.

Stages name the dotted keys they read on their command line (``--params models.sed_doa train``), the
same list ``dvc.yaml`` declares, so a stage can never depend on a value DVC does not track. Each key's
subtree is validated by :mod:`seldlib.paramcheck` before the stage does any work; the stage that builds
a model passes the model code's check of ``models.<entry>.model`` (``seldlib.models.paramcheck``), so
that this module, and every other stage, stays free of model code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from seldlib.errors import SeldInputError
from seldlib.paramcheck import ModelCheck, validate


def load_yaml(path: str | Path, what: str = "parameter file") -> Any:
    """The parsed YAML file at ``path``; a one-line :class:`SeldInputError` if unreadable or invalid."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        raise SeldInputError(path, f"{what} not found") from None
    except OSError as err:
        raise SeldInputError(path, f"cannot read the {what} ({err.strerror})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or type(err).__name__
        raise SeldInputError(path, f"invalid YAML ({problem})", line=None if mark is None else mark.line + 1) from None


def read_params(keys: list[str], path: str | Path = "params.yaml",
                model_check: ModelCheck | None = None) -> dict[str, Any]:
    """Return ``{dotted_key: value}`` for ``keys`` from the YAML file at ``path``, validated and coerced
    (e.g. ``lr: 3e-3``, which YAML reads as a string, becomes ``0.003``); ``models.<entry>.model`` is
    judged by ``model_check`` if given (:class:`seldlib.paramcheck.ModelCheck`)."""
    return validate(load_yaml(path) or {}, keys, path, model_check)
