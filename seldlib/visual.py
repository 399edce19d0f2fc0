"""Video features for the audio-visual track: ResNet-50 7x7 maps of the picked frames, and their HDF5 store.

Recipe (DCASE2025 baseline, ``utils.extract_resnet_features``): one frame per 100-ms label frame,
torchvision ResNet-50 (``IMAGENET1K_V2``) cut after ``layer4`` -> ``(2048, 7, 7)``, then the mean over the
2048 channels -> a ``(7, 7)`` map per frame, ``(50, 7, 7)`` per clip.

Differences from the baseline, all deliberate:

* Frames are picked by timestamp (nearest to the label-frame *start* ``t * 0.1 s``,
  :func:`seldlib.media.decode_frames`), so 29.97 fps and 30 fps both work; the baseline assumes 30 fps
  and keeps every 3rd frame from frame 0 (times 0, 0.1, ...).
* ``full_fov=True`` (default) resizes the whole 640x360 frame to 224x224, so the 7x7 grid spans the full
  +-50 deg field of view. The baseline's path (cv2 resize to 360x180, then the weights' preset: shorter side
  to 232, centre crop 224) only sees the central ~48 % of the width (about +-30 deg); it is kept as
  ``full_fov=False`` for comparison.
* ``resolution`` below 224 (the embedded default, for CPU time) feeds a smaller square; the coarser layer4
  grid (``resolution / 32`` units a side) is resampled to 7x7 where the 224-px grid's units are centred
  (:func:`grid_weights`), so every clip still gives ``(50, 7, 7)`` with the same cell geometry.
* For the sets a model trains on, the features of the horizontally flipped frames are computed too (flip
  *before* the CNN): together with the stereo channel swap they give an exact audio-visual mirror
  augmentation (NERC-SLIP report, section 2.1; ``docs/networks.md#audio-visual-pixel-swap``). Sets that are
  only scored or used for selection are never mirrored, so their stores leave them out.
* Conv+BatchNorm pairs are folded for inference (same maths up to float rounding; no separate BN passes).

Nothing is ever downloaded: ``imagenet`` weights are read from the torch hub cache only.
"""

from __future__ import annotations

import hashlib
import re
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Literal, Sequence

import h5py
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from tqdm import tqdm

from seldlib.atomic import atomic_path
from seldlib.device import bf16_supported, resolve_device
from seldlib.constants import LABEL_HOP_SECONDS, N_LABEL_FRAMES
from seldlib.errors import SeldInputError
from seldlib.media import decode_frames

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CNN_SIZE = 224  # the baseline's CNN input side
GRID = 7  # output map side: ResNet-50's layer4 grid at 224 px (stride 32)
# CNN input sides: whole stride-32 cells (so the g x g grid tiles the input exactly), at least 2x2 cells.
RESOLUTIONS = tuple(range(64, CNN_SIZE + 1, 32))
# The baseline's cv2 resize before the preset transform, as (height, width).
BASELINE_SMALL_HW = (180, 360)
PRESET_RESIZE = 232

FORMAT_VERSION = 1
_STR = h5py.string_dtype("utf-8")


# --------------------------------------------------------------------------------------------
# Preprocessing (torch, batched)
# --------------------------------------------------------------------------------------------

def _normalise(x: Tensor) -> Tensor:
    """``(N, 3, H, W)`` in [0, 255] -> ImageNet-normalised float32."""
    x = x.float()
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1) * 255.0
    return (x - mean) / std


def resize_u8(x: Tensor, size: tuple[int, int], antialias: bool) -> Tensor:
    """Bilinear resize of 8-bit images ``(N, 3, H, W)`` -> ``(N, 3, *size)``, rounded to integers in [0, 255].

    Uses torch's fixed-point uint8 kernel on CPU (the one ``torchvision.transforms.v2`` runs on uint8
    tensors; ~30x faster than a float resize of channels-last frames), a float resize + rounding elsewhere
    (what ``torchvision.transforms`` v1 does). Returns uint8 on CPU, float elsewhere; the two agree to
    within one grey level.
    """
    if x.dtype == torch.uint8 and x.device.type == "cpu":
        x = x.contiguous(memory_format=torch.channels_last)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=antialias)
    y = F.interpolate(x.float(), size=size, mode="bilinear", align_corners=False, antialias=antialias)
    return y.round_().clamp_(0, 255)


