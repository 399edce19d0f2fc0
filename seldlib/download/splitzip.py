"""Read split ("spanned", ``zip -s``) archives: ``name.z01 … name.zNN`` + ``name.zip``.

Plain concatenation of the parts is *not* a valid zip for :mod:`zipfile`: in a split archive every
central-directory entry stores the number of the part ("disk") its local header lives on and an offset
relative to the start of *that* part, and the end records name the disk holding the central directory
(PKWARE APPNOTE §8.5). So we present zipfile with a virtual file: the parts' bytes up to the old central
directory, followed by a rewritten central directory whose offsets are absolute and whose disk numbers
are 0, plus fresh end records (ZIP64 ones when needed). No joined copy is written to disk, which matters
for FSD50K (about 24 GB split into six parts).
"""

from __future__ import annotations

import contextlib
import io
import re
import struct
import zipfile
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from pathlib import Path

from seldlib.errors import SeldInputError

SIG_CENTRAL = b"PK\x01\x02"
SIG_EOCD = b"PK\x05\x06"
SIG_ZIP64_EOCD = b"PK\x06\x06"
SIG_ZIP64_LOCATOR = b"PK\x06\x07"

EOCD = struct.Struct("<4s4H2LH")  # sig, disk, cd disk, entries here, entries total, cd size, cd offset, comment len
ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")  # sig, rec size, made, needed, disk, cd disk, n here, n total, cd size, cd off
ZIP64_LOCATOR = struct.Struct("<4sLQL")  # sig, disk of zip64 eocd, its offset on that disk, total disks
CENTRAL = struct.Struct("<4s6H3L5H2L")  # see _rewrite_central_directory for the field order

U16 = 0xFFFF
U32 = 0xFFFFFFFF

PathLike = str | Path


def split_parts(zip_path: PathLike) -> list[Path]:
    """The parts of ``zip_path`` in disk order: existing siblings ``.z01``, ``.z02``, … then the ``.zip``."""
    zip_path = Path(zip_path)
    parts: list[Path] = []
    n = 1
    while (p := zip_path.with_suffix(f".z{n:02d}")).is_file():
        parts.append(p)
        n += 1
    return [*parts, zip_path]


def part_number(key: str, stem: str) -> int | None:
    """Return N when ``key`` is ``<stem>.zNN`` (a split part), else None."""
    m = re.fullmatch(re.escape(stem) + r"\.z(\d{2,})", key)
    return int(m.group(1)) if m else None


class ConcatReader(io.RawIOBase):
    """Read-only, seekable view of byte ranges of several files and in-memory buffers, back to back."""

    def __init__(self, segments: Sequence[tuple[Path | bytes, int, int]]):
        # each segment: (file path or bytes, start offset inside it, length)
        super().__init__()
        self._segments = [s for s in segments if s[2] > 0]
        self._starts: list[int] = []
        total = 0
        for _, _, length in self._segments:
            self._starts.append(total)
            total += length
        self._size = total
        self._pos = 0
        self._handles: dict[int, io.BufferedReader] = {}

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        pos = base + offset
        if pos < 0:
            raise OSError("negative seek position")
        self._pos = pos
        return pos

    def _read_segment(self, idx: int, offset: int, n: int) -> bytes:
        source, start, _ = self._segments[idx]
        if isinstance(source, bytes):
            return source[start + offset : start + offset + n]
        fh = self._handles.get(idx)
        if fh is None:
            fh = self._handles[idx] = open(source, "rb")  # noqa: SIM115 - closed in close()
        fh.seek(start + offset)
        return fh.read(n)

    def read(self, size: int | None = -1) -> bytes:
        # Unlike a raw file, always fill the request (zipfile treats short reads as truncation).
        if size is None or size < 0:
            size = max(0, self._size - self._pos)
        out = bytearray()
        while len(out) < size and self._pos < self._size:
            idx = bisect_right(self._starts, self._pos) - 1
            offset = self._pos - self._starts[idx]
            want = min(size - len(out), self._segments[idx][2] - offset)
            data = self._read_segment(idx, offset, want)
            if not data:
                raise OSError(f"part file {self._segments[idx][0]} is shorter than expected")
            out += data
            self._pos += len(data)
        return bytes(out)

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)

    def close(self) -> None:
        for fh in self._handles.values():
            fh.close()
        self._handles.clear()
        super().close()


