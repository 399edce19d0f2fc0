"""Visual detectors (real OpenCV, torchvision and transformers classes, random or tiny weights), the
detection store, the detect stage and the weights checksums. Nothing is downloaded."""

from __future__ import annotations

import hashlib
import math
import threading
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import numpy as np
import pytest
import skimage.data
import torch

from seldlib.detection import (
    HUMAN_CLASSES,
    SHA256SUMS,
    ClipDetections,
    DetectionStore,
    DetectorUnavailable,
    GroundingDinoDetector,
    HaarFaceDetector,
    KeypointRcnnDetector,
    build_detector,
    check_hash_prefix,
    detect_clips,
    keypointrcnn_weights_path,
    person_azimuths,
    read_detection_store,
    skipped_store,
    verify_sha256sums,
    write_detection_store,
    write_sha256sums,
)
from seldlib.download.weights import download_hashed_file
from seldlib.errors import SeldInputError
from stages.detect import detect_stage

NON_HUMAN = [c for c in range(13) if c not in HUMAN_CLASSES]


def az_of(x: float, width: int) -> float:
    """The DCASE2025 camera by hand: f = (W/2) / tan 50 deg (268.51 px at 640 px)."""
    f = (width / 2) / math.tan(math.radians(50.0))
    return math.degrees(math.atan((width / 2 - x) / f))


# --------------------------------------------------------------------------------------------
# Haar faces
# --------------------------------------------------------------------------------------------

# The astronaut photo (512 x 512): the face spans columns ~185..265, eyes at ~200 and ~250, so its
# centre column is ~225 (read off the picture); the test paste keeps rows 20..260, columns 120..330
# (head and shoulders, 210 x 240 px).
FACE_X_IN_PHOTO = 225.0
CROP_ROWS, CROP_COLS = slice(20, 260), slice(120, 330)


def astronaut_frame(ox: int, oy: int, width: int = 640, height: int = 360) -> np.ndarray:
    frame = np.full((height, width, 3), 128, np.uint8)
    crop = skimage.data.astronaut()[CROP_ROWS, CROP_COLS]
    frame[oy : oy + crop.shape[0], ox : ox + crop.shape[1]] = crop
    return frame


def face_column(ox: int) -> float:
    return ox + FACE_X_IN_PHOTO - CROP_COLS.start


def test_haar_face_azimuth_mirror_and_blank() -> None:
    det = HaarFaceDetector()
    assert det.covered.tolist() == [c in HUMAN_CLASSES for c in range(13)]
    ox, oy = 30, 40
    frame = astronaut_frame(ox, oy)
    got = det.detect(frame[None], np.array([0.0]))
    assert len(got) == 1 and got.label == ["face"] and got.frame.tolist() == [0]
    expected = az_of(face_column(ox), 640)  # column 135: atan(185 / 268.51) = +34.57 deg, left of centre
    assert expected == pytest.approx(34.57, abs=0.01)
    for c in HUMAN_CLASSES:
        assert got.azimuth[0, c] == pytest.approx(expected, abs=1.0)
    assert np.isnan(got.azimuth[0, NON_HUMAN]).all()
    assert 0.0 < got.score[0] <= 1.0
    x1, y1, x2, y2 = got.box[0]
    assert ox <= x1 < x2 <= ox + 210 and oy <= y1 < y2 <= oy + 240

    mirrored = det.detect(frame[None, :, ::-1].copy(), np.array([0.0]))
    assert len(mirrored) == 1
    assert mirrored.azimuth[0, 0] == pytest.approx(-expected, abs=1.0)
    assert mirrored.azimuth[0, 0] == pytest.approx(-got.azimuth[0, 0], abs=1.0)

    blank = det.detect(np.full((2, 360, 640, 3), 128, np.uint8), np.array([0.0, 0.5]))
    assert len(blank) == 0 and blank.times.tolist() == [0.0, 0.5] and blank.azimuth.shape == (0, 13)


