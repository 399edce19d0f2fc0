"""HDF5 feature store: contents, determinism, errors, standardiser and the torch Dataset."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from seldlib.audio import load_audio, write_wav_pcm16
from seldlib.constants import CLASS_NAMES, CLIP_SAMPLES
from seldlib.errors import SeldInputError
from seldlib.featstore import FeatureDataset, write_feature_store
from seldlib.labels import ClipLabels, encode_labels
from seldlib.layout import Clip
from seldlib.logmel import LogMel
from seldlib.metadata import read_metadata_csv
from seldlib.standardizer import Standardizer

CSV_ROWS = [
    "frame,class,source,azimuth,distance,onscreen\n3,1,0,30,150,1\n4,1,0,32,150,1\n10,8,2,-60,300,0\n",
    "frame,class,source,azimuth,distance,onscreen\n0,4,0,10,90,0\n0,4,1,-20,200,1\n49,12,0,88,400,0\n",
    "frame,class,source,azimuth,distance,onscreen\n",
]


def _make_clips(root: Path, n: int, seed: int = 0, split: str = "dev-train-tau", labels: bool = True) -> list[Clip]:
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(n):
        stem = f"fold{seed}_room1_mix{i:03d}"
        wav = root / split / f"{stem}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        gain = np.array([[0.3], [0.3 * (i + 1) / n]])  # channel balance differs per clip
        write_wav_pcm16(wav, np.clip(gain * rng.standard_normal((2, CLIP_SAMPLES)), -0.99, 0.99))
        csv = None
        if labels:
            csv = root / f"meta-{split}" / f"{stem}.csv"
            csv.parent.mkdir(parents=True, exist_ok=True)
            csv.write_text(CSV_ROWS[i % len(CSV_ROWS)])
        clips.append(Clip(stem, split, wav, csv, None))
    return clips


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Clip]:
    root = tmp_path_factory.mktemp("data")
    return _make_clips(root, 4, seed=1) + _make_clips(root, 3, seed=2, split="dev-train-sony")


@pytest.fixture(scope="module")
def store(clips, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("feat") / "train.h5"
    assert write_feature_store(path, clips, LogMel(), batch_size=3, workers=2, progress=False) == 7
    return path


def test_store_contents(clips, store):
    with h5py.File(store, "r") as h5:
        assert [n.decode() for n in h5["names"][()]] == [c.stem for c in clips]
        assert [s.decode() for s in h5["split"][()]] == [c.split for c in clips]
        assert h5["features"].shape == (7, 2, 251, 64) and h5["features"].dtype == np.float32
        assert h5["features"].chunks == (1, 2, 251, 64)
        assert h5["adpit"].shape == (7, 50, 6, 5, 13) and h5["doa"].shape == (7, 50, 13, 2)
        assert list(h5["labelled"][()]) == [1] * 7
        assert json.loads(h5.attrs["class_names"]) == list(CLASS_NAMES)
        lm = LogMel()
        for i, clip in enumerate(clips):
            # Each row is exactly the per-clip computation (batching, threads and order change nothing).
            wave = load_audio(clip.audio)
            np.testing.assert_array_equal(h5["features"][i], lm.numpy(wave))
            expected = encode_labels(read_metadata_csv(clip.labels))
            for key in ClipLabels.FIELDS:
                np.testing.assert_array_equal(h5[key][i], getattr(expected, key))
        assert h5["sed"][1].sum() == 2 and h5["adpit"][1][0, 1:3, 0, 4].tolist() == [1.0, 1.0]
    assert FeatureDataset(store).names == [c.stem for c in clips]


def test_byte_identical_and_rewritten(clips, store, tmp_path):
    again = tmp_path / "again.h5"
    write_feature_store(again, list(clips), LogMel(), batch_size=5, workers=1, progress=False)
    assert again.read_bytes() == store.read_bytes()
    write_feature_store(again, clips[:2], LogMel(), progress=False)  # a rerun replaces, never appends
    with h5py.File(again, "r") as h5:
        assert h5["features"].shape[0] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.h5"]  # no temp files left


def test_empty_store(tmp_path):
    path = tmp_path / "empty.h5"
    assert write_feature_store(path, [], progress=False) == 0
    with h5py.File(path, "r") as h5:
        assert h5["features"].shape == (0, 2, 251, 64) and h5["names"].shape == (0,)
    assert len(FeatureDataset(path)) == 0


def test_missing_labels_and_unlabelled(tmp_path):
    clips = _make_clips(tmp_path, 2, labels=False, split="eval")
    with pytest.raises(SeldInputError, match="mix000.wav.*eval/fold0_room1_mix000 has no labels"):
        write_feature_store(tmp_path / "x.h5", clips, progress=False)
    gone = Clip(clips[0].stem, "eval", clips[0].audio, tmp_path / "nope.csv", None)
    with pytest.raises(SeldInputError, match="nope.csv"):
        write_feature_store(tmp_path / "x.h5", [gone], progress=False)
    assert not (tmp_path / "x.h5").exists()
    write_feature_store(tmp_path / "x.h5", clips, allow_unlabelled=True, progress=False)
    with h5py.File(tmp_path / "x.h5", "r") as h5:
        assert list(h5["labelled"][()]) == [0, 0] and h5["adpit"][()].sum() == 0
        assert np.isfinite(h5["features"][()]).all()


def test_bad_audio_names_file_and_leaves_nothing(clips, tmp_path):
    bad = tmp_path / "short.wav"
    write_wav_pcm16(bad, np.zeros((2, 1000)))
    broken = list(clips[:3]) + [Clip("short", "dev-train-tau", bad, clips[0].labels, None)]
    with pytest.raises(SeldInputError, match="short.wav.*expected 120000 samples"):
        write_feature_store(tmp_path / "out.h5", broken, batch_size=2, progress=False)
    dup = [clips[0], clips[0]]
    with pytest.raises(SeldInputError, match="must be unique"):
        write_feature_store(tmp_path / "out.h5", dup, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["short.wav"]


def _video_store(path: Path, names: list[str], flipped: bool = True) -> None:
    with h5py.File(path, "w") as h5:
        h5["names"] = np.array(names, dtype=object).astype(h5py.string_dtype())
        base = np.arange(len(names), dtype=np.float32)[:, None, None, None]
        h5["features"] = np.broadcast_to(base, (len(names), 50, 7, 7)).copy()
        if flipped:
            h5["features_flipped"] = -np.broadcast_to(base, (len(names), 50, 7, 7)).copy()


def test_dataset_lazy_preload_video(clips, store, tmp_path):
    std = Standardizer.fit([store])
    video = tmp_path / "video.h5"
    vnames = [c.stem for c in clips][::-1] + ["extra"]  # other order plus a clip the audio lacks
    _video_store(video, vnames)
    lazy = FeatureDataset(store, standardizer=std, video_h5=video)
    eager = FeatureDataset(store, standardizer=std, video_h5=video, preload=True)
    assert len(lazy) == 7 and lazy.names == [c.stem for c in clips]
    with h5py.File(store, "r") as h5:
        for i in (0, 5, -1):
            a, b = lazy[i], eager[i]
            assert set(a) == {"features", *ClipLabels.FIELDS, "video", "video_flipped"} == set(b)
            for k in a:
                assert a[k].dtype == torch.float32
                assert torch.equal(a[k], b[k]), k
            raw = h5["features"][i].astype(np.float64)
            np.testing.assert_allclose(a["features"].numpy(), (raw - std.mean[:, None]) / std.std[:, None], atol=1e-4)
            np.testing.assert_array_equal(a["adpit"].numpy(), h5["adpit"][i])
            assert a["video"][0, 0, 0].item() == vnames.index(lazy.names[i])
            assert a["video_flipped"][0, 0, 0].item() == -vnames.index(lazy.names[i])
    with pytest.raises(IndexError):
        lazy[7]
    # Fresh handles in forked workers: the whole set comes through a multi-worker DataLoader.
    loader = DataLoader(FeatureDataset(store), batch_size=3, num_workers=2)
    feats = torch.cat([batch["features"] for batch in loader])
    with h5py.File(store, "r") as h5:
        np.testing.assert_array_equal(feats.numpy(), h5["features"][()])
    lazy.close()
    # A store without the mirrored frames (validation, test): items lack them, training refuses it.
    _video_store(video, vnames, flipped=False)
    for ds in (FeatureDataset(store, video_h5=video), FeatureDataset(store, video_h5=video, preload=True)):
        assert set(ds[0]) == {"features", *ClipLabels.FIELDS, "video"}
        assert ds[0]["video"][0, 0, 0].item() == vnames.index(ds.names[0])
    with pytest.raises(SeldInputError, match="video.h5.*mirrored frames"):
        FeatureDataset(store, video_h5=video, video_flipped=True)
    _video_store(video, vnames[:3])
    with pytest.raises(SeldInputError, match="video.h5.*no video features"):
        FeatureDataset(store, video_h5=video)
    with pytest.raises(SeldInputError, match="not found"):
        FeatureDataset(tmp_path / "missing.h5")
