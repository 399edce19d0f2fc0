"""MVANet: multi-stage video attention network for audio-visual SELD, SED-SCE heads plus an on-screen branch.

Hong et al., "MVANet: multi-stage video attention network for sound event localization and detection
with source distance estimation", ICASSP 2025 (arXiv 2411.14153); official code ``Hong-Hengyi/MVANet-SELD``,
``models/resnet_conformer_audio.py``, class ``ResnetConformer_sed_coord_resnet50_medium_4_guided_m_1_weight_offline``
(network) and ``AudioVisualAttentionNetwork_weight`` (:class:`AVAM`); ``docs/networks.md#mvanet``.

Data flow of the paper preset for a stereo log-mel input and the 7×7 ResNet-50 video map per 100 ms frame
(N = T // 5 = 50 video frames; audio frames 5n … 5n+4 belong to video frame n)::

    features (B, 2, T, 64), T = 250 or 251       video (B, 50, 7, 7) → flatten (B, 50, 49)
    ResNet trunk, permute, flatten   A0 (B, T, 512)
    stage m:  v = AVAM_m(AvgPool1d(5)(A0) (B, 50, 512), video) (B, 50, 49) → Linear(49→256) → V (B, 50, 256)
              X = Linear(512→256) + Dropout(A0)                                            X (B, T, 256)
    stage s = 1..3:  X ← 2 Conformer blocks (B, T, 256);  V ← 2 Conformer blocks (B, 50, 256)
                     V ← AVAM_s(AvgPool1d(5)(X) (B, 50, 256), V) (B, 50, 256)
    fusion:   X ← X + repeat each V vector 5× along time (B, 250, 256), the last one repeated again up to T
              X ← 2 Conformer blocks = "hidden" (B, T, 256)
              MaxPool1d(5) (B, 50, 256)    floor(251 / 5) = 50
    heads:    SED Linear-LeakyReLU-Linear (B, 50, 13) sigmoid; SCE Linear-Linear (B, 50, 26) → (B, 50, 13, 2) metres;
              ONS Linear-LeakyReLU-Linear (B, 50, 13) sigmoid (``onscreen=True``; not in the official code)

With ``trunk_time_pool = 5`` (the embedded default, :class:`ResNetConformerConfig`) the trunk already ends
at 50 frames, so the audio stream runs at the video rate: the AvgPool1d, the repeat and the MaxPool1d
above are all identities.

The video never enters the audio stream before the fusion add, so the audio path is an audio-only
SED-SCE :class:`ResNetConformer` (same trunk, projection and 2+2+2+2 = 8 Conformer blocks) with the
video added before its last two blocks; :func:`init_from_audio` copies such a model's weights:

    ==========================  ===========================================================
    ResNetConformer key         MVANet key
    ==========================  ===========================================================
    ``trunk.*``                 ``trunk.*`` (BatchNorm running statistics included)
    ``input_projection.*``      ``audio_projection.*``
    ``blocks.{i}.*``            ``audio_stages.{s}.{j}.*`` for the first ``sum(audio_blocks[:3])``
                                blocks, in order (stage s, position j), then ``fusion_blocks.{j}.*``
    ``sed_head.*``              ``sed_head.*``
    ``sce_head.*``              ``sce_head.*``
    ==========================  ===========================================================

``avam_m``, ``video_projection``, ``video_stages``, ``avams`` and ``ons_head`` keep their fresh initialisation.

``avam_mode``: the official AVAM returns its gate w = σ(…) ∈ (0, 1)^Dk and the network uses w itself as the
next video feature ("w"); "wv" returns w ⊙ v, the gated video feature that the name "attention" suggests.

Size (trainable parameters, paper preset): 20,383,899 with the ONS head, 20,314,766 without it. The official
class has 20,318,107: the Conformer blocks, trunk and AVAMs here have exactly the official counts
(1,223,200 per block), and the difference is the SCE head's output, 26 = (x, y) × 13 for stereo instead
of the official 39 = (x, y, z) × 13 (−13·257 = −3,341), plus the ONS head (+69,133).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor, nn

from seldlib.models.conformer import ConformerBlock, ConformerConfig
from seldlib.models.resnet_conformer import ResNetConformer, ResNetConformerConfig, ResNetTrunk, _mlp_head

__all__ = ["AVAM_MODES", "VIDEO_NORMS", "AVAM", "direction_readout", "MVANetConfig", "MVANet", "init_from_audio"]

AVAM_MODES: tuple[str, ...] = ("w", "wv")
VIDEO_NORMS: tuple[str, ...] = ("none", "clip")

# ResNetConformerConfig fields that do not change weights or their meaning, so they may differ for init_from_audio
_FREE_FIELDS = frozenset({"dropout", "input_dropout"})


@dataclass(frozen=True)
class MVANetConfig:
    """Configuration of :class:`MVANet`; the defaults are the official MVANet values.

    Attributes:
        in_channels, n_mels, resnet_channels, freq_pools, embed_channels: the ResNet trunk
            (:class:`ResNetConformerConfig`).
        d_model, n_heads, dim_head, ff_mult, conv_expansion, conv_kernel, max_rel_pos, dropout: every Conformer block.
        input_dropout: dropout after the audio projection to ``d_model``.
        time_pool: feature frames per video / label frame.
        trunk_time_pool: the share of ``time_pool`` taken inside the ResNet trunk (:class:`ResNetConformerConfig`);
            the rest, ``time_pool // trunk_time_pool`` audio-stream frames per video frame, is the AvgPool1d
            before each AVAM, the repeat of the fusion and the MaxPool1d before the heads (1: none of them).
        n_classes: sound event classes.
        head_hidden: hidden width of every output head.
        video_grid: values per video frame (7×7 = 49 channel-mean ResNet-50 map, flattened).
        audio_blocks: Conformer blocks of the audio stream in stages 1–3 and after the fusion.
        video_blocks: Conformer blocks of the video stream in stages 1–3.
        avam_mode: "w" (AVAM returns its gate, as the official code) or "wv" (returns gate ⊙ video).
        video_norm: "none" (the maps as given, the official code) or "clip": every cell of the map minus
            its mean over the input's frames (a background subtraction: what moves or appears stands
            out; ``docs/networks.md#mvanet``).
        avam_dropout: dropout inside every AVAM.
        onscreen: add the on-screen (ONS) head.
        ons_readout: also feed the ONS head, per class, the video cells along the column its predicted
            direction projects to (:func:`direction_readout`; not in MVANet, ``docs/networks.md#on-screen-head``).
        video_hfov_deg: the horizontal field of view the video map's columns span (``ons_readout``; the
            full frame of ``features.video.full_fov``).
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
    dropout: float = 0.1
    input_dropout: float = 0.05
    time_pool: int = 5
    trunk_time_pool: int = 1
    n_classes: int = 13
    head_hidden: int = 256
    video_grid: int = 49
    audio_blocks: tuple[int, int, int, int] = (2, 2, 2, 2)
    video_blocks: tuple[int, int, int] = (2, 2, 2)
    avam_mode: str = "w"
    video_norm: str = "none"
    avam_dropout: float = 0.05
    onscreen: bool = True
    ons_readout: bool = False
    video_hfov_deg: float = 100.0

    def __post_init__(self) -> None:
        # YAML gives lists; keep the dataclass hashable and comparable.
        for name in ("resnet_channels", "freq_pools", "audio_blocks", "video_blocks"):
            object.__setattr__(self, name, tuple(int(c) for c in getattr(self, name)))
        if len(self.audio_blocks) != 4 or len(self.video_blocks) != 3:
            raise ValueError(
                f"audio_blocks needs 4 entries and video_blocks 3, got {self.audio_blocks} and {self.video_blocks}"
            )
        if min(self.audio_blocks + self.video_blocks) < 0:
            raise ValueError(f"block counts must be >= 0, got {self.audio_blocks} and {self.video_blocks}")
        if self.avam_mode not in AVAM_MODES:
            raise ValueError(f"avam_mode must be one of {AVAM_MODES}, got {self.avam_mode!r}")
        if self.video_norm not in VIDEO_NORMS:
            raise ValueError(f"video_norm must be one of {VIDEO_NORMS}, got {self.video_norm!r}")
        if self.ons_readout and not self.onscreen:
            raise ValueError("ons_readout needs the on-screen head (onscreen: true)")
        if not 0.0 < self.video_hfov_deg < 180.0:
            raise ValueError(f"video_hfov_deg must be in (0, 180), got {self.video_hfov_deg}")
        if self.video_grid < 1 or self.time_pool < 1:
            raise ValueError(f"video_grid and time_pool must be >= 1, got {self.video_grid} and {self.time_pool}")
        self.conformer()  # validates the trunk and Conformer fields

    def audio_config(self) -> ResNetConformerConfig:
        """The audio-only SED-SCE :class:`ResNetConformer` whose weights fit the audio path (:func:`init_from_audio`).

        Its trunk settings also build MVANet's trunk.
        """
        shared = {f.name for f in fields(ResNetConformerConfig)} - {"n_blocks", "output"}
        return ResNetConformerConfig(
            **{name: getattr(self, name) for name in shared}, n_blocks=sum(self.audio_blocks), output="sed_sce"
        )

    def conformer(self) -> ConformerConfig:
        """The per-block Conformer configuration (audio and video streams)."""
        return self.audio_config().conformer()

    @classmethod
    def paper_config(cls) -> MVANetConfig:
        """The official MVANet configuration plus the ONS head (20,383,899 parameters)."""
        return cls()

    @classmethod
    def small_config(cls) -> MVANetConfig:
        """A CPU-friendly configuration with the same structure, widths as ``ResNetConformerConfig.small_config``."""
        return replace(
            cls(),
            resnet_channels=(16, 32, 48, 64),
            embed_channels=64,
            d_model=64,
            n_heads=4,
            dim_head=16,
            max_rel_pos=64,
            head_hidden=64,
            # 2 audio blocks as the small audio ResNet-Conformer (its SED-SCE initialises this path): one
            # before the video joins, one after the fusion add; stages 2 and 3 keep their video block and AVAM
            audio_blocks=(1, 0, 0, 1),
            video_blocks=(1, 1, 1),
        )


