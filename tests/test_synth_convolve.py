"""Time-variant convolution against an independent direct implementation."""

import numpy as np
import pytest

from seldlib.synth.convolve import spatialize


def direct_reference(x, irs, anchors):
    """y = sum_k h_k * (w_k x) with w_k the linear interpolation of the k-th unit vector at the anchors."""
    t = np.arange(len(x))
    out = np.zeros((irs.shape[1], len(x) + irs.shape[2] - 1))
    for k in range(len(irs)):
        onehot = np.zeros(len(irs))
        onehot[k] = 1.0
        w = np.interp(t, anchors, onehot)
        for c in range(irs.shape[1]):
            out[c] += np.convolve(x * w, irs[k, c])
    return out


def test_static_is_plain_convolution():
    rng = np.random.default_rng(0)
    x, h = rng.standard_normal(3000), rng.standard_normal((1, 4, 257))
    y = spatialize(x, h)
    for c in range(4):
        np.testing.assert_allclose(y[c], np.convolve(x.astype(np.float32), h[0, c].astype(np.float32)), atol=2e-4)


@pytest.mark.parametrize("anchors", [[0.0, 4000.0], [500.0, 900.0, 2500.5, 2600.0, 4999.0], [1000.0, 1200.0, 1400.0]])
def test_moving_matches_direct_time_variant_sum(anchors):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(5000)
    irs = rng.standard_normal((len(anchors), 4, 300)) * 0.1
    y = spatialize(x, irs, np.array(anchors))
    ref = direct_reference(x, irs, np.array(anchors))
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, atol=5e-4 * np.abs(ref).max())


def test_same_ir_at_every_anchor_is_the_static_convolution():
    # The hat weights sum to 1 at every sample, so a "moving" source through one IR repeated is static.
    rng = np.random.default_rng(2)
    x, h = rng.standard_normal(4000), rng.standard_normal((1, 4, 200)) * 0.1
    moving = spatialize(x, np.repeat(h, 4, axis=0), np.array([10.0, 50.0, 51.0, 3990.0]))
    np.testing.assert_allclose(moving, spatialize(x, h), atol=1e-4)


def test_bad_anchors_rejected():
    with pytest.raises(ValueError):
        spatialize(np.ones(100), np.ones((2, 4, 8)), np.array([50.0, 10.0]))
