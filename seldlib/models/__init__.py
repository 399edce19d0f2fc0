"""The networks, one architecture per file: the NERC-SLIP ResNet-Conformer (one head per output kind),
MVANet with an on-screen head (Track B) and the DCASE2025 baseline SELDnet (audio and audio-visual).

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
from seldlib.models.mvanet import MVANet, MVANetConfig, init_from_audio
from seldlib.models.resnet_conformer import ResNetConformer, ResNetConformerConfig, paper_config, small_config
from seldlib.models.seldnet import SELDnet, SELDnetConfig

__all__ = [
    "ARCHITECTURES",
    "ConformerBlock",
    "ConformerConfig",
    "MVANet",
    "MVANetConfig",
    "ResNetConformer",
    "ResNetConformerConfig",
    "SELDnet",
    "SELDnetConfig",
    "build_model",
    "count_parameters",
    "initialise_from",
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
    # the audio-visual baseline is the same network with its video branch (the kind decides, not the config)
    video = "video" in get_kind(kind).needs
    if cfg.pop("video", video) != video:
        raise ValueError(f"config 'video' disagrees with kind {kind!r}")
    if video:
        base = SELDnetConfig.av_config() if preset == "paper" else SELDnetConfig.small_av_config()
    else:
        base = SELDnetConfig() if preset == "paper" else SELDnetConfig.small_config()
    return SELDnet(_apply_overrides(base, cfg))


def _mvanet(kind: str, preset: str, cfg: dict[str, Any]) -> nn.Module:
    base = MVANetConfig.paper_config() if preset == "paper" else MVANetConfig.small_config()
    return MVANet(_apply_overrides(base, cfg))


# architecture name (``KindSpec.architecture``) -> builder(kind, preset, config overrides)
ARCHITECTURES: dict[str, Callable[[str, str, dict[str, Any]], nn.Module]] = {
    "resnet_conformer": _resnet_conformer,
    "mvanet": _mvanet,
    "seldnet": _seldnet,
}


def _init_seldnet(model: nn.Module, source: nn.Module) -> list[tuple[str, str]]:
    """The audio-visual baseline from the audio one: every tensor of the audio network whose name and
    shape the audio-visual one shares (the convolutions, GRU, self-attention and first output layer);
    the last output layer (117 → 156 outputs), the video embedding and the fusion decoder stay fresh."""
    dst, src = model.state_dict(), source.state_dict()
    pairs = [(k, k) for k, v in src.items() if k in dst and dst[k].shape == v.shape]
    model.load_state_dict({**dst, **{d: src[s] for d, s in pairs}})
    return pairs


def initialise_from(model: nn.Module, kind: str, source: nn.Module, source_kind: str) -> list[tuple[str, str]]:
    """Copy a trained model's weights into a new network of ``kind`` (Track B starts from audio
    pre-training: NERC-SLIP report, section 3.2); returns the ``(destination, source)`` key pairs copied.

    ``source`` must be of the kind's ``init_kind`` (``seldlib.kinds``): an SED-SCE ResNet-Conformer
    for MVANet (``seldlib.models.mvanet.init_from_audio``, its documented key mapping), the audio
    SELDnet for the audio-visual one.
    """
    spec = get_kind(kind)
    if spec.init_kind is None:
        raise ValueError(f"a {kind} model is not initialised from another model")
    if source_kind != spec.init_kind:
        raise ValueError(f"a {kind} model is initialised from a {spec.init_kind} model, not a {source_kind} one")
    if spec.architecture == "mvanet":
        return init_from_audio(model, source.state_dict(), source.config)
    return _init_seldnet(model, source)


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
