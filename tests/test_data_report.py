"""Dataset report: counts, polyphony and on-screen share of hand-made CSVs, written files, determinism."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from seldlib.atomic import OUTPUT_MARKER
from seldlib.constants import CLASS_NAMES
from seldlib.data_report import (
    collect_events,
    count_distinct_events,
    pick_examples,
    polyphony_histogram,
    summarize,
)
from seldlib.errors import SeldInputError
from seldlib.layout import discover
from seldlib.metadata import EventTable
from stages.data_report import main

HEADER = "frame,class,source,azimuth,distance,onscreen\n"

# Clip a: class 0 / source 1 in frames 0,1,3 (2 events), class 2 in frames 1,2 (1 event), and
# classes 5, 8, 12 in frame 1 only -> frame 1 holds 5 rows (4+). 8 rows, 2 on-screen.
CLIP_A = HEADER + (
    "0,0,1,10,100,1\n1,0,1,12,100,1\n3,0,1,14,100,0\n"
    "1,2,0,-30,200,0\n1,5,0,60,300,0\n1,8,0,-90,400,0\n1,12,0,90,150,0\n2,2,0,-30,200,0\n"
)
CLIP_B = HEADER  # empty clip
# Clip c: two sources of class 1 overlap in frames 0-1 -> 2 events, 2 frames with 2 active.
CLIP_C = HEADER + "0,1,2,-45,250,1\n0,1,3,45,250,0\n1,1,2,-45,250,1\n1,1,3,45,250,0\n"
# Clip d (synthetic split): three classes in the last frame.
CLIP_D = HEADER + "49,3,0,0,500,1\n49,4,0,5,500,1\n49,6,0,-5,500,0\n"


def _clip(root: Path, split: str, stem: str, csv: str, seconds: float = 1.0) -> None:
    (root / "stereo_dev" / split).mkdir(parents=True, exist_ok=True)
    (root / "metadata_dev" / split).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(stem) + len(csv))
    sf.write(root / "stereo_dev" / split / f"{stem}.wav", 0.1 * rng.standard_normal((int(24000 * seconds), 2)), 24000)
    (root / "metadata_dev" / split / f"{stem}.csv").write_text(csv)


@pytest.fixture
def project(tmp_path, monkeypatch):
    ds, synth = tmp_path / "dataset", tmp_path / "synth"
    _clip(ds, "dev-train-sim", "a", CLIP_A)
    _clip(ds, "dev-train-sim", "b", CLIP_B, seconds=0.5)
    _clip(ds, "dev-val-sim", "v", CLIP_B, seconds=0.5)  # the embedded source's validation split
    _clip(ds, "dev-test-sim", "c", CLIP_C)
    _clip(synth, "dev-train-synth", "d", CLIP_D)
    (tmp_path / "params.yaml").write_text("data:\n  source: synth-mini\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _stats(root: Path):
    clips = discover(root / "dataset", ["dev-train-sim", "dev-test-sim"]) + discover(root / "synth", ["dev-train-synth"])
    return collect_events(clips)


def test_polyphony_histogram_and_distinct_events_by_hand():
    ev = EventTable(frame=[0, 1, 1, 1, 1, 1, 2, 3], cls=[0, 0, 2, 5, 8, 12, 2, 0], source=[1, 1, 0, 0, 0, 0, 0, 1],
                    azimuth=np.zeros(8), distance=np.ones(8), onscreen=np.zeros(8))
    assert polyphony_histogram(ev, n_frames=50).tolist() == [46, 3, 0, 0, 1]
    assert polyphony_histogram(ev, n_frames=4).tolist() == [0, 3, 0, 0, 1]
    assert polyphony_histogram(EventTable(), n_frames=50).tolist() == [50, 0, 0, 0, 0]
    with pytest.raises(ValueError):
        polyphony_histogram(ev, n_frames=3)
    # class 0 / source 1 in frames 0,1,3 is two runs; class 2 in 1,2 one run.
    assert count_distinct_events(ev).tolist() == [2, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1]


def test_summary_numbers_by_hand(project):
    stats = _stats(project)
    assert list(stats) == ["dev-train-sim", "dev-test-sim", "dev-train-synth"]
    summ = summarize(stats, source="synth-mini")
    tr = summ["splits"]["dev-train-sim"]
    assert tr["clips"] == 2 and tr["empty_clips"] == 1 and tr["rows"] == 8 and tr["events"] == 6
    assert tr["duration_s"] == pytest.approx(1.5)
    assert tr["rows_per_class"][CLASS_NAMES[0]] == 3 and tr["rows_per_class"][CLASS_NAMES[2]] == 2
    assert tr["events_per_class"][CLASS_NAMES[0]] == 2 and tr["events_per_class"][CLASS_NAMES[12]] == 1
    assert tr["polyphony"]["frames"] == {"0": 96, "1": 3, "2": 0, "3": 0, "4+": 1}
    assert tr["polyphony"]["fraction"]["0"] == pytest.approx(0.96)
    assert tr["polyphony"]["fraction"]["4+"] == pytest.approx(0.01)
    assert tr["polyphony"]["mean_active"] == pytest.approx(7 / 4)
    assert tr["onscreen_ratio"] == pytest.approx(0.25)
    assert tr["azimuth_deg"] == pytest.approx({"mean": 4.5, "median": 11.0, "min": -90.0, "max": 90.0})
    assert tr["distance_cm"] == pytest.approx({"mean": 193.75, "median": 175.0, "min": 100.0, "max": 400.0})

    te = summ["splits"]["dev-test-sim"]
    assert te["rows"] == 4 and te["events"] == 2 and te["onscreen_ratio"] == pytest.approx(0.5)
    assert te["polyphony"]["frames"] == {"0": 48, "1": 0, "2": 2, "3": 0, "4+": 0}
    sy = summ["splits"]["dev-train-synth"]
    assert sy["polyphony"]["frames"]["3"] == 1 and sy["onscreen_ratio"] == pytest.approx(2 / 3)

    tot = summ["total"]
    assert tot["clips"] == 4 and tot["rows"] == 15 and tot["events"] == 11
    assert tot["onscreen_ratio"] == pytest.approx(6 / 15)
    assert tot["duration_s"] == pytest.approx(3.5)
    assert tot["polyphony"]["frames"] == {"0": 193, "1": 3, "2": 2, "3": 1, "4+": 1}
    assert summ["source"] == "synth-mini" and summ["classes"] == list(CLASS_NAMES)
    # busiest clip per split; first and last split are picked
    assert [c.stem for c in pick_examples(stats, 2)] == ["a", "d"]


def test_stage_writes_files_with_hand_values_and_is_byte_identical(project):
    assert main(["--params", "data.source", "--dataset", "dataset", "--synth", "synth", "--out", "out1"]) == 0
    out = project / "out1"
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != OUTPUT_MARKER)
    assert (out / OUTPUT_MARKER).is_file()  # the folder is marked as seldlib's (seldlib/atomic.py)
    assert names == sorted([
        "summary.json", "classes.png", "polyphony.png", "azimuth_hist.png", "distance_hist.png", "onscreen.png",
        "examples.png", "plots/class_counts.tsv", "plots/polyphony.tsv", "plots/azimuth_hist.tsv",
        "plots/distance_hist.tsv", "plots/onscreen.tsv",
    ])
    summ = json.loads((out / "summary.json").read_text())
    assert sorted(summ["splits"]) == ["dev-test-sim", "dev-train-sim", "dev-train-synth", "dev-val-sim"]
    assert summ["splits"]["dev-val-sim"]["clips"] == 1 and summ["splits"]["dev-val-sim"]["rows"] == 0
    assert summ["total"]["rows"] == 15 and summ["total"]["duration_s"] == pytest.approx(4.0)
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    cc = (out / "plots/class_counts.tsv").read_text().splitlines()
    assert cc[0] == "class\tsplit\tcount\tevents"
    assert f"{CLASS_NAMES[0]}\tdev-train-sim\t3\t2" in cc and f"{CLASS_NAMES[1]}\tdev-test-sim\t4\t2" in cc
    assert len(cc) == 1 + 4 * 13
    poly = (out / "plots/polyphony.tsv").read_text().splitlines()
    assert "4+\tdev-train-sim\t1\t0.01" in poly and "2\tdev-test-sim\t2\t0.04" in poly

    az = [ln.split("\t") for ln in (out / "plots/azimuth_hist.tsv").read_text().splitlines()]
    assert az[0] == ["azimuth_deg", "dev-train-sim", "dev-val-sim", "dev-test-sim", "dev-train-synth"]
    rows = {r[0]: r[1:] for r in az[1:]}
    assert len(rows) == 18
    # -90 -> first bin, -30 twice -> [-30,-20), 10/12/14 -> [10,20), 60 -> [60,70), +90 -> last (closed) bin
    assert rows["-85"][0] == "1" and rows["-25"][0] == "2" and rows["15"][0] == "3"
    assert rows["65"][0] == "1" and rows["85"][0] == "1"
    assert all(r[1] == "0" for r in rows.values())  # the validation clip is empty
    assert rows["-45"][2] == "2" and rows["45"][2] == "2"
    assert rows["-5"][3] == "1" and rows["5"][3] == "2"
    dist = [ln.split("\t") for ln in (out / "plots/distance_hist.tsv").read_text().splitlines()]
    # max distance 500 lies on an edge -> 11 bins of 50 cm, 500 in [500, 550)
    assert len(dist) == 1 + 11 and dist[-1] == ["525", "0", "0", "0", "3"]
    on = (out / "plots/onscreen.tsv").read_text().splitlines()
    assert on[1] == "dev-train-sim\t2\t6\t0.25"
    assert b"\r" not in (out / "plots/class_counts.tsv").read_bytes()

    # a second run into another folder and a rerun over the first give the same bytes
    assert main(["--params", "data.source", "--dataset", "dataset", "--synth", "synth", "--out", "out2"]) == 0
    assert main(["--params", "data.source", "--dataset", "dataset", "--synth", "synth", "--out", "out1"]) == 0
    for name in names:
        assert (project / "out2" / name).read_bytes() == (out / name).read_bytes(), name
    assert not [p for p in project.iterdir() if p.name.startswith(".out")]  # no temp leftovers


def test_malformed_csv_names_file_and_line(project):
    bad = project / "dataset" / "metadata_dev" / "dev-test-sim" / "c.csv"
    bad.write_text(HEADER + "0,1,2,-45,250,1\n1,2,0,abc,100,0\n")
    with pytest.raises(SeldInputError) as err:
        main(["--params", "data.source", "--dataset", "dataset", "--synth", "synth", "--out", "out"])
    assert "c.csv" in str(err.value) and "line 3" in str(err.value)
    assert not (project / "out").exists()


def test_missing_synth_split_is_an_input_error(project):
    with pytest.raises(SeldInputError, match="dev-train-synth"):
        main(["--params", "data.source", "--dataset", "dataset", "--synth", "nowhere", "--out", "out"])
