"""Reading and writing video files with a stereo audio track (MP4 or anything PyAV opens).

``seld`` reads a user's video here: :func:`probe_media` checks the streams from the container header,
:func:`read_audio_track` decodes the whole audio track to float32 ``(channels, samples)`` at the file's
own rate (resampling is ``seldlib.audio.resample_audio``'s job), and :func:`iter_label_frames` streams one
RGB frame per 100-ms label frame (the decoded frame whose presentation time is nearest the label frame's
start ``t * 0.1 s``, measured from the first decoded frame; ties go to the earlier frame) without holding
the video in memory. :func:`decode_frames` is the same picking for one dataset clip, as an array, and
refuses a clip too short for its label frames (the video feature stores and the detectors read clips
with it). :func:`write_video` encodes frames (H.264) and optionally a stereo audio track (AAC) atomically.

Every problem with an input file is a :class:`~seldlib.errors.SeldInputError` naming it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from seldlib.constants import LABEL_HOP_SECONDS, N_LABEL_FRAMES
from seldlib.errors import SeldInputError

__all__ = ["MediaInfo", "FrameStats", "probe_media", "read_audio_track", "iter_label_frames", "decode_frames",
           "write_video"]

# PyAV sample formats (packed and planar share the name without / with a trailing "p") -> full scale.
_INT_SCALE = {"s16": 32768.0, "s32": 2147483648.0, "s64": 9223372036854775808.0}


@dataclass(frozen=True)
class MediaInfo:
    """What the container header says about a file's first audio and video streams.

    ``audio_channels`` / ``audio_rate`` are 0 and ``width`` / ``height`` / ``fps`` 0 or ``None`` when the
    stream is absent; ``duration_s`` is the container's duration (``None`` when it does not say).
    """

    path: Path
    has_audio: bool
    audio_channels: int
    audio_rate: int
    has_video: bool
    width: int
    height: int
    fps: float | None
    duration_s: float | None


def _open(path: Path):
    import av

    if path.is_dir():
        raise SeldInputError(path, "is a directory, not a video file")
    if not path.is_file():
        raise SeldInputError(path, "file not found")
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as err:
        raise SeldInputError(path, f"cannot open as a media file ({type(err).__name__}: {err})") from None


def probe_media(path: str | Path, need_video: bool = True) -> MediaInfo:
    """Check ``path`` from its header: readable, one stereo audio stream and (``need_video``) a video stream.

    Raises :class:`SeldInputError` naming the file when it is missing, unreadable, has no audio stream,
    has audio that is not stereo (mono: "got mono"), or has no video stream although one is needed.
    """
    path = Path(path)
    with _open(path) as container:
        audio = container.streams.audio[0] if container.streams.audio else None
        video = container.streams.video[0] if container.streams.video else None
        duration = container.duration / 1_000_000 if container.duration else None  # AV_TIME_BASE units
        channels = int(audio.codec_context.layout.nb_channels) if audio is not None else 0
        rate = int(audio.codec_context.sample_rate or audio.rate or 0) if audio is not None else 0
        if video is not None:
            fr = video.average_rate or video.guessed_rate
            width, height = int(video.codec_context.width), int(video.codec_context.height)
            fps = float(fr) if fr else None
        else:
            width, height, fps = 0, 0, None
    if audio is None:
        raise SeldInputError(path, "contains no audio stream; seld needs a stereo audio track")
    if channels != 2:
        what = "mono" if channels == 1 else f"{channels} channels"
        raise SeldInputError(path, f"expected stereo audio (2 channels), got {what}")
    if rate <= 0:
        raise SeldInputError(path, "the audio stream has no sample rate")
    if need_video and video is None:
        raise SeldInputError(path, "contains no video stream; the audio-visual models need the picture")
    return MediaInfo(path, True, channels, rate, video is not None, width, height, fps, duration)


def _frame_to_array(frame, channels: int) -> np.ndarray:
    """One decoded audio frame -> float32 ``(channels, samples)`` in [-1, 1]."""
    name = frame.format.name
    arr = frame.to_ndarray()
    planar = frame.format.is_planar
    base = name[:-1] if planar else name
    if not planar:  # interleaved: (1, samples * channels)
        arr = arr.reshape(-1, channels).T
    if base in ("flt", "dbl"):
        return arr.astype(np.float32, copy=False)
    if base == "u8":
        return ((arr.astype(np.float32) - 128.0) / 128.0)
    if base in _INT_SCALE:
        return (arr.astype(np.float64) / _INT_SCALE[base]).astype(np.float32)
    raise ValueError(f"unsupported audio sample format {name!r}")


def read_audio_track(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of ``path``: ``(wave float32 (2, samples), sample_rate)``.

    The samples are the decoded ones in order, cut to the stream's stated duration where the decoder
    returns more (AAC pads its last frame). Checks as :func:`probe_media` (without needing video);
    also refuses an empty track, a decoding failure and NaN / infinite samples.
    """
    import av

    path = Path(path)
    info = probe_media(path, need_video=False)
    chunks: list[np.ndarray] = []
    n = 0
    with _open(path) as container:
        stream = container.streams.audio[0]
        stated = None
        if stream.duration is not None and stream.time_base is not None:
            stated = int(round(float(stream.duration * stream.time_base) * info.audio_rate))
        try:
            for frame in container.decode(stream):
                if frame.sample_rate and int(frame.sample_rate) != info.audio_rate:
                    raise SeldInputError(path, f"the audio changes sample rate mid-stream ({info.audio_rate} -> "
                                               f"{frame.sample_rate} Hz)")
                chunk = _frame_to_array(frame, info.audio_channels)
                chunks.append(chunk)
                n += chunk.shape[1]
        except SeldInputError:
            raise
        except (av.FFmpegError, OSError, ValueError) as err:
            raise SeldInputError(path, f"cannot decode the audio ({type(err).__name__}: {err}); "
                                       f"{n} samples read") from None
    if n == 0:
        raise SeldInputError(path, "the audio track is empty (0 samples decoded)")
    wave = np.concatenate(chunks, axis=1)
    if stated is not None and 0 < stated < wave.shape[1]:
        wave = wave[:, :stated]
    if not np.isfinite(wave).all():
        raise SeldInputError(path, "the audio track holds NaN or infinite samples")
    return np.ascontiguousarray(wave), info.audio_rate


