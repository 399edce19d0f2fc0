"""Stage: decode every single system, score all systems on the test split, write metrics and figures.

    python -m stages.evaluate --params data.source validation evaluate ensemble.threshold

Track A systems (``evaluate.systems``) are scored with F(20°,1), DOAE and RDE; Track B systems
(``evaluate.av_systems``, outputs in ``data/outputs_av``), the audio-visual ensemble
(``data/predictions/ensemble_av``) and each cumulative step of its visual post-processing
(``data/predictions/pp/pp_*``, listed in its ``stats.json``) with F(20°,1,on), DOAE, RDE and OSA.
Outputs: ``data/predictions/singles/<system>/*.csv``, ``metrics/evaluate/<system>.json`` and
``metrics/results.md`` (the README tables; copy them with ``python -m seldlib.report``), ``metrics/figures/*.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from seldlib.config import read_params
from seldlib.errors import SeldInputError
from stages._cli import run

if TYPE_CHECKING:
    from seldlib.detection import DetectionStore
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


def _score_folder(refs: dict[str, EventTable], pred_dir: Path, jackknife: bool,
                  onscreen: bool = False) -> tuple[SeldScores, dict[str, EventTable]]:
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
    return score(refs, preds, jackknife=jackknife, onscreen=onscreen), preds


def write_singles(systems: list[str], outputs_dir: Path, singles_dir: Path, direction_entry: str,
                  av_systems: tuple[list[str], Path] = ([], Path("data/outputs_av"))) -> dict[str, dict]:
    """Decode each single system into ``singles_dir/<system>/``; returns each one's kind and threshold.

    A model of a kind without a direction head takes its direction from the entry ``direction_entry``
    (``evaluate.direction_entry``); detection and distance, and so the threshold, are its own.
    ``av_systems``: the Track B entries and the folder of their outputs; their on-screen flags use
    the threshold tuned at training and the kind's field-of-view rule.
    """
    from seldlib.atomic import atomic_path
    from seldlib.ensemble import single_outputs
    from seldlib.outputs import read_outputs_h5
    from seldlib.kinds import get_kind
    from seldlib.predictions import write_prediction_dir

    cache: dict[str, tuple[list[str], dict, dict]] = {}
    folder = {**{s: outputs_dir for s in systems}, **{s: av_systems[1] for s in av_systems[0]}, direction_entry: outputs_dir}

    def load(entry: str) -> tuple[list[str], dict, dict]:
        if entry not in cache:
            cache[entry] = read_outputs_h5(folder[entry] / f"{entry}.h5")
        return cache[entry]

    info: dict[str, dict] = {}
    with atomic_path(singles_dir, suffix="") as tmp:
        tmp.mkdir(parents=True)
        for system in [*systems, *av_systems[0]]:
            names, arrays, meta = load(system)
            spec = get_kind(meta["kind"])
            partner = None
            if not spec.has_direction:
                p_names, p_arrays, p_meta = load(direction_entry)
                if p_meta["kind"] != spec.direction_partner:
                    raise SeldInputError(outputs_dir / f"{direction_entry}.h5",
                                         f"evaluate.direction_entry {direction_entry!r} is a {p_meta['kind']} model; "
                                         f"{system} ({spec.name}) needs a {spec.direction_partner} model's direction")
                if p_names != names:
                    raise SeldInputError(outputs_dir / f"{direction_entry}.h5", f"covers different clips than {system}.h5")
                partner = (p_meta["kind"], p_arrays)
            on_threshold = float(meta.get("onscreen_threshold", 0.5))
            write_prediction_dir(tmp / system, names, single_outputs((meta["kind"], arrays), partner),
                                 threshold=meta["threshold"], default_distance_m=meta["default_distance_m"],
                                 onscreen_threshold=on_threshold, onscreen_max_az=spec.onscreen_max_az)
            info[system] = {"kind": meta["kind"], "threshold": float(meta["threshold"]),
                            "direction_from": direction_entry if partner is not None else None,
                            **({"onscreen_threshold": on_threshold} if spec.track == "B" else {})}
    return info


# Classes the people detector speaks for (speech, clapping, laughter, footsteps)
HUMAN_CLASSES = (0, 1, 2, 4, 6)


def ensemble_av_info(fused: Path) -> dict:
    """The audio-visual ensemble's row: thresholds from its fused arrays' meta."""
    from seldlib.outputs import read_outputs_h5
    from seldlib.kinds import AV_ENSEMBLE_PAPER

    _, _, meta = read_outputs_h5(fused)
    if meta.get("onscreen_threshold") is None:
        raise SeldInputError(fused, "lacks 'onscreen_threshold' in its meta (written by stages.ensemble --fused)")
    return {"kind": None, "label": AV_ENSEMBLE_PAPER[0], "paper": AV_ENSEMBLE_PAPER, "order": 0,
            "threshold": float(meta["threshold"]), "direction_from": None,
            "onscreen_threshold": float(meta["onscreen_threshold"])}


def read_pp_steps(pp_dir: Path) -> list[dict]:
    """The post-processing steps in the order they ran (``stats.json`` of the postprocess stage)."""
    import json

    path = pp_dir / "stats.json"
    if not path.is_file():
        raise SeldInputError(path, "not found (run the postprocess stage)")
    try:
        steps = json.loads(path.read_text(encoding="utf-8"))["steps"]
        return [{"step": str(s["step"]), "folder": str(s["folder"]), "status": str(s["status"]),
                 "applied": bool(s["applied"])} for s in steps]
    except (ValueError, KeyError, TypeError) as err:
        raise SeldInputError(path, f"not a post-processing summary ({type(err).__name__}: {err})") from None


def pp_info(steps: list[dict], i: int, ensemble: dict) -> dict:
    """The row of the ensemble after post-processing steps ``0..i``: the paper's "+ PP" is both stages."""
    from seldlib.kinds import AV_PP_PAPER

    done = [s["step"] for s in steps[: i + 1]]
    which = f"stage 1: {done[0]}" if i == 0 else f"stages 1–{i + 1}: {', '.join(done)}"
    skipped = "" if steps[i]["applied"] else f"; {done[-1]} skipped"
    return {**ensemble, "label": f"{AV_PP_PAPER[0]} ({which}{skipped})",
            "paper": AV_PP_PAPER if i == len(steps) - 1 else None, "order": i + 1}


