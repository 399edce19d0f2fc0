"""``python -m seldlib.metrics``: outputs that must not destroy anything, warnings for inputs the official
evaluation scores silently, and start-up without scipy. Expected scores are derived by hand from the
metric definition (eps = np.finfo(float).eps; F_c = TP / (eps + TP + FPsp + (FP + FN) / 2))."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seldlib.metrics import InputWarning, read_seld_csv, score_dirs

REPO = Path(__file__).resolve().parents[1]
EPS = np.finfo(float).eps
HEADER = "frame,class,source,azimuth,distance,onscreen"


def _cli(*args, code: str | None = None):
    run = ["-c", code] if code else ["-m", "seldlib.metrics"]
    cmd = [sys.executable, *run, *map(str, args)]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)


def _csv(path: Path, lines: list[str], header: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(([HEADER] if header else []) + lines) + "\n")
    return path


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _simple_pair(tmp_path: Path) -> tuple[Path, Path]:
    ref = tmp_path / "ref"
    _csv(ref / "dev-test-sony" / "a.csv", [f"{t},0,0,-20,100,0" for t in range(11)])  # T_ref = 10
    _csv(tmp_path / "pred" / "a.csv", [f"{t},0,0,-20,100,0" for t in range(10)])
    return ref, tmp_path / "pred"


# --------------------------------------------------------------------------------------------
# --json never destroys a folder


def test_json_onto_a_user_folder_is_refused_and_the_folder_kept(tmp_path):
    ref, pred = _simple_pair(tmp_path)
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "notes.txt").write_text("x\n")
    proc = _cli(ref, pred, "--json", victim)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {victim}") and "not written by seldlib" in lines[0]
    assert (victim / "notes.txt").read_text() == "x\n" and (victim / "sub").is_dir()


def test_json_onto_the_reference_root_keeps_the_references(tmp_path):
    ref, pred = _simple_pair(tmp_path)
    before = _tree(ref)
    proc = _cli(ref, pred, "--json", ref)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert _tree(ref) == before


# --------------------------------------------------------------------------------------------
# inputs scored as the official code does, with a warning


def test_odd_prediction_values_keep_official_numbers_and_warn_with_line(tmp_path):
    ref = tmp_path / "ref"
    _csv(ref / "s" / "a.csv", [f"{t},0,0,-20,100,0" for t in range(10)] + ["10,12,0,0,100,0"])  # T_ref = 10
    pred_lines = [f"{t},0,0,-20,100,0" for t in range(10)]
    pred_lines[0] = "0,0,0,200,100,0"  # line 2: azimuth 200 -> wrapped to -160 -> folded to -20: exact
    pred_lines[4] = "4,0,0,-20,100,2"  # line 6: onscreen 2 never equals the reference flag 0
    pred_lines[5] = "5,0,0,-20,0,0"    # line 7: distance 0: error 100 cm, relative 100 / (100 + eps)
    pred_lines += ["2,13,0,0,100,0",   # line 12: class 13 is never scored
                   "60,0,0,-20,100,0"]  # line 13: frame 60 lies after the reference's last frame 10
    pred = _csv(tmp_path / "pred" / "a.csv", pred_lines)
    out = tmp_path / "s.json"
    proc = _cli(ref, tmp_path / "pred", "--json", out, "--onscreen")
    assert proc.returncode == 0, proc.stderr
    warnings = proc.stderr.strip().splitlines()
    for line, word in ((2, "azimuth 200"), (6, "onscreen 2"), (7, "distance 0"), (12, "class 13"), (13, "frame 60")):
        assert any(w.startswith(f"warning: {pred}, line {line}: ") and word in w for w in warnings), (line, warnings)
    assert len(warnings) == 5
    data = json.loads(out.read_text())
    # class 0: 10 pairs, the onscreen-2 pair fails -> TP 9, FPsp 1 -> F_0 = 9 / (eps + 10); F = F_0 / 13
    assert data["F"] == pytest.approx(9 / (EPS + 10) / 13, abs=1e-12)
    assert data["totals"]["TP"] == 9 and data["totals"]["FP_spatial"] == 1 and data["totals"]["FP"] == 0
    assert data["DOAE"] == 0.0  # the azimuth-200 pair is exact after folding
    assert data["DistE"] == pytest.approx(100 / (10 + EPS), abs=1e-12)
    assert data["RDE"] == pytest.approx(100 / (100 + EPS) / (10 + EPS), abs=1e-12)
    assert data["OSA"] == pytest.approx(9 / (10 + EPS), abs=1e-12)


def test_many_odd_rows_of_one_kind_give_one_warning(tmp_path):
    ref = tmp_path / "ref"
    _csv(ref / "s" / "a.csv", ["0,0,0,0,100,0", "5,0,0,0,100,0"])
    pred = _csv(tmp_path / "pred" / "a.csv", [f"{t},13,0,0,100,0" for t in range(4)])
    notes: list[InputWarning] = []
    score_dirs(ref, tmp_path / "pred", notes=notes)
    assert [str(n) for n in notes] == [
        f"{pred}, line 2: class 13 is outside 0..12; the official evaluation never scores it (and 3 more lines)"]


def test_empty_prediction_file_warns(tmp_path):
    ref, _ = _simple_pair(tmp_path)
    (tmp_path / "pred" / "a.csv").write_text("")
    proc = _cli(ref, tmp_path / "pred", "--json", tmp_path / "s.json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning: {tmp_path / 'pred' / 'a.csv'}: ")
    assert "empty" in lines[0]
    assert json.loads((tmp_path / "s.json").read_text())["totals"]["FN"] == 10  # scored as no events


def test_header_only_reference_warns(tmp_path):
    ref = tmp_path / "ref"
    ref_csv = _csv(ref / "s" / "a.csv", [])
    _csv(tmp_path / "pred" / "a.csv", ["0,1,0,10,100,0"])
    proc = _cli(ref, tmp_path / "pred", "--json", tmp_path / "s.json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning: {ref_csv}: ") and "no frame" in lines[0]


def test_clean_input_gives_no_warning(tmp_path):
    # a header-only prediction (nothing detected) and a prediction at the last reference frame (the
    # official window stops before it, on every clip) are ordinary
    ref = tmp_path / "ref"
    _csv(ref / "s" / "a.csv", [f"{t},0,0,-20,100,1" for t in range(11)])
    _csv(ref / "s" / "b.csv", ["3,5,0,-170,450,0", "7,5,0,180,450,0"])
    _csv(tmp_path / "pred" / "a.csv", [f"{t},0,0,-20.5,99.5,1" for t in range(11)])
    _csv(tmp_path / "pred" / "b.csv", [])
    proc = _cli(ref, tmp_path / "pred", "--json", tmp_path / "s.json")
    assert proc.returncode == 0 and proc.stderr == ""


def test_reference_folder_without_csvs_is_reported_as_such(tmp_path):
    (tmp_path / "ref" / "dev-test-sony").mkdir(parents=True)
    _csv(tmp_path / "pred" / "a.csv", [])
    proc = _cli(tmp_path / "ref", tmp_path / "pred", "--json", tmp_path / "s.json")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"error: {tmp_path / 'ref'}: no reference CSV files found"]


def test_library_reader_collects_notes_and_prints_nothing(tmp_path, capsys):
    path = _csv(tmp_path / "p.csv", ["0,1,0,10,100,0", "1,1,0,10,-5,0"], header=False)
    notes: list[InputWarning] = []
    table = read_seld_csv(path, notes)
    assert table.frame.tolist() == [1]  # line 1 is dropped as the official loader does
    assert [(n.path, n.line) for n in notes] == [(path, 1), (path, 2)]
    assert "header" in notes[0].problem and "distance -5" in notes[1].problem
    assert capsys.readouterr() == ("", "")


# --------------------------------------------------------------------------------------------
# start-up


def test_scoring_without_ties_or_jackknife_does_not_import_scipy(tmp_path):
    ref, pred = _simple_pair(tmp_path)
    code = ("import sys\nfrom seldlib.metrics.__main__ import main\n"
            "assert main(sys.argv[1:]) == 0\nprint(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))")
    proc = _cli(ref, pred, "--json", tmp_path / "s.json", code=code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    # the jackknife needs scipy.stats and still works
    proc = _cli(ref, pred, "--json", tmp_path / "j.json", "--jackknife")
    assert proc.returncode == 0, proc.stderr
    assert "ci_low" in json.loads((tmp_path / "j.json").read_text())["jackknife"]["F"]
