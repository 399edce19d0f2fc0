"""Tests for the synthetic perspective video (seldlib.synth.video).

Expected pixel positions are computed here from the pinhole model by hand (f = 320 / tan 50 deg,
x = 320 - f tan a, y = 180 - f tan e / cos a), and checked against the reference numbers of the
organisers' lookup table (``aziele2valuexy_0deg_ufov100w640h360.npy`` of
``SonyResearch/dcase2025_stereo_seld_data_generator``) and on-screen region
(docs/data-contract.md#on-screen-flag). People (the human classes) are checked with a real detector,
OpenCV's bundled frontal-face Haar cascade, on decoded pixels.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from seldlib.errors import SeldInputError
from seldlib.synth.video import (
    CLASS_COLOURS,
    VideoTrack,
    is_in_frame,
    project,
    render_frames,
    render_video,
    rgb_to_yuv420,
    sprite_radius,
)

F = 320.0 / math.tan(math.radians(50.0))  # 268.51 px
REPO = Path(__file__).resolve().parents[1]
# CLASS_NAMES indices of female speech, male speech, clapping, laughter, footsteps: drawn as people.
HUMAN = (0, 1, 2, 4, 6)
GLYPHS = tuple(c for c in range(13) if c not in HUMAN)
HAAR = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")


def expected_xy(az: float, el: float) -> tuple[float, float]:
    a, e = math.radians(az), math.radians(el)
    return 320.0 - F * math.tan(a), 180.0 - F * math.tan(e) / math.cos(a)


def static_track(cls: int, az: float, el: float, dist: float, frames=range(50)) -> VideoTrack:
    fr = np.asarray(list(frames), dtype=int)
    n = fr.size
    return VideoTrack(cls, fr, np.full(n, az), np.full(n, el), np.full(n, dist))


def decode(path: Path) -> tuple[list[np.ndarray], dict]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        info = {"w": s.width, "h": s.height, "rate": s.average_rate, "codec": s.codec_context.name,
                "pix_fmt": s.codec_context.pix_fmt}
    return frames, info


def colour_mask(img: np.ndarray, cls: int, tol: int = 40) -> np.ndarray:
    diff = np.abs(img.astype(np.int16) - CLASS_COLOURS[cls].astype(np.int16)).max(axis=-1)
    return diff <= tol


def centroid(mask: np.ndarray) -> tuple[float, float]:
    yy, xx = np.nonzero(mask)
    assert xx.size > 0, "sprite not found"
    return xx.mean() + 0.5, yy.mean() + 0.5  # continuous coordinates: pixel i has its centre at i + 0.5


def saturated(img: np.ndarray, spread: int = 100) -> np.ndarray:
    i = img.astype(np.int16)
    return (i.max(axis=-1) - i.min(axis=-1)) >= spread


def faces(img: np.ndarray) -> list[tuple[float, float, float]]:
    """Haar frontal faces in an RGB frame: (centre x, centre y, side) in continuous pixels."""
    gray = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
    boxes = HAAR.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=3, minSize=(24, 24))
    return [(x + w / 2.0, y + h / 2.0, float(w)) for x, y, w, h in boxes]


def faces_at(img: np.ndarray, x: float, y: float) -> list[tuple[float, float, float]]:
    """The Haar faces whose box contains the point (x, y); the seeded backgrounds' blocks now and then
    fool the cascade elsewhere in the frame."""
    return [f for f in faces(img) if abs(f[0] - x) <= f[2] / 2 and abs(f[1] - y) <= f[2] / 2]


def one_frame_mp4(tmp_path: Path, tracks: list[VideoTrack], seed: int) -> np.ndarray:
    """The decoded first frame of a rendered clip (the pixels a detector would see), (360, 640, 3) uint8."""
    out = tmp_path / f"one{seed}.mp4"
    render_video(out, tracks, seed=seed, n_frames=1, n_distractors=0)
    return decode(out)[0][0]


# ------------------------------------------------------------------------------------------- geometry


def test_project_centre_and_reference_examples():
    x, y, front = project(0.0, 0.0)
    assert front and x == pytest.approx(320.0) and y == pytest.approx(180.0)
    # By hand at W = 640 (f = 268.51): a=+30 -> 320 - f tan 30 = 165, a=-30 -> 475,
    # e=+20 at a=0 -> 180 - f tan 20 = 82.
    assert project(30.0, 0.0)[0] == pytest.approx(165.0, abs=0.5)
    assert project(-30.0, 0.0)[0] == pytest.approx(475.0, abs=0.5)
    assert project(0.0, 20.0)[1] == pytest.approx(82.0, abs=0.5)
    for az, el in [(10.0, 5.0), (-42.0, -20.0), (35.0, 25.0)]:
        x, y, front = project(az, el)
        ex, ey = expected_xy(az, el)
        assert front and x == pytest.approx(ex, abs=1e-9) and y == pytest.approx(ey, abs=1e-9)


@pytest.mark.parametrize(
    "az,x_lut", [(0, 322), (10, 275), (20, 225), (30, 168), (40, 98), (45, 56), (50, 6), (-30, 477)]
)
def test_project_matches_official_lookup_table(az, x_lut):
    # The organisers' table is quantised to 1 deg and biased by its bilinear dot: compare in angle.
    x, _, _ = project(float(az), 0.0)
    az_of_lut = math.degrees(math.atan((320.0 - x_lut) / F))
    assert abs(az_of_lut - az) <= 1.0
    assert abs(x - x_lut) <= 2.0 + F * (1.0 / math.cos(math.radians(az)) ** 2) * math.radians(1.0)
    # Azimuth does not depend on the row: same x at any elevation.
    assert project(float(az), 20.0)[0] == pytest.approx(x)


def test_is_in_frame_matches_reference_region():
    az = np.arange(-50, 51)
    assert is_in_frame(az, 0.0).all()  # a in [-50, 50] on screen at e = 0
    assert not is_in_frame(np.array([-52.0, 52.0, 60.0, -70.0]), 0.0).any()
    # At a = 0 the vertical half-FOV is atan(tan 50 * 360/640) = 33.84 deg.
    assert is_in_frame(0.0, np.array([-33.0, 0.0, 33.0])).all()
    assert not is_in_frame(0.0, np.array([-35.0, 35.0, 60.0, 90.0, -90.0])).any()
    # Shrinks towards the side: |tan e| <= 0.670 cos a -> 25.3 deg at a = 45.
    assert is_in_frame(45.0, np.array([-22.0, 22.0])).all()
    assert not is_in_frame(45.0, np.array([-28.0, 28.0])).any()
    assert not is_in_frame(-45.0, 28.0)


@pytest.mark.parametrize("az", [130.0, 150.0, -150.0, 180.0, 90.0, -90.0])
def test_rear_directions_never_on_screen(az):
    # tan(150) alone would put the source at x = 475: the in-front test must reject it.
    x, y, front = project(az, 0.0)
    assert not front and np.isnan(x) and np.isnan(y)
    assert not is_in_frame(az, 0.0)


def test_sprite_radius_inverse_distance_and_clamped():
    assert sprite_radius(1.0) == pytest.approx(60.0)
    assert sprite_radius(3.0) == pytest.approx(20.0)
    assert sprite_radius(0.1) == pytest.approx(70.0)
    assert sprite_radius(100.0) == pytest.approx(6.0)


def _glyph(cls: int) -> np.ndarray:
    """Pixels the renderer's sprite drawing sets for ``cls`` (radius 20 px, centred in 45 x 45)."""
    from seldlib.synth.video import _draw

    frame = np.zeros((45, 45, 3), np.uint8)
    _draw(frame, cls, 22.5, 22.5, 20.0)
    return frame.any(axis=-1)