def preprocess_full_fov(x: Tensor, size: int = CNN_SIZE) -> Tensor:
    """Whole frame to ``size x size`` (bilinear, antialiased, 8-bit), then ImageNet mean/std.

    ``x``: uint8 ``(N, 3, H, W)`` -> float32 ``(N, 3, size, size)``.
    """
    return _normalise(resize_u8(x, (size, size), antialias=True))


def preprocess_preset_from_small(x: Tensor, size: int = CNN_SIZE) -> Tensor:
    """The weights' preset transform on 8-bit frames: shorter side to 232, centre crop 224, mean/std.

    Same steps as ``ResNet50_Weights.IMAGENET1K_V2.transforms()`` on a uint8 tensor, with the resize of
    :func:`resize_u8`. A ``size`` other than 224 scales both numbers (shorter side to
    ``round(232 * size / 224)``, crop ``size``), so the crop keeps the same share of the frame.
    ``x``: uint8 ``(N, 3, h, w)`` -> float32 ``(N, 3, size, size)``.
    """
    h, w = x.shape[-2:]
    resize = round(PRESET_RESIZE * size / CNN_SIZE)
    short, long = (h, w) if h <= w else (w, h)
    new_long = int(resize * long / short)  # torchvision's rule: truncate
    hw = (resize, new_long) if h <= w else (new_long, resize)
    x = resize_u8(x, hw, antialias=True)
    top = int(round((hw[0] - size) / 2.0))
    left = int(round((hw[1] - size) / 2.0))
    return _normalise(x[..., top : top + size, left : left + size])


def preprocess_preset(x: Tensor, size: int = CNN_SIZE) -> Tensor:
    """The baseline's path: resize to 360x180 (bilinear without antialiasing, 8-bit, like ``cv2.resize``
    with ``INTER_LINEAR``), then :func:`preprocess_preset_from_small`. Only the central ~48 % of the width
    survives the crop. ``x``: uint8 ``(N, 3, H, W)`` -> ``(N, 3, size, size)``.
    """
    small = resize_u8(x, BASELINE_SMALL_HW, antialias=False)
    if small.dtype != torch.uint8:
        small = small.to(torch.uint8)
    return preprocess_preset_from_small(small, size)


# --------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------

