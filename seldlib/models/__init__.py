"""Track A models: NERC-SLIP ResNet-Conformer (three output kinds) and the DCASE2025 baseline SELDnet.

Use :func:`build_model` to construct a model from a kind name and a plain dict (e.g. from ``params.yaml``).
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from torch import nn

from seldlib.models.conformer import ConformerBlock, ConformerConfig
from seldlib.models.resnet_conformer import (
    OUTPUT_KINDS,
    ResNetConformer,
    ResNetConformerConfig,
    paper_config,
    small_config,
)
from seldlib.models.seldnet import SELDnet, SELDnetConfig

__all__ = [
    "MODEL_KINDS",
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

MODEL_KINDS: tuple[str, ...] = (*OUTPUT_KINDS, "seldnet")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _apply_overrides(base: Any, overrides: dict[str, Any]) -> Any:
    known = {f.name for f in fields(base)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown model config keys for {type(base).__name__}: {unknown}")
    return replace(base, **overrides)


def build_model(kind: str, config: dict[str, Any] | None = None) -> nn.Module:
    """Build a Track A model.

    Args:
        kind: "sed_doa" | "sed_sde" | "sed_sce" (ResNet-Conformer heads) or "seldnet" (baseline).
        config: field overrides of :class:`ResNetConformerConfig` / :class:`SELDnetConfig`. The optional
            key ``"preset"`` ("paper", the default, or "small") picks the starting configuration.
            For ResNet-Conformer kinds the ``output`` field is set from ``kind``.

    Returns:
        The model, with freshly initialised weights (seed the global torch RNG first for reproducibility).
    """
    cfg = dict(config or {})
    preset = cfg.pop("preset", "paper")
    if preset not in ("paper", "small"):
        raise ValueError(f"preset must be 'paper' or 'small', got {preset!r}")
    if kind in OUTPUT_KINDS:
        if cfg.pop("output", kind) != kind:
            raise ValueError(f"config 'output' disagrees with kind {kind!r}")
        base = paper_config(kind) if preset == "paper" else small_config(kind)
        return ResNetConformer(_apply_overrides(base, cfg))
    if kind == "seldnet":
        base_s = SELDnetConfig() if preset == "paper" else SELDnetConfig.small_config()
        return SELDnet(_apply_overrides(base_s, cfg))
    raise ValueError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS}")
