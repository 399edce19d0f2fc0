"""Music for class 8 from FMA-small (Defferrard et al., ISMIR 2017; ``github.com/mdeff/fma``), chosen
as SpatialScaper's ``scripts/prepare_fsd50k_fma.py`` does, but with a seeded split.

* ``fma_metadata.zip``: ``fma_metadata/tracks.csv``, two header rows (``set,subset``, ``track,genre_top``,
  ...) and a third naming the index (``track_id``);
* genres: every ``genre_top`` in order of first appearance except Electronic, Experimental and
  Instrumental (FMA-small leaves Folk, Hip-Hop, International, Pop and Rock);
* per genre, the first ``per_genre`` tracks of subset ``small`` in ``tracks.csv`` order, the six ids
  SpatialScaper knows to be corrupt left out first (so every genre has ``per_genre`` tracks);
* split: per genre, ``round(train_share * n)`` tracks to ``train`` and the rest to ``test``, by a
  permutation seeded with ``(seed, crc32(genre))`` (SpatialScaper draws an unseeded coin per track);
* ``fma_small.zip``: ``fma_small/<id[:3]>/<id:06d>.mp3`` goes to ``music/<split>/<genre>/<id:06d>.wav``.
"""

from __future__ import annotations

import csv
import io
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from seldlib.download import open_zip
from seldlib.errors import SeldInputError
from seldlib.prepare.jobs import Job

FMA_METADATA = "fma_metadata.zip"
FMA_SMALL = "fma_small.zip"
SKIP_GENRES = ("Electronic", "Experimental", "Instrumental")
CORRUPT_TRACKS = (98565, 98567, 98569, 99134, 108925, 133297)


@dataclass(frozen=True)
class Track:
    """A row of ``tracks.csv``: id, ``track.genre_top`` ("" when none), ``set.subset``."""

    id: int
    genre: str
    subset: str


@dataclass(frozen=True)
class MusicTrack:
    id: int
    genre: str
    split: str

    @property
    def rel(self) -> str:
        return f"music/{self.split}/{self.genre}/{self.id:06d}.wav"


def read_tracks(metadata_zip: Path) -> list[Track]:
    """Every track of ``tracks.csv`` inside ``metadata_zip``, in file order. Raises :class:`SeldInputError`
    naming the member (and line) when the columns or an id are not what FMA publishes."""
    with open_zip(metadata_zip) as zf:
        names = [n for n in zf.namelist() if PurePosixPath(n).name == "tracks.csv"]
        if len(names) != 1:
            raise SeldInputError(metadata_zip, f"expected one tracks.csv, found {len(names)}")
        where = f"{metadata_zip}:{names[0]}"
        with zf.open(names[0]) as raw:
            rows = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
            try:
                top, sub, index = next(rows), next(rows), next(rows)
            except StopIteration:
                raise SeldInputError(where, "fewer than the three header rows") from None
            columns = {(a, b): i for i, (a, b) in enumerate(zip(top, sub))}
            try:
                subset, genre = columns[("set", "subset")], columns[("track", "genre_top")]
            except KeyError as err:
                raise SeldInputError(where, f"no column {err.args[0]} in the two header rows", line=1) from None
            if index[:1] != ["track_id"]:
                raise SeldInputError(where, f"third header row should start with track_id, got {index[:1]}", line=3)
            tracks = []
            for row in rows:
                if len(row) <= max(subset, genre) or not row[0].isdigit():
                    raise SeldInputError(where, f"malformed row starting {row[:1]}", line=rows.line_num)
                tracks.append(Track(int(row[0]), row[genre], row[subset]))
    return tracks


def select_music(tracks: list[Track], per_genre: int, train_share: float, seed: int) -> list[MusicTrack]:
    """The chosen tracks with their split (rules in the module doc), genre by genre."""
    genres = list(dict.fromkeys(t.genre for t in tracks if t.genre and t.genre not in SKIP_GENRES))
    chosen = []
    for genre in genres:
        ids = [t.id for t in tracks if t.genre == genre and t.subset == "small" and t.id not in CORRUPT_TRACKS]
        ids = ids[:per_genre]
        if not ids:
            continue
        rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(genre.encode("utf-8"))]))
        train = set(rng.permutation(len(ids))[: int(round(train_share * len(ids)))].tolist())
        chosen += [MusicTrack(t, genre, "train" if i in train else "test") for i, t in enumerate(ids)]
    if not chosen:
        raise SeldInputError(None, f"no FMA-small track outside {', '.join(SKIP_GENRES)} in tracks.csv")
    return chosen


def fma_jobs(music: list[MusicTrack], small_zip: Path) -> tuple[list[Job], list[str]]:
    """Conversion jobs for the chosen tracks found in ``small_zip``, and the names of those missing."""
    with open_zip(small_zip) as zf:
        members = {PurePosixPath(n).name: n for n in zf.namelist() if not n.endswith("/")}
    jobs, missing = [], []
    for m in music:
        name = f"FMA track {m.id:06d} ({m.genre})"
        member = members.get(f"{m.id:06d}.mp3")
        if member is None:
            missing.append(f"{name}: not in {FMA_SMALL}")
        else:
            jobs.append(Job(small_zip, member, m.rel, name))
    return jobs, missing
