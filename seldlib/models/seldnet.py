"""The official DCASE2025 Task 3 baseline SELDnet, audio-only and audio-visual, with multi-ACCDOA + distance
(+ on-screen) output.

Same architecture as ``model.py`` of ``partha2409/DCASE2025_seld_baseline`` (``docs/networks.md#seldnet-baseline``,
``docs/networks.md#baseline-av``)::

    (B, 2, T, 64)                         T = 250 or 251
    3 × [conv3x3(64)-BN-ReLU-MaxPool-Dropout2d]   pools (5,4), (1,4), (1,2)  -> (B, 64, 50, 2)
    transpose + flatten                   (B, 50, 128)
    BiGRU, 2 layers, hidden 128           (B, 50, 256)
    tanh, backward half * forward half    (B, 50, 128)
    2 × [MHSA(128, 8 heads) + residual, LayerNorm]   (B, 50, 128)
    AV only: video (B, 50, 7, 7) → (B, 50, 49) → Linear(49, 128) = memory
    AV only: TransformerDecoder, 2 × TransformerDecoderLayer(128, 8 heads, FFN 2048, dropout 0.1, ReLU, post-norm),
             tgt = audio sequence, memory = video sequence, no masks, no positional encoding   (B, 50, 128)
    Linear(128,128) (no activation) → Linear(128, 117 | 156)
    reshape                               (B, 50, 3 tracks, E elements (x, y, dist[, onscreen]), 13)

Activations: tanh on x and y, ReLU on distance (metres), sigmoid on the on-screen logit (AV).
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
        video: audio-visual model (the official ``modality = 'audio_visual'``): fuses a per-frame video
            feature and adds an on-screen output per track and class.
        video_dim: video feature size per frame (the official 7 × 7 ResNet-50 channel-mean map = 49).
        fusion_layers, fusion_heads, fusion_ffn, fusion_dropout: the ``nn.TransformerDecoder`` fusion
            (``nn.TransformerDecoderLayer`` defaults: FFN 2048, dropout 0.1).
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
    video: bool = False
    video_dim: int = 49
    fusion_layers: int = 2
    fusion_heads: int = 8
    fusion_ffn: int = 2048
    fusion_dropout: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "t_pools", tuple(int(p) for p in self.t_pools))
        object.__setattr__(self, "f_pools", tuple(int(p) for p in self.f_pools))
        if len(self.t_pools) != len(self.f_pools):
            raise ValueError("t_pools and f_pools must have the same length")
        if self.n_mels % math.prod(self.f_pools) != 0:
            raise ValueError(f"n_mels={self.n_mels} is not divisible by prod(f_pools)={math.prod(self.f_pools)}")

    @property
    def n_elements(self) -> int:
        """Elements per track and class: x, y, distance (+ on-screen for the AV model)."""
        return 4 if self.video else 3

    @classmethod
    def small_config(cls) -> SELDnetConfig:
        """A lighter configuration for fast CPU tests (same structure)."""
        return cls(conv_filters=16, rnn_hidden=32, mhsa_heads=4, fnn_size=32)

    @classmethod
    def av_config(cls) -> SELDnetConfig:
        """The official audio-visual baseline (2,064,348 parameters, see :class:`SELDnet`)."""
        return cls(video=True)

    @classmethod
    def small_av_config(cls) -> SELDnetConfig:
        """:meth:`small_config` with the audio-visual fusion (4 heads, FFN 64)."""
        return cls(conv_filters=16, rnn_hidden=32, mhsa_heads=4, fnn_size=32, video=True, fusion_heads=4, fusion_ffn=64)


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
    """Baseline CRNN + MHSA with multi-ACCDOA output, optionally fused with video (``config.video``).

    Input ``(B, 2, T, 64)`` (and, for the AV model, video ``(B, T', 7, 7)`` or ``(B, T', 49)``); output
    ``{"accdoa": (B, T', 3, 3, 13)}`` with ``T' = T // prod(t_pools)`` (50 for T = 250 or 251); element
    axis = (x, y, dist), x and y in [-1, 1], dist ≥ 0 metres. The AV model adds ``"onscreen"`` (sigmoid)
    and ``"onscreen_logits"``, both ``(B, T', 3, 13)``. The output Linear's flat index is
    ``track·(E·13) + element·13 + class`` with E = 3 (audio) or 4 (AV: x, y, dist, onscreen).

    Parameters: audio 734,261 (the official count); AV 2,064,348 = 734,261 − 15,093 (Linear(128, 117))
    + 6,400 (Linear(49, 128)) + 2 × 659,328 (decoder layers) + 20,124 (Linear(128, 156)). The official
    AV model reports 2,723,676 = 2,064,348 + 659,328: its ``model.py`` keeps the template layer as
    ``self.transformer_decoder_layer`` besides the two deep copies inside ``nn.TransformerDecoder``, so
    one unused decoder layer is counted (it never runs and never receives a gradient); it is not built here.
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
        if config.video:
            # built before the FNN, as the official model, so the seeded RNG is consumed in the same order
            self.video_embed = nn.Linear(config.video_dim, d)
            layer = nn.TransformerDecoderLayer(
                d, config.fusion_heads, config.fusion_ffn, config.fusion_dropout, batch_first=True
            )  # post-norm, ReLU (torch defaults)
            # TransformerDecoder deep-copies the template; keeping it as a module would add dead parameters
            self.fusion = nn.TransformerDecoder(layer, config.fusion_layers)
        fnn = []
        for i in range(config.n_fnn):
            fnn.append(nn.Linear(d if i == 0 else config.fnn_size, config.fnn_size))
        self.fnn = nn.Sequential(*fnn)
        last_in = config.fnn_size if config.n_fnn > 0 else d
        self.out = nn.Linear(last_in, config.n_tracks * config.n_elements * config.n_classes)

    def forward(self, x: Tensor, video: Tensor | None = None) -> dict[str, Tensor]:
        c = self.config
        if x.dim() != 4 or x.shape[1] != c.in_channels or x.shape[3] != c.n_mels:
            raise ValueError(f"expected input (B, {c.in_channels}, T, {c.n_mels}), got {tuple(x.shape)}")
        if c.video and video is None:
            raise ValueError("the audio-visual SELDnet needs video features (B, T', 7, 7) or (B, T', 49)")
        if not c.video and video is not None:
            raise ValueError("this SELDnet is audio-only (config.video = False) but was given video features")
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
        if video is not None:
            z = self.fusion(z, self._video_memory(video, b, t))  # tgt = audio, memory = video
        z = self.out(self.fnn(z))  # (B, T', 3·E·13)
        z = z.view(b, t, c.n_tracks, c.n_elements, c.n_classes)
        xy = torch.tanh(z[:, :, :, 0:2])
        dist = torch.relu(z[:, :, :, 2:3])
        out = {"accdoa": torch.cat([xy, dist], dim=3)}
        if c.video:
            logits = z[:, :, :, 3]  # (B, T', 3, 13)
            out["onscreen_logits"] = logits
            out["onscreen"] = torch.sigmoid(logits)
        return out

    def _video_memory(self, video: Tensor, b: int, t: int) -> Tensor:
        """``(B, T', 7, 7)`` or ``(B, T', 49)`` video features → embedded memory ``(B, T', H)``."""
        c = self.config
        if video.dim() not in (3, 4) or tuple(video.shape[:2]) != (b, t) or math.prod(video.shape[2:]) != c.video_dim:
            raise ValueError(
                f"expected video features ({b}, {t}, {c.video_dim}) or ({b}, {t}, 7, 7) for audio batch {b} "
                f"with {t} output frames, got {tuple(video.shape)}"
            )
        return self.video_embed(video.reshape(b, t, c.video_dim))
