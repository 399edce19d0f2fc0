"""List the files of a Zenodo record (name, size, MD5, download link) through its REST API."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
from dataclasses import dataclass
from typing import Any

from seldlib.download.transfer import DEFAULT_TIMEOUT, NetworkError, open_url
from seldlib.errors import SeldInputError

ZENODO = "https://zenodo.org"


@dataclass(frozen=True)
class RemoteFile:
    """One file to download: ``key`` is its file name, ``md5`` lower-case hex (Zenodo). Files published
    elsewhere with a SHA-1 and no size (FMA) have ``md5 == ""``, ``sha1`` set and ``size`` None."""

    key: str
    size: int | None
    md5: str
    url: str
    sha1: str = ""

    @property
    def checksum(self) -> str:
        """``md5:<hex>`` or ``sha1:<hex>`` (:func:`seldlib.download.transfer.download_file`)."""
        return f"md5:{self.md5}" if self.md5 else f"sha1:{self.sha1}"

    def entry(self) -> dict[str, Any]:
        """``{"key", "size", "md5" | "sha1"}``: how manifests record the file."""
        return {"key": self.key, "size": self.size, **({"md5": self.md5} if self.md5 else {"sha1": self.sha1})}


def _get_json(url: str, timeout: float) -> Any:
    try:
        with open_url(url, {"Accept": "application/json"}, timeout) as resp:
            body = resp.read()
    except urllib.error.HTTPError as err:
        raise SeldInputError(None, f"{url}: HTTP {err.code} {err.reason} (is the record id right?)") from None
    except OSError as err:  # connection dropped while reading the body
        raise NetworkError(url, str(err) or type(err).__name__) from None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SeldInputError(None, f"{url}: response is not valid JSON ({err})") from None


def _entries(doc: Any) -> list[dict[str, Any]] | None:
    """File entries from either API shape; None when the document lists none."""
    if not isinstance(doc, dict):
        return None
    files = doc.get("files")
    if isinstance(files, dict):  # InvenioRDM: {"enabled": true, "entries": {...} or [...]}
        files = files.get("entries")
    if files is None:
        files = doc.get("entries")  # /api/records/<id>/files
    if isinstance(files, dict):  # entries keyed by file name
        files = [{"key": k, **v} if isinstance(v, dict) else v for k, v in files.items()]
    if not isinstance(files, list) or not files:
        return None
    return files


def _parse_entry(entry: Any, api_url: str) -> RemoteFile:
    if not isinstance(entry, dict):
        raise SeldInputError(None, f"{api_url}: unexpected file entry {entry!r}")
    key = entry.get("key") or entry.get("filename")
    size = entry.get("size", entry.get("filesize"))
    checksum = str(entry.get("checksum") or "")
    links = entry.get("links") if isinstance(entry.get("links"), dict) else {}
    # In the /files listing `self` is JSON metadata and `content` the bytes; in record JSON `self` is the bytes.
    link = links.get("content") or links.get("self") or links.get("download")
    algo, _, digest = checksum.partition(":")
    if not isinstance(key, str) or not key or "/" in key or "\\" in key or key in (".", ".."):
        raise SeldInputError(None, f"{api_url}: file entry with an unusable name {key!r}")
    if not isinstance(size, int) or size < 0:
        raise SeldInputError(None, f"{api_url}: file {key} has no valid size ({size!r})")
    if algo.lower() != "md5" or not re.fullmatch(r"[0-9a-fA-F]{32}", digest):
        raise SeldInputError(None, f"{api_url}: file {key} has no MD5 checksum ({checksum!r}); refusing to download it unverified")
    if not isinstance(link, str) or not link:
        raise SeldInputError(None, f"{api_url}: file {key} has no download link")
    return RemoteFile(key=key, size=size, md5=digest.lower(), url=urllib.parse.urljoin(api_url, link))


def fetch_record_files(
    record_id: int | str, base_url: str = ZENODO, timeout: float = DEFAULT_TIMEOUT
) -> list[RemoteFile]:
    """Files of Zenodo record ``record_id``, read from ``{base_url}/api/records/{record_id}``.

    Records whose JSON carries no file list are looked up again at ``…/files``.
    """
    api_url = f"{base_url.rstrip('/')}/api/records/{record_id}"
    entries = _entries(_get_json(api_url, timeout))
    if entries is None:
        api_url += "/files"
        entries = _entries(_get_json(api_url, timeout))
    if entries is None:
        raise SeldInputError(None, f"{api_url}: record {record_id} lists no files")
    files = [_parse_entry(e, api_url) for e in entries]
    return sorted(files, key=lambda f: f.key)
