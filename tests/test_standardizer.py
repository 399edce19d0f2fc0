"""The feature standardiser: streaming fit, the .npz file (format, determinism, bad files), applying it."""

import zipfile

import h5py
import numpy as np
import pytest
import torch

from seldlib.errors import SeldInputError
from seldlib.standardizer import Standardizer


def _store(path, features, splits):
    with h5py.File(path, "w") as h5:
        h5["features"] = features.astype(np.float32)
        h5["split"] = np.array(splits, dtype=object).astype(h5py.string_dtype())
    return path


@pytest.fixture
def stores(tmp_path):
    rng = np.random.default_rng(0)
    # A large offset: a one-pass sum of squares in float32 would lose the variance entirely.
    a = rng.normal(-4000.0, 3.0, (7, 2, 11, 64)) + np.linspace(0, 50, 64)
    b = rng.normal(-4000.0, 5.0, (2, 2, 11, 64))
    return (_store(tmp_path / "train.h5", a, ["sony"] * 4 + ["tau"] * 3), _store(tmp_path / "synth.h5", b, ["synth"] * 2),
            a.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64))


def test_fit_equals_the_mean_and_std_over_all_frames(stores):
    a_path, b_path, a, b = stores
    # block=3 splits the first store into 3 + 3 + 1 clips, so several merges are exercised.
    std = Standardizer.fit([a_path, b_path], block=3)
    allf = np.concatenate([a, b])  # (clips, 2, frames, mels): statistics over clips and frames
    assert std.shape == (2, 64) and std.mean.dtype == np.float64
    np.testing.assert_allclose(std.mean, allf.mean(axis=(0, 2)), rtol=0, atol=1e-9)
    np.testing.assert_allclose(std.std, allf.std(axis=(0, 2)), rtol=1e-9)
    tau = Standardizer.fit([a_path], splits=["tau"])
    np.testing.assert_allclose(tau.mean, a[4:].mean(axis=(0, 2)), rtol=0, atol=1e-9)


def test_fit_floors_constant_bands_and_refuses_bad_stores(tmp_path, stores):
    a_path = stores[0]
    flat = np.zeros((3, 2, 5, 64))
    flat[..., 1:] = np.random.default_rng(1).normal(size=(3, 2, 5, 63))
    std = Standardizer.fit([_store(tmp_path / "flat.h5", flat, ["x"] * 3)], min_std=0.25)
    assert (std.std[:, 0] == 0.25).all() and (std.std[:, 1:] > 0.25).all()
    with pytest.raises(SeldInputError, match="no clips .*train.h5"):
        Standardizer.fit([a_path], splits=["nope"])
    narrow = _store(tmp_path / "narrow.h5", np.zeros((1, 2, 5, 32)), ["x"])
    with pytest.raises(SeldInputError, match="narrow.h5.*differs"):
        Standardizer.fit([a_path, narrow])
    with h5py.File(tmp_path / "empty.h5", "w") as h5:
        h5["names"] = np.zeros(0)
    with pytest.raises(SeldInputError, match="empty.h5.*'features' is missing"):
        Standardizer.fit([tmp_path / "empty.h5"])
    with pytest.raises(SeldInputError, match="missing.h5.*not found"):
        Standardizer.fit([tmp_path / "missing.h5"])


def test_file_round_trip_format_and_determinism(tmp_path):
    rng = np.random.default_rng(2)
    std = Standardizer(rng.normal(-40, 5, (2, 64)), rng.uniform(5, 15, (2, 64)))
    path = tmp_path / "standardizer.npz"
    std.save(path)
    first = path.read_bytes()
    Standardizer(std.mean.copy(), std.std.copy()).save(path)
    assert path.read_bytes() == first
    # The format: a plain .npz of float64 mean.npy and std.npy with fixed zip timestamps.
    with zipfile.ZipFile(path) as zf:
        assert [(i.filename, i.date_time) for i in zf.infolist()] == [("mean.npy", (1980, 1, 1, 0, 0, 0)),
                                                                       ("std.npy", (1980, 1, 1, 0, 0, 0))]
    with np.load(path, allow_pickle=False) as data:
        np.testing.assert_array_equal(data["mean"], std.mean)
        assert data["std"].dtype == np.float64
    back = Standardizer.load(path)
    np.testing.assert_array_equal(back.mean, std.mean)
    np.testing.assert_array_equal(back.std, std.std)
    # A file written by numpy itself (other zip metadata) loads too.
    np.savez(tmp_path / "plain.npz", mean=std.mean, std=std.std)
    np.testing.assert_array_equal(Standardizer.load(tmp_path / "plain.npz").std, std.std)


@pytest.mark.parametrize("content, problem", [
    (None, "not found"),
    (b"junk", "not a standardiser file"),
    ({"mean": np.zeros((2, 64))}, "not a standardiser file"),
    ({"mean": np.zeros((2, 64)), "std": np.ones((2, 32))}, "must both be"),
    ({"mean": np.zeros(64), "std": np.ones(64)}, "must both be"),
    ({"mean": np.zeros((2, 64)), "std": np.zeros((2, 64))}, "std positive"),
    ({"mean": np.full((2, 64), np.nan), "std": np.ones((2, 64))}, "finite"),
    ({"mean": np.array([[object()]] * 2), "std": np.ones((2, 1))}, "not a standardiser file"),
])
def test_bad_files_name_the_file(tmp_path, content, problem):
    path = tmp_path / "bad.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        np.savez(path, **content)
    with pytest.raises(SeldInputError, match=f"bad.npz: .*{problem}"):
        Standardizer.load(path)


@pytest.mark.parametrize("name", ["clip.wav", "plain.npy"])
def test_other_files_are_named_not_a_standardiser_without_numpy_hints(tmp_path, name):
    # A WAV passed as --standardizer (or a bare .npy): numpy's own message would suggest
    # allow_pickle=True, which must stay off for files from elsewhere.
    import wave

    path = tmp_path / name
    if name.endswith(".wav"):
        with wave.open(str(path), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(24000)
            w.writeframes(b"\x00\x00" * 2 * 240)
    else:
        np.save(path, np.ones((2, 64)))
    with pytest.raises(SeldInputError) as err:
        Standardizer.load(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: not a standardiser file") and ".npz" in msg and "pickle" not in msg


def test_apply_numpy_and_torch_alike():
    rng = np.random.default_rng(3)
    mean, sd = rng.normal(-40, 5, (2, 64)), rng.uniform(5, 15, (2, 64))
    std = Standardizer(mean, sd)
    x = rng.normal(-40, 10, (3, 2, 7, 64)).astype(np.float32)
    by_hand = (x.astype(np.float64) - mean[None, :, None, :]) / sd[None, :, None, :]
    out_np = std.apply(x)
    out_t = std.apply(torch.from_numpy(x))
    assert out_np.dtype == np.float32 and isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32
    np.testing.assert_allclose(out_np, by_hand, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(out_t.numpy(), out_np)  # one arithmetic for every caller
    np.testing.assert_array_equal(std.apply(x[1]), out_np[1])  # a single clip (2, T, 64)
    np.testing.assert_array_equal(std.apply(x[None])[0], out_np)  # any leading axes
    with pytest.raises(ValueError, match="do not fit"):
        std.apply(x[..., :32])
    with pytest.raises(ValueError, match="do not fit"):
        std.apply(np.zeros((3, 1, 7, 64), np.float32))
    with pytest.raises(ValueError, match="must both be"):
        Standardizer(mean, sd[:, :32])
