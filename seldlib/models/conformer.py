"""Conformer block with Shaw relative positional self-attention.

Layout (Gulati et al., Interspeech 2020; settings of ``models/conformer.py`` in the NERC-SLIP group code
``yxdong0320/Solution_on_3D_SELD``; ``docs/networks.md#conformer-block``), pre-norm macaron style::

    x = x + ½·FF1(LN x)
    x = x + MHSA(LN x)          # Shaw relative positions, no absolute encoding
    x = x + ConvModule(x)       # the module starts with its own LayerNorm
    x = x + ½·FF2(LN x)
    x = LN_post(x)

All tensors are batch-first: ``(batch, time, d_model)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = [
    "ConformerConfig",
    "FeedForward",
    "RelPosMultiHeadAttention",
    "ConvModule",
    "ConformerBlock",
]


@dataclass(frozen=True)
class ConformerConfig:
    """Hyper-parameters of one Conformer block (defaults: the NERC-SLIP paper values).

    Attributes:
        d_model: model width.
        n_heads: attention heads.
        dim_head: width of each head; the attention inner width is ``n_heads * dim_head``.
        ff_mult: feed-forward hidden width = ``ff_mult * d_model``.
        conv_expansion: ConvModule inner width = ``conv_expansion * d_model``.
        conv_kernel: depthwise kernel size (odd, "same" padding).
        dropout: dropout of attention weights, FF and ConvModule.
        max_rel_pos: relative distances are clipped to ``[-max_rel_pos, max_rel_pos]``.
    """

    d_model: int = 256
    n_heads: int = 8
    dim_head: int = 32
    ff_mult: int = 2
    conv_expansion: int = 2
    conv_kernel: int = 7
    dropout: float = 0.1
    max_rel_pos: int = 512

    def __post_init__(self) -> None:
        if self.conv_kernel % 2 != 1:
            raise ValueError(f"conv_kernel must be odd for 'same' padding, got {self.conv_kernel}")
        if self.max_rel_pos < 1:
            raise ValueError(f"max_rel_pos must be >= 1, got {self.max_rel_pos}")


class FeedForward(nn.Module):
    """LN → Linear(d, m·d) → Swish → Dropout → Linear(m·d, d) → Dropout.

    Shape: ``(B, T, d) -> (B, T, d)``. The LayerNorm is part of this module (pre-norm).
    """

    def __init__(self, d_model: int, mult: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.net = nn.Sequential(
            nn.Linear(d_model, d_model * mult),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Linear(d_model * mult, d_model),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(self.norm(x))


class RelPosMultiHeadAttention(nn.Module):
    """LN → multi-head self-attention with Shaw et al. (2018) relative position logits.

    For query ``i`` and key ``j`` the logit is ``scale · q_i·(k_j + r_{clip(i-j)})`` where ``r`` is a
    learned table of ``2·max_rel_pos + 1`` vectors of size ``dim_head`` shared by all heads, and
    ``scale = dim_head^-0.5``. q, k and v projections have no bias; the output projection has one.

    Shape: ``(B, T, d) -> (B, T, d)``.
    """

    def __init__(self, d_model: int, n_heads: int, dim_head: int, dropout: float, max_rel_pos: int) -> None:
        super().__init__()
        inner = n_heads * dim_head
        self.n_heads = n_heads
        self.dim_head = dim_head
        self.scale = dim_head**-0.5
        self.max_rel_pos = max_rel_pos
        self.norm = nn.LayerNorm(d_model)
        self.to_q = nn.Linear(d_model, inner, bias=False)
        self.to_k = nn.Linear(d_model, inner, bias=False)
        self.to_v = nn.Linear(d_model, inner, bias=False)
        self.rel_pos_emb = nn.Embedding(2 * max_rel_pos + 1, dim_head)
        self.attn_drop = nn.Dropout(dropout)
        self.to_out = nn.Linear(inner, d_model)
        self.out_drop = nn.Dropout(dropout)

    def _split(self, x: Tensor) -> Tensor:
        # (B, T, H·Dh) -> (B, H, T, Dh)
        b, t, _ = x.shape
        return x.view(b, t, self.n_heads, self.dim_head).transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:
        b, t, _ = x.shape
        h = self.norm(x)
        q, k, v = self._split(self.to_q(h)), self._split(self.to_k(h)), self._split(self.to_v(h))

        logits = torch.matmul(q, k.transpose(-1, -2)) * self.scale  # (B, H, T, T)

        pos = torch.arange(t, device=x.device)
        rel = (pos[:, None] - pos[None, :]).clamp(-self.max_rel_pos, self.max_rel_pos) + self.max_rel_pos
        rel_emb = self.rel_pos_emb(rel)  # (T, T, Dh)
        logits = logits + torch.einsum("bhid,ijd->bhij", q, rel_emb) * self.scale

        attn = self.attn_drop(logits.softmax(dim=-1))
        out = torch.matmul(attn, v)  # (B, H, T, Dh)
        out = out.transpose(1, 2).reshape(b, t, self.n_heads * self.dim_head)
        return self.out_drop(self.to_out(out))


class ConvModule(nn.Module):
    """LN → pointwise Conv1d(d, 2·e·d) → GLU → depthwise Conv1d(e·d, k) → BN → Swish → pointwise → Dropout.

    ``e`` is ``conv_expansion``. Shape: ``(B, T, d) -> (B, T, d)``.
    """

    def __init__(self, d_model: int, expansion: int, kernel: int, dropout: float) -> None:
        super().__init__()
        inner = d_model * expansion
        self.norm = nn.LayerNorm(d_model)
        self.pointwise_in = nn.Conv1d(d_model, 2 * inner, kernel_size=1)
        self.glu = nn.GLU(dim=1)
        self.depthwise = nn.Conv1d(inner, inner, kernel_size=kernel, padding=kernel // 2, groups=inner)
        self.bn = nn.BatchNorm1d(inner)
        self.act = nn.SiLU()
        self.pointwise_out = nn.Conv1d(inner, d_model, kernel_size=1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm(x).transpose(1, 2)  # Conv1d wants (B, d, T)
        h = self.glu(self.pointwise_in(h))
        h = self.act(self.bn(self.depthwise(h)))
        h = self.drop(self.pointwise_out(h))
        return h.transpose(1, 2)


class ConformerBlock(nn.Module):
    """One Conformer block: ½FF → MHSA → Conv → ½FF → LN. Shape: ``(B, T, d) -> (B, T, d)``."""

    def __init__(self, config: ConformerConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.ff1 = FeedForward(c.d_model, c.ff_mult, c.dropout)
        self.attn = RelPosMultiHeadAttention(c.d_model, c.n_heads, c.dim_head, c.dropout, c.max_rel_pos)
        self.conv = ConvModule(c.d_model, c.conv_expansion, c.conv_kernel, c.dropout)
        self.ff2 = FeedForward(c.d_model, c.ff_mult, c.dropout)
        self.post_norm = nn.LayerNorm(c.d_model)

    def forward(self, x: Tensor) -> Tensor:
        x = x + 0.5 * self.ff1(x)
        x = x + self.attn(x)
        x = x + self.conv(x)
        x = x + 0.5 * self.ff2(x)
        return self.post_norm(x)