def test_haar_half_resolution_with_upscale_gives_the_same_azimuth() -> None:
    """A 320 x 180 frame: the face is ~48 px, found only with upscale 2; the azimuth scales with width."""
    import cv2

    ox = 330
    small = cv2.resize(astronaut_frame(ox, 40), (320, 180), interpolation=cv2.INTER_AREA)
    got = HaarFaceDetector(upscale=2.0).detect(small[None], np.zeros(1))
    assert len(got) == 1
    assert got.width == 320 and got.azimuth[0, 6] == pytest.approx(az_of(face_column(ox), 640), abs=1.0)
    assert got.azimuth[0, 6] < 0  # right of centre


def test_haar_several_cascades_and_mirror_merge_into_one_face() -> None:
    det = HaarFaceDetector(cascades=["haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml"],
                           mirror=True, min_neighbors=3)
    got = det.detect(astronaut_frame(200, 20)[None], np.zeros(1))
    assert len(got) == 1
    assert got.azimuth[0, 1] == pytest.approx(az_of(face_column(200), 640), abs=1.0)


def test_haar_missing_cascade_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DetectorUnavailable) as err:
        HaarFaceDetector(weights=tmp_path / "nowhere")
    assert err.value.reason == f"skipped: no weights at {tmp_path / 'nowhere'}"
    with pytest.raises(DetectorUnavailable):
        HaarFaceDetector(cascades=["no_such_cascade.xml"])
    (tmp_path / "bad.xml").write_text("<opencv_storage></opencv_storage>")
    with pytest.raises(SeldInputError, match="cascade"):
        HaarFaceDetector(weights=tmp_path, cascades=["bad.xml"])


# --------------------------------------------------------------------------------------------
# Keypoints -> azimuth
# --------------------------------------------------------------------------------------------

def _person(xs: dict[int, float], visible: set[int]) -> np.ndarray:
    kp = np.zeros((17, 3))
    for i, x in xs.items():
        kp[i] = (x, 100.0, 1.0 if i in visible else 0.0)
    return kp


def test_person_azimuths_head_wrists_ankles_and_fallback() -> None:
    # head: nose, eyes, ears = 0..4; wrists 9, 10; ankles 15, 16
    xs = {0: 100.0, 1: 90.0, 2: 110.0, 3: 80.0, 4: 150.0, 9: 200.0, 10: 220.0, 15: 300.0, 16: 340.0}
    everyone = _person(xs, set(xs))
    nobody = _person(xs, set())
    some = _person(xs, {3, 16})  # one ear, one ankle
    boxes = np.array([[50.0, 0, 450, 300], [400.0, 0, 600, 300], [0.0, 0, 100, 300]])
    az = person_azimuths(np.stack([everyone, nobody, some]), boxes, 640)
    assert az.shape == (3, 13)
    head = (100 + 90 + 110 + 80 + 150) / 5
    for c in (0, 1, 4):
        assert az[0, c] == pytest.approx(az_of(head, 640))
        assert az[1, c] == pytest.approx(az_of(500.0, 640))  # box centre
        assert az[2, c] == pytest.approx(az_of(80.0, 640))  # the one visible ear
    assert az[0, 2] == pytest.approx(az_of(210.0, 640))
    assert az[2, 2] == pytest.approx(az_of(50.0, 640))  # no wrist visible: box centre
    assert az[0, 6] == pytest.approx(0.0, abs=1e-12)  # ankles at 300 and 340: the optical axis
    assert az[2, 6] == pytest.approx(az_of(340.0, 640))
    assert np.isnan(az[:, NON_HUMAN]).all()
    # the same people in a frame twice as wide, at twice the x: the same azimuths
    wide = np.stack([everyone, nobody, some]).copy()
    wide[..., 0] *= 2
    assert np.allclose(person_azimuths(wide, boxes * 2, 1280), az, equal_nan=True)


# --------------------------------------------------------------------------------------------
# Keypoint R-CNN (random weights)
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def random_keypointrcnn():
    from torchvision.models.detection import keypointrcnn_resnet50_fpn

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None, min_size=128, max_size=256).eval()


