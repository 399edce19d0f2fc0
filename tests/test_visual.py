"""Frame picking, ResNet-50 7x7 features (random weights) and the video feature store."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import h5py
import numpy as np
import pytest
import torch
import torchvision
import torchvision.transforms.v2.functional  # noqa: F401 - the v2 namespace is not imported by default
import yaml

from seldlib.config import read_params
from seldlib.errors import SeldInputError
from seldlib.media import decode_frames
from seldlib.paramcheck import schema
from seldlib.synth.video import VideoTrack, project, render_frames, render_video, rgb_to_yuv420
from seldlib.visual import (
    RESOLUTIONS,
    ResNetFeatureExtractor,
    grid_weights,
    imagenet_weights_path,
    preprocess_full_fov,
    preprocess_preset,
    preprocess_preset_from_small,
    read_video_store,
    resample_to_grid,
    write_video_store,
)

REPO = Path(__file__).resolve().parents[1]

W, H = 64, 32  # tiny frames; 8 stripes of 8 px carry the frame index in binary


def _paint_index(i: int) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    for bit in range(8):
        if (i >> bit) & 1:
            img[:, bit * 8 : (bit + 1) * 8] = 255
    return img


def _read_index(img: np.ndarray) -> int:
    # Centre of each stripe only, so codec ringing at the stripe edges does not matter.
    return sum(1 << bit for bit in range(8) if img[:, bit * 8 + 2 : bit * 8 + 6].mean() > 127)


def _write_mp4(path: Path, n_frames: int, rate: Fraction, painter=_paint_index) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=rate)  # mp4v, as the dataset's OpenCV writer
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.bit_rate = 4_000_000
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(painter(i), format="rgb24")
            frame.pts, frame.time_base = i, 1 / rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def extractor() -> ResNetFeatureExtractor:
    return ResNetFeatureExtractor("random", seed=0)


# ---------------------------------------------------------------------------------------------
# Decoding (seldlib.media.decode_frames: the frames the stores are computed from)
# ---------------------------------------------------------------------------------------------

def test_decode_30fps_takes_every_third_frame(tmp_path):
    mp4 = _write_mp4(tmp_path / "a.mp4", 150, Fraction(30))
    frames = decode_frames(mp4)
    assert frames.shape == (50, H, W, 3) and frames.dtype == np.uint8
    # Label frame t starts at t*0.1 s = frame 3t at 30 fps (the baseline's every-3rd-frame rule).
    assert [_read_index(f) for f in frames] == [3 * t for t in range(50)]


def test_decode_2997fps_nearest_to_label_start(tmp_path):
    mp4 = _write_mp4(tmp_path / "b.mp4", 150, Fraction(30000, 1001))
    picked = [_read_index(f) for f in decode_frames(mp4)]
    # Frame k is at k*1001/30000 s; nearest to t/10 is round(t*3000/1001) = round(2.997 t):
    # t=1 -> 2.997 -> 3, t=17 -> 50.95 -> 51, t=49 -> 146.85 -> 147 (below 166 this equals 3t).
    assert picked[1] == 3 and picked[17] == 51 and picked[49] == 147
    assert picked == [3 * t for t in range(50)]


def test_decode_24fps_uses_timestamps_not_every_third(tmp_path):
    # Frame k at k/24 s; nearest to t/10 is round(2.4 t): 0, 2, 5, 7, 10, ..., 49 -> 117.6 -> 118.
    mp4 = _write_mp4(tmp_path / "c.mp4", 125, Fraction(24))
    picked = [_read_index(f) for f in decode_frames(mp4)]
    assert picked[:5] == [0, 2, 5, 7, 10]
    assert picked[49] == 118


def test_decode_ties_go_to_earlier_frame(tmp_path):
    # 25 fps: label time 0.1 s lies exactly between frames 2 (0.08 s) and 3 (0.12 s).
    mp4 = _write_mp4(tmp_path / "d.mp4", 125, Fraction(25))
    picked = [_read_index(f) for f in decode_frames(mp4)]
    assert picked[:4] == [0, 2, 5, 7]  # 2.5 -> 2, 5.0 -> 5, 7.5 -> 7


def test_decode_too_short_video_raises(tmp_path):
    short = _write_mp4(tmp_path / "short.mp4", 146, Fraction(30))  # last frame 4.83 s; 4.9 s is 2 frames away
    with pytest.raises(SeldInputError) as err:
        decode_frames(short)
    assert "short.mp4" in str(err.value) and "146 frames" in str(err.value)
    ok = _write_mp4(tmp_path / "ok.mp4", 148, Fraction(30))  # frame 147 at exactly 4.9 s
    assert _read_index(decode_frames(ok)[49]) == 147


def test_decode_unreadable_and_missing(tmp_path):
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SeldInputError, match="garbage.mp4"):
        decode_frames(bad)
    with pytest.raises(SeldInputError, match="nothere.mp4"):
        decode_frames(tmp_path / "nothere.mp4")


# ---------------------------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------------------------

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
ONE_GREY_LEVEL = 1.01 / 255 / min(STD)  # after normalisation


def _u8_images(shape: tuple[int, int, int, int], seed: int) -> torch.Tensor:
    """Random uint8 frames ``(N, 3, H, W)`` laid out like decoded frames (channels last in memory)."""
    n, c, h, w = shape
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)).permute(0, 3, 1, 2)


def test_preset_matches_torchvision_transform():
    small = _u8_images((2, 3, 180, 360), 1)
    v2 = torchvision.transforms.v2.functional
    resized = v2.center_crop(v2.resize(small, [232], antialias=True), [224])
    exact = v2.normalize(v2.to_dtype(resized, torch.float32, scale=True), MEAN, STD)
    torch.testing.assert_close(preprocess_preset_from_small(small), exact, rtol=0, atol=1e-5)
    # The weights' own preset (transforms v1, float resize then rounding): within one grey level.
    preset = torchvision.models.ResNet50_Weights.IMAGENET1K_V2.transforms()(small)
    torch.testing.assert_close(preprocess_preset_from_small(small), preset, rtol=0, atol=ONE_GREY_LEVEL)


def test_full_fov_matches_torchvision_resize():
    x = _u8_images((2, 3, 360, 640), 2)
    v2 = torchvision.transforms.v2.functional
    exact = v2.normalize(v2.to_dtype(v2.resize(x, [224, 224], antialias=True), torch.float32, scale=True), MEAN, STD)
    torch.testing.assert_close(preprocess_full_fov(x), exact, rtol=0, atol=1e-5)
    as_float = v2.normalize(v2.resize(x.float() / 255, [224, 224], antialias=True), MEAN, STD)
    torch.testing.assert_close(preprocess_full_fov(x), as_float, rtol=0, atol=ONE_GREY_LEVEL)


def test_preset_first_resize_is_plain_bilinear():
    # cv2.INTER_LINEAR-like: 640 -> 360 columns without antialiasing, i.e. each output pixel interpolates
    # only its two nearest input columns. A 1-px-period stripe pattern therefore aliases instead of
    # averaging to grey, which an antialiased resize would do.
    x = torch.zeros(1, 3, 360, 640, dtype=torch.uint8)
    x[..., 1::2] = 255
    small = torch.nn.functional.interpolate(x, size=(180, 360), mode="bilinear", antialias=True)
    assert small.float().std() < 20  # antialiased: nearly flat grey
    out = preprocess_preset(x)
    assert out.shape == (1, 3, 224, 224)
    assert out.std() > 3 * (20 / 255 / min(STD))  # plain bilinear keeps strong aliased stripes


# ---------------------------------------------------------------------------------------------
# Extractor
# ---------------------------------------------------------------------------------------------

def _random_frames(n: int, seed: int, h: int = 360, w: int = 640) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_flip_of_symmetric_frame_is_identity(extractor):
    half = _random_frames(1, 3, w=320)
    sym = np.concatenate([half, half[:, :, ::-1]], axis=2)  # left-right symmetric 640-wide frame
    f, ff = extractor.extract(sym)
    assert f.shape == ff.shape == (1, 7, 7)
    np.testing.assert_allclose(ff, f, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("resolution", [224, 96])
def test_flipped_features_equal_features_of_mirrored_video(resolution):
    ex = ResNetFeatureExtractor("random", seed=0, resolution=resolution)
    frames = _random_frames(3, 4)
    f, ff = ex.extract(frames)
    g, gg = ex.extract(np.ascontiguousarray(frames[:, :, ::-1]))  # the frames mirrored by hand
    np.testing.assert_allclose(ff, g, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gg, f, rtol=1e-5, atol=1e-5)
    # Flip-before-CNN is not the cheap approximation (mirroring the 7x7 map): they differ clearly.
    assert np.abs(ff - f[:, :, ::-1]).max() > 0.05 * np.abs(f).max()


def test_fold_bn_matches_unfolded_network(extractor):
    frames = _random_frames(2, 5)
    plain = ResNetFeatureExtractor("random", seed=0, fold_bn=False)
    a, _ = extractor.extract(frames, flipped=False)
    b, _ = plain.extract(frames, flipped=False)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="CPU without native bf16")
def test_bf16_close_to_fp32(extractor):
    frames = _random_frames(2, 8)
    fast = ResNetFeatureExtractor("random", seed=0, bf16=True)
    assert fast.bf16 and fast.attrs()["bf16"] is True
    a, _ = extractor.extract(frames, flipped=False)
    b, _ = fast.extract(frames, flipped=False)
    assert np.abs(a - b).max() < 0.01 * np.abs(a).max()
    assert not np.array_equal(a, b)  # autocast really ran in bf16


def test_preset_ignores_frame_edges_full_fov_does_not(extractor):
    # Blocky content (9x16 random blocks of 40 px) so edits produce large, structured changes.
    low = np.random.default_rng(6).integers(0, 256, (1, 9, 16, 3), dtype=np.uint8)
    base = np.repeat(np.repeat(low, 40, axis=1), 40, axis=2)
    edited = base.copy()
    # Black out only columns < 100 and >= 540: outside the preset's central crop (~166..474 of 640).
    edited[:, :, :100] = 0
    edited[:, :, 540:] = 0
    preset = ResNetFeatureExtractor("random", seed=0, full_fov=False)
    p0, _ = preset.extract(base, flipped=False)
    p1, _ = preset.extract(edited, flipped=False)
    np.testing.assert_allclose(p0, p1, rtol=1e-6, atol=1e-6)
    f0, _ = extractor.extract(base, flipped=False)
    f1, _ = extractor.extract(edited, flipped=False)
    change = np.abs(f0 - f1).max(axis=1)[0]  # per 7x7 column
    assert change[0] > 0.2 * f0.std() and change[6] > 0.2 * f0.std()  # the full FOV sees both edges
    assert np.abs(f0 - p0).max() > 0.2 * f0.std()  # the two paths give different features


# ---------------------------------------------------------------------------------------------
# Input resolution
# ---------------------------------------------------------------------------------------------

def _trunk_maps(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Independent reference: torchvision's ResNet-50 layer by layer (BatchNorm unfolded), channel mean."""
    torch.manual_seed(seed)
    m = torchvision.models.resnet50(weights=None).eval()
    with torch.no_grad():
        y = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        y = m.layer4(m.layer3(m.layer2(m.layer1(y))))
    return y.mean(dim=1)


