"""Visual detections on a clip's key frames, the input of the visual post-processing.

A detector (people with keypoints, faces, or open-vocabulary objects) runs once per clip on key frames
and its results are cached in HDF5 (:func:`write_detection_store`), so that tuning the post-processing
(``seldlib.postprocess``) never reruns a detector. Every detection carries, for each of the 13 classes,
the azimuth at which it would place a source of that class (NaN: it is not a candidate for that class);
a person thus gives its head's azimuth for speech and laughter, its hands' for clapping and its feet's
for footsteps. The post-processing only needs these azimuths, their scores and which classes the
detector can see at all (:attr:`DetectionStore.covered`).

Pixel column → azimuth is the DCASE2025 pinhole camera (100° horizontal field of view), which scales
with the frame width: ``az = atan((W/2 - x) / f)``, ``f = (W/2) / tan 50°`` (:func:`azimuth_of_column`).

Detectors share one interface: ``name``, ``covered`` ``(13,)`` bool, ``meta()`` (settings recorded in the
store) and ``detect(frames uint8 (K, H, W, 3) RGB, times (K,) s) -> ClipDetections``:

- :class:`HaarFaceDetector`: OpenCV's bundled Haar cascades, faces -> the human classes (embedded default);
- :class:`KeypointRcnnDetector`: torchvision's Keypoint R-CNN, people -> head / wrists / ankles;
- :class:`GroundingDinoDetector`: Grounding DINO (transformers), one prompt per object class.

:func:`build_detector` makes one from a ``detect`` params entry (absent weights:
:class:`DetectorUnavailable`), :func:`detect_clips` runs it on the key frames of clips. Which detector
runs where, the rules and the weights: docs/detectors.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seldlib.constants import CLIP_SECONDS, N_CLASSES, VIDEO_HFOV_DEG
from seldlib.errors import SeldInputError

if TYPE_CHECKING:  # torch, OpenCV and transformers are imported where a detector needs them
    import torch

STATUS_OK = "ok"


def azimuth_of_column(x: np.ndarray | float, width: int, hfov_deg: float = VIDEO_HFOV_DEG) -> np.ndarray:
    """Azimuth in degrees (positive = left) of continuous pixel column ``x`` of a ``width``-pixel frame;
    ``(...) -> (...)``. The inverse of ``seldlib.synth.video.project`` for any elevation."""
    f = (width / 2.0) / np.tan(np.deg2rad(hfov_deg) / 2.0)
    return np.rad2deg(np.arctan((width / 2.0 - np.asarray(x, dtype=np.float64)) / f))


@dataclass
class ClipDetections:
    """Detections of one clip; ``M`` detections over ``K`` key frames.

    Attributes:
        times: ``(K,)`` seconds of the key frames from the clip's start.
        frame: ``(M,)`` int index into ``times`` of each detection's key frame.
        box: ``(M, 4)`` float ``x1, y1, x2, y2`` in pixels of the decoded frame.
        score: ``(M,)`` detector confidence in [0, 1].
        label: ``(M,)`` the detector's label ("face", "person", a prompt phrase).
        azimuth: ``(M, 13)`` degrees where the detection puts a source of each class; NaN where it is
            not a candidate for that class.
        keypoints: ``(M, 17, 3)`` COCO person keypoints ``x, y, visibility``, or ``None``.
        width, height: the decoded frame size in pixels.
    """

    times: np.ndarray
    frame: np.ndarray
    box: np.ndarray
    score: np.ndarray
    label: list[str]
    azimuth: np.ndarray
    width: int
    height: int
    keypoints: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, np.float64).reshape(-1)
        self.frame = np.asarray(self.frame, np.int64).reshape(-1)
        m = len(self.frame)
        self.box = np.asarray(self.box, np.float64).reshape(m, 4)
        self.score = np.asarray(self.score, np.float64).reshape(m)
        self.azimuth = np.asarray(self.azimuth, np.float64).reshape(m, N_CLASSES)
        self.label = [str(s) for s in self.label]
        if len(self.label) != m:
            raise ValueError(f"{len(self.label)} labels for {m} detections")
        if m and (self.frame.min() < 0 or self.frame.max() >= len(self.times)):
            raise ValueError("a detection's key-frame index is outside the clip's key frames")
        if self.keypoints is not None:
            kp = np.asarray(self.keypoints, np.float64)
            # already (M, K, 3) -- the only shape an empty (0, 17, 3) can keep -- or flat per detection
            self.keypoints = kp if kp.ndim == 3 and kp.shape[0] == m and kp.shape[2] == 3 else kp.reshape(m, -1, 3)

    @classmethod
    def empty(cls, times: np.ndarray, width: int, height: int) -> "ClipDetections":
        """No detections on the key frames ``times``."""
        return cls(times, np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0), [], np.zeros((0, N_CLASSES)),
                   width, height)

    def __len__(self) -> int:
        return len(self.frame)


@dataclass
class DetectionStore:
    """One detector's results for a set of clips.

    Attributes:
        detector: the detector's name (a ``detect`` params entry).
        status: ``"ok"``, or ``"skipped: <why>"`` when the detector could not run (its weights are
            absent); a skipped store holds no clips and the post-processing passes its input through.
        covered: ``(13,)`` bool, the classes the detector can see; for the others the absence of a
            detection says nothing.
        clips: clip name (CSV stem) → its detections.
        meta: anything else worth recording (weights, thresholds, key-frame rate).
    """

    detector: str
    status: str
    covered: np.ndarray
    clips: dict[str, ClipDetections] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


def write_detection_store(path: str | Path, store: DetectionStore) -> None:
    """Write ``store`` to HDF5 (one group per clip under ``clips/``), atomically and deterministically."""
    import h5py

    from seldlib.atomic import atomic_path

    text = h5py.string_dtype("utf-8")
    with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=True) as h5:
        h5.attrs["detector"] = store.detector
        h5.attrs["status"] = store.status
        h5.attrs["meta"] = json.dumps(store.meta, sort_keys=True)
        h5.create_dataset("covered", data=np.asarray(store.covered, bool), track_times=False)
        clips = h5.create_group("clips", track_order=True)
        for name in sorted(store.clips):
            c = store.clips[name]
            g = clips.create_group(name, track_order=True)
            g.attrs["width"], g.attrs["height"] = int(c.width), int(c.height)
            for key, value in (("times", c.times), ("frame", c.frame), ("box", c.box), ("score", c.score),
                               ("azimuth", c.azimuth)):
                g.create_dataset(key, data=value, track_times=False)
            g.create_dataset("label", data=np.array(c.label, dtype=object), dtype=text, track_times=False)
            if c.keypoints is not None:
                g.create_dataset("keypoints", data=c.keypoints, track_times=False)


def read_detection_store(path: str | Path) -> DetectionStore:
    """Inverse of :func:`write_detection_store`; a missing or foreign file is a ``SeldInputError``."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise SeldInputError(path, "detection file not found (run the detect stage)")
    try:
        with h5py.File(path, "r") as h5:
            covered = np.asarray(h5["covered"][()], bool)
            clips = {}
            for name, g in h5["clips"].items():
                labels = [s.decode() if isinstance(s, bytes) else str(s) for s in g["label"][()]]
                clips[name] = ClipDetections(
                    g["times"][()], g["frame"][()], g["box"][()], g["score"][()], labels, g["azimuth"][()],
                    int(g.attrs["width"]), int(g.attrs["height"]),
                    keypoints=g["keypoints"][()] if "keypoints" in g else None)
            store = DetectionStore(str(h5.attrs["detector"]), str(h5.attrs["status"]), covered, clips,
                                   json.loads(h5.attrs.get("meta", "{}")))
    except (OSError, KeyError, ValueError) as err:
        raise SeldInputError(path, f"not a detection file of this project ({type(err).__name__}: {err})") from None
    if covered.shape != (N_CLASSES,):
        raise SeldInputError(path, f"'covered' has shape {covered.shape}, expected ({N_CLASSES},)")
    return store


