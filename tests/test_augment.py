"""Stereo channel swap (+ audio-visual swap), mixup and the seeded Augmenter."""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest
import torch

from seldlib.augment import AugmentConfig, Augmenter, channel_swap, mixup, mixup_loss, sample_beta

T, C = 50, 13


def _logmel_librosa(wave: np.ndarray) -> np.ndarray:
    """Baseline recipe, written out here: (2, N) -> (2, 251, 64), 80 dB floor over the whole clip."""
    spec = np.abs(librosa.stft(wave, n_fft=1024, hop_length=480, win_length=960)) ** 2
    mel = librosa.feature.melspectrogram(S=spec, sr=24000, n_mels=64, fmax=12000)
    return librosa.power_to_db(mel, top_db=80).transpose(0, 2, 1)


def test_swap_of_logmel_equals_logmel_of_swapped_waveform():
    rng = np.random.default_rng(0)
    t = np.arange(120000) / 24000
    # Different content per channel (a tone on the left, noise on the right) so a swap is visible.
    wave = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.1 * rng.standard_normal(t.size)]).astype(np.float32)
    feats = torch.from_numpy(_logmel_librosa(wave))[None]
    expected = torch.from_numpy(_logmel_librosa(np.ascontiguousarray(wave[::-1])))[None]
    assert feats.shape == (1, 2, 251, 64)
    assert not torch.equal(feats, expected)
    swapped = channel_swap({"features": feats}, torch.tensor([True]))["features"]
    # Equal up to float32 rounding inside librosa's batched matmul (~4e-6 dB seen), far below any real change.
    torch.testing.assert_close(swapped, expected, rtol=0, atol=1e-5)
    assert (feats - expected).abs().max() > 10.0


# Hand-made scene: (first frame, last frame, class, azimuth deg, distance m, onscreen).
EVENTS = [
    (0, 9, 3, 30.0, 2.0, 1),
    (5, 14, 0, 70.0, 1.5, 0),
    (5, 14, 0, -20.0, 3.0, 1),  # a second class-0 event: ADPIT slots B0, B1
    (20, 49, 8, -45.0, 4.0, 1),
    (30, 31, 12, 0.0, 1.0, 1),
]


def _encode(events, mirror: bool) -> dict[str, torch.Tensor]:
    """Label arrays of a scene, cos/sin written out per event; ``mirror`` negates the azimuths first."""
    sed = np.zeros((T, C), np.float32)
    doa = np.zeros((T, C, 2), np.float32)
    dist = np.zeros((T, C), np.float32)
    sce = np.zeros((T, C, 2), np.float32)
    ons = np.zeros((T, C), np.float32)
    adpit = np.zeros((T, 6, 5, C), np.float32)
    per_frame: dict[tuple[int, int], list] = {}
    for first, last, cls, az, d, on in events:
        if mirror:
            az = -az
        x, y = math.cos(math.radians(az)), math.sin(math.radians(az))
        for f in range(first, last + 1):
            per_frame.setdefault((f, cls), []).append((x, y, d, on))
    for (f, cls), evs in per_frame.items():
        x, y, d, on = evs[0]
        sed[f, cls], doa[f, cls], dist[f, cls], sce[f, cls], ons[f, cls] = 1, (x, y), d, (x * d, y * d), on
        slots = {1: [0], 2: [1, 2], 3: [3, 4, 5]}[len(evs)]
        for slot, (x, y, d, on) in zip(slots, evs):
            adpit[f, slot, :, cls] = (1, x, y, d, on)
    arrays = {"sed": sed, "doa": doa, "dist": dist, "sce": sce, "onscreen": ons, "adpit": adpit}
    return {k: torch.from_numpy(v)[None] for k, v in arrays.items()}


def test_swapped_labels_equal_labels_of_mirrored_scene():
    scene, mirrored = _encode(EVENTS, False), _encode(EVENTS, True)
    feats = torch.randn(1, 2, 251, 64, generator=torch.Generator().manual_seed(1))
    out = channel_swap({"features": feats, **scene}, torch.tensor([True]))
    for key in ("sed", "doa", "dist", "sce", "onscreen", "adpit"):
        torch.testing.assert_close(out[key], mirrored[key], msg=key)
    assert not torch.equal(scene["doa"], mirrored["doa"])  # the scene is not already symmetric


def test_adpit_y_sign_and_untouched_elements():
    adpit = torch.rand(2, T, 6, 5, C, generator=torch.Generator().manual_seed(2)) + 0.1
    batch = {"features": torch.zeros(2, 2, 4, 3), "adpit": adpit}
    out = channel_swap(batch, torch.tensor([True, False]))["adpit"]
    assert torch.equal(out[0, :, :, 2], -adpit[0, :, :, 2])  # y negated
    for e in (0, 1, 3, 4):  # act, x, dist, onscreen unchanged
        assert torch.equal(out[0, :, :, e], adpit[0, :, :, e])
    assert torch.equal(out[1], adpit[1])  # unswapped item unchanged


