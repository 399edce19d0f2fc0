"""Visual refinement of fused posteriors (``seldlib.postprocess``) and the AV ensemble / post-processing
stages, with values worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seldlib.detection import ClipDetections, DetectionStore, write_detection_store
from seldlib.postprocess import RefineConfig, key_frame_of_label_frames, refine, wrap_deg
from seldlib.predictions import write_prediction_dir

T, C = 50, 13
PEOPLE = np.isin(np.arange(C), [0, 1, 2, 4, 6])  # speech, clapping, laughter, footsteps
KEY_TIMES = np.arange(11) * 0.5  # 2 fps key frames, 0 … 5 s


def _vec(az_deg) -> np.ndarray:
    a = np.deg2rad(az_deg)
    return np.stack([np.cos(a), np.sin(a)], axis=-1)


def _arrays(n: int = 1, cls: int = 0, az: float = 20.0, sed: float = 0.9, ons: float = 0.8) -> dict[str, np.ndarray]:
    """``n`` clips with class ``cls`` active in every frame at ``az`` degrees, 2 m, on-screen posterior ``ons``."""
    out = {"sed": np.full((n, T, C), 0.1), "doa": np.broadcast_to(_vec(0.0), (n, T, C, 2)).copy(),
           "dist": np.full((n, T, C), 2.0), "onscreen": np.full((n, T, C), 0.2)}
    out["sed"][:, :, cls], out["doa"][:, :, cls], out["onscreen"][:, :, cls] = sed, _vec(az), ons
    return out


def _clip(dets: list[tuple[int, float, float, list[int]]], times=KEY_TIMES) -> ClipDetections:
    """Detections ``(key frame, azimuth, score, classes it is a candidate for)``."""
    az = np.full((len(dets), C), np.nan)
    for m, (_, a, _, classes) in enumerate(dets):
        az[m, classes] = a
    return ClipDetections(times, [d[0] for d in dets], np.zeros((len(dets), 4)), [d[2] for d in dets],
                          ["face"] * len(dets), az, 640, 360)


def _every_frame(az: float, score: float = 0.9, classes=(0, 1, 4)) -> ClipDetections:
    return _clip([(j, az, score, list(classes)) for j in range(len(KEY_TIMES))])


def _store(clips: dict[str, ClipDetections], status: str = "ok", covered=PEOPLE) -> DetectionStore:
    return DetectionStore("people", status, np.asarray(covered, bool), clips)


def _az(doa: np.ndarray) -> np.ndarray:
    return np.rad2deg(np.arctan2(doa[..., 1], doa[..., 0]))


CFG = RefineConfig(gate_deg=10.0, blend=1.0, min_score=0.5, onscreen_hit=1.0, miss_scale=0.5, hold_s=0.25)


@pytest.mark.parametrize("blend, expected", [(1.0, 25.0), (0.5, 22.5)])
def test_face_within_gate_snaps_or_blends_and_sets_onscreen(blend, expected):
    arrays = _arrays(az=20.0, ons=0.3)
    cfg = RefineConfig(gate_deg=10.0, blend=blend, min_score=0.5, onscreen_hit=1.0, miss_scale=0.5, hold_s=0.25)
    out, stats = refine(arrays, ["a"], _store({"a": _every_frame(25.0)}), cfg, threshold=0.5, onscreen_threshold=0.5)
    np.testing.assert_allclose(_az(out["doa"][0, :, 0]), expected, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(out["doa"][0, :, 0], axis=-1), 1.0)  # still unit vectors
    assert np.all(out["onscreen"][0, :, 0] == 1.0)
    assert stats["snapped"][0] == T and stats["lowered"][0] == 0 and stats["untouched"][0] == 0
    # the input is not modified; other classes and keys are as they were
    assert np.all(arrays["onscreen"][0, :, 0] == 0.3)
    np.testing.assert_array_equal(out["doa"][0, :, 1:], arrays["doa"][0, :, 1:])
    assert out["dist"] is arrays["dist"]


def test_detection_outside_the_gate_changes_nothing():
    arrays = _arrays(az=20.0, ons=0.8)
    out, stats = refine(arrays, ["a"], _store({"a": _every_frame(40.0)}), CFG, 0.5, 0.5)
    np.testing.assert_array_equal(out["doa"], arrays["doa"])
    np.testing.assert_array_equal(out["onscreen"], arrays["onscreen"])  # a candidate exists: not a miss
    assert stats["untouched"][0] == T and stats["snapped"][0] == stats["lowered"][0] == 0


def test_nearest_usable_candidate_wins():
    # faces at 10° (gap 10), 28° (gap 8) and 21° with score 0.3 < min_score: 28° is the nearest usable
    clip = _clip([(j, a, s, [0]) for j in range(len(KEY_TIMES)) for a, s in ((10.0, 0.9), (28.0, 0.9), (21.0, 0.3))])
    out, _ = refine(_arrays(az=20.0), ["a"], _store({"a": clip}), CFG, 0.5, 0.5)
    np.testing.assert_allclose(_az(out["doa"][0, :, 0]), 28.0, atol=1e-9)


def test_no_candidate_lowers_predicted_onscreen_only():
    empty = {"a": ClipDetections.empty(KEY_TIMES, 640, 360)}
    # predicted on screen (0.8 >= 0.5), inside the field of view: 0.8 * 0.5 = 0.4
    out, stats = refine(_arrays(az=20.0, ons=0.8), ["a"], _store(empty), CFG, 0.5, 0.5)
    np.testing.assert_allclose(out["onscreen"][0, :, 0], 0.4)
    np.testing.assert_array_equal(out["doa"], _arrays(az=20.0)["doa"])
    assert stats["lowered"][0] == T
    # predicted off screen (0.3 < 0.5): nothing to lower
    out, stats = refine(_arrays(az=20.0, ons=0.3), ["a"], _store(empty), CFG, 0.5, 0.5)
    np.testing.assert_array_equal(out["onscreen"][0, :, 0], 0.3)
    assert stats["untouched"][0] == T
    # outside the field of view (60° > max_az 50°): the camera cannot refute it
    out, _ = refine(_arrays(az=60.0, ons=0.8), ["a"], _store(empty), CFG, 0.5, 0.5)
    np.testing.assert_array_equal(out["onscreen"][0, :, 0], 0.8)
    # a detection of another class only is no candidate for class 0: a miss
    other = {"a": _every_frame(20.0, classes=[2])}
    out, _ = refine(_arrays(az=20.0, ons=0.8), ["a"], _store(other), CFG, 0.5, 0.5)
    np.testing.assert_allclose(out["onscreen"][0, :, 0], 0.4)


def test_uncovered_class_and_inactive_frames_pass_through():
    # class 3 (telephone) is not covered by the people detector, though a detection names it
    arrays = _arrays(cls=3, az=20.0, ons=0.8)
    clip = _every_frame(25.0, classes=[3])
    out, stats = refine(arrays, ["a"], _store({"a": clip}), CFG, 0.5, 0.5)
    np.testing.assert_array_equal(out["doa"], arrays["doa"])
    np.testing.assert_array_equal(out["onscreen"], arrays["onscreen"])
    assert sum(stats["snapped"]) + sum(stats["lowered"]) + sum(stats["untouched"]) == 0
    # class 0 below the SED threshold (0.4 <= 0.5): inactive, even with a face at 25°
    arrays = _arrays(az=20.0, sed=0.4, ons=0.8)
    out, _ = refine(arrays, ["a"], _store({"a": _every_frame(25.0)}), CFG, 0.5, 0.5)
    np.testing.assert_array_equal(out["doa"], arrays["doa"])
    np.testing.assert_array_equal(out["onscreen"], arrays["onscreen"])
    # per-class thresholds: the same posterior 0.4 is active for a class threshold of 0.3
    thr = np.full(C, 0.5)
    thr[0] = 0.3
    out, _ = refine(arrays, ["a"], _store({"a": _every_frame(25.0)}), CFG, thr, 0.5)
    np.testing.assert_allclose(_az(out["doa"][0, :, 0]), 25.0, atol=1e-9)


def test_skipped_store_returns_identical_arrays():
    arrays = _arrays(az=20.0, ons=0.8)
    before = {k: v.tobytes() for k, v in arrays.items()}
    store = DetectionStore("objects", "skipped: weights not found", np.ones(C, bool), {})
    out, stats = refine(arrays, ["a"], store, CFG, 0.5, 0.5)
    assert {k: v.tobytes() for k, v in out.items()} == before
    assert stats["applied"] is False and stats["status"].startswith("skipped")


def test_blending_wraps_around_180():
    # 175° toward -175°: 10° apart across ±180°, not 350° the other way round
    arrays = _arrays(az=175.0)
    cfg = RefineConfig(gate_deg=15.0, blend=0.25, min_score=0.5, onscreen_hit=1.0, miss_scale=0.5, hold_s=0.25)
    out, _ = refine(arrays, ["a"], _store({"a": _every_frame(-175.0)}), cfg, 0.5, 0.5)
    np.testing.assert_allclose(out["doa"][0, :, 0], np.broadcast_to(_vec(177.5), (T, 2)), atol=1e-12)
    cfg = RefineConfig(gate_deg=15.0, blend=0.5, min_score=0.5, onscreen_hit=1.0, miss_scale=0.5, hold_s=0.25)
    out, _ = refine(arrays, ["a"], _store({"a": _every_frame(-175.0)}), cfg, 0.5, 0.5)
    np.testing.assert_allclose(out["doa"][0, :, 0], np.broadcast_to([-1.0, 0.0], (T, 2)), atol=1e-12)
    assert wrap_deg(-175.0 - 175.0) == pytest.approx(10.0)


def test_key_frame_hold():
    # one key frame at 0.45 s: label frames 0.2 s … 0.7 s lie within 0.25 s of it (both ends exactly)
    assert key_frame_of_label_frames(np.array([0.45]), 10, 0.25).tolist() == [-1, -1, 0, 0, 0, 0, 0, 0, -1, -1]
    # 0.3 s is 0.1 s from both 0.2 s and 0.4 s: the earlier key frame
    assert key_frame_of_label_frames(np.array([0.2, 0.4]), 6, 1.0).tolist() == [0, 0, 0, 0, 1, 1]
    assert key_frame_of_label_frames(np.zeros(0), 3, 1.0).tolist() == [-1, -1, -1]

    clip = _clip([(0, 25.0, 0.9, [0])], times=[0.45])
    out, stats = refine(_arrays(az=20.0, ons=0.8), ["a"], _store({"a": clip}), CFG, 0.5, 0.5)
    az = _az(out["doa"][0, :, 0])
    np.testing.assert_allclose(az[2:8], 25.0, atol=1e-9)
    np.testing.assert_allclose(az[[0, 1, *range(8, T)]], 20.0, atol=1e-9)
    # frames without a key frame are not misses: their on-screen posterior stays 0.8
    np.testing.assert_array_equal(out["onscreen"][0, [0, 1, *range(8, T)], 0], 0.8)
    assert stats["snapped"][0] == 6 and stats["untouched"][0] == T - 6 and stats["no_key_frame"][0] == T - 6


def test_decoded_csv_flags_the_snapped_event_onscreen(tmp_path):
    # clip a: predicted 20° with on-screen posterior 0.3 (off screen); a face at 26°, blend 0.5 -> 23°, on screen.
    # clip b: predicted 58°, face at 50°, blend 0.5 -> 54°: beyond 50°, so off screen whatever the posterior
    arrays = {k: np.concatenate([_arrays(az=20.0, ons=0.3)[k], _arrays(az=58.0, ons=0.3)[k]]) for k in ("sed", "doa", "dist", "onscreen")}
    store = _store({"a": _every_frame(26.0), "b": _every_frame(50.0)})
    cfg = RefineConfig(gate_deg=10.0, blend=0.5, min_score=0.5, onscreen_hit=1.0, miss_scale=0.5, hold_s=0.25)
    before = write_prediction_dir(tmp_path / "before", ["a", "b"], arrays, 0.5, onscreen_threshold=0.5, onscreen_max_az=50.0)
    out, _ = refine(arrays, ["a", "b"], store, cfg, 0.5, 0.5)
    write_prediction_dir(tmp_path / "after", ["a", "b"], out, 0.5, onscreen_threshold=0.5, onscreen_max_az=50.0)
    assert before["a"].onscreen.tolist() == [0] * T
    lines = (tmp_path / "after" / "a.csv").read_text().splitlines()
    assert lines[0] == "frame,class,source,azimuth,distance,onscreen"
    assert lines[1:] == [f"{k},0,0,23,200,1" for k in range(T)]
    assert out["onscreen"][1, 0, 0] == 1.0
    assert (tmp_path / "after" / "b.csv").read_text().splitlines()[1] == "0,0,0,54,200,0"


def test_bad_inputs():
    with pytest.raises(ValueError, match="no detections for clip b"):
        refine(_arrays(n=2), ["a", "b"], _store({"a": _every_frame(0.0)}), CFG, 0.5, 0.5)
    with pytest.raises(ValueError, match="needs 'onscreen'"):
        refine({k: v for k, v in _arrays().items() if k != "onscreen"}, ["a"], _store({"a": _every_frame(0.0)}), CFG, 0.5, 0.5)
    with pytest.raises(ValueError, match="blend must be a number in"):
        RefineConfig(gate_deg=10, blend=1.5, min_score=0.5, onscreen_hit=1, miss_scale=0.5)
    with pytest.raises(ValueError, match="unknown refinement parameter"):
        RefineConfig.from_mapping({"gate_deg": 10, "blend": 1, "min_score": 0.5, "onscreen_hit": 1, "miss_scale": 0.5,
                                   "gate": 3})


# --- stages: the AV ensemble and the post-processing, end to end on tiny hand-made files ---------------

PARAMS_A = """\
models: {sed_doa: {kind: sed_doa}, sed_sce: {kind: sed_sce}}
av_models:
  av_a: {kind: av_sed_sce_ons, init: sed_sce, teacher: sed_sce}
  av_b: {kind: av_ts_sed_sce_ons, init: sed_sce, teacher: sed_sce}