def pp_notes(steps: list[dict]) -> str:
    skipped = [f"{s['step']} ({s['status']})" for s in steps if not s["applied"]]
    if not skipped:
        return ""
    return ("\nPost-processing steps that did not run, so their rows repeat the previous row: "
            + "; ".join(skipped) + ".\n")


def detection_clips(refs: dict, n: int) -> list[str]:
    """The ``n`` clips with the most on-screen reference events (ties: by name): where detections matter."""
    import numpy as np

    return sorted(refs, key=lambda name: (-int(np.sum(refs[name].onscreen)), name))[: max(n, 0)]


def find_video(dataset: Path, splits: list[str], stem: str) -> Path:
    from seldlib.layout import discover

    for clip in discover(dataset, splits, need_labels=False):
        if clip.stem == stem and clip.video is not None:
            return clip.video
    raise SeldInputError(dataset, f"no video of test clip {stem} in the splits {splits}")


def plot_clip_detections(video: Path, store: DetectionStore, ref: EventTable, pred: EventTable, clip: str,
                         path: Path, label: str) -> None:
    """Key frames of one test clip with the people detector's boxes and the azimuth lines."""
    import numpy as np

    from seldlib.report import plot_detection_frames
    from seldlib.media import decode_frames

    frames = decode_frames(video)  # (50, H, W, 3): one per label frame
    picks = np.array([5, 15, 25, 35, 45])  # 0.5 s, 1.5 s, ... : key frames of a 2 fps detector
    times = picks * 0.1
    boxes = [np.zeros((0, 4))] * len(picks)
    det = store.clips.get(clip) if store.ok else None
    if det is not None:
        boxes = [det.box[det.frame == int(np.argmin(np.abs(det.times - t)))] for t in times]
    plot_detection_frames(frames[picks], times, boxes, ref, pred, clip, path, label)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", nargs="+", required=True)
    ap.add_argument("--params-file", default="params.yaml", type=Path)
    ap.add_argument("--outputs", default="data/outputs", type=Path)
    ap.add_argument("--outputs-av", default="data/outputs_av", type=Path)
    ap.add_argument("--ensemble", default="data/predictions/ensemble", type=Path)
    ap.add_argument("--ensemble-av", default="data/predictions/ensemble_av", type=Path)
    ap.add_argument("--fused-av", default="data/fused/ensemble_av.h5", type=Path)
    ap.add_argument("--pp", default="data/predictions/pp", type=Path)
    ap.add_argument("--detections", default="data/detections", type=Path)
    ap.add_argument("--dataset", default="data/dataset", type=Path)
    ap.add_argument("--singles", default="data/predictions/singles", type=Path)
    ap.add_argument("--metrics", default="metrics/evaluate", type=Path)
    ap.add_argument("--results", default="metrics/results.md", type=Path)
    ap.add_argument("--figures", default="metrics/figures", type=Path)
    args = ap.parse_args(argv)

    from seldlib.atomic import atomic_path, write_json_atomic, write_text_atomic
    from seldlib.datasets import splits_for, validation_label
    from seldlib.detection import read_detection_store
    from seldlib.metrics import majority_osa
    from seldlib.report import (DATA_LABELS, av_results_table, classwise_osa_table, plot_classwise,
                                plot_osa_classwise, plot_summary, plot_tracks, results_table, system_json,
                                system_label, track_clips)

    p = read_params(args.params, args.params_file)
    cfg, source = p["evaluate"], p["data.source"]
    systems = list(cfg["systems"])  # non-empty, unique, entries or "ensemble": checked by read_params
    test_splits = splits_for(source, "test")

    av_systems = list(cfg["av_systems"])
    singles = [s for s in systems if s != "ensemble"]
    info = write_singles(singles, args.outputs, args.singles, cfg["direction_entry"], (av_systems, args.outputs_av))
    if "ensemble" in systems:
        info["ensemble"] = {"kind": None, "threshold": float(p["ensemble.threshold"]), "direction_from": None}

    refs, _ = _load_references(args.dataset, test_splits)
    scores, preds = {}, {}
    for system in systems:
        folder = args.ensemble if system == "ensemble" else args.singles / system
        scores[system], preds[system] = _score_folder(refs, folder, bool(cfg["jackknife"]))

    av_folders = {system: args.singles / system for system in av_systems}
    pp_steps: list[dict] = []
    if args.ensemble_av.is_dir():  # the audio-visual ensemble and its post-processing, when run
        av_folders["ensemble_av"] = args.ensemble_av
        info["ensemble_av"] = ensemble_av_info(args.fused_av)
        pp_steps = read_pp_steps(args.pp)
        for i, step in enumerate(pp_steps):
            av_folders[step["folder"]] = args.pp / step["folder"]
            info[step["folder"]] = pp_info(pp_steps, i, info["ensemble_av"])
    av_scores, majority = {}, {}
    for system, folder in av_folders.items():
        av_scores[system], preds[system] = _score_folder(refs, folder, bool(cfg["jackknife"]), onscreen=True)
        majority[system] = majority_osa(refs, preds[system])

    data_label = DATA_LABELS.get(source, f"data source {source!r}")
    selection = validation_label(source, p["validation"])
    table = results_table(scores, info, data_label, selection)
    if av_scores:
        table += "\n**Track B (audio-visual)**\n\n" + av_results_table(av_scores, info, majority, data_label, selection)
    if pp_steps:
        shown = {s: av_scores[s] for s in ("ensemble_av", *(step["folder"] for step in pp_steps))}
        table += ("\nOn-screen accuracy of the human classes (the people detector's) before and after each "
                  "post-processing step; in brackets the matched events of each system:\n\n"
                  + classwise_osa_table(shown, info, list(HUMAN_CLASSES)) + pp_notes(pp_steps))
    with atomic_path(args.metrics, suffix="") as tmp:
        tmp.mkdir(parents=True)
        for system in systems:
            write_json_atomic(tmp / f"{system}.json", system_json(scores[system], system, info[system]["threshold"]), ndigits=6)
        for system in av_scores:
            doc = system_json(av_scores[system], system, info[system]["threshold"])
            # F here is F(20°,1,on): the on-screen flag must be right too
            doc.update(onscreen=True, onscreen_threshold=info[system]["onscreen_threshold"], OSA_majority=majority[system])
            write_json_atomic(tmp / f"{system}.json", doc, ndigits=6)

    # Outside metrics/evaluate, which DVC reads as metrics files (JSON only).
    write_text_atomic(args.results, table)

    # tracks of the ensemble when evaluated, else of the last listed system
    track_system = "ensemble" if "ensemble" in systems else systems[-1]
    with atomic_path(args.figures, suffix="") as tmp:
        tmp.mkdir(parents=True)
        plot_classwise(scores, info, tmp / "classwise.png")
        plot_summary(scores, info, tmp / "summary.png")
        if av_scores:
            plot_osa_classwise(av_scores, info, tmp / "osa_classwise.png")
        if pp_steps:
            final = pp_steps[-1]["folder"]
            store = read_detection_store(args.detections / f"{pp_steps[0]['step']}.h5")  # once, not per clip
            for i, clip in enumerate(detection_clips(refs, int(cfg["n_track_plots"]))):
                video = find_video(args.dataset, test_splits, Path(clip).stem)
                plot_clip_detections(video, store, refs[clip], preds[final][clip], Path(clip).stem,
                                     tmp / f"detections_{i:02d}_{Path(clip).stem}.png", system_label(final, info))
        for i, clip in enumerate(track_clips(refs, int(cfg["n_track_plots"]))):
            plot_tracks(refs[clip], preds[track_system][clip], Path(clip).stem,
                        tmp / f"tracks_{i:02d}_{Path(clip).stem}.png", label=system_label(track_system, info))

    print(table)
    print(f"{len(systems) + len(av_scores)} systems scored on {len(refs)} test clips -> {args.metrics}, {args.figures}")
    return 0


if __name__ == "__main__":
    run(main)