def test_glyphs_and_colours_are_distinct():
    masks = {c: _glyph(c) for c in GLYPHS}
    assert all(m.sum() > 200 for m in masks.values())
    for i in GLYPHS:
        for j in GLYPHS:
            if i < j:
                iou = (masks[i] & masks[j]).sum() / (masks[i] | masks[j]).sum()
                assert iou < 0.8, (i, j, iou)
    col = CLASS_COLOURS.astype(int)
    assert (col.max(axis=1) - col.min(axis=1)).min() >= 140  # saturated, unlike the background
    d = np.abs(col[:, None, :] - col[None, :, :]).max(axis=-1) + np.eye(13, dtype=int) * 999
    assert d.min() >= 50


# ------------------------------------------------------------------------------------------ the MP4


def test_mp4_format(tmp_path):
    out = tmp_path / "clip.mp4"
    render_video(out, [static_track(0, 0.0, 0.0, 2.0)], seed=3)
    frames, info = decode(out)
    assert len(frames) == 150
    assert (info["w"], info["h"]) == (640, 360)
    assert frames[0].shape == (360, 640, 3)
    assert info["rate"] == 30 and info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


@pytest.mark.parametrize(  # centrally symmetric glyphs: their centroid is their centre
    "cls,az,el", [(5, 0.0, 0.0), (9, 25.0, 10.0), (12, -35.0, -15.0), (8, 40.0, 0.0), (3, -10.0, 20.0)]
)
def test_sprite_centre_where_direction_projects(tmp_path, cls, az, el):
    out = tmp_path / "c.mp4"
    render_video(out, [static_track(cls, az, el, 2.0)], seed=11, n_frames=6, n_distractors=0)
    frames, _ = decode(out)
    cx, cy = centroid(colour_mask(frames[3], cls))
    ex, ey = expected_xy(az, el)
    assert abs(cx - ex) <= 1.5 and abs(cy - ey) <= 1.5, ((cx, cy), (ex, ey))


