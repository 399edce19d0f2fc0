"""The FSD50K selection and FMA music -> the class-folder tree at 24 kHz: paths, content, the seeded split,
missing/unreadable files by name and the threshold, parallel = serial. Fixtures: tests/real_fixtures.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from real_fixtures import FMA_MISSING, fma_fixture, fsd50k_fixture
from seldlib.errors import SeldInputError
from seldlib.prepare.convert import arrange_sources
from seldlib.prepare.fma import read_tracks, select_music
from seldlib.prepare.fsd50k import read_selection
from seldlib.synth.sources import FOLDER_NAMES, FolderBank


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("downloads")
    fsd = fsd50k_fixture()
    for key, data in {**fsd.record, **fsd.selection, **fma_fixture()}.items():
        (tmp / key).write_bytes(data)
    names = ("FSD50K_selected.txt", "FSD50K.dev_audio.zip", "FSD50K.eval_audio.zip", "fma_metadata.zip",
             "fma_small.zip")
    return {n: tmp / n for n in names}, fsd


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _dominant_hz(path):
    x, sr = sf.read(path)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spec) * sr / len(x), sr


def test_tree_paths_rate_content_and_report(tmp_path, downloads):
    files, fsd = downloads
    report = arrange_sources(files, tmp_path, max_missing=3, music_per_genre=20, music_train_share=0.6,
                             split_seed=3, progress=False)  # fmt: skip
    got = {k for k in _tree(tmp_path) if k.endswith(".wav")}
    music = {k for k in got if k.startswith("music/")}
    assert got - music == set(fsd.expected)  # the selected files at their listed paths, nothing else
    for rel, freq in fsd.expected.items():
        hz, sr = _dominant_hz(tmp_path / rel)
        assert sr == 24000 and abs(hz - freq) < 3.0, rel  # resampled once, same tone
        assert sf.info(str(tmp_path / rel)).channels == 1
    # Rock: 2, 5, 12, 30 (98565 corrupt, 11 not in small); Pop: 10, 20; Folk: 21 (no mp3); Electronic skipped
    assert sorted(int(k.rsplit("/", 1)[1][:6]) for k in music) == [2, 5, 10, 12, 20, 30]
    assert {k.split("/")[2] for k in music} == {"Rock", "Pop"}
    assert sum("/train/Rock/" in k for k in music) == 2 and sum("/train/Pop/" in k for k in music) == 1  # round(0.6 n)
    assert sf.info(str(tmp_path / sorted(music)[0])).samplerate == 24000
    assert report["missing"] == [*fsd.missing, f"FMA track {FMA_MISSING:06d} (Folk): not in fma_small.zip"]
    assert report["unreadable"] == [f"{fsd.unreadable[0]}: cannot decode (Error in WAV file. No 'data' chunk marker.)"]
    assert json.loads((tmp_path / "manifest.json").read_text()) == report
    assert report["files"]["bell"] == {"train": 1, "test": 1} and report["files"]["music"]["train"] == 3
    bank = FolderBank(tmp_path, "train")  # what the synth stage reads
    assert [len(f) for f in bank.files] == [1] * 8 + [3] + [1] * 4
    assert len(bank.draw(FOLDER_NAMES.index("music"), np.random.default_rng(0), 1.0)) > 0


def test_same_bytes_with_two_workers_and_split_is_seeded(tmp_path, downloads):
    files, _ = downloads
    kw = dict(max_missing=3, music_per_genre=20, music_train_share=0.6, progress=False)
    arrange_sources(files, tmp_path / "a", split_seed=3, workers=1, **kw)
    arrange_sources(files, tmp_path / "b", split_seed=3, workers=2, **kw)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    tracks = read_tracks(files["fma_metadata.zip"])
    splits = [tuple(m.split for m in select_music(tracks, 20, 0.5, seed)) for seed in range(8)]
    assert splits[0] == tuple(m.split for m in select_music(tracks, 20, 0.5, 0))
    assert len(set(splits)) > 1  # the seed decides the split
    assert [m.id for m in select_music(tracks, 2, 0.5, 0)] == [2, 5, 10, 20, 21]  # first two per genre


def test_too_many_missing_files_stop_the_stage_naming_them(tmp_path, downloads):
    files, fsd = downloads
    with pytest.raises(SeldInputError) as err:
        arrange_sources(files, tmp_path, max_missing=2, music_per_genre=20, music_train_share=0.6, split_seed=3,
                        progress=False)  # fmt: skip
    msg = str(err.value)
    assert msg.startswith(f"{files['FSD50K_selected.txt']}: 2 missing and 1 unreadable of ")
    assert "synth.fsd50k.max_missing = 2" in msg and "\n" not in msg
    assert all(name in msg for name in [*fsd.missing, *fsd.unreadable, "FMA track 000021"])


@pytest.mark.parametrize(("line", "problem"), [
    ("bell/train/Chime", "expected <class>/<train|test>/<FSD50K label>/<id>.wav"),
    ("dog/train/Bark/12.wav", "unknown class folder 'dog'"),
    ("music/train/Rock/12.wav", "unknown class folder 'music'"),  # music comes from FMA
    ("bell/validation/Chime/12.wav", "split must be train or test"),
])
def test_bad_selection_line_named_with_its_number(tmp_path, line, problem):
    path = tmp_path / "FSD50K_selected.txt"
    path.write_text(f"knock/train/Knock/1.wav\n\n{line}\n")
    with pytest.raises(SeldInputError, match=rf"FSD50K_selected.txt, line 3: {problem}"):
        read_selection(path)
