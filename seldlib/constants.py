"""The DCASE2025 Task 3 data contract: classes, rates and frame grids."""

from __future__ import annotations

CLASS_NAMES: tuple[str, ...] = (
    "Female speech, woman speaking",
    "Male speech, man speaking",
    "Clapping",
    "Telephone",
    "Laughter",
    "Domestic sounds",
    "Walk, footsteps",
    "Door, open or close",
    "Music",
    "Musical instrument",
    "Water tap, faucet",
    "Bell",
    "Knock",
)
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(CLASS_NAMES)}
N_CLASSES = len(CLASS_NAMES)

SAMPLE_RATE = 24_000
N_CHANNELS = 2
CLIP_SECONDS = 5.0
CLIP_SAMPLES = int(SAMPLE_RATE * CLIP_SECONDS)  # 120000

LABEL_HOP_SECONDS = 0.1
N_LABEL_FRAMES = int(round(CLIP_SECONDS / LABEL_HOP_SECONDS))  # 50

FEATURE_HOP_SECONDS = 0.02
FEATURE_HOP_SAMPLES = int(round(SAMPLE_RATE * FEATURE_HOP_SECONDS))  # 480
N_FEATURE_FRAMES = CLIP_SAMPLES // FEATURE_HOP_SAMPLES + 1  # 251 (centred STFT)

# Multi-ACCDOA / ADPIT: 3 output tracks, 6 dummy slots (A0, B0, B1, C0, C1, C2).
N_TRACKS = 3
N_ADPIT_SLOTS = 6

CSV_HEADER = ("frame", "class", "source", "azimuth", "distance", "onscreen")

# Perspective camera of the DCASE2025 video.
VIDEO_WIDTH = 640
VIDEO_HEIGHT = 360
VIDEO_HFOV_DEG = 100.0

SPLITS_DEV = ("dev-train-tau", "dev-train-sony", "dev-train-synth", "dev-test-tau", "dev-test-sony")
