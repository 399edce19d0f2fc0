"""Scene sampling rules, spatial physics of rendered stereo, level/SNR and label/energy alignment."""

import numpy as np
import pytest

from seldlib.constants import CLIP_SAMPLES, N_LABEL_FRAMES
from seldlib.synth.rooms import RoomSpec, _image_lattice, cart_to_polar, image_source_foa, simulate_room
from seldlib.synth.scenes import FRAME, EventPlan, ScenePlan, diffuse_noise, render_scene, sample_scene, sample_trajectory
from seldlib.synth.sources import ProceduralBank
from seldlib.synth.stereo import foa_to_stereo

SR = 24000


@pytest.fixture(scope="module")
def room():
    spec = RoomSpec("scene_room", (7.0, 6.0, 3.0), 0.35, (3.5, 3.0, 1.5), radii=(1.0, 2.0), elevations=(0.0, 20.0),
                    az_step_deg=30.0, ir_seconds=0.25)
    return simulate_room(spec, seed=4)


def static_plan(room, az, audio, snr=20.0):
    pol = cart_to_polar(room.positions)
    idx = int(np.flatnonzero((np.abs(pol[:, 1]) < 1) & (np.abs(pol[:, 2] - 1.0) < 1e-6)
                             & (np.abs(pol[:, 0] - az) < 1e-6))[0])
    n_fr = int(np.ceil(len(audio) / FRAME))
    ev = EventPlan(0, 0, 5, audio, np.array([idx]), np.array([0.0]), snr, "static", np.arange(5, 5 + n_fr),
                   np.repeat(room.positions[idx][None], n_fr, axis=0))
    return ScenePlan([ev], noise_db=-60.0)


def ild_db(stereo):
    return 10 * np.log10(np.sum(stereo[0] ** 2) / np.sum(stereo[1] ** 2))


def test_left_source_louder_in_left_channel(room):
    audio = np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    for az, sign in ((60.0, 1), (-60.0, -1)):
        r = render_scene(static_plan(room, az, audio), room, np.random.default_rng(1), keep_stems=True)
        ild = ild_db(foa_to_stereo(r.stems[0], 0.0))
        # direct path alone: 20 log10((1 + sin 60)/(1 - sin 60)) = 22.9 dB; reverberation dilutes it
        assert sign * ild > 3.0
        # rotating the view by 180 deg puts the source on the other side
        assert -sign * ild_db(foa_to_stereo(r.stems[0], 180.0)) > 3.0


def test_channel_swap_equals_mirrored_source():
    # Exact mirror symmetry: mic on the room's y mid-plane, source mirrored y -> -y (image model only).
    size, mic = np.array([6.0, 5.0, 3.0]), np.array([2.5, 2.5, 1.4])
    lat = _image_lattice(6)
    src = mic + np.array([1.2, 0.9, 0.3])
    mirrored = src * np.array([1, -1, 1]) + np.array([0, 2 * mic[1], 0])
    st = foa_to_stereo(image_source_foa(size, mic, src, 0.8, lat, 4000))
    st_m = foa_to_stereo(image_source_foa(size, mic, mirrored, 0.8, lat, 4000))
    np.testing.assert_allclose(st[::-1], st_m, atol=1e-10)
    assert ild_db(st) == pytest.approx(-ild_db(st_m), abs=1e-6) and ild_db(st) > 1.0


def test_sampling_rules(room):
    bank = ProceduralBank()
    for seed in range(6):
        plan = sample_scene(np.random.default_rng(seed), room, bank, n_events=(6, 8), polyphony=3, snr_db=(5, 30))
        occ = np.zeros(N_LABEL_FRAMES, int)
        for ev in plan.events:
            assert ev.frames[0] == ev.onset_frame and ev.onset % FRAME == 0
            assert ev.onset + len(ev.audio) <= CLIP_SAMPLES and ev.frames[-1] < N_LABEL_FRAMES
            assert len(ev.frames) == int(np.ceil(len(ev.audio) / FRAME))
            assert 5 <= ev.snr_db <= 30
            occ[ev.frames] += 1
            assert np.all(np.diff(ev.anchors) > 0)
            assert set(ev.ir_index) <= set(range(len(room.positions)))
        assert occ.max() <= 3
        assert [e.source for e in plan.events] == list(range(len(plan.events)))


def test_moving_trajectories_move_and_static_do_not(room):
    rng = np.random.default_rng(3)
    moved = {"arc": 0, "linear": 0}
    for _ in range(20):
        for motion in moved:
            idx, anchors, pos = sample_trajectory(rng, room.positions, 40, motion)
            assert pos.shape == (40, 3) and len(idx) == len(anchors)
            moved[motion] += int(len(idx) > 1)
            # label positions are the interpolation of the anchored grid positions: on the grid at anchors
            for k, a in zip(idx, anchors):
                j = int(a // FRAME)
                if len(idx) > 1 and abs((j + 0.5) * FRAME - a) < 1e-9:
                    np.testing.assert_allclose(pos[j], room.positions[k])
    assert moved["arc"] >= 15 and moved["linear"] >= 10
    idx, anchors, pos = sample_trajectory(rng, room.positions, 10, "static")
    assert len(idx) == 1 and np.ptp(pos, axis=0).max() == 0


def test_label_activity_matches_event_energy_and_snr(room):
    bank = ProceduralBank()
    for seed in range(4):
        rng = np.random.default_rng(seed)
        plan = sample_scene(rng, room, bank, n_events=(3, 3))
        r = render_scene(plan, room, rng, keep_stems=True)
        noise_p = np.mean(r.noise[0] ** 2)
        for ev, stem in zip(plan.events, r.stems):
            e = (stem[0, : N_LABEL_FRAMES * FRAME].reshape(N_LABEL_FRAMES, FRAME) ** 2).sum(1)
            lab = np.zeros(N_LABEL_FRAMES, bool)
            lab[ev.frames] = True
            assert e[: ev.onset_frame].max(initial=0) == 0  # nothing before the onset
            assert e[lab].sum() / e.sum() > 0.9  # the tail after the dry end is a small part
            if (~lab).any() and e[~lab].sum() > 0:
                assert e[lab].mean() > 20 * e[~lab].mean()
            span = min(len(ev.audio), CLIP_SAMPLES - ev.onset)
            snr = 10 * np.log10(np.mean(stem[0, ev.onset:ev.onset + span] ** 2) / noise_p)
            assert snr == pytest.approx(ev.snr_db, abs=0.3)  # noise power is measured over the clip


def test_diffuse_noise_is_decorrelated_with_diffuse_energy_ratios():
    n = diffuse_noise(np.random.default_rng(0), CLIP_SAMPLES, -3.0, 100.0, -12.0)
    assert np.mean(n[0] ** 2) == pytest.approx(1.0)
    for c in (1, 2, 3):
        assert np.mean(n[c] ** 2) == pytest.approx(1 / 3, rel=1e-6)
    corr = np.corrcoef(n)
    assert np.abs(corr - np.eye(4)).max() < 0.05
    st = foa_to_stereo(n)
    # L/R correlation of an isotropic field: (E[W^2] - E[Y^2]) / (E[W^2] + E[Y^2]) = (1 - 1/3)/(1 + 1/3)
    assert np.corrcoef(st)[0, 1] == pytest.approx(0.5, abs=0.05)
