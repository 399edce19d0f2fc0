"""ResNet-Conformer (NERC-SLIP) with SED-DOA, SED-SDE or SED-SCE output heads.

Data flow for the paper configuration and a stereo log-mel input (NERC-SLIP group code
``yxdong0320/Solution_on_3D_SELD``, ``models/resnet.py`` / ``models/resnet_conformer_audio.py``;
``docs/networks.md#resnet-conformer``)::

    (B, 2, T, 64)         T = 250 or 251 feature frames (20 ms)
    stem conv3x3 → 24     (B, 24, T, 64)
    layer1 (24)  + pool(1,4)  (B, 24, T, 16)
    layer2 (48)  + pool(1,4)  (B, 48, T, 4)
    layer3 (96)  + pool(1,2)  (B, 96, T, 2)
    layer4 (192)              (B, 192, T, 2)
    conv1x1 → 256             (B, 256, T, 2)
    permute, flatten C·F      (B, T, 512)
    Linear → 256 + Dropout    (B, T, 256)
    8 × Conformer             (B, T, 256)
    MaxPool1d(5) over time    (B, 50, 256)   floor(251 / 5) = 50
    heads                     (B, 50, 13) [+ (B, 50, 13, 2) or (B, 50, 13)]

The paper's ResNet never pools time ("nopool" variant); the 20 ms → 100 ms step is the final MaxPool1d.
``trunk_time_pool = 5`` instead pools time with the first frequency pool, (5, 4) after layer 1, as the
group code's ``ResNet`` variant (``models/resnet.py``) and the official baseline's CNN do: layers 2–4 and
the Conformer then run at the label rate, 50 frames, and the final pool is the identity. The embedded
default uses it because it trains about 3× faster on a CPU (``docs/networks.md#time-pooling``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from torch import Tensor, nn

from seldlib.models.conformer import ConformerBlock, ConformerConfig

__all__ = [
    "OUTPUT_KINDS",
    "ResNetConformerConfig",
    "BasicBlock",
    "ResNetTrunk",
    "ResNetConformer",
    "paper_config",
    "small_config",
]

OUTPUT_KINDS: tuple[str, ...] = ("sed_doa", "sed_sde", "sed_sce")


@dataclass(frozen=True)
class ResNetConformerConfig:
    """Configuration of :class:`ResNetConformer`; the defaults are the paper (NERC-SLIP) values.

    Attributes:
        in_channels: input feature channels (2 stereo log-mel channels).
        n_mels: mel bins; must be divisible by ``prod(freq_pools)``.
        resnet_channels: channels of ResNet layers 1–4 (2 BasicBlocks each).
        freq_pools: frequency max-pool factors after layers 1, 2 and 3 (the first also pools
            ``trunk_time_pool`` frames over time).
        embed_channels: output channels of the 1×1 conv after layer 4.
        d_model, n_heads, dim_head, ff_mult, conv_expansion, conv_kernel, max_rel_pos: Conformer settings.
        n_blocks: number of Conformer blocks.
        dropout: Conformer dropout (attention, FF, ConvModule).
        input_dropout: dropout after the input projection to ``d_model``.
        time_pool: feature frames per label frame (5: 20 ms → 100 ms).
        trunk_time_pool: the share of ``time_pool`` taken inside the ResNet, with the first frequency pool
            (1: the paper's "nopool" trunk; 5: the trunk ends at the label rate); must divide ``time_pool``.
        n_classes: sound event classes.
        head_hidden: hidden width of every output head.
        output: "sed_doa" | "sed_sde" | "sed_sce".
    """

    in_channels: int = 2
    n_mels: int = 64
    resnet_channels: tuple[int, int, int, int] = (24, 48, 96, 192)
    freq_pools: tuple[int, int, int] = (4, 4, 2)
    embed_channels: int = 256
    d_model: int = 256
    n_heads: int = 8
    dim_head: int = 32
    ff_mult: int = 2
    conv_expansion: int = 2
    conv_kernel: int = 7
    max_rel_pos: int = 512
    n_blocks: int = 8
    dropout: float = 0.1
    input_dropout: float = 0.05
    time_pool: int = 5
    trunk_time_pool: int = 1
    n_classes: int = 13
    head_hidden: int = 256
    output: str = "sed_doa"

    def __post_init__(self) -> None:
        # YAML gives lists; keep the dataclass hashable and comparable.
        object.__setattr__(self, "resnet_channels", tuple(int(c) for c in self.resnet_channels))
        object.__setattr__(self, "freq_pools", tuple(int(p) for p in self.freq_pools))
        if self.output not in OUTPUT_KINDS:
            raise ValueError(f"output must be one of {OUTPUT_KINDS}, got {self.output!r}")
        if len(self.resnet_channels) != 4 or len(self.freq_pools) != 3:
            raise ValueError("resnet_channels needs 4 entries and freq_pools 3 entries")
        if self.n_mels % math.prod(self.freq_pools) != 0:
            raise ValueError(f"n_mels={self.n_mels} is not divisible by prod(freq_pools)={math.prod(self.freq_pools)}")
        if self.trunk_time_pool < 1 or self.time_pool % self.trunk_time_pool != 0:
            raise ValueError(
                f"trunk_time_pool must be a divisor of time_pool={self.time_pool}, got {self.trunk_time_pool}"
            )

    @property
    def pooled_freq(self) -> int:
        """Frequency bins left after the ResNet (64 / 32 = 2 for the paper config)."""
        return self.n_mels // math.prod(self.freq_pools)

    @property
    def head_time_pool(self) -> int:
        """The time pool left after the Conformer: ``time_pool // trunk_time_pool``."""
        return self.time_pool // self.trunk_time_pool

    def conformer(self) -> ConformerConfig:
        """The per-block Conformer configuration."""
        return ConformerConfig(
            d_model=self.d_model,
            n_heads=self.n_heads,
            dim_head=self.dim_head,
            ff_mult=self.ff_mult,
            conv_expansion=self.conv_expansion,
            conv_kernel=self.conv_kernel,
            dropout=self.dropout,
            max_rel_pos=self.max_rel_pos,
        )

    @classmethod
    def paper_config(cls, output: str = "sed_doa") -> ResNetConformerConfig:
        """The NERC-SLIP configuration (about 11.7 M parameters)."""
        return cls(output=output)

    @classmethod
    def small_config(cls, output: str = "sed_doa") -> ResNetConformerConfig:
        """A CPU-friendly configuration with the same structure (442,919 parameters for SED-DOA)."""
        return replace(
            cls(output=output),
            resnet_channels=(16, 32, 48, 64),
            embed_channels=64,
            d_model=64,
            n_heads=4,
            dim_head=16,
            n_blocks=2,
            max_rel_pos=64,
            head_hidden=64,
        )


def paper_config(output: str = "sed_doa") -> ResNetConformerConfig:
    """Shortcut for :meth:`ResNetConformerConfig.paper_config`."""
    return ResNetConformerConfig.paper_config(output)


def small_config(output: str = "sed_doa") -> ResNetConformerConfig:
    """Shortcut for :meth:`ResNetConformerConfig.small_config`."""
    return ResNetConformerConfig.small_config(output)


class BasicBlock(nn.Module):
    """torchvision-style BasicBlock, stride 1: conv3×3-BN-ReLU-conv3×3-BN + shortcut, ReLU.

    The shortcut is a 1×1 conv + BN when the channel count changes. Shape: ``(B, C_in, T, F) -> (B, C_out, T, F)``.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNetTrunk(nn.Module):
    """ResNet-18-style trunk, ending in a 1×1 conv (no BN, no activation).

    Shape: ``(B, in_channels, T, n_mels) -> (B, embed_channels, T // trunk_time_pool, pooled_freq)``, e.g.
    ``(B, 2, 250, 64) -> (B, 256, 250, 2)`` for the paper's trunk, which never pools time.
    """

    def __init__(self, config: ResNetConformerConfig) -> None:
        super().__init__()
        c1, c2, c3, c4 = config.resnet_channels
        self.stem = nn.Sequential(
            nn.Conv2d(config.in_channels, c1, 3, padding=1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(inplace=True)
        )
        self.layer1 = nn.Sequential(BasicBlock(c1, c1), BasicBlock(c1, c1))
        self.pool1 = nn.MaxPool2d((config.trunk_time_pool, config.freq_pools[0]))
        self.layer2 = nn.Sequential(BasicBlock(c1, c2), BasicBlock(c2, c2))
        self.pool2 = nn.MaxPool2d((1, config.freq_pools[1]))
        self.layer3 = nn.Sequential(BasicBlock(c2, c3), BasicBlock(c3, c3))
        self.pool3 = nn.MaxPool2d((1, config.freq_pools[2]))
        self.layer4 = nn.Sequential(BasicBlock(c3, c4), BasicBlock(c4, c4))
        self.conv5 = nn.Conv2d(c4, config.embed_channels, 1, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        x = self.pool1(self.layer1(x))
        x = self.pool2(self.layer2(x))
        x = self.pool3(self.layer3(x))
        x = self.layer4(x)
        return self.conv5(x)


def _mlp_head(d_in: int, hidden: int, d_out: int, nonlinear: bool = True) -> nn.Sequential:
    """Linear → [LeakyReLU(0.01)] → Linear; the final activation is applied by the caller."""
    if nonlinear:
        return nn.Sequential(nn.Linear(d_in, hidden), nn.LeakyReLU(), nn.Linear(hidden, d_out))
    return nn.Sequential(nn.Linear(d_in, hidden), nn.Linear(hidden, d_out))


class ResNetConformer(nn.Module):
    """ResNet-Conformer SELD model with class-wise outputs (one track per class).

    Input: log-mel features ``(B, in_channels, T, n_mels)``, e.g. ``(B, 2, 251, 64)``.
    Output dict, with ``T' = T // time_pool`` (50 for T = 250 or 251) and ``T_c = T // trunk_time_pool``:

    - always ``"sed"`` ``(B, T', 13)`` sigmoid probabilities and ``"sed_logits"`` ``(B, T', 13)``;
    - ``output="sed_doa"``: ``"doa"`` ``(B, T', 13, 2)`` = tanh (cos az, sin az) per class;
    - ``output="sed_sde"``: ``"dist"`` ``(B, T', 13)`` metres, ReLU;
    - ``output="sed_sce"``: ``"sce"`` ``(B, T', 13, 2)`` = (x·d, y·d) in metres, linear;
    - always ``"hidden"`` ``(B, T_c, d_model)``: the Conformer output before time pooling (for hidden-state
      distillation).
    """

    def __init__(self, config: ResNetConformerConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ResNetConformerConfig()
        self.trunk = ResNetTrunk(config)
        self.input_projection = nn.Sequential(
            nn.Linear(config.embed_channels * config.pooled_freq, config.d_model), nn.Dropout(config.input_dropout)
        )
        block_cfg = config.conformer()
        self.blocks = nn.ModuleList(ConformerBlock(block_cfg) for _ in range(config.n_blocks))
        self.time_pool = nn.MaxPool1d(config.head_time_pool)

        d, h, n = config.d_model, config.head_hidden, config.n_classes
        self.sed_head = _mlp_head(d, h, n)
        if config.output == "sed_doa":
            self.doa_head = _mlp_head(d, h, 2 * n)
        elif config.output == "sed_sde":
            self.dist_head = _mlp_head(d, h, n)
        else:  # sed_sce: two Linear layers with nothing between them (MVANet code)
            self.sce_head = _mlp_head(d, h, 2 * n, nonlinear=False)

    def forward_features(self, x: Tensor) -> Tensor:
        """Conformer output before time pooling: ``(B, C, T, F) -> (B, T // trunk_time_pool, d_model)``."""
        if x.dim() != 4 or x.shape[1] != self.config.in_channels or x.shape[3] != self.config.n_mels:
            raise ValueError(
                f"expected input (B, {self.config.in_channels}, T, {self.config.n_mels}), got {tuple(x.shape)}"
            )
        z = self.trunk(x)  # (B, C', T_c, F')
        b, c, t, f = z.shape
        z = z.permute(0, 2, 1, 3).reshape(b, t, c * f)  # channel-major flatten, as the reference
        z = self.input_projection(z)
        for block in self.blocks:
            z = block(z)
        return z

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        hidden = self.forward_features(x)
        z = self.time_pool(hidden.transpose(1, 2)).transpose(1, 2)  # (B, T', d)
        b, t, _ = z.shape
        n = self.config.n_classes
        logits = self.sed_head(z)
        out = {"sed_logits": logits, "sed": logits.sigmoid(), "hidden": hidden}
        if self.config.output == "sed_doa":
            # axis-major flat layout as the reference (x×13 then y×13) -> (B, T', 13, 2)
            out["doa"] = self.doa_head(z).tanh().view(b, t, 2, n).transpose(2, 3)
        elif self.config.output == "sed_sde":
            out["dist"] = self.dist_head(z).relu()
        else:
            out["sce"] = self.sce_head(z).view(b, t, 2, n).transpose(2, 3)
        return out
