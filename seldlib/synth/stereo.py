"""FOA -> stereo conversion and the matching label transform (DCASE2025 recipe of
``generate_stereo_seld_data.py`` in ``SonyResearch/dcase2025_stereo_seld_data_generator``;
``docs/spatial-scenes.md#foa-to-stereo``).

Conventions: azimuth in degrees, positive = left (counter-clockwise seen from above), 0 = front /
video centre; elevation positive up. FOA channel order W, Y, Z, X (ACN) with SN3D gains
W = 1, Y = sin(az)cos(el), Z = sin(el), X = cos(az)cos(el).

Rotation by the view angle psi (degrees) maps a plane wave at azimuth phi to phi + psi:
    X' = cos(psi) X - sin(psi) Y,   Y' = sin(psi) X + cos(psi) Y
Stereo (mid/side, no 0.5 factor, so each channel is a cardioid aimed at +-90 deg peaking at 2):
    L = W + Y',   R = W - Y'

Onscreen test (derived for a rectilinear pinhole camera, horizontal FOV F_h, image W x H pixels):
the focal length is f = (W/2) / tan(F_h/2). A direction (a, theta), with a the *unfolded*
camera-relative azimuth, has camera coordinates forward x_c = cos(theta)cos(a), left
y_c = cos(theta)sin(a), up z_c = sin(theta). It projects to
    u = W/2 - f * y_c/x_c = W/2 - f tan(a),       v = H/2 - f * z_c/x_c = H/2 - f tan(theta)/cos(a).
It is inside the frame iff x_c > 0 (in front of the camera) and 0 <= u <= W and 0 <= v <= H, i.e.
    cos(a) > 0  and  |tan a| <= tan(F_h/2)  and  |tan theta| / cos(a) <= (H/2)/f = tan(F_v/2),
with F_v = 2 atan(tan(F_h/2) H/W) = 67.67 deg for 100 deg, 640 x 360. Borders count as onscreen.
Rear directions (|a| > 90) are always offscreen even when their folded azimuth lies within +-50.
"""

from __future__ import annotations

import numpy as np

from seldlib.constants import VIDEO_HEIGHT, VIDEO_HFOV_DEG, VIDEO_WIDTH
from seldlib.metadata import fold_azimuth

__all__ = [
    "rotate_foa",
    "foa_to_stereo",
    "relative_azimuth",
    "is_onscreen",
    "fold_azimuth",
]


def rotate_foa(foa: np.ndarray, view_deg: float) -> np.ndarray:
    """Rotate an FOA field about the vertical axis by ``view_deg``.

    foa: (4, T) channels W, Y, Z, X. Returns (4, T) with a source at azimuth phi moved to phi + view.
    """
    psi = np.deg2rad(view_deg)
    c, s = np.cos(psi), np.sin(psi)
    w, y, z, x = foa
    return np.stack([w, s * x + c * y, z, c * x - s * y])


def foa_to_stereo(foa: np.ndarray, view_deg: float = 0.0) -> np.ndarray:
    """FOA (4, T) -> stereo (2, T): ch0 = L = W + Y', ch1 = R = W - Y' after rotation by ``view_deg``."""
    w, y_rot = rotate_foa(foa, view_deg)[:2]
    return np.stack([w + y_rot, w - y_rot])


def relative_azimuth(az_deg: np.ndarray | float, view_deg: float) -> np.ndarray:
    """Camera-relative, unfolded azimuth wrap(az + view) in (-180, 180] degrees."""
    a = (np.asarray(az_deg, np.float64) + view_deg) % 360.0  # [0, 360)
    return np.where(a > 180.0, a - 360.0, a)


def is_onscreen(
    az_deg: np.ndarray | float,
    el_deg: np.ndarray | float,
    hfov_deg: float = VIDEO_HFOV_DEG,
    width: int = VIDEO_WIDTH,
    height: int = VIDEO_HEIGHT,
) -> np.ndarray:
    """Whether unfolded camera-relative directions fall inside the perspective frame (see module doc).

    az_deg, el_deg: broadcastable arrays in degrees. Returns a bool array of the broadcast shape.
    A tiny tolerance (1e-9) keeps exact border directions (e.g. a = 50 deg) onscreen.
    """
    a = np.deg2rad(np.asarray(az_deg, np.float64))
    th = np.deg2rad(np.asarray(el_deg, np.float64))
    tan_h = np.tan(np.deg2rad(hfov_deg) / 2)
    tan_v = tan_h * height / width
    cos_a = np.cos(a)
    front = (cos_a > 1e-12) & (np.cos(th) > 1e-12)
    safe_cos = np.where(front, cos_a, 1.0)
    horiz = np.abs(np.tan(a)) * np.where(front, 1.0, 0.0) <= tan_h + 1e-9
    vert = np.abs(np.tan(np.where(front, th, 0.0))) / safe_cos <= tan_v + 1e-9
    return np.asarray(front & horiz & vert)