ensemble: {members: [sed_doa, sed_sce], sed_weights: {sed_doa: 1.0, sed_sce: 1.0}, threshold: 0.5,
           doa_sce_blend: 0.0, dist_sce_blend: 0.0}
"""
PARAMS = PARAMS_A + """\
ensemble_av: {members: [sed_doa, av_a, av_b], sed_weights: {sed_doa: 1.0, av_a: 1.0, av_b: 1.0}, threshold: 0.5,
              doa_sce_blend: 0.0, dist_sce_blend: 0.0, onscreen_threshold: null}
postprocess:
  stages: [people, objects]
  people: {gate_deg: 15, blend: 1.0, min_score: 0.5, onscreen_hit: 1.0, miss_scale: 0.25, hold_s: 0.25}
  objects: {gate_deg: 15, blend: 1.0, min_score: 0.5, onscreen_hit: 1.0, miss_scale: 0.5}
"""


def _project(root: Path) -> None:
    """Two clips. a: female speech (class 0) in frames 0-9; b: male speech (class 1) in frames 0-9."""
    from seldlib.outputs import write_outputs_h5

    names = ["a", "b"]

    def member(sed_a, sed_b):
        sed = np.zeros((2, T, C))
        sed[0, :10, 0], sed[1, :10, 1] = sed_a, sed_b
        return sed

    def av(sed, dist_m, ons_a, ons_b):
        sce = np.zeros((2, T, C, 2))
        sce[0, :, 0] = dist_m * _vec(40.0)
        sce[1, :, 1] = dist_m * _vec(0.0)
        ons = np.zeros((2, T, C))
        ons[0, :, 0], ons[1, :, 1] = ons_a, ons_b
        return {"sed": member(sed, sed), "sce": sce, "ons": ons}

    doa = np.zeros((2, T, C, 2))
    doa[0, :, 0], doa[1, :, 1] = _vec(20.0), _vec(0.0)
    (root / "outputs").mkdir()
    (root / "outputs_av").mkdir()
    write_outputs_h5(root / "outputs" / "sed_doa.h5", names, {"sed": member(0.9, 0.9), "doa": doa},
                     {"kind": "sed_doa", "threshold": 0.5, "default_distance_m": 1.0})
    sce = np.zeros((2, T, C, 2))
    sce[0, :, 0], sce[1, :, 1] = 1.0 * _vec(0.0), 1.0 * _vec(0.0)
    write_outputs_h5(root / "outputs" / "sed_sce.h5", names, {"sed": member(0.3, 0.3), "sce": sce},
                     {"kind": "sed_sce", "threshold": 0.5, "default_distance_m": 1.0})
    write_outputs_h5(root / "outputs_av" / "av_a.h5", names, av(0.7, 2.0, 0.4, 0.9),
                     {"kind": "av_sed_sce_ons", "threshold": 0.5, "default_distance_m": 1.0, "onscreen_threshold": 0.3})
    write_outputs_h5(root / "outputs_av" / "av_b.h5", names, av(0.5, 4.0, 0.2, 0.7),
                     {"kind": "av_ts_sed_sce_ons", "threshold": 0.5, "default_distance_m": 1.0, "onscreen_threshold": 0.5})
    # people: a face at 25° on every key frame of clip a; nobody in clip b. objects: no weights.
    (root / "detections").mkdir()
    write_detection_store(root / "detections" / "people.h5",
                          _store({"a": _every_frame(25.0), "b": ClipDetections.empty(KEY_TIMES, 640, 360)}))
    write_detection_store(root / "detections" / "objects.h5",
                          DetectionStore("objects", "skipped: no Grounding DINO weights", ~PEOPLE, {}))
    (root / "params.yaml").write_text(PARAMS)


def _rows(folder: Path, name: str) -> list[str]:
    return (folder / f"{name}.csv").read_text().splitlines()[1:]


def test_av_ensemble_and_postprocess_stages(tmp_path, capsys):
    from seldlib.outputs import read_outputs_h5
    from stages import ensemble, postprocess

    _project(tmp_path)
    assert ensemble.main(["--section", "ensemble_av", "--params-file", str(tmp_path / "params.yaml"),
                          "--outputs", str(tmp_path / "outputs"), str(tmp_path / "outputs_av"),
                          "--out", str(tmp_path / "pred" / "ensemble_av"), "--fused", str(tmp_path / "fused.h5")]) == 0
    names, fused, meta = read_outputs_h5(tmp_path / "fused.h5")
    # on-screen threshold: mean of the tuned 0.3 and 0.5; SED (0.9 + 0.7 + 0.5) / 3 = 0.7;
    # on-screen a: (0.4 + 0.2) / 2 = 0.3, b: (0.9 + 0.7) / 2 = 0.8
    assert names == ["a", "b"] and meta["kind"] == "ensemble" and meta["onscreen_threshold"] == pytest.approx(0.4)
    assert meta["threshold"] == 0.5 and meta["default_distance_m"] == 1.0
    assert sorted(fused) == ["dist", "doa", "onscreen", "sed"]
    assert fused["sed"][0, 0, 0] == pytest.approx(0.7) and fused["onscreen"][0, 0, 0] == pytest.approx(0.3)
    # direction from SED-DOA alone (blend 0): 20°, not the AV models' 40°; distance: mean SCE norm (2 + 4) / 2 = 3 m
    ens = tmp_path / "pred" / "ensemble_av"
    assert _rows(ens, "a") == [f"{k},0,0,20,300,0" for k in range(10)]  # 0.3 < 0.4: off screen
    assert _rows(ens, "b") == [f"{k},1,0,0,300,1" for k in range(10)]   # 0.8 >= 0.4: on screen

    assert postprocess.main(["--params-file", str(tmp_path / "params.yaml"), "--fused", str(tmp_path / "fused.h5"),
                             "--detections", str(tmp_path / "detections"), "--out", str(tmp_path / "pp")]) == 0
    pp = tmp_path / "pp"
    assert sorted(p.name for p in pp.iterdir() if not p.name.startswith(".")) == ["pp_people", "pp_people_objects", "stats.json"]
    # people: clip a snapped to the face at 25° and on screen; clip b has nobody: 0.8 * 0.25 = 0.2 < 0.4
    assert _rows(pp / "pp_people", "a") == [f"{k},0,0,25,300,1" for k in range(10)]
    assert _rows(pp / "pp_people", "b") == [f"{k},1,0,0,300,0" for k in range(10)]
    # the objects detector was skipped: its folder decodes the same arrays
    for name in names:
        assert (pp / "pp_people_objects" / f"{name}.csv").read_text() == (pp / "pp_people" / f"{name}.csv").read_text()
    stats = json.loads((pp / "stats.json").read_text())
    people, objects = stats["steps"]
    assert people["folder"] == "pp_people" and people["applied"] is True
    assert people["snapped"][0] == 10 and people["lowered"][1] == 10 and sum(people["untouched"]) == 0
    assert objects["applied"] is False and objects["status"] == "skipped: no Grounding DINO weights"
    assert stats["onscreen_threshold"] == pytest.approx(0.4)

    # a skipped first step decodes exactly the ensemble's CSVs (same stored arrays, same decoder)
    (tmp_path / "params.yaml").write_text(PARAMS.replace("stages: [people, objects]", "stages: [objects]"))
    assert postprocess.main(["--params-file", str(tmp_path / "params.yaml"), "--fused", str(tmp_path / "fused.h5"),
                             "--detections", str(tmp_path / "detections"), "--out", str(tmp_path / "pp2")]) == 0
    for name in names:
        assert (tmp_path / "pp2" / "pp_objects" / f"{name}.csv").read_text() == (ens / f"{name}.csv").read_text()


def test_track_a_ensemble_call_unchanged(tmp_path):
    from stages import ensemble

    _project(tmp_path)
    (tmp_path / "params.yaml").write_text(PARAMS_A)  # the audio-only sections alone
    assert ensemble.main(["--params", "ensemble", "--params-file", str(tmp_path / "params.yaml"),
                          "--outputs", str(tmp_path / "outputs"), "--out", str(tmp_path / "ens")]) == 0
    # SED (0.9 + 0.3) / 2 = 0.6; direction SED-DOA 20°; distance the SCE norm 1 m; never on screen
    assert _rows(tmp_path / "ens", "a") == [f"{k},0,0,20,100,0" for k in range(10)]
    assert not (tmp_path / "fused.h5").exists()


def test_stage_errors_are_one_line(tmp_path, capsys):
    from stages import ensemble, postprocess
    from stages._cli import run

    _project(tmp_path)
    (tmp_path / "outputs_av" / "av_b.h5").unlink()
    with pytest.raises(SystemExit) as exit_info:
        run(lambda: ensemble.main(["--section", "ensemble_av", "--params-file", str(tmp_path / "params.yaml"),
                                   "--outputs", str(tmp_path / "outputs"), str(tmp_path / "outputs_av"),
                                   "--out", str(tmp_path / "e")]))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "av_b.h5" in err[0] and "not found" in err[0]
    # a member's outputs in two of the folders: which one is meant is unclear
    (tmp_path / "outputs_av" / "sed_doa.h5").write_bytes((tmp_path / "outputs" / "sed_doa.h5").read_bytes())
    with pytest.raises(SystemExit):
        run(lambda: ensemble.main(["--section", "ensemble_av", "--params-file", str(tmp_path / "params.yaml"),
                                   "--outputs", str(tmp_path / "outputs"), str(tmp_path / "outputs_av"),
                                   "--out", str(tmp_path / "e")]))
    assert "outputs in several folders" in capsys.readouterr().err
    (tmp_path / "outputs_av" / "sed_doa.h5").unlink()

    # a fused file of an audio-only ensemble has no on-screen posteriors to refine
    assert ensemble.main(["--params", "ensemble", "--params-file", str(tmp_path / "params.yaml"),
                          "--outputs", str(tmp_path / "outputs"), "--out", str(tmp_path / "e"),
                          "--fused", str(tmp_path / "fused_a.h5")]) == 0
    with pytest.raises(SystemExit):
        run(lambda: postprocess.main(["--params-file", str(tmp_path / "params.yaml"), "--fused", str(tmp_path / "fused_a.h5"),
                                      "--detections", str(tmp_path / "detections"), "--out", str(tmp_path / "pp")]))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no on-screen posteriors" in err[0]
