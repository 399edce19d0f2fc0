"""Synthetic perspective video for the embedded dataset: people and class glyphs drawn where the sources project.

The camera is the DCASE2025 one: rectilinear (pinhole), 640 x 360, horizontal FOV 100 deg, looking along
the azimuth-0 direction with zero pitch and roll. A direction with camera-relative, *unfolded* azimuth
``a`` (deg, positive = left) and elevation ``e`` (deg, positive = up) is the unit vector

    forward x_w = cos e cos a,   left y_w = cos e sin a,   up z_w = sin e.

Image x grows to the right (= -y_w) and image y grows downwards (= -z_w), so the pinhole projection is

    x = cx - f * y_w / x_w = cx - f * tan(a)
    y = cy - f * z_w / x_w = cy - f * tan(e) / cos(a)

with f = (W/2) / tan(HFOV/2) (268.51 px at 640 px / 100 deg), cx = W/2, cy = H/2.

Pixel coordinates are *continuous*: pixel column ``i`` covers [i, i+1) and has its centre at i + 0.5, so
the frame spans [0, W] x [0, H] and the optical axis hits x = W/2 exactly (subtract 0.5 to get a
fractional pixel *index*).

Each clip gets a seeded, static, low-saturation background (sky/floor gradients, a perspective checker
floor, furniture-like blocks, smooth grey noise). Every active, on-screen event is a sprite whose size
is proportional to 1/distance (:func:`sprite_radius` r = 60 px / d), drawn far sprites first:

- the human classes (:data:`PERSON_CLASSES`: female and male speech, clapping, laughter, footsteps) are
  a photographed person, so that a real face detector finds them offline on the pixels: the
  head-and-shoulders crop of scikit-image's ``skimage.data.astronaut()`` (a frontal portrait), resized to
  a face box of :func:`face_size_px` = round(1.4 r) px (84 px at 1 m, 28 px at 3 m; antialiased linear,
  cached per whole-pixel size) and placed with its face centre exactly (bilinear sub-pixel shift) on the
  projected point. All five classes show the same woman, male speech included; a frame in the class
  colour tells them apart. OpenCV's frontal-face Haar cascade finds these faces in the encoded
  640 x 360 frames out to 3-3.5 m, within 2 px of the projected column. ``skimage.data.camera()``, the
  other person scikit-image ships, is not used: he is in profile behind his camera and that cascade
  never finds him;
- the other eight classes are flat saturated glyphs (8 shapes x their colours), radius r.

Silent distractors (1-3 by default, random class, so a silent person when the class is human) are drawn
in every frame so that the picture alone does not reveal which classes are sounding. Frames are
converted to BT.601 limited-range YUV 4:2:0 (:func:`rgb_to_yuv420`; per frame only the boxes the sprites
touch are redrawn and reconverted) and encoded with libx264 (one thread, bitexact muxing) through PyAV;
the same arguments give byte-identical files.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from seldlib.atomic import atomic_path
from seldlib.constants import (
    LABEL_HOP_SECONDS,
    N_CLASSES,
    VIDEO_HEIGHT,
    VIDEO_HFOV_DEG,
    VIDEO_WIDTH,
)
from seldlib.errors import SeldInputError

__all__ = [
    "CLASS_COLOURS",
    "FACE_PER_RADIUS",
    "GLYPH_NAMES",
    "PERSON_CLASSES",
    "VideoTrack",
    "face_size_px",
    "focal_length_px",
    "is_in_frame",
    "project",
    "render_frames",
    "render_video",
    "rgb_to_yuv420",
    "sprite_radius",
]

# One saturated RGB colour per class. Every colour has max-min channel spread >= 140 while the background
# spread stays <= 50, so a colour test with L-inf tolerance < 45 never confuses the two.
CLASS_COLOURS: np.ndarray = np.array(
    [
        (230, 40, 40),  # 0 female speech: red
        (40, 80, 240),  # 1 male speech: blue
        (250, 200, 20),  # 2 clapping: yellow
        (30, 190, 60),  # 3 telephone: green
        (240, 30, 200),  # 4 laughter: magenta
        (20, 200, 220),  # 5 domestic: cyan
        (250, 120, 10),  # 6 footsteps: orange
        (140, 40, 240),  # 7 door: violet
        (160, 240, 20),  # 8 music: lime
        (0, 150, 110),  # 9 instrument: teal
        (100, 170, 255),  # 10 water tap: sky blue
        (190, 140, 0),  # 11 bell: gold
        (160, 0, 40),  # 12 knock: crimson
    ],
    dtype=np.uint8,
)

# What class k looks like: a person photo for the human classes, else a glyph shape.
GLYPH_NAMES: tuple[str, ...] = (
    "person",
    "person",
    "person",
    "diamond",
    "person",
    "plus",
    "person",
    "star",
    "tall bar",
    "wide ellipse",
    "half disc",
    "hollow square",
    "hourglass",
)

# Classes drawn as a photographed person (CLASS_NAMES: female speech, male speech, clapping, laughter,
# footsteps); the other eight are glyphs.
PERSON_CLASSES: tuple[int, ...] = (0, 1, 2, 4, 6)

# Sprite radius r = R_REF / distance, clamped; 60 px at 1 m, 20 px at 3 m.
SPRITE_R_REF_PX_M = 60.0
SPRITE_R_MIN_PX = 6.0
SPRITE_R_MAX_PX = 70.0

# A person's face box side is FACE_PER_RADIUS * r (rounded to whole pixels): 84 px at 1 m, 28 px at 3 m,
# so OpenCV's frontal-face cascade (24-px window) still finds it at 3 m.
FACE_PER_RADIUS = 1.4

# Background colours: grey level plus a small per-channel offset (keeps saturation low).
_BG_CHROMA = 20.0
# A direction exactly on the frame edge (|a| = 50 deg at 640 px) counts as in frame despite rounding.
_EDGE_EPS_PX = 1e-6


@dataclass
class VideoTrack:
    """One sound event as the video sees it (all arrays have the same length ``n``).

    Attributes:
        cls: class index 0..12.
        frames: (n,) int label-frame indices on the 100 ms grid (0..49 for a 5 s clip), unique.
        azimuth: (n,) degrees, unfolded (-180..180], camera-relative, positive = left.
        elevation: (n,) degrees, positive = up.
        distance: (n,) metres (> 0).
    """

    cls: int
    frames: np.ndarray
    azimuth: np.ndarray
    elevation: np.ndarray
    distance: np.ndarray


# --------------------------------------------------------------------------------------------- geometry


def focal_length_px(width: int = VIDEO_WIDTH, hfov_deg: float = VIDEO_HFOV_DEG) -> float:
    """Pinhole focal length in pixels: (W/2) / tan(HFOV/2); 268.51 for 640 px and 100 deg."""
    return (width / 2.0) / float(np.tan(np.deg2rad(hfov_deg) / 2.0))


def project(
    az_deg: np.ndarray | float,
    el_deg: np.ndarray | float,
    width: int = VIDEO_WIDTH,
    height: int = VIDEO_HEIGHT,
    hfov_deg: float = VIDEO_HFOV_DEG,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project directions into the perspective frame.

    Args:
        az_deg: (...) unfolded camera-relative azimuth in degrees, positive = left.
        el_deg: (...) elevation in degrees, positive = up (broadcast against ``az_deg``).

    Returns:
        x, y: (...) float continuous pixel coordinates (x = cx - f tan a, y = cy - f tan e / cos a,
            cx = W/2, cy = H/2); NaN where the direction is not in front of the camera.
        in_front: (...) bool, forward component cos(e) cos(a) > 0.
    """
    az = np.deg2rad(np.asarray(az_deg, dtype=np.float64))
    el = np.deg2rad(np.asarray(el_deg, dtype=np.float64))
    az, el = np.broadcast_arrays(az, el)
    f = focal_length_px(width, hfov_deg)
    fwd = np.cos(el) * np.cos(az)
    left = np.cos(el) * np.sin(az)
    up = np.sin(el)
    in_front = fwd > 1e-12
    safe = np.where(in_front, fwd, 1.0)
    x = np.where(in_front, width / 2.0 - f * left / safe, np.nan)
    y = np.where(in_front, height / 2.0 - f * up / safe, np.nan)
    return x, y, in_front


