"""Stage: decode every single system, score all systems on the test split, write metrics and figures.

    python -m stages.evaluate --params data.source evaluate ensemble.threshold

Outputs: ``data/predictions/singles/<system>/*.csv``, ``metrics/evaluate/<system>.json`` and
``metrics/results.md`` (the README table; copy it with ``python -m seldlib.report``), ``metrics/figures/*.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from seldlib.config import read_params
from seldlib.errors import SeldInputError
from stages._cli import run

if TYPE_CHECKING:
    from seldlib.metadata import EventTable
    from seldlib.metrics import SeldScores


def _load_references(dataset: Path, splits: list[str]) -> tuple[dict[str, EventTable], dict[str, Path]]:
    """Test reference tables keyed by CSV file name, read with the official loader's rules.

    Only the test splits are read: ``score_dirs`` on the whole ``metadata_dev`` root would also
    collect the training splits (and reject equal file names across splits).
    """
    from seldlib.metrics import collect_csvs, read_seld_csv

    refs, paths = {}, {}
    for split in splits:
        for name, path in collect_csvs(dataset / "metadata_dev" / split, f"reference ({split})").items():
            if name in paths:
                raise SeldInputError(path, f"same file name as {paths[name]} in another test split")
            paths[name] = path
    if not paths:
        raise SeldInputError(dataset / "metadata_dev", f"no reference CSVs in the test splits {splits}")
    for name in sorted(paths):
        refs[name] = read_seld_csv(paths[name])
    return refs, paths


def _score_folder(refs: dict[str, EventTable], pred_dir: Path,
                  jackknife: bool) -> tuple[SeldScores, dict[str, EventTable]]:
    """Official scores of one prediction folder; every test clip must have a prediction CSV.

    Same reading and scoring path as ``seldlib.metrics.score_dirs``; the coverage check is extra
    because the official code silently scores only the clips it finds.
    """
    from seldlib.metrics import collect_csvs, read_seld_csv, score

    pred_paths = collect_csvs(pred_dir, "prediction")
    missing = sorted(set(refs) - set(pred_paths))
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise SeldInputError(pred_dir, f"no prediction for test clip {missing[0]}{more}")
    preds = {name: read_seld_csv(pred_paths[name]) for name in sorted(pred_paths)}
    return score(refs, preds, jackknife=jackknife), preds


def _read_model(outputs_dir: Path, model: str, cache: dict) -> tuple[list[str], dict, dict]:
    if model not in cache:
        path = outputs_dir / f"{model}.h5"
        if not path.is_file():
            raise SeldInputError(path, f"model output file for {model!r} not found (run the infer stage)")
        from seldlib.inference import read_outputs_h5

        cache[model] = read_outputs_h5(path)
    return cache[model]


def write_singles(systems: list[str], outputs_dir: Path, singles_dir: Path) -> dict[str, float]:
    """Decode each single system into ``singles_dir/<system>/``; returns the threshold each used."""
    from seldlib.atomic import atomic_path
    from seldlib.ensemble import system_outputs
    from seldlib.predictions import write_prediction_dir

    cache: dict = {}
    thresholds: dict[str, float] = {}
    with atomic_path(singles_dir, suffix="") as tmp:
        tmp.mkdir(parents=True)
        for system in systems:
            # sed_sde takes its direction from sed_doa; detection and distance (and so the
            # threshold) are its own
            models = [system, "sed_doa"] if system == "sed_sde" else [system]
            loaded = {m: _read_model(outputs_dir, m, cache) for m in models}
            names = loaded[system][0]
            for m in models[1:]:
                if loaded[m][0] != names:
                    raise SeldInputError(outputs_dir / f"{m}.h5", f"covers different clips than {system}.h5")
            meta = loaded[system][2]
            for key in ("threshold", "default_distance_m"):
                if key not in meta:
                    raise SeldInputError(outputs_dir / f"{system}.h5", f"meta lacks {key!r}")
            try:
                arrays = system_outputs(system, {m: loaded[m][1] for m in models})
            except ValueError as err:
                raise SeldInputError(outputs_dir / f"{system}.h5", str(err)) from None
            write_prediction_dir(tmp / system, names, arrays, threshold=meta["threshold"],
                                 default_distance_m=meta["default_distance_m"])
            thresholds[system] = float(meta["threshold"])
    return thresholds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", nargs="+", required=True)
    ap.add_argument("--params-file", default="params.yaml", type=Path)
    ap.add_argument("--outputs", default="data/outputs", type=Path)
    ap.add_argument("--ensemble", default="data/predictions/ensemble", type=Path)
    ap.add_argument("--dataset", default="data/dataset", type=Path)
    ap.add_argument("--singles", default="data/predictions/singles", type=Path)
    ap.add_argument("--metrics", default="metrics/evaluate", type=Path)
    ap.add_argument("--results", default="metrics/results.md", type=Path)
    ap.add_argument("--figures", default="metrics/figures", type=Path)
    args = ap.parse_args(argv)

    from seldlib.atomic import atomic_path, write_json_atomic, write_text_atomic
    from seldlib.datasets import splits_for
    from seldlib.report import DATA_LABELS, plot_classwise, plot_summary, plot_tracks, results_table, system_json, track_clips

    p = read_params(args.params, args.params_file)
    cfg, source = p["evaluate"], p["data.source"]
    systems = list(cfg["systems"])
    if not systems:
        raise SeldInputError(args.params_file, "evaluate.systems is empty")
    if len(set(systems)) != len(systems):
        raise SeldInputError(args.params_file, f"evaluate.systems lists a system twice: {systems}")
    try:
        test_splits = splits_for(source, "test")
    except ValueError as err:
        raise SeldInputError(args.params_file, str(err)) from None

    singles = [s for s in systems if s != "ensemble"]
    thresholds = write_singles(singles, args.outputs, args.singles)
    if "ensemble" in systems:
        thresholds["ensemble"] = float(p["ensemble.threshold"])

    refs, _ = _load_references(args.dataset, test_splits)
    scores, preds = {}, {}
    for system in systems:
        folder = args.ensemble if system == "ensemble" else args.singles / system
        scores[system], preds[system] = _score_folder(refs, folder, bool(cfg["jackknife"]))

    table = results_table(scores, DATA_LABELS.get(source, f"data source {source!r}"))
    with atomic_path(args.metrics, suffix="") as tmp:
        tmp.mkdir(parents=True)
        for system in systems:
            write_json_atomic(tmp / f"{system}.json", system_json(scores[system], system, thresholds[system]), ndigits=6)

    # Outside metrics/evaluate, which DVC reads as metrics files (JSON only).
    write_text_atomic(args.results, table)

    # tracks of the ensemble when evaluated, else of the last listed system
    track_system = "ensemble" if "ensemble" in systems else systems[-1]
    with atomic_path(args.figures, suffix="") as tmp:
        tmp.mkdir(parents=True)
        plot_classwise(scores, tmp / "classwise.png")
        plot_summary(scores, tmp / "summary.png")
        for i, clip in enumerate(track_clips(refs, int(cfg["n_track_plots"]))):
            plot_tracks(refs[clip], preds[track_system][clip], Path(clip).stem,
                        tmp / f"tracks_{i:02d}_{Path(clip).stem}.png", system=track_system)

    print(table)
    print(f"{len(systems)} systems scored on {len(refs)} test clips -> {args.metrics}, {args.figures}")
    return 0


if __name__ == "__main__":
    run(main)