def _random_batch(b: int = 4, seed: int = 0, video: bool = True) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    batch = {
        "features": torch.randn(b, 2, 251, 64, generator=g),
        "sed": (torch.rand(b, T, C, generator=g) > 0.5).float(),
        "doa": torch.randn(b, T, C, 2, generator=g),
        "dist": torch.rand(b, T, C, generator=g),
        "sce": torch.randn(b, T, C, 2, generator=g),
        "onscreen": (torch.rand(b, T, C, generator=g) > 0.5).float(),
        "adpit": torch.randn(b, T, 6, 5, C, generator=g),
    }
    if video:
        batch["video"] = torch.randn(b, T, 7, 7, generator=g)
        batch["video_flipped"] = torch.randn(b, T, 7, 7, generator=g)
    return batch


def test_swap_twice_is_identity_and_input_untouched():
    batch = _random_batch()
    before = {k: v.clone() for k, v in batch.items()}
    mask = torch.tensor([True, False, True, True])
    once = channel_swap(batch, mask)
    twice = channel_swap(once, mask)
    for key, value in batch.items():
        assert torch.equal(value, before[key]), key  # inputs not modified in place
        assert torch.equal(twice[key], value), key
    assert not torch.equal(once["features"], batch["features"])


def test_av_swap_exchanges_video_only_for_swapped_items():
    batch = _random_batch()
    mask = torch.tensor([True, False, False, True])
    out = channel_swap(batch, mask)
    for i, swapped in enumerate(mask.tolist()):
        a, b = ("video_flipped", "video") if swapped else ("video", "video_flipped")
        assert torch.equal(out["video"][i], batch[a][i])
        assert torch.equal(out["video_flipped"][i], batch[b][i])
        assert torch.equal(out["features"][i], batch["features"][i].flip(0) if swapped else batch["features"][i])
    audio_only = channel_swap(batch, mask, swap_video=False)
    assert torch.equal(audio_only["video"], batch["video"])
    with pytest.raises(ValueError, match="video_flipped"):
        channel_swap({k: v for k, v in batch.items() if k != "video_flipped"}, mask)


def test_mixup_convention_and_lambda_range():
    x = torch.randn(6, 2, 5, 3, generator=torch.Generator().manual_seed(3))
    mixed, perm, lam = mixup(x, torch.Generator().manual_seed(4), alpha=0.5)
    assert sorted(perm.tolist()) == list(range(6))
    assert 0.0 <= lam <= 1.0
    for i in range(6):
        torch.testing.assert_close(mixed[i], lam * x[i] + (1 - lam) * x[perm[i]])

    g = torch.Generator().manual_seed(5)
    lams = np.array([sample_beta(g, 0.5) for _ in range(2000)])
    assert lams.min() >= 0.0 and lams.max() <= 1.0
    # Beta(0.5, 0.5): mean 1/2, variance 1/(4 (2a + 1)) = 1/8; standard errors ~0.008 and ~0.003.
    assert abs(lams.mean() - 0.5) < 0.03 and abs(lams.var() - 0.125) < 0.012

    tiny = np.array([sample_beta(g, 1e-3) for _ in range(200)])
    near = np.minimum(tiny, 1 - tiny)
    assert near.max() < 1e-3
    assert (tiny > 0.5).any() and (tiny < 0.5).any()


def test_mixup_loss_hand_computed():
    def sse(pred, target):
        return ((pred - target) ** 2).sum()

    pred = torch.tensor([[1.0], [2.0]])
    target = torch.tensor([[0.0], [4.0]])
    perm = torch.tensor([1, 0])
    # L1 = (1-0)^2 + (2-4)^2 = 5; L2 against [[4], [0]] = (1-4)^2 + (2-0)^2 = 13; 0.25*5 + 0.75*13 = 11.
    assert float(mixup_loss(sse, pred, target, perm, 0.25)) == pytest.approx(11.0)
    assert float(mixup_loss(sse, pred, target, None, 0.25)) == pytest.approx(5.0)

    def dict_loss(pred, targets):
        return sse(pred, targets["a"]) + 2 * sse(pred, targets["b"])

    targets = {"a": target, "b": torch.tensor([[1.0], [1.0]])}
    # b is the same after permuting: 2 * ((1-1)^2 + (2-1)^2) = 2 in both terms -> 11 + 2.
    assert float(mixup_loss(dict_loss, pred, targets, perm, 0.25)) == pytest.approx(13.0)


