"""Stage: frame-wise outputs of one trained model on every test clip, stored in HDF5.

    python -m stages.infer --model sed_doa --params features.standardize
    python -m stages.infer --model av_sed_sce_ons --out data/outputs_av --params features.standardize

A Track B model also reads the clips' video features (``data/features/video_test.h5``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seldlib.config import read_params
from stages._cli import run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--params", nargs="+", required=True)
    ap.add_argument("--features", default="data/features", type=Path)
    ap.add_argument("--models", default="models", type=Path)
    ap.add_argument("--out", default="data/outputs", type=Path)
    args = ap.parse_args(argv)

    import torch

    from seldlib.checkpoint import load_checkpoint
    from seldlib.device import resolve_device
    from seldlib.inference import predict_arrays
    from seldlib.outputs import write_outputs_h5
    from seldlib.kinds import get_kind
    from seldlib.silence import mute_silent_frames
    from seldlib.standardizer import Standardizer
    from seldlib.trainset import load_tensor_set

    p = read_params(args.params)
    torch.manual_seed(0)
    model, meta = load_checkpoint(args.models / args.model / "model.pt")
    device = resolve_device("auto")
    model.to(device)
    std = Standardizer.load(args.features / "standardizer.npz") if p["features.standardize"] else None
    video = args.features / "video_test.h5" if get_kind(meta["kind"]).track == "B" else None
    test = load_tensor_set(args.features / "test.h5", std, fields=("level_dbfs",), video_h5=video)
    arrays = predict_arrays(model, meta["kind"], test.tensors["features"], batch_size=32, device=device,
                            video=test.tensors.get("video"))
    # no event on digitally silent frames (seldlib.silence); the test clips have none, so this costs nothing
    arrays = mute_silent_frames(arrays, test.tensors["level_dbfs"].numpy())
    write_outputs_h5(args.out / f"{args.model}.h5", test.names, arrays,
                     {"kind": meta["kind"], "threshold": meta["threshold"], "default_distance_m": meta["default_distance_m"],
                      "onscreen_threshold": meta.get("onscreen_threshold", 0.5)})
    print(f"{args.model}: outputs for {len(test.names)} clips -> {args.out / (args.model + '.h5')}")
    return 0


if __name__ == "__main__":
    run(main)