def _find_eocd(last_part: Path) -> tuple[int, tuple, bytes]:
    """Locate the end-of-central-directory record in the last part: (offset in part, fields, comment)."""
    size = last_part.stat().st_size
    start = max(0, size - (EOCD.size + U16))
    with open(last_part, "rb") as fh:
        fh.seek(start)
        tail = fh.read()
    pos = len(tail)
    while (pos := tail.rfind(SIG_EOCD, 0, pos)) >= 0:
        if pos + EOCD.size <= len(tail):
            fields = EOCD.unpack_from(tail, pos)
            if pos + EOCD.size + fields[7] == len(tail):  # comment runs exactly to the end
                return start + pos, fields, tail[pos + EOCD.size :]
    raise SeldInputError(last_part, "not a zip archive (no end-of-central-directory record)")


def _rewrite_central_directory(cd: bytes, starts: list[int], n_entries: int, archive: Path) -> bytes:
    """Central directory with absolute local-header offsets and disk number 0 for every entry."""
    out = bytearray()
    pos = 0
    for i in range(n_entries):
        if cd[pos : pos + 4] != SIG_CENTRAL or pos + CENTRAL.size > len(cd):
            raise SeldInputError(archive, f"corrupt central directory at entry {i}")
        (sig, made, needed, flags, method, mtime, mdate, crc, csize, usize,
         nlen, xlen, clen, disk, iattr, eattr, offset) = CENTRAL.unpack_from(cd, pos)  # fmt: skip
        name = cd[pos + CENTRAL.size : pos + CENTRAL.size + nlen]
        extra = cd[pos + CENTRAL.size + nlen : pos + CENTRAL.size + nlen + xlen]
        comment = cd[pos + CENTRAL.size + nlen + xlen : pos + CENTRAL.size + nlen + xlen + clen]
        pos += CENTRAL.size + nlen + xlen + clen

        # Split the extra field into records, pulling the 64-bit values out of the ZIP64 one (id 1).
        kept = bytearray()
        x = 0
        while x + 4 <= len(extra):
            tag, ln = struct.unpack_from("<2H", extra, x)
            body = extra[x + 4 : x + 4 + ln]
            x += 4 + ln
            if tag != 0x0001:
                kept += struct.pack("<2H", tag, len(body)) + body
                continue
            z = 0
            if usize == U32:
                (usize,) = struct.unpack_from("<Q", body, z)
                z += 8
            if csize == U32:
                (csize,) = struct.unpack_from("<Q", body, z)
                z += 8
            if offset == U32:
                (offset,) = struct.unpack_from("<Q", body, z)
                z += 8
            if disk == U16:
                (disk,) = struct.unpack_from("<L", body, z)
        if disk >= len(starts):
            raise SeldInputError(archive, f"entry {name!r} lives on part {disk + 1}, but only {len(starts)} parts exist")
        offset += starts[disk]

        # Values that no longer fit 32 bits go (in APPNOTE order) into a fresh ZIP64 record.
        z64 = bytearray()
        if usize >= U32:
            z64 += struct.pack("<Q", usize)
            usize = U32
        if csize >= U32:
            z64 += struct.pack("<Q", csize)
            csize = U32
        if offset >= U32:
            z64 += struct.pack("<Q", offset)
            offset = U32
        if z64:
            kept += struct.pack("<2H", 0x0001, len(z64)) + z64
        out += CENTRAL.pack(sig, made, needed, flags, method, mtime, mdate, crc, csize, usize,
                            len(name), len(kept), len(comment), 0, iattr, eattr, offset)  # fmt: skip
        out += name + kept + comment
    return bytes(out)


def _parts_problem(expected: int, given: int) -> str:
    return f"archive says it has {expected} parts but {given} were given (missing or extra .zNN parts?)"