@pytest.mark.parametrize("az,el", [(20.0, 0.0), (-30.0, 10.0)])
@pytest.mark.parametrize("cls", HUMAN)
def test_person_face_found_by_haar_where_direction_projects(tmp_path, cls, az, el):
    # A real face detector on the decoded MP4 finds one face over the projected direction, centred on it:
    # x = 320 - 268.51 tan a (x = 222.3 at +20 deg, 475.0 at -30 deg), y = 180 - f tan e / cos a.
    img = one_frame_mp4(tmp_path, [static_track(cls, az, el, 1.5)], seed=cls)
    ex, ey = expected_xy(az, el)
    found = faces_at(img, ex, ey)
    assert len(found) == 1, faces(img)
    cx, cy, _ = found[0]
    assert abs(cx - ex) <= 3.0 and abs(cy - ey) <= 4.0, ((cx, cy), (ex, ey))


def test_person_face_size_inverse_distance(tmp_path):
    # Like the glyphs the picture scales as 1/distance: the detected face halves from 1.5 m to 3 m, and a
    # 3-m person (the far end of the rooms' usual range) is still found.
    side = {}
    for d in (1.5, 3.0):
        img = one_frame_mp4(tmp_path, [static_track(0, -10.0, 5.0, d)], seed=7)
        found = faces_at(img, *expected_xy(-10.0, 5.0))
        assert len(found) == 1, (d, faces(img))
        assert abs(found[0][0] - expected_xy(-10.0, 5.0)[0]) <= 3.0
        side[d] = found[0][2]
    assert side[1.5] / side[3.0] == pytest.approx(2.0, rel=0.15)


@pytest.mark.parametrize("cls", GLYPHS)
def test_non_person_class_is_a_flat_glyph(cls):
    # Everything a non-human source changes is its one saturated class colour; no face appears there.
    track = static_track(cls, 20.0, 0.0, 1.5, frames=[0])
    img = next(iter(render_frames([track], seed=cls, n_frames=1, n_distractors=0)))
    bare = next(iter(render_frames([], seed=cls, n_frames=1, n_distractors=0)))
    changed = (img != bare).any(axis=-1)
    assert changed.sum() > 500
    assert np.array_equal(changed, colour_mask(img, cls, tol=0) & changed)
    assert not faces_at(img, *expected_xy(20.0, 0.0))


