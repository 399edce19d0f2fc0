"""The real data sets: which Zenodo record, which files, and where each archive is extracted."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seldlib.atomic import atomic_path, write_json_atomic
from seldlib.download.cache import DownloadCache
from seldlib.download.extract import safe_extract
from seldlib.download.splitzip import part_number
from seldlib.download.transfer import DEFAULT_TIMEOUT, NetworkError
from seldlib.download.zenodo import ZENODO, RemoteFile, fetch_record_files
from seldlib.errors import SeldInputError

log = logging.getLogger(__name__)

MANIFEST_NAME = "download_manifest.json"


@dataclass(frozen=True)
class ArchiveSpec:
    """One file of a record. Zips go to ``<root>/<target>``, anything else is stored as ``<root>/<target>``.

    ``strip_top``/``wrap_in`` are passed to :func:`safe_extract` so the tree is the same whether or not the
    archive has a top-level folder (the real archives' inner layout is not documented for all of them).
    ``default``: fetched when ``download_dataset`` gets no explicit ``files``.
    """

    key: str
    target: str
    extract: bool = True
    strip_top: str | None = None
    wrap_in: str | None = None
    default: bool = True


@dataclass(frozen=True)
class DatasetSpec:
    record_id: int
    archives: tuple[ArchiveSpec, ...]
    description: str


def _zip(stem: str, wrap_in: str | None = None, default: bool = True) -> ArchiveSpec:
    return ArchiveSpec(f"{stem}.zip", stem, strip_top=stem, wrap_in=wrap_in, default=default)


DATASETS: dict[str, DatasetSpec] = {
    # <root>/{stereo,metadata,video}_dev/<split>/..., <root>/{stereo,video}_eval/eval/... (docs/data-contract.md#layout)
    "dcase2025": DatasetSpec(
        15559774,
        (
            _zip("metadata_dev"),
            _zip("stereo_dev"),
            _zip("video_dev"),
            _zip("stereo_eval", wrap_in="eval"),
            _zip("video_eval", wrap_in="eval"),
        ),
        "DCASE2025 Task 3 Stereo SELD dataset v1.1.0",
    ),
    # <root>/FSD50K.dev_audio/<id>.wav etc.; the audio zips are split (.z01 ...), found from the record listing.
    "fsd50k": DatasetSpec(
        4060432,
        (
            _zip("FSD50K.dev_audio"),
            _zip("FSD50K.eval_audio"),
            _zip("FSD50K.ground_truth"),
            _zip("FSD50K.metadata"),
            _zip("FSD50K.doc", default=False),
        ),
        "FSD50K",
    ),
    "fsd50k_selection": DatasetSpec(
        6406873,
        (ArchiveSpec("FSD50K_selected.txt", "FSD50K_selected.txt", extract=False),),
        "DCASE2022 Task 3 FSD50K file selection",
    ),
    # <root>/TAU-SRIR_DB/..., <root>/TAU-SNoise_DB/... (as SpatialScaper's scripts/prepare_rirs.py fetches
    # them; docs/spatial-scenes.md#fsd50k-in-measured-rooms); both are split zips.
    "tau_srir": DatasetSpec(
        6408611,
        (_zip("TAU-SRIR_DB"), _zip("TAU-SNoise_DB")),
        "TAU Spatial Room Impulse Response Database",
    ),
}


def _select(spec: DatasetSpec, files: Sequence[str] | None) -> list[ArchiveSpec]:
    if files is None:
        return [a for a in spec.archives if a.default]
    known = {a.key: a for a in spec.archives}
    chosen = []
    for key in files:
        if key in known:
            chosen.append(known[key])
        elif key.endswith(".zip"):
            chosen.append(_zip(key[: -len(".zip")]))
        else:
            chosen.append(ArchiveSpec(key, key, extract=False))
    return chosen


def _remote_parts(archive: ArchiveSpec, remote: dict[str, RemoteFile], where: str) -> list[RemoteFile]:
    """The record files making up ``archive``: ``.z01 … .zNN`` (if split) then the file itself."""
    if archive.key not in remote:
        raise SeldInputError(None, f"{where} has no file {archive.key!r}; it has: {', '.join(sorted(remote))}")
    if not (archive.extract and archive.key.endswith(".zip")):
        return [remote[archive.key]]
    stem = archive.key[: -len(".zip")]
    numbered = sorted((n, f) for k, f in remote.items() if (n := part_number(k, stem)) is not None)
    if [n for n, _ in numbered] != list(range(1, len(numbered) + 1)):
        raise SeldInputError(None, f"{where}: parts of {archive.key} are not numbered 1..N: {[f.key for _, f in numbered]}")
    return [f for _, f in numbered] + [remote[archive.key]]


def _load_manifest(path: Path, name: str, record_id: int) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("dataset") != name or doc.get("record_id") != record_id:
        return {}
    return {a["key"]: a for a in doc.get("archives", []) if isinstance(a, dict) and "key" in a}


def fetch_files(
    cache: DownloadCache,
    files: Sequence[RemoteFile],
    *,
    retries: int = 3,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    backoff: float = 2.0,
) -> None:
    """Fetch every file into ``cache``. A file failing its checksum does not stop the others; the one
    error at the end names every failed file. A :class:`NetworkError` stops at once."""
    failed: list[str] = []
    for f in files:
        try:
            cache.fetch(f, retries=retries, progress=progress, timeout=timeout, backoff=backoff)
        except NetworkError:
            raise
        except SeldInputError as err:  # a bad file must not cost the others: report it at the end
            failed.append(str(err))
    if failed:
        raise SeldInputError(None, f"{'; '.join(failed)}; the verified files are kept in {cache.directory}, "
                                   "run again to fetch only what is missing")  # fmt: skip


def fetch_record(
    name: str,
    files: Sequence[str],
    download_dir: str | Path,
    base_url: str = ZENODO,
    *,
    progress: bool = True,
    retries: int = 3,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[DownloadCache, list[RemoteFile]]:
    """Fetch record files ``files`` of data set ``name`` (split zips with their ``.zNN`` parts) into the
    download cache ``download_dir`` without extracting anything; returns the cache and the files."""
    spec = DATASETS[name]
    cache = DownloadCache(download_dir, name, spec.record_id)
    remote = {f.key: f for f in fetch_record_files(spec.record_id, base_url, timeout)}
    where = f"Zenodo record {spec.record_id} at {base_url}"
    wanted = [f for archive in _select(spec, files) for f in _remote_parts(archive, remote, where)]
    fetch_files(cache, wanted, retries=retries, progress=progress, timeout=timeout)
    return cache, wanted


def default_download_dir(name: str, root: str | Path) -> Path:
    """``<parent of root>/.downloads/<name>``: beside the extracted tree, never inside it."""
    return Path(os.path.abspath(root)).parent / ".downloads" / name


def download_dataset(
    name: str,
    root: str | Path,
    base_url: str = ZENODO,
    files: Sequence[str] | None = None,
    *,
    download_dir: str | Path | None = None,
    progress: bool = True,
    retries: int = 3,
    timeout: float = DEFAULT_TIMEOUT,
    backoff: float = 2.0,
) -> Path:
    """Fetch, verify and extract data set ``name`` under ``root``; return the manifest path.

    ``files``: record file names to fetch instead of the defaults (e.g. ``["metadata_dev.zip"]``).
    Every file goes through the download cache ``download_dir`` (default :func:`default_download_dir`;
    :class:`DownloadCache`) and stays there: a failed or repeated run fetches only what is missing or
    bad. All files are fetched before anything is extracted; a file failing its MD5 check does not stop
    the others, the error names every failed file. ``<root>/download_manifest.json`` lists every
    extracted file with its size and MD5; an archive whose entry matches the record and whose target
    exists is not extracted again.
    """
    if name not in DATASETS:
        raise SeldInputError(None, f"unknown data set {name!r}; choose one of {', '.join(sorted(DATASETS))}")
    spec = DATASETS[name]
    root = Path(root)
    cache = DownloadCache(download_dir if download_dir is not None else default_download_dir(name, root),
                          name, spec.record_id)  # fmt: skip
    manifest_path = root / MANIFEST_NAME
    where = f"Zenodo record {spec.record_id} at {base_url}"

    remote = {f.key: f for f in fetch_record_files(spec.record_id, base_url, timeout)}
    plan = [(a, _remote_parts(a, remote, where)) for a in _select(spec, files)]  # check all before fetching
    done = _load_manifest(manifest_path, name, spec.record_id)
    todo = []
    for archive, parts in plan:
        entry = {
            "key": archive.key,
            "target": archive.target,
            "files": [{"key": f.key, "size": f.size, "md5": f.md5} for f in parts],
        }
        if done.get(archive.key) == entry and (root / archive.target).exists():
            log.info("%s: already fetched and extracted into %s", archive.key, root / archive.target)
        else:
            todo.append((archive, parts, entry))

    fetch_files(cache, [f for _, parts, _ in todo for f in parts], retries=retries, progress=progress,
                timeout=timeout, backoff=backoff)  # fmt: skip

    for archive, parts, entry in todo:
        target = root / archive.target
        paths = [cache.directory / f.key for f in parts]
        if archive.extract:
            safe_extract(paths, target, strip_top=archive.strip_top, wrap_in=archive.wrap_in, progress=progress)
        else:
            with atomic_path(target) as tmp:
                shutil.copyfile(paths[0], tmp)
        done[archive.key] = entry
        write_json_atomic(
            manifest_path,
            {"dataset": name, "record_id": spec.record_id, "archives": [done[k] for k in sorted(done)]},
        )
    return manifest_path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m seldlib.download NAME ROOT``: bad input is one ``error:`` line on stderr, exit status 2."""
    parser = argparse.ArgumentParser(prog="python -m seldlib.download", description=main.__doc__)
    parser.add_argument("name", choices=sorted(DATASETS))
    parser.add_argument("root", type=Path)
    parser.add_argument("--base-url", default=ZENODO, help="Zenodo (or mirror) base URL")
    parser.add_argument("--files", nargs="+", help="record file names to fetch instead of the defaults")
    parser.add_argument("--download-dir", type=Path, help="download cache (default: ROOT/../.downloads/NAME)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--retries", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        manifest = download_dataset(
            args.name, args.root, args.base_url, args.files, download_dir=args.download_dir,
            progress=not args.no_progress, retries=args.retries,
        )  # fmt: skip
    except SeldInputError as err:  # the stages' convention (stages/_cli.py)
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(manifest)
    return 0
