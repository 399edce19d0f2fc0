"""Which clips play which role for each data source (the one switch ``data.source``), and the
validation split that selects models (``validation`` in ``params.yaml``).

Roles: ``train`` (fits the models), ``val`` (model selection and every tuned threshold; never the
scored split unless ``validation.source: test`` says so), ``test`` (scored) and ``synth`` (the extra
synthetic training split the pipeline generates). See ``docs/pipeline.md#validation``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TypeVar

# role -> split folders. "synth" is the extra synthetic training split the pipeline generates;
# "val" is the embedded default's generated validation split (rooms of the training world).
SPLITS: dict[str, dict[str, list[str]]] = {
    "synth-mini": {"train": ["dev-train-sim"], "val": ["dev-val-sim"], "test": ["dev-test-sim"],
                   "synth": ["dev-train-synth"]},
    "dcase2025": {
        "train": ["dev-train-tau", "dev-train-sony"],
        "test": ["dev-test-tau", "dev-test-sony"],
        "synth": ["dev-train-synth"],
    },
}
VALIDATION_SOURCES = ("heldout", "test")

_C = TypeVar("_C")


def splits_for(source: str, role: str) -> list[str]:
    """Split folder names of ``role`` ("train", "val", "test" or "synth") for data ``source``."""
    if source not in SPLITS:
        raise ValueError(f"unknown data source {source!r}; expected one of {sorted(SPLITS)}")
    if role not in SPLITS[source]:
        raise ValueError(f"data source {source!r} has no {role!r} split; roles: {sorted(SPLITS[source])}")
    return list(SPLITS[source][role])


def held_out(stem: str, fraction: float, seed: int) -> bool:
    """Whether clip ``stem`` belongs to the held-out validation share (a seeded hash of its name, so
    the choice is the same on every machine and does not depend on which other clips exist)."""
    return zlib.crc32(f"{seed}:{stem}".encode("utf-8")) < fraction * 2**32


def role_sources(source: str, role: str, validation: dict) -> tuple[str, list[str]]:
    """Which splits feed feature set ``role``, and how they are filtered.

    Returns ``(filter, splits)`` with ``filter`` one of ``"all"``, ``"keep-heldout"`` (only the
    held-out share), ``"drop-heldout"`` (everything but it):

    - ``validation.source: test`` — validation is the test split (the DCASE baseline's convention;
      the results then say that models were selected on the scored split);
    - ``heldout`` with a generated validation split (the embedded default) — that split;
    - ``heldout`` on real data — a seeded ``validation.fraction`` of the dev-train clips, left out of
      training.
    """
    mode = validation["source"]
    if mode not in VALIDATION_SOURCES:
        raise ValueError(f"validation.source must be one of {VALIDATION_SOURCES}, got {mode!r}")
    own_val = "val" in SPLITS.get(source, {})
    if role == "val":
        if mode == "test":
            return "all", splits_for(source, "test")
        return ("all", splits_for(source, "val")) if own_val else ("keep-heldout", splits_for(source, "train"))
    if role == "train" and mode == "heldout" and not own_val:
        return "drop-heldout", splits_for(source, "train")
    return "all", splits_for(source, role)


def select_clips(clips: Sequence[_C], how: str, validation: dict, stem=lambda c: c.stem) -> list[_C]:
    """Apply a :func:`role_sources` filter to discovered clips."""
    if how == "all":
        return list(clips)
    keep = how == "keep-heldout"
    fraction, seed = float(validation["fraction"]), int(validation["seed"])
    return [c for c in clips if held_out(stem(c), fraction, seed) == keep]


def validation_label(source: str, validation: dict) -> str:
    """How the models were selected, for the results table."""
    if validation["source"] == "test":
        return "models selected on the scored test split (DCASE baseline convention)"
    if "val" in SPLITS.get(source, {}):
        return f"models selected on the separate validation split {', '.join(splits_for(source, 'val'))}"
    return (f"models selected on a held-out {100 * float(validation['fraction']):.0f} % of the dev-train clips "
            f"(seed {validation['seed']}), never on the scored split")
