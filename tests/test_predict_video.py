"""Tests of ``seld`` on videos: frame picking, video features, window stitching of audio-visual models,
on-screen decoding, the annotated MP4, and the refusal of bad inputs (``seldlib.predict``, ``seldlib.media``)."""

from __future__ import annotations

import contextlib
import io
import math
from fractions import Fraction

import av
import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

from seldlib.checkpoint import save_checkpoint
from seldlib.constants import CLASS_NAMES, N_CLASSES
from seldlib.errors import SeldInputError
from seldlib.featstore import video_store_attrs
from seldlib.media import decode_frames, iter_label_frames, probe_media, read_audio_track
from seldlib.metadata import read_metadata_csv
from seldlib.models import build_model
from seldlib.metadata import EventTable
from seldlib.predict import (System, azimuth_column, draw_events, load_system, main, predict_file, predict_wave,
                             read_input_audio, video_features, write_annotated_video)
from seldlib.visual import ResNetFeatureExtractor, write_video_store

SR = 24_000
FEATURES = {"n_fft": 1024, "hop": 480, "win": 960, "n_mels": 64, "fmin": 0.0, "fmax": 12000.0, "top_db": 80.0,
            "standardize": False}
# the cheapest extractor the stores allow: random ResNet-50 weights (nothing downloaded), 64-px input
EXTRACTOR = {"weights": "random", "seed": 0, "full_fov": True, "resolution": 64, "bf16": False}
SECONDS = 12.0
N_FRAMES = 120  # label frames of a 12-s file


# ------------------------------------------------------------------------------------ synthetic media


def _code_frame(k: int, width: int = 160, height: int = 90) -> np.ndarray:
    """Grey picture whose top row of nine 16x16 blocks spells ``k`` in binary (robust to H.264)."""
    img = np.full((height, width, 3), 120, np.uint8)
    img[40:, :, 2] = 90 + (k % 50)  # some change below the code, so the CNN sees a moving picture
    for bit in range(9):
        img[:16, bit * 16 : bit * 16 + 16] = 235 if (k >> bit) & 1 else 16
    return img


def _read_code(img: np.ndarray) -> int:
    return sum(1 << bit for bit in range(9) if img[2:14, bit * 16 + 2 : bit * 16 + 14].mean() > 128)


def _encode(path, frames=None, fps=30, audio=None, sr=48_000, layout="stereo"):
    """Write an MP4: H.264 ``frames`` (RGB arrays) at ``fps`` and/or AAC ``audio (channels, n)`` at ``sr``."""
    with av.open(str(path), "w", format="mp4") as out:
        vs = aus = None
        frames = list(frames) if frames is not None else None
        if frames:
            vs = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            vs.height, vs.width = frames[0].shape[:2]
            vs.pix_fmt = "yuv420p"
            vs.options = {"preset": "ultrafast", "crf": "12"}
        if audio is not None:
            aus = out.add_stream("aac", rate=sr, layout=layout)
        for k, img in enumerate(frames or []):
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts, vf.time_base = k, Fraction(1, 1) / Fraction(fps).limit_denominator(1001)
            for p in vs.encode(vf):
                out.mux(p)
        if vs is not None:
            for p in vs.encode(None):
                out.mux(p)
        if audio is not None:
            audio = np.asarray(audio, np.float32)
            for s in range(0, audio.shape[1], 4096):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[:, s : s + 4096]), format="fltp",
                                                layout=layout)
                af.sample_rate, af.pts, af.time_base = sr, s, Fraction(1, sr)
                for p in aus.encode(af):
                    out.mux(p)
            for p in aus.encode(None):
                out.mux(p)
    return path


def _noise(seconds, sr, channels=2, seed=0, level=0.05):
    return (level * np.random.default_rng(seed).standard_normal((channels, int(seconds * sr)))).astype(np.float32)


@pytest.fixture(scope="module")
def coded_mp4(tmp_path_factory):
    """12 s, 30 fps, 160x90 frames that spell their index, stereo noise at 24 kHz."""
    path = tmp_path_factory.mktemp("media") / "coded.mp4"
    return _encode(path, (_code_frame(k) for k in range(360)), fps=30, audio=_noise(SECONDS, SR), sr=SR)