def spanned_view(parts: Sequence[PathLike]) -> ConcatReader:
    """A seekable file object holding the parts as one ordinary (single-disk) zip archive."""
    paths = [Path(p) for p in parts]
    for p in paths:
        if not p.is_file():
            raise SeldInputError(p, "split-archive part is missing")
    sizes = [p.stat().st_size for p in paths]
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    archive = paths[-1]

    eocd_pos, fields, comment = _find_eocd(archive)
    _, this_disk, cd_disk, _, n_entries, cd_size, cd_offset, _ = fields
    if eocd_pos >= ZIP64_LOCATOR.size:
        with open(archive, "rb") as fh:
            fh.seek(eocd_pos - ZIP64_LOCATOR.size)
            loc = ZIP64_LOCATOR.unpack(fh.read(ZIP64_LOCATOR.size))
        if loc[0] == SIG_ZIP64_LOCATOR:
            z_disk, z_offset, n_disks = loc[1], loc[2], loc[3]
            if n_disks != len(paths) or z_disk >= len(paths):
                raise SeldInputError(archive, _parts_problem(n_disks, len(paths)))
            with ConcatReader([(p, 0, s) for p, s in zip(paths, sizes)]) as whole:
                whole.seek(starts[z_disk] + z_offset)
                rec = ZIP64_EOCD.unpack(whole.read(ZIP64_EOCD.size))
            if rec[0] != SIG_ZIP64_EOCD:
                raise SeldInputError(archive, "corrupt ZIP64 end-of-central-directory record")
            this_disk, cd_disk, n_entries, cd_size, cd_offset = rec[4], rec[5], rec[7], rec[8], rec[9]
    if this_disk != len(paths) - 1:
        raise SeldInputError(archive, _parts_problem(this_disk + 1, len(paths)))
    cd_start = starts[cd_disk] + cd_offset
    with ConcatReader([(p, 0, s) for p, s in zip(paths, sizes)]) as whole:
        whole.seek(cd_start)
        cd = whole.read(cd_size)
    if len(cd) != cd_size:
        raise SeldInputError(archive, "central directory runs past the end of the last part")

    new_cd = _rewrite_central_directory(cd, starts, n_entries, archive)
    tail = bytearray(new_cd)
    if n_entries >= U16 or len(new_cd) >= U32 or cd_start >= U32:
        z64_pos = cd_start + len(new_cd)
        tail += ZIP64_EOCD.pack(SIG_ZIP64_EOCD, ZIP64_EOCD.size - 12, 45, 45, 0, 0,
                                n_entries, n_entries, len(new_cd), cd_start)  # fmt: skip
        tail += ZIP64_LOCATOR.pack(SIG_ZIP64_LOCATOR, 0, z64_pos, 1)
    tail += EOCD.pack(SIG_EOCD, 0, 0, min(n_entries, U16), min(n_entries, U16),
                      min(len(new_cd), U32), min(cd_start, U32), len(comment))  # fmt: skip
    tail += comment

    segments: list[tuple[Path | bytes, int, int]] = []
    for p, start, size in zip(paths, starts, sizes):
        if start < cd_start:
            segments.append((p, 0, min(size, cd_start - start)))
    segments.append((bytes(tail), 0, len(tail)))
    return ConcatReader(segments)


@contextlib.contextmanager
def open_zip(archive: PathLike | Sequence[PathLike]) -> Iterator[zipfile.ZipFile]:
    """Open a zip archive for reading; split archives are joined on the fly.

    ``archive`` is either the ``.zip`` path (``.z01``… siblings are picked up automatically) or the explicit
    list of parts in disk order (last one being the ``.zip``).
    """
    parts = split_parts(archive) if isinstance(archive, (str, Path)) else [Path(p) for p in archive]
    if not parts:
        raise SeldInputError(None, "open_zip: no archive parts given")
    name = parts[-1]
    if not name.is_file():
        raise SeldInputError(name, "archive not found")
    try:
        if len(parts) == 1:
            with zipfile.ZipFile(name) as zf:
                yield zf
        else:
            with spanned_view(parts) as view, zipfile.ZipFile(view) as zf:
                yield zf
    except (zipfile.BadZipFile, struct.error) as err:
        raise SeldInputError(name, f"corrupt zip archive: {err}") from err
