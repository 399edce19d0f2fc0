"""The model code's part of the ``params.yaml`` check (:class:`seldlib.paramcheck.ModelCheck`).

Passed by the train stage, the one stage that builds models from ``models.<entry>.model``:
``read_params(keys, model_check=MODEL_CHECK)``. Models are built on PyTorch's ``meta`` device, which
allocates no memory and initialises nothing, so the check costs milliseconds even for the paper sizes.
"""

from __future__ import annotations

from dataclasses import fields
from functools import lru_cache
from typing import Any

import torch

from seldlib.models import build_model
from seldlib.paramcheck import ModelCheck


@lru_cache(maxsize=None)
def config_defaults(kind: str, preset: str) -> dict[str, Any]:
    """Field → default of the configuration dataclass that ``kind`` builds from ``preset``."""
    with torch.device("meta"):
        config = build_model(kind, {"preset": preset}).config
    return {f.name: getattr(config, f.name) for f in fields(config)}


def build_on_meta(kind: str, model: dict[str, Any]) -> None:
    """Build ``kind`` from ``model`` (``preset`` plus overrides), for the model code to reject a bad combination."""
    with torch.device("meta"):
        build_model(kind, model)


MODEL_CHECK = ModelCheck(defaults=config_defaults, build=build_on_meta)