def _v2_full_fov(frames: np.ndarray, size: int) -> torch.Tensor:
    v2 = torchvision.transforms.v2.functional
    x = torch.from_numpy(frames).permute(0, 3, 1, 2)
    return v2.normalize(v2.to_dtype(v2.resize(x, [size, size], antialias=True), torch.float32, scale=True), MEAN, STD)


def test_224_equals_independent_torchvision_computation():
    frames = _random_frames(2, 11, h=36, w=64)  # tiny frames: the resize to 224 is the whole preprocessing
    ref = _trunk_maps(_v2_full_fov(frames, 224))
    assert ref.shape == (2, 7, 7)  # 224 px -> layer4 is 7x7: nothing to resample
    got, _ = ResNetFeatureExtractor("random", seed=0, resolution=224).extract(frames, flipped=False)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


@pytest.mark.parametrize("resolution", [64, 96, 160])
def test_resolution_sets_the_input_size_and_output_stays_7x7(resolution):
    ex = ResNetFeatureExtractor("random", seed=0, resolution=resolution)
    frames = _random_frames(2, 12, h=36, w=64)
    x = ex.preprocess(torch.from_numpy(frames).permute(0, 3, 1, 2))
    assert x.shape == (2, 3, resolution, resolution)
    g = resolution // 32
    coarse = _trunk_maps(_v2_full_fov(frames, resolution))
    assert coarse.shape == (2, g, g)
    f, ff = ex.extract(frames)
    assert f.shape == ff.shape == (2, 7, 7) and f.dtype == np.float32
    # The 7x7 map is the g x g map resampled at the 224-px grid's unit centres (checked by hand below).
    w = grid_weights(g).double().numpy()
    np.testing.assert_allclose(f, w @ coarse.double().numpy() @ w.T, rtol=1e-4, atol=1e-4 * float(coarse.abs().max()))
    assert ex.attrs()["resolution"] == resolution


