"""The download cache: verified record files kept across runs in one folder per data set.

The folder (``data/.downloads/<dataset>/`` for the pipeline, see docs/real-data.md) holds the files,
any ``.part`` of an interrupted transfer, and ``verified.json``: for each file the size and MD5 the
record lists and the size/mtime it had when its MD5 was last checked. A file whose size and mtime still
match is trusted without hashing again (a rerun over ~28 GB costs nothing); any other file is hashed
again and downloaded again only if it does not match.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seldlib.atomic import write_json_atomic
from seldlib.download.transfer import DEFAULT_TIMEOUT, download_file, file_digest, parse_checksum
from seldlib.download.zenodo import RemoteFile
from seldlib.errors import SeldInputError

CACHE_MANIFEST_NAME = "verified.json"


class DownloadCache:
    """The verified files of one record in ``directory``."""

    def __init__(self, directory: str | Path, dataset: str, record_id: int | None):
        self.directory = Path(directory)
        self.dataset = dataset
        self.record_id = record_id
        self.manifest = self.directory / CACHE_MANIFEST_NAME
        self.entries = self._load()

    def _load(self) -> dict[str, Any]:
        """Entries of a readable manifest of the same record; anything else means "hash again"."""
        try:
            doc = json.loads(self.manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(doc, dict) or (doc.get("dataset"), doc.get("record_id")) != (self.dataset, self.record_id):
            return {}
        files = doc.get("files")
        return dict(files) if isinstance(files, dict) else {}

    def _entry(self, f: RemoteFile, path: Path) -> dict[str, Any]:
        """What ``verified.json`` keeps for ``f`` (an unpublished size is the verified file's own)."""
        st = path.stat()
        entry = f.entry()
        del entry["key"]
        if entry["size"] is None:
            entry["size"] = st.st_size
        return {**entry, "verified": {"size": st.st_size, "mtime_ns": st.st_mtime_ns}}

    def _record(self, f: RemoteFile, path: Path) -> None:
        self.entries[f.key] = self._entry(f, path)
        write_json_atomic(
            self.manifest,
            {"dataset": self.dataset, "record_id": self.record_id, "files": self.entries},
        )

    def verified_entry(self, f: RemoteFile) -> RemoteFile:
        """``f`` with the size of its verified copy (for files whose size is not published)."""
        size = self.entries[f.key]["size"]
        return RemoteFile(f.key, size, f.md5, f.url, f.sha1)

    def is_verified(self, f: RemoteFile) -> bool:
        """True when the cached file is the one the record lists and unchanged since it was verified."""
        path = self.directory / f.key
        try:
            return self.entries.get(f.key) == self._entry(f, path)
        except FileNotFoundError:
            return False

    def fetch(
        self,
        f: RemoteFile,
        *,
        retries: int = 3,
        progress: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        backoff: float = 2.0,
    ) -> Path:
        """Path of the verified cached copy of ``f``: kept, hashed again, resumed or downloaded.

        Raises what :func:`download_file` raises (``SeldInputError`` naming the file on a checksum
        mismatch, ``NetworkError`` with the partial bytes kept).
        """
        path = self.directory / f.key
        if self.is_verified(f):
            return path
        download_file(f.url, path, f.size, f.checksum, retries=retries, progress=progress, timeout=timeout,
                      backoff=backoff)  # fmt: skip
        self._record(f, path)
        return path

    def check(self, f: RemoteFile, hint: str) -> Path:
        """Path of the cached copy of ``f`` without any request: trusted as in :meth:`fetch`, else hashed
        again. Raises :class:`SeldInputError` naming the file and ``hint`` (what to run) when it is
        missing or is not the file ``f`` describes."""
        path = self.directory / f.key
        if self.is_verified(f):
            return path
        if not path.is_file():
            raise SeldInputError(path, f"missing from the download cache; {hint}")
        algo, digest = parse_checksum(f.checksum)
        if (f.size is not None and path.stat().st_size != f.size) or file_digest(path, algo) != digest:
            raise SeldInputError(path, f"is not the verified download ({f.checksum}); {hint}")
        self._record(f, path)
        return path
