"""Model checkpoints: weights plus plain-Python metadata, saved byte-stably and loaded with
``torch.load(weights_only=True)``; the model is rebuilt from the kind registered in ``seldlib.kinds``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seldlib.atomic import atomic_path
from seldlib.constants import CLASS_NAMES
from seldlib.errors import SeldInputError
from seldlib.kinds import get_kind
from seldlib.models import build_model

CHECKPOINT_FORMAT = 1


def save_torch_atomic(path: Path, obj: Any) -> None:
    """``torch.save(obj)`` to ``path`` atomically; equal objects give equal bytes."""
    # Saving through a buffer keeps the archive's internal name fixed ("archive"); saving to the
    # temporary file name would embed that random name and break byte-identical outputs.
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def save_checkpoint(path: Path, model: nn.Module, meta: dict[str, Any]) -> None:
    """Weights plus metadata (plain Python types only, so ``weights_only=True`` loading works)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_torch_atomic(path, {"format": CHECKPOINT_FORMAT, "state_dict": state, "meta": meta})


def load_checkpoint(path: str | Path, expect_kind: str | None = None, expect_features: dict[str, Any] | None = None
                    ) -> tuple[nn.Module, dict[str, Any]]:
    """Load a checkpoint written by :func:`save_checkpoint` and rebuild its model (in eval mode).

    Refuses (:class:`SeldInputError` naming the file) a missing or unreadable file, another format,
    an unknown kind, and a checkpoint of another kind, feature setting or class list than expected.
    """
    path = Path(path)
    if not path.is_file():
        raise SeldInputError(path, "checkpoint not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        raise SeldInputError(path, f"not a loadable checkpoint ({err.__class__.__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        raise SeldInputError(path, f"not a seldlib checkpoint of format {CHECKPOINT_FORMAT}")
    meta = blob["meta"]
    if expect_kind is not None and meta["kind"] != expect_kind:
        raise SeldInputError(path, f"is a {meta['kind']!r} checkpoint, expected {expect_kind!r}")
    if expect_features is not None and meta.get("features") != expect_features:
        raise SeldInputError(path, f"was trained with feature settings {meta.get('features')}, not {expect_features}")
    if list(meta.get("classes", [])) != list(CLASS_NAMES):
        raise SeldInputError(path, "was trained with a different class list")
    try:
        get_kind(meta["kind"])
    except ValueError as err:
        raise SeldInputError(path, str(err)) from None
    model = build_model(meta["kind"], meta["model"])
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, meta
