"""Stage: one visual detector on the key frames of every test and validation clip with video.

    python -m stages.detect --detector NAME \
        --params detect.detectors.NAME detect.key_fps detect.device data.source validation

Writes ``data/detections/NAME.h5`` (``seldlib.detection.write_detection_store``): per clip (key: the
file stem) the detections of the key frames ``k / detect.key_fps`` s. A detector whose weights are
absent (the entry's ``weights``, or its default place) does not fail the stage: the store then holds
no clips and the status ``skipped: no weights at PATH``, which is also printed, and the visual
post-processing passes its input through (docs/detectors.md#skipped-detectors).

The test clips are the scored split(s) of ``data.source``; with ``validation`` among ``--params``, the
validation clips (the ones that tune the post-processing, docs/postprocessing.md#tuning-without-the-scored-split;
``seldlib.datasets.role_sources``, as for the features) are added. Clips without a video file are left
out and counted. ``detect.device`` (``cpu``, ``cuda``, ``auto``) is read when listed, else ``--device``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seldlib.config import read_params
from stages._cli import run


def clip_videos(root: Path, source: str, validation: dict | None) -> tuple[dict[str, Path], int]:
    """``({stem: mp4}, clips without video)`` of the test clips and, unless ``validation`` is None, the
    validation clips under ``root``."""
    from seldlib.datasets import role_sources, select_clips, splits_for
    from seldlib.errors import SeldInputError
    from seldlib.layout import discover

    videos: dict[str, Path] = {}
    missing: set[str] = set()
    roles = [("all", splits_for(source, "test"))]
    if validation is not None:
        roles.append(role_sources(source, "val", validation))
    for how, splits in roles:
        for clip in select_clips(discover(root, splits, need_labels=False), how, validation or {}):
            if clip.video is None:
                missing.add(f"{clip.split}/{clip.stem}")
            elif videos.setdefault(clip.stem, clip.video) != clip.video:
                raise SeldInputError(clip.video, f"clip name {clip.stem!r} also names {videos[clip.stem]}")
    return videos, len(missing)


def detect_stage(name: str, cfg: dict, key_fps: float, source: str, validation: dict | None, root: Path, out: Path,
                 device: str = "auto", progress: bool = True) -> str:
    """Run detector ``name`` (its params entry ``cfg``) on the test clips and, unless ``validation`` is
    None, the validation clips; write ``out / f"{name}.h5"``; returns the store's status line."""
    from seldlib.detection import (DetectorUnavailable, build_detector, detect_clips, skipped_store,
                                   write_detection_store)

    path = out / f"{name}.h5"
    try:
        detector = build_detector(cfg, device=device, name=name)
    except DetectorUnavailable as err:
        write_detection_store(path, skipped_store(name, err.reason, meta={"kind": cfg.get("kind"),
                                                                          "key_fps": float(key_fps)}))
        return f"{name}: {err.reason} -> {path}"
    videos, n_missing = clip_videos(root, source, validation)
    store = detect_clips(detector, videos, key_fps, progress=progress)
    write_detection_store(path, store)
    n_det = sum(len(c) for c in store.clips.values())
    extra = f" ({n_missing} clips without video left out)" if n_missing else ""
    if validation is None:
        extra += " (test clips only: `validation` is not among --params)"
    return f"{name}: {n_det} detections on {len(store.clips)} clips{extra} -> {path}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detector", required=True,
                    help="the detector's params entry (detect.detectors.NAME or detect.NAME)")
    ap.add_argument("--params", nargs="+", required=True, help="dotted params keys DVC tracks for this stage")
    ap.add_argument("--knobs", nargs="*", default=[], help="untracked keys (cannot change results), e.g. detect.device")
    ap.add_argument("--params-file", default="params.yaml", type=Path)
    ap.add_argument("--root", default="data/dataset", type=Path)
    ap.add_argument("--out", default="data/detections", type=Path)
    ap.add_argument("--device", default="auto", help="cpu, cuda or auto, unless detect.device is read")
    args = ap.parse_args(argv)

    name = args.detector
    entry = next((k for k in (f"detect.detectors.{name}", f"detect.{name}") if k in args.params), None)
    if entry is None:
        ap.error(f"--params must name detect.detectors.{name} (or detect.{name}), the entry this stage runs")
    p = read_params(args.params + args.knobs, args.params_file)
    print(detect_stage(name, p[entry], float(p["detect.key_fps"]), p["data.source"], p.get("validation"),
                       args.root, args.out, device=str(p.get("detect.device", args.device))))
    return 0


if __name__ == "__main__":
    run(main)
