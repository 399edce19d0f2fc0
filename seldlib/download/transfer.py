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


_DIGEST_HEX = {"md5": 32, "sha1": 40}  # Zenodo lists MD5s; FMA publishes SHA-1s (github.com/mdeff/fma)


def parse_checksum(checksum: str) -> tuple[str, str]:
    """``(algorithm, lower-case hex)`` of ``md5:<hex>``, ``sha1:<hex>`` or a bare MD5; ``ValueError`` otherwise."""
    algo, sep, digest = checksum.strip().lower().partition(":")
    if not sep:
        algo, digest = "md5", algo
    if algo not in _DIGEST_HEX or not re.fullmatch(rf"[0-9a-f]{{{_DIGEST_HEX[algo]}}}", digest):
        raise ValueError(f"not an MD5 or SHA-1 checksum: {checksum!r}")
    return algo, digest


def file_digest(path: str | Path, algo: str = "md5", chunk: int = 1 << 20) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_md5(path: str | Path, chunk: int = 1 << 20) -> str:
    return file_digest(path, "md5", chunk)


def _content_range(content_range: str | None) -> tuple[int | None, int | None]:
    """``(START, TOTAL)`` of ``Content-Range: bytes START-END/TOTAL`` (None for what is absent or unparsable)."""
    m = re.match(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)", content_range or "")
    if not m:
        return None, None
    return int(m.group(1)), (int(m.group(2)) if m.group(2) != "*" else None)


def download_file(
    url: str,
    dest: str | Path,
    size: int | None,
    checksum: str,
    chunk: int = 1 << 20,
    retries: int = 3,
    progress: bool = True,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    backoff: float = 2.0,
) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` with HTTP Range, verifying size and checksum.

    ``checksum``: ``md5:<hex>``, ``sha1:<hex>`` or a bare MD5. ``size`` None: not published (the total
    is taken from the server's Content-Length / Content-Range; the checksum still decides).
    ``dest`` only appears once verified; an existing verified ``dest`` is kept without any request.
    Dropped connections are retried ``retries`` times (resuming, waiting ``backoff * attempt`` s);
    after that a :class:`NetworkError` is raised and the bytes received so far stay in ``dest.part``.
    A size/checksum mismatch deletes the partial file and raises :class:`SeldInputError`.
    """
    dest = Path(dest)
    try:
        algo, digest = parse_checksum(checksum)
    except ValueError:
        algo = digest = ""
    if not digest or (size is not None and size < 0):
        raise SeldInputError(dest, f"download of {url}: invalid expected size/checksum ({size!r}, {checksum!r})")
    part = dest.with_name(dest.name + ".part")
    if dest.is_file():
        if (size is None or dest.stat().st_size == size) and file_digest(dest, algo) == digest:
            log.info("%s already downloaded and verified", dest)
            return dest
        log.warning("%s exists but does not match the expected size/checksum; downloading it again", dest)
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)

    state = _Partial(part, algo)
    total = size
    attempt = 0
    while True:
        state.sync(total, chunk)
        if state.length == total:
            break
        try:
            total = _transfer(url, state, total, chunk, progress, timeout)
            if total is None or state.length >= total:  # too many bytes is a mismatch, reported below
                break  # None: the server sent no length, so the end of its answer is the end of the file
            raise _Transient(f"connection closed after {state.length} of {total} bytes")
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
    actual = state.hasher.hexdigest()
    if (size is not None and actual_size != size) or actual != digest:
        part.unlink(missing_ok=True)
        expected = f"{size} bytes {algo}:{digest}" if size is not None else f"{algo}:{digest}"
        raise SeldInputError(
            dest,
            f"checksum mismatch for {url}: expected {expected}, "
            f"got {actual_size} bytes {algo}:{actual} (partial file deleted)",
        )
    os.replace(part, dest)
    return dest


class _Partial:
    """The ``.part`` file and the running hash (``algo``) of exactly the bytes it holds."""

    def __init__(self, path: Path, algo: str = "md5"):
        self.path = path
        self.algo = algo
        self.hasher = hashlib.new(algo)
        self.length = 0

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)
        self.hasher = hashlib.new(self.algo)
        self.length = 0

    def sync(self, size: int | None, chunk: int) -> None:
        """Match the hash state to the file on disk (a .part left by an earlier run gets hashed once)."""
        on_disk = self.path.stat().st_size if self.path.is_file() else 0
        if size is not None and on_disk > size:  # cannot be a prefix of the right file
            self.reset()
        elif on_disk != self.length:
            self.hasher, self.length = hashlib.new(self.algo), 0
            with open(self.path, "rb") as fh:
                while block := fh.read(chunk):
                    self.hasher.update(block)
                    self.length += len(block)


def _transfer(url: str, state: _Partial, size: int | None, chunk: int, progress: bool, timeout: float) -> int | None:
    """One HTTP request appending to ``state.path`` from byte ``state.length``; returns the file's total size
    (``size``, or what the server says when ``size`` is None; None when it says nothing)."""
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
        start, total = _content_range(resp.headers.get("Content-Range"))
        if have and resp.status == 206 and start == have:
            mode = "ab"
        else:
            if resp.status == 206:  # a partial answer we did not ask for cannot be trusted
                raise _Transient("unexpected partial content")
            if have:
                log.warning("server ignored the Range request for %s; restarting from byte 0", url)
            state.reset()
            mode = "wb"
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        if size is not None:
            total = size
        with (
            open(state.path, mode) as out,
            tqdm(
                total=total, initial=state.length, unit="B", unit_scale=True, unit_divisor=1024,
                desc=state.path.name.removesuffix(".part"), disable=not progress, leave=False,
            ) as bar,
        ):  # fmt: skip
            while total is None or state.length <= total:
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
    return total
