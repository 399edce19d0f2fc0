"""Detector weights for the visual post-processing (docs/detectors.md#weights).

    python -m seldlib.download weights keypointrcnn [--dir DIR]
    python -m seldlib.download weights grounding-dino-tiny [--dir DIR] [--revision REV]

* ``keypointrcnn``: torchvision's ``KeypointRCNN_ResNet50_FPN_Weights.COCO_V1`` file, from its URL into
  the torch hub cache (``<torch hub dir>/checkpoints/``, where the detector looks by default), verified
  against the SHA-256 prefix its file name carries.
* ``grounding-dino-tiny``: the Hugging Face model ``IDEA-Research/grounding-dino-tiny`` (configuration,
  tokenizer, processor and safetensors weights) saved into a folder (default ``weights/grounding-dino-tiny``
  under the working directory, i.e. the repository root) with a ``SHA256SUMS`` of what was saved, which
  the detector verifies before loading, and ``SOURCE.json`` naming the repository and the commit.

Both are written atomically: an interrupted download leaves no half file or folder behind. Nothing here
runs at test time or inside a stage; the stages only read what this command saved.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from seldlib.atomic import atomic_path
from seldlib.download.transfer import DEFAULT_TIMEOUT, NetworkError, open_url
from seldlib.errors import SeldInputError

GROUNDING_DINO_REPO = "IDEA-Research/grounding-dino-tiny"
# what a transformers folder needs; the repository's duplicate pytorch_model.bin is left out
GROUNDING_DINO_FILES = ("*.json", "*.txt", "*.safetensors")
WEIGHTS = ("keypointrcnn", "grounding-dino-tiny")


def keypointrcnn_url() -> str:
    import torchvision

    return torchvision.models.detection.KeypointRCNN_ResNet50_FPN_Weights.COCO_V1.url


def download_hashed_file(url: str, directory: str | Path, *, progress: bool = True,
                         timeout: float = DEFAULT_TIMEOUT, chunk: int = 1 << 20) -> Path:
    """Fetch ``url`` into ``directory/<its file name>``, checked against the SHA-256 prefix in that name
    (torchvision's ``<name>-<hex>.<ext>`` convention); an existing file that passes is kept without a
    request. A name without a prefix, or a mismatch, is a :class:`SeldInputError` (nothing is kept)."""
    import re

    from tqdm import tqdm

    from seldlib.detection import check_hash_prefix

    name = url.rsplit("/", 1)[-1]
    match = re.search(r"-([a-f0-9]{6,})\.", name)
    if not match:
        raise SeldInputError(None, f"{url}: the file name carries no SHA-256 prefix to verify it against")
    dest = Path(directory) / name
    if dest.is_file():
        try:
            check_hash_prefix(dest)
            return dest
        except SeldInputError:
            pass  # a bad file left by someone else: fetch it again
    import urllib.error

    try:
        resp = open_url(url, {"Accept-Encoding": "identity"}, timeout)
    except urllib.error.HTTPError as err:
        raise SeldInputError(dest, f"download of {url} failed: HTTP {err.code} {err.reason}") from None
    digest = hashlib.sha256()
    with resp, atomic_path(dest) as tmp, open(tmp, "wb") as out:
        length = resp.headers.get("Content-Length")
        with tqdm(total=int(length) if length and length.isdigit() else None, unit="B", unit_scale=True,
                  unit_divisor=1024, desc=name, disable=not progress, leave=False) as bar:
            while True:
                try:
                    block = resp.read(chunk)
                except OSError as err:
                    raise NetworkError(url, str(err) or type(err).__name__) from None
                if not block:
                    break
                out.write(block)
                digest.update(block)
                bar.update(len(block))
        if not digest.hexdigest().startswith(match.group(1)):
            raise SeldInputError(dest, f"download of {url}: SHA-256 {digest.hexdigest()} does not start with "
                                       f"{match.group(1)} (nothing kept)")
    return dest


def download_keypointrcnn(directory: str | Path | None = None, *, progress: bool = True) -> Path:
    """torchvision's COCO_V1 Keypoint R-CNN file into ``directory`` (default: the torch hub cache's
    ``checkpoints/``, the detector's default ``weights``); returns its path."""
    from seldlib.detection import keypointrcnn_weights_path

    directory = keypointrcnn_weights_path().parent if directory is None else Path(directory)
    return download_hashed_file(keypointrcnn_url(), directory, progress=progress)


def download_grounding_dino(directory: str | Path | None = None, *, repo_id: str = GROUNDING_DINO_REPO,
                            revision: str | None = None) -> Path:
    """Save the Hugging Face model ``repo_id`` into ``directory`` (default
    ``seldlib.detection.default_grounding_dino_dir()``) with ``SHA256SUMS`` and ``SOURCE.json``.

    The commit is resolved first (``revision``, default the main branch) and the files are fetched at
    that commit, so ``SOURCE.json`` names exactly what was saved. The folder replaces an earlier one
    as a whole, and only once everything is in place.
    """
    from huggingface_hub import HfApi, snapshot_download

    from seldlib.detection import default_grounding_dino_dir, write_sha256sums

    directory = default_grounding_dino_dir() if directory is None else Path(directory)
    try:
        commit = HfApi().model_info(repo_id, revision=revision).sha
        with atomic_path(directory, suffix="") as tmp:
            snapshot_download(repo_id=repo_id, revision=commit, local_dir=tmp,
                              allow_patterns=list(GROUNDING_DINO_FILES))
            shutil.rmtree(tmp / ".cache", ignore_errors=True)  # huggingface_hub's bookkeeping
            if not any(tmp.glob("*.safetensors")):
                raise SeldInputError(directory, f"{repo_id}@{commit} has no safetensors weights")
            (tmp / "SOURCE.json").write_text(json.dumps({"repo_id": repo_id, "revision": commit}, indent=2) + "\n",
                                             encoding="utf-8")
            write_sha256sums(tmp)
    except SeldInputError:
        raise
    except Exception as err:  # noqa: BLE001 - huggingface_hub raises many types for one failed download
        why = " ".join(str(err).split())[:300] or type(err).__name__
        raise SeldInputError(directory, f"download of {repo_id} from the Hugging Face hub failed "
                                        f"({type(err).__name__}: {why})") from None
    return directory


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m seldlib.download weights NAME [--dir DIR]``: fetch detector weights (see the module)."""
    parser = argparse.ArgumentParser(prog="python -m seldlib.download weights", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=WEIGHTS)
    parser.add_argument("--dir", type=Path, help="target folder (default: where the detector looks)")
    parser.add_argument("--revision", help="grounding-dino-tiny: branch, tag or commit (default: main)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.name == "keypointrcnn":
            path = download_keypointrcnn(args.dir, progress=not args.no_progress)
        else:
            path = download_grounding_dino(args.dir, revision=args.revision)
    except SeldInputError as err:  # the stages' convention (stages/_cli.py)
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0
