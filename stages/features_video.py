"""Stage: ResNet-50 video features of one set, in HDF5; of the horizontally flipped frames too for the
training set (the audio-visual swap reads them; validation and test clips are never mirrored).

    python -m stages.features_video --set train --params data.source validation features.video.weights ... --knobs features.video.batch_size

``features.video.resolution`` is the CNN input side (224 = the baseline's; smaller is cheaper, the maps stay
``(50, 7, 7)``; seldlib.visual.ResNetFeatureExtractor says exactly what is computed).

Which clips form each set is ``seldlib.datasets.role_sources``, as for the audio features (on real data
the validation set is the held-out share of dev-train). Clips without a video file are skipped and
listed (the audio-only track does not need them).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seldlib.config import read_params
from stages._cli import run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", required=True, help="feature set (role): train, val or test")
    ap.add_argument("--params", nargs="+", required=True, help="dotted params keys DVC tracks for this stage")
    ap.add_argument("--knobs", nargs="*", default=[], help="untracked keys (cannot change results)")
    ap.add_argument("--root", default="data/dataset", type=Path)
    ap.add_argument("--out", default="data/features", type=Path)
    args = ap.parse_args(argv)

    from seldlib.datasets import role_sources, select_clips
    from seldlib.layout import discover
    from seldlib.visual import ResNetFeatureExtractor, write_video_store

    p = read_params(args.params + args.knobs)
    v = {k.rsplit(".", 1)[1]: value for k, value in p.items() if k.startswith("features.video.")}
    skipped: list[str] = []
    how, splits = role_sources(p["data.source"], args.set, p["validation"])
    clips = select_clips(discover(args.root, splits, need_labels=False, need_video=True, skip_incomplete=True,
                                  skipped=skipped), how, p["validation"])
    if skipped:
        print(f"skipping {len(skipped)} clips without video: {', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}")
    extractor = ResNetFeatureExtractor(weights=v["weights"], seed=v["seed"], full_fov=v["full_fov"],
                                       resolution=v["resolution"], device="auto", bf16=v["bf16"],
                                       batch_size=v["batch_size"])
    n = write_video_store(args.out / f"video_{args.set}.h5", [(c.stem, c.video) for c in clips], extractor,
                          flipped=args.set == "train")
    print(f"video {args.set}: {n} clips -> {args.out / f'video_{args.set}.h5'}")
    return 0


if __name__ == "__main__":
    run(main)
