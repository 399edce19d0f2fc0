"""The official DCASE2025 Task 3 baseline SELDnet (audio only) with multi-ACCDOA + distance output.

Same architecture as ``model.py`` of ``partha2409/DCASE2025_seld_baseline`` (``docs/networks.md#seldnet-baseline``)::

    (B, 2, T, 64)                         T = 250 or 251
    3 × [conv3x3(64)-BN-ReLU-MaxPool-Dropout2d]   pools (5,4), (1,4), (1,2)  -> (B, 64, 50, 2)
    transpose + flatten                   (B, 50, 128)
    BiGRU, 2 layers, hidden 128           (B, 50, 256)
    tanh, backward half * forward half    (B, 50, 128)
    2 × [MHSA(128, 8 heads) + residual, LayerNorm]   (B, 50, 128)
    Linear(128,128) (no activation) → Linear(128, 117)
    reshape                               (B, 50, 3 tracks, 3 elements (x, y, dist), 13)

Activations: tanh on x and y, ReLU on distance (metres).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = ["SELDnetConfig", "ConvBlock", "SELDnet"]


@dataclass(frozen=True)
class SELDnetConfig:
    """Configuration of :class:`SELDnet`; defaults reproduce the DCASE2025 audio baseline (734,261 parameters).

    Attributes:
        in_channels: input feature channels.
        n_mels: mel bins; must be divisible by ``prod(f_pools)``.
        conv_filters: filters of each conv block.
        t_pools, f_pools: max-pool factors (time, frequency) of the three conv blocks.
        dropout: Dropout2d after each conv block, GRU inter-layer dropout and MHSA dropout.
        rnn_hidden: GRU hidden size per direction (also the MHSA width).
        rnn_layers: GRU layers.
        n_mhsa: number of self-attention layers.
        mhsa_heads: heads per self-attention layer.
        fnn_size: width of the hidden Linear layers before the output Linear.
        n_fnn: number of hidden Linear layers (no activation between them, as the baseline).
        n_tracks: output tracks.
        n_classes: sound event classes.
    """

    in_channels: int = 2
    n_mels: int = 64
    conv_filters: int = 64
    t_pools: tuple[int, int, int] = (5, 1, 1)
    f_pools: tuple[int, int, int] = (4, 4, 2)
    dropout: float = 0.05
    rnn_hidden: int = 128
    rnn_layers: int = 2
    n_mhsa: int = 2
    mhsa_heads: int = 8
    fnn_size: int = 128
    n_fnn: int = 1
    n_tracks: int = 3
    n_classes: int = 13

    def __post_init__(self) -> None:
        object.__setattr__(self, "t_pools", tuple(int(p) for p in self.t_pools))
        object.__setattr__(self, "f_pools", tuple(int(p) for p in self.f_pools))
        if len(self.t_pools) != len(self.f_pools):
            raise ValueError("t_pools and f_pools must have the same length")
        if self.n_mels % math.prod(self.f_pools) != 0:
            raise ValueError(f"n_mels={self.n_mels} is not divisible by prod(f_pools)={math.prod(self.f_pools)}")

    @property
    def n_elements(self) -> int:
        """Elements per track and class: x, y, distance."""
        return 3

    @classmethod
    def small_config(cls) -> SELDnetConfig:
        """A lighter configuration for fast CPU tests (same structure)."""
        return cls(conv_filters=16, rnn_hidden=32, mhsa_heads=4, fnn_size=32)


class ConvBlock(nn.Module):
    """Conv2d 3×3 (bias) → BN → ReLU → MaxPool2d(pool) → Dropout2d. Shape ``(B, C, T, F) -> (B, C', T/pt, F/pf)``."""

    def __init__(self, in_channels: int, out_channels: int, pool: tuple[int, int], dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.pool = nn.MaxPool2d(pool)
        self.drop = nn.Dropout2d(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.pool(torch.relu(self.bn(self.conv(x)))))


class SELDnet(nn.Module):
    """Baseline CRNN + MHSA with multi-ACCDOA output.

    Input ``(B, 2, T, 64)``; output ``{"accdoa": (B, T', 3, 3, 13)}`` with ``T' = T // prod(t_pools)``
    (50 for T = 250 or 251); element axis = (x, y, dist), x and y in [-1, 1], dist ≥ 0 metres.
    """

    def __init__(self, config: SELDnetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or SELDnetConfig()
        blocks = []
        ch = config.in_channels
        for pt, pf in zip(config.t_pools, config.f_pools):
            blocks.append(ConvBlock(ch, config.conv_filters, (pt, pf), config.dropout))
            ch = config.conv_filters
        self.conv_blocks = nn.Sequential(*blocks)
        gru_in = config.conv_filters * (config.n_mels // math.prod(config.f_pools))
        self.gru = nn.GRU(
            gru_in,
            config.rnn_hidden,
            num_layers=config.rnn_layers,
            batch_first=True,
            dropout=config.dropout,
            bidirectional=True,
        )
        d = config.rnn_hidden
        self.mhsa = nn.ModuleList(
            nn.MultiheadAttention(d, config.mhsa_heads, dropout=config.dropout, batch_first=True)
            for _ in range(config.n_mhsa)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(d) for _ in range(config.n_mhsa))
        fnn = []
        for i in range(config.n_fnn):
            fnn.append(nn.Linear(d if i == 0 else config.fnn_size, config.fnn_size))
        self.fnn = nn.Sequential(*fnn)
        last_in = config.fnn_size if config.n_fnn > 0 else d
        self.out = nn.Linear(last_in, config.n_tracks * config.n_elements * config.n_classes)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        c = self.config
        if x.dim() != 4 or x.shape[1] != c.in_channels or x.shape[3] != c.n_mels:
            raise ValueError(f"expected input (B, {c.in_channels}, T, {c.n_mels}), got {tuple(x.shape)}")
        z = self.conv_blocks(x)  # (B, F_c, T', F')
        b, ch, t, f = z.shape
        z = z.transpose(1, 2).reshape(b, t, ch * f)  # (B, T', F_c·F')
        z, _ = self.gru(z)  # (B, T', 2·H)
        z = torch.tanh(z)
        h = c.rnn_hidden
        z = z[:, :, h:] * z[:, :, :h]  # gate: backward half times forward half -> (B, T', H)
        for attn, norm in zip(self.mhsa, self.norms):
            res = z
            z, _ = attn(z, z, z, need_weights=False)
            z = norm(z + res)
        z = self.out(self.fnn(z))  # (B, T', 3·3·13)
        z = z.view(b, t, c.n_tracks, c.n_elements, c.n_classes)
        xy = torch.tanh(z[:, :, :, 0:2])
        dist = torch.relu(z[:, :, :, 2:3])
        return {"accdoa": torch.cat([xy, dist], dim=3)}
