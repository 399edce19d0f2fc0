"""Which split folders play which role for each data source (the one switch ``data.source``)."""

from __future__ import annotations

# role -> split folders. "synth" is the extra synthetic training split the pipeline generates.
SPLITS: dict[str, dict[str, list[str]]] = {
    "synth-mini": {"train": ["dev-train-sim"], "test": ["dev-test-sim"], "synth": ["dev-train-synth"]},
    "dcase2025": {
        "train": ["dev-train-tau", "dev-train-sony"],
        "test": ["dev-test-tau", "dev-test-sony"],
        "synth": ["dev-train-synth"],
    },
}
TRAIN_ROLES = ("train", "synth")
VIDEO_ROLES = ("train", "test")


def splits_for(source: str, role: str) -> list[str]:
    """Split folder names of ``role`` ("train", "test" or "synth") for data ``source``."""
    if source not in SPLITS:
        raise ValueError(f"unknown data source {source!r}; expected one of {sorted(SPLITS)}")
    if role not in SPLITS[source]:
        raise ValueError(f"unknown role {role!r}; expected one of {sorted(SPLITS[source])}")
    return list(SPLITS[source][role])