def direction_readout(maps: Tensor, sce: Tensor, hfov_deg: float) -> Tensor:
    """The video cells along the column where each class-frame's predicted direction projects.

    A pinhole camera looking along +x with ``hfov_deg`` across the map's width: azimuth a (positive
    left, ``atan2(y, x)`` of the SCE vector) lands at normalised column position ``-tan(a) / tan(hfov/2)``
    (-1 = left edge, +1 = right edge); the column value is interpolated linearly between the two
    nearest cell centres. Directions outside the field of view, or behind the camera, read zeros.
    Stereo gives no elevation, so every row of the column is returned.

    Args:
        maps: ``(B, N, H, W)`` video maps.
        sce: ``(B, N, C, 2)`` (x, y) vectors per class-frame (only their direction is used).

    Returns:
        ``(B, N, C, H)``.
    """
    b, n, h, w = maps.shape
    az = torch.atan2(sce[..., 1], sce[..., 0])  # (B, N, C)
    in_front = az.abs() < math.pi / 2 - 1e-3
    x = -torch.tan(torch.where(in_front, az, torch.zeros_like(az))) / math.tan(math.radians(hfov_deg) / 2)
    u = (x + 1.0) * (w / 2.0) - 0.5  # cell centres at 0 .. W-1
    inside = in_front & (x >= -1.0) & (x <= 1.0)
    u = u.clamp(0.0, w - 1.0)
    left = u.floor().long().clamp(max=w - 2) if w > 1 else torch.zeros_like(u, dtype=torch.long)
    frac = (u - left).unsqueeze(-1) if w > 1 else torch.zeros_like(u).unsqueeze(-1)
    columns = maps.transpose(2, 3)  # (B, N, W, H)

    def take(i: Tensor) -> Tensor:
        return torch.gather(columns, 2, i.unsqueeze(-1).expand(-1, -1, -1, h))  # (B, N, C, H)

    value = take(left) * (1 - frac) + (take((left + 1).clamp(max=w - 1)) * frac if w > 1 else 0.0)
    return value * inside.unsqueeze(-1)


