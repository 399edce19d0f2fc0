"""Discovery of the official DCASE2025 dataset layout.

```
<root>/stereo_dev/<split>/*.wav     <root>/metadata_dev/<split>/*.csv     <root>/video_dev/<split>/*.mp4
<root>/stereo_eval/eval/*.wav       <root>/video_eval/eval/*.mp4
```

Splits are folder names (``dev-train-tau``, ``dev-test-sony``, ``dev-train-synth`` or any folder a
user adds). Audio, labels and video pair by file stem. Several roots may be given (the pipeline
keeps the synthesised ``dev-train-synth`` split under its own root).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seldlib.errors import SeldInputError


@dataclass(frozen=True)
class Clip:
    """One clip: its stem, split and the paths of its parts (``None`` where absent)."""

    stem: str
    split: str
    audio: Path
    labels: Path | None
    video: Path | None


def _dirs(split: str) -> tuple[str, str, str]:
    if split == "eval":
        return "stereo_eval", "metadata_eval", "video_eval"
    return "stereo_dev", "metadata_dev", "video_dev"


def discover(
    roots: list[str | Path] | str | Path,
    splits: list[str],
    need_labels: bool = True,
    need_video: bool = False,
    skip_incomplete: bool = False,
    skipped: list[str] | None = None,
) -> list[Clip]:
    """Find the clips of ``splits`` under ``roots``, in the order of ``splits``, then by stem.

    A clip whose labels (``need_labels``) or video (``need_video``) are missing is an error naming
    both files, or, with ``skip_incomplete``, is left out and its ``split/stem`` appended to
    ``skipped`` (when a list is given) so the caller can report it. A label or video file without
    audio is always an error. A split found under no root is an error.
    """
    roots = [Path(roots)] if isinstance(roots, (str, Path)) else [Path(r) for r in roots]
    clips: list[Clip] = []
    for split in splits:
        found = False
        for root in roots:
            audio_dir_name, meta_dir_name, video_dir_name = _dirs(split)
            audio_dir = root / audio_dir_name / split
            if not audio_dir.is_dir():
                continue
            found = True
            meta_dir = root / meta_dir_name / split
            video_dir = root / video_dir_name / split
            audio = {p.stem: p for p in audio_dir.glob("*.wav")}
            labels = {p.stem: p for p in meta_dir.glob("*.csv")} if meta_dir.is_dir() else {}
            videos = {p.stem: p for p in video_dir.glob("*.mp4")} if video_dir.is_dir() else {}
            for stem, path in sorted({**labels, **videos}.items()):
                if stem not in audio:
                    raise SeldInputError(path, f"has no audio partner (expected {audio_dir / (stem + '.wav')})")
            for stem in sorted(audio):
                missing = []
                if need_labels and stem not in labels:
                    missing.append(meta_dir / f"{stem}.csv")
                if need_video and stem not in videos:
                    missing.append(video_dir / f"{stem}.mp4")
                if missing:
                    if skip_incomplete:
                        if skipped is not None:
                            skipped.append(f"{split}/{stem}")
                        continue
                    raise SeldInputError(audio[stem], "is missing its partner file(s): " + ", ".join(map(str, missing)))
                clips.append(Clip(stem, split, audio[stem], labels.get(stem), videos.get(stem)))
        if not found:
            raise SeldInputError(None, f"split {split!r} not found under any of: " + ", ".join(str(r) for r in roots))
    return clips