# --------------------------------------------------------------------------------------------
# Detectors (docs/detectors.md)
# --------------------------------------------------------------------------------------------

HUMAN_CLASSES: tuple[int, ...] = (0, 1, 2, 4, 6)  # female/male speech, clapping, laughter, footsteps
# COCO person keypoints (torchvision's order): which ones locate the source of each human class.
COCO_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)
HEAD_KEYPOINTS = (0, 1, 2, 3, 4)
WRIST_KEYPOINTS = (9, 10)
ANKLE_KEYPOINTS = (15, 16)
KEYPOINTS_OF_CLASS: dict[int, tuple[int, ...]] = {
    0: HEAD_KEYPOINTS, 1: HEAD_KEYPOINTS, 4: HEAD_KEYPOINTS,  # voices and laughter come from the head
    2: WRIST_KEYPOINTS,  # clapping: the hands
    6: ANKLE_KEYPOINTS,  # footsteps: the feet
}
# The prompts of the visual post-processing's second stage (object classes), one text per class; classes
# with the same text (door, knock) share its boxes.
DEFAULT_PROMPTS: dict[int, str] = {
    3: "a telephone. a mobile phone.",
    5: "a vacuum cleaner. a kettle. a pot.",
    7: "a door.",
    8: "a loudspeaker. a radio.",
    9: "a guitar. a piano. a drum. a violin.",
    10: "a faucet. a sink.",
    11: "a bell.",
    12: "a door.",
}
DETECTOR_KINDS = ("haar", "keypointrcnn", "grounding_dino")
SHA256SUMS = "SHA256SUMS"


class DetectorUnavailable(SeldInputError):
    """A detector cannot run here because its weights are absent; ``reason`` is the store status
    (``"skipped: no weights at PATH"``), so a stage records it instead of failing."""

    def __init__(self, path: str | Path, what: str = ""):
        self.reason = f"skipped: no weights at {path}"
        hint = f" ({what})" if what else ""
        super().__init__(path, f"{self.reason}{hint}; fetch them with `python -m seldlib.download weights ...` "
                               "(docs/detectors.md#weights)")


def _covered(classes) -> np.ndarray:
    out = np.zeros(N_CLASSES, bool)
    out[list(classes)] = True
    return out