class AVAM(nn.Module):
    """Audio-visual attention module (official ``AudioVisualAttentionNetwork_weight``).

    ``A(a) = Linear(Da, Da) → LeakyReLU → Dropout → Linear(Da, Dk)``, ``V(v)`` likewise with ``Dv``;
    ``w = sigmoid(Linear(Dk, Dk)(tanh(A(a) + V(v))))``. Returns ``w`` (mode "w") or ``w ⊙ v`` (mode "wv",
    needs ``Dk == Dv``). Shape: ``(B, N, Da), (B, N, Dv) -> (B, N, Dk)``.
    """

    def __init__(
        self, audio_dim: int, video_dim: int, attention_dim: int, mode: str = "w", dropout: float = 0.05
    ) -> None:
        super().__init__()
        if mode not in AVAM_MODES:
            raise ValueError(f"mode must be one of {AVAM_MODES}, got {mode!r}")
        if mode == "wv" and attention_dim != video_dim:
            raise ValueError(f"mode 'wv' needs attention_dim == video_dim, got {attention_dim} and {video_dim}")
        self.mode = mode
        self.audio = nn.Sequential(
            nn.Linear(audio_dim, audio_dim), nn.LeakyReLU(), nn.Dropout(dropout), nn.Linear(audio_dim, attention_dim)
        )
        self.video = nn.Sequential(
            nn.Linear(video_dim, video_dim), nn.LeakyReLU(), nn.Dropout(dropout), nn.Linear(video_dim, attention_dim)
        )
        self.gate = nn.Linear(attention_dim, attention_dim)

    def forward(self, audio: Tensor, video: Tensor) -> Tensor:
        w = self.gate(torch.tanh(self.audio(audio) + self.video(video))).sigmoid()
        return w if self.mode == "w" else w * video


