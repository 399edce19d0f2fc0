"""End-to-end tests of seldlib.download against a real HTTP server on 127.0.0.1 (no internet, no mocks)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from seldlib.atomic import OUTPUT_MARKER
from seldlib.download import (
    CACHE_MANIFEST_NAME,
    MANIFEST_NAME,
    NetworkError,
    download_dataset,
    download_file,
    fetch_record_files,
    main,
    open_zip,
    safe_extract,
)
from seldlib.errors import SeldInputError

ROOT = Path(__file__).resolve().parents[1]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# --------------------------------------------------------------------------- fake Zenodo server


class FakeZenodo:
    """Serves record JSON and file bytes; supports Range, one-shot connection drops, ignoring Range."""

    def __init__(self) -> None:
        self.json: dict[str, bytes] = {}
        self.files: dict[str, bytes] = {}
        self.drop_after: dict[str, int] = {}  # path -> bytes sent before the connection is cut (once)
        self.ignore_range = False
        self.requests: list[tuple[str, str | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):  # HTTP/1.0: the socket closes after every response
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                rng = self.headers.get("Range")
                fake.requests.append((path, rng))
                if path in fake.json:
                    return self._send(200, fake.json[path], {"Content-Type": "application/json"})
                if path not in fake.files:
                    return self._send(404, b"not found", {})
                data, start, status, extra = fake.files[path], 0, 200, {}
                if rng and not fake.ignore_range:
                    start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))
                    if start >= len(data):
                        return self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                    status, extra = 206, {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
                body = data[start:]
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                cut = fake.drop_after.pop(path, None)
                self.wfile.write(body if cut is None else body[:cut])

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def add_file(self, record_id: int, key: str, data: bytes) -> str:
        path = f"/api/records/{record_id}/files/{key}/content"
        self.files[path] = data
        return path

    def add_record(self, record_id: int, files: dict[str, bytes], md5s: dict[str, str] | None = None) -> None:
        """Record JSON in the current API shape (``files`` list, ``links.self`` = the bytes)."""
        entries = []
        for key, data in files.items():
            path = self.add_file(record_id, key, data)
            checksum = (md5s or {}).get(key, md5(data))
            entries.append({"key": key, "size": len(data), "checksum": f"md5:{checksum}", "links": {"self": self.url + path}})
        self.json[f"/api/records/{record_id}"] = json.dumps({"id": record_id, "files": entries}).encode()

    def file_requests(self, path: str) -> list[str | None]:
        return [r for p, r in self.requests if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def zenodo():
    fake = FakeZenodo()
    yield fake
    fake.close()


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there any more: connection refused
    return f"http://127.0.0.1:{port}"


def make_zip(members: dict[str, bytes], top: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(f"{top}/{name}" if top else name, data)
    return buf.getvalue()


def make_split_zip(members: dict[str, bytes], seg: int, zip64: bool = False) -> list[bytes]:
    """Split archive as ``zip -s`` lays it out (APPNOTE §8.5): spanning signature, per-disk offsets.

    Returns the parts in order ``.z01, .z02, …, .zip``. With ``zip64`` the entries' offsets/disks and the
    end record go through ZIP64 fields. The central directory itself may straddle parts.
    """
    whole = make_zip(members)
    n, cd_size, cd_off = struct.unpack("<HLL", whole[-12:-2])  # plain EOCD, no comment
    stream = bytearray(b"PK\x07\x08" + whole[:cd_off])  # data shifted by the 4-byte signature
    cd_abs = len(stream)
    old_cd, p, new_cd = whole[cd_off : cd_off + cd_size], 0, bytearray()
    for _ in range(n):
        nlen, xlen, clen = struct.unpack("<3H", old_cd[p + 28 : p + 34])
        entry = bytearray(old_cd[p : p + 46 + nlen + xlen + clen])
        disk, rel = divmod(struct.unpack("<L", entry[42:46])[0] + 4, seg)
        if zip64:
            entry[34:36], entry[42:46] = b"\xff\xff", b"\xff\xff\xff\xff"
            z = struct.pack("<2HQL", 1, 12, rel, disk)
            entry[30:32] = struct.pack("<H", xlen + len(z))
            entry[46 + nlen + xlen : 46 + nlen + xlen] = z  # after existing extras, before the comment
        else:
            entry[34:36], entry[42:46] = struct.pack("<H", disk), struct.pack("<L", rel)
        new_cd += entry
        p += 46 + nlen + xlen + clen
    stream += new_cd
    parts = [bytearray(stream[i : i + seg]) for i in range(0, len(stream), seg)]
    last = len(parts) - 1
    cd_disk, cd_rel = divmod(cd_abs, seg)
    if zip64:
        z64_rel = len(parts[-1])
        parts[-1] += b"PK\x06\x06" + struct.pack("<Q2H2L4Q", 44, 45, 45, last, cd_disk, n, n, len(new_cd), cd_rel)
        parts[-1] += b"PK\x06\x07" + struct.pack("<LQL", last, z64_rel, len(parts))
        parts[-1] += b"PK\x05\x06" + struct.pack("<4H2LH", 0xFFFF, 0xFFFF, n, n, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        parts[-1] += b"PK\x05\x06" + struct.pack("<4H2LH", last, cd_disk, n, n, len(new_cd), cd_rel, 0)
    return [bytes(x) for x in parts]


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` except the output marker of seldlib/atomic.py."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != OUTPUT_MARKER}


# --------------------------------------------------------------------------- record listing


def test_fetch_record_files_reads_both_api_shapes(zenodo):
    a, b = b"alpha" * 100, b"beta" * 7
    zenodo.add_record(1, {"a.zip": a})
    # InvenioRDM record with `entries` keyed by name: `self` is JSON metadata, `content` the bytes
    zenodo.json["/api/records/2"] = json.dumps({"files": {"enabled": True, "entries": {"b.txt": {
        "size": len(b), "checksum": f"md5:{md5(b).upper()}",
        "links": {"self": "/api/records/2/files/b.txt", "content": "/api/records/2/files/b.txt/content"}}}}}).encode()
    # record JSON without the list: it must be read from /files (list of `entries`)
    zenodo.json["/api/records/3"] = json.dumps({"files": {"enabled": True}}).encode()
    zenodo.json["/api/records/3/files"] = json.dumps({"entries": [{"key": "b.txt", "size": len(b),
        "checksum": f"md5:{md5(b)}", "links": {"content": "/api/records/3/files/b.txt/content"}}]}).encode()  # fmt: skip

    (f1,) = fetch_record_files(1, zenodo.url)
    assert (f1.key, f1.size, f1.md5, f1.url) == ("a.zip", 500, md5(a), f"{zenodo.url}/api/records/1/files/a.zip/content")
    (f2,) = fetch_record_files("2", zenodo.url + "/")
    assert (f2.key, f2.size, f2.md5, f2.url) == ("b.txt", 28, md5(b), f"{zenodo.url}/api/records/2/files/b.txt/content")
    (f3,) = fetch_record_files(3, zenodo.url)
    assert f3.url == f"{zenodo.url}/api/records/3/files/b.txt/content"


def test_fetch_record_files_refuses_entries_without_md5_and_unknown_records(zenodo):
    zenodo.json["/api/records/4"] = json.dumps(
        {"files": [{"key": "x.zip", "size": 3, "checksum": "sha256:" + "0" * 64, "links": {"self": "/x"}}]}
    ).encode()
    with pytest.raises(SeldInputError, match=r"x.zip has no MD5 checksum"):
        fetch_record_files(4, zenodo.url)
    with pytest.raises(SeldInputError, match=r"api/records/5: HTTP 404"):
        fetch_record_files(5, zenodo.url)


# --------------------------------------------------------------------------- download_file


def test_dropped_connection_is_resumed_with_range(zenodo, tmp_path):
    data = os.urandom(300_000)
    path = zenodo.add_file(9, "big.bin", data)
    zenodo.drop_after[path] = 120_000
    dest = download_file(zenodo.url + path, tmp_path / "big.bin", len(data), md5(data),
                         chunk=16_384, progress=False, backoff=0)  # fmt: skip
    assert dest.read_bytes() == data
    assert zenodo.file_requests(path) == [None, "bytes=120000-"]
    assert not (tmp_path / "big.bin.part").exists()


def test_interrupted_download_keeps_bytes_and_resumes_next_run(zenodo, tmp_path):
    data = os.urandom(200_000)
    path = zenodo.add_file(9, "big.bin", data)
    zenodo.drop_after[path] = 50_000
    dest = tmp_path / "big.bin"
    with pytest.raises(NetworkError) as err:
        download_file(zenodo.url + path, dest, len(data), md5(data), retries=0, progress=False)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"cannot reach {zenodo.url + path} (")
    assert "50000 bytes kept in big.bin.part" in msg
    assert not dest.exists() and (tmp_path / "big.bin.part").read_bytes() == data[:50_000]

    download_file(zenodo.url + path, dest, len(data), md5(data), retries=0, progress=False)
    assert dest.read_bytes() == data
    assert zenodo.file_requests(path) == [None, "bytes=50000-"]


def test_server_ignoring_range_restarts_from_zero(zenodo, tmp_path):
    data = os.urandom(100_000)
    path = zenodo.add_file(9, "f.bin", data)
    zenodo.ignore_range = True
    dest = tmp_path / "f.bin"
    # garbage in the .part file: appending the full 200 answer to it would fail the MD5 check
    (tmp_path / "f.bin.part").write_bytes(b"\x00" * 30_000)
    download_file(zenodo.url + path, dest, len(data), md5(data), progress=False)
    assert dest.read_bytes() == data
    assert zenodo.file_requests(path) == ["bytes=30000-"]


def test_checksum_mismatch_names_file_and_checksums_and_leaves_nothing(zenodo, tmp_path):
    data = b"served bytes" * 1000
    path = zenodo.add_file(9, "bad.zip", data)
    wrong = md5(b"other bytes")
    dest = tmp_path / "bad.zip"
    with pytest.raises(SeldInputError) as err:
        download_file(zenodo.url + path, dest, len(data), wrong, progress=False)
    msg = str(err.value)
    assert str(dest) in msg and wrong in msg and md5(data) in msg
    assert list(tmp_path.iterdir()) == []


def test_verified_file_is_skipped_and_wrong_file_replaced(zenodo, tmp_path):
    data = os.urandom(5000)
    path = zenodo.add_file(9, "f.bin", data)
    dest = tmp_path / "f.bin"
    dest.write_bytes(data)
    download_file(zenodo.url + path, dest, len(data), md5(data), progress=False)
    assert zenodo.file_requests(path) == []
    dest.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, one bit off
    download_file(zenodo.url + path, dest, len(data), md5(data), progress=False)
    assert dest.read_bytes() == data and zenodo.file_requests(path) == [None]


def test_unreachable_server_gives_one_line_error(tmp_path, capsys):
    url = closed_port_url()
    with pytest.raises(NetworkError) as err:
        fetch_record_files(15559774, url)
    msg = str(err.value)
    assert msg.startswith(f"cannot reach {url}/api/records/15559774 (") and "check your internet connection" in msg
    assert "\n" not in msg

    with pytest.raises(NetworkError, match="cannot reach .*/f.bin"):
        download_file(f"{url}/f.bin", tmp_path / "f.bin", 10, "0" * 32, retries=1, progress=False, backoff=0)
    assert list(tmp_path.iterdir()) == []

    assert main(["dcase2025", str(tmp_path / "data"), "--base-url", url, "--no-progress"]) == 2  # as every CLI
    err_text = capsys.readouterr().err
    assert err_text.count("\n") == 1 and err_text.startswith("error: cannot reach ") and "Traceback" not in err_text


# --------------------------------------------------------------------------- extraction


@pytest.mark.parametrize(
    ("member", "symlink"),
    [("../evil.txt", False), ("/tmp/abs_evil.txt", False), ("ok/../../evil.txt", False), ("link", True)],
)
def test_malicious_archive_is_refused_with_nothing_extracted(tmp_path, member, symlink):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("good/first.txt", b"fine")
        info = zipfile.ZipInfo(member)
        if symlink:
            info.create_system = 3
            info.external_attr = 0o120777 << 16
        zf.writestr(info, b"/etc/passwd" if symlink else b"evil")
    archive = tmp_path / "work" / "bad.zip"
    archive.parent.mkdir()
    archive.write_bytes(buf.getvalue())
    with pytest.raises(SeldInputError) as err:
        safe_extract(archive, tmp_path / "work" / "out", progress=False)
    assert str(archive) in str(err.value) and repr(member) in str(err.value)
    assert ("symbolic link" if symlink else "path") in str(err.value)
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["bad.zip"]  # no target, no temp dir
    assert not (tmp_path / "evil.txt").exists()


def test_failure_midway_leaves_previous_tree_untouched(tmp_path):
    raw = bytearray()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.txt", b"A" * 1000)
        zf.writestr("b.txt", b"B" * 1000)
    raw = bytearray(buf.getvalue())
    raw[raw.index(b"B" * 1000) + 500] ^= 0xFF  # CRC error in the second member
    archive = tmp_path / "c.zip"
    archive.write_bytes(bytes(raw))
    (tmp_path / "old.zip").write_bytes(make_zip({"old.txt": b"previous extraction"}))
    out = safe_extract(tmp_path / "old.zip", tmp_path / "out", progress=False)
    with pytest.raises(SeldInputError, match="c.zip: cannot extract: Bad CRC-32"):
        safe_extract(archive, out, progress=False)
    assert tree(out) == {"old.txt": b"previous extraction"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.zip", "old.zip", "out"]


@pytest.mark.parametrize("zip64", [False, True])
def test_split_zip_is_joined_with_offset_fixup(tmp_path, zip64):
    members = {f"d/f{i}.bin": os.urandom(7000) for i in range(6)} | {"d/text.txt": b"hello " * 3000}
    parts = make_split_zip(members, seg=10_000, zip64=zip64)
    assert len(parts) >= 4
    paths = [tmp_path / f"s.z{i:02d}" for i in range(1, len(parts))] + [tmp_path / "s.zip"]
    for p, data in zip(paths, parts):
        p.write_bytes(data)
    # plain concatenation is not enough: zipfile cannot read the members at their per-part offsets
    with pytest.raises(zipfile.BadZipFile), zipfile.ZipFile(io.BytesIO(b"".join(parts))) as zf:
        for name in members:
            zf.read(name)
    with open_zip(tmp_path / "s.zip") as zf:  # .z01… siblings found automatically
        assert {i.filename: zf.read(i) for i in zf.infolist()} == members
    safe_extract(paths, tmp_path / "out", strip_top="d", progress=False)
    assert tree(tmp_path / "out") == {k.removeprefix("d/"): v for k, v in members.items()}
    with pytest.raises(SeldInputError, match="says it has .* parts but"):
        with open_zip(paths[1:]):
            pass


@pytest.mark.skipif(shutil.which("zip") is None, reason="Info-ZIP `zip` not installed")
def test_split_zip_made_by_info_zip(tmp_path):
    src = tmp_path / "src" / "top"
    src.mkdir(parents=True)
    files = {f"f{i}.bin": os.urandom(40_000) for i in range(4)}
    for k, v in files.items():
        (src / k).write_bytes(v)
    subprocess.run(["zip", "-q", "-r", "-s", "64k", str(tmp_path / "sp.zip"), "top"], cwd=tmp_path / "src", check=True)
    assert (tmp_path / "sp.z02").exists()
    safe_extract(tmp_path / "sp.zip", tmp_path / "out", progress=False)
    assert tree(tmp_path / "out") == {f"top/{k}": v for k, v in files.items()}


# --------------------------------------------------------------------------- whole data sets


def test_dcase2025_download_extracts_into_pipeline_layout(zenodo, tmp_path):
    wav, csv, mp4 = b"RIFF" + os.urandom(2000), b"0,1,0,20,10,150\n", os.urandom(3000)
    archives = {
        "metadata_dev.zip": make_zip({"dev-train-tau/fold3_a.csv": csv, "dev-test-sony/fold4_b.csv": csv}, top="metadata_dev"),
        "stereo_dev.zip": make_zip({"dev-train-tau/fold3_a.wav": wav, "dev-test-sony/fold4_b.wav": wav}, top="stereo_dev"),
        "video_dev.zip": make_zip({"dev-train-tau/fold3_a.mp4": mp4}),  # no top folder
        "stereo_eval.zip": make_zip({"mix001.wav": wav}, top="stereo_eval"),  # no eval/ folder
        "video_eval.zip": make_zip({"eval/mix001.mp4": mp4}, top="video_eval"),
    }
    zenodo.add_record(15559774, {**archives, "README.md": b"readme"})
    root = tmp_path / "dcase"
    manifest_path = download_dataset("dcase2025", root, base_url=zenodo.url, progress=False)

    assert tree(root) == {
        MANIFEST_NAME: manifest_path.read_bytes(),
        "metadata_dev/dev-train-tau/fold3_a.csv": csv,
        "metadata_dev/dev-test-sony/fold4_b.csv": csv,
        "stereo_dev/dev-train-tau/fold3_a.wav": wav,
        "stereo_dev/dev-test-sony/fold4_b.wav": wav,
        "video_dev/dev-train-tau/fold3_a.mp4": mp4,
        "stereo_eval/eval/mix001.wav": wav,
        "video_eval/eval/mix001.mp4": mp4,
    }  # nothing else left behind: the archives stay in the download cache beside root
    assert tree(tmp_path / ".downloads" / "dcase2025") == {
        **archives, CACHE_MANIFEST_NAME: (tmp_path / ".downloads" / "dcase2025" / CACHE_MANIFEST_NAME).read_bytes()
    }
    manifest = json.loads(manifest_path.read_text())
    assert manifest["dataset"] == "dcase2025" and manifest["record_id"] == 15559774
    assert {a["key"]: a["files"] for a in manifest["archives"]} == {
        k: [{"key": k, "size": len(v), "md5": md5(v)}] for k, v in archives.items()
    }
    assert all(p != "/api/records/15559774/files/README.md/content" for p, _ in zenodo.requests)

    # second run: everything is recorded in the manifest, so only the record JSON is fetched
    zenodo.requests.clear()
    download_dataset("dcase2025", root, base_url=zenodo.url, progress=False)
    assert [p for p, _ in zenodo.requests] == ["/api/records/15559774"]


def test_tau_srir_split_archive_download_and_selection_file(zenodo, tmp_path):
    members = {f"TAU-SRIR_DB/rirs_0{i}_room.mat": os.urandom(9000) for i in range(1, 4)}
    parts = make_split_zip(members, seg=8000)
    record = {f"TAU-SRIR_DB.z{i:02d}": p for i, p in enumerate(parts[:-1], 1)} | {"TAU-SRIR_DB.zip": parts[-1]}
    record["TAU-SNoise_DB.zip"] = make_zip({"noise.wav": b"n"}, top="TAU-SNoise_DB")
    zenodo.add_record(6408611, record)
    root = tmp_path / "tau"
    manifest_path = download_dataset("tau_srir", root, base_url=zenodo.url, files=["TAU-SRIR_DB.zip"], progress=False)
    assert tree(root / "TAU-SRIR_DB") == {k.removeprefix("TAU-SRIR_DB/"): v for k, v in members.items()}
    assert not (root / "TAU-SNoise_DB").exists() and sorted(p.name for p in root.iterdir()) == ["TAU-SRIR_DB", MANIFEST_NAME]
    assert sorted(p.name for p in (tmp_path / ".downloads" / "tau_srir").iterdir()) == sorted(
        {*record, CACHE_MANIFEST_NAME} - {"TAU-SNoise_DB.zip"}
    )
    (entry,) = json.loads(manifest_path.read_text())["archives"]
    assert [f["key"] for f in entry["files"]] == [*sorted(record)[1 : len(parts)], "TAU-SRIR_DB.zip"]

    listing = b"dog/train/Bark/1234.wav\n"
    zenodo.add_record(6406873, {"FSD50K_selected.txt": listing, "big_mixtures.zip": b"x" * 10})
    download_dataset("fsd50k_selection", tmp_path / "sel", base_url=zenodo.url, progress=False)
    assert (tmp_path / "sel" / "FSD50K_selected.txt").read_bytes() == listing
    with pytest.raises(SeldInputError, match=r"has no file 'nope.zip'; it has: FSD50K_selected.txt, big_mixtures.zip"):
        download_dataset("fsd50k_selection", tmp_path / "sel", base_url=zenodo.url, files=["nope.zip"], progress=False)


# --------------------------------------------------------------------------- the download cache

DCASE_API = "/api/records/15559774"


def content(key: str) -> str:
    return f"{DCASE_API}/files/{key}/content"


def test_dataset_download_resumes_a_partial_archive_in_the_cache(zenodo, tmp_path):
    data = make_zip({"dev-train-tau/a.csv": os.urandom(60_000)}, top="metadata_dev")
    zenodo.add_record(15559774, {"metadata_dev.zip": data})
    zenodo.drop_after[content("metadata_dev.zip")] = 20_000
    root, cache = tmp_path / "dcase", tmp_path / ".downloads" / "dcase2025"  # the cache sits beside root
    with pytest.raises(NetworkError, match="20000 bytes kept in metadata_dev.zip.part"):
        download_dataset("dcase2025", root, zenodo.url, ["metadata_dev.zip"], retries=0, progress=False)
    assert (cache / "metadata_dev.zip.part").read_bytes() == data[:20_000] and not root.exists()
    download_dataset("dcase2025", root, zenodo.url, ["metadata_dev.zip"], retries=0, progress=False)
    assert zenodo.file_requests(content("metadata_dev.zip")) == [None, "bytes=20000-"]
    assert (cache / "metadata_dev.zip").read_bytes() == data and (root / "metadata_dev/dev-train-tau/a.csv").is_file()


def test_cached_archive_is_rehashed_only_when_its_size_or_mtime_changed(zenodo, tmp_path):
    meta = make_zip({"dev-train-tau/a.csv": b"0,1,0,20,150,1\n"}, top="metadata_dev")
    stereo = make_zip({"dev-train-tau/a.wav": os.urandom(5000)}, top="stereo_dev")
    zenodo.add_record(15559774, {"metadata_dev.zip": meta, "stereo_dev.zip": stereo})
    root, cache = tmp_path / "dcase", tmp_path / ".downloads" / "dcase2025"
    files = ["metadata_dev.zip", "stereo_dev.zip"]
    download_dataset("dcase2025", root, zenodo.url, files, progress=False)
    doc = json.loads((cache / CACHE_MANIFEST_NAME).read_text())
    st = (cache / "metadata_dev.zip").stat()
    assert (doc["dataset"], doc["record_id"]) == ("dcase2025", 15559774)
    assert doc["files"]["metadata_dev.zip"] == {
        "size": len(meta), "md5": md5(meta), "verified": {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    }
    assert sorted(p.name for p in cache.iterdir()) == [*files, CACHE_MANIFEST_NAME]  # kept after extraction

    os.utime(cache / "metadata_dev.zip", ns=(10**18, 10**18))  # touched: same bytes, hashed again, kept
    (cache / "stereo_dev.zip").write_bytes(stereo[:-1] + bytes([stereo[-1] ^ 1]))  # same size, one bit off
    shutil.rmtree(root)
    zenodo.requests.clear()
    download_dataset("dcase2025", root, zenodo.url, files, progress=False)
    assert [p for p, _ in zenodo.requests] == [DCASE_API, content("stereo_dev.zip")]
    doc = json.loads((cache / CACHE_MANIFEST_NAME).read_text())
    assert doc["files"]["metadata_dev.zip"]["verified"]["mtime_ns"] == 10**18
    assert (cache / "stereo_dev.zip").read_bytes() == stereo


def test_dataset_stage_keeps_verified_archives_across_a_failure_and_a_param_change(zenodo, tmp_path, monkeypatch, capsys):
    from stages import dataset as dataset_stage
    from stages._cli import run

    wav, mp4 = os.urandom(4000), os.urandom(5000)
    archives = {  # in the order the stage asks for them; the 4th arrives corrupted in run 1
        "metadata_dev.zip": make_zip({"dev-train-tau/fold3_a.csv": b"0,1,0,20,150,1\n"}, top="metadata_dev"),
        "stereo_dev.zip": make_zip({"dev-train-tau/fold3_a.wav": wav}, top="stereo_dev"),
        "stereo_eval.zip": make_zip({"mix001.wav": wav}, top="stereo_eval"),
        "video_dev.zip": make_zip({"dev-train-tau/fold3_a.mp4": mp4}, top="video_dev"),
        "video_eval.zip": make_zip({"eval/mix001.mp4": mp4}, top="video_eval"),
    }
    zenodo.add_record(15559774, archives)
    good = archives["video_dev.zip"]
    zenodo.files[content("video_dev.zip")] = good[:-1] + bytes([good[-1] ^ 1])
    data = yaml.safe_load((ROOT / "params.yaml").read_text())["data"]
    data.update(source="dcase2025", dcase2025={"base_url": zenodo.url, "video": True})
    argv = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["dataset"]["cmd"].split()[3:]  # as DVC runs it
    monkeypatch.chdir(tmp_path)
    cache = Path("data/.downloads/dcase2025")

    def stage(seed: int) -> tuple[int, list[str]]:
        data["seed"] = seed
        Path("params.yaml").write_text(yaml.safe_dump({"data": data}))
        zenodo.requests.clear()
        with pytest.raises(SystemExit) as exit_:
            run(lambda: dataset_stage.main(argv))
        return exit_.value.code, [p for p, _ in zenodo.requests]

    code, requests = stage(2025)
    err = capsys.readouterr().err.split("\r")[-1]  # after the progress bars, cleared with \r
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ")
    assert "checksum mismatch" in err and str(cache / "video_dev.zip") in err
    assert sorted(requests) == sorted([DCASE_API, *map(content, archives)])
    assert sorted(p.name for p in cache.iterdir()) == sorted({*archives, CACHE_MANIFEST_NAME} - {"video_dev.zip"})
    assert all((cache / k).read_bytes() == v for k, v in archives.items() if k != "video_dev.zip")
    assert sorted(p.name for p in Path("data").iterdir()) == [".downloads"]  # no output, no temp dir

    zenodo.files[content("video_dev.zip")] = good  # fixed on the server
    assert stage(2025) == (0, [DCASE_API, content("video_dev.zip")])
    expected = {
        "metadata_dev/dev-train-tau/fold3_a.csv": b"0,1,0,20,150,1\n",
        "stereo_dev/dev-train-tau/fold3_a.wav": wav,
        "stereo_eval/eval/mix001.wav": wav,
        "video_dev/dev-train-tau/fold3_a.mp4": mp4,
        "video_eval/eval/mix001.mp4": mp4,
    }
    out = tree(Path("data/dataset"))
    assert {k: v for k, v in out.items() if k != MANIFEST_NAME} == expected  # the cache manifest is not in it

    assert stage(7) == (0, [DCASE_API])  # data.seed does not change the download (issue 9)
    assert tree(Path("data/dataset")) == out