def _check_frames(frames: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``uint8 (K, H, W, 3)`` frames and ``(K,)`` times, checked."""
    frames = np.asarray(frames)
    times = np.asarray(times, np.float64).reshape(-1)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (K, H, W, 3), got {frames.dtype} {frames.shape}")
    if len(times) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(times)} times")
    return frames, times


def _sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_hash_prefix(path: str | Path) -> str | None:
    """Verify a torchvision-style file name ``<name>-<hex prefix of its SHA-256>.<ext>``; returns the
    prefix (None when the name carries none). A mismatch is a :class:`SeldInputError`."""
    path = Path(path)
    match = re.search(r"-([a-f0-9]{6,})\.", path.name)
    if not match:
        return None
    if not _sha256(path).startswith(match.group(1)):
        raise SeldInputError(path, f"SHA-256 does not start with {match.group(1)}: corrupt or wrong weights file")
    return match.group(1)


def write_sha256sums(directory: str | Path) -> Path:
    """Write ``<directory>/SHA256SUMS`` (``sha256sum`` format, sorted, relative POSIX paths) over every
    regular file below ``directory`` except itself and hidden files; returns its path."""
    directory = Path(directory)
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != SHA256SUMS
                   and not any(part.startswith(".") for part in p.relative_to(directory).parts))
    lines = [f"{_sha256(p)}  {p.relative_to(directory).as_posix()}\n" for p in files]
    out = directory / SHA256SUMS
    out.write_text("".join(lines), encoding="utf-8", newline="\n")
    return out


def verify_sha256sums(directory: str | Path) -> str | None:
    """Check every file listed in ``<directory>/SHA256SUMS``; returns the SHA-256 of that list (what the
    detection store records), None when there is no list. A missing or changed file, or a malformed
    line, is a :class:`SeldInputError` naming it."""
    directory = Path(directory)
    sums = directory / SHA256SUMS
    if not sums.is_file():
        return None
    for i, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        match = re.fullmatch(r"([0-9a-f]{64}) [ *](.+)", line)
        if not match or Path(match.group(2)).is_absolute() or ".." in Path(match.group(2)).parts:
            raise SeldInputError(sums, "not a SHA256SUMS line (expected '<64 hex>  <relative path>')", line=i)
        path = directory / match.group(2)
        if not path.is_file():
            raise SeldInputError(path, f"listed in {sums} but missing")
        if _sha256(path) != match.group(1):
            raise SeldInputError(path, f"SHA-256 differs from {sums}: corrupt or changed weights file")
    return _sha256(sums)


# --------------------------------------------------------------------------------------------
# Haar cascade faces (OpenCV)
# --------------------------------------------------------------------------------------------

def _merge_boxes(boxes: np.ndarray, scores: np.ndarray, overlap: float) -> np.ndarray:
    """Indices of the boxes ``(N, 4)`` kept by greedy suppression, best score first: a box is dropped when
    its intersection with a kept box exceeds ``overlap`` of the smaller one's area (one face found by
    several cascades, or in the mirrored frame, gives boxes of different sizes around the same centre)."""
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], boxes[i, 0], boxes[i, 1]))
    keep: list[int] = []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for i in order:
        dup = False
        for j in keep:
            w = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
            h = min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1])
            if w > 0 and h > 0 and w * h > overlap * min(area[i], area[j]):
                dup = True
                break
        if not dup:
            keep.append(i)
    return np.asarray(keep, np.int64)


class HaarFaceDetector:
    """Faces with OpenCV's Haar cascades (Viola-Jones), as bundled with ``opencv-python-headless`` < 5.

    A face puts every human class (0, 1, 2, 4, 6) at its centre column: the body stands below the
    face, in the same column, so hands and feet share its azimuth. Nothing else is covered.

    Score: ``n / (n + score_half)``, where ``n`` is the number of raw cascade windows OpenCV grouped into
    the face (``detectMultiScale2``'s ``numDetections``, at least ``min_neighbors``); 0.5 at
    ``score_half`` windows. The cascades' own stage sums (``detectMultiScale3`` level weights) are on
    different scales for different cascade files, the window count is comparable across them.

    Args:
        cascades: cascade file names in ``weights`` (OpenCV's bundled folder when None), or paths.
        weights: folder of the cascade files; None: ``cv2.data.haarcascades``.
        scale_factor, min_neighbors, min_size: ``detectMultiScale`` arguments (``min_size`` in pixels
            of the upscaled frame, a square).
        upscale: the grey frame is enlarged by this factor first (bilinear): the bundled frontal cascade's
            smallest face is its 24-px window, so 2.0 finds faces down to 12 px of the frame.
        mirror: also run every cascade on the mirrored frame (the profile cascade sees faces turned one
            way only); boxes are mirrored back.
        overlap: boxes overlapping more than this share of the smaller one are one face (:func:`_merge_boxes`).
        score_half: see Score.
    """

    def __init__(
        self,
        name: str = "haar",
        cascades: list[str] | tuple[str, ...] = ("haarcascade_frontalface_default.xml",),
        weights: str | Path | None = None,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size: int = 24,
        upscale: float = 1.0,
        mirror: bool = False,
        overlap: float = 0.5,
        score_half: float = 10.0,
    ) -> None:
        import cv2

        self.name = str(name)
        folder = Path(cv2.data.haarcascades if weights is None else weights)
        if not folder.is_dir():
            raise DetectorUnavailable(folder, "no folder of Haar cascade files")
        if not cascades:
            raise ValueError("at least one cascade file is needed")
        if scale_factor <= 1.0 or min_neighbors < 0 or min_size < 1 or upscale <= 0 or score_half <= 0:
            raise ValueError("need scale_factor > 1, min_neighbors >= 0, min_size >= 1, upscale > 0, score_half > 0")
        self.cascade_files = [folder / c for c in cascades]
        self._cascades = []
        for path in self.cascade_files:
            if not path.is_file():
                raise DetectorUnavailable(path, "Haar cascade file not found")
            try:
                cascade = cv2.CascadeClassifier(str(path))
            except (cv2.error, SystemError):  # OpenCV raises for some malformed files, returns empty for others
                cascade = None
            if cascade is None or cascade.empty():
                raise SeldInputError(path, "OpenCV cannot read it as a cascade classifier")
            self._cascades.append(cascade)
        self.scale_factor, self.min_neighbors, self.min_size = float(scale_factor), int(min_neighbors), int(min_size)
        self.upscale, self.mirror = float(upscale), bool(mirror)
        self.overlap, self.score_half = float(overlap), float(score_half)
        self.covered = _covered(HUMAN_CLASSES)

    def meta(self) -> dict:
        return {"kind": "haar", "cascades": [p.name for p in self.cascade_files], "scale_factor": self.scale_factor,
                "min_neighbors": self.min_neighbors, "min_size": self.min_size, "upscale": self.upscale,
                "mirror": self.mirror, "overlap": self.overlap, "score_half": self.score_half,
                "score": "n / (n + score_half), n = grouped cascade windows"}

    def faces(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Faces of one RGB frame ``uint8 (H, W, 3)``: boxes ``(N, 4)`` continuous ``x1, y1, x2, y2`` in
        frame pixels and scores ``(N,)``, best first."""
        import cv2

        height, width = frame.shape[:2]
        grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        s = self.upscale
        if s != 1.0:
            grey = cv2.resize(grey, (round(width * s), round(height * s)), interpolation=cv2.INTER_LINEAR)
        sx, sy = grey.shape[1] / width, grey.shape[0] / height  # exact scale of the rounded size
        boxes, scores = [], []
        for cascade in self._cascades:
            for flipped in (False, True) if self.mirror else (False,):
                image = np.ascontiguousarray(grey[:, ::-1]) if flipped else grey
                rects, counts = cascade.detectMultiScale2(
                    image, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                    minSize=(self.min_size, self.min_size))
                for (x, y, w, h), n in zip(np.asarray(rects).reshape(-1, 4), np.asarray(counts).reshape(-1)):
                    # OpenCV's rect covers pixels x .. x+w-1, i.e. the continuous span [x, x + w)
                    x1, x2 = (grey.shape[1] - x - w, grey.shape[1] - x) if flipped else (x, x + w)
                    boxes.append((x1 / sx, y / sy, x2 / sx, (y + h) / sy))
                    scores.append(n / (n + self.score_half))
        if not boxes:
            return np.zeros((0, 4)), np.zeros(0)
        boxes_a, scores_a = np.asarray(boxes, np.float64), np.asarray(scores, np.float64)
        keep = _merge_boxes(boxes_a, scores_a, self.overlap)
        return boxes_a[keep], scores_a[keep]

    def detect(self, frames: np.ndarray, times: np.ndarray) -> ClipDetections:
        """Faces on key frames ``uint8 (K, H, W, 3)`` at ``times`` ``(K,)`` s."""
        frames, times = _check_frames(frames, times)
        height, width = frames.shape[1:3]
        idx, boxes, scores = [], [], []
        for k, frame in enumerate(frames):
            b, s = self.faces(frame)
            idx += [k] * len(b)
            boxes.append(b)
            scores.append(s)
        if not idx:
            return ClipDetections.empty(times, width, height)
        box = np.concatenate(boxes)
        azimuth = np.full((len(box), N_CLASSES), np.nan)
        azimuth[:, list(HUMAN_CLASSES)] = azimuth_of_column((box[:, 0] + box[:, 2]) / 2.0, width)[:, None]
        return ClipDetections(times, idx, box, np.concatenate(scores), ["face"] * len(box), azimuth, width, height)


# --------------------------------------------------------------------------------------------
# Keypoint R-CNN people (torchvision)
# --------------------------------------------------------------------------------------------

def person_azimuths(keypoints: np.ndarray, boxes: np.ndarray, width: int) -> np.ndarray:
    """Where each person puts a source of each class: ``(M, 17, 3)`` COCO keypoints ``x, y, visible``
    (visible: > 0) and ``(M, 4)`` boxes -> ``(M, 13)`` degrees.

    Classes 0, 1, 4 (speech, laughter): mean x of the visible head keypoints (nose, eyes, ears);
    2 (clapping): of the visible wrists; 6 (footsteps): of the visible ankles. Where none of a group is
    visible, the box's centre column. Other classes: NaN.
    """
    keypoints = np.asarray(keypoints, np.float64).reshape(-1, len(COCO_KEYPOINTS), 3)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(keypoints) != len(boxes):
        raise ValueError(f"{len(keypoints)} keypoint sets for {len(boxes)} boxes")
    centre = (boxes[:, 0] + boxes[:, 2]) / 2.0
    out = np.full((len(boxes), N_CLASSES), np.nan)
    for cls, group in KEYPOINTS_OF_CLASS.items():
        kp = keypoints[:, list(group)]
        visible = kp[..., 2] > 0
        n = visible.sum(axis=1)
        mean_x = np.where(visible, kp[..., 0], 0.0).sum(axis=1) / np.maximum(n, 1)
        out[:, cls] = azimuth_of_column(np.where(n > 0, mean_x, centre), width)
    return out


def keypointrcnn_weights_path() -> Path:
    """Where torchvision caches ``KeypointRCNN_ResNet50_FPN_Weights.COCO_V1``:
    ``<torch hub dir>/checkpoints/<file name of its URL>`` (the hub dir read at call time)."""
    import torch
    import torchvision

    url = torchvision.models.detection.KeypointRCNN_ResNet50_FPN_Weights.COCO_V1.url
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


class KeypointRcnnDetector:
    """People with 17 COCO keypoints: torchvision's Keypoint R-CNN (ResNet-50 FPN, COCO_V1 weights).

    Azimuths follow :func:`person_azimuths`; a keypoint counts as visible when its score (torchvision's
    ``keypoints_scores``, the keypoint heatmap's peak logit; the third keypoint column torchvision
    returns is always 1) exceeds ``keypoint_threshold``. Stored keypoints carry that 0/1 visibility.

    Args:
        weights: state-dict file; None: :func:`keypointrcnn_weights_path`. Absent: :class:`DetectorUnavailable`.
            A torchvision file name's SHA-256 prefix is verified.
        model: a ready ``KeypointRCNN`` instead of the weights (tests); ``min_size``/``max_size`` are then its own.
        score_threshold: people with a lower box score are dropped.
        keypoint_threshold: see above.
        min_size, max_size: the model's internal resize (torchvision's defaults 800 / 1333).
        batch_size: frames per forward pass.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
    """

    def __init__(
        self,
        name: str = "keypointrcnn",
        weights: str | Path | None = None,
        model=None,
        score_threshold: float = 0.8,
        keypoint_threshold: float = 0.0,
        min_size: int = 800,
        max_size: int = 1333,
        batch_size: int = 4,
        device: str | torch.device = "cpu",
    ) -> None:
        import torch

        from seldlib.device import resolve_device

        self.name = str(name)
        self.device = resolve_device(device)
        self.score_threshold, self.keypoint_threshold = float(score_threshold), float(keypoint_threshold)
        self.batch_size = max(1, int(batch_size))
        self.weights: Path | None = None
        self.weights_sha256: str | None = None
        if model is None:
            from torchvision.models.detection import keypointrcnn_resnet50_fpn

            path = Path(weights) if weights is not None else keypointrcnn_weights_path()
            if not path.is_file():
                raise DetectorUnavailable(path, "torchvision KeypointRCNN_ResNet50_FPN_Weights.COCO_V1")
            self.weights_sha256 = check_hash_prefix(path)
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad input file
                raise SeldInputError(path, f"cannot load weights ({type(err).__name__}: {err})") from None
            # no pretrained backbone: plain BatchNorm, which in eval mode is the frozen one of the file
            model = keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None, min_size=int(min_size),
                                              max_size=int(max_size))
            try:
                model.load_state_dict(state)
            except (RuntimeError, TypeError, AttributeError) as err:
                first = str(err).strip().splitlines()[0]
                raise SeldInputError(path, f"not a Keypoint R-CNN ResNet-50 FPN state dict ({first})") from None
            self.weights = path
        self.model = model.eval().to(self.device)
        self.covered = _covered(HUMAN_CLASSES)

    def meta(self) -> dict:
        return {"kind": "keypointrcnn", "weights": None if self.weights is None else str(self.weights),
                "weights_sha256_prefix": self.weights_sha256, "score_threshold": self.score_threshold,
                "keypoint_threshold": self.keypoint_threshold,
                "min_size": list(self.model.transform.min_size), "max_size": self.model.transform.max_size}

    def detect(self, frames: np.ndarray, times: np.ndarray) -> ClipDetections:
        """People on key frames ``uint8 (K, H, W, 3)`` at ``times`` ``(K,)`` s."""
        import torch

        frames, times = _check_frames(frames, times)
        height, width = frames.shape[1:3]
        idx, boxes, scores, kps = [], [], [], []
        with torch.inference_mode():
            for start in range(0, len(frames), self.batch_size):
                chunk = torch.from_numpy(np.ascontiguousarray(frames[start : start + self.batch_size]))
                # (B, H, W, 3) uint8 -> list of (3, H, W) float in [0, 1], the model's input
                images = list(chunk.to(self.device).permute(0, 3, 1, 2).float().div_(255.0))
                for k, out in enumerate(self.model(images), start):
                    keep = (out["scores"] >= self.score_threshold) & (out["labels"] == 1)
                    kp = out["keypoints"][keep].double().cpu().numpy()
                    kp[..., 2] = (out["keypoints_scores"][keep] > self.keypoint_threshold).cpu().numpy()
                    idx += [k] * int(keep.sum())
                    boxes.append(out["boxes"][keep].double().cpu().numpy())
                    scores.append(out["scores"][keep].double().cpu().numpy())
                    kps.append(kp)
        if not idx:
            empty = ClipDetections.empty(times, width, height)
            empty.keypoints = np.zeros((0, len(COCO_KEYPOINTS), 3))
            return empty
        box, kp = np.concatenate(boxes), np.concatenate(kps)
        return ClipDetections(times, idx, box, np.concatenate(scores), ["person"] * len(box),
                              person_azimuths(kp, box, width), width, height, keypoints=kp)


# --------------------------------------------------------------------------------------------
# Grounding DINO objects (transformers)
# --------------------------------------------------------------------------------------------

DEFAULT_GROUNDING_DINO_DIR = Path("weights") / "grounding-dino-tiny"


def default_grounding_dino_dir() -> Path:
    """``weights/grounding-dino-tiny``, relative to the working directory (the repository root, where
    the stages run; git ignores ``/weights/``): where the weights command saves the model and where the
    detector looks when its ``weights`` is null."""
    return DEFAULT_GROUNDING_DINO_DIR


def _normalise_prompt(text: str) -> str:
    """Lower case, single spaces, ending in a full stop (Grounding DINO's phrase separator)."""
    text = " ".join(str(text).lower().split())
    return text if text.endswith(".") else text + "."


class GroundingDinoDetector:
    """Open-vocabulary objects: Grounding DINO (Liu et al., 2023) through 🤗 transformers.

    All prompts go into one text per image: the distinct prompt texts joined by spaces, in class order
    (classes with the same text, e.g. door and knock, share it and every box it gets). The library's
    post-processing (``post_process_grounded_object_detection``) keeps the queries whose best token
    probability exceeds ``box_threshold`` and names each by the tokens above ``text_threshold``
    (its phrase, stored as the label). The class of a box is then read from the token positions rather
    than from the phrase's words, since a phrase may join tokens of several prompts: the box belongs to
    the prompt holding its most probable token (full stops excluded), if that probability exceeds
    ``text_threshold`` (else the box is dropped), and the box's score is that probability. A box puts
    only its prompt's classes at ``azimuth_of_column((x1 + x2) / 2, W)``.

    Args:
        weights: a folder saved by ``save_pretrained`` / the weights command (None:
            :func:`default_grounding_dino_dir`); its ``SHA256SUMS`` is verified when present. Absent:
            :class:`DetectorUnavailable`.
        model, processor: ready ``GroundingDinoForObjectDetection`` and ``GroundingDinoProcessor``
            instead of the folder (tests).
        prompts: class index -> prompt text (default :data:`DEFAULT_PROMPTS`).
        box_threshold, text_threshold: see above (the original demo's 0.35 / 0.25 by default).
        batch_size: images per forward pass.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``; on CUDA the model runs under bfloat16 autocast.

    Attributes:
        text: the one text every image gets.
        prompt_texts, prompt_classes: the distinct prompts in ``text`` order and the classes of each.
        token_owner: ``(T,)`` int, per token of ``text`` the index of its prompt, -1 for special
            tokens and full stops.
    """

    def __init__(
        self,
        name: str = "grounding_dino",
        weights: str | Path | None = None,
        model=None,
        processor=None,
        prompts: dict[int, str] | None = None,
        box_threshold: float = 0.35,
        text_threshold: float = 0.25,
        batch_size: int = 4,
        device: str | torch.device = "cpu",
    ) -> None:
        self.name = str(name)
        self.box_threshold, self.text_threshold = float(box_threshold), float(text_threshold)
        self.batch_size = max(1, int(batch_size))
        self.weights: Path | None = None
        self.weights_sha256: str | None = None
        if (model is None) != (processor is None):
            raise ValueError("give both model and processor, or neither")
        if model is None:
            folder = Path(weights) if weights is not None else default_grounding_dino_dir()
            if not (folder / "config.json").is_file():
                raise DetectorUnavailable(folder, "a Grounding DINO folder with config.json")
            # imported only when the weights are there: transformers takes seconds to import
            from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

            self.weights_sha256 = verify_sha256sums(folder)
            try:
                processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
                model = AutoModelForZeroShotObjectDetection.from_pretrained(folder, local_files_only=True)
            except (OSError, ValueError, KeyError) as err:
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise SeldInputError(folder, f"cannot load Grounding DINO ({first})") from None
            self.weights = folder
        from seldlib.device import resolve_device  # after the weights check: a skipped detector never imports torch

        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.processor = processor
        self._set_prompts(DEFAULT_PROMPTS if prompts is None else prompts)

    def _set_prompts(self, prompts: dict[int, str]) -> None:
        texts: dict[str, list[int]] = {}
        for cls in sorted(int(c) for c in prompts):
            if not 0 <= cls < N_CLASSES:
                raise SeldInputError(None, f"prompt for class {cls}: classes are 0..{N_CLASSES - 1}")
            text = _normalise_prompt(prompts[cls] if cls in prompts else prompts[str(cls)])
            if not text.strip(". "):
                raise SeldInputError(None, f"prompt for class {cls} is empty")
            texts.setdefault(text, []).append(cls)
        if not texts:
            raise SeldInputError(None, "no prompts: Grounding DINO needs at least one class prompt")
        self.prompts = {cls: text for text, classes in texts.items() for cls in classes}
        self.prompt_texts = list(texts)
        self.prompt_classes = [texts[t] for t in self.prompt_texts]
        self.text = " ".join(self.prompt_texts)
        spans, pos = [], 0
        for t in self.prompt_texts:
            spans.append((pos, pos + len(t)))
            pos += len(t) + 1
        tok = self.processor.tokenizer(self.text, return_offsets_mapping=True)
        self._input_ids = list(tok["input_ids"])
        limit = getattr(self.model.config, "max_text_len", None)
        if limit is not None and len(self._input_ids) > limit:
            raise SeldInputError(None, f"the prompts take {len(self._input_ids)} tokens, the model reads {limit}")
        # token -> prompt index (-1: special tokens and full stops, which name no object)
        owner = np.full(len(self._input_ids), -1, np.int64)
        for i, (a, b) in enumerate(tok["offset_mapping"]):
            if b > a and self.text[a:b].strip(".") != "":
                owner[i] = next(p for p, (s, e) in enumerate(spans) if s <= a < e)
        if not np.any(owner >= 0):
            raise SeldInputError(None, "the tokenizer finds no word in the prompts")
        self.token_owner = owner
        self.covered = _covered(self.prompts)

    def meta(self) -> dict:
        return {"kind": "grounding_dino", "weights": None if self.weights is None else str(self.weights),
                "weights_sha256sums": self.weights_sha256, "box_threshold": self.box_threshold,
                "text_threshold": self.text_threshold, "text": self.text,
                "prompts": {str(c): t for c, t in sorted(self.prompts.items())}}

    def classify_tokens(self, probs: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Token probabilities ``(Q, T)`` of kept queries -> prompt index ``(Q,)`` (-1: none above
        ``text_threshold``) and that prompt's best probability ``(Q,)``."""
        p = probs[:, : len(self.token_owner)].float().cpu().numpy()
        best = np.full((len(p), len(self.prompt_texts)), -np.inf)
        for j in range(len(self.prompt_texts)):
            cols = np.flatnonzero(self.token_owner == j)
            best[:, j] = p[:, cols].max(axis=1)
        which = best.argmax(axis=1) if len(p) else np.zeros(0, np.int64)
        score = best[np.arange(len(p)), which]
        return np.where(score > self.text_threshold, which, -1), score

    def detect(self, frames: np.ndarray, times: np.ndarray) -> ClipDetections:
        """Objects on key frames ``uint8 (K, H, W, 3)`` at ``times`` ``(K,)`` s."""
        import torch

        frames, times = _check_frames(frames, times)
        height, width = frames.shape[1:3]
        idx, boxes, scores, labels, owners = [], [], [], [], []
        cuda = self.device.type == "cuda"
        for start in range(0, len(frames), self.batch_size):
            chunk = list(frames[start : start + self.batch_size])
            inputs = self.processor(images=chunk, text=[self.text] * len(chunk), return_tensors="pt")
            if inputs["input_ids"].shape[1] != len(self._input_ids) or \
                    inputs["input_ids"][0].tolist() != self._input_ids:
                raise SeldInputError(None, "the processor tokenises the prompts differently from its tokenizer")
            inputs = inputs.to(self.device)
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                outputs = self.model(**inputs)
            outputs.logits = outputs.logits.float()
            outputs.pred_boxes = outputs.pred_boxes.float()
            results = self.processor.post_process_grounded_object_detection(
                outputs, input_ids=inputs["input_ids"], threshold=self.box_threshold,
                text_threshold=self.text_threshold, target_sizes=[(height, width)] * len(chunk))
            probs = outputs.logits.sigmoid()
            for k, (res, prob) in enumerate(zip(results, probs), start):
                kept = prob[prob.max(dim=-1).values > self.box_threshold]  # the queries the library kept
                if len(kept) != len(res["boxes"]):
                    raise RuntimeError("post_process_grounded_object_detection kept other queries than expected")
                which, score = self.classify_tokens(kept)
                ok = which >= 0
                idx += [k] * int(ok.sum())
                boxes.append(res["boxes"].double().cpu().numpy()[ok])
                scores.append(score[ok])
                owners.append(which[ok])
                phrases = res["text_labels"] if "text_labels" in res else res["labels"]  # "labels": before 4.51
                labels += [" ".join(str(phrases[i]).split()) or self.prompt_texts[which[i]]
                           for i in np.flatnonzero(ok)]
        if not idx:
            return ClipDetections.empty(times, width, height)
        box, owner = np.concatenate(boxes), np.concatenate(owners)
        centre = azimuth_of_column((box[:, 0] + box[:, 2]) / 2.0, width)
        azimuth = np.full((len(box), N_CLASSES), np.nan)
        for m, j in enumerate(owner):
            azimuth[m, self.prompt_classes[j]] = centre[m]
        return ClipDetections(times, idx, box, np.concatenate(scores), labels, azimuth, width, height)


# --------------------------------------------------------------------------------------------
# Building and running
# --------------------------------------------------------------------------------------------

# the keys each kind takes besides `kind` (its constructor arguments that a params entry may set)
DETECTOR_PARAMS: dict[str, tuple[str, ...]] = {
    "haar": ("weights", "cascades", "scale_factor", "min_neighbors", "min_size", "upscale", "mirror", "overlap",
             "score_half"),
    "keypointrcnn": ("weights", "score_threshold", "keypoint_threshold", "min_size", "max_size", "batch_size"),
    "grounding_dino": ("weights", "prompts", "box_threshold", "text_threshold", "batch_size"),
}


def build_detector(cfg: dict, device: str = "cpu", name: str | None = None):
    """The detector a ``detect.<name>`` params entry describes: ``{kind: haar | keypointrcnn |
    grounding_dino, weights: <path or null>, ...}`` (the other keys are the class's arguments).

    Raises :class:`DetectorUnavailable` (its ``reason`` is ``"skipped: no weights at PATH"``) when the
    weights are absent, :class:`SeldInputError` for a bad entry.
    """
    where = f"detect.{name}" if name else "detector entry"
    if not isinstance(cfg, dict) or cfg.get("kind") not in DETECTOR_KINDS:
        kind = cfg.get("kind") if isinstance(cfg, dict) else cfg
        raise SeldInputError(None, f"{where}: kind must be one of {', '.join(DETECTOR_KINDS)}, got {kind!r}")
    kind = cfg["kind"]
    args = {k: v for k, v in cfg.items() if k != "kind"}
    unknown = sorted(set(args) - set(DETECTOR_PARAMS[kind]))
    if unknown:
        raise SeldInputError(None, f"{where}: unknown key(s) {', '.join(unknown)}; {kind} takes "
                                   f"{', '.join(DETECTOR_PARAMS[kind])}")
    if kind == "haar":
        return HaarFaceDetector(name=name or kind, **args)
    if kind == "keypointrcnn":
        return KeypointRcnnDetector(name=name or kind, device=device, **args)
    if args.get("prompts") is not None:
        prompts = args["prompts"]
        if not isinstance(prompts, dict) or not all(str(c).strip().isdigit() for c in prompts):
            raise SeldInputError(None, f"{where}.prompts: expected a mapping of class index (0..12) to prompt text")
        args["prompts"] = {int(c): str(t) for c, t in prompts.items()}
    return GroundingDinoDetector(name=name or kind, device=device, **args)


def skipped_store(name: str, reason: str, covered: np.ndarray | None = None,
                  meta: dict | None = None) -> DetectionStore:
    """A store for a detector that could not run (``reason``: ``"skipped: ..."``): no clips, covers nothing."""
    if not reason.startswith("skipped"):
        raise ValueError(f"a skipped store's status starts with 'skipped', not {reason!r}")
    return DetectionStore(name, reason, np.zeros(N_CLASSES, bool) if covered is None else np.asarray(covered, bool),
                          {}, dict(meta or {}))


def key_frame_times(key_fps: float, clip_seconds: float = CLIP_SECONDS) -> np.ndarray:
    """``(round(clip_seconds * key_fps),)`` key-frame times ``k / key_fps`` s."""
    if not key_fps > 0:
        raise ValueError(f"key_fps must be positive, got {key_fps!r}")
    return np.arange(int(round(clip_seconds * key_fps)), dtype=np.float64) / float(key_fps)


def detect_clips(detector, videos: dict[str, Path], key_fps: float, progress: bool = True) -> DetectionStore:
    """Run ``detector`` on the key frames of every clip ``{name: mp4 path}`` (5-s clips; any resolution).

    Key frame ``k`` is the decoded frame nearest ``k / key_fps`` s (``seldlib.media.decode_frames``);
    the next clip is decoded in a thread while the detector works.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    from seldlib.media import decode_frames

    times = key_frame_times(key_fps)
    names = sorted(videos)
    decode = lambda name: decode_frames(videos[name], n_label_frames=len(times), hop_s=1.0 / key_fps)  # noqa: E731
    clips: dict[str, ClipDetections] = {}
    with ThreadPoolExecutor(max_workers=1) as pool, \
            tqdm(total=len(names), desc=f"detect {detector.name}", unit="clip", disable=not progress) as bar:
        pending = pool.submit(decode, names[0]) if names else None
        for i, name in enumerate(names):
            frames = pending.result()
            pending = pool.submit(decode, names[i + 1]) if i + 1 < len(names) else None
            clips[name] = detector.detect(frames, times)
            bar.update(1)
    meta = {**detector.meta(), "key_fps": float(key_fps)}
    return DetectionStore(detector.name, STATUS_OK, np.asarray(detector.covered, bool), clips, meta)