@pytest.fixture(scope="module")
def video_attrs(tmp_path_factory):
    """The attributes ``stages/features_video.py`` would record for :data:`EXTRACTOR` (an empty store)."""
    store = tmp_path_factory.mktemp("store") / "video_train.h5"
    write_video_store(store, [], ResNetFeatureExtractor(**EXTRACTOR), progress=False)
    return store, video_store_attrs(store)


def _av_checkpoint(root, video_attrs, name="av", kind="av_sed_sce_ons", seed=0, onscreen_threshold=0.3,
                   record_video=True):
    torch.manual_seed(seed)
    model = build_model(kind, {"preset": "small"})
    features = dict(FEATURES)
    if record_video:  # what stages/train.py stores for a Track B model
        features["video"] = video_attrs
    meta = {"kind": kind, "model": {"preset": "small"}, "classes": list(CLASS_NAMES), "features": features,
            "threshold": 0.5, "default_distance_m": 1.5, "onscreen_threshold": onscreen_threshold}
    save_checkpoint(root / name / "model.pt", model, meta)
    return root / name


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# ------------------------------------------------------------------------------------ reading


def test_label_frames_are_the_nearest_pictures_ties_to_the_earlier(tmp_path):
    # 25 fps: label frame t (0.1 t s) sits at picture 2.5 t; odd t fall half-way between two pictures,
    # and the earlier one is taken, so picture floor(2.5 t)
    path = _encode(tmp_path / "v25.mp4", (_code_frame(k) for k in range(300)), fps=25,
                   audio=_noise(SECONDS, SR), sr=SR)
    frames = list(iter_label_frames(path, N_FRAMES))
    assert len(frames) == N_FRAMES
    assert [_read_code(img) for img, _ in frames] == [math.floor(2.5 * t) for t in range(N_FRAMES)]
    assert max(off for _, off in frames) == pytest.approx(0.02)  # half a 25-fps period
    # the same pictures, bit for bit, as the training stores' decoder picks
    np.testing.assert_array_equal(np.stack([img for img, _ in frames]), decode_frames(path, N_FRAMES))


