"""Fast time-variant convolution of a mono source with a sequence of SRIRs (``docs/spatial-scenes.md#moving-sources``).

Model: the source passes through IR k with a piecewise-linear "hat" weight w_k(t) that is 1 at the
anchor time t_k and falls linearly to 0 at the neighbouring anchors (constant before the first and
after the last anchor); the weights sum to 1 at every sample. The output is

    y(t) = sum_k (h_k * (w_k x))(t),

i.e. the IR mix is chosen at emission time, as in SpatialScaper's CTF cross-fade, but exact in the
time domain and with the full reverberant tail (length T + N - 1). Each weighted segment w_k x has
support [t_{k-1}, t_{k+1}] only, so the total work is about two full-length FFT convolutions per
channel whatever the number of IRs K. Segments are batched by FFT size (one rfft/irfft call per
group) and overlap-added.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft


def _fft_size(n: int) -> int:
    return int(sfft.next_fast_len(n, real=True))


def spatialize(x: np.ndarray, irs: np.ndarray, anchors: np.ndarray | None = None) -> np.ndarray:
    """Convolve mono ``x`` (T,) with IRs ``irs`` (K, C, N) cross-faded at ``anchors`` (K,) samples.

    K = 1 (static source) is a plain FFT convolution. Returns (C, T + N - 1) float64 with the tail.
    ``anchors`` must be strictly increasing; it is ignored when K = 1.
    """
    x = np.asarray(x, np.float32)
    irs = np.asarray(irs, np.float32)
    if irs.ndim == 2:
        irs = irs[None]
    k_irs, n_ch, n_ir = irs.shape
    t_len = len(x)
    out = np.zeros((n_ch, t_len + n_ir - 1), np.float64)
    if t_len == 0:
        return out
    if k_irs == 1:
        nfft = _fft_size(t_len + n_ir - 1)
        y = sfft.irfft(sfft.rfft(x, nfft) * sfft.rfft(irs[0], nfft, axis=-1), nfft, axis=-1)
        out[:] = y[:, : t_len + n_ir - 1]
        return out
    anchors = np.asarray(anchors, np.float64)
    if anchors.shape != (k_irs,) or np.any(np.diff(anchors) <= 0):
        raise ValueError(f"anchors must be strictly increasing with shape ({k_irs},), got {anchors}")
    # Support of hat k: from the previous anchor to the next one (the ends extend to the signal edges).
    starts = np.empty(k_irs, np.int64)
    ends = np.empty(k_irs, np.int64)
    starts[0], ends[-1] = 0, t_len
    starts[1:] = np.clip(np.floor(anchors[:-1]).astype(np.int64), 0, t_len)
    ends[:-1] = np.clip(np.ceil(anchors[1:]).astype(np.int64) + 1, 0, t_len)
    eye = np.eye(k_irs)
    sizes = np.array([_fft_size(max(e - s, 1) + n_ir - 1) for s, e in zip(starts, ends)])
    for nfft in np.unique(sizes):
        group = np.flatnonzero(sizes == nfft)
        segs = np.zeros((len(group), nfft), np.float32)
        for row, k in enumerate(group):
            s, e = starts[k], ends[k]
            if e <= s:
                continue
            w = np.interp(np.arange(s, e, dtype=np.float64), anchors, eye[k])
            segs[row, : e - s] = x[s:e] * w
        spec = sfft.rfft(segs, nfft, axis=-1)[:, None, :] * sfft.rfft(irs[group], nfft, axis=-1)
        y = sfft.irfft(spec, nfft, axis=-1)
        for row, k in enumerate(group):
            s, e = starts[k], ends[k]
            m = e - s + n_ir - 1
            if e > s:
                out[:, s:s + m] += y[row, :, :m]
    return out