def is_in_frame(
    az_deg: np.ndarray | float,
    el_deg: np.ndarray | float,
    width: int = VIDEO_WIDTH,
    height: int = VIDEO_HEIGHT,
    hfov_deg: float = VIDEO_HFOV_DEG,
) -> np.ndarray:
    """Whether a direction is on screen: in front of the camera and projecting inside the frame.

    Uses :func:`project`; the bounds are inclusive (0 <= x <= W, 0 <= y <= H, up to 1e-6 px), so at
    640 px / 100 deg the horizontal limit is exactly |a| <= 50 deg at e = 0 and the vertical limit at
    a = 0 is |e| <= atan(tan 50 deg * 360/640) = 33.84 deg, shrinking as |tan e| <= 0.670 cos a towards
    the sides. This matches the organisers' onscreen flag (a in [-50, 51], e in [-34, 35]) to about
    1 deg, the slack of their bilinear 1-deg lookup. Rear directions (|a| > 90) are never on screen.

    Args:
        az_deg, el_deg: (...) degrees, broadcastable.

    Returns:
        (...) bool.
    """
    x, y, in_front = project(az_deg, el_deg, width, height, hfov_deg)
    with np.errstate(invalid="ignore"):
        inside = (
            (x >= -_EDGE_EPS_PX)
            & (x <= width + _EDGE_EPS_PX)
            & (y >= -_EDGE_EPS_PX)
            & (y <= height + _EDGE_EPS_PX)
        )
    return in_front & inside


