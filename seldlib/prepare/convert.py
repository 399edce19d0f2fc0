"""Source audio out of the downloaded archives into the class-folder tree the synthesiser reads.

A :class:`~seldlib.prepare.jobs.Job` names one archive member and where it goes. :func:`convert_jobs`
decodes each member straight from its (split) zip, downmixes it to mono, resamples it once to 24 kHz
(:func:`seldlib.audio.resample_audio`) and writes a 16-bit WAV, in parallel; a member that cannot be
decoded, is silent or not finite is returned with the reason instead of stopping the run.
:func:`arrange_sources` puts the FSD50K selection and the FMA music together and writes the report.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing as mp
import os
import re
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from seldlib.atomic import write_json_atomic
from seldlib.audio import resample_audio
from seldlib.constants import SAMPLE_RATE
from seldlib.download import open_zip
from seldlib.errors import SeldInputError
from seldlib.prepare.fma import FMA_METADATA, FMA_SMALL, fma_jobs, read_tracks, select_music
from seldlib.prepare.fsd50k import SELECTION, fsd50k_jobs, read_selection
from seldlib.prepare.jobs import Job
from seldlib.synth.sources import FOLDER_NAMES

REPORT_NAME = "manifest.json"
_PEAK = 0.999  # a resampled file whose peak would clip is scaled to this (the source banks peak-normalise anyway)


def convert_member(raw: bytes, out: Path) -> str | None:
    """Decode ``raw`` (any format libsndfile reads: WAV, FLAC, MP3, ...), write it to ``out`` as mono
    24-kHz 16-bit WAV. Returns None, or why the file is unusable (nothing is written then)."""
    try:
        data, sr = sf.read(io.BytesIO(raw), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        # libsndfile names the in-memory buffer by its address: drop it, the report must not vary
        why = re.sub(r"Error opening <[^>]*>: ", "", " ".join(str(err).split()))
        return f"cannot decode ({why or type(err).__name__})"
    if not len(data):
        return "no samples"
    if not np.all(np.isfinite(data)):
        return "non-finite samples"
    mono = data.mean(axis=1, dtype=np.float64)
    if not np.any(mono):
        return "silent"
    try:
        x = resample_audio(mono, sr, SAMPLE_RATE).astype(np.float64)
    except ValueError as err:
        return str(err)
    peak = float(np.abs(x).max())
    if peak >= 1.0:
        x *= _PEAK / peak
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out), x.astype(np.float32), SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return None


# Per-process state: the job list (inherited by forked workers) and the zips each process opened.
_STATE: dict = {}


def _run_job(index: int) -> str | None:
    job: Job = _STATE["jobs"][index]
    opened: dict[Path, zipfile.ZipFile] = _STATE.setdefault("zips", {})
    if job.archive not in opened:  # each process opens its own handles: a forked file offset is shared
        opened[job.archive] = _STATE["stack"].enter_context(open_zip(job.archive))
    try:
        raw = opened[job.archive].read(job.member)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
        return f"corrupt in {job.archive.name} ({err})"
    return convert_member(raw, _STATE["root"] / job.out)


def _init_worker() -> None:
    _STATE.update(zips={}, stack=contextlib.ExitStack())


def convert_jobs(jobs: Sequence[Job], root: Path, workers: int = 1, progress: bool = True) -> list[str | None]:
    """Run every job (``workers`` processes, 0 = one per core); returns each job's failure reason or None.

    The output of a job does not depend on ``workers``."""
    workers = (os.cpu_count() or 1) if workers == 0 else workers
    _STATE.clear()
    _STATE.update(jobs=list(jobs), root=Path(root))
    bar = dict(total=len(jobs), desc="sources", disable=not progress)
    try:
        if workers <= 1 or len(jobs) <= 1:
            _init_worker()
            with _STATE["stack"]:
                return [_run_job(i) for i in tqdm(range(len(jobs)), **bar)]
        with mp.get_context("fork").Pool(workers, initializer=_init_worker) as pool:
            return list(tqdm(pool.imap(_run_job, range(len(jobs)), chunksize=8), **bar))
    finally:
        _STATE.clear()


def arrange_sources(
    files: dict[str, Path],
    root: Path,
    max_missing: int,
    music_per_genre: int,
    music_train_share: float,
    split_seed: int,
    workers: int = 1,
    progress: bool = True,
) -> dict:
    """Build ``<root>/<class>/<train|test>/<label or genre>/<file>.wav`` (docs/real-data.md#the-source-tree).

    ``files``: the verified downloads by name (``FSD50K_selected.txt``, ``FSD50K.dev_audio.zip``,
    ``FSD50K.eval_audio.zip``, ``fma_metadata.zip``, ``fma_small.zip``). Missing and unreadable files are
    listed by name in the report (``<root>/manifest.json``, also returned); more than ``max_missing`` of
    them is an error naming them. Raises :class:`SeldInputError`.
    """
    selection = read_selection(files[SELECTION])
    jobs, missing = fsd50k_jobs(selection, files)
    music = select_music(read_tracks(files[FMA_METADATA]), music_per_genre, music_train_share, split_seed)
    music_jobs, music_missing = fma_jobs(music, files[FMA_SMALL])
    jobs, missing = jobs + music_jobs, missing + music_missing
    reasons = convert_jobs(jobs, root, workers, progress)
    unreadable = [f"{job.name}: {why}" for job, why in zip(jobs, reasons) if why is not None]
    problems = missing + unreadable
    if len(problems) > max_missing:
        shown = "; ".join(problems[:10]) + (f"; ... ({len(problems) - 10} more)" if len(problems) > 10 else "")
        raise SeldInputError(files[SELECTION], f"{len(missing)} missing and {len(unreadable)} unreadable of "
                                               f"{len(jobs) + len(missing)} source files, more than "
                                               f"synth.fsd50k.max_missing = {max_missing}: {shown}")  # fmt: skip
    counts = {c: {s: 0 for s in ("train", "test")} for c in FOLDER_NAMES}
    for job, why in zip(jobs, reasons):
        if why is None:
            cls, split = job.out.split("/")[:2]
            counts[cls][split] += 1
    empty = [c for c in FOLDER_NAMES if not counts[c]["train"]]
    if empty:  # the synthesiser draws every class from its train files
        raise SeldInputError(files[SELECTION], f"no usable train file for class folder(s) {', '.join(empty)}")
    report = {"used": True, "files": counts, "missing": missing, "unreadable": unreadable,
              "selection_lines": len(selection), "music_tracks": len(music)}  # fmt: skip
    write_json_atomic(root / REPORT_NAME, report)
    return report
