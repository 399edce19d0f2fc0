"""Tests for seldlib.metrics against hand-computed values from the metric definition
(docs/metrics.md#algorithm, the official ``SELDMetrics`` of the DCASE2025 baseline) and against an independent per-frame loop oracle.

Notation in comments: eps = np.finfo(float).eps; F_c = TP / (eps + TP + FPsp + (FP + FN) / 2);
macro F = mean over the 13 classes; only frames 0 .. T_ref-1 are scored, T_ref = max ref frame.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks._loop_scorer import loop_jackknife, loop_score  # noqa: E402
from seldlib.errors import SeldInputError  # noqa: E402
from seldlib.metadata import EventTable  # noqa: E402
from seldlib.metrics import InputWarning, read_seld_csv, score, score_dirs, score_pairs  # noqa: E402

EPS = np.finfo(float).eps
HEADER = "frame,class,source,azimuth,distance,onscreen"


def tab(rows) -> EventTable:
    """rows: (frame, class, source, azimuth, distance, onscreen) tuples."""
    if not rows:
        return EventTable()
    return EventTable(*zip(*rows))


def one(ref_rows, pred_rows, **kw):
    return score({"a.csv": tab(ref_rows)}, {"a.csv": tab(pred_rows)}, **kw)


def write_csv(path: Path, rows, header: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [HEADER] if header else []
    lines += [",".join(str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


# A reference row at frame `t` only sets T_ref = t; frame t itself is never scored.
def sentinel(t: int, cls: int = 12):
    return (t, cls, 0, 0, 100, 0)


# --------------------------------------------------------------------------------------------
# hand-computed cases


def test_perfect_single_class_is_one_thirteenth():
    ref = [(t, 3, 0, 10, 200, 1) for t in range(11)]  # T_ref = 10 -> frames 0..9 scored
    res = one(ref, ref)
    # class 3: TP = 10, everything else 0 -> F_3 = 10 / (eps + 10); other 12 classes F = 0
    assert res.F == pytest.approx((10 / (EPS + 10)) / 13, abs=1e-12)
    assert res.F == pytest.approx(1 / 13, abs=1e-9)
    assert res.classwise["TP"][3] == 10 and res.classwise["FN"][3] == 0
    # all pairs exact: DOAE = RDE = DistE = 0, onscreen equal -> OSA = 10 / (10 + eps)
    assert res.DOAE == 0.0 and res.RDE == 0.0 and res.DistE == 0.0
    assert res.OSA == pytest.approx(1.0, abs=1e-12)
    # classes without any matched pair are NaN class-wise
    assert np.isnan(res.classwise["DOAE"][0])


def test_last_reference_frame_is_not_scored():
    ref = [(t, 0, 0, 0, 100, 0) for t in range(5)]  # T_ref = 4: frames 0..3 scored
    pred = [(4, 0, 0, 0, 100, 0)]  # only the last labelled frame, perfectly
    res = one(ref, pred)
    # frames 0..3: FN = 4; frame 4 is outside the window -> no TP. F_0 = 0 / (eps + 0.5 * 4) = 0
    assert res.F == 0.0
    assert res.classwise["FN"][0] == 4 and res.classwise["TP"][0] == 0 and res.classwise["FP"][0] == 0


def test_predictions_beyond_t_ref_are_ignored():
    ref = [(t, 0, 0, 0, 100, 0) for t in range(5)]
    good = [(t, 0, 0, 0, 100, 0) for t in range(4)]
    extra = [(t, c, 0, 45, 300, 1) for t in range(4, 50) for c in range(13)]
    res = one(ref, good + extra)
    # frames 0..3 perfect (TP = 4); every extra row is at frame >= T_ref = 4 -> FP = 0
    assert res.classwise["FP"].sum() == 0
    assert res.F == pytest.approx((4 / (EPS + 4)) / 13, abs=1e-12)


def test_empty_reference_scores_nothing():
    pred = [(t, 1, 0, 0, 100, 0) for t in range(50)]
    res = one([], pred)
    # T_ref = 0 -> no frame scored: every counter 0, F = 0 / eps = 0, DOAE undefined
    for k in ("TP", "FP", "FP_spatial", "FN", "n_matched"):
        assert res.classwise[k].sum() == 0
    assert res.F == 0.0 and math.isnan(res.DOAE) and math.isnan(res.OSA)


def test_missing_prediction_file_adds_no_fn(tmp_path):
    ref = [(t, 0, 0, 0, 100, 0) for t in range(3)]  # T_ref = 2: frames 0, 1
    write_csv(tmp_path / "ref" / "dev-test-sony" / "a.csv", ref)
    write_csv(tmp_path / "ref" / "dev-test-tau" / "b.csv", ref)  # no prediction for b
    write_csv(tmp_path / "pred" / "a.csv", ref)
    res = score_dirs(tmp_path / "ref", tmp_path / "pred")
    # only a.csv is scored: TP = 2, FN = 0 (b.csv's 2 scored events would have been FN)
    assert res.n_files == 1
    assert res.classwise["FN"].sum() == 0 and res.classwise["TP"][0] == 2
    assert res.F == pytest.approx((2 / (EPS + 2)) / 13, abs=1e-12)


def test_prediction_without_reference_is_an_error(tmp_path):
    write_csv(tmp_path / "ref" / "s" / "a.csv", [sentinel(3)])
    write_csv(tmp_path / "pred" / "zzz.csv", [(0, 0, 0, 0, 100, 0)])
    with pytest.raises(SeldInputError, match="zzz.csv"):
        score_dirs(tmp_path / "ref", tmp_path / "pred")
    with pytest.raises(SeldInputError, match="zzz.csv"):
        score({"a.csv": tab([sentinel(3)])}, {"zzz.csv": tab([])})


def test_duplicate_reference_names_across_splits_are_an_error(tmp_path):
    write_csv(tmp_path / "ref" / "dev-test-sony" / "a.csv", [sentinel(3)])
    write_csv(tmp_path / "ref" / "dev-test-tau" / "a.csv", [sentinel(3)])
    write_csv(tmp_path / "pred" / "a.csv", [])
    with pytest.raises(SeldInputError, match="duplicate"):
        score_dirs(tmp_path / "ref", tmp_path / "pred")


def test_line_one_is_dropped_even_without_header(tmp_path):
    ref = [(t, 0, 0, 0, 100, 0) for t in range(11)]  # T_ref = 10: frames 0..9
    write_csv(tmp_path / "ref" / "s" / "a.csv", ref)
    pred = write_csv(tmp_path / "pred" / "a.csv", ref[:10], header=False)  # frames 0..9, no header
    notes: list[InputWarning] = []
    res = score_dirs(tmp_path / "ref", tmp_path / "pred", notes=notes)
    assert [(n.path, n.line) for n in notes] == [(pred, 1)] and "not a header" in notes[0].problem
    # the frame-0 event is lost: TP = 9, FN = 1 -> F_0 = 9 / (eps + 9 + 0.5) ; F = F_0 / 13
    assert res.classwise["TP"][0] == 9 and res.classwise["FN"][0] == 1
    assert res.F == pytest.approx((9 / (EPS + 9.5)) / 13, abs=1e-12)


def test_reference_line_one_is_dropped_too(tmp_path):
    # A headerless reference loses its first row exactly like a prediction.
    ref = [(0, 0, 0, 0, 100, 0), (1, 0, 0, 0, 100, 0), (2, 1, 0, 0, 100, 0)]
    ref_csv = write_csv(tmp_path / "ref" / "s" / "a.csv", ref, header=False)
    write_csv(tmp_path / "pred" / "a.csv", [(0, 0, 0, 0, 100, 0)])
    notes: list[InputWarning] = []
    res = score_dirs(tmp_path / "ref", tmp_path / "pred", notes=notes)
    assert [(n.path, n.line) for n in notes] == [(ref_csv, 1)]
    # ref keeps frames 1 and 2 -> T_ref = 2 -> frames 0,1 scored; frame 0 holds no ref -> FP = 1
    # frame 1 ref class 0 unmatched -> FN = 1
    assert res.classwise["FP"][0] == 1 and res.classwise["FN"][0] == 1 and res.classwise["TP"][0] == 0


@pytest.mark.parametrize("bad_line, column", [
    ("0.7,0,0,10,100,0", "frame"),
    ("1,2.0,0,10,100,0", "class"),
    ("1,2,x,10,100,0", "source"),
    ("1,2,0,10,100,1.0", "onscreen"),
    ("1,2,0,abc,100,0", "azimuth"),
    ("1,2,0,10,nan,0", "distance"),
    ("1,2,0,10,100", "6 columns"),
])
def test_malformed_prediction_row_names_file_and_line(tmp_path, bad_line, column):
    path = tmp_path / "p.csv"
    path.write_text(f"{HEADER}\n0,0,0,5,100,0\n{bad_line}\n")  # the bad row is line 3
    with pytest.raises(SeldInputError) as err:
        read_seld_csv(path)
    msg = str(err.value)
    assert "p.csv" in msg and "line 3" in msg and column in msg


def test_blank_lines_and_extra_columns_keep_line_numbers(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(f"{HEADER}\n0,1,0,10,100,0\n\n   \n1,13,0,10,100,0\n 2 , 1 ,0, 10.5 ,100,1,extra\n")
    notes: list[InputWarning] = []
    t = read_seld_csv(path, notes)
    # blank lines 3 and 4 are skipped; spaces around numbers and a seventh column are accepted
    assert t.frame.tolist() == [0, 1, 2] and t.cls.tolist() == [1, 13, 1] and t.azimuth.tolist() == [10, 10, 10.5]
    assert [(n.line, n.problem.split(" is ")[0]) for n in notes] == [(5, "class 13")]
    path.write_text(f"{HEADER}\n\n0,1,0,10,100,0\n\n0,1,0,x,100,0\n")
    with pytest.raises(SeldInputError, match="line 5: column 'azimuth'"):
        read_seld_csv(path)


@pytest.mark.parametrize("rows, line, column", [
    (["0,1,0,nan,100,0", "x,1,0,10,100,0"], 3, "azimuth"),  # the first bad row in file order
    (["0,1,0,10,100,0", "0,1,99999999999999999999,10,100,0"], 4, "source"),  # beyond int64
])
def test_first_bad_row_is_reported(tmp_path, rows, line, column):
    path = tmp_path / "p.csv"
    path.write_text("\n".join([HEADER, "0,0,0,0,100,0", *rows]) + "\n")
    with pytest.raises(SeldInputError, match=f"line {line}: column '{column}'"):
        read_seld_csv(path)


def test_float_azimuth_and_distance_are_accepted(tmp_path):
    path = write_csv(tmp_path / "p.csv", [(0, 1, 2, -12.5, 250.75, 1)])
    t = read_seld_csv(path)
    assert t.azimuth.tolist() == [-12.5] and t.distance.tolist() == [250.75] and t.onscreen.tolist() == [1]


def test_thresholds_are_inclusive():
    ref = [(0, 0, 0, 0, 100, 1), sentinel(1)]
    # az error exactly 20; distance error 100 -> 100 / (100 + eps) == 1.0 in floating point
    res = one(ref, [(0, 0, 0, 20, 200, 0)])
    assert res.classwise["TP"][0] == 1 and res.classwise["FP_spatial"][0] == 0
    assert res.RDE == pytest.approx(1.0, abs=1e-12) and res.DOAE == pytest.approx(20.0, abs=1e-12)
    # just outside either threshold -> the pair becomes one FP_spatial: F_0 = 0 / (eps + 1) = 0
    for pred in ([(0, 0, 0, 20.5, 200, 1)], [(0, 0, 0, -20.5, 100, 1)], [(0, 0, 0, 0, 201, 1)]):
        res = one(ref, pred)
        assert res.classwise["TP"][0] == 0 and res.classwise["FP_spatial"][0] == 1 and res.F == 0.0


def test_rear_azimuth_is_folded_before_comparison():
    ref = [(0, 0, 0, 30, 100, 0), (1, 0, 0, -45, 100, 0), sentinel(2)]
    # fold(150) = 180 - 150 = 30; fold(-135) = -180 - (-135) = -45; fold(210) = wrap(-150) -> -30
    pred = [(0, 0, 0, 150, 100, 0), (1, 0, 0, -135, 100, 0)]
    res = one(ref, pred)
    assert res.DOAE == 0.0 and res.classwise["TP"][0] == 2
    res = one([(0, 0, 0, -30, 100, 0), sentinel(1)], [(0, 0, 0, 210, 100, 0)])
    assert res.DOAE == 0.0
    # fold(-90) = -90 vs fold(90) = 90: a plain difference, not circular -> 180 deg
    res = one([(0, 0, 0, -90, 100, 0), sentinel(1)], [(0, 0, 0, 90, 100, 0)])
    assert res.DOAE == pytest.approx(180.0, abs=1e-12) and res.classwise["FP_spatial"][0] == 1


def test_doae_uses_all_matched_pairs_including_failures():
    ref = [(0, 0, 0, 0, 100, 0), (1, 0, 0, 0, 100, 0), (2, 0, 0, 0, 100, 0), sentinel(3)]
    pred = [
        (0, 0, 0, 50, 100, 0),  # frame 0: e = 50 > 20 -> FP_spatial, still in DOAE
        (1, 0, 0, 10, 100, 0),  # frame 1: e = 10 -> TP
        (2, 0, 0, 80, 100, 0),  # frame 2: two preds for one ref; Hungarian takes az 5 (cost 5 < 80)
        (2, 0, 1, 5, 100, 0),   #          the other is an unmatched FP, not in DOAE
    ]
    res = one(ref, pred)
    # DOAE = (50 + 10 + 5) / (3 + eps); TP = 2, FPsp = 1, FP = 1, FN = 0
    assert res.DOAE == pytest.approx(65 / (3 + EPS), abs=1e-12)
    cw = res.classwise
    assert (cw["TP"][0], cw["FP_spatial"][0], cw["FP"][0], cw["FN"][0], cw["n_matched"][0]) == (2, 1, 1, 0, 3)
    # F_0 = 2 / (eps + 2 + 1 + 0.5 * 1) = 2 / 3.5
    assert res.F == pytest.approx((2 / (EPS + 3.5)) / 13, abs=1e-12)


def test_hungarian_beats_greedy_on_2x2():
    ref = [(0, 0, 0, 0, 100, 0), (0, 0, 1, 20, 100, 0), sentinel(1)]
    pred = [(0, 0, 0, 35, 100, 0), (0, 0, 1, 12, 100, 0)]
    # costs: ref0: |0-35| = 35, |0-12| = 12; ref1: |20-35| = 15, |20-12| = 8
    # greedy (cheapest first): ref1-pred12 (8) then ref0-pred35 (35) -> total 43, one pair fails
    # Hungarian: ref0-pred12 (12) + ref1-pred35 (15) = 27 -> both pairs <= 20 -> TP = 2
    res = one(ref, pred)
    assert res.classwise["TP"][0] == 2 and res.classwise["FP_spatial"][0] == 0
    assert res.DOAE == pytest.approx(27 / (2 + EPS), abs=1e-12)


def test_nan_classes_are_ignored_in_doae_and_f_averages_all_13():
    ref = [(0, 0, 0, 0, 100, 0), (0, 5, 0, 0, 100, 0), sentinel(1)]
    pred = [(0, 0, 0, 10, 100, 0)]  # class 0 matched with e = 10; class 5 only an FN
    res = one(ref, pred)
    # DOAE = nanmean([10/(1+eps), NaN, ...]) = 10 (not 5); F = (1/(1+eps) + 0) / 13
    assert res.DOAE == pytest.approx(10.0, abs=1e-12)
    assert np.isnan(res.classwise["DOAE"][5])
    assert res.F == pytest.approx((1 / (1 + EPS)) / 13, abs=1e-12)


def test_micro_versus_macro():
    ref = [
        (0, 0, 0, 0, 100, 0), (1, 0, 0, 0, 100, 0), (2, 0, 0, 0, 100, 0),  # class 0, three frames
        (0, 1, 0, 0, 100, 0),  # class 1 frame 0: no prediction -> FN
        (2, 1, 0, 0, 100, 0),  # class 1 frame 2: predicted 30 deg off -> FP_spatial
        sentinel(3),
    ]
    pred = [
        (0, 0, 0, 2, 100, 0), (1, 0, 0, 4, 100, 0), (2, 0, 0, 6, 100, 0),  # errors 2, 4, 6 -> TP
        (1, 1, 0, 0, 100, 0),  # class 1 frame 1 without reference -> FP
        (2, 1, 0, 30, 100, 0),
    ]
    macro = one(ref, pred, average="macro")
    micro = one(ref, pred, average="micro")
    # class 0: TP 3 -> F_0 = 3/(3+eps); DOAE_0 = 12/(3+eps). class 1: TP 0, FPsp 1, FP 1, FN 1 -> F_1 = 0
    # DOAE_1 = 30/(1+eps)
    assert macro.F == pytest.approx((3 / (3 + EPS)) / 13, abs=1e-12)
    assert macro.DOAE == pytest.approx((12 / (3 + EPS) + 30 / (1 + EPS)) / 2, abs=1e-12)  # = 17
    # micro: F = 3 / (eps + 3 + 1 + 0.5 * (1 + 1)) = 0.6 ; DOAE = (12 + 30) / (4 + eps) = 10.5
    assert micro.F == pytest.approx(3 / (EPS + 5), abs=1e-12)
    assert micro.DOAE == pytest.approx(42 / (4 + EPS), abs=1e-12)
    # the class-wise table is the same in both modes
    np.testing.assert_array_equal(micro.classwise["TP"], macro.classwise["TP"])


def test_onscreen_requirement():
    ref = [(0, 2, 0, 0, 100, 1), (1, 2, 0, 0, 100, 1), sentinel(2)]
    pred = [(0, 2, 0, 0, 100, 0), (1, 2, 0, 0, 100, 1)]  # frame 0 flag wrong, frame 1 right
    off = one(ref, pred, onscreen=False)
    on = one(ref, pred, onscreen=True)
    # without the requirement both pairs are TP: F_2 = 2/(2+eps)
    assert off.F == pytest.approx((2 / (2 + EPS)) / 13, abs=1e-12)
    # with it the frame-0 pair is FP_spatial: F_2 = 1 / (eps + 1 + 1) = 0.5
    assert on.F == pytest.approx((1 / (EPS + 2)) / 13, abs=1e-12)
    # OSA = 1 correct flag / (2 + eps) in both modes
    assert off.OSA == pytest.approx(1 / (2 + EPS), abs=1e-12) and on.OSA == off.OSA


def test_distance_errors_in_csv_units():
    ref = [(0, 4, 0, 0, 200, 0), (1, 4, 0, 0, 400, 0), sentinel(2)]
    pred = [(0, 4, 0, 0, 250, 0), (1, 4, 0, 0, 300, 0)]
    res = one(ref, pred)
    # |200-250| = 50, |400-300| = 100 -> DistE = 150/(2+eps) = 75 cm; RDE = (50/200 + 100/400)/2 = 0.25
    assert res.DistE == pytest.approx(75.0, abs=1e-12)
    assert res.RDE == pytest.approx(0.25, abs=1e-12)


def test_zero_reference_distance_uses_eps_denominator():
    ref = [(0, 0, 0, 0, 0, 0), (1, 0, 0, 0, 0, 0), sentinel(2)]
    pred = [(0, 0, 0, 0, 0, 0), (1, 0, 0, 0, 1e-20, 0)]
    res = one(ref, pred)
    # frame 0: e_rd = 0 / (0 + eps) = 0 -> TP; frame 1: e_rd = 1e-20 / eps ~ 4.5e-5 <= 1 -> TP
    assert res.classwise["TP"][0] == 2
    assert res.RDE == pytest.approx((0.0 + 1e-20 / EPS) / (2 + EPS), rel=1e-12)


def test_more_than_ten_events_overwrite_track_zero():
    # 11 reference events in one (frame, class); sources 0..9 take tracks 0..9, source 10 finds no
    # free track and overwrites track 0 -> the kept refs are 10 events: az 60 (source 10) and 9 x az 0
    ref = [(0, 0, s, 0, 100, 0) for s in range(10)] + [(0, 0, 10, 60, 100, 0), sentinel(1)]
    pred = [(0, 0, s, 0, 100, 0) for s in range(10)]
    with pytest.warns(UserWarning, match="more than 10"):
        res = one(ref, pred)
    # R = P = 10: nine 0-cost pairs + one pair with e = 60 -> TP 9, FPsp 1, DOAE = 60 / (10 + eps)
    cw = res.classwise
    assert (cw["n_ref"][0], cw["TP"][0], cw["FP_spatial"][0], cw["FN"][0]) == (10, 9, 1, 0)
    assert res.DOAE == pytest.approx(60 / (10 + EPS), abs=1e-12)


def test_track_ids_from_repeated_sources_do_not_drop_events():
    # 10 events all with source 3: ids 3, then the lowest free ones -> all 10 kept, no overwrite
    ref = [(0, 0, 3, 0, 100, 0) for _ in range(10)] + [sentinel(1)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = one(ref, [])
    assert res.classwise["FN"][0] == 10


def test_identical_files_give_zero_width_jackknife_interval():
    ref = [(0, 0, 0, 0, 100, 0), (0, 1, 0, 0, 100, 0), sentinel(1)]
    pred = [(0, 0, 0, 5, 100, 0)]
    refs = {f"{i}.csv": tab(ref) for i in range(4)}
    preds = {f"{i}.csv": tab(pred) for i in range(4)}
    res = score(refs, preds, jackknife=True)
    # every leave-one-out subset has the same counters' ratios -> partials == global -> bias 0, std 0
    assert res.jackknife["F"]["std_err"] == pytest.approx(0.0, abs=1e-12)
    assert res.jackknife["F"]["ci_low"] == pytest.approx(res.F, abs=1e-12)
    assert res.jackknife["DOAE"]["ci_high"] == pytest.approx(5.0, abs=1e-9)


# --------------------------------------------------------------------------------------------
# randomised comparison with the independent per-frame loop implementation


def _random_rows(rng, n_frames: int, polyphony: int, integer_az: bool, max_frame: int = 50):
    rows = []
    for t in range(n_frames):
        if t >= max_frame:
            break
        for c in rng.choice(13, size=rng.integers(0, 3), replace=False):
            for _ in range(rng.integers(1, polyphony + 1)):
                az = float(rng.integers(-180, 181)) if integer_az else float(rng.uniform(-250, 250))
                dist = float(rng.integers(20, 600)) if integer_az else float(rng.uniform(10, 600))
                rows.append((t, int(c), int(rng.integers(0, 12)), az, dist, int(rng.integers(0, 2))))
    order = rng.permutation(len(rows)) if rng.random() < 0.3 else np.arange(len(rows))
    return [rows[i] for i in order]


def _perturb(rng, rows, integer_az: bool):
    out = []
    for f, c, s, az, d, o in rows:
        if rng.random() < 0.15:
            continue  # miss
        noise = rng.normal(0, 15)
        az2 = float(round(az + noise)) if integer_az else az + noise
        d2 = float(round(d * rng.uniform(0.3, 2.5))) if integer_az else d * rng.uniform(0.3, 2.5)
        out.append((f, c, s, az2, d2, o if rng.random() < 0.8 else 1 - o))
    for _ in range(rng.integers(0, 15)):  # false alarms, some beyond T_ref and some out-of-range classes
        c = int(rng.integers(0, 14))
        out.append((int(rng.integers(0, 55)), c, int(rng.integers(0, 3)),
                    float(rng.integers(-180, 181)), float(rng.integers(10, 500)), int(rng.integers(0, 2))))
    return out


def _random_dataset(seed: int, n_files: int = 40):
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(n_files):
        integer_az = i % 2 == 0
        if i % 9 == 4:
            ref = []  # empty reference file
        else:
            ref = _random_rows(rng, int(rng.integers(1, 51)), polyphony=4, integer_az=integer_az)
        pred = _perturb(rng, ref, integer_az)
        if i % 13 == 7:  # a crowded (frame, class) group to exercise the >10 track rule
            pred += [(0, 5, int(rng.integers(-3, 12)), float(rng.integers(-90, 91)), 150.0, 0) for _ in range(12)]
        pairs.append((ref, pred))
    return pairs


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("average", ["macro", "micro"])
@pytest.mark.parametrize("onscreen", [False, True])
def test_matches_loop_oracle_on_random_data(seed, average, onscreen):
    pairs = _random_dataset(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = loop_score(pairs, onscreen=onscreen, average=average)
        got = score_pairs([(tab(r), tab(p)) for r, p in pairs], onscreen=onscreen, average=average)
    for m in ("F", "DOAE", "RDE", "DistE", "OSA"):
        e, g = expected[m], getattr(got, m)
        assert (math.isnan(e) and math.isnan(g)) or abs(e - g) <= 1e-9, (m, e, g)
    for m in ("F", "DOAE", "RDE", "DistE", "OSA"):
        np.testing.assert_allclose(got.classwise[m], expected["classwise"][m], rtol=0, atol=1e-9)
    counters = expected["counters"]
    for mine, theirs in (("TP", "TP"), ("FP", "FP"), ("FP_spatial", "FPsp"), ("FN", "FN"), ("n_matched", "DE_TP")):
        np.testing.assert_array_equal(got.classwise[mine], np.array(counters[theirs]))


def test_large_and_tied_groups_match_loop_oracle():
    # 7 refs x 6 preds in one (frame, class): beyond the enumeration size -> scipy path;
    # plus an exact tie (refs at 10 and 30, pred at 20) whose pair choice decides DistE / RDE
    ref = [(0, 2, s, a, 100 + 10 * s, s % 2) for s, a in enumerate([-80, -50, -10, 0, 15, 40, 85])]
    pred = [(0, 2, s, a, 150, 0) for s, a in enumerate([-60, -5, 5, 20, 70, 89])]
    ref += [(1, 3, 0, 10, 100, 0), (1, 3, 1, 30, 300, 0), sentinel(2)]
    pred += [(1, 3, 0, 20, 100, 0)]
    pairs = [(ref, pred)]
    expected = loop_score(pairs, onscreen=True)
    got = score_pairs([(tab(ref), tab(pred))], onscreen=True)
    for m in ("F", "DOAE", "RDE", "DistE", "OSA"):
        assert getattr(got, m) == pytest.approx(expected[m], abs=1e-9)
    assert got.classwise["n_matched"][2] == 6 and got.classwise["FN"][2] == 1


def test_jackknife_matches_loop_oracle():
    pairs = _random_dataset(7, n_files=12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = score_pairs([(tab(r), tab(p)) for r, p in pairs], jackknife=True)
        for m in ("F", "DOAE", "RDE"):
            est, lo, hi = loop_jackknife(pairs, m)
            assert got.jackknife[m]["estimate"] == pytest.approx(est, abs=1e-9)
            assert got.jackknife[m]["ci_low"] == pytest.approx(lo, abs=1e-9)
            assert got.jackknife[m]["ci_high"] == pytest.approx(hi, abs=1e-9)


def test_lazily_loaded_solver_is_scipys_own():
    # The scorer loads scipy's compiled assignment solver without importing scipy.optimize (start-up
    # time); it must be the very function the official code calls, giving the same pairs, ties included.
    import subprocess
    import sys

    from scipy.optimize import linear_sum_assignment as official

    from seldlib.metrics.core import linear_sum_assignment

    solver = linear_sum_assignment()
    assert solver.__name__ == official.__name__ and solver.__doc__ == official.__doc__
    rng = np.random.default_rng(0)
    for _ in range(500):
        cost = rng.integers(0, 3, size=(int(rng.integers(1, 8)), int(rng.integers(1, 8)))).astype(np.float64)
        assert [a.tolist() for a in solver(cost)] == [a.tolist() for a in official(cost)], cost
    # ... and loading it does not import scipy.optimize
    code = ("import sys, numpy as np; from seldlib.metrics.core import linear_sum_assignment; "
            "linear_sum_assignment()(np.eye(3)); print(sorted(m for m in sys.modules if m.startswith('scipy.optimize')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['scipy.optimize._lsap']"


def test_csv_round_trip_matches_in_memory(tmp_path):
    pairs = _random_dataset(11, n_files=10)
    refs, preds = {}, {}
    for i, (r, p) in enumerate(pairs):
        name = f"fold4_room{i}_mix{i:03d}.csv"
        write_csv(tmp_path / "ref" / ("dev-test-sony" if i % 2 else "dev-test-tau") / name, r)
        write_csv(tmp_path / "pred" / ("x" if i % 3 else "") / name, p)
        refs[name], preds[name] = tab(r), tab(p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = score_dirs(tmp_path / "ref", tmp_path / "pred")
        b = score(refs, preds)
    for m in ("F", "DOAE", "RDE", "DistE", "OSA"):
        assert getattr(a, m) == pytest.approx(getattr(b, m), abs=1e-12, nan_ok=True)


# --------------------------------------------------------------------------------------------
# command line


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "seldlib.metrics", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def test_cli_writes_json(tmp_path):
    ref = [(t, 3, 0, 10, 200, 1) for t in range(11)]
    write_csv(tmp_path / "ref" / "dev-test-sony" / "a.csv", ref)
    write_csv(tmp_path / "pred" / "a.csv", ref)
    out = tmp_path / "out" / "scores.json"
    proc = _cli(tmp_path / "ref", tmp_path / "pred", "--json", out, "--onscreen", "--average", "macro")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    for key in ("F", "DOAE", "RDE", "DistE", "OSA", "classwise"):
        assert key in data
    assert data["F"] == pytest.approx(1 / 13, abs=1e-9)
    assert data["DOAE"] == 0.0
    assert len(data["classwise"]) == 13
    row3 = data["classwise"][3]
    assert (row3["index"], row3["TP"], row3["FP"], row3["FN"]) == (3, 10, 0, 0)
    assert data["classwise"][0]["DOAE"] is None  # NaN -> null
    assert "F(20deg,1,on)" in proc.stdout


def test_cli_jackknife_adds_intervals(tmp_path):
    ref = [(0, 0, 0, 0, 100, 0), sentinel(1)]
    for name in ("a.csv", "b.csv", "c.csv"):
        write_csv(tmp_path / "ref" / "s" / name, ref)
        write_csv(tmp_path / "pred" / name, [(0, 0, 0, 4, 100, 0)])
    out = tmp_path / "s.json"
    proc = _cli(tmp_path / "ref", tmp_path / "pred", "--json", out, "--jackknife")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["jackknife"]["DOAE"]["ci_low"] == pytest.approx(4.0, abs=1e-9)
    assert len(data["classwise"][0]["ci"]["F"]) == 2


def test_cli_bad_prediction_exits_2_with_one_line(tmp_path):
    write_csv(tmp_path / "ref" / "s" / "a.csv", [sentinel(3)])
    (tmp_path / "pred").mkdir()
    (tmp_path / "pred" / "a.csv").write_text(f"{HEADER}\n0,1,0,10,100,0\n0.7,1,0,10,100,0\n")
    out = tmp_path / "out.json"
    proc = _cli(tmp_path / "ref", tmp_path / "pred", "--json", out)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "a.csv" in lines[0] and "line 3" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_cli_prediction_without_reference_exits_2(tmp_path):
    write_csv(tmp_path / "ref" / "s" / "a.csv", [sentinel(3)])
    write_csv(tmp_path / "pred" / "b.csv", [])
    proc = _cli(tmp_path / "ref", tmp_path / "pred", "--json", tmp_path / "o.json")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "b.csv" in proc.stderr
