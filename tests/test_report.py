"""Tests for seldlib.report and stages.evaluate.

Expected numbers are worked out by hand from the metric definition (docs/metrics.md#algorithm):
only frames 0 .. T_ref-1 are scored (T_ref = largest reference frame), F_c = TP / (TP + FPsp +
(FP + FN) / 2), macro F = mean over all 13 classes, DOAE / RDE = nanmean over classes with a pair.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from seldlib.atomic import OUTPUT_MARKER, write_json_atomic  # noqa: E402
from seldlib.errors import SeldInputError  # noqa: E402
from seldlib.outputs import read_outputs_h5, write_outputs_h5  # noqa: E402
from seldlib.metadata import EventTable  # noqa: E402
from seldlib.metrics import score  # noqa: E402
from seldlib import report  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HEADER = "frame,class,source,azimuth,distance,onscreen"


def events(cls: int, frames: range, az: float, dist_cm: float) -> EventTable:
    n = len(frames)
    return EventTable(list(frames), [cls] * n, [0] * n, [az] * n, [dist_cm] * n, [0] * n)


def csv_text(table: EventTable) -> str:
    rows = [HEADER] + [
        f"{table.frame[i]},{table.cls[i]},0,{int(table.azimuth[i])},{int(table.distance[i])},0" for i in range(len(table))
    ]
    return "\n".join(rows) + "\n"


@pytest.fixture()
def toy_scores():
    """Reference: class 0 at frames 0..10 (T_ref = 10, so frames 0..9 are scored).

    perfect : the reference itself         -> F_0 = 10/10 = 1, others 0 -> macro F = 1/13 = 0.0769
    half    : frames 0..4 only              -> TP 5, FN 5 -> F_0 = 5/7.5 = 2/3 -> macro 2/39 = 0.0513
    """
    ref = {"a.csv": events(0, range(11), 30.0, 200.0)}
    perfect = score(ref, {"a.csv": events(0, range(11), 30.0, 200.0)})
    half = score(ref, {"a.csv": events(0, range(5), 30.0, 200.0)})
    return perfect, half


# ------------------------------------------------------------------------------------------------
# markdown table


def test_results_table_hand_computed(toy_scores):
    perfect, half = toy_scores
    info = {"sed_sce": {"kind": "sed_sce"}, "sed_doa": {"kind": "sed_doa"},
            "sed_sde": {"kind": "sed_sde", "direction_from": "sed_doa"}, "ensemble": {"kind": None}}
    md = report.results_table({"sed_sce": perfect, "sed_doa": perfect, "sed_sde": half, "ensemble": perfect}, info,
                              selection="models selected on the separate validation split dev-val-sim")
    lines = md.splitlines()
    # macro F 1/13 = 0.0769 -> "0.077"; DOAE 0; RDE 0; paper SED-SCE row 0.50 / 12.80° / 0.27
    assert "| SED-SCE | 0.077 | 0.00° | 0.000 | 0.50 | 12.80° | 0.27 |" in lines
    # 2/39 = 0.0513; the SED-SDE direction is SED-DOA's
    assert "| SED-SDE | 0.051 | 0.00° (from SED-DOA) | 0.000 | 0.53 | – | 0.26 |" in lines
    # SED-DOA writes a constant distance: RDE not reported; paper prints "-" too
    assert "| SED-DOA | 0.077 | 0.00° | – (constant distance) | 0.50 | 12.50° | – |" in lines
    assert "| Model Ensemble | 0.077 | 0.00° | 0.000 | 0.54 | 11.80° | 0.26 |" in lines
    # the baseline was not scored here; the paper row stays
    assert "| Baseline SELDnet / Baseline-A | not run | not run | not run | 0.23 | 24.50° | 0.41 |" in lines
    assert "embedded synthetic data" in md
    assert "Models selected on the separate validation split dev-val-sim." in md
    # rows in Table 1 order
    order = [next(i for i, l in enumerate(lines) if l.startswith(f"| {name}")) for name in
             ("Baseline SELDnet", "SED-DOA", "SED-SDE", "SED-SCE", "Model Ensemble")]
    assert order == sorted(order)


def test_results_table_nan_and_unknown_system():
    # nothing predicted: TP = 0 -> F = 0, no matched pair -> DOAE / RDE undefined
    empty = score({"a.csv": events(2, range(11), 0.0, 100.0)}, {"a.csv": EventTable()})
    md = report.results_table({"mine": empty}, {"mine": {"kind": "sed_sce"}}, data_label="real data")
    # an entry whose name is not its kind's is labelled by kind and name, beside its kind's paper row
    assert "| SED-SCE (mine) | 0.000 | – | – | 0.50 | 12.80° | 0.27 |" in md.splitlines()
    assert "nan" not in md.lower()
    assert "real data" in md


# ------------------------------------------------------------------------------------------------
# JSON


def test_system_json_keys_and_nan(tmp_path, toy_scores):
    perfect, half = toy_scores
    doc = report.system_json(half, "sed_sde", 0.5)
    assert set(doc) == {"F", "DOAE", "RDE", "DistE", "OSA", "n_files", "average", "totals", "classwise",
                        "system", "threshold"}
    assert doc["F"] == pytest.approx(2 / 39)
    assert doc["system"] == "sed_sde" and doc["threshold"] == 0.5 and doc["n_files"] == 1
    assert list(doc["classwise"]) == ["female_speech", "male_speech", "clapping", "telephone", "laughter",
                                      "domestic", "footsteps", "door", "music", "instrument", "water_tap",
                                      "bell", "knock"]
    c0 = doc["classwise"]["female_speech"]
    assert (c0["TP"], c0["FN"], c0["FP"], c0["FP_spatial"]) == (5, 5, 0, 0)
    assert c0["F"] == pytest.approx(2 / 3)
    assert c0["DOAE"] == 0.0
    assert doc["classwise"]["clapping"]["DOAE"] is None  # no pair of class 2 -> undefined
    assert doc["totals"]["TP"] == 5 and doc["totals"]["n_ref"] == 10  # frame 10 is not scored

    out = tmp_path / "m.json"
    write_json_atomic(out, doc, ndigits=6)
    text = out.read_text()
    assert "NaN" not in text and "null" in text
    loaded = json.loads(text)
    assert loaded["F"] == round(2 / 39, 6)
    assert loaded["classwise"]["knock"]["RDE"] is None


def test_system_json_with_jackknife_has_ci():
    ref = {f"{i}.csv": events(0, range(11), 30.0, 200.0) for i in range(3)}
    s = score(ref, {k: v for k, v in ref.items()}, jackknife=True)
    doc = report.system_json(s)
    assert set(doc["ci"]) == {"F", "DOAE", "RDE", "DistE", "OSA"}
    assert "system" not in doc and "threshold" not in doc


# ------------------------------------------------------------------------------------------------
# figures


def _png_bytes(fn, *args, path: Path) -> bytes:
    fn(*args, path)
    return path.read_bytes()


def test_figures_are_valid_and_reproducible(tmp_path, toy_scores):
    perfect, half = toy_scores
    scores = {"sed_doa": perfect, "sed_sde": half, "ensemble": perfect}
    info = {"sed_doa": {"kind": "sed_doa"}, "sed_sde": {"kind": "sed_sde"}, "ensemble": {"kind": None}}
    ref = EventTable.concat([events(0, range(11), 30.0, 200.0), events(8, range(3, 9), -120.0, 350.0)])
    pred = EventTable.concat([events(0, range(0, 11, 2), 25.0, 180.0), events(4, range(2), 60.0, 100.0)])
    for name, fn, args in (
        ("classwise", report.plot_classwise, (scores, info)),
        ("summary", report.plot_summary, (scores, info)),
        ("tracks", lambda r, p, path: report.plot_tracks(r, p, "clip", path), (ref, pred)),
    ):
        first = _png_bytes(fn, *args, path=tmp_path / f"{name}_1.png")
        second = _png_bytes(fn, *args, path=tmp_path / f"{name}_2.png")
        assert first.startswith(PNG_MAGIC), name
        assert len(first) > 1000, name
        assert first == second, f"{name} PNG bytes differ between runs"
        assert b"Software" not in first and b"matplotlib" not in first.lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{n}_{i}.png" for n in ("classwise", "summary", "tracks") for i in (1, 2))  # no temp files left


def test_tracks_plot_handles_empty_tables(tmp_path):
    report.plot_tracks(EventTable(), EventTable(), "silent", tmp_path / "t.png")
    assert (tmp_path / "t.png").read_bytes().startswith(PNG_MAGIC)


def test_track_clips_most_events_then_name():
    refs = {"b.csv": events(0, range(5), 0, 100), "a.csv": events(0, range(5), 0, 100),
            "c.csv": events(0, range(9), 0, 100), "d.csv": EventTable()}
    assert report.track_clips(refs, 2) == ["c.csv", "a.csv"]
    assert report.track_clips(refs, 10) == ["c.csv", "a.csv", "b.csv", "d.csv"]
    assert report.track_clips(refs, 0) == []


# ------------------------------------------------------------------------------------------------
# README


def test_replace_between_markers():
    text = "# T\nintro\n<!-- results:start -->\nold table\nmore\n<!-- results:end -->\ntail\n"
    new = report.replace_between_markers(text, "| a |\n|---|\n")
    assert new == "# T\nintro\n<!-- results:start -->\n| a |\n|---|\n<!-- results:end -->\ntail\n"
    assert report.replace_between_markers(new, "| a |\n|---|\n") == new  # idempotent


@pytest.mark.parametrize("text, problem", [
    ("no markers here\n", "found 0 and 0"),
    ("<!-- results:start -->\nx\n", "found 1 and 0"),
    ("<!-- results:end -->\nx\n<!-- results:start -->\n", "comes before"),
    ("<!-- results:start --><!-- results:start --><!-- results:end -->", "found 2 and 1"),
])
def test_replace_between_markers_errors(text, problem):
    with pytest.raises(SeldInputError, match=problem) as err:
        report.replace_between_markers(text, "x", "README.md")
    assert str(err.value).startswith("README.md: ")


def test_update_readme_results_and_cli(tmp_path, capsys):
    readme = tmp_path / "README.md"
    results = tmp_path / "results.md"
    readme.write_text("A\n<!-- results:start -->\n<!-- results:end -->\nB\n")
    results.write_text("| S | F |\n|---|---|\n| x | 0.5 |\n")
    assert report.main(["--readme", str(readme), "--results", str(results)]) == 0
    assert readme.read_text() == "A\n<!-- results:start -->\n| S | F |\n|---|---|\n| x | 0.5 |\n<!-- results:end -->\nB\n"

    readme.write_text("no markers\n")
    assert report.main(["--readme", str(readme), "--results", str(results)]) == 2
    assert "results:start" in capsys.readouterr().err
    assert readme.read_text() == "no markers\n"  # untouched on error
    with pytest.raises(SeldInputError, match="file not found"):
        report.update_readme_results(readme, tmp_path / "missing.md")


def test_readme_pipeline_time_comes_from_the_measurement(tmp_path):
    readme = tmp_path / "README.md"
    results = tmp_path / "results.md"
    timing = tmp_path / "repro_time.json"
    readme.write_text("<!-- repro-time:start -->\nold\n<!-- repro-time:end -->\n<!-- results:start -->\n<!-- results:end -->\n")
    results.write_text("table\n")
    timing.write_text(json.dumps({"cpu": "AMD EPYC, 2 cores", "commit": "abc1234", "total_s": 900.0,
                                  "load_average_1min": [0.5, 1.9],
                                  "stages_s": {"rooms": 60.0, "train@a": 240.0, "train_av@b": 300.0,
                                               "infer_av@b": 30.0}}))
    assert report.main(["--readme", str(readme), "--results", str(results), "--repro-time", str(timing)]) == 0
    text = readme.read_text()
    # 900 s = 15.0 min in all, 540 s = 9.0 min of training (Track A and Track B; inference is not training)
    assert "took 15.0 minutes (training 9.0 of them) on AMD EPYC, 2 cores (load average 0.5 → 1.9; commit abc1234" in text
    assert "old" not in text and "table" in text


# ------------------------------------------------------------------------------------------------
# end to end: stages.evaluate on hand-made model outputs


def _unit(az_deg: float) -> list[float]:
    return [math.cos(math.radians(az_deg)), math.sin(math.radians(az_deg))]


SYSTEMS = ("sed_doa", "sed_sde", "sed_sce", "seldnet", "ensemble")
KIND_OF = {"sde_b": "sed_sde"}


def _make_project(root: Path, n_track_plots: int = 1, systems: tuple[str, ...] = SYSTEMS) -> list[str]:
    """Two test clips.

    reference clip_a: class 0 (female speech), frames 0..20, az 30°, 200 cm -> frames 0..19 scored
    reference clip_b: class 3 (telephone),     frames 0..10, az -45°, 100 cm -> frames 0..9 scored
    """
    ref_dir = root / "dataset" / "metadata_dev" / "dev-test-sim"
    ref_dir.mkdir(parents=True)
    (ref_dir / "clip_a.csv").write_text(csv_text(events(0, range(21), 30, 200)))
    (ref_dir / "clip_b.csv").write_text(csv_text(events(3, range(11), -45, 100)))
    # a training split reusing a test clip name: must not be read (scoring the whole metadata_dev would fail)
    train = root / "dataset" / "metadata_dev" / "dev-train-sim"
    train.mkdir(parents=True)
    (train / "clip_a.csv").write_text(csv_text(events(5, range(3), 0, 100)))

    names = ["clip_a", "clip_b"]
    out = root / "outputs"
    n, t, c = 2, 50, 13
    # sed_doa: both sources detected in all 50 frames, exact directions, constant distance 1 m
    sed = np.zeros((n, t, c)); sed[0, :, 0] = 0.9; sed[1, :, 3] = 0.9
    doa = np.zeros((n, t, c, 2)); doa[0, :, 0] = _unit(30); doa[1, :, 3] = _unit(-45)
    write_outputs_h5(out / "sed_doa.h5", names, {"sed": sed, "doa": doa},
                     {"kind": "sed_doa", "threshold": 0.5, "default_distance_m": 1.0})
    # sed_sde: only clip_a frames 0..9 detected, distance 2 m
    sed = np.zeros((n, t, c)); sed[0, :10, 0] = 0.9
    write_outputs_h5(out / "sed_sde.h5", names, {"sed": sed, "dist": np.full((n, t, c), 2.0)},
                     {"kind": "sed_sde", "threshold": 0.5, "default_distance_m": 1.0})
    # sed_sce: SED 0.4 with threshold 0.3 in its meta (0.5 would detect nothing); clip_a at 3 m / 30°,
    # clip_b at 1 m / 0° (45° off)
    sed = np.zeros((n, t, c)); sed[0, :, 0] = 0.4; sed[1, :, 3] = 0.4
    sce = np.zeros((n, t, c, 2)); sce[0, :, 0] = np.multiply(3.0, _unit(30)); sce[1, :, 3] = _unit(0)
    write_outputs_h5(out / "sed_sce.h5", names, {"sed": sed, "sce": sce},
                     {"kind": "sed_sce", "threshold": 0.3, "default_distance_m": 1.0})
    # seldnet: silent
    write_outputs_h5(out / "seldnet.h5", names, {"accdoa": np.zeros((n, t, 3, 3, c))},
                     {"kind": "seldnet", "threshold": 0.5, "default_distance_m": 1.0})
    # ensemble CSVs: clip_a perfect, clip_b empty
    ens = root / "ensemble"
    ens.mkdir()
    (ens / "clip_a.csv").write_text(csv_text(events(0, range(21), 30, 200)))
    (ens / "clip_b.csv").write_text(HEADER + "\n")

    (root / "params.yaml").write_text(
        "data: {source: synth-mini}\n"
        "validation: {source: heldout, fraction: 0.1, seed: 1}\n"
        "models: {" + ", ".join(f"{s}: {{kind: {KIND_OF.get(s, s)}}}" for s in systems if s != "ensemble") + "}\n"
        "ensemble: {threshold: 0.5}\n"
        f"evaluate: {{systems: [{', '.join(systems)}], av_systems: [], jackknife: false, "
        f"n_track_plots: {n_track_plots}, direction_entry: sed_doa}}\n"
    )
    return names


def _run(root: Path, tag: str = "") -> int:
    from stages.evaluate import main

    return main([
        "--params", "data.source", "validation", "evaluate", "ensemble.threshold",
        "--params-file", str(root / "params.yaml"),
        "--outputs", str(root / "outputs"), "--ensemble", str(root / "ensemble"),
        # no audio-visual ensemble here: its absence (not the workspace's data/) leaves its rows out
        "--ensemble-av", str(root / "ensemble_av"), "--pp", str(root / "pp"),
        "--dataset", str(root / "dataset"), "--singles", str(root / f"singles{tag}"),
        "--metrics", str(root / f"metrics{tag}"), "--figures", str(root / f"figures{tag}"),
        "--results", str(root / f"results{tag}.md"),
    ])


def test_evaluate_stage_end_to_end(tmp_path):
    _make_project(tmp_path)
    assert _run(tmp_path) == 0

    singles = tmp_path / "singles"
    assert sorted(p.name for p in singles.iterdir() if p.name != OUTPUT_MARKER) == ["sed_doa", "sed_sce", "sed_sde", "seldnet"]
    for system in ("sed_doa", "sed_sce", "sed_sde", "seldnet"):
        assert sorted(p.name for p in (singles / system).iterdir() if p.name != OUTPUT_MARKER) == ["clip_a.csv", "clip_b.csv"]
    # sed_sde: direction from sed_doa (30°), distance 2 m -> 200 cm, frames 0..9 only
    lines = (singles / "sed_sde" / "clip_a.csv").read_text().splitlines()
    assert lines[0] == HEADER and len(lines) == 11 and lines[1] == "0,0,0,30,200,0"
    # sed_doa writes its constant 1 m
    assert (singles / "sed_doa" / "clip_b.csv").read_text().splitlines()[1] == "0,3,0,-45,100,0"

    metrics = tmp_path / "metrics"
    assert sorted(p.name for p in metrics.iterdir() if p.name != OUTPUT_MARKER) == [
        "ensemble.json", "sed_doa.json", "sed_sce.json", "sed_sde.json", "seldnet.json"]
    js = {s: json.loads((metrics / f"{s}.json").read_text()) for s in ("sed_doa", "sed_sde", "sed_sce", "seldnet", "ensemble")}
    # sed_doa: class 0 TP 20 and class 3 TP 10 (rel. dist errors 0.5 and 0) -> F = 2/13;
    # RDE = mean(0.5, 0) = 0.25 (recorded, though the table hides it)
    assert js["sed_doa"]["F"] == pytest.approx(2 / 13, abs=1e-6)
    assert js["sed_doa"]["RDE"] == pytest.approx(0.25, abs=1e-6)
    # sed_sde: class 0 TP 10, FN 10 -> F_0 = 10/15; class 3 FN 10 -> 0 -> F = (2/3)/13 = 2/39
    assert js["sed_sde"]["F"] == pytest.approx(2 / 39, abs=1e-6)
    assert js["sed_sde"]["classwise"]["female_speech"]["FN"] == 10
    assert js["sed_sde"]["RDE"] == 0.0
    # sed_sce: class 0 TP 20 (300 vs 200 cm -> 0.5); class 3: 10 pairs 45° off -> FP_spatial 10
    # -> F = 1/13, DOAE = mean(0, 45) = 22.5, RDE = mean(0.5, 0) = 0.25
    assert js["sed_sce"]["F"] == pytest.approx(1 / 13, abs=1e-6)
    assert js["sed_sce"]["DOAE"] == pytest.approx(22.5, abs=1e-6)
    assert js["sed_sce"]["classwise"]["telephone"]["FP_spatial"] == 10
    assert js["sed_sce"]["threshold"] == 0.3
    # seldnet predicts nothing: F = 0, DOAE undefined -> null
    assert js["seldnet"]["F"] == 0.0 and js["seldnet"]["DOAE"] is None
    # ensemble: clip_a perfect, clip_b empty -> 1/13
    assert js["ensemble"]["F"] == pytest.approx(1 / 13, abs=1e-6)
    assert js["ensemble"]["threshold"] == 0.5
    assert all(j["n_files"] == 2 for j in js.values())

    md = (tmp_path / "results.md").read_text()
    assert "| SED-DOA | 0.154 | 0.00° | – (constant distance) |" in md
    assert "| SED-SCE | 0.077 | 22.50° | 0.250 |" in md
    assert "| Baseline SELDnet / Baseline-A | 0.000 | – | – |" in md
    assert "embedded synthetic data" in md and "2 clips" in md

    figures = tmp_path / "figures"
    pngs = sorted(p.name for p in figures.iterdir() if p.name != OUTPUT_MARKER)
    assert pngs == ["classwise.png", "summary.png", "tracks_00_clip_a.png"]  # clip_a has the most events
    for name in pngs:
        assert (figures / name).read_bytes().startswith(PNG_MAGIC)

    # a second run gives byte-identical outputs
    assert _run(tmp_path, "2") == 0
    for folder in ("metrics", "figures"):
        for p in (tmp_path / folder).iterdir():
            assert p.read_bytes() == (tmp_path / f"{folder}2" / p.name).read_bytes(), p.name


def test_evaluate_stage_missing_prediction_is_an_error(tmp_path):
    _make_project(tmp_path)
    (tmp_path / "ensemble" / "clip_b.csv").unlink()
    with pytest.raises(SeldInputError, match="no prediction for test clip clip_b.csv"):
        _run(tmp_path)
    assert not (tmp_path / "metrics").exists() and not (tmp_path / "figures").exists()


def test_evaluate_stage_missing_model_output(tmp_path):
    _make_project(tmp_path)
    (tmp_path / "outputs" / "sed_doa.h5").unlink()
    with pytest.raises(SeldInputError, match="sed_doa.h5"):
        _run(tmp_path)
    assert not (tmp_path / "singles").exists()


def test_evaluate_stage_second_entry_of_a_kind(tmp_path):
    """A second SED-SDE entry (any name) is decoded, scored and labelled through its kind alone."""
    _make_project(tmp_path, systems=(*SYSTEMS[:-1], "sde_b", "ensemble"))
    names, arrays, meta = read_outputs_h5(tmp_path / "outputs" / "sed_sde.h5")
    write_outputs_h5(tmp_path / "outputs" / "sde_b.h5", names, arrays, meta)
    assert _run(tmp_path) == 0
    # the same arrays as sed_sde, direction from sed_doa -> the same CSVs and scores
    a, b = tmp_path / "singles" / "sed_sde", tmp_path / "singles" / "sde_b"
    assert [p.read_bytes() for p in sorted(a.iterdir())] == [p.read_bytes() for p in sorted(b.iterdir())]
    js = json.loads((tmp_path / "metrics" / "sde_b.json").read_text())
    assert js["F"] == pytest.approx(2 / 39, abs=1e-6)
    md = (tmp_path / "results.md").read_text()
    assert "| SED-SDE (sde_b) | 0.051 | 0.00° (from SED-DOA) | 0.000 | 0.53 | – | 0.26 |" in md.splitlines()


def test_evaluate_stage_direction_entry_of_wrong_kind(tmp_path):
    _make_project(tmp_path)
    text = (tmp_path / "params.yaml").read_text().replace("direction_entry: sed_doa", "direction_entry: sed_sce")
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(SeldInputError, match=r"params.yaml: evaluate.direction_entry: got 'sed_sce' \(kind sed_sce\)"):
        _run(tmp_path)
    # the stage checks the kinds its model outputs hold too (outputs written outside the pipeline)
    (tmp_path / "params.yaml").write_text(text.replace("direction_entry: sed_sce", "direction_entry: sed_doa"))
    names, arrays, meta = read_outputs_h5(tmp_path / "outputs" / "sed_sce.h5")
    write_outputs_h5(tmp_path / "outputs" / "sed_doa.h5", names, arrays, meta)
    with pytest.raises(SeldInputError, match="direction_entry 'sed_doa' is a sed_sce model"):
        _run(tmp_path)


# ------------------------------------------------------------------------------------------------
# Track B: systems built on the models (the audio-visual ensemble and its post-processing)


def _onscreen_events(cls: int, frames: range, az: float, on: int) -> EventTable:
    n = len(frames)
    return EventTable(list(frames), [cls] * n, [0] * n, [az] * n, [200.0] * n, [on] * n)


def test_track_b_rows_and_classwise_osa_hand_computed(tmp_path):
    # reference: class 0 on screen at frames 0..10 (frames 0..9 scored); the ensemble flags it on screen,
    # the post-processed one off screen: OSA of class 0 is 10/10 and 0/10, other classes undefined
    ref = {"a.csv": _onscreen_events(0, range(11), 20.0, 1)}
    right = score(ref, {"a.csv": _onscreen_events(0, range(11), 20.0, 1)}, onscreen=True)
    wrong = score(ref, {"a.csv": _onscreen_events(0, range(11), 20.0, 0)}, onscreen=True)
    from seldlib.kinds import AV_ENSEMBLE_PAPER, AV_PP_PAPER

    info = {
        "av_sed_sce_ons": {"kind": "av_sed_sce_ons"},
        "pp_people": {"kind": None, "label": "+ PP (stage 1: people)", "paper": None, "order": 1},
        "pp_people_objects": {"kind": None, "label": "+ PP (stages 1–2: people, objects)", "paper": AV_PP_PAPER,
                              "order": 2},
        "ensemble_av": {"kind": None, "label": "AV Model Ensemble", "paper": AV_ENSEMBLE_PAPER, "order": 0},
    }
    scores = {"pp_people_objects": wrong, "pp_people": wrong, "ensemble_av": right, "av_sed_sce_ons": right}
    table = report.av_results_table(scores, info, {s: 1.0 for s in scores})
    rows = [line.split(" | ")[0].lstrip("| ") for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    # single models, the paper's single models not run here, then the systems in their order
    assert rows == ["AV SED-SCE-ONS", "Baseline-AV", "AV TS-SED-SCE-ONS", "AV Model Ensemble",
                    "+ PP (stage 1: people)", "+ PP (stages 1–2: people, objects)"]
    pp_row = next(line for line in table.splitlines() if line.startswith("| + PP (stages"))
    assert "| 0.47 | 11.80° | 0.26 | 0.86 |" in pp_row and "0.000 (1.000)" in pp_row  # paper's "+ PP" row beside ours
    stage1 = next(line for line in table.splitlines() if line.startswith("| + PP (stage 1"))
    assert stage1.endswith("| – | – | – | – |")
    assert "not run" not in next(line for line in table.splitlines() if line.startswith("| AV Model Ensemble"))

    osa = report.classwise_osa_table({s: scores[s] for s in ("ensemble_av", "pp_people")}, info, [0, 1])
    lines = osa.splitlines()
    assert lines[0] == "| Class (matched events) | AV Model Ensemble | + PP (stage 1: people) |"
    assert lines[2] == "| Female speech, woman speaking (10) | 1.000 | 0.000 |"
    assert lines[3] == "| Male speech, man speaking (0) | – | – |"

    report.plot_osa_classwise(scores, info, tmp_path / "osa.png")
    frames = np.full((2, 36, 64, 3), 90, np.uint8)
    report.plot_detection_frames(frames, np.array([0.5, 1.5]), [np.array([[10.0, 5.0, 20.0, 15.0]]), np.zeros((0, 4))],
                                 ref["a.csv"], ref["a.csv"], "a", tmp_path / "det.png", "AV Model Ensemble")
    for name in ("osa.png", "det.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC)
