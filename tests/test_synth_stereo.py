"""FOA -> stereo conversion, label transform and the onscreen frustum (physics-derived expectations)."""

import numpy as np
import pytest

from seldlib.synth.stereo import foa_to_stereo, is_onscreen, relative_azimuth, rotate_foa


def plane_wave_foa(az_deg, el_deg, n=8):
    """SN3D FOA gains of a unit plane wave (W, Y, Z, X), repeated over n samples."""
    a, e = np.deg2rad(az_deg), np.deg2rad(el_deg)
    g = np.array([1.0, np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)])
    return np.repeat(g[:, None], n, axis=1)


@pytest.mark.parametrize("az,view", [(30, 60), (0, 0), (-45, 10), (170, 200), (90, -90)])
def test_stereo_gains_are_cardioids_at_rotated_azimuth(az, view):
    st = foa_to_stereo(plane_wave_foa(az, 0.0), view)
    s = np.sin(np.deg2rad(az + view))  # the wave appears at az + view
    np.testing.assert_allclose(st[0], 1 + s, atol=1e-12)  # L = W + Y'
    np.testing.assert_allclose(st[1], 1 - s, atol=1e-12)  # R = W - Y'


def test_rotation_moves_plane_wave():
    rot = rotate_foa(plane_wave_foa(20.0, 10.0), 35.0)
    np.testing.assert_allclose(rot, plane_wave_foa(55.0, 10.0), atol=1e-12)


def test_relative_azimuth_wraps_to_half_open_interval():
    np.testing.assert_allclose(relative_azimuth([170, -170, 0, 180], 20), [-170, -150, 20, -160])
    assert relative_azimuth(90, 90) == 180.0


@pytest.mark.parametrize(
    "a,el,expected",
    [(0, 0, True), (49, 0, True), (-49, 0, True), (50, 0, True), (55, 0, False), (-55, 0, False),
     (120, 0, False), (-120, 0, False), (180, 0, False), (0, 40, False), (0, -40, False), (0, 33, True),
     (45, 30, False), (45, 20, True)],
)
def test_onscreen_hand_chosen_directions(a, el, expected):
    # (45, 30): |tan 30| / cos 45 = 0.816 > tan(33.84) = 0.670 -> off; (45, 20): 0.515 -> on.
    assert bool(is_onscreen(a, el)) is expected


def test_rear_direction_offscreen_although_it_folds_into_view():
    from seldlib.metadata import fold_azimuth

    assert abs(float(fold_azimuth(120.0))) == 60.0 and abs(float(fold_azimuth(130.0))) == 50.0
    assert not is_onscreen(130.0, 0.0)


def test_vertical_field_of_view_at_the_front():
    # 100 deg wide at 640 x 360 (square pixels): F_v = 2 atan(tan(50 deg) 360 / 640) = 67.67 deg.
    half = np.rad2deg(np.arctan(np.tan(np.deg2rad(50.0)) * 360 / 640))
    assert half == pytest.approx(67.67 / 2, abs=0.005)
    assert is_onscreen(0.0, half - 0.01) and is_onscreen(0.0, -(half - 0.01))
    assert not is_onscreen(0.0, half + 0.01) and not is_onscreen(0.0, -(half + 0.01))


def test_onscreen_agrees_with_video_renderer():
    video = pytest.importorskip("seldlib.synth.video")
    az, el = np.meshgrid(np.arange(-180, 181, 1.0), np.arange(-89, 90, 1.0))
    np.testing.assert_array_equal(is_onscreen(az, el), video.is_in_frame(az, el))