def test_person_classes_differ_only_in_frame_colour():
    # The five person classes share the photo; a frame in the class colour tells them apart. Interior
    # pixels agree, the frame is exactly the class colour, and it encloses the photo.
    from seldlib.synth.video import _draw

    imgs = {}
    for c in HUMAN:
        imgs[c] = np.zeros((200, 200, 3), np.uint8)
        assert _draw(imgs[c], c, 100.0, 80.0, 40.0) is not None  # integer offsets: no sub-pixel blend
    frame = colour_mask(imgs[0], 0, tol=0)
    yy, xx = np.nonzero(frame)
    inside = np.zeros_like(frame)
    inside[yy.min() : yy.max() + 1, xx.min() : xx.max() + 1] = True
    assert frame.sum() > 200 and imgs[0][~inside].max() == 0  # nothing drawn outside the frame
    for c in HUMAN[1:]:
        assert np.array_equal(colour_mask(imgs[c], c, tol=0), frame)
        assert np.array_equal(imgs[c][~frame], imgs[0][~frame])
    photo = imgs[0][inside & ~frame].astype(int)
    assert photo.std() > 20  # a picture, not a flat fill


def _overlap(n_px: int, start: float, n_src: int) -> np.ndarray:
    """(n_px, n_src) lengths by which pixel [i, i + 1) overlaps source pixel [start + j, start + j + 1)."""
    i = np.arange(n_px, dtype=np.float64)[:, None]
    j = start + np.arange(n_src, dtype=np.float64)[None, :]
    return np.clip(np.minimum(i + 1.0, j + 1.0) - np.maximum(i, j), 0.0, None)


@pytest.mark.parametrize("where", ["inside", "left sliver", "right sliver", "top sliver", "corner"])
def test_person_sub_pixel_placement_is_exact_area_coverage(where):
    # The sprite (face centre at its continuous point (w/2, round(face px)), face px = round(1.4 r)) is an
    # opaque picture of square pixels placed at a fractional offset: every frame pixel must be the
    # area-weighted mix of the sprite pixels over it and what lies below, also for 1-px slivers at the
    # edges (the frame's own box, clipped).
    from seldlib.synth.video import _draw, _person_sprite

    rng = np.random.default_rng(len(where))
    below = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    radius = 13.0
    face = round(1.4 * radius)
    sprite = _person_sprite(2, face).astype(np.float64)
    sh, sw = sprite.shape[:2]
    xc, yc = {
        "inside": (30.37, 20.81),
        "left sliver": (-sw / 2 + 0.3, 20.2),
        "right sliver": (60 + sw / 2 - 0.6, 20.2),
        "top sliver": (30.5, face - sh + 0.45),
        "corner": (-sw / 2 + 1.7, face - sh + 0.2),
    }[where]
    oy, ox = _overlap(40, yc - face, sh), _overlap(60, xc - sw / 2, sw)
    cover = oy.sum(axis=1)[:, None] * ox.sum(axis=1)[None, :]
    want = below * (1.0 - cover)[..., None] + np.einsum("yj,jic,xi->yxc", oy, sprite, ox)
    got = below.copy()
    assert _draw(got, 2, xc, yc, radius) is not None
    diff = np.abs(got.astype(np.float64) - want)
    assert diff.max() <= 1.0 and (diff > 0.5 + 1e-3).mean() < 0.01  # float32 may round a .5 the other way


def _yuv_planes(mp4: Path) -> list[tuple[np.ndarray, ...]]:
    with av.open(str(mp4)) as container:
        return [tuple(np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width].copy()
                      for p in frame.planes) for frame in container.decode(video=0)]


