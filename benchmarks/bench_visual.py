"""Video feature throughput: seldlib's batched ResNet-50 path vs the baseline's way, on this machine.

Baseline way (DCASE2025 baseline ``extract_resnet_features``, with PIL standing in for cv2): per frame,
resize to 360x180, apply ``ResNet50_Weights.IMAGENET1K_V2.transforms()`` to the PIL image, stack the clip,
then one fp32 forward pass of the unmodified trunk under ``torch.no_grad`` (NCHW, no BN folding).

seldlib way: :class:`seldlib.visual.ResNetFeatureExtractor` (tensor preprocessing of the whole clip,
BN folded into the convolutions, channels_last, ``inference_mode``). It is timed with and without the
mirrored-frame features it also computes for the audio-visual swap (2x the CNN work).

Both use the same random weights (no download) and the same synthetic 640x360 frames. The runs are
interleaved and the best of ``--reps`` is kept, because other processes may share the CPU.

    python benchmarks/bench_visual.py [--frames 50] [--reps 3] [--bf16] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torchvision
from PIL import Image

from seldlib.visual import ResNetFeatureExtractor


def baseline_features(frames: np.ndarray, trunk: torch.nn.Module, preset, device: str = "cpu") -> np.ndarray:
    """The baseline's per-frame preprocessing + one plain fp32 forward: ``(N, H, W, 3)`` -> ``(N, 7, 7)``."""
    batch = []
    for frame in frames:
        img = Image.fromarray(frame).resize((360, 180), Image.BILINEAR)
        batch.append(preset(img))
    with torch.no_grad():
        return trunk(torch.stack(batch).to(device)).mean(dim=1).cpu().numpy()


def best_time(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=50, help="frames per clip (50 = one 5-s clip)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--bf16", action="store_true", help="also time bf16 autocast (if the device supports it)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (both variants run there)")
    args = parser.parse_args()

    low = np.random.default_rng(0).integers(0, 256, (args.frames, 9, 16, 3), dtype=np.uint8)
    frames = np.repeat(np.repeat(low, 40, axis=1), 40, axis=2)  # (N, 360, 640, 3)

    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    trunk = torch.nn.Sequential(*list(model.children())[:-2]).eval().to(args.device)
    preset = torchvision.models.ResNet50_Weights.IMAGENET1K_V2.transforms()
    ours = ResNetFeatureExtractor("random", seed=0, full_fov=True, device=args.device,
                                  batch_size=2 * args.frames)
    ours_preset = ResNetFeatureExtractor("random", seed=0, full_fov=False, device=args.device,
                                         batch_size=2 * args.frames)
    runs = {
        "baseline (PIL per frame, fp32 NCHW, no_grad)": lambda: baseline_features(frames, trunk, preset, args.device),
        "seldlib full_fov, features only": lambda: ours.extract(frames, flipped=False),
        "seldlib preset path, features only": lambda: ours_preset.extract(frames, flipped=False),
        "seldlib full_fov, features + flipped": lambda: ours.extract(frames, flipped=True),
    }
    if args.bf16:
        ours_bf16 = ResNetFeatureExtractor("random", seed=0, bf16=True, device=args.device,
                                           batch_size=2 * args.frames)
        runs["seldlib full_fov bf16, features only"] = lambda: ours_bf16.extract(frames, flipped=False)
        runs["seldlib full_fov bf16, features + flipped"] = lambda: ours_bf16.extract(frames, flipped=True)

    # Same preprocessing path: seldlib's preset features match the baseline's (up to PIL-vs-tensor resize).
    base_out = baseline_features(frames[:2], trunk, preset, args.device)
    ours_out = ours_preset.extract(frames[:2], flipped=False)[0]
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} CPU threads, "
          f"{args.frames} frames of 640x360 per clip")
    # The gap comes from the first resize: PIL antialiases, seldlib copies cv2's plain bilinear.
    print(f"check: max |seldlib preset - baseline| = {np.abs(base_out - ours_out).max():.3g} "
          f"(feature scale {np.abs(base_out).max():.3g})")

    for fn in runs.values():  # warm-up (oneDNN primitive creation)
        fn()
    best = {name: float("inf") for name in runs}
    for _ in range(args.reps):  # interleaved, so background load hits all variants alike
        for name, fn in runs.items():
            best[name] = min(best[name], best_time(fn, 1))

    base_fps = args.frames / best[next(iter(runs))]
    print(f"{'variant':48s} {'s/clip':>8s} {'frames/s':>9s} {'x baseline':>10s}")
    for name, seconds in best.items():
        fps = args.frames / seconds
        print(f"{name:48s} {seconds:8.2f} {fps:9.1f} {fps / base_fps:10.2f}")
    print("frames/s counts clip frames; 'features + flipped' runs the CNN on 2 images per frame.")


if __name__ == "__main__":
    main()
