"""The record a download stage leaves of what it fetched: ``data/downloads/<name>.json`` (docs/real-data.md).

The archives themselves stay in the download cache ``data/.downloads/<cache>/`` (:class:`DownloadCache`),
outside DVC: the preparation stages read the few members they need straight out of the (split) zips,
so nothing is extracted twice and DVC never copies tens of gigabytes. The record is what DVC tracks::

    {"used": false}                                    (nothing to fetch: synth.source is procedural)
    {"used": true, "caches": {"<cache>": {"record_id": 4060432,
                                          "files": [{"key": ..., "size": ..., "md5" | "sha1": ...}, ...]}}}

It holds names, sizes and checksums only (no URL, no path), so fetching the same bytes from a mirror
gives the same record and reruns nothing downstream.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seldlib.atomic import write_json_atomic
from seldlib.download.cache import DownloadCache
from seldlib.download.zenodo import RemoteFile
from seldlib.errors import SeldInputError


def write_fetched(path: str | Path, fetched: Sequence[tuple[DownloadCache, Sequence[RemoteFile]]] | None) -> None:
    """Write the record of ``fetched`` (cache, files) pairs; None writes ``{"used": false}``."""
    if fetched is None:
        write_json_atomic(path, {"used": False})
        return
    caches = {
        cache.directory.name: {"record_id": cache.record_id,
                               "files": [cache.verified_entry(f).entry() for f in files]}
        for cache, files in fetched
    }  # fmt: skip
    write_json_atomic(path, {"used": True, "caches": caches})


def _remote(entry: Any, path: Path) -> RemoteFile:
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        raise SeldInputError(path, f"unexpected file entry {entry!r}")
    size = entry.get("size")
    return RemoteFile(entry["key"], size if isinstance(size, int) else None, str(entry.get("md5", "")), "",
                      str(entry.get("sha1", "")))  # fmt: skip


def read_fetched(path: str | Path, downloads: str | Path, hint: str) -> dict[str, Path] | None:
    """``{file name: verified path in the cache}`` of the record at ``path``; None when it says "not used".

    Every file is checked with :meth:`DownloadCache.check` (no network; hashed only if touched since it
    was verified). Raises :class:`SeldInputError` naming the file and ``hint`` when it is missing or
    changed, or when the record itself is unreadable.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeldInputError(path, f"not found; {hint}") from None
    except (OSError, ValueError) as err:
        raise SeldInputError(path, f"unreadable download record ({err})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("used"), bool):
        raise SeldInputError(path, "not a download record (expected a JSON object with 'used')")
    if not doc["used"]:
        return None
    out: dict[str, Path] = {}
    for name, cache_doc in sorted(dict(doc.get("caches") or {}).items()):
        cache = DownloadCache(Path(downloads) / name, name, cache_doc.get("record_id"))
        for entry in cache_doc.get("files", []):
            f = _remote(entry, path)
            if f.key in out:
                raise SeldInputError(path, f"file {f.key} is listed twice")
            out[f.key] = cache.check(f, hint)
    return out