def test_touched_box_encoding_equals_whole_frames_with_moving_people(tmp_path):
    # crf 0 is lossless: the planes fed to the encoder (redrawn only where sprites were or are) must equal
    # converting each whole RGB frame, also for people moving with sub-pixel steps over a glyph and an edge.
    n = 8
    tracks = [
        VideoTrack(1, np.arange(n), np.linspace(10.0, -12.0, n), np.linspace(0.0, 4.0, n), np.linspace(1.2, 2.0, n)),
        VideoTrack(5, np.arange(2, n), np.full(n - 2, 0.0), np.full(n - 2, 2.0), np.full(n - 2, 1.6)),
        VideoTrack(4, np.arange(n), np.full(n, 47.0), np.linspace(-15.0, -20.0, n), np.full(n, 0.9)),
    ]
    mp4 = tmp_path / "lossless.mp4"
    render_video(mp4, tracks, seed=6, n_frames=24, n_distractors=1, crf=0)
    frames = list(render_frames(tracks, seed=6, n_frames=24, n_distractors=1))
    decoded = _yuv_planes(mp4)
    assert len(decoded) == len(frames) == 24
    for k, (frame, planes) in enumerate(zip(frames, decoded)):
        for got, want in zip(planes, rgb_to_yuv420(frame)):
            np.testing.assert_array_equal(got, want, err_msg=f"frame {k}")


def test_nearer_source_is_larger(tmp_path):
    areas = {}
    for d in (1.5, 3.0):
        out = tmp_path / f"d{d}.mp4"
        render_video(out, [static_track(3, 10.0, 0.0, d)], seed=5, n_frames=3, n_distractors=0)
        areas[d] = colour_mask(decode(out)[0][1], 3).sum()
    # Diamond |u| + |v| <= r with r = 60/d: 40 px vs 20 px, area 2 r^2, ratio 4.
    assert areas[1.5] == pytest.approx(2 * 40**2, rel=0.1)
    assert areas[1.5] / areas[3.0] == pytest.approx(4.0, rel=0.15)


@pytest.mark.parametrize("az,el", [(70.0, 0.0), (150.0, 0.0), (-150.0, 0.0), (0.0, 50.0), (-60.0, -5.0)])
def test_offscreen_source_not_drawn(tmp_path, az, el):
    empty, off = tmp_path / "empty.mp4", tmp_path / "off.mp4"
    render_video(empty, [], seed=8, n_frames=9)
    render_video(off, [static_track(2, az, el, 1.0)], seed=8, n_frames=9)
    assert off.read_bytes() == empty.read_bytes()


def test_activity_follows_label_frames(tmp_path):
    out = tmp_path / "t.mp4"
    # Label frames 10..19 cover [1.0, 2.0) s -> video frames 30..59 at 30 fps.
    render_video(out, [static_track(6, -20.0, 0.0, 2.0, frames=range(10, 20))], seed=2, n_frames=90,
                 n_distractors=0)
    frames, _ = decode(out)
    present = np.array([colour_mask(f, 6).sum() > 200 for f in frames])
    assert np.array_equal(np.flatnonzero(present), np.arange(30, 60))


def test_moving_source_follows_interpolated_azimuth(tmp_path):
    n = 50
    az = np.linspace(30.0, -30.0, n)  # left to right
    track = VideoTrack(0, np.arange(n), az, np.zeros(n), np.full(n, 2.0))
    out = tmp_path / "m.mp4"
    render_video(out, [track], seed=4, n_distractors=0)
    frames, _ = decode(out)
    xs = {k: centroid(colour_mask(frames[k], 0))[0] for k in (0, 40, 76, 147, 149)}
    assert xs[0] < xs[40] < xs[76] < xs[147]  # moves to the right as azimuth decreases
    step = 60.0 / 49.0
    # Video frame k -> label time k/3; linear between label frames, held after the last one.
    for k, a in [(0, 30.0), (40, 30.0 - step * 40 / 3), (76, 30.0 - step * 76 / 3), (147, -30.0), (149, -30.0)]:
        assert abs(xs[k] - expected_xy(a, 0.0)[0]) <= 1.5, (k, xs[k], a)