def test_grid_weights_by_hand():
    # layer4 unit i at input side 32 g is centred on pixel 32 i, i.e. at (32 i + 0.5) / (32 g); the 224-px
    # unit j at (32 j + 0.5) / 224. For g = 3, j = 3: s = 9/7 + (3/7 - 1)/64 = 1.276786 -> 0.723214 of
    # unit 1 and 0.276786 of unit 2; j = 0 lies before unit 0's centre and j = 6 after unit 2's: held.
    w = grid_weights(3).double().numpy()
    assert w.shape == (7, 3)
    np.testing.assert_allclose(w[3], [0.0, 1 - 0.2767857, 0.2767857], atol=1e-6)
    np.testing.assert_allclose(w[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(w[6], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    np.testing.assert_array_equal(grid_weights(7).numpy(), np.eye(7, dtype=np.float32))
    # A map that grows linearly along the columns is reproduced exactly at s (clamped to [0, g - 1]).
    for g in (2, 3, 5, 6):
        ramp = torch.arange(g, dtype=torch.float32).expand(1, g, g)
        s = np.clip(np.arange(7) * g / 7 + (g / 7 - 1) / 64, 0, g - 1)
        out = resample_to_grid(ramp)[0].numpy()
        np.testing.assert_allclose(out, np.broadcast_to(s, (7, 7)), atol=1e-6)
    maps = torch.randn(3, 7, 7)
    assert resample_to_grid(maps) is maps  # 224 px: unchanged


@pytest.mark.parametrize("resolution", [224, 96])
def test_maps_localise_a_glyph_left_or_right(resolution):
    # The same background with a big disc (1 m) at azimuth +35 deg (left) or -35 deg (right): the change
    # of the map against the empty frame is centred on the disc's column (rows = image rows, columns =
    # image columns). At 96 px (3x3 units) it is blurred towards the centre but on the right side.
    ex = ResNetFeatureExtractor("random", seed=0, resolution=resolution)

    def frame(tracks):
        return next(iter(render_frames(tracks, seed=5, n_frames=1, n_distractors=0)))

    disc = [VideoTrack(0, np.array([0]), np.array([az]), np.array([0.0]), np.array([1.0])) for az in (35.0, -35.0)]
    maps, _ = ex.extract(np.stack([frame([]), frame([disc[0]]), frame([disc[1]])]), flipped=False)
    columns, expected = [], []
    for k, az in ((1, 35.0), (2, -35.0)):
        change = (maps[k] - maps[0]) ** 2
        columns.append((change.sum(axis=0) * np.arange(7)).sum() / change.sum())
        x, _, _ = project(az, 0.0)
        expected.append((float(x) * 224 / 640 - 0.5) / 32)  # the 224-px unit column of the disc: 1.43, 5.54
    left, right = columns
    if resolution == 224:
        np.testing.assert_allclose(columns, expected, atol=0.5)
    else:
        assert left < 2.75 and right > 3.25 and right - left > 1.5, columns


def test_paramcheck_allows_the_extractor_resolutions_only(tmp_path):
    node = schema().fields["features"].fields["video"].fields["resolution"]
    assert node.values == RESOLUTIONS == (64, 96, 128, 160, 192, 224)
    tree = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    for bad in (100, 32, 256, "96", True):
        tree["features"]["video"]["resolution"] = bad
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(tree), encoding="utf-8")
        with pytest.raises(SeldInputError) as err:
            read_params(["features.video"], path)
        msg = str(err.value)
        assert "params.yaml" in msg and "features.video.resolution" in msg and "one of 64, 96, 128" in msg
        assert "\n" not in msg
    tree["features"]["video"]["resolution"] = 128
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    assert read_params(["features.video.resolution"], path) == {"features.video.resolution": 128}
    with pytest.raises(ValueError, match="resolution must be one of"):
        ResNetFeatureExtractor("random", resolution=100)


def test_bf16_auto_follows_the_device_support():
    ex = ResNetFeatureExtractor("random", seed=0, bf16="auto", resolution=64)
    assert ex.bf16 is bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert ex.attrs()["bf16"] is ex.bf16


# ---------------------------------------------------------------------------------------------
# Synthetic video encoding (every embedded clip has one, so seldlib.synth.video converts cheaply)
# ---------------------------------------------------------------------------------------------

def test_rgb_to_yuv420_bt601_limited_by_hand():
    # Textbook BT.601 limited-range values: black (16, 128, 128), white (235, 128, 128), red (81, 90, 240),
    # green (145, 54, 34), blue (41, 240, 110).
    colours = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    expected = [(16, 128, 128), (235, 128, 128), (81, 90, 240), (145, 54, 34), (41, 240, 110)]
    for rgb, yuv in zip(colours, expected):
        y, cb, cr = rgb_to_yuv420(np.broadcast_to(rgb, (2, 2, 3)))
        assert (int(y[0, 0]), int(cb[0, 0]), int(cr[0, 0])) == yuv
    # Chroma of a 2x2 block is that of its mean colour: two red and two blue pixels -> (127.5, 0, 127.5).
    block = np.array([[[255, 0, 0], [0, 0, 255]], [[0, 0, 255], [255, 0, 0]]], np.uint8)
    y, cb, cr = rgb_to_yuv420(block)
    assert y.tolist() == [[81, 41], [41, 81]]
    assert (int(cb[0, 0]), int(cr[0, 0])) == (round(128 + 224 / 255 * (-0.168736 * 127.5 + 0.5 * 127.5)),
                                               round(128 + 224 / 255 * (0.5 * 127.5 - 0.081312 * 127.5)))


def _yuv_planes(mp4: Path) -> list[tuple[np.ndarray, ...]]:
    with av.open(str(mp4)) as container:
        return [tuple(np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width].copy()
                      for p in frame.planes) for frame in container.decode(video=0)]


def test_encoded_planes_equal_conversion_of_the_rgb_frames(tmp_path):
    # crf 0 makes libx264 lossless, so the decoded planes are exactly what was fed to the encoder: the
    # incremental per-glyph-box conversion must equal converting each whole RGB frame.
    tracks = [
        VideoTrack(0, np.arange(10), np.linspace(30.0, -30.0, 10), np.zeros(10), np.full(10, 1.0)),
        VideoTrack(4, np.arange(3, 9), np.full(6, 10.0), np.full(6, 5.0), np.full(6, 2.0)),  # overlaps, on/off
        VideoTrack(1, np.arange(10), np.full(10, 49.9), np.full(10, 30.0), np.full(10, 0.7)),  # clipped at an edge
    ]
    mp4 = tmp_path / "lossless.mp4"
    render_video(mp4, tracks, seed=3, n_frames=30, crf=0)
    decoded = _yuv_planes(mp4)
    frames = list(render_frames(tracks, seed=3, n_frames=30))
    assert len(decoded) == len(frames) == 30
    for k, (frame, planes) in enumerate(zip(frames, decoded)):
        for got, want in zip(planes, rgb_to_yuv420(frame)):
            np.testing.assert_array_equal(got, want, err_msg=f"frame {k}")


def test_random_weights_depend_on_seed_only(extractor):
    frames = _random_frames(1, 7)
    again = ResNetFeatureExtractor("random", seed=0)
    other = ResNetFeatureExtractor("random", seed=1)
    torch.manual_seed(123)  # the global RNG must not matter
    a, _ = extractor.extract(frames, flipped=False)
    assert np.array_equal(again.extract(frames, flipped=False)[0], a)
    assert not np.allclose(other.extract(frames, flipped=False)[0], a)


def test_missing_imagenet_weights_names_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torchhome"))
    expected = tmp_path / "torchhome" / "hub" / "checkpoints" / "resnet50-11ad3fa6.pth"
    assert imagenet_weights_path() == expected
    with pytest.raises(SeldInputError) as err:
        ResNetFeatureExtractor("imagenet")
    assert str(expected) in str(err.value) and "TORCH_HOME" in str(err.value)
    assert not expected.exists()  # nothing was downloaded


def test_corrupt_imagenet_weights_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = imagenet_weights_path()
    path.parent.mkdir(parents=True)
    torch.save({"conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(SeldInputError, match="SHA-256"):
        ResNetFeatureExtractor("imagenet")


# ---------------------------------------------------------------------------------------------
# Store
# ---------------------------------------------------------------------------------------------

def test_store_full_clip_shapes_and_contents(tmp_path, extractor):
    mp4 = _write_mp4(tmp_path / "clip.mp4", 150, Fraction(30000, 1001))
    out = tmp_path / "video.h5"
    assert write_video_store(out, [("clip", mp4)], extractor, progress=False) == 1
    names, feats, feats_flip, attrs = read_video_store(out)
    assert names == ["clip"]
    assert feats.shape == feats_flip.shape == (1, 50, 7, 7) and feats.dtype == np.float32
    assert attrs["weights"] == "random" and attrs["seed"] == 0 and bool(attrs["full_fov"]) is True
    assert attrs["resolution"] == 224
    frames = decode_frames(mp4)
    f, ff = extractor.extract(frames[[0, 17, 49]])
    np.testing.assert_allclose(feats[0, [0, 17, 49]], f, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(feats_flip[0, [0, 17, 49]], ff, rtol=1e-5, atol=1e-5)


def test_store_without_mirrored_frames(tmp_path, extractor):
    mp4 = _write_mp4(tmp_path / "clip.mp4", 40, Fraction(30))
    both, plain = tmp_path / "both.h5", tmp_path / "plain.h5"
    write_video_store(both, [("clip", mp4)], extractor, n_label_frames=3, progress=False)
    write_video_store(plain, [("clip", mp4)], extractor, n_label_frames=3, progress=False, flipped=False)
    _, feats, feats_flip, _ = read_video_store(both)
    names, plain_feats, none, _ = read_video_store(plain)
    assert names == ["clip"] and none is None and feats_flip is not None
    with h5py.File(plain) as h5:
        assert "features_flipped" not in h5
    # same frames, same maps: the mirror images are extra work, never a change to the originals
    np.testing.assert_allclose(plain_feats, feats, rtol=1e-5, atol=1e-5)


def test_store_is_byte_identical_and_atomic(tmp_path, extractor):
    a = _write_mp4(tmp_path / "a.mp4", 40, Fraction(30))
    b = _write_mp4(tmp_path / "b.mp4", 40, Fraction(30), painter=lambda i: _paint_index(255 - i))
    items = [("a", a), ("b", b)]
    out1, out2 = tmp_path / "one.h5", tmp_path / "two.h5"
    write_video_store(out1, items, extractor, n_label_frames=3, progress=False)
    write_video_store(out2, items, ResNetFeatureExtractor("random", seed=0), n_label_frames=3, progress=False)
    assert out1.read_bytes() == out2.read_bytes()
    with h5py.File(out1) as h5:
        assert h5["features"].shape == (2, 3, 7, 7)
        assert not np.array_equal(h5["features"][0], h5["features"][1])

    # A too-short clip aborts the whole store: one clear error, no partial file left behind.
    short = _write_mp4(tmp_path / "tiny.mp4", 5, Fraction(30))
    out3 = tmp_path / "three.h5"
    with pytest.raises(SeldInputError, match="tiny.mp4"):
        write_video_store(out3, [("a", a), ("tiny", short)], extractor, n_label_frames=3, progress=False)
    assert not out3.exists() and not list(tmp_path.glob(".three*"))
