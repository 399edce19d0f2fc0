"""Track A networks: the NERC-SLIP ResNet-Conformer (one head per output kind) and the DCASE2025 baseline
SELDnet, one architecture per file.

Use :func:`build_model` to construct the network of a model kind (``seldlib.kinds``) from a plain dict
(e.g. a ``models.<entry>.model`` section of ``params.yaml``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

from torch import nn

from seldlib.kinds import get_kind
from seldlib.models.conformer import ConformerBlock, ConformerConfig
from seldlib.models.resnet_conformer import ResNetConformer, ResNetConformerConfig, paper_config, small_config
from seldlib.models.seldnet import SELDnet, SELDnetConfig

__all__ = [
    "ARCHITECTURES",
    "ConformerBlock",
    "ConformerConfig",
    "ResNetConformer",
    "ResNetConformerConfig",
    "SELDnet",
    "SELDnetConfig",
    "build_model",
    "count_parameters",
    "paper_config",
    "small_config",
]

PRESETS = ("paper", "small")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _apply_overrides(base: Any, overrides: dict[str, Any]) -> Any:
    known = {f.name for f in fields(base)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown model config keys for {type(base).__name__}: {unknown}")
    return replace(base, **overrides)


def _resnet_conformer(kind: str, preset: str, cfg: dict[str, Any]) -> nn.Module:
    # the head is the kind's: the config's ``output`` field follows the kind
    if cfg.pop("output", kind) != kind:
        raise ValueError(f"config 'output' disagrees with kind {kind!r}")
    base = paper_config(kind) if preset == "paper" else small_config(kind)
    return ResNetConformer(_apply_overrides(base, cfg))


def _seldnet(kind: str, preset: str, cfg: dict[str, Any]) -> nn.Module:
    base = SELDnetConfig() if preset == "paper" else SELDnetConfig.small_config()
    return SELDnet(_apply_overrides(base, cfg))


# architecture name (``KindSpec.architecture``) -> builder(kind, preset, config overrides)
ARCHITECTURES: dict[str, Callable[[str, str, dict[str, Any]], nn.Module]] = {
    "resnet_conformer": _resnet_conformer,
    "seldnet": _seldnet,
}


def build_model(kind: str, config: dict[str, Any] | None = None) -> nn.Module:
    """Build the network of a model kind.

    Args:
        kind: a kind of ``seldlib.kinds.KINDS`` ("sed_doa", "sed_sde", "sed_sce", "seldnet", …).
        config: field overrides of the architecture's config dataclass (:class:`ResNetConformerConfig`,
            :class:`SELDnetConfig`). The optional key ``"preset"`` ("paper", the default, or "small")
            picks the starting configuration.

    Returns:
        The model, with freshly initialised weights (seed the global torch RNG first for reproducibility).
    """
    cfg = dict(config or {})
    preset = cfg.pop("preset", "paper")
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
    return ARCHITECTURES[get_kind(kind).architecture](kind, preset, cfg)