def test_unfolded_azimuth_crossing_back_does_not_sweep_through_front():
    # 175 -> -175 is a 10 deg step behind the listener; a naive lerp would pass through 0 (on screen)
    # half-way, i.e. at video frames 3, 9, 15 at 60 fps.
    track = VideoTrack(0, np.arange(4), np.array([175.0, -175.0, 175.0, -175.0]), np.zeros(4), np.ones(4))
    for img in render_frames([track], seed=1, fps=60.0, n_frames=24, n_distractors=0):
        assert not colour_mask(img, 0, tol=0).any()
    # Control: the same motion in front of the camera is drawn at the half-way frames.
    front = VideoTrack(0, np.arange(4), np.array([5.0, -5.0, 5.0, -5.0]), np.zeros(4), np.ones(4))
    imgs = list(render_frames([front], seed=1, fps=60.0, n_frames=24, n_distractors=0))
    assert abs(centroid(colour_mask(imgs[3], 0, tol=0))[0] - 320.0) <= 0.5


def test_label_frames_after_the_clip_are_ignored():
    track = VideoTrack(0, np.array([2, 10**9]), np.zeros(2), np.zeros(2), np.ones(2))
    imgs = list(render_frames([track], seed=0, n_frames=12, n_distractors=0))
    shown = [colour_mask(img, 0, tol=0).any() for img in imgs]
    assert shown == [k in (6, 7, 8) for k in range(12)]


def test_painter_order_near_on_top():
    # Near half disc (r = 60 px, v >= -0.15 r) at x = 320; far diamond (r = 20 px) centred at x = 370.
    near = static_track(10, 0.0, 0.0, 1.0, frames=[0])
    far = static_track(3, -math.degrees(math.atan(50.0 / F)), 0.0, 3.0, frames=[0])
    for tracks in ([near, far], [far, near]):
        img = next(iter(render_frames(tracks, seed=0, n_frames=1, n_distractors=0)))
        assert np.array_equal(img[180, 372], CLASS_COLOURS[10])  # overlap: the nearer glyph wins
        assert np.array_equal(img[180, 381], CLASS_COLOURS[3])  # outside the disc: far glyph visible


def test_painter_order_with_people():
    # A person is an opaque picture: at 1 m its head and shoulders (face about 84 px) hide a 3-m diamond
    # 50 px to the right of the face entirely; a 1-m diamond (r = 60 px) in front of a 3-m person wins.
    right = -math.degrees(math.atan(50.0 / F))
    person_near, glyph_far = static_track(0, 0.0, 0.0, 1.0, frames=[0]), static_track(3, right, 0.0, 3.0, frames=[0])
    glyph_near, person_far = static_track(3, 0.0, 0.0, 1.0, frames=[0]), static_track(0, right, 0.0, 3.0, frames=[0])
    for tracks in ([person_near, glyph_far], [glyph_far, person_near]):
        img = next(iter(render_frames(tracks, seed=0, n_frames=1, n_distractors=0)))
        assert not colour_mask(img, 3, tol=0).any()
        assert len(faces(img)) == 1
    for tracks in ([glyph_near, person_far], [person_far, glyph_near]):
        img = next(iter(render_frames(tracks, seed=0, n_frames=1, n_distractors=0)))
        assert np.array_equal(img[180, 372], CLASS_COLOURS[3])  # the diamond covers the far face
        assert colour_mask(img, 0, tol=0).sum() > 30  # the far person's frame still shows around it