def stream_rate(stream) -> Fraction | None:  # noqa: ANN001 - a PyAV video stream
    """The video stream's frame rate as an exact fraction, or ``None`` when the file states none."""
    rate = stream.average_rate or stream.guessed_rate
    return Fraction(rate) if rate else None


def frame_time(frame, index: int, rate: Fraction | None, path: Path) -> Fraction:  # noqa: ANN001 - a PyAV frame
    """Presentation time of the ``index``-th decoded ``frame`` in seconds, exactly: ``pts × time_base``,
    else ``index / rate``; a frame with neither is a :class:`SeldInputError` naming ``path``."""
    if frame.pts is not None and frame.time_base is not None:
        return Fraction(frame.pts) * Fraction(frame.time_base)
    if rate:
        return Fraction(index) / rate
    raise SeldInputError(path, "frames carry no timestamps and the stream has no frame rate")


@dataclass
class FrameStats:
    """What :func:`iter_label_frames` saw of a video stream, filled in as it decodes.

    ``decoded``: frames decoded; ``last_time``: the last one's time in seconds from the first (exact);
    ``rate``: the stream's stated frame rate (``None`` when the header gives none).
    """

    decoded: int = 0
    last_time: Fraction = Fraction(0)
    rate: Fraction | None = None

    def period(self) -> Fraction | None:
        """One frame period in seconds: from the stated rate, else the mean spacing of the decoded frames."""
        if self.rate:
            return 1 / self.rate
        return self.last_time / (self.decoded - 1) if self.decoded > 1 and self.last_time > 0 else None