def test_keypointrcnn_wrapper_matches_the_model(random_keypointrcnn) -> None:
    model = random_keypointrcnn
    frames = np.random.default_rng(1).integers(0, 256, (2, 144, 256, 3), dtype=np.uint8)
    with torch.inference_mode():
        raw = [model([torch.from_numpy(f).permute(2, 0, 1).float() / 255])[0] for f in frames]  # one at a time
    kp_scores = torch.cat([r["keypoints_scores"] for r in raw])
    assert len(kp_scores) > 0, "the random model found no boxes at all"
    # halfway between two neighbouring scores near the median: some keypoints are visible, some not,
    # and none sits on the threshold (batching may change a score in its last bits)
    ranked = kp_scores.flatten().sort().values
    kp_thr = float(ranked[len(ranked) // 2 : len(ranked) // 2 + 2].mean())
    det = KeypointRcnnDetector(model=model, score_threshold=0.0, keypoint_threshold=kp_thr, batch_size=2)
    got = det.detect(frames, np.array([0.0, 0.5]))
    assert got.keypoints.shape == (len(got), 17, 3) and got.label == ["person"] * len(got)
    assert got.frame.tolist() == sum(([k] * len(r["boxes"]) for k, r in enumerate(raw)), [])
    assert np.allclose(got.box, torch.cat([r["boxes"] for r in raw]).numpy(), atol=1e-3)
    assert np.allclose(got.score, torch.cat([r["scores"] for r in raw]).numpy(), atol=1e-5)
    vis = got.keypoints[..., 2]
    assert np.array_equal(vis, (kp_scores > kp_thr).numpy().astype(float))
    assert 0 < vis.sum() < vis.size
    # the rule, by hand, on what the wrapper returns
    for m in range(len(got)):
        centre = (got.box[m, 0] + got.box[m, 2]) / 2
        for c, group in ((0, [0, 1, 2, 3, 4]), (2, [9, 10]), (6, [15, 16])):
            seen = [got.keypoints[m, i, 0] for i in group if vis[m, i] > 0]
            x = sum(seen) / len(seen) if seen else centre
            assert got.azimuth[m, c] == pytest.approx(az_of(x, 256), abs=1e-6)
    assert np.isnan(got.azimuth[:, NON_HUMAN]).all()
    # a high score threshold keeps only the better people
    best = KeypointRcnnDetector(model=model, score_threshold=float(np.median(got.score))).detect(frames, np.zeros(2))
    assert 0 < len(best) < len(got) and (best.score >= np.median(got.score)).all()


def test_keypointrcnn_loads_a_state_dict_file_and_checks_its_hash(random_keypointrcnn, tmp_path: Path,
                                                                 monkeypatch) -> None:
    # torchvision's COCO file comes from FrozenBatchNorm layers: no num_batches_tracked entries
    state = {k: v for k, v in random_keypointrcnn.state_dict().items() if not k.endswith("num_batches_tracked")}
    tmp = tmp_path / "tmp.pth"
    torch.save(state, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    good = tmp_path / f"keypointrcnn_resnet50_fpn_coco-{digest[:8]}.pth"
    tmp.rename(good)
    det = KeypointRcnnDetector(weights=good, min_size=128, max_size=256)
    loaded = det.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    assert det.meta()["weights_sha256_prefix"] == digest[:8]

    bad = tmp_path / f"keypointrcnn_resnet50_fpn_coco-{'0' if digest[0] != '0' else '1'}{digest[1:8]}.pth"
    good.rename(bad)
    with pytest.raises(SeldInputError, match="SHA-256 does not start with"):
        KeypointRcnnDetector(weights=bad)

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    expected = tmp_path / "torch" / "hub" / "checkpoints" / "keypointrcnn_resnet50_fpn_coco-fc266e95.pth"
    assert keypointrcnn_weights_path() == expected
    with pytest.raises(DetectorUnavailable) as err:
        build_detector({"kind": "keypointrcnn", "weights": None}, name="people")
    assert err.value.reason == f"skipped: no weights at {expected}"


# --------------------------------------------------------------------------------------------
# Grounding DINO (tiny random model, real transformers classes)
# --------------------------------------------------------------------------------------------

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "a", "telephone", "mobile", "phone", "guitar", "piano",
         "door", "bell"]
PROMPTS = {3: "a telephone. a mobile phone.", 9: "a guitar. a piano.", 7: "a door.", 12: "A door"}


def tiny_grounding_dino(tmp_path: Path):
    from transformers import (BertConfig, BertTokenizer, GroundingDinoConfig, GroundingDinoForObjectDetection,
                              GroundingDinoImageProcessor, GroundingDinoProcessor, SwinConfig)

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(vocab=str(vocab))
    config = GroundingDinoConfig(
        backbone_config=SwinConfig(embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=4,
                                   image_size=64, out_indices=[2, 3, 4]),
        text_config=BertConfig(vocab_size=len(WORDS), hidden_size=16, num_hidden_layers=1, num_attention_heads=1,
                               intermediate_size=16, max_position_embeddings=64),
        use_timm_backbone=False, use_pretrained_backbone=False, d_model=32, encoder_layers=1, decoder_layers=2,
        encoder_ffn_dim=16, decoder_ffn_dim=16, encoder_attention_heads=2, decoder_attention_heads=2,
        num_queries=20, max_text_len=32, encoder_n_points=1, decoder_n_points=1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = GroundingDinoForObjectDetection(config).eval()
    processor = GroundingDinoProcessor(
        image_processor=GroundingDinoImageProcessor(size={"shortest_edge": 64, "longest_edge": 128}),
        tokenizer=tokenizer)
    return model, processor


@pytest.fixture
def tiny_gd(tmp_path: Path):
    return tiny_grounding_dino(tmp_path)


def test_grounding_dino_prompt_text_and_token_owners(tiny_gd) -> None:
    det = GroundingDinoDetector(model=tiny_gd[0], processor=tiny_gd[1], prompts=PROMPTS)
    # distinct prompts in class order; door (7) and knock (12) share one
    assert det.text == "a telephone. a mobile phone. a door. a guitar. a piano."
    assert det.prompt_classes == [[3], [7, 12], [9]]
    assert np.flatnonzero(det.covered).tolist() == [3, 7, 9, 12]
    # [CLS] a telephone . a mobile phone . a door . a guitar . a piano . [SEP]
    assert det.token_owner.tolist() == [-1, 0, 0, -1, 0, 0, 0, -1, 1, 1, -1, 2, 2, -1, 2, 2, -1, -1]
    probs = np.zeros((3, 32))
    probs[0, 12] = 0.9  # "guitar"
    probs[0, 2] = 0.5  # "telephone", less sure
    probs[1, [3, 7, 10]] = 0.99  # only full stops: names no object
    probs[2, 9] = 0.2  # "door", but below the text threshold 0.25
    which, score = det.classify_tokens(torch.tensor(probs))
    assert which.tolist() == [2, -1, -1] and score[0] == pytest.approx(0.9)


def test_grounding_dino_boxes_classes_and_azimuths(tiny_gd) -> None:
    model, processor = tiny_gd
    frames = np.random.default_rng(2).integers(0, 256, (3, 90, 160, 3), dtype=np.uint8)
    times = np.array([0.0, 0.5, 1.0])
    det = GroundingDinoDetector(model=model, processor=processor, prompts=PROMPTS, box_threshold=0.3,
                                text_threshold=0.3, batch_size=2)
    got = det.detect(frames, times)
    assert len(got) > 0, "the random model kept no query at these thresholds"
    assert got.width == 160 and got.height == 90
    assert (got.score > 0.3).all() and (got.score <= 1).all()
    for m in range(len(got)):
        classes = set(np.flatnonzero(np.isfinite(got.azimuth[m])).tolist())
        assert classes in ({3}, {7, 12}, {9})  # one prompt's classes, never another class
        x = (got.box[m, 0] + got.box[m, 2]) / 2
        for c in classes:
            assert got.azimuth[m, c] == pytest.approx(az_of(x, 160), abs=1e-6)
    assert (got.box[:, [0, 2]] >= -1e-3).all() and (got.box[:, [0, 2]] <= 160 + 1e-3).all()
    one_by_one = GroundingDinoDetector(model=model, processor=processor, prompts=PROMPTS, box_threshold=0.3,
                                       text_threshold=0.3, batch_size=1).detect(frames, times)
    assert np.array_equal(one_by_one.frame, got.frame)
    assert np.allclose(one_by_one.box, got.box, atol=1e-3) and one_by_one.label == got.label
    only_phones = GroundingDinoDetector(model=model, processor=processor, prompts={3: "a telephone."},
                                        box_threshold=0.3, text_threshold=0.3).detect(frames, times)
    assert np.flatnonzero(np.isfinite(only_phones.azimuth).any(axis=0)).tolist() in ([], [3])


def test_grounding_dino_loads_a_folder_and_verifies_sha256sums(tiny_gd, tmp_path: Path) -> None:
    model, processor = tiny_gd
    folder = tmp_path / "gd"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    write_sha256sums(folder)
    frames = np.random.default_rng(3).integers(0, 256, (1, 90, 160, 3), dtype=np.uint8)
    cfg = {"kind": "grounding_dino", "weights": str(folder), "prompts": {"3": "a telephone.", 9: "a guitar."},
           "box_threshold": 0.3, "text_threshold": 0.3}
    det = build_detector(cfg, name="objects")
    assert det.name == "objects" and det.meta()["weights_sha256sums"] == hashlib.sha256(
        (folder / SHA256SUMS).read_bytes()).hexdigest()
    ref = GroundingDinoDetector(model=model, processor=processor, prompts={3: "a telephone.", 9: "a guitar."},
                                box_threshold=0.3, text_threshold=0.3).detect(frames, np.zeros(1))
    got = det.detect(frames, np.zeros(1))
    assert np.allclose(got.box, ref.box, atol=1e-4) and got.label == ref.label

    with open(folder / "config.json", "a", encoding="utf-8") as fh:
        fh.write("\n")
    with pytest.raises(SeldInputError, match="SHA-256 differs"):
        build_detector(cfg)
    with pytest.raises(DetectorUnavailable) as err:
        build_detector({**cfg, "weights": str(tmp_path / "none")})
    assert err.value.reason == f"skipped: no weights at {tmp_path / 'none'}"


# --------------------------------------------------------------------------------------------
# Store, builder, stage
# --------------------------------------------------------------------------------------------

def test_store_round_trip_with_keypoints(tmp_path: Path) -> None:
    kp = np.random.default_rng(4).uniform(0, 300, (2, 17, 3))
    kp[..., 2] = kp[..., 2] > 150
    az = np.full((2, 13), np.nan)
    az[:, HUMAN_CLASSES] = [[10.0], [-20.5]]
    people = ClipDetections(np.array([0.0, 0.5]), [0, 1], [[1, 2, 3, 4], [5, 6, 7, 8.5]], [0.9, 0.85],
                            ["person", "person"], az, 640, 360, keypoints=kp)
    nothing = ClipDetections.empty(np.array([0.0, 0.5]), 320, 180)
    nobody = ClipDetections(np.array([0.0]), [], np.zeros((0, 4)), [], [], np.zeros((0, 13)), 640, 360,
                            keypoints=np.zeros((0, 17, 3)))
    covered = np.zeros(13, bool)
    covered[list(HUMAN_CLASSES)] = True
    store = DetectionStore("people", "ok", covered, {"b": people, "a": nothing, "c": nobody}, {"key_fps": 2.0, "thr": [1, 2]})
    path = tmp_path / "people.h5"
    write_detection_store(path, store)
    back = read_detection_store(path)
    assert (back.detector, back.status, back.meta, back.ok) == ("people", "ok", store.meta, True)
    assert np.array_equal(back.covered, covered) and sorted(back.clips) == ["a", "b", "c"]
    b = back.clips["b"]
    for key in ("times", "frame", "box", "score", "keypoints"):
        assert np.array_equal(getattr(b, key), getattr(people, key))
    assert np.array_equal(b.azimuth, az, equal_nan=True) and b.label == ["person", "person"]
    assert (b.width, b.height) == (640, 360)
    a = back.clips["a"]
    assert len(a) == 0 and a.keypoints is None and (a.width, a.height) == (320, 180)
    assert len(back.clips["c"]) == 0 and back.clips["c"].keypoints.shape == (0, 17, 3)

    skipped = skipped_store("objects", "skipped: no weights at /x")
    write_detection_store(tmp_path / "s.h5", skipped)
    back = read_detection_store(tmp_path / "s.h5")
    assert back.status == "skipped: no weights at /x" and not back.ok and back.clips == {} and not back.covered.any()


def test_build_detector_rejects_bad_entries() -> None:
    with pytest.raises(SeldInputError, match="detect.x: kind must be one of haar, keypointrcnn, grounding_dino"):
        build_detector({"kind": "yolo"}, name="x")
    with pytest.raises(SeldInputError, match="unknown key.*threshold"):
        build_detector({"kind": "haar", "threshold": 0.5}, name="faces")
    with pytest.raises(SeldInputError, match="detect.objects.prompts: expected a mapping of class index"):
        build_detector({"kind": "grounding_dino", "prompts": {"door": "a door."}}, name="objects")
    det = build_detector({"kind": "haar", "weights": None, "min_neighbors": 3}, name="faces")
    assert isinstance(det, HaarFaceDetector) and det.name == "faces" and det.min_neighbors == 3


def _write_video(path: Path, frame: np.ndarray, fps: int = 10, seconds: float = 5.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = frame.shape[1], frame.shape[0], "yuv420p"
        stream.options = {"crf": "18", "preset": "ultrafast"}
        for i in range(int(fps * seconds)):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts, vf.time_base = i, 1 / rate
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def _dataset(root: Path, ox: int) -> None:
    """DCASE layout, embedded source: a test clip with the astronaut, one without video, a blank val clip."""
    for split, stem in (("dev-test-sim", "fold4_room1_mix001"), ("dev-test-sim", "fold4_room1_mix002"),
                        ("dev-val-sim", "fold3_room9_mix001")):
        (root / "stereo_dev" / split).mkdir(parents=True, exist_ok=True)
        (root / "stereo_dev" / split / f"{stem}.wav").write_bytes(b"")  # the stage never reads the audio
    _write_video(root / "video_dev" / "dev-test-sim" / "fold4_room1_mix001.mp4", astronaut_frame(ox, 40))
    _write_video(root / "video_dev" / "dev-val-sim" / "fold3_room9_mix001.mp4", np.full((360, 640, 3), 128, np.uint8))


VALIDATION = {"source": "heldout", "fraction": 0.1, "seed": 31}


def test_detect_stage_writes_a_store(tmp_path: Path) -> None:
    ox = 300
    _dataset(tmp_path / "dataset", ox)
    line = detect_stage("faces", {"kind": "haar"}, 2.0, "synth-mini", VALIDATION, tmp_path / "dataset",
                        tmp_path / "detections", progress=False)
    assert "1 clips without video" in line
    store = read_detection_store(tmp_path / "detections" / "faces.h5")
    assert store.ok and store.detector == "faces" and store.meta["key_fps"] == 2.0
    assert sorted(store.clips) == ["fold3_room9_mix001", "fold4_room1_mix001"]
    clip = store.clips["fold4_room1_mix001"]
    assert np.allclose(clip.times, np.arange(10) * 0.5)
    assert clip.frame.tolist() == list(range(10))  # the face on every key frame
    assert np.allclose(clip.azimuth[:, 0], az_of(face_column(ox), 640), atol=1.0)
    assert len(store.clips["fold3_room9_mix001"]) == 0

    line = detect_stage("faces", {"kind": "haar"}, 2.0, "synth-mini", None, tmp_path / "dataset",
                        tmp_path / "test_only", progress=False)
    assert "test clips only" in line
    assert sorted(read_detection_store(tmp_path / "test_only" / "faces.h5").clips) == ["fold4_room1_mix001"]


def test_detect_stage_without_weights_records_skipped(tmp_path: Path) -> None:
    _dataset(tmp_path / "dataset", 100)
    missing = tmp_path / "weights" / "people.pth"
    line = detect_stage("people", {"kind": "keypointrcnn", "weights": str(missing)}, 2.0, "synth-mini", VALIDATION,
                        tmp_path / "dataset", tmp_path / "detections", progress=False)
    assert f"skipped: no weights at {missing}" in line
    store = read_detection_store(tmp_path / "detections" / "people.h5")
    assert store.status == f"skipped: no weights at {missing}" and store.clips == {} and not store.ok


def test_detect_clips_decodes_key_frames_at_any_key_rate(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    _write_video(video, astronaut_frame(30, 40)[::2, ::2].copy())  # 320 x 180
    store = detect_clips(HaarFaceDetector(upscale=2.0), {"c": video}, key_fps=1.0, progress=False)
    clip = store.clips["c"]
    assert clip.times.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and (clip.width, clip.height) == (320, 180)
    assert np.allclose(clip.azimuth[:, 2], az_of(face_column(30), 640), atol=1.5)


# --------------------------------------------------------------------------------------------
# Weights checksums and download
# --------------------------------------------------------------------------------------------

def test_sha256sums_written_and_verified(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "sub" / "w.bin").write_bytes(b"\x00\x01")
    (tmp_path / ".hidden").write_text("x")
    assert verify_sha256sums(tmp_path) is None  # no list: nothing to check
    sums = write_sha256sums(tmp_path)
    assert sums.read_text() == (f"{hashlib.sha256(b'{}').hexdigest()}  config.json\n"
                                f"{hashlib.sha256(bytes([0, 1])).hexdigest()}  sub/w.bin\n")
    assert verify_sha256sums(tmp_path) == hashlib.sha256(sums.read_bytes()).hexdigest()
    (tmp_path / "sub" / "w.bin").write_bytes(b"\x00\x02")
    with pytest.raises(SeldInputError, match="w.bin: SHA-256 differs"):
        verify_sha256sums(tmp_path)
    (tmp_path / "sub" / "w.bin").unlink()
    with pytest.raises(SeldInputError, match="missing"):
        verify_sha256sums(tmp_path)
    sums.write_text("not a checksum line\n")
    with pytest.raises(SeldInputError, match="line 1"):
        verify_sha256sums(tmp_path)


class _Server:
    """A few files over HTTP on 127.0.0.1."""

    def __init__(self, files: dict[str, bytes]):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_download_hashed_file_checks_the_name_prefix(tmp_path: Path) -> None:
    data = b"pretend weights " * 1000
    prefix = hashlib.sha256(data).hexdigest()[:8]
    wrong = ("1" if prefix[0] != "1" else "2") + prefix[1:]
    server = _Server({f"/m/net-{prefix}.pth": data, f"/m/net-{wrong}.pth": data, "/m/plain.pth": data})
    try:
        got = download_hashed_file(f"{server.url}/m/net-{prefix}.pth", tmp_path / "ckpt", progress=False)
        assert got == tmp_path / "ckpt" / f"net-{prefix}.pth" and got.read_bytes() == data
        assert check_hash_prefix(got) == prefix
        with pytest.raises(SeldInputError, match=f"does not start with {wrong}"):
            download_hashed_file(f"{server.url}/m/net-{wrong}.pth", tmp_path / "ckpt", progress=False)
        assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [f"net-{prefix}.pth"]  # nothing kept
        with pytest.raises(SeldInputError, match="no SHA-256 prefix"):
            download_hashed_file(f"{server.url}/m/plain.pth", tmp_path / "ckpt", progress=False)
        with pytest.raises(SeldInputError, match="HTTP 404"):
            download_hashed_file(f"{server.url}/m/gone-{prefix}.pth", tmp_path / "ckpt", progress=False)
    finally:
        server.close()