def sprite_radius(distance_m: np.ndarray | float) -> np.ndarray:
    """Sprite radius in pixels, R_REF / d clamped to [R_MIN, R_MAX]: a glyph's radius, and the scale of a
    person (face box :func:`face_size_px`); (...) -> (...) float."""
    d = np.asarray(distance_m, dtype=np.float64)
    return np.clip(SPRITE_R_REF_PX_M / np.maximum(d, 1e-6), SPRITE_R_MIN_PX, SPRITE_R_MAX_PX)


# --------------------------------------------------------------------------------------------- glyphs


def _shape(cls: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean glyph of non-person class ``cls`` on normalised offsets u (right) and v (down), radius 1."""
    au, av_ = np.abs(u), np.abs(v)
    rho2 = u * u + v * v
    if cls == 3:  # diamond
        return au + av_ <= 1.0
    if cls == 5:  # plus
        return ((au <= 0.3) & (av_ <= 1.0)) | ((av_ <= 0.3) & (au <= 1.0))
    if cls == 7:  # five-pointed star (polar profile), one point up
        theta = np.arctan2(v, u)
        prof = 0.42 + 0.58 * ((1.0 + np.cos(5.0 * (theta + np.pi / 2.0))) / 2.0) ** 2
        return rho2 <= prof * prof
    if cls == 8:  # tall bar
        return (au <= 0.4) & (av_ <= 1.0)
    if cls == 9:  # wide ellipse
        return u * u + (v / 0.5) ** 2 <= 1.0
    if cls == 10:  # lower half disc
        return (rho2 <= 1.0) & (v >= -0.15)
    if cls == 11:  # hollow square
        m = np.maximum(au, av_)
        return (m <= 0.85) & (m >= 0.5)
    if cls == 12:  # hourglass (two triangles meeting at the centre)
        return (av_ >= au) & (av_ <= 0.9)
    raise SeldInputError(None, f"class index {cls} has no glyph (0..{N_CLASSES - 1}, people excluded)")


def _draw(frame: np.ndarray, cls: int, xc: float, yc: float, radius: float) -> tuple[int, int, int, int] | None:
    """Draw class ``cls`` at continuous pixel (xc, yc) with sprite radius ``radius`` into ``frame`` (H, W, 3)
    uint8 in place, clipped: a person (:data:`PERSON_CLASSES`) with the face centred there, else a glyph.

    Returns the pixel box ``(y0, y1, x0, x1)`` that may have changed, None when it lies outside the frame.
    """
    if cls in PERSON_CLASSES:
        return _draw_person(frame, cls, xc, yc, radius)
    h, w = frame.shape[:2]
    x0, x1 = max(int(np.floor(xc - radius)), 0), min(int(np.ceil(xc + radius)) + 1, w)
    y0, y1 = max(int(np.floor(yc - radius)), 0), min(int(np.ceil(yc + radius)) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    u = (np.arange(x0, x1, dtype=np.float64) + 0.5 - xc) / radius
    v = (np.arange(y0, y1, dtype=np.float64) + 0.5 - yc) / radius
    mask = _shape(cls, u[None, :], v[:, None])
    frame[y0:y1, x0:x1][mask] = CLASS_COLOURS[cls]
    return y0, y1, x0, x1


# --------------------------------------------------------------------------------------------- people

# The face box in skimage.data.astronaut() (512 x 512 RGB), continuous photo pixels: centre column, centre
# row, side. It is the box OpenCV's frontal-face Haar cascade finds there (x 175-272, y 66-163).
_FACE_X, _FACE_Y, _FACE_SIDE = 223.5, 114.5, 97.0
# Head-and-shoulders crop around the face centre, in face-box sides: half width, above, below.
_CROP_HALF_W, _CROP_UP, _CROP_DOWN = 1.15, 1.0, 1.65


def face_size_px(radius: np.ndarray | float) -> np.ndarray:
    """Face box side in whole pixels of a person with sprite radius ``radius``: round(FACE_PER_RADIUS r),
    at least 4; (...) -> (...) int."""
    r = np.asarray(radius, dtype=np.float64)
    return np.maximum(np.rint(FACE_PER_RADIUS * r), 4).astype(np.int64)


@functools.cache
def _photo() -> np.ndarray:
    """The astronaut photo as (512, 512, 3) float64; loaded once per process."""
    from skimage import data  # local: geometry-only users of this module never load the photo

    return np.asarray(data.astronaut(), dtype=np.float64)


def _resampler(n_in: int, start: float, step: float, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights: output pixel j (centre at source coordinate start + (j + 0.5) step) is the
    triangle-weighted mean of the source pixels within max(step, 1) of it (antialiased linear resize)."""
    centres = start + (np.arange(n_out, dtype=np.float64) + 0.5) * step
    half = max(step, 1.0)
    w = np.maximum(0.0, 1.0 - np.abs(np.arange(n_in, dtype=np.float64) + 0.5 - centres[:, None]) / half)
    return w / w.sum(axis=1, keepdims=True)


@functools.cache
def _person_photo(face_px: int) -> np.ndarray:
    """The head-and-shoulders crop of the photo for a ``face_px`` face box: (h, w, 3) uint8, cached.

    The photo is resized by face_px / _FACE_SIDE in both directions (antialiased linear), so that the face
    centre sits at continuous crop coordinates (w / 2, round(_CROP_UP face_px)).
    """
    photo = _photo()
    step = _FACE_SIDE / face_px  # photo pixels per sprite pixel
    half_w = int(round(_CROP_HALF_W * face_px))
    up, down = int(round(_CROP_UP * face_px)), int(round(_CROP_DOWN * face_px))
    rows = _resampler(photo.shape[0], _FACE_Y - up * step, step, up + down)
    cols = _resampler(photo.shape[1], _FACE_X - half_w * step, step, 2 * half_w)
    r_used, c_used = np.flatnonzero(rows.any(axis=0)), np.flatnonzero(cols.any(axis=0))
    r0, r1, c0, c1 = r_used[0], r_used[-1] + 1, c_used[0], c_used[-1] + 1
    block = photo[r0:r1, c0:c1]
    tall = (rows[:, r0:r1] @ block.reshape(r1 - r0, -1)).reshape(up + down, c1 - c0, 3)
    crop = np.einsum("yjc,xj->yxc", tall, cols[:, c0:c1], optimize=True)
    # Rounded to 1e-6 first, so that last-bit differences between BLAS builds cannot flip a half-way value.
    out = np.clip(np.rint(np.round(crop, 6)), 0, 255).astype(np.uint8)
    out.flags.writeable = False
    return out


def _person_sprite(cls: int, face_px: int) -> np.ndarray:
    """:func:`_person_photo` inside a class-coloured frame of max(2, round(face_px / 16)) pixels, which keeps
    the five person classes apart: (h, w, 3) float32, a fresh array (only the uint8 photo is cached)."""
    sprite = _person_photo(face_px).astype(np.float32)
    t = max(2, int(round(face_px / 16)))
    colour = CLASS_COLOURS[cls]
    sprite[:t], sprite[-t:], sprite[:, :t], sprite[:, -t:] = colour, colour, colour, colour
    return sprite


def _draw_person(frame: np.ndarray, cls: int, xc: float, yc: float, radius: float) -> tuple[int, int, int, int] | None:
    """Paste the person sprite of ``cls`` into ``frame`` (H, W, 3) uint8 so that its face centre lands on
    continuous pixel (xc, yc); its face box side is :func:`face_size_px` of ``radius``.

    The sprite is opaque; the fractional part of its offset is a bilinear (linear in x, then in y) shift,
    so the face centre is exact to the sub-pixel and only the one-pixel rim blends with what lies below.
    Returns the changed box ``(y0, y1, x0, x1)`` or None.
    """
    face = int(face_size_px(radius))
    sprite = _person_sprite(cls, face)
    sh, sw = sprite.shape[:2]
    left, top = xc - sw / 2.0, yc - round(_CROP_UP * face)
    i0, j0 = int(np.floor(left)), int(np.floor(top))
    h, w = frame.shape[:2]
    x0, x1 = max(i0, 0), min(i0 + sw + 1, w)
    y0, y1 = max(j0, 0), min(j0 + sh + 1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    fx, fy = np.float32(left - i0), np.float32(top - j0)
    one = np.float32(1.0)
    # Shifted, premultiplied sprite on the (sh + 1, sw + 1) grid; its coverage is 1 except on the rim.
    wide = np.empty((sh, sw + 1, 3), np.float32)
    np.multiply(sprite, one - fx, out=wide[:, :sw])
    wide[:, sw] = 0.0
    wide[:, 1:] += fx * sprite
    grid = np.empty((sh + 1, sw + 1, 3), np.float32)
    np.multiply(wide, one - fy, out=grid[:sh])
    grid[sh] = 0.0
    grid[1:] += fy * wide
    cover_x = np.ones(sw + 1, np.float32)
    cover_x[0], cover_x[sw] = one - fx, fx
    cover_y = np.ones(sh + 1, np.float32)
    cover_y[0], cover_y[sh] = one - fy, fy
    out = grid[y0 - j0 : y1 - j0, x0 - i0 : x1 - i0]
    cy, cx = cover_y[y0 - j0 : y1 - j0], cover_x[x0 - i0 : x1 - i0]
    below = frame[y0:y1, x0:x1]
    # The grid's rim, where it is visible at all, is the window's outer rows and columns: blend only those
    # (each once, also when the window is a single row or column).
    nr, nc = out.shape[:2]
    for r in sorted({0, nr - 1}):
        out[r] += below[r] * (one - cy[r] * cx)[:, None]
    inner = slice(1, max(nr - 1, 1))
    for c in sorted({0, nc - 1}):
        out[inner, c] += below[inner, c] * (one - cy[inner] * cx[c])[:, None]
    frame[y0:y1, x0:x1] = np.rint(out).astype(np.uint8)
    return y0, y1, x0, x1


# ----------------------------------------------------------------------------------------- background


def _muted(rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    """A low-saturation colour: grey level in [lo, hi] plus per-channel offsets of at most _BG_CHROMA; (3,)."""
    return rng.uniform(lo, hi) + rng.uniform(-_BG_CHROMA, _BG_CHROMA, size=3)


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Seeded static background: sky and floor gradients, perspective checker floor, blocks, noise.

    Returns (H, W, 3) uint8 whose channel spread (max - min per pixel) stays <= 2 * _BG_CHROMA + 2.
    """
    ys = np.arange(height, dtype=np.float64)[:, None] + 0.5
    xs = np.arange(width, dtype=np.float64)[None, :] + 0.5
    horizon = rng.uniform(0.4, 0.65) * height
    sky_top, sky_low = _muted(rng, 120, 220), _muted(rng, 120, 220)
    floor_near, floor_far = _muted(rng, 40, 140), _muted(rng, 40, 140)

    img = np.empty((height, width, 3), dtype=np.float64)
    t_sky = np.clip(ys / horizon, 0.0, 1.0)[..., None]  # (H, 1, 1)
    t_floor = np.clip((ys - horizon) / max(height - horizon, 1.0), 0.0, 1.0)[..., None]
    below = (ys >= horizon)[..., None]
    sky = sky_top + (sky_low - sky_top) * t_sky
    floor = floor_far + (floor_near - floor_far) * t_floor
    img[:] = np.where(below, floor, sky)

    # Perspective checker on the floor: depth ~ 1/(y - horizon), lateral ~ (x - cx) * depth.
    depth = 200.0 / np.maximum(ys - horizon, 1.0)
    lateral = (xs - width / 2.0) / np.maximum(ys - horizon, 1.0)
    tile = rng.uniform(0.6, 1.6)
    checker = (np.floor(depth / tile) + np.floor(lateral / tile + rng.uniform())) % 2
    shade = np.where(below[..., 0], 1.0 - rng.uniform(0.08, 0.2) * checker, 1.0)
    img *= shade[..., None]

    # Furniture-like blocks and discs above and across the horizon (static across the clip).
    for _ in range(int(rng.integers(4, 11))):
        col = _muted(rng, 30, 230)
        cx, cy = rng.uniform(0, width), rng.uniform(0.1 * height, horizon + 0.15 * height)
        hw, hh = rng.uniform(10, 90), rng.uniform(10, 70)
        if rng.uniform() < 0.65:
            m = (np.abs(xs - cx) <= hw) & (np.abs(ys - cy) <= hh)
        else:
            m = ((xs - cx) / hw) ** 2 + ((ys - cy) / hh) ** 2 <= 1.0
        img[m] = col

    # Smooth grey noise (same offset on all channels, so saturation is unchanged).
    gh, gw = 10, 17
    grid = rng.normal(0.0, 6.0, size=(gh, gw))
    gy = np.linspace(0, gh - 1, height)
    gx = np.linspace(0, gw - 1, width)
    iy, ix = np.minimum(gy.astype(int), gh - 2), np.minimum(gx.astype(int), gw - 2)
    fy, fx = (gy - iy)[:, None], (gx - ix)[None, :]
    g00, g01 = grid[iy][:, ix], grid[iy][:, ix + 1]
    g10, g11 = grid[iy + 1][:, ix], grid[iy + 1][:, ix + 1]
    noise = (g00 * (1 - fx) + g01 * fx) * (1 - fy) + (g10 * (1 - fx) + g11 * fx) * fy
    img += noise[..., None]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------- tracks and timing


def _check_track(path: str | Path | None, i: int, tr: VideoTrack) -> tuple[np.ndarray, ...]:
    """Validate track ``i`` and return (frames, az, el, dist) sorted by frame."""
    where = f"track {i}"
    if isinstance(tr.cls, bool) or not isinstance(tr.cls, (int, np.integer)):
        raise SeldInputError(path, f"{where}: class must be an int, got {tr.cls!r}")
    if not 0 <= int(tr.cls) < N_CLASSES:
        raise SeldInputError(path, f"{where}: class {tr.cls} outside 0..{N_CLASSES - 1}")
    frames = np.asarray(tr.frames)
    arrays = [np.asarray(a, dtype=np.float64) for a in (tr.azimuth, tr.elevation, tr.distance)]
    if frames.ndim != 1 or any(a.shape != frames.shape for a in arrays):
        raise SeldInputError(path, f"{where}: frames, azimuth, elevation, distance must be 1-D of equal length")
    if frames.size and not np.issubdtype(frames.dtype, np.number):
        raise SeldInputError(path, f"{where}: frames must be numeric")
    frames_f = frames.astype(np.float64)
    if not np.all(np.isfinite(frames_f)) or np.any(frames_f != np.round(frames_f)) or np.any(frames_f < 0):
        raise SeldInputError(path, f"{where}: frames must be non-negative integers")
    frames_i = frames_f.astype(np.int64)
    if np.unique(frames_i).size != frames_i.size:
        raise SeldInputError(path, f"{where}: duplicate label frames")
    az, el, dist = arrays
    if not (np.all(np.isfinite(az)) and np.all(np.isfinite(el)) and np.all(np.isfinite(dist))):
        raise SeldInputError(path, f"{where}: non-finite azimuth, elevation or distance")
    if np.any(np.abs(el) > 90.0):
        raise SeldInputError(path, f"{where}: elevation outside [-90, 90]")
    if np.any(dist <= 0):
        raise SeldInputError(path, f"{where}: distance must be > 0 m")
    order = np.argsort(frames_i, kind="stable")
    return frames_i[order], az[order], el[order], dist[order]


def _track_states(
    frames: np.ndarray, az: np.ndarray, el: np.ndarray, dist: np.ndarray, fps: float, n_frames: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per video frame: (active, az, el, dist), each (n_frames,).

    Video frame k shows time k/fps, which lies in label frame t = floor(10 k / fps) (a label frame covers
    [0.1 t, 0.1 (t+1))). Each label value is the position at the start of its label frame; when the next
    label frame is also in the track the direction moves linearly towards it (azimuth along the shorter
    arc, so unfolded values crossing +-180 do not sweep through the front).
    """
    # Label frames after the last video frame cannot show; dropping them bounds the arrays below.
    last = int(np.floor((n_frames - 1) / (fps * LABEL_HOP_SECONDS) + 1e-9))
    keep = frames <= last + 1
    frames, az, el, dist = frames[keep], az[keep], el[keep], dist[keep]
    n_lab = int(frames.max()) + 2 if frames.size else 1
    present = np.zeros(n_lab, dtype=bool)
    a = np.zeros(n_lab)
    e = np.zeros(n_lab)
    d = np.ones(n_lab)
    present[frames], a[frames], e[frames], d[frames] = True, az, el, dist

    tau = np.arange(n_frames, dtype=np.float64) / (fps * LABEL_HOP_SECONDS)
    t = np.floor(tau + 1e-9).astype(np.int64)
    frac = np.clip(tau - t, 0.0, 1.0)
    inside = t < n_lab - 1  # the last slot is always empty padding
    tc = np.where(inside, t, 0)
    active = inside & present[tc]
    nxt = np.minimum(tc + 1, n_lab - 1)
    move = active & present[nxt]
    w = np.where(move, frac, 0.0)
    daz = (a[nxt] - a[tc] + 180.0) % 360.0 - 180.0
    az_k = a[tc] + w * daz
    el_k = e[tc] + w * (e[nxt] - e[tc])
    d_k = d[tc] + w * (d[nxt] - d[tc])
    return active, az_k, el_k, d_k


def _reflect(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fold positions into [lo, hi] by bouncing off the ends (drifting distractors stay in view)."""
    span = hi - lo
    q = (p - lo) % (2.0 * span)
    return lo + np.where(q > span, 2.0 * span - q, q)


def _distractors(
    rng: np.random.Generator, n: int | None, fps: float, n_frames: int, width: int, height: int
) -> list[tuple[int, np.ndarray, np.ndarray, float]]:
    """Silent sprites: list of (cls, x (n_frames,), y (n_frames,), distance_m); 1-3 of them if n is None."""
    count = int(rng.integers(1, 4)) if n is None else int(n)
    out = []
    t = np.arange(n_frames, dtype=np.float64) / fps
    for _ in range(count):
        cls = int(rng.integers(0, N_CLASSES))
        dist = float(rng.uniform(1.0, 4.0))
        x0, y0 = rng.uniform(0.1, 0.9) * width, rng.uniform(0.15, 0.85) * height
        if rng.uniform() < 0.5:  # drifting
            speed, ang = rng.uniform(10.0, 60.0), rng.uniform(0.0, 2.0 * np.pi)
            vx, vy = speed * np.cos(ang), speed * np.sin(ang)
        else:
            vx = vy = 0.0
        out.append(
            (cls, _reflect(x0 + vx * t, 0.0, float(width)), _reflect(y0 + vy * t, 0.0, float(height)), dist)
        )
    return out


def _check_args(
    path: str | Path | None, seed: int, fps: float, n_frames: int, width: int, height: int, n_distractors: int | None
) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SeldInputError(path, f"seed must be a non-negative int, got {seed!r}")
    if not (isinstance(fps, (int, float)) and np.isfinite(fps) and fps > 0):
        raise SeldInputError(path, f"fps must be a positive number, got {fps!r}")
    if not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise SeldInputError(path, f"n_frames must be a positive int, got {n_frames!r}")
    for name, v in (("width", width), ("height", height)):
        if not isinstance(v, (int, np.integer)) or v < 16 or v % 2:
            raise SeldInputError(path, f"{name} must be an even int >= 16 (yuv420p), got {v!r}")
    if n_distractors is not None and (
        not isinstance(n_distractors, (int, np.integer)) or isinstance(n_distractors, bool) or n_distractors < 0
    ):
        raise SeldInputError(path, f"n_distractors must be None or an int >= 0, got {n_distractors!r}")


# --------------------------------------------------------------------------------------------- render


def render_frames(
    tracks: Sequence[VideoTrack],
    seed: int,
    fps: float = 30.0,
    n_frames: int = 150,
    width: int = VIDEO_WIDTH,
    height: int = VIDEO_HEIGHT,
    n_distractors: int | None = None,
    hfov_deg: float = VIDEO_HFOV_DEG,
    path: str | Path | None = None,
) -> Iterator[np.ndarray]:
    """Yield the clip's RGB frames, each (height, width, 3) uint8 (a fresh array per frame).

    The background and the distractors come from independent child streams of ``seed``, so
    ``n_distractors`` and the tracks never change the background. ``path`` only names the target in
    error messages. Arguments are validated before the first frame is produced.
    """
    background, plan = _scene(tracks, seed, fps, n_frames, width, height, n_distractors, hfov_deg, path)
    return (_compose(background, draws)[0] for draws in plan)


# One sprite to draw: (cls, x, y, radius) in continuous pixels; a frame is its sprites in painter's order.
_Glyph = tuple[int, float, float, float]


def _scene(
    tracks: Sequence[VideoTrack],
    seed: int,
    fps: float,
    n_frames: int,
    width: int,
    height: int,
    n_distractors: int | None,
    hfov_deg: float,
    path: str | Path | None,
) -> tuple[np.ndarray, list[list[_Glyph]]]:
    """Validate the arguments; return the background (H, W, 3) uint8 and each frame's sprites, far first."""
    _check_args(path, seed, fps, n_frames, width, height, n_distractors)
    checked = [_check_track(path, i, tr) for i, tr in enumerate(tracks)]
    bg_seq, dis_seq = np.random.SeedSequence(int(seed)).spawn(2)
    background = _background(np.random.default_rng(bg_seq), width, height)
    distractors = _distractors(np.random.default_rng(dis_seq), n_distractors, float(fps), n_frames, width, height)

    # Sprites as per-frame arrays: (visible, x, y, radius, distance) of shape (n_sprites, n_frames).
    cls_list: list[int] = []
    vis: list[np.ndarray] = []
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    rs: list[np.ndarray] = []
    ds: list[np.ndarray] = []
    for tr, (fr, az, el, dist) in zip(tracks, checked):
        active, az_k, el_k, d_k = _track_states(fr, az, el, dist, float(fps), n_frames)
        x, y, _ = project(az_k, el_k, width, height, hfov_deg)
        cls_list.append(int(tr.cls))
        vis.append(active & is_in_frame(az_k, el_k, width, height, hfov_deg))
        xs.append(x)
        ys.append(y)
        rs.append(sprite_radius(d_k))
        ds.append(d_k)
    for cls, x, y, dist in distractors:
        cls_list.append(cls)
        vis.append(np.ones(n_frames, dtype=bool))
        xs.append(x)
        ys.append(y)
        rs.append(np.full(n_frames, float(sprite_radius(dist))))
        ds.append(np.full(n_frames, dist))

    plan = []
    for k in range(n_frames):
        idx = [j for j in range(len(cls_list)) if vis[j][k]]
        idx.sort(key=lambda j: (-ds[j][k], j))  # painter's order: far first, ties by sprite order
        plan.append([(cls_list[j], float(xs[j][k]), float(ys[j][k]), float(rs[j][k])) for j in idx])
    return background, plan


def _compose(background: np.ndarray, draws: list[_Glyph]) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """One frame: a copy of ``background`` with ``draws`` painted in order, and the boxes they touched."""
    frame = background.copy()
    boxes = [_draw(frame, *glyph) for glyph in draws]
    return frame, [box for box in boxes if box is not None]


# --------------------------------------------------------------------------------------- colour space

# ITU-R BT.601 in limited ("TV") range, the matrix decoders assume for untagged SD H.264:
# Y = 16 + 219/255 (Kr R + Kg G + Kb B), Cb = 128 + 224/255 (B - Y')/(2 (1 - Kb)), Cr likewise with R.
_KR, _KB = 0.299, 0.114
_KG = 1.0 - _KR - _KB
_YUV_MATRIX = np.array([
    [_KR, _KG, _KB],
    [-_KR / (2 * (1 - _KB)), -_KG / (2 * (1 - _KB)), 0.5],
    [0.5, -_KG / (2 * (1 - _KR)), -_KB / (2 * (1 - _KR))],
]) * (np.array([219.0, 224.0, 224.0]) / 255.0)[:, None]


def rgb_to_yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB (H, W, 3) uint8, H and W even -> BT.601 limited-range planes Y (H, W), Cb and Cr (H/2, W/2) uint8.

    Luma per pixel; chroma of each 2x2 block from the block's mean RGB (a box filter, the chroma of the
    mean being the mean of the chroma), rounded half to even.
    """
    x = rgb.astype(np.float64)
    y = np.rint(x @ _YUV_MATRIX[0] + 16.0).astype(np.uint8)
    mean = (x[0::2, 0::2] + x[0::2, 1::2] + x[1::2, 0::2] + x[1::2, 1::2]) * 0.25
    cb = np.rint(mean @ _YUV_MATRIX[1] + 128.0).astype(np.uint8)
    cr = np.rint(mean @ _YUV_MATRIX[2] + 128.0).astype(np.uint8)
    return y, cb, cr


def _yuv_frames(background: np.ndarray, plan: list[list[_Glyph]]) -> Iterator[tuple[np.ndarray, ...]]:
    """Y, Cb, Cr planes of each frame, equal to :func:`rgb_to_yuv420` of the frame :func:`render_frames` gives.

    Cheaper than composing and converting whole frames: the background is converted once; per frame the
    previous frame's sprite boxes are reset to the background and only the boxes the new sprites touch
    (widened to even coordinates, i.e. whole chroma blocks) are drawn and converted. The same three
    arrays are yielded every time (valid until the next frame); a frame with the same sprites as the
    previous one costs nothing.
    """
    base = rgb_to_yuv420(background)
    canvas = background.copy()
    planes = tuple(p.copy() for p in base)
    dirty: list[tuple[int, int, int, int]] = []
    previous: list[_Glyph] | None = None
    for draws in plan:
        if draws != previous:
            for y0, y1, x0, x1 in dirty:  # back to the background: canvas == background, planes == base
                canvas[y0:y1, x0:x1] = background[y0:y1, x0:x1]
                planes[0][y0:y1, x0:x1] = base[0][y0:y1, x0:x1]
                for p, b in zip(planes[1:], base[1:]):
                    p[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = b[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2]
            boxes = [_draw(canvas, *glyph) for glyph in draws]
            dirty = [(y0 - y0 % 2, y1 + y1 % 2, x0 - x0 % 2, x1 + x1 % 2) for y0, y1, x0, x1 in filter(None, boxes)]
            for y0, y1, x0, x1 in dirty:  # converted after all sprites are drawn: overlaps come out right
                py, pcb, pcr = rgb_to_yuv420(canvas[y0:y1, x0:x1])
                planes[0][y0:y1, x0:x1] = py
                planes[1][y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = pcb
                planes[2][y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = pcr
            previous = draws
        yield planes


def render_video(
    path: str | Path,
    tracks: list[VideoTrack],
    seed: int,
    fps: float = 30.0,
    n_frames: int = 150,
    width: int = VIDEO_WIDTH,
    height: int = VIDEO_HEIGHT,
    n_distractors: int | None = None,
    *,
    crf: int = 20,
    preset: str = "veryfast",
) -> None:
    """Render the clip and write it as an H.264 MP4 (libx264, yuv420p, no audio) at ``path``, atomically.

    Args:
        path: output .mp4 path.
        tracks: events to draw (a person for the human classes, else a glyph); each is drawn in the video
            frames whose label frame it lists, when on screen.
        seed: clip seed (background and distractors).
        fps: frame rate (30 by default; 29.97 etc. accepted, stored as a rational).
        n_frames: number of video frames (150 = 5 s at 30 fps).
        width, height: even frame size.
        n_distractors: silent sprites; None = seeded random 1..3.
        crf, preset: x264 quality and speed (keyword only).

    Raises:
        SeldInputError: bad tracks or arguments (nothing is written).
    """
    import av  # local: keeps `import seldlib.synth.video` cheap for geometry-only users

    background, plan = _scene(tracks, seed, fps, n_frames, width, height, n_distractors, VIDEO_HFOV_DEG, path)
    rate = Fraction(float(fps)).limit_denominator(1001)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4", container_options={"fflags": "+bitexact"}) as out:
            stream = out.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            # One thread and fixed options: x264 output then depends only on the input pictures.
            stream.codec_context.thread_count = 1
            stream.codec_context.time_base = 1 / rate
            stream.options = {"preset": preset, "crf": str(int(crf)), "flags": "+bitexact"}
            for k, planes in enumerate(_yuv_frames(background, plan)):
                vf = av.VideoFrame(width, height, "yuv420p")
                for plane, src in zip(vf.planes, planes):  # write into the frame's buffers (rows may be padded)
                    np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width] = src
                vf.pts = k
                vf.time_base = 1 / rate
                for packet in stream.encode(vf):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
