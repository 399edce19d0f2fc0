"""Choosing the torch device a stage runs on."""

from __future__ import annotations

import torch


def resolve_device(name: str | torch.device, local_rank: int | None = None) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; an explicit ``"cuda[:N]"`` without CUDA is an error.
    A ``torch.device`` is taken as its name (``"cuda:1"``), so it is checked the same way.

    ``local_rank``: this process's index on its node under ``torchrun``; a GPU device then becomes
    ``cuda:<local_rank>`` (one GPU per process), and naming a GPU index is an error.
    """
    name = str(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    elif name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available")
    device = torch.device(name)
    if local_rank is None or device.type != "cuda":
        return device
    if device.index is not None:
        raise RuntimeError(f"device {name!r} names one GPU, but every process of a data-parallel run takes its own "
                           "(use 'cuda' or 'auto')")
    if local_rank >= torch.cuda.device_count():
        raise RuntimeError(f"process {local_rank} on this node has no GPU: {torch.cuda.device_count()} visible")
    return torch.device("cuda", local_rank)


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively: a CUDA GPU that says so, or a CPU whose oneDNN has
    bf16 kernels (AVX512-BF16 or AMX). Elsewhere bfloat16 autocast is emulated and slower than float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:  # private but long-standing oneDNN probe; absent -> assume no native bf16
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False