def _blocks(config: ConformerConfig, n: int) -> nn.ModuleList:
    return nn.ModuleList(ConformerBlock(config) for _ in range(n))


def _over_time(pool: nn.Module, x: Tensor) -> Tensor:
    """Apply a 1-D pool over the time axis of ``(B, T, D)``."""
    return pool(x.transpose(1, 2)).transpose(1, 2)


class MVANet(nn.Module):
    """MVANet with SED, SCE and (optionally) ONS heads; the module docstring gives the data flow.

    Input: log-mel features ``(B, in_channels, T, n_mels)`` and video maps ``(B, N, 7, 7)`` or ``(B, N, 49)``
    with ``N = T // time_pool`` (50 for T = 250 or 251). Output dict, with ``T' = N``:

    - ``"sed_logits"``, ``"sed"`` ``(B, T', 13)``: logits and sigmoid probabilities;
    - ``"sce"`` ``(B, T', 13, 2)``: (x·d, y·d) in metres, linear;
    - ``"ons_logits"``, ``"ons"`` ``(B, T', 13)``: on-screen logits and probabilities (``onscreen=True`` only);
    - ``"hidden"`` ``(B, T // trunk_time_pool, d_model)``: the audio stream's last Conformer output, before
      time pooling.
    """

    def __init__(self, config: MVANetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or MVANetConfig()
        audio_cfg = config.audio_config()
        block_cfg = config.conformer()
        d, embed = config.d_model, config.embed_channels * audio_cfg.pooled_freq
        self.trunk = ResNetTrunk(audio_cfg)
        self.audio_projection = nn.Sequential(nn.Linear(embed, d), nn.Dropout(config.input_dropout))
        self.avam_m = AVAM(embed, config.video_grid, config.video_grid, config.avam_mode, config.avam_dropout)
        self.video_projection = nn.Linear(config.video_grid, d)
        self.audio_stages = nn.ModuleList(_blocks(block_cfg, n) for n in config.audio_blocks[:3])
        self.video_stages = nn.ModuleList(_blocks(block_cfg, n) for n in config.video_blocks)
        self.avams = nn.ModuleList(AVAM(d, d, d, config.avam_mode, config.avam_dropout) for _ in range(3))
        self.fusion_blocks = _blocks(block_cfg, config.audio_blocks[3])
        self.frames_per_video = audio_cfg.head_time_pool  # audio-stream frames per video frame
        self.av_pool = nn.AvgPool1d(self.frames_per_video)
        self.time_pool = nn.MaxPool1d(self.frames_per_video)

        h, n = config.head_hidden, config.n_classes
        self.sed_head = _mlp_head(d, h, n)
        self.sce_head = _mlp_head(d, h, 2 * n, nonlinear=False)  # no activation between (MVANet code)
        if config.onscreen:
            self.ons_head = _mlp_head(d, h, n)
        if config.ons_readout:
            side = math.isqrt(config.video_grid)
            if side * side != config.video_grid:
                raise ValueError(f"ons_readout needs a square video map, got video_grid {config.video_grid}")
            # class-agnostic evidence from the column: one small MLP shared by every class
            self.ons_readout = _mlp_head(side, h // 4, 1)

    def _video_frames(self, features: Tensor, video: Tensor) -> Tensor:
        """Check both inputs; return the video as ``(B, N, video_grid)``, normalised as ``video_norm`` says."""
        c = self.config
        if features.dim() != 4 or features.shape[1] != c.in_channels or features.shape[3] != c.n_mels:
            raise ValueError(f"expected features (B, {c.in_channels}, T, {c.n_mels}), got {tuple(features.shape)}")
        b, t = features.shape[0], features.shape[2]
        given = tuple(video.shape)
        if video.dim() == 4:
            video = video.flatten(2)
        n_video = t // c.time_pool
        if n_video < 1 or video.dim() != 3 or video.shape[0] != b or video.shape[1:] != (n_video, c.video_grid):
            raise ValueError(
                f"expected video (B, T // {c.time_pool}, {c.video_grid}) or (B, T // {c.time_pool}, H, W) with "
                f"H·W = {c.video_grid}, B = {b}, T = {t} >= {c.time_pool}; got {given}"
            )
        if c.video_norm == "clip":
            video = video - video.mean(dim=1, keepdim=True)  # no rescaling: a still clip stays ~0, not noise
        return video

    def forward(self, features: Tensor, video: Tensor) -> dict[str, Tensor]:
        v = v_in = self._video_frames(features, video)
        z = self.trunk(features)  # (B, C', T_a, F'), T_a = T // trunk_time_pool
        b, c, t, f = z.shape
        a0 = z.permute(0, 2, 1, 3).reshape(b, t, c * f)  # channel-major flatten, as ResNetConformer
        v = self.video_projection(self.avam_m(_over_time(self.av_pool, a0), v))  # (B, N, d)
        x = self.audio_projection(a0)  # (B, T_a, d)
        for audio_blocks, video_blocks, avam in zip(self.audio_stages, self.video_stages, self.avams):
            for block in audio_blocks:
                x = block(x)
            for block in video_blocks:
                v = block(v)
            v = avam(_over_time(self.av_pool, x), v)
        up = v.repeat_interleave(self.frames_per_video, dim=1)  # (B, N·k, d), N·k <= T_a
        up = torch.cat([up, up[:, -1:].expand(-1, t - up.shape[1], -1)], dim=1)  # T_a = 251: repeat the last frame
        x = x + up
        for block in self.fusion_blocks:
            x = block(x)

        pooled = _over_time(self.time_pool, x)  # (B, T', d)
        n_frames, n = pooled.shape[1], self.config.n_classes
        logits = self.sed_head(pooled)
        out = {"sed_logits": logits, "sed": logits.sigmoid()}
        # axis-major flat layout (x×13 then y×13) as ResNetConformer -> (B, T', 13, 2)
        out["sce"] = self.sce_head(pooled).view(b, n_frames, 2, n).transpose(2, 3)
        if self.config.onscreen:
            ons = self.ons_head(pooled)
            if self.config.ons_readout:
                side = math.isqrt(self.config.video_grid)
                maps = v_in - v_in.mean(dim=1, keepdim=True)  # what differs from the clip's mean picture
                # the direction is read, not trained, by the on-screen loss (detach)
                column = direction_readout(maps.view(b, n_frames, side, side), out["sce"].detach(),
                                           self.config.video_hfov_deg)
                ons = ons + self.ons_readout(column).squeeze(-1)
            out["ons_logits"], out["ons"] = ons, ons.sigmoid()
        out["hidden"] = x
        return out


def _audio_key_map(config: MVANetConfig) -> dict[str, str]:
    """ResNetConformer key prefix → MVANet key prefix (module docstring table)."""
    block_prefixes = [f"audio_stages.{s}.{j}." for s, n in enumerate(config.audio_blocks[:3]) for j in range(n)]
    block_prefixes += [f"fusion_blocks.{j}." for j in range(config.audio_blocks[3])]
    prefixes = {"trunk.": "trunk.", "input_projection.": "audio_projection."}
    prefixes.update({"sed_head.": "sed_head.", "sce_head.": "sce_head."})
    prefixes.update({f"blocks.{i}.": dst for i, dst in enumerate(block_prefixes)})
    return prefixes


def init_from_audio(
    model: MVANet, state: Mapping[str, Tensor], source_config: ResNetConformerConfig
) -> list[tuple[str, str]]:
    """Copy an audio-only SED-SCE :class:`ResNetConformer`'s weights into MVANet's audio path (in place).

    Args:
        model: the MVANet to initialise; the video path, AVAMs and ONS head are left as they are.
        state: the audio model's ``state_dict()`` (parameters and buffers).
        source_config: the audio model's configuration; it must equal ``model.config.audio_config()``
            except for dropout rates.

    Returns:
        ``(mvanet_key, source_key)`` for every tensor copied, in the source's key order.

    Raises:
        ValueError: the configurations disagree, or ``state`` lacks, adds or reshapes a tensor.
    """
    expected = model.config.audio_config()
    bad = [
        f"{f.name}: MVANet needs {getattr(expected, f.name)!r}, source has {getattr(source_config, f.name)!r}"
        for f in fields(ResNetConformerConfig)
        if f.name not in _FREE_FIELDS and getattr(expected, f.name) != getattr(source_config, f.name)
    ]
    if bad:
        raise ValueError("audio model config does not fit this MVANet: " + "; ".join(bad))
    with torch.device("meta"):
        source_keys = set(ResNetConformer(source_config).state_dict())
    missing, extra = sorted(source_keys - set(state)), sorted(set(state) - source_keys)
    if missing or extra:
        raise ValueError(f"audio state does not match its config: missing {missing[:5]}, unexpected {extra[:5]}")

    prefixes = _audio_key_map(model.config)
    target = model.state_dict()
    pairs: list[tuple[str, str]] = []
    for key in state:
        src_prefix = next(p for p in prefixes if key.startswith(p))  # every ResNetConformer key has one
        dst = prefixes[src_prefix] + key[len(src_prefix) :]
        if dst not in target or target[dst].shape != state[key].shape:
            got = None if dst not in target else tuple(target[dst].shape)
            raise ValueError(f"audio tensor {key} {tuple(state[key].shape)} has no MVANet counterpart {dst} ({got})")
        pairs.append((dst, key))
    with torch.no_grad():
        for dst, key in pairs:
            target[dst].copy_(state[key])
    return pairs