def test_a_picture_picked_for_several_label_frames_is_converted_once(tmp_path):
    # 5 fps: picture k at 0.2 k s is the nearest for label frames 2k (exact) and 2k + 1 (a tie, which goes
    # to the earlier picture), so every picture serves two label frames
    path = _encode(tmp_path / "v5.mp4", (_code_frame(k) for k in range(10)), fps=5)
    frames = [img for img, _ in iter_label_frames(path, 20)]
    assert [_read_code(img) for img in frames] == [t // 2 for t in range(20)]
    assert all(frames[2 * k] is frames[2 * k + 1] for k in range(10))
    assert not any(img.flags.writeable for img in frames)  # shared, so nobody may draw on one in place


def test_frames_past_the_end_hold_the_last_picture(coded_mp4):
    frames = list(iter_label_frames(coded_mp4, 125))  # the video has pictures up to 11.967 s
    assert [_read_code(img) for img, _ in frames[118:]] == [354, 357, 359, 359, 359, 359, 359]
    assert frames[124][1] == pytest.approx(12.4 - 359 / 30)


def test_audio_track_is_decoded_at_its_length(tmp_path):
    t = np.arange(3 * 48_000) / 48_000
    wave = np.stack([0.3 * np.sin(2 * np.pi * 300 * t) + 0.1 * np.sin(2 * np.pi * 1100 * t),
                     0.1 * np.sin(2 * np.pi * 300 * t + 1.0)]).astype(np.float32)
    path = _encode(tmp_path / "a.mp4", [_code_frame(0)] * 3, fps=1, audio=wave, sr=48_000)
    got, rate = read_audio_track(path)
    assert rate == 48_000 and got.shape == wave.shape  # AAC's padding of its last frame is cut
    # AAC is lossy: the decoded tones follow the original closely and in time (no priming offset)
    mid = slice(10_000, -10_000)
    for ch in range(2):
        assert np.corrcoef(got[ch, mid], wave[ch, mid])[0, 1] > 0.99
    np.testing.assert_allclose(np.sqrt((got[:, mid] ** 2).mean(1)), np.sqrt((wave[:, mid] ** 2).mean(1)), rtol=0.03)
    info = probe_media(path)
    assert (info.audio_channels, info.audio_rate, info.width, info.height) == (2, 48_000, 160, 90)


def test_video_features_are_the_training_extractor_s(coded_mp4):
    system = System(models=[("av_sed_sce_ons", build_model("av_sed_sce_ons", {"preset": "small"}))],
                    features=FEATURES, video_settings=EXTRACTOR)
    got = video_features(system, coded_mp4, N_FRAMES, chunk=32)  # chunks need not align with windows
    expected, _ = ResNetFeatureExtractor(**EXTRACTOR).extract(decode_frames(coded_mp4, N_FRAMES), flipped=False)
    assert got.shape == (N_FRAMES, 7, 7)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert np.abs(np.diff(got, axis=0)).max() > 0  # the frames differ, so a shift would show


# ------------------------------------------------------------------------------------ stitching


class WindowProbe(nn.Module):
    """``av_sed_sce_ons`` contract whose outputs expose which video each window received:
    class 0 = the frame's own map value, class 1 = the window's first frame's value (constant over the
    window, so overlapping windows average to a hand-computable mean)."""

    def __init__(self):
        super().__init__()
        self.videos: list[torch.Tensor] = []

    def forward(self, features: torch.Tensor, video: torch.Tensor) -> dict[str, torch.Tensor]:
        self.videos.append(video.clone())
        b = features.shape[0]
        sed = torch.zeros(b, 50, N_CLASSES)
        sed[..., 0] = video[:, :, 0, 0]
        sed[..., 1] = video[:, :1, 0, 0]
        sce = torch.zeros(b, 50, N_CLASSES, 2)
        sce[..., 0] = 1.0
        return {"sed": sed, "sce": sce, "ons": 2 * sed}


def test_stitched_audio_visual_outputs_match_hand_stitching():
    probe = WindowProbe()
    system = System(models=[("av_sed_sce_ons", probe)], features=FEATURES, batch_size=3)  # 2 batches of windows
    wave = _noise(SECONDS, SR, seed=1)
    video = np.repeat((np.arange(N_FRAMES, dtype=np.float32) / 1000)[:, None, None], 7, 1).repeat(7, 2)
    _, arrays = predict_wave(system, wave, hop_s=2.5, threshold=2.0, video=video)
    # windows start at frames 0, 25, 50, 75 (the last one covers 7.5-12.5 s, its last 5 frames padding)
    t = np.arange(N_FRAMES)
    np.testing.assert_allclose(arrays["sed"][:, 0], t / 1000, atol=1e-7)
    starts_mean = np.select([t < 25, t < 50, t < 75, t < 100], [0.0, 12.5, 37.5, 62.5], 75.0)
    np.testing.assert_allclose(arrays["sed"][:, 1], starts_mean / 1000, atol=1e-7)
    np.testing.assert_allclose(arrays["onscreen"], 2 * arrays["sed"], atol=1e-7)  # "ons" decoded as on-screen
    seen = torch.cat(probe.videos)
    assert seen.shape == (4, 50, 7, 7)
    # the padded tail of the last window repeats the last picture's map
    np.testing.assert_allclose(seen[3, :, 0, 0].numpy(), np.minimum(np.arange(75, 125), 119) / 1000, atol=1e-7)


def test_audio_visual_baseline_alone_decodes_its_track_on_screen_flags():
    torch.manual_seed(0)
    system = System(models=[("seldnet_av", build_model("seldnet_av", {"preset": "small"}))], features=FEATURES)
    video = np.random.default_rng(0).random((N_FRAMES, 7, 7)).astype(np.float32)
    events, arrays = predict_wave(system, _noise(SECONDS, SR), threshold=0.0, video=video)
    assert arrays["accdoa"].shape == (N_FRAMES, 3, 3, N_CLASSES)
    assert arrays["onscreen"].shape == (N_FRAMES, 3, N_CLASSES)
    assert events.frame.max() == N_FRAMES - 1 and set(np.unique(events.onscreen).tolist()) <= {0, 1}
    assert system.onscreen_max_az is None  # the baseline keeps its own decoding (seldlib.kinds)


def test_a_wav_given_to_audio_visual_models_is_refused():
    system = System(models=[("av_sed_sce_ons", WindowProbe())], features=FEATURES)
    with pytest.raises(SeldInputError, match="AV SED-SCE-ONS checkpoints are audio-visual models and need a video"):
        predict_wave(system, _noise(2.0, SR), video=None)


# ------------------------------------------------------------------------------------ on-screen decoding


GAIN_A = (0.3, 0.15)  # tone A (500 Hz): 6.02 dB louder left
GAIN_B = (0.3 * 10 ** (-14 / 20), 0.3)  # tone B (4 kHz): 14 dB louder right


class ToneDouble(nn.Module):
    """``av_sed_sce_ons`` contract from level differences: class 0 from the lower 32 mel bands, class 1
    from the upper 32. Per 100-ms frame (mean of its 5 feature frames), a class is active where its
    loudest band is within 20 dB of the window's peak; its azimuth is 5° per dB of inter-channel level
    difference in that band (louder left = positive), at 2 m. On-screen posterior 0.9 everywhere."""

    def forward(self, features: torch.Tensor, video: torch.Tensor) -> dict[str, torch.Tensor]:
        b = features.shape[0]
        frames = features[:, :, :250].reshape(b, 2, 50, 5, 64).mean(dim=3)  # (B, 2, 50, 64) dB
        level = frames.mean(dim=1)  # (B, 50, 64)
        peak = level.amax(dim=(1, 2), keepdim=True)[..., 0]  # (B, 1)
        sed = torch.zeros(b, 50, N_CLASSES)
        sce = torch.zeros(b, 50, N_CLASSES, 2)
        sce[..., 0] = 1.0
        for c, bands in ((0, slice(0, 32)), (1, slice(32, 64))):
            loud, band = level[..., bands].max(dim=-1)  # (B, 50)
            ild = (frames[:, 0, :, bands] - frames[:, 1, :, bands]).gather(-1, band[..., None])[..., 0]
            sed[..., c] = (loud > peak - 20.0).float()
            az = torch.deg2rad(5.0 * ild)
            sce[..., c, 0], sce[..., c, 1] = 2 * torch.cos(az), 2 * torch.sin(az)
        return {"sed": sed, "sce": sce, "ons": torch.full((b, 50, N_CLASSES), 0.9)}


def _tone_scene(sr=48_000):
    """Tone A at +30° (by ToneDouble's 5°/dB) over 1-6 s, tone B at -70° over 6-11 s, faint noise."""
    t = np.arange(int(SECONDS * sr)) / sr
    wave = _noise(SECONDS, sr, seed=2, level=0.001)
    for f, (gl, gr), (t0, t1) in ((500.0, GAIN_A, (1.0, 6.0)), (4000.0, GAIN_B, (6.0, 11.0))):
        on = (t >= t0) & (t < t1)
        tone = np.sin(2 * np.pi * f * t) * on
        wave[0] += gl * tone
        wave[1] += gr * tone
    return wave.astype(np.float32)


def _tone_frames(width=320, height=180):
    """30 fps pictures: a red disc where tone A's source (+30°) projects while it sounds; tone B is off-screen."""
    x = azimuth_column(30.0, width)
    yy, xx = np.mgrid[0:height, 0:width]
    disc = (xx + 0.5 - x) ** 2 + (yy + 0.5 - height / 2) ** 2 < 15**2
    for k in range(360):
        img = np.full((height, width, 3), 110, np.uint8)
        if 1.0 <= k / 30 < 6.0:
            img[disc] = (230, 40, 40)
        yield img


@pytest.fixture(scope="module")
def tone_mp4(tmp_path_factory):
    return _encode(tmp_path_factory.mktemp("tones") / "tones.mp4", _tone_frames(), fps=30, audio=_tone_scene(),
                   sr=48_000)


@pytest.fixture(scope="module")
def tone_prediction(tone_mp4):
    """``(system, events, arrays, stderr)`` of the ToneDouble system on :func:`tone_mp4`."""
    system = System(models=[("av_sed_sce_ons", ToneDouble())], features=FEATURES, video_settings=EXTRACTOR,
                    onscreen_threshold=0.5)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        events, arrays = predict_file(system, tone_mp4, hop_s=2.5)
    return system, events, arrays, err.getvalue()


def test_tones_are_located_and_only_the_visible_one_is_on_screen(tone_mp4, tone_prediction):
    system, events, arrays, err = tone_prediction
    assert "resampling from 48000 Hz to 24000 Hz" in err
    assert len(arrays["sed"]) == N_FRAMES
    a, b = events.take(np.flatnonzero(events.cls == 0)), events.take(np.flatnonzero(events.cls == 1))
    assert set(events.cls.tolist()) == {0, 1}
    assert a.frame.min() >= 9 and a.frame.max() <= 61 and set(range(12, 58)) <= set(a.frame.tolist())
    assert b.frame.min() >= 59 and b.frame.max() <= 111 and set(range(62, 108)) <= set(b.frame.tolist())
    steady_a = a.take(np.flatnonzero((a.frame > 12) & (a.frame < 58)))
    steady_b = b.take(np.flatnonzero((b.frame > 62) & (b.frame < 108)))
    np.testing.assert_allclose(steady_a.azimuth, 30.0, atol=6.0)  # 6.02 dB x 5°/dB, after AAC
    np.testing.assert_allclose(steady_b.azimuth, -70.0, atol=6.0)
    # posterior 0.9 >= 0.5 everywhere, but the camera cannot see beyond 50°
    assert (steady_a.onscreen == 1).all() and (steady_b.onscreen == 0).all()
    assert ((events.onscreen == 0) | (np.abs(events.azimuth) <= 50)).all()
    # the override wins over the system's threshold (ToneDouble ignores the video)
    wave = read_input_audio(tone_mp4)
    events_hi, _ = predict_wave(system, wave, video=np.zeros((N_FRAMES, 7, 7)), onscreen_threshold=0.95)
    assert (events_hi.onscreen == 0).all() and len(events_hi) == len(events)


def test_annotated_video_draws_the_event_lines_and_keeps_the_audio(tone_mp4, tone_prediction, tmp_path):
    events = tone_prediction[1]
    out = tmp_path / "tones.annotated.mp4"
    assert write_annotated_video(out, tone_mp4, events, N_FRAMES) == N_FRAMES
    with av.open(str(out)) as c:
        vs = c.streams.video[0]
        assert vs.average_rate == 10 and c.streams.audio[0].codec_context.layout.nb_channels == 2
        pictures = [f.to_ndarray(format="rgb24") for f in c.decode(vs)]
    assert len(pictures) == N_FRAMES
    col = math.floor(float(azimuth_column(float(events.azimuth[(events.cls == 0) & (events.frame == 30)][0]), 320)))
    assert abs(col - 82) <= 4  # +30° at 320 px: x = 82.5
    red = lambda img: img[150:175, col - 1 : col + 2].astype(int)  # noqa: E731 - below the disc and the labels
    during, before = red(pictures[30]), red(pictures[5])
    assert (during[..., 0] - during[..., 1]).mean() > 80  # the class-0 colour (230, 40, 40), on-screen: 3 px
    assert np.abs(before[..., 0] - before[..., 1]).mean() < 20  # grey background: no event at 0.5 s
    audio, rate = read_audio_track(out)
    assert rate == 48_000 and abs(audio.shape[1] - 12 * 48_000) < 2048


def test_draw_events_geometry():
    # 320 px wide: f = 160 / tan 50° = 134.26 px; +30° (left of centre) -> x = 160 - 134.26 tan 30° = 82.48
    f = 160 / math.tan(math.radians(50))
    assert float(azimuth_column(30.0, 320)) == pytest.approx(160 - f * math.tan(math.radians(30)))
    assert float(azimuth_column(50.0, 640)) == pytest.approx(0.0, abs=1e-9)
    assert float(azimuth_column(-50.0, 640)) == pytest.approx(640.0)
    black = np.zeros((180, 320, 3), np.uint8)
    ev = EventTable(frame=[0, 0, 0], cls=[0, 1, 2], source=[0, 0, 0], azimuth=[30.0, -10.0, -70.0],
                    distance=[200.0, 100.0, 300.0], onscreen=[1, 0, 0])
    img = draw_events(black, ev)
    bottom = img[170]  # below every label
    lit = np.flatnonzero(bottom.max(axis=1) > 0)
    on_cols = lit[lit < 160]
    off_cols = lit[lit >= 160]
    assert on_cols.min() <= 82 <= on_cols.max() and len(on_cols) == 3  # on-screen: 3 x the line width
    x_off = float(azimuth_column(-10.0, 320))  # 183.7
    assert len(off_cols) == 1 and abs(off_cols[0] + 0.5 - x_off) <= 1.0
    assert tuple(bottom[on_cols[1]]) == (230, 40, 40)
    # -70° is outside the picture: no line, an arrow at the right edge
    assert img[:, 300:, :].max() > 0 and not (img[100:, 186:300].max() > 0)


# ------------------------------------------------------------------------------------ the command line


def test_cli_predicts_a_video_over_its_whole_length(tmp_path, coded_mp4, video_attrs):
    model = _av_checkpoint(tmp_path, video_attrs[1])
    out = tmp_path / "out"
    rc = main(["--models", str(model), "--out", str(out), "--threshold", "0", "--device", "cpu", "--no-progress",
               "--png", "--video-out", "--", str(coded_mp4)])
    assert rc == 0
    events = read_metadata_csv(out / "coded.csv", n_frames=None)
    # threshold 0: every frame x class is an event, so the CSV spans the whole file
    assert events.frame.min() == 0 and events.frame.max() == N_FRAMES - 1 and len(events) == N_FRAMES * N_CLASSES
    assert set(np.unique(events.onscreen).tolist()) <= {0, 1}
    assert (events.onscreen[np.abs(events.azimuth) > 50] == 0).all()
    assert (out / "coded.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with av.open(str(out / "coded.annotated.mp4")) as c:
        assert c.streams.video[0].average_rate == 10
        assert sum(1 for _ in c.decode(video=0)) == N_FRAMES
        assert c.streams.audio[0].codec_context.layout.nb_channels == 2


def test_checkpoint_meta_gives_the_video_settings_and_onscreen_threshold(tmp_path, coded_mp4, video_attrs):
    store, attrs = video_attrs
    a = _av_checkpoint(tmp_path, attrs, name="a", onscreen_threshold=0.3)
    b = _av_checkpoint(tmp_path, attrs, name="b", kind="av_ts_sed_sce_ons", seed=1, onscreen_threshold=0.5)
    system = load_system([a, b])
    assert system.onscreen_threshold == pytest.approx(0.4)  # the mean of the tuned thresholds
    assert system.video_settings == {k: attrs[k] for k in ("weights", "seed", "full_fov", "resolution", "bf16",
                                                           "fold_bn", "hop_s")}
    assert system.onscreen_max_az == 50.0
    events, arrays = predict_file(system, coded_mp4, threshold=0.0)
    from seldlib.predictions import decode_system

    by_hand = decode_system({k: v[None] for k, v in arrays.items()}, 0, 0.0, 1.5, onscreen_threshold=0.4,
                            onscreen_max_az=50.0)
    np.testing.assert_array_equal(events.sorted().onscreen, by_hand.sorted().onscreen)
    # a checkpoint that records no video settings needs the training store
    bare = _av_checkpoint(tmp_path, attrs, name="bare", record_video=False)
    with pytest.raises(SeldInputError, match="record no video feature settings.*--video-store"):
        predict_file(load_system([bare]), coded_mp4)
    assert load_system([bare], video_store=store).video_settings == system.video_settings


def test_audio_and_audio_visual_models_fuse_with_on_screen_from_the_video_member(tmp_path, coded_mp4, video_attrs):
    torch.manual_seed(3)
    sce = tmp_path / "sed_sce"
    save_checkpoint(sce / "model.pt", build_model("sed_sce", {"preset": "small"}),
                    {"kind": "sed_sce", "model": {"preset": "small"}, "classes": list(CLASS_NAMES),
                     "features": FEATURES, "threshold": 0.5, "default_distance_m": 1.5})
    av_model = _av_checkpoint(tmp_path, video_attrs[1])
    audio_only = predict_file(load_system([sce]), coded_mp4)[1]  # a video given to audio-only models: its audio
    assert "onscreen" not in audio_only and len(audio_only["sed"]) == N_FRAMES
    visual_system = load_system([av_model])
    video = video_features(visual_system, coded_mp4, N_FRAMES)  # computed once for both systems below
    wave = read_input_audio(coded_mp4)
    fused = predict_wave(load_system([sce, av_model]), wave, video=video)[1]
    visual = predict_wave(visual_system, wave, video=video)[1]
    np.testing.assert_allclose(fused["sed"], (audio_only["sed"] + visual["sed"]) / 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused["onscreen"], visual["onscreen"], rtol=1e-6)


@pytest.mark.parametrize("case, words", [
    ("no_audio", "contains no audio stream"),
    ("mono", "expected stereo audio (2 channels), got mono"),
    ("no_video", "contains no video stream"),
    ("garbage", "cannot open as a media file"),
    ("wav", "is an audio file, but AV SED-SCE-ONS checkpoints are audio-visual models and need a video"),
])
def test_bad_inputs_give_one_error_line_naming_the_file(tmp_path, capsys, video_attrs, case, words):
    frames = [_code_frame(k) for k in range(30)]
    path = tmp_path / f"{case}.mp4"
    if case == "no_audio":
        _encode(path, frames)
    elif case == "mono":
        _encode(path, frames, audio=_noise(1.0, SR, channels=1), sr=SR, layout="mono")
    elif case == "no_video":
        _encode(path, audio=_noise(1.0, SR), sr=SR)
    elif case == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    else:
        path = tmp_path / "rec.wav"
        sf.write(str(path), _noise(1.0, SR).T, SR, subtype="PCM_16")
    model = _av_checkpoint(tmp_path, video_attrs[1])
    rc = main(["--models", str(model), "--out", str(tmp_path / "out"), "--device", "cpu", "--no-progress", str(path)])
    line = _error_line(capsys)
    assert rc == 2 and str(path) in line and words in line
    assert not (tmp_path / "out").exists()
    with pytest.raises(SeldInputError, match=str(path)):
        predict_file(load_system([model]), path)


# ------------------------------------------------------------------------------------ visual refinement


def _astronaut_frames(ox=0, oy=40, width=640, height=360):
    """The astronaut photo's head and shoulders (rows 20-260, columns 120-330 of ``skimage.data.astronaut``,
    face centre at photo column ~225) pasted at ``(ox, oy)`` on grey: face column 105 at ox = 0, i.e.
    atan((320 - 105) / 268.51) = +38.7° with the DCASE2025 camera."""
    import skimage.data

    frame = np.full((height, width, 3), 128, np.uint8)
    crop = skimage.data.astronaut()[20:260, 120:330]
    frame[oy : oy + crop.shape[0], ox : ox + crop.shape[1]] = crop
    return [frame] * 360


def test_haar_detector_snaps_speech_to_the_face(tmp_path, capsys):
    from seldlib.predict import build_refiner

    path = _encode(tmp_path / "face.mp4", _astronaut_frames(), fps=30, audio=_tone_scene(), sr=48_000)
    system = System(models=[("av_sed_sce_ons", ToneDouble())], features=FEATURES, video_settings=EXTRACTOR,
                    onscreen_threshold=0.5)
    video = video_features(system, path, N_FRAMES)
    wave = read_input_audio(path)
    plain, _ = predict_wave(system, wave, video=video)
    refiner = build_refiner("haar", key_fps=2.0)
    assert refiner.cfg.hold_s == 0.25  # half the key-frame interval: every label frame has a key frame
    refined, arrays = predict_wave(system, wave, video=video,
                                   postprocess=lambda a: refiner.refine(a, path, 0.5, 0.5))
    face_az = math.degrees(math.atan((320 - 105) / (320 / math.tan(math.radians(50)))))  # 38.7°
    steady = lambda ev, c: ev.azimuth[(ev.cls == c) & (ev.frame > 12) & (ev.frame < 58)]  # noqa: E731
    assert np.abs(steady(plain, 0) - 30.0).max() < 6.0 and np.abs(steady(plain, 0) - face_az).min() > 2.0
    np.testing.assert_allclose(steady(refined, 0), face_az, atol=2.0)  # female speech: on the face (gate 15°)
    np.testing.assert_allclose(steady(refined, 1), steady(plain, 1))  # -70°: far outside the gate, untouched
    assert sum(refiner.stats["snapped"]) >= 45 and refiner.stats["covered"] == [0, 1, 2, 4, 6]
    assert len(refined) == len(plain)


def test_cli_detector_option(tmp_path, capsys, coded_mp4, video_attrs):
    model = _av_checkpoint(tmp_path, video_attrs[1])
    rc = main(["--models", str(model), "--out", str(tmp_path / "out"), "--device", "cpu", "--no-progress",
               "--detector", "haar", "--refine", "gate_deg=10", "--", str(coded_mp4)])
    err = capsys.readouterr().err
    assert rc == 0 and "coded.mp4: haar refinement: 0 class-frames snapped" in err  # no face in the picture
    assert (tmp_path / "out" / "coded.csv").is_file()
    wav = tmp_path / "rec.wav"
    sf.write(str(wav), _noise(1.0, SR).T, SR, subtype="PCM_16")
    sce = tmp_path / "sed_sce"
    save_checkpoint(sce / "model.pt", build_model("sed_sce", {"preset": "small"}),
                    {"kind": "sed_sce", "model": {"preset": "small"}, "classes": list(CLASS_NAMES),
                     "features": FEATURES, "threshold": 0.5, "default_distance_m": 1.5})
    for models, extra, words in (([sce], [str(coded_mp4)], "refines the on-screen posteriors"),
                                 ([sce], [str(wav)], "is an audio file; --detector needs a video input"),
                                 ([model], ["--refine", "gate=3", str(coded_mp4)], "unknown refinement parameter")):
        rc = main(["--models", *map(str, models), "--out", str(tmp_path / "o2"), "--no-progress", "--detector", "haar",
                   *extra])
        assert rc == 2 and words in _error_line(capsys)


def test_refiner_from_a_pipeline_params_file(tmp_path):
    """``seld --detector NAME --params FILE`` refines with the pipeline's own detector entry, refinement
    section and key-frame rate (the values written below), not with seld's defaults."""
    from seldlib.predict import DEFAULT_REFINE, build_refiner, pipeline_refine_settings

    params = tmp_path / "pipe" / "params.yaml"
    params.parent.mkdir()
    params.write_text(
        "detect:\n  key_fps: 4.0\n  device: cpu\n  detectors:\n"
        "    people: {kind: haar, scale_factor: 1.2, min_neighbors: 2, min_size: 30}\n"
        "    objects: {kind: grounding_dino, weights: weights/gd}\n"
        "postprocess:\n  stages: [people]\n"
        "  people: {gate_deg: 25.0, blend: 0.5, min_score: 0.3, onscreen_hit: 1.0, miss_scale: 0.8, hold_s: 0.1}\n")
    spec, refine_args, key_fps = pipeline_refine_settings(params, "people")
    assert spec == {"kind": "haar", "scale_factor": 1.2, "min_neighbors": 2, "min_size": 30} and key_fps == 4.0
    refiner = build_refiner(spec, key_fps, {**refine_args, "gate_deg": 12.0}, name="people")
    det = refiner.detector
    assert (det.name, det.scale_factor, det.min_neighbors, det.min_size) == ("people", 1.2, 2, 30)
    assert (refiner.cfg.gate_deg, refiner.cfg.blend, refiner.cfg.min_score, refiner.cfg.miss_scale,
            refiner.cfg.hold_s, refiner.key_fps) == (12.0, 0.5, 0.3, 0.8, 0.1, 4.0)  # --refine wins
    assert DEFAULT_REFINE["gate_deg"] != 25.0 and DEFAULT_REFINE["min_score"] != 0.3  # the file did change them
    spec, refine_args, _ = pipeline_refine_settings(params, "objects")  # weights: from the params file's folder
    assert spec["weights"] == str(params.parent / "weights" / "gd") and refine_args == {}
    with pytest.raises(SeldInputError, match="has no entry 'cars'"):
        pipeline_refine_settings(params, "cars")


def test_cli_params_option_errors(tmp_path, capsys, coded_mp4, video_attrs):
    model = _av_checkpoint(tmp_path, video_attrs[1])
    params = tmp_path / "params.yaml"
    params.write_text("detect:\n  key_fps: 2.0\n  detectors:\n    people: {kind: haar, min_neighbors: 3}\n"
                      "postprocess:\n  stages: [people]\n  people: {gate_deg: 30.0, blend: 1.0, min_score: 0.4, "
                      "onscreen_hit: 1.0, miss_scale: 1.0, hold_s: 0.25}\n")
    base = ["--models", str(model), "--out", str(tmp_path / "o"), "--device", "cpu", "--no-progress"]
    for extra, words in ((["--params", str(params)], "give --detector too"),
                         (["--detector", "people"], "without --params only haar is known"),
                         (["--detector", "cars", "--params", str(params)], "has no entry 'cars'")):
        assert main([*base, *extra, "--", str(coded_mp4)]) == 2 and words in _error_line(capsys)
    rc = main([*base, "--detector", "people", "--params", str(params), "--", str(coded_mp4)])
    assert rc == 0 and "coded.mp4: people refinement: 0 class-frames snapped" in capsys.readouterr().err