def iter_label_frames(path: str | Path, n_frames: int, hop_s: float = LABEL_HOP_SECONDS,
                      stats: FrameStats | None = None) -> Iterator[tuple[np.ndarray, float]]:
    """Stream ``n_frames`` RGB frames, one per label frame: ``(uint8 (H, W, 3), offset_s)`` in order.

    Frame ``t`` is the decoded frame nearest ``t * hop_s`` (seconds from the first decoded frame; ties go
    to the earlier frame); ``offset_s`` is ``|its time - t * hop_s|``. Label frames after the video's end
    get its last frame (with the growing offset), so a video slightly shorter than its audio still covers
    every label frame. Every frame is converted at the first frame's size, once however many label
    frames pick it (so the arrays are read-only). Only two decoded frames are held at a time, and decoding stops at the last label
    frame's picture. ``stats``, if given, is filled in as frames are decoded.

    Raises :class:`SeldInputError` naming the file when it cannot be opened or decoded, has no video
    stream or no decodable frame.
    """
    import av

    path = Path(path)
    if n_frames <= 0:
        return
    stats = stats if stats is not None else FrameStats()
    hop = Fraction(str(hop_s))  # exact, so 30 fps frames land exactly on label times
    with _open(path) as container:
        if not container.streams.video:
            raise SeldInputError(path, "contains no video stream")
        stream = container.streams.video[0]
        stats.rate = rate = stream_rate(stream)
        size: tuple[int, int] | None = None
        converted: tuple = (None, None)  # (frame, its RGB array): a frame picked twice is converted once

        def rgb(frame) -> np.ndarray:
            nonlocal converted
            if converted[0] is not frame:
                img = frame.to_ndarray(format="rgb24", width=size[0], height=size[1])
                img.flags.writeable = False  # may be yielded for several label frames: never drawn on in place
                converted = (frame, img)
            return converted[1]

        k = 0  # next label frame to emit
        prev = None  # (time, frame) of the last decoded frame
        origin: Fraction | None = None
        try:
            for frame in container.decode(stream):
                time = frame_time(frame, stats.decoded, rate, path)
                if origin is None:
                    origin, size = time, (int(frame.width), int(frame.height))
                time -= origin
                stats.decoded += 1
                stats.last_time = time
                # every label time up to this frame's time lies between the previous frame and this one
                while k < n_frames and k * hop <= time:
                    target = k * hop
                    if prev is not None and target - prev[0] <= time - target:
                        yield rgb(prev[1]), float(target - prev[0])
                    else:
                        yield rgb(frame), float(time - target)
                    k += 1
                if k >= n_frames:
                    return
                prev = (time, frame)
        except SeldInputError:
            raise
        except (av.FFmpegError, OSError, ValueError) as err:
            raise SeldInputError(path, f"cannot decode the video ({type(err).__name__}: {err}); "
                                       f"{stats.decoded} frames read") from None
        if prev is None:
            raise SeldInputError(path, "no decodable video frames (0 frames found)")
        while k < n_frames:  # the video ended before the audio: hold its last picture
            yield rgb(prev[1]), float(k * hop - prev[0])
            k += 1


