"""End-to-end split generation: layout, naming, determinism across worker counts, no clipping, labels."""

import json
import re

import numpy as np
import pytest
import soundfile as sf

from seldlib.errors import SeldInputError
from seldlib.metadata import fold_azimuth, read_metadata_csv
from seldlib.synth.dataset import SynthConfig, clip_rng, generate_split, synth_clip
from seldlib.synth.rooms import RoomSpec, simulate_rooms
from seldlib.synth.sources import ProceduralBank
from seldlib.synth.stereo import is_onscreen

SPLIT = "dev-train-synth"
STEM_RE = re.compile(r"^fold(\d+)_room(\d+)_mix(\d{3})_deg(\d{3})_start(\d{4})$")


@pytest.fixture(scope="module")
def rooms(tmp_path_factory):
    d = tmp_path_factory.mktemp("rooms")
    specs = [
        RoomSpec("ds_a", (6.0, 5.0, 3.0), 0.3, (3.0, 2.4, 1.5), radii=(1.0, 2.0), elevations=(0.0, 20.0),
                 az_step_deg=30.0, ir_seconds=0.2),
        RoomSpec("ds_b", (8.0, 6.0, 3.0), 0.5, (4.0, 3.2, 1.5), radii=(1.5, 3.0), elevations=(-20.0, 0.0),
                 az_step_deg=30.0, ir_seconds=0.25),
    ]
    return simulate_rooms(d, specs, seed=0, progress=False)


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_naming_and_labels(tmp_path, rooms):
    stems = generate_split(tmp_path, SPLIT, 4, rooms, fold=2, seed=11, sources=ProceduralBank(), workers=1,
                           room_numbers=[7, 9], progress=False)
    assert len(set(stems)) == 4
    for i, stem in enumerate(stems):
        m = STEM_RE.match(stem)
        assert m and m.group(1) == "2" and m.group(2) in ("7", "9") and int(m.group(3)) == i + 1
        assert 0 <= int(m.group(4)) < 360
        x, sr = sf.read(tmp_path / "stereo_dev" / SPLIT / f"{stem}.wav", dtype="float64")
        info = sf.info(str(tmp_path / "stereo_dev" / SPLIT / f"{stem}.wav"))
        assert sr == 24000 and x.shape == (120000, 2) and info.subtype == "PCM_16"
        assert np.abs(x).max() <= 0.9 + 1 / 32768
        table = read_metadata_csv(tmp_path / "metadata_dev" / SPLIT / f"{stem}.csv")
        tracks = json.loads((tmp_path / "tracks_dev" / SPLIT / f"{stem}.json").read_text())
        assert tracks["view_deg"] == int(m.group(4))
        n_rows = sum(len(e["frames"]) for e in tracks["events"])
        assert len(table) == n_rows and n_rows > 0
        for ev in tracks["events"]:
            az, el = np.array(ev["azimuth"]), np.array(ev["elevation"])
            np.testing.assert_array_equal(ev["onscreen"], is_onscreen(az, el).astype(int))
            rows = (table.source == ev["source"])
            np.testing.assert_array_equal(table.frame[rows], ev["frames"])
            np.testing.assert_allclose(table.azimuth[rows], np.round(fold_azimuth(az)), atol=0)
            np.testing.assert_allclose(table.distance[rows], np.round(np.array(ev["distance_m"]) * 100), atol=1)
            np.testing.assert_array_equal(table.onscreen[rows], ev["onscreen"])


def test_same_bytes_for_any_worker_count_and_seed_changes_output(tmp_path, rooms):
    kw = dict(n_clips=5, rooms=rooms, fold=1, sources=ProceduralBank(), progress=False)
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_split(a, SPLIT, seed=3, workers=1, **kw)
    generate_split(b, SPLIT, seed=3, workers=2, **kw)
    generate_split(c, SPLIT, seed=4, workers=1, **kw)
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert fa == fb
    wav_a = [v for k, v in fa.items() if k.endswith(".wav")]
    wav_c = [v for k, v in fc.items() if k.endswith(".wav")]
    assert not set(wav_a) & set(wav_c)


