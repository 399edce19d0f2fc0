"""The download stages of the FSD50K synthetic split against a local HTTP server: SHA-1 files of unknown size
(FMA) resumed and verified, the record of what was fetched, and its check by the preparation stages."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest
import yaml

from real_fixtures import fma_fixture
from seldlib.download import NetworkError, download_file, read_fetched
from seldlib.errors import SeldInputError
from test_download import ROOT, FakeZenodo, closed_port_url, md5


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@pytest.fixture
def server():
    fake = FakeZenodo()
    yield fake
    fake.close()


def test_sha1_file_without_published_size_is_resumed_and_verified(server, tmp_path):
    data = os.urandom(250_000)
    server.files["/fma/fma_small.zip"] = data
    server.drop_after["/fma/fma_small.zip"] = 90_000
    dest = download_file(server.url + "/fma/fma_small.zip", tmp_path / "fma_small.zip", None, f"sha1:{sha1(data)}",
                         chunk=16_384, progress=False, backoff=0)  # fmt: skip
    assert dest.read_bytes() == data
    assert server.file_requests("/fma/fma_small.zip") == [None, "bytes=90000-"]  # total learnt from Content-Length

    dest.unlink()
    wrong = sha1(b"other")
    with pytest.raises(SeldInputError) as err:
        download_file(server.url + "/fma/fma_small.zip", dest, None, f"sha1:{wrong}", progress=False)
    assert f"expected sha1:{wrong}, got 250000 bytes sha1:{sha1(data)}" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def _stage(dataset: str, params: dict, tmp_path, monkeypatch) -> tuple[int, dict]:
    from stages import download_sources

    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    argv = dvc["stages"][f"download_{dataset}"]["cmd"].split()[3:]  # as DVC runs it
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"synth": params}))
    code = download_sources.main(argv)
    return code, json.loads((tmp_path / f"data/downloads/{dataset}.json").read_text())


def _synth_params(**fsd50k) -> dict:
    p = yaml.safe_load((ROOT / "params.yaml").read_text())["synth"]
    p["fsd50k"].update(fsd50k)
    return p


@pytest.mark.parametrize("dataset", ["fsd50k", "fma", "tau_srir"])
def test_procedural_default_fetches_nothing_and_needs_no_network(dataset, tmp_path, monkeypatch):
    dead = closed_port_url()
    params = _synth_params(base_url=dead, fma_url=dead)
    t = time.perf_counter()
    assert _stage(dataset, params, tmp_path, monkeypatch) == (0, {"used": False})
    assert time.perf_counter() - t < 5 and not (tmp_path / "data/.downloads").exists()


def test_fma_stage_records_sizes_and_checksums_and_is_idempotent(server, tmp_path, monkeypatch, capsys):
    files = fma_fixture()
    for key, data in files.items():
        server.files[f"/mirror/fma/{key}"] = data
    sums = {"metadata": sha1(files["fma_metadata.zip"]), "small": sha1(files["fma_small.zip"])}
    params = _synth_params(fma_url=server.url + "/mirror/fma/", fma_sha1=sums)
    params["source"] = "fsd50k"
    code, record = _stage("fma", params, tmp_path, monkeypatch)
    assert code == 0
    assert record == {"used": True, "caches": {"fma": {"record_id": None, "files": [
        {"key": k, "size": len(files[k]), "sha1": sha1(files[k])} for k in ("fma_metadata.zip", "fma_small.zip")]}}}
    cache = tmp_path / "data/.downloads/fma"
    assert all((cache / k).read_bytes() == v for k, v in files.items())
    before = (tmp_path / "data/downloads/fma.json").read_bytes()
    server.requests.clear()
    assert _stage("fma", params, tmp_path, monkeypatch)[0] == 0
    assert server.requests == [] and (tmp_path / "data/downloads/fma.json").read_bytes() == before

    # what a preparation stage gets: the verified paths; a touched file is hashed again and kept,
    # a changed or missing one is named with what to run
    os.utime(cache / "fma_small.zip", ns=(10**18, 10**18))
    hint = "run `dvc repro -f download_fma`"
    got = read_fetched(tmp_path / "data/downloads/fma.json", tmp_path / "data/.downloads", hint)
    assert got == {k: cache / k for k in files}
    good = files["fma_small.zip"]
    (cache / "fma_small.zip").write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # same size, one bit off
    with pytest.raises(SeldInputError, match=rf"fma_small.zip: is not the verified download \(sha1:\w+\); {hint}"):
        read_fetched(tmp_path / "data/downloads/fma.json", tmp_path / "data/.downloads", hint)
    (cache / "fma_small.zip").unlink()
    with pytest.raises(SeldInputError, match=r"fma_small.zip: missing from the download cache; run `dvc repro"):
        read_fetched(tmp_path / "data/downloads/fma.json", tmp_path / "data/.downloads", hint)


def test_fsd50k_stage_fetches_both_records_without_extracting(server, tmp_path, monkeypatch):
    audio = {"FSD50K.dev_audio.z01": b"part one", "FSD50K.dev_audio.zip": b"part two",
             "FSD50K.eval_audio.zip": b"eval", "FSD50K.doc.zip": b"not fetched"}
    server.add_record(4060432, audio)
    server.add_record(6406873, {"FSD50K_selected.txt": b"knock/train/Knock/1.wav\n", "mixtures.zip": b"x"})
    params = _synth_params(base_url=server.url)
    params["source"] = "fsd50k"
    code, record = _stage("fsd50k", params, tmp_path, monkeypatch)
    assert code == 0
    assert {name: [f["key"] for f in c["files"]] for name, c in record["caches"].items()} == {
        "fsd50k": ["FSD50K.dev_audio.z01", "FSD50K.dev_audio.zip", "FSD50K.eval_audio.zip"],
        "fsd50k_selection": ["FSD50K_selected.txt"]}
    assert record["caches"]["fsd50k"]["files"][0] == {"key": "FSD50K.dev_audio.z01", "size": 8, "md5": md5(b"part one")}
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [".downloads", "downloads"]  # nothing extracted


def test_unreachable_mirror_is_one_line(tmp_path, monkeypatch):
    params = _synth_params(base_url=closed_port_url())
    params["source"] = "fsd50k"
    with pytest.raises(NetworkError, match="cannot reach .*/api/records/4060432"):
        _stage("fsd50k", params, tmp_path, monkeypatch)


def test_preparation_stage_names_a_missing_archive_in_one_line(tmp_path, monkeypatch, capsys):
    from stages import prepare_sources
    from stages._cli import run

    monkeypatch.chdir(tmp_path)
    params = _synth_params()
    params["source"] = "fsd50k"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"synth": params}))
    (tmp_path / "data/downloads").mkdir(parents=True)
    (tmp_path / "data/downloads/fsd50k.json").write_text(json.dumps({"used": True, "caches": {"fsd50k": {
        "record_id": 4060432, "files": [{"key": "FSD50K.dev_audio.zip", "size": 3, "md5": md5(b"abc")}]}}}))
    argv = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["prepare_sources"]["cmd"].split()[3:]
    with pytest.raises(SystemExit) as exit_:
        run(lambda: prepare_sources.main(argv))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert err == ("error: data/.downloads/fsd50k/FSD50K.dev_audio.zip: missing from the download cache; "
                   "run `dvc repro -f download_fsd50k`\n")
    assert not (tmp_path / "data/synth_sources").exists()  # no partial output