def test_same_seed_byte_identical_across_processes(tmp_path):
    tracks = [static_track(7, 12.0, 5.0, 1.7), static_track(1, -20.0, 3.0, 1.3)]
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    render_video(a, tracks, seed=21, n_frames=30)
    code = (
        "import sys, numpy as np; from seldlib.synth.video import VideoTrack, render_video;"
        "t = VideoTrack(7, np.arange(50), np.full(50, 12.0), np.full(50, 5.0), np.full(50, 1.7));"
        "p = VideoTrack(1, np.arange(50), np.full(50, -20.0), np.full(50, 3.0), np.full(50, 1.3));"
        "render_video(sys.argv[1], [t, p], seed=21, n_frames=30)"
    )
    subprocess.run([sys.executable, "-c", code, str(b)], check=True, cwd=REPO,
                   env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert a.read_bytes() == b.read_bytes()
    render_video(b, tracks, seed=22, n_frames=30)
    assert a.read_bytes() != b.read_bytes()


def test_different_seeds_different_backgrounds(tmp_path):
    imgs = []
    for seed in (1, 2):
        out = tmp_path / f"s{seed}.mp4"
        render_video(out, [], seed=seed, n_frames=2, n_distractors=0)
        imgs.append(decode(out)[0][0].astype(float))
    assert np.abs(imgs[0] - imgs[1]).mean() > 10.0
    # The background itself is textured, not flat.
    assert imgs[0].std(axis=(0, 1)).min() > 5.0


def test_distractors_present_without_tracks(tmp_path):
    for seed in range(5):
        frames = list(render_frames([], seed=seed, n_frames=31))
        bare = next(iter(render_frames([], seed=seed, n_frames=1, n_distractors=0)))
        assert not saturated(bare).any()  # background never looks like a glyph
        for img in (frames[0], frames[30]):
            assert saturated(img).sum() > 50
            classes = [c for c in range(13) if colour_mask(img, c, tol=0).sum() > 30]
            assert 1 <= len(classes) <= 3
        # Only the distractors differ from the bare background: a glyph is saturated, a person's photo lies
        # inside its saturated class-coloured frame, and a person's one-pixel rim blends next to saturation.
        for img in (frames[0], frames[30]):
            pad = np.pad(saturated(img), 1)
            allowed = np.zeros(img.shape[:2], bool)
            for dy in range(3):  # saturated pixels and their 8 neighbours
                for dx in range(3):
                    allowed |= pad[dy : dy + img.shape[0], dx : dx + img.shape[1]]
            for c in HUMAN:
                yy, xx = np.nonzero(colour_mask(img, c, tol=0))
                if xx.size:
                    allowed[yy.min() : yy.max() + 1, xx.min() : xx.max() + 1] = True
            assert not ((img != bare).any(axis=-1) & ~allowed).any()
    out = tmp_path / "d.mp4"
    render_video(out, [], seed=3, n_frames=4, n_distractors=2)
    assert saturated(decode(out)[0][2]).sum() > 50


def test_distractor_count_is_honoured():
    tracks: list[VideoTrack] = []
    few = next(iter(render_frames(tracks, seed=9, n_frames=1, n_distractors=1)))
    many = next(iter(render_frames(tracks, seed=9, n_frames=1, n_distractors=6)))
    assert saturated(many).sum() > saturated(few).sum() > 0


# ---------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs,track",
    [
        ({}, VideoTrack(13, np.arange(3), np.zeros(3), np.zeros(3), np.ones(3))),
        ({}, VideoTrack(0, np.arange(3), np.zeros(2), np.zeros(3), np.ones(3))),
        ({}, VideoTrack(0, np.array([-1, 0]), np.zeros(2), np.zeros(2), np.ones(2))),
        ({}, VideoTrack(0, np.array([1, 1]), np.zeros(2), np.zeros(2), np.ones(2))),
        ({}, VideoTrack(0, np.array([0.5, 1.0]), np.zeros(2), np.zeros(2), np.ones(2))),
        ({}, VideoTrack(0, np.arange(2), np.array([0.0, np.nan]), np.zeros(2), np.ones(2))),
        ({}, VideoTrack(0, np.arange(2), np.zeros(2), np.zeros(2), np.array([1.0, 0.0]))),
        ({}, VideoTrack(0, np.arange(2), np.zeros(2), np.array([0.0, 95.0]), np.ones(2))),
        ({"fps": 0.0}, None),
        ({"width": 641}, None),
        ({"n_frames": 0}, None),
        ({"seed": -1}, None),
        ({"n_distractors": -2}, None),
    ],
)
def test_bad_input_raises_and_writes_nothing(tmp_path, kwargs, track):
    out = tmp_path / "bad.mp4"
    args = {"seed": 0, **kwargs}
    with pytest.raises(SeldInputError) as err:
        render_video(out, [] if track is None else [track], **args)
    assert "bad.mp4" in str(err.value)
    assert list(tmp_path.iterdir()) == []