def test_loud_scenes_are_rescaled_not_clipped(rooms):
    from seldlib.synth.rooms import load_sofa

    loaded = [load_sofa(p) for p in rooms]
    cfg = SynthConfig(snr_db=(30.0, 30.0), noise_db=(-6.0, -6.0), n_events=(3, 3))
    clip = synth_clip(clip_rng(0, SPLIT, 0), loaded, ProceduralBank(), cfg)
    assert clip.gain < 1.0
    assert np.abs(clip.stereo).max() == pytest.approx(0.9)


def test_video_written_when_requested(tmp_path, rooms):
    pytest.importorskip("seldlib.synth.video")
    stems = generate_split(tmp_path, SPLIT, 1, rooms, fold=1, seed=0, sources=ProceduralBank(), make_video=True,
                           progress=False)
    mp4 = tmp_path / "video_dev" / SPLIT / f"{stems[0]}.mp4"
    assert mp4.is_file() and mp4.stat().st_size > 1000


def _big_room(path, m=1200, n=7200):
    """A TAU-sized room file (m positions x 4 x n taps, ~138 MB) written a slice at a time."""
    from seldlib.synth.rooms import polar_to_cart, sofa_writer

    pos = polar_to_cart(np.arange(m) * 2.1 % 360, np.linspace(-40, 40, m), np.full(m, 2.0))
    rng = np.random.default_rng(0)
    with sofa_writer(path, "big", pos, n) as ir:
        for s in range(0, m, 100):
            ir[s:s + 100] = (rng.standard_normal((100, 4, n)) * np.exp(-np.arange(n) / 2000)).astype(np.float32)
    return m * 4 * n * 4


def test_clips_read_only_the_irs_they_use(tmp_path):
    import tracemalloc

    size = _big_room(tmp_path / "big.sofa")
    tracemalloc.start()
    try:
        generate_split(tmp_path / "out", SPLIT, 3, [tmp_path / "big.sofa"], fold=1, seed=0, sources=ProceduralBank(),
                       progress=False)  # fmt: skip
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * size, f"peak {peak / 1e6:.0f} MB for a {size / 1e6:.0f}-MB room"


def test_recorded_ambience_is_the_background_at_a_whole_second(tmp_path, rooms):
    from seldlib.synth.rooms import AMBIENCE_SUFFIX, open_sofa

    sofa = tmp_path / "amb_room.sofa"
    sofa.write_bytes(rooms[0].read_bytes())
    rng = np.random.default_rng(3)
    amb = rng.standard_normal((7 * 24000, 4)) * [0.05, 0.02, 0.01, 0.03]
    sf.write(tmp_path / ("amb_room" + AMBIENCE_SUFFIX), amb, 24000, subtype="PCM_24", format="FLAC")
    amb = sf.read(tmp_path / ("amb_room" + AMBIENCE_SUFFIX))[0].T  # as quantised on disk
    room = open_sofa(sofa)
    assert room.ambience == tmp_path / ("amb_room" + AMBIENCE_SUFFIX)
    offsets = set()
    for i in range(6):
        clip = synth_clip(clip_rng(1, SPLIT, i), [room], ProceduralBank(), SynthConfig(n_events=(0, 0)))
        level = 10 ** (clip.plan.noise_db / 20)
        match = [s for s in range(3) if np.allclose(
            clip.foa, amb[:, s * 24000:s * 24000 + 120000] / np.sqrt(np.mean(amb[0, s * 24000:s * 24000 + 120000] ** 2))
            * level, atol=1e-9)]  # fmt: skip
        assert len(match) == 1, i  # the recorded 4 channels, W at the drawn noise level, from a whole second
        offsets.add(match[0])
    assert len(offsets) > 1  # the offset is drawn per clip
    (tmp_path / ("amb_room" + AMBIENCE_SUFFIX)).write_bytes(b"fLaC junk")
    with pytest.raises(SeldInputError, match="amb_room_ambience.flac: cannot read the room ambience"):
        open_sofa(sofa)
