"""Resumable, checksum-verified HTTP downloads (standard library only, tqdm for progress)."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from importlib.metadata import version
from seldlib.errors import SeldInputError

log = logging.getLogger(__name__)

USER_AGENT = f"seldlib/{version('seldlib')} (+https://zenodo.org)"
DEFAULT_TIMEOUT = 60.0


class NetworkError(SeldInputError):
    """The server could not be reached (or kept dropping the connection); one line, names the URL."""

    def __init__(self, url: str, reason: str, hint: str = ""):
        self.url = url
        self.reason = reason
        problem = f"cannot reach {url} ({reason}): check your internet connection or mirror{hint}"
        super().__init__(None, problem)


class _Transient(Exception):
    """A failure worth retrying (dropped connection, 5xx); carries a short reason."""


def _reason(err: BaseException) -> str:
    """Short one-line cause: the inner reason of a URLError, else the exception text."""
    inner: object = err
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        inner = err.reason
    text = str(inner) or type(inner).__name__
    return " ".join(text.split())


def open_url(url: str, headers: dict[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT):
    """``urlopen`` with our User-Agent; connection failures become :class:`NetworkError`.

    ``HTTPError`` is passed through so callers can tell 416/404/5xx apart.
    """
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - http(s) URLs from the record
    except urllib.error.HTTPError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as err:  # URLError, refused, timeout, bad URL
        raise NetworkError(url, _reason(err)) from None


def file_md5(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _range_start(content_range: str | None) -> int | None:
    """Start offset from ``Content-Range: bytes START-END/TOTAL`` (None when absent or unparsable)."""
    m = re.match(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)", content_range or "")
    return int(m.group(1)) if m else None


def download_file(
    url: str,
    dest: str | Path,
    size: int,
    md5: str,
    chunk: int = 1 << 20,
    retries: int = 3,
    progress: bool = True,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    backoff: float = 2.0,
) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` with HTTP Range, verifying size and MD5.

    ``dest`` only appears once verified; an existing verified ``dest`` is kept without any request.
    Dropped connections are retried ``retries`` times (resuming, waiting ``backoff * attempt`` s);
    after that a :class:`NetworkError` is raised and the bytes received so far stay in ``dest.part``.
    A size/MD5 mismatch deletes the partial file and raises :class:`SeldInputError`.
    """
    dest = Path(dest)
    md5 = md5.lower().removeprefix("md5:")
    if not re.fullmatch(r"[0-9a-f]{32}", md5) or size < 0:
        raise SeldInputError(dest, f"download of {url}: invalid expected size/MD5 ({size!r}, {md5!r})")
    part = dest.with_name(dest.name + ".part")
    if dest.is_file():
        if dest.stat().st_size == size and file_md5(dest) == md5:
            log.info("%s already downloaded and verified", dest)
            return dest
        log.warning("%s exists but does not match the expected size/MD5; downloading it again", dest)
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)

    state = _Partial(part)
    attempt = 0
    while True:
        state.sync(size, chunk)
        if state.length == size:
            break
        try:
            _transfer(url, state, size, chunk, progress, timeout)
            if state.length >= size:  # too many bytes is a mismatch, reported below
                break
            raise _Transient(f"connection closed after {state.length} of {size} bytes")
        except (_Transient, NetworkError) as err:
            attempt += 1
            if attempt > retries:
                kept = part.stat().st_size if part.is_file() else 0
                hint = f"; {kept} bytes kept in {part.name}, run again to resume" if kept else ""
                raise NetworkError(url, err.reason if isinstance(err, NetworkError) else str(err), hint) from None
            log.warning("download of %s interrupted (%s); retry %d/%d", url, err, attempt, retries)
            time.sleep(backoff * attempt)

    if not part.exists():  # an empty file needs no request at all
        part.touch()
    actual_size = part.stat().st_size
    actual_md5 = state.hasher.hexdigest()
    if actual_size != size or actual_md5 != md5:
        part.unlink(missing_ok=True)
        raise SeldInputError(
            dest,
            f"checksum mismatch for {url}: expected {size} bytes md5:{md5}, "
            f"got {actual_size} bytes md5:{actual_md5} (partial file deleted)",
        )
    os.replace(part, dest)
    return dest


class _Partial:
    """The ``.part`` file and the running MD5 of exactly the bytes it holds."""

    def __init__(self, path: Path):
        self.path = path
        self.hasher = hashlib.md5()
        self.length = 0

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)
        self.hasher = hashlib.md5()
        self.length = 0

    def sync(self, size: int, chunk: int) -> None:
        """Match the hash state to the file on disk (a .part left by an earlier run gets hashed once)."""
        on_disk = self.path.stat().st_size if self.path.is_file() else 0
        if on_disk > size:  # cannot be a prefix of the right file
            self.reset()
        elif on_disk != self.length:
            self.hasher, self.length = hashlib.md5(), 0
            with open(self.path, "rb") as fh:
                while block := fh.read(chunk):
                    self.hasher.update(block)
                    self.length += len(block)


def _transfer(url: str, state: _Partial, size: int, chunk: int, progress: bool, timeout: float) -> None:
    """One HTTP request appending to ``state.path`` from byte ``state.length``."""
    have = state.length
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = open_url(url, headers, timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # our offset is past what the server has: start over
            state.reset()
            raise _Transient("server rejected the resume offset (HTTP 416); restarting") from None
        if err.code in (408, 429) or err.code >= 500:
            raise _Transient(f"HTTP {err.code} {err.reason}") from None
        raise SeldInputError(
            state.path.with_suffix(""), f"download of {url} failed: HTTP {err.code} {err.reason}"
        ) from None

    with resp:
        if have and resp.status == 206 and _range_start(resp.headers.get("Content-Range")) == have:
            mode = "ab"
        else:
            if resp.status == 206:  # a partial answer we did not ask for cannot be trusted
                raise _Transient("unexpected partial content")
            if have:
                log.warning("server ignored the Range request for %s; restarting from byte 0", url)
            state.reset()
            mode = "wb"
        with (
            open(state.path, mode) as out,
            tqdm(
                total=size, initial=state.length, unit="B", unit_scale=True, unit_divisor=1024,
                desc=state.path.name.removesuffix(".part"), disable=not progress, leave=False,
            ) as bar,
        ):  # fmt: skip
            while state.length <= size:
                try:
                    block = resp.read(chunk)
                except (OSError, http.client.HTTPException) as err:
                    raise _Transient(_reason(err)) from None
                if not block:
                    break
                out.write(block)
                state.hasher.update(block)
                state.length += len(block)
                bar.update(len(block))