def imagenet_weights_path() -> Path:
    """Where torchvision would cache ``ResNet50_Weights.IMAGENET1K_V2``: ``<torch hub dir>/checkpoints/<file>``.

    The hub dir is ``$TORCH_HOME/hub`` (default ``~/.cache/torch/hub``), read at call time.
    """
    url = torchvision.models.ResNet50_Weights.IMAGENET1K_V2.url
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def _load_imagenet_state() -> dict[str, Tensor]:
    path = imagenet_weights_path()
    url = torchvision.models.ResNet50_Weights.IMAGENET1K_V2.url
    if not path.is_file():
        raise SeldInputError(
            path,
            "ImageNet ResNet-50 weights (torchvision ResNet50_Weights.IMAGENET1K_V2) not found; nothing is "
            "downloaded here. On a machine with internet run "
            "`python -c \"import torchvision; torchvision.models.resnet50(weights='IMAGENET1K_V2')\"` "
            f"(or fetch {url}) and copy the file to this path, or set TORCH_HOME to a directory whose "
            "hub/checkpoints/ holds it.",
        )
    # torchvision file names carry the first hex digits of the file's SHA-256.
    match = re.search(r"-([a-f0-9]+)\.", path.name)
    if match:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        if not digest.hexdigest().startswith(match.group(1)):
            raise SeldInputError(path, f"SHA-256 does not start with {match.group(1)}: corrupt or wrong weights file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad input file
        raise SeldInputError(path, f"cannot load weights ({err})") from None


def _fold_batchnorm(backbone: nn.Sequential) -> nn.Sequential:
    """Fold every eval-mode BatchNorm of a torchvision ResNet trunk into the preceding conv (in place).

    Inference-only: the maths is unchanged up to float rounding, and the BN passes over memory vanish.
    """
    backbone[0] = fuse_conv_bn_eval(backbone[0], backbone[1])
    backbone[1] = nn.Identity()
    for layer in backbone[4:8]:
        for block in layer:
            for i in (1, 2, 3):
                conv, bn = getattr(block, f"conv{i}"), getattr(block, f"bn{i}")
                setattr(block, f"conv{i}", fuse_conv_bn_eval(conv, bn))
                setattr(block, f"bn{i}", nn.Identity())
            if block.downsample is not None:
                block.downsample = nn.Sequential(fuse_conv_bn_eval(block.downsample[0], block.downsample[1]))
    return backbone


# --------------------------------------------------------------------------------------------
# Extractor
# --------------------------------------------------------------------------------------------

def grid_weights(g: int, grid: int = GRID) -> Tensor:
    """Linear-interpolation matrix ``(grid, g)`` from a ``g``-cell layer4 axis to the 224-px network's axis.

    Unit ``i`` of ResNet-50's layer4 at input side ``32 g`` is centred on input pixel ``32 i`` (every
    stride-2 layer, ``conv1`` k7 p3, ``maxpool`` k3 p1 and the k3 p1 / 1x1 strided convs, keeps the
    centre of its output ``o`` at input ``2 o``), i.e. at ``(32 i + 0.5) / (32 g)`` of the image side.
    Row ``j`` samples the ``g``-cell axis where the 224-px unit ``j`` is centred, ``(32 j + 0.5) / 224``:
    at fractional index ``s = j g / grid + (g / grid - 1) / 64``, linearly between the two nearest units,
    clamped to ``[0, g - 1]`` (the edge value is held beyond the outermost centres). ``g == grid``: identity.
    """
    j = torch.arange(grid, dtype=torch.float64)
    s = (j * g / grid + (g / grid - 1.0) / 64.0).clamp(0.0, g - 1.0)
    lo = s.floor().long().clamp(max=g - 1)
    hi = (lo + 1).clamp(max=g - 1)
    frac = s - lo
    w = torch.zeros(grid, g, dtype=torch.float64)
    w[j.long(), lo] += 1.0 - frac
    w[j.long(), hi] += frac
    return w.float()


def resample_to_grid(maps: Tensor, grid: int = GRID) -> Tensor:
    """Channel-mean maps ``(N, g, g)`` -> ``(N, grid, grid)``: :func:`grid_weights` along rows and columns.

    Output ``[n, i, j]`` is the bilinear interpolation of ``maps[n]`` at the position where the 224-px
    network's layer4 unit ``(i, j)`` is centred; at ``g == grid`` the maps are returned unchanged.
    """
    g = maps.shape[-1]
    if maps.shape[-2:] == (grid, grid):
        return maps
    w = grid_weights(g, grid).to(maps.device)
    return torch.einsum("ia,nab,jb->nij", w, maps.float(), w)


class ResNetFeatureExtractor:
    """ResNet-50 trunk (to ``layer4``), channel-mean 7x7 maps of frames and of their mirror images.

    What is computed per image: the frame is resized to ``resolution x resolution`` (``full_fov``) or
    by the preset path, normalised, run through ``conv1 ... layer4`` (stride 32) -> ``(2048, g, g)`` with
    ``g = resolution / 32``, averaged over the 2048 channels -> ``(g, g)``, and resampled bilinearly to
    7x7 (:func:`resample_to_grid`). At 224 (the baseline's input) ``g = 7`` and nothing is resampled;
    below it the 7x7 map is an interpolation of a coarser one (``g = 2 .. 6``), so it carries no finer
    detail than ``g x g``, but each cell ``(i, j)`` is sampled where the 224-px unit ``(i, j)`` looks.

    Args:
        weights: ``"imagenet"`` (IMAGENET1K_V2 from the local torch hub cache only) or ``"random"``
            (initialised after ``torch.manual_seed(seed)``, without touching the global RNG state).
        seed: seed for ``random`` weights; recorded in stores either way.
        full_fov: True -> whole frame to ``resolution x resolution``; False -> the baseline's 360x180 +
            preset crop.
        resolution: CNN input side in pixels, one of :data:`RESOLUTIONS` (multiples of 32, whole ResNet
            cells); 224 is the baseline's definition, the CNN work scales with ``resolution ** 2``.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available).
        bf16: bfloat16 autocast. ``"auto"`` enables it where the device supports it (CUDA with bf16, or a
            CPU with native bf16 such as AVX512-BF16/AMX: 1.8-2.1x faster than fp32 on a 2-core EPYC with
            AVX512-BF16, ``benchmarks/bench_visual.py``); True requires support. Default False: fp32
            features do not depend on the CPU's bf16 support (bf16 changes the maps by ~0.2 % of their
            scale). The effective setting is stored with the features.
        batch_size: images per forward pass (a clip and its mirror are 2 x 50 images).
        fold_bn: fold BatchNorm into the convolutions (faster; same maths up to rounding).
    """

    def __init__(
        self,
        weights: Literal["imagenet", "random"] = "imagenet",
        seed: int = 0,
        full_fov: bool = True,
        resolution: int = CNN_SIZE,
        device: str | torch.device = "cpu",
        bf16: bool | Literal["auto"] = False,
        batch_size: int = 100,
        fold_bn: bool = True,
    ) -> None:
        if weights not in ("imagenet", "random"):
            raise ValueError(f"weights must be 'imagenet' or 'random', not {weights!r}")
        if resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {', '.join(map(str, RESOLUTIONS))}, not {resolution!r}")
        self.weights = weights
        self.seed = int(seed)
        self.full_fov = bool(full_fov)
        self.resolution = int(resolution)
        self.device = resolve_device(device)
        self.batch_size = max(1, int(batch_size))
        self.fold_bn = bool(fold_bn)
        supported = bf16_supported(self.device)
        if bf16 == "auto":
            self.bf16 = supported
        elif bf16 and not supported:
            raise ValueError(f"bf16 requested but not supported on {self.device}")
        else:
            self.bf16 = bool(bf16)

        if weights == "imagenet":
            state = _load_imagenet_state()
            model = torchvision.models.resnet50(weights=None)
            model.load_state_dict(state)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                model = torchvision.models.resnet50(weights=None)
        model.eval()
        # conv1 ... layer4; drop avgpool and fc.
        backbone = nn.Sequential(*list(model.children())[:-2]).eval()
        if self.fold_bn:
            backbone = _fold_batchnorm(backbone)
        self.backbone = backbone.to(self.device, memory_format=torch.channels_last).eval()
        for p in self.backbone.parameters():
            p.requires_grad_(False)

    def attrs(self) -> dict[str, object]:
        """Settings that determine the features (stored as HDF5 attributes)."""
        return {"weights": self.weights, "seed": self.seed, "full_fov": self.full_fov,
                "resolution": self.resolution, "bf16": self.bf16, "fold_bn": self.fold_bn,
                "device": self.device.type}

    def preprocess(self, frames: Tensor) -> Tensor:
        """``uint8 (N, 3, H, W)`` on any device -> normalised float32 ``(N, 3, r, r)``, r = ``resolution``."""
        if self.full_fov:
            return preprocess_full_fov(frames, self.resolution)
        return preprocess_preset(frames, self.resolution)

    def _maps(self, x: Tensor) -> Tensor:
        """Normalised ``(N, 3, r, r)`` -> channel-mean maps float32 ``(N, 7, 7)``, in batches."""
        out = []
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            for chunk in x.split(self.batch_size):
                chunk = chunk.contiguous(memory_format=torch.channels_last)
                out.append(self.backbone(chunk).float().mean(dim=1))
        return resample_to_grid(torch.cat(out)).cpu()

    def extract(self, frames: np.ndarray, flipped: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Features of ``frames`` ``uint8 (N, H, W, 3)`` (RGB) and of their horizontal mirror images.

        Returns ``(features, features_flipped)``, each float32 ``(N, 7, 7)`` (row = image row, column =
        image column); ``features_flipped`` is None when ``flipped`` is False. The mirror is taken on the
        raw frames, before any resize, so it equals the features of a pre-flipped video exactly.
        """
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 (N, H, W, 3), got {frames.dtype} {frames.shape}")
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device).permute(0, 3, 1, 2)
        n = x.shape[0]
        if flipped:
            x = torch.cat([x, x.flip(-1)])
        maps = self._maps(self.preprocess(x)).numpy()
        return (maps[:n], maps[n:]) if flipped else (maps, None)


# --------------------------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------------------------

def write_video_store(
    out_path: str | Path,
    items: Sequence[tuple[str, str | Path]],
    extractor: ResNetFeatureExtractor,
    n_label_frames: int = N_LABEL_FRAMES,
    hop_s: float = LABEL_HOP_SECONDS,
    progress: bool = True,
    flipped: bool = True,
) -> int:
    """Write the video features of ``items`` ``[(clip name, mp4 path), ...]`` to one HDF5 file.

    Datasets: ``names (N,)`` utf-8, ``features (N, n_label_frames, 7, 7)`` float32 and, with ``flipped``
    (a set that is trained on, for the audio-visual swap), ``features_flipped`` (same shape, of the
    mirrored frames; half the CNN work); attributes record the extractor settings.
    The next clip is decoded in a thread while the CNN runs. Written atomically without timestamps,
    so the same inputs and settings give the same bytes. Returns the number of clips.
    """
    items = [(str(name), Path(mp4)) for name, mp4 in items]
    names = [name for name, _ in items]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise SeldInputError(None, f"duplicate clip name {dup!r} in the video list for {out_path}")
    n = len(items)
    shape = (n, n_label_frames, 7, 7)
    chunks = (1, *shape[1:]) if n > 0 else None
    with atomic_path(out_path) as tmp, h5py.File(tmp, "w", libver="earliest") as h5:
        h5.attrs["format_version"] = FORMAT_VERSION
        for key, value in extractor.attrs().items():
            h5.attrs[key] = value
        h5.attrs["n_label_frames"] = n_label_frames
        h5.attrs["hop_s"] = hop_s
        h5.attrs["frame_time"] = "nearest frame to the label-frame start t*hop_s"
        h5.create_dataset("names", data=np.array(names, dtype=object), dtype=_STR, track_times=False)
        feats = h5.create_dataset("features", shape=shape, dtype=np.float32, chunks=chunks, track_times=False)
        feats_flip = h5.create_dataset("features_flipped", shape=shape, dtype=np.float32, chunks=chunks,
                                       track_times=False) if flipped else None
        bar = tqdm(total=n, desc=f"video features {Path(out_path).name}", unit="clip", disable=not progress)
        # One decode in flight while torch (which releases the GIL) runs the previous clip.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending: Future | None = None
            try:
                for i in range(n):
                    if pending is None:
                        pending = pool.submit(decode_frames, items[i][1], n_label_frames, hop_s)
                    frames = pending.result()
                    pending = pool.submit(decode_frames, items[i + 1][1], n_label_frames, hop_s) if i + 1 < n else None
                    f, ff = extractor.extract(frames, flipped=flipped)
                    feats[i] = f
                    if feats_flip is not None:
                        feats_flip[i] = ff
                    bar.update(1)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        bar.close()
    return n


def read_video_store(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray | None, dict[str, object]]:
    """``(names, features (N, 50, 7, 7), features_flipped (N, 50, 7, 7) or None, attrs)`` of a video store
    (None: a store written without the mirrored frames)."""
    path = Path(path)
    if not path.is_file():
        raise SeldInputError(path, "video feature store not found")
    try:
        h5 = h5py.File(path, "r")
    except OSError as err:
        raise SeldInputError(path, f"cannot open as HDF5 ({err})") from None
    with h5:
        for key in ("names", "features"):
            if key not in h5:
                raise SeldInputError(path, f"not a video feature store: dataset {key!r} is missing")
        names = [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in h5["names"][()]]
        attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in h5.attrs.items()}
        flip = h5["features_flipped"][()] if "features_flipped" in h5 else None
        return names, h5["features"][()], flip, attrs
