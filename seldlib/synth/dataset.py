"""Generate a DCASE2025-layout stereo SELD split from simulated or real SOFA rooms.

Layout under ``root``::

    stereo_dev/<split>/<stem>.wav     2-ch (L, R) 24 kHz PCM_16, 5 s
    metadata_dev/<split>/<stem>.csv   DCASE2025 CSV with header (folded azimuth, distance cm, onscreen)
    video_dev/<split>/<stem>.mp4      only with make_video (seldlib.synth.video.render_video)
    tracks_dev/<split>/<stem>.json    per event and label frame: unfolded camera-relative azimuth,
                                      elevation, distance (m), class, onscreen (what a video renderer needs)

``stem = fold{F}_room{R}_mix{NNN}_deg{DDD}_start{SSSS}``: NNN is the clip index + 1, DDD the seeded view
angle (integer 0-359), SSSS = 0000 (there is no source recording to start in).

Determinism: clip i of a split uses ``np.random.default_rng(SeedSequence([seed, crc32(split), i]))``
for every random choice (room, view, events, noise or ambience segment), so bytes do not depend on
``workers``.

Scale: rooms given as SOFA paths are opened with :func:`seldlib.synth.rooms.open_sofa`, so a clip reads
only the IRs its events use (a TAU room is never loaded whole), and ``workers`` forked processes (0: one
per core) render clips in parallel. A room with a recorded ambience (TAU-SNoise DB) has a random
whole-second segment of it as the background (:func:`ambience_segment`).

No clipping: after the FOA -> stereo conversion, a clip whose peak exceeds ``peak_limit`` (0.9) is
scaled down as a whole to that peak (the relative levels, i.e. the SNRs, are unchanged). The organisers'
converter rejects such clips instead; rescaling keeps the clip count fixed and the seeds aligned.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from seldlib.atomic import atomic_path, write_json_atomic
from seldlib.constants import SAMPLE_RATE
from seldlib.errors import SeldInputError
from seldlib.metadata import EventTable, fold_azimuth, write_metadata_csv
from seldlib.synth.rooms import Room, SofaIRs, cart_to_polar, open_sofa
from seldlib.synth.scenes import ScenePlan, render_scene, sample_scene
from seldlib.synth.stereo import foa_to_stereo, is_onscreen, relative_azimuth


@dataclass
class EventTrack:
    """Per-event view-relative track over its label frames; arrays have shape (n,).

    azimuth: unfolded, camera-relative, degrees (+ = left); elevation: degrees; distance: metres.
    """

    cls: int
    source: int
    frames: np.ndarray
    azimuth: np.ndarray
    elevation: np.ndarray
    distance: np.ndarray
    onscreen: np.ndarray
    motion: str = "static"


@dataclass
class SynthConfig:
    """Scene statistics for :func:`generate_split` (defaults follow SpatialScaper, polyphony 3)."""

    polyphony: int = 3
    n_events: tuple[int, int] = (1, 4)
    snr_db: tuple[float, float] = (5.0, 30.0)
    moving_prob: float = 0.5
    speed_limit: float = 1.5
    noise_db: tuple[float, float] = (-58.0, -46.0)
    max_event_s: float = 4.5
    peak_limit: float = 0.9


def clip_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of clip ``index`` of ``split``: independent of worker count and clip order."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(split.encode("utf-8")), int(index)]))


def ambience_segment(room: Room, rng: np.random.Generator, n: int) -> np.ndarray | None:
    """A segment (4, n) of the room's recorded ambience starting at a uniformly drawn whole second (as
    SpatialScaper picks its background offset), scaled to W RMS 1; None for a room without one."""
    if room.ambience is None:
        return None
    frames = sf.info(str(room.ambience)).frames
    start = int(rng.integers(0, (frames - n) // SAMPLE_RATE + 1)) * SAMPLE_RATE
    seg = sf.read(str(room.ambience), start=start, frames=n, dtype="float32", always_2d=True)[0].T.astype(np.float64)
    rms = float(np.sqrt(np.mean(seg[0] ** 2)))
    if seg.shape != (4, n) or rms == 0.0:
        raise SeldInputError(room.ambience, f"no usable 4-channel ambience at {start / SAMPLE_RATE:.0f} s "
                                            "(W silent or short)")
    return seg / rms


def clip_stem(fold: int, room_number: int, index: int, view_deg: int, start: int = 0) -> str:
    """Official DCASE2025 dev naming."""
    return f"fold{fold}_room{room_number}_mix{index + 1:03d}_deg{view_deg:03d}_start{start:04d}"


def event_tracks(plan: ScenePlan, view_deg: float) -> list[EventTrack]:
    """View-relative, unfolded label-frame tracks of every event of ``plan``."""
    tracks = []
    for ev in plan.events:
        pol = cart_to_polar(ev.positions)
        az = relative_azimuth(pol[:, 0], view_deg)
        tracks.append(EventTrack(ev.cls, ev.source, ev.frames.copy(), az, pol[:, 1], pol[:, 2],
                                 is_onscreen(az, pol[:, 1]), ev.motion))
    return tracks


def tracks_to_table(tracks: list[EventTrack]) -> EventTable:
    """DCASE2025 rows: folded azimuth, distance in cm, onscreen from the unfolded direction."""
    if not tracks:
        return EventTable(elevation=np.zeros(0))
    return EventTable(
        np.concatenate([t.frames for t in tracks]),
        np.concatenate([np.full(len(t.frames), t.cls) for t in tracks]),
        np.concatenate([np.full(len(t.frames), t.source) for t in tracks]),
        fold_azimuth(np.concatenate([t.azimuth for t in tracks])),
        np.concatenate([t.distance for t in tracks]) * 100.0,
        np.concatenate([t.onscreen for t in tracks]).astype(np.int64),
        np.concatenate([t.elevation for t in tracks]),
    )


@dataclass
class RenderedClip:
    """One synthesised clip in memory (before it is written; a dataset clip on disk is
    :class:`seldlib.layout.Clip`): stereo (2, T) float64 (peak-limited), FOA mix (4, T), labels and tracks."""

    stem: str
    stereo: np.ndarray
    foa: np.ndarray
    table: EventTable
    tracks: list[EventTrack]
    plan: ScenePlan
    view_deg: int
    room_index: int
    gain: float
    stems: list[np.ndarray]


def synth_clip(
    rng: np.random.Generator,
    rooms: list[Room],
    bank,
    config: SynthConfig,
    fold: int = 1,
    room_numbers: list[int] | None = None,
    index: int = 0,
    keep_stems: bool = False,
) -> RenderedClip:
    """Sample, render and convert one clip (no files written)."""
    room_index = int(rng.integers(len(rooms)))
    room = rooms[room_index]
    view = int(rng.integers(0, 360))
    plan = sample_scene(rng, room, bank, config.n_events, config.polyphony, config.snr_db, config.moving_prob,
                        config.speed_limit, config.noise_db, config.max_event_s)
    background = ambience_segment(room, rng, plan.n_samples)
    rendered = render_scene(plan, room, rng, keep_stems=keep_stems, background=background)
    stereo = foa_to_stereo(rendered.foa, view)
    peak = float(np.abs(stereo).max())
    gain = config.peak_limit / peak if peak > config.peak_limit else 1.0
    tracks = event_tracks(plan, view)
    number = room_numbers[room_index] if room_numbers is not None else room_index + 1
    stems = [s * gain for s in rendered.stems]
    return RenderedClip(clip_stem(fold, number, index, view), stereo * gain, rendered.foa * gain,
                        tracks_to_table(tracks), tracks, plan, view, room_index, gain, stems)


def _tracks_json(clip: RenderedClip) -> dict:
    return {
        "stem": clip.stem, "view_deg": clip.view_deg, "room_index": clip.room_index, "gain": clip.gain,
        "events": [
            {"cls": t.cls, "source": t.source, "motion": t.motion, "frames": t.frames.tolist(),
             "azimuth": np.round(t.azimuth, 3).tolist(), "elevation": np.round(t.elevation, 3).tolist(),
             "distance_m": np.round(t.distance, 4).tolist(), "onscreen": t.onscreen.astype(int).tolist()}
            for t in clip.tracks
        ],
    }


def write_clip(root: Path, split: str, clip: RenderedClip, make_video: bool, seed: int) -> None:
    """Write WAV, CSV, tracks JSON (and MP4) of ``clip`` atomically under ``root``."""
    wav = root / "stereo_dev" / split / f"{clip.stem}.wav"
    with atomic_path(wav) as tmp:
        sf.write(tmp, clip.stereo.T.astype(np.float32), SAMPLE_RATE, subtype="PCM_16", format="WAV")
    write_metadata_csv(root / "metadata_dev" / split / f"{clip.stem}.csv", clip.table)
    write_json_atomic(root / "tracks_dev" / split / f"{clip.stem}.json", _tracks_json(clip))
    if make_video:
        from seldlib.synth.video import VideoTrack, render_video

        vtracks = [VideoTrack(cls=t.cls, frames=t.frames, azimuth=t.azimuth, elevation=t.elevation, distance=t.distance)
                   for t in clip.tracks]
        render_video(root / "video_dev" / split / f"{clip.stem}.mp4", vtracks, seed=seed)


# Worker state, inherited by forked workers (never pickled per task; each opens its own SOFA handles).
_STATE: dict = {}


def _work(index: int) -> str:
    s = _STATE
    rng = clip_rng(s["seed"], s["split"], index)
    clip = synth_clip(rng, s["rooms"], s["bank"], s["config"], s["fold"], s["room_numbers"], index)
    clip_seed = int(rng.integers(0, 2**31 - 1))
    write_clip(s["root"], s["split"], clip, s["make_video"], clip_seed)
    return clip.stem


def generate_split(
    root: str | Path,
    split: str,
    n_clips: int,
    rooms: list[str | Path | Room],
    fold: int,
    seed: int,
    sources,
    make_video: bool = False,
    workers: int = 1,
    config: SynthConfig | None = None,
    room_numbers: list[int] | None = None,
    progress: bool = True,
) -> list[str]:
    """Generate ``n_clips`` clips of ``split`` under ``root`` (layout in the module doc); returns the stems.

    rooms: SOFA paths (opened lazily, :func:`open_sofa`) or :class:`Room` objects; each clip draws one
    uniformly. ``room_numbers`` gives the ``room{R}`` number of each (default 1..len). ``sources``: a bank
    with ``draw(cls, rng, max_seconds)`` (:class:`ProceduralBank` or :class:`FolderBank`). ``workers``:
    processes rendering clips (0: one per CPU core); the bytes written do not depend on it.
    """
    root = Path(root)
    config = config or SynthConfig()
    workers = (os.cpu_count() or 1) if workers == 0 else workers
    loaded = [r if isinstance(r, Room) else open_sofa(r) for r in rooms]
    if not loaded:
        raise ValueError("generate_split needs at least one room")
    if room_numbers is not None and len(room_numbers) != len(loaded):
        raise ValueError(f"room_numbers has {len(room_numbers)} entries for {len(loaded)} rooms")
    _STATE.clear()
    _STATE.update(seed=seed, split=split, rooms=loaded, bank=sources, config=config, fold=fold,
                  room_numbers=room_numbers, root=root, make_video=make_video)
    indices = range(n_clips)
    bar = dict(total=n_clips, desc=f"synth {split}", disable=not progress)
    try:
        if workers <= 1 or n_clips <= 1:
            stems = [_work(i) for i in tqdm(indices, **bar)]
        else:
            ctx = mp.get_context("fork")
            with ctx.Pool(workers) as pool:
                stems = list(tqdm(pool.imap(_work, indices, chunksize=4), **bar))
    finally:
        _STATE.clear()
        for given, room in zip(rooms, loaded):
            if not isinstance(given, Room) and isinstance(room.irs, SofaIRs):
                room.irs.close()
    return stems