def test_augmenter_deterministic_given_seed_and_step():
    cfg = AugmentConfig(scs_prob=0.5, avps=True, mixup_prob=1.0, mixup_alpha=0.5)
    batch = _random_batch(b=8)
    a = Augmenter(cfg, seed=7)(batch, step=3)
    b = Augmenter(cfg, seed=7)(batch, step=3)
    assert a.keys() == b.keys() and "mix_perm" in a and "mix_lam" in a
    for key in a:
        assert torch.equal(a[key], b[key]), key
    c = Augmenter(cfg, seed=8)(batch, step=3)
    d = Augmenter(cfg, seed=7)(batch, step=4)
    assert not torch.equal(a["features"], c["features"]) and not torch.equal(a["features"], d["features"])
    # The internal counter walks the same steps.
    aug = Augmenter(cfg, seed=7)
    for step in range(4):
        e = aug(batch)
    assert torch.equal(e["features"], a["features"])


def test_augmenter_applies_swap_then_mixup_consistently():
    batch = _random_batch(b=8)
    only_swap = Augmenter(AugmentConfig(scs_prob=1.0, mixup_prob=0.0), seed=0)(batch, step=0)
    assert "mix_perm" not in only_swap
    assert torch.equal(only_swap["features"], batch["features"].flip(1))
    assert torch.equal(only_swap["video"], batch["video_flipped"])
    assert torch.equal(only_swap["adpit"][..., 2, :], -batch["adpit"][..., 2, :])

    none = Augmenter(AugmentConfig(scs_prob=0.0, mixup_prob=0.0), seed=0)(batch, step=0)
    for key in batch:
        assert torch.equal(none[key], batch[key])

    both = Augmenter(AugmentConfig(scs_prob=1.0, mixup_prob=1.0, mixup_alpha=1.0), seed=0)(batch, step=0)
    perm, lam = both["mix_perm"], float(both["mix_lam"])
    torch.testing.assert_close(both["features"], lam * only_swap["features"] + (1 - lam) * only_swap["features"][perm])
    torch.testing.assert_close(both["video"], lam * only_swap["video"] + (1 - lam) * only_swap["video"][perm])
    assert torch.equal(both["doa"], only_swap["doa"])  # targets stay unmixed; mixup_loss uses mix_perm


def test_augmenter_swap_rate_follows_probability():
    cfg = AugmentConfig(scs_prob=0.3, mixup_prob=0.0)
    aug = Augmenter(cfg, seed=1)
    batch = {"features": torch.stack([torch.zeros(2, 3), torch.ones(2, 3)])[None].expand(64, 2, 2, 3).clone()}
    swapped = 0
    for step in range(50):
        swapped += int((aug(batch, step)["features"][:, 0, 0, 0] == 1).sum())
    # 3200 Bernoulli(0.3) draws: mean 960, sd ~26.
    assert abs(swapped - 960) < 110


def test_av_swap_keeps_audio_labels_and_video_consistent():
    """A source on the left (azimuth +40°) is louder in L (mid-side stereo: L = W + Y', R = W − Y', with
    Y' ∝ sin(az)); after the audio-visual swap the inter-channel level difference, the label azimuth and
    the frames (mirrored) all say "right", while class, distance and on-screen stay."""
    from seldlib.logmel import logmel_librosa

    rng = np.random.default_rng(5)
    w = rng.standard_normal(120000).astype(np.float32) * 0.1
    y = np.sin(np.deg2rad(40.0)) * w
    feats = torch.from_numpy(np.asarray(logmel_librosa(np.stack([w + y, w - y])), np.float32))[None]
    labels = _encode([(0, 49, 0, 40.0, 2.0, 1)], False)
    video, flipped = torch.randn(1, T, 7, 7), torch.randn(1, T, 7, 7)
    out = channel_swap({"features": feats, "video": video, "video_flipped": flipped, **labels}, torch.tensor([True]))

    def ild(x: torch.Tensor) -> float:  # dB, L minus R, over all bins and frames
        return float((x[0, 0] - x[0, 1]).mean())

    assert ild(feats) > 3.0 and ild(out["features"]) == pytest.approx(-ild(feats))
    az = torch.rad2deg(torch.atan2(out["doa"][0, :, 0, 1], out["doa"][0, :, 0, 0]))
    assert torch.allclose(az, torch.full_like(az, -40.0), atol=1e-4)
    sce_az = torch.rad2deg(torch.atan2(out["sce"][0, :, 0, 1], out["sce"][0, :, 0, 0]))
    assert torch.allclose(sce_az, torch.full_like(sce_az, -40.0), atol=1e-4)
    assert torch.equal(out["video"], flipped) and torch.equal(out["video_flipped"], video)
    for key in ("sed", "dist", "onscreen"):
        assert torch.equal(out[key], labels[key]), key