def decode_frames(path: str | Path, n_label_frames: int = N_LABEL_FRAMES, hop_s: float = LABEL_HOP_SECONDS) -> np.ndarray:
    """Decode one RGB frame per label frame: ``uint8 (n_label_frames, H, W, 3)`` at the file's resolution.

    For label frame ``t`` the decoded frame whose presentation time is nearest ``t * hop_s`` (the label
    frame's *start*, as the baseline's every-3rd-frame-from-0 rule at 30 fps) is taken; ties go to the
    earlier frame. Times are exact fractions (pts x time_base) measured from the first decoded frame, so a
    30 fps file gives frames 0, 3, 6, ... and a 29.97 fps file gives ``round(t * 2.997)``. The picking is
    :func:`seldlib.media.iter_label_frames`'s, one pass over the frames in presentation order.

    A label time with no frame within one frame period (a video shorter than ``(n-1) * hop_s``) or an
    unreadable file raises :class:`SeldInputError` naming the file and how many frames were found.
    """
    path = Path(path)
    if n_label_frames <= 0 or hop_s <= 0:
        raise ValueError("n_label_frames and hop_s must be positive")
    stats = FrameStats()
    picked = list(iter_label_frames(path, n_label_frames, hop_s, stats=stats))
    period = float(stats.period() or Fraction(str(hop_s)))
    for t, (_, offset) in enumerate(picked):
        if offset > period:
            fps = f"{float(stats.rate):.3f} fps" if stats.rate else "unknown fps"
            raise SeldInputError(
                path,
                f"video too short: {stats.decoded} frames found (last at {float(stats.last_time):.3f} s, {fps}), "
                f"but {n_label_frames} label frames need a frame at {t * hop_s:.2f} s",
            )
    return np.stack([img for img, _ in picked])


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float,
                audio: np.ndarray | None = None, audio_rate: int | None = None, crf: int = 23) -> int:
    """Encode ``frames`` (uint8 ``(H, W, 3)`` RGB, all one size) as H.264 MP4 at ``fps``, atomically.

    ``audio``: optional float ``(2, samples)`` at ``audio_rate``, muxed as an AAC stereo track. An odd
    frame side is padded by one edge pixel (yuv420p needs even sides). Returns the number of frames.
    """
    import av

    from seldlib.atomic import atomic_path

    rate = Fraction(float(fps)).limit_denominator(1001)
    if audio is not None:
        audio = np.clip(np.asarray(audio, np.float32), -1.0, 1.0)
        if audio_rate is None or audio.ndim != 2 or audio.shape[0] != 2:
            raise ValueError("audio must be (2, samples) with its sample rate")

    def even(img: np.ndarray) -> np.ndarray:
        img = np.asarray(img, np.uint8)
        h, w = img.shape[:2]
        return np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge") if h % 2 or w % 2 else img

    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ValueError("no frames to write")
    first = even(first)
    height, width = first.shape[:2]
    count = 0
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as out:
            vstream = out.add_stream("libx264", rate=rate)
            vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
            vstream.codec_context.time_base = 1 / rate
            vstream.options = {"crf": str(int(crf)), "preset": "veryfast"}
            astream = out.add_stream("aac", rate=int(audio_rate), layout="stereo") if audio is not None else None
            sent = 0  # audio samples encoded so far

            def send_audio(upto: int) -> None:
                # audio in step with the pictures, so the muxer need not queue one stream behind the other
                nonlocal sent
                upto = min(upto, audio.shape[1])
                while sent < upto:
                    stop = min(upto, sent + 8192)
                    af = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[:, sent:stop]), format="fltp",
                                                    layout="stereo")
                    af.sample_rate, af.pts, af.time_base = int(audio_rate), sent, Fraction(1, int(audio_rate))
                    for packet in astream.encode(af):
                        out.mux(packet)
                    sent = stop

            for img in itertools.chain([first], (even(f) for f in it)):
                if img.shape[:2] != (height, width):
                    raise ValueError(f"frame {count} is {img.shape[1]}x{img.shape[0]}, the first was {width}x{height}")
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                vf.pts, vf.time_base = count, 1 / rate
                for packet in vstream.encode(vf):
                    out.mux(packet)
                count += 1
                if astream is not None:
                    send_audio(int(count / rate * int(audio_rate)))
            for packet in vstream.encode(None):
                out.mux(packet)
            if astream is not None:
                send_audio(audio.shape[1])
                for packet in astream.encode(None):
                    out.mux(packet)
    return count
