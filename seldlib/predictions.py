"""Writing a folder of DCASE2025 prediction CSVs (one per clip) from decoded system outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seldlib.atomic import atomic_path
from seldlib.labels import decode_classwise, decode_multiaccdoa
from seldlib.metadata import EventTable, format_metadata_csv


def decode_system(arrays: dict[str, np.ndarray], index: int, threshold: float | np.ndarray = 0.5,
                  default_distance_m: float = 1.0, onscreen_threshold: float = 0.5,
                  onscreen_max_az: float | None = None) -> EventTable:
    """Events of clip ``index`` from a system's arrays (class-wise keys, or ``accdoa`` for SELDnet;
    ``onscreen`` on-screen posteriors, if any, thresholded at ``onscreen_threshold``; events beyond
    ``onscreen_max_az`` degrees are off-screen, see ``seldlib.labels.decode_classwise``)."""
    onscreen = arrays["onscreen"][index] if "onscreen" in arrays else None
    if "accdoa" in arrays:
        return decode_multiaccdoa(arrays["accdoa"][index], threshold=float(np.mean(threshold)), onscreen=onscreen,
                                  onscreen_threshold=onscreen_threshold, onscreen_max_az=onscreen_max_az)
    return decode_classwise(
        arrays["sed"][index],
        doa=arrays["doa"][index] if "doa" in arrays else None,
        dist=arrays["dist"][index] if "dist" in arrays else None,
        sce=arrays["sce"][index] if "sce" in arrays else None,
        onscreen=onscreen,
        threshold=threshold,
        onscreen_threshold=onscreen_threshold,
        default_distance_m=default_distance_m,
        onscreen_max_az=onscreen_max_az,
    )


def write_prediction_dir(out_dir: str | Path, names: list[str], arrays: dict[str, np.ndarray],
                         threshold: float | np.ndarray = 0.5, default_distance_m: float = 1.0,
                         onscreen_threshold: float = 0.5, onscreen_max_az: float | None = None
                         ) -> dict[str, EventTable]:
    """Decode every clip and write ``<out_dir>/<name>.csv``; the folder appears complete or not at all."""
    out_dir = Path(out_dir)
    events = {name: decode_system(arrays, i, threshold, default_distance_m, onscreen_threshold, onscreen_max_az)
              for i, name in enumerate(names)}
    with atomic_path(out_dir, suffix="") as tmp:
        tmp.mkdir(parents=True)
        for name, ev in events.items():
            (tmp / f"{name}.csv").write_text(format_metadata_csv(ev.sorted()), encoding="utf-8", newline="\n")
    return events
