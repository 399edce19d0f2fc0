"""Vectorised DCASE2025 Task 3 SELD metrics, numerically equivalent to the organisers' ``metrics.py``.

Definitions (official ``metrics.py``, ``SELDMetrics.update_seld_scores`` / ``compute_seld_scores``, of
``partha2409/DCASE2025_seld_baseline``; ``docs/metrics.md#algorithm``, quirks in ``docs/metrics.md#quirks``):

* per file, only frames ``0 .. T_ref-1`` are scored, ``T_ref`` = largest reference frame index
  (0 for an empty reference); classes outside ``0..12`` are never scored;
* per (frame, class) with R reference and P predicted events, the events are matched with the
  Hungarian algorithm on ``|fold(az_ref) - fold(az_pred)|``; the K = min(R, P) pairs all enter
  DOAE / DistE / RDE / OSA; a pair is a TP unless ``e_az > doa_threshold`` or
  ``e_dist > dist_threshold`` or ``e_dist / (d_ref + eps) > reldist_threshold`` or (``onscreen``
  and the flags differ) -- strict comparisons, so the thresholds themselves are inclusive;
* ``FP += max(P - R, 0)``, ``FN += max(R - P, 0)``, failed pairs count as ``FP_spatial``;
* macro: ``F_c = TP / (eps + TP + FPsp + (FP + FN) / 2)``, ``F = mean_c F_c`` (all 13 classes),
  ``DOAE_c = sum_err / (n_matched + eps)`` (NaN where no pair), ``DOAE = nanmean_c DOAE_c``;
  micro: the same with every counter summed over classes first.

Rows are kept per (frame, class) with the official track-id rule (``source`` if < 10 and free,
else the lowest free id in 0..9, else track 0 is overwritten), because that decides which events
survive when more than 10 share a (frame, class).

Speed: all (file, frame, class) groups are formed with one stable lexsort. Groups with R = P = 1
(the vast majority) are scored fully vectorised. Multi-event groups of up to 5x5 are matched by
enumerating every assignment in one batched array operation per shape; a group whose optimum is not
unique (a tie, frequent with integer azimuths), or any larger group, is solved with the cost matrix
in the official row/column order by scipy's ``linear_sum_assignment`` (the solver the official code
calls, so tie-breaking is identical), loaded only when first needed and without the rest of
``scipy.optimize`` (:func:`linear_sum_assignment`); ``scipy.stats`` is imported only for the jackknife.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seldlib.constants import CLASS_NAMES, N_CLASSES
from seldlib.errors import SeldInputError
from seldlib.metadata import EventTable, fold_azimuth
from seldlib.metrics.io import InputWarning, collect_csvs, read_seld_csv

EPS = float(np.finfo(float).eps)
MAX_TRACKS = 10  # official organize_labels keeps at most 10 tracks per (frame, class)
_BRUTE_FORCE_MAX = 5  # groups up to 5x5 are matched by enumeration (<= 120 assignments)
_TIE_TOL = 1e-9  # two assignments whose total costs differ by less are treated as a tie

METRIC_NAMES = ("F", "DOAE", "RDE", "DistE", "OSA")
_INT_COUNTERS = ("TP", "FP", "FP_spatial", "FN", "n_matched", "n_ref", "n_pred")
_SUM_COUNTERS = ("sum_doa", "sum_dist", "sum_reldist", "sum_onscreen")


@dataclass
class SeldCounts:
    """Per-file, per-class counters. Every array has shape ``(n_files, n_classes)``.

    ``TP``/``FP``/``FP_spatial``/``FN``/``n_matched`` are the official ``_TP``, ``_FP`` (unmatched
    extra predictions only), ``_FP_spatial`` (matched pairs failing a threshold), ``_FN`` (unmatched
    references only) and ``_DE_TP`` (all K matched pairs). ``sum_*`` are the error sums over matched
    pairs (``sum_onscreen`` counts pairs with equal onscreen flags). ``n_ref``/``n_pred`` count the
    scored events (after the frame window and the track-id rule).
    """

    files: list[str]
    TP: np.ndarray
    FP: np.ndarray
    FP_spatial: np.ndarray
    FN: np.ndarray
    n_matched: np.ndarray
    n_ref: np.ndarray
    n_pred: np.ndarray
    sum_doa: np.ndarray
    sum_dist: np.ndarray
    sum_reldist: np.ndarray
    sum_onscreen: np.ndarray

    def totals(self) -> dict[str, np.ndarray]:
        """Counters summed over files: ``{name: (n_classes,)}``."""
        return {name: getattr(self, name).sum(axis=0) for name in _INT_COUNTERS + _SUM_COUNTERS}

    def leave_one_out(self) -> dict[str, np.ndarray]:
        """Counters without file i, for every i: ``{name: (n_files, n_classes)}`` (jackknife)."""
        out = {}
        for name in _INT_COUNTERS + _SUM_COUNTERS:
            arr = getattr(self, name)
            out[name] = arr.sum(axis=0, keepdims=True) - arr
        return out


@dataclass
class SeldScores:
    """Final scores. Top-level metrics follow ``average``; ``classwise`` is always the per-class table.

    ``classwise`` maps each of ``F, DOAE, RDE, DistE, OSA`` and the counters ``TP, FP, FP_spatial,
    FN, n_matched, n_ref, n_pred`` to an array of shape ``(n_classes,)``. Undefined values are NaN.
    ``jackknife`` (optional) maps each top-level metric name, and ``classwise.<metric>``, to
    ``{"estimate", "bias", "std_err", "ci_low", "ci_high"}`` (arrays for the class-wise entries).
    """

    F: float
    DOAE: float
    RDE: float
    DistE: float
    OSA: float
    average: str
    onscreen: bool
    n_files: int
    classwise: dict[str, np.ndarray]
    counts: SeldCounts | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    jackknife: dict[str, dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``F, DOAE, RDE, DistE, OSA`` (NaN kept as float; writers map it to null),
        ``classwise`` (list of per-class dicts), settings, totals and optional jackknife CIs."""
        out: dict[str, Any] = {name: float(getattr(self, name)) for name in METRIC_NAMES}
        out.update(average=self.average, onscreen=bool(self.onscreen), n_files=int(self.n_files),
                   thresholds={k: float(v) for k, v in self.thresholds.items()})
        out["totals"] = {name: int(self.classwise[name].sum()) for name in _INT_COUNTERS}
        rows = []
        for c in range(len(self.classwise["F"])):
            row: dict[str, Any] = {"index": c, "name": CLASS_NAMES[c] if c < len(CLASS_NAMES) else str(c)}
            row.update({m: float(self.classwise[m][c]) for m in METRIC_NAMES})
            row.update({k: int(self.classwise[k][c]) for k in _INT_COUNTERS})
            if self.jackknife is not None:
                row["ci"] = {
                    m: [float(self.jackknife[f"classwise.{m}"]["ci_low"][c]),
                        float(self.jackknife[f"classwise.{m}"]["ci_high"][c])]
                    for m in METRIC_NAMES
                }
            rows.append(row)
        out["classwise"] = rows
        if self.jackknife is not None:
            out["jackknife"] = {
                m: {k: float(v) for k, v in self.jackknife[m].items()} for m in METRIC_NAMES
            }
        return out

    def format_table(self) -> str:
        """A readable summary plus the class-wise table."""
        f_name = "F(20deg,1,on)" if self.onscreen else "F(20deg,1)"

        def fmt(x: float, spec: str) -> str:
            return "   n/a" if not np.isfinite(x) else format(x, spec)

        lines = [
            f"{self.n_files} files, {self.average} average",
            f"{f_name:>14} {fmt(100 * self.F, '6.2f')} %",
            f"{'DOAE_CD':>14} {fmt(self.DOAE, '6.2f')} deg",
            f"{'RDE_CD':>14} {fmt(self.RDE, '6.3f')}",
            f"{'DistE':>14} {fmt(self.DistE, '6.2f')} (CSV units)",
            f"{'OSA':>14} {fmt(100 * self.OSA, '6.2f')} %",
        ]
        if self.jackknife is not None:
            for m in METRIC_NAMES:
                j = self.jackknife[m]
                lines.append(f"{m:>14} 95% CI [{j['ci_low']:.4g}, {j['ci_high']:.4g}]")
        lines.append("")
        lines.append(f"{'cls':>3} {'name':<30} {'F%':>6} {'DOAE':>6} {'RDE':>6} {'DistE':>7} {'OSA%':>6}"
                     f" {'TP':>6} {'FP':>6} {'FPsp':>6} {'FN':>6}")
        cw = self.classwise
        for c in range(len(cw["F"])):
            name = CLASS_NAMES[c] if c < len(CLASS_NAMES) else str(c)
            lines.append(
                f"{c:>3} {name[:30]:<30} {fmt(100 * cw['F'][c], '6.2f')} {fmt(cw['DOAE'][c], '6.2f')}"
                f" {fmt(cw['RDE'][c], '6.3f')} {fmt(cw['DistE'][c], '7.2f')} {fmt(100 * cw['OSA'][c], '6.2f')}"
                f" {int(cw['TP'][c]):>6} {int(cw['FP'][c]):>6} {int(cw['FP_spatial'][c]):>6} {int(cw['FN'][c]):>6}"
            )
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# counting


def _track_dict_order(sources: np.ndarray) -> list[int]:
    """Positions (into ``sources``) of the events the official per-(frame, class) track dict keeps, in
    dict order. Track id = source if < 10 and free, else the lowest free id in 0..9, else 0 (overwrite:
    the value changes, the dict position of track 0 stays)."""
    slots: dict[int, int] = {}
    for i, s in enumerate(int(x) for x in sources):
        if s < MAX_TRACKS and s not in slots:
            track = s
        else:
            track = next((t for t in range(MAX_TRACKS) if t not in slots), 0)
        slots[track] = i
    return list(slots.values())


@functools.cache
def linear_sum_assignment() -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """scipy's ``linear_sum_assignment`` -- the solver the official code calls -- loaded on first need.

    ``scipy.optimize.linear_sum_assignment`` *is* the function of the compiled ``scipy.optimize._lsap``
    extension, but importing it through the package first imports all of ``scipy.optimize`` (about
    0.3 s, more than scoring a thousand clips takes). The extension is loaded straight from its file
    instead (about 0.01 s), falling back to the ordinary import where scipy is laid out differently.
    """
    import importlib.machinery
    import importlib.util

    name = "scipy.optimize._lsap"
    try:
        scipy = importlib.util.find_spec("scipy")
        folder = Path(next(iter(scipy.submodule_search_locations or []))) / "optimize"
        path = next(p for p in folder.iterdir()
                    if p.name.startswith("_lsap.") and p.name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)))
        loader = importlib.machinery.ExtensionFileLoader(name, str(path))
        module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(name, path, loader=loader))
        loader.exec_module(module)
        return module.linear_sum_assignment
    except Exception:  # noqa: BLE001 - any other layout: the ordinary (slower) import
        from scipy.optimize import linear_sum_assignment as solver

        return solver


def _brute_force_match(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal assignment for a batch of equally shaped cost matrices ``(n, R, P)`` by enumeration.

    Returns ``(rows, cols, unique)``: ``rows``/``cols`` of shape ``(n, K)``, K = min(R, P), and a
    bool ``(n,)`` that is False where the optimum is not unique (the caller re-solves those with
    scipy's solver so ties break exactly as in the official code).
    """
    n, r, p = cost.shape
    k = min(r, p)
    if r <= p:
        cols_all = np.array(list(itertools.permutations(range(p), r)), dtype=np.int64)  # (A, K)
        rows_all = np.broadcast_to(np.arange(r), cols_all.shape)
    else:
        rows_all = np.array(list(itertools.permutations(range(r), p)), dtype=np.int64)
        cols_all = np.broadcast_to(np.arange(p), rows_all.shape)
    totals = cost[:, rows_all, cols_all].sum(axis=-1)  # (n, A)
    best = np.argmin(totals, axis=1)
    if totals.shape[1] > 1:
        two = np.partition(totals, 1, axis=1)[:, :2]
        unique = (two[:, 1] - two[:, 0]) > _TIE_TOL
    else:
        unique = np.ones(n, dtype=bool)
    rows = rows_all[best].reshape(n, k)
    cols = cols_all[best].reshape(n, k)
    return rows, cols, unique


def count_events(
    refs: Sequence[EventTable],
    preds: Sequence[EventTable],
    *,
    files: Sequence[str] | None = None,
    onscreen: bool = False,
    doa_threshold: float = 20.0,
    reldist_threshold: float = 1.0,
    dist_threshold: float = math.inf,
    n_classes: int = N_CLASSES,
) -> SeldCounts:
    """Official SELD counters for aligned lists of reference / prediction tables (one pair per file).

    Each table holds one file's events in file order (``frame, cls, source, azimuth, distance,
    onscreen``, each ``(n_events,)``; distance in any unit shared by both). Returns per-file,
    per-class counters of shape ``(n_files, n_classes)``.
    """
    if len(refs) != len(preds):
        raise ValueError(f"{len(refs)} reference tables but {len(preds)} prediction tables")
    n_files = len(refs)
    names = list(files) if files is not None else [str(i) for i in range(n_files)]

    # T_ref per file: the largest reference frame index (NOT +1), 0 for an empty reference.
    t_ref = np.array([int(r.frame.max()) if len(r) else 0 for r in refs], dtype=np.int64)

    def stack(tables: Sequence[EventTable], is_pred: int) -> dict[str, np.ndarray]:
        lengths = np.array([len(t) for t in tables], dtype=np.int64)
        cat = EventTable.concat(list(tables))
        file_id = np.repeat(np.arange(n_files, dtype=np.int64), lengths)
        return dict(file=file_id, frame=cat.frame, cls=cat.cls, source=cat.source, az=cat.azimuth,
                    dist=cat.distance, on=cat.onscreen, pred=np.full(len(cat), is_pred, np.int8))

    parts = [stack(refs, 0), stack(preds, 1)]
    tab = {k: np.concatenate([parts[0][k], parts[1][k]]) for k in parts[0]}
    # rank = position in the file: it orders events inside a (frame, class) like the official dicts
    tab["rank"] = np.arange(len(tab["file"]), dtype=np.int64)

    keep = (tab["frame"] >= 0) & (tab["frame"] < t_ref[tab["file"]]) & (tab["cls"] >= 0) & (tab["cls"] < n_classes)
    tab = {k: v[keep] for k, v in tab.items()}

    def sort(t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        order = np.lexsort((t["rank"], t["pred"], t["cls"], t["frame"], t["file"]))
        return {k: v[order] for k, v in t.items()}

    tab = sort(tab)
    m = len(tab["file"])

    # Official track-id rule: only (frame, class, side) runs longer than 10 can lose events.
    new_run = np.ones(m, dtype=bool)
    if m:
        new_run[1:] = ((np.diff(tab["file"]) != 0) | (np.diff(tab["frame"]) != 0)
                       | (np.diff(tab["cls"]) != 0) | (np.diff(tab["pred"]) != 0))
    run_start = np.flatnonzero(new_run)
    run_len = np.diff(np.append(run_start, m))
    long_runs = np.flatnonzero(run_len > MAX_TRACKS)
    if len(long_runs):
        keep = np.ones(m, dtype=bool)
        for r in long_runs:
            s, n = run_start[r], run_len[r]
            kept = _track_dict_order(tab["source"][s:s + n])
            keep[s:s + n] = False
            keep[s + np.asarray(kept)] = True
            tab["rank"][s + np.asarray(kept)] = np.arange(len(kept))  # dict order, compared within the run only
        warnings.warn(
            f"{len(long_runs)} (file, frame, class) groups hold more than {MAX_TRACKS} events; "
            "extra events overwrite track 0 as in the official evaluation",
            stacklevel=2,
        )
        tab = sort({k: v[keep] for k, v in tab.items()})
        m = len(tab["file"])

    # (file, frame, class) groups: reference rows first, then prediction rows, each in file order.
    new_group = np.ones(m, dtype=bool)
    if m:
        new_group[1:] = (np.diff(tab["file"]) != 0) | (np.diff(tab["frame"]) != 0) | (np.diff(tab["cls"]) != 0)
    g_start = np.flatnonzero(new_group)
    n_groups = len(g_start)
    g_id = np.cumsum(new_group) - 1
    n_pred_g = np.bincount(g_id, weights=tab["pred"], minlength=n_groups).astype(np.int64)
    n_ref_g = np.bincount(g_id, minlength=n_groups).astype(np.int64) - n_pred_g
    g_fc = tab["file"][g_start] * n_classes + tab["cls"][g_start]  # flat (file, class) index

    azf = fold_azimuth(tab["az"])

    # --- matching: pairs of row indices into tab
    both = (n_ref_g > 0) & (n_pred_g > 0)
    single = both & (n_ref_g == 1) & (n_pred_g == 1)
    ref_rows = [g_start[single]]
    pred_rows = [g_start[single] + 1]
    multi = np.flatnonzero(both & ~single)
    exact_groups: list[int] = []
    if len(multi):
        base = int(n_pred_g[multi].max()) + 1  # (R, P) -> one integer key without collisions
        shapes = n_ref_g[multi] * base + n_pred_g[multi]
        for shape in np.unique(shapes):
            gs = multi[shapes == shape]
            r, p = int(shape // base), int(shape % base)
            if max(r, p) > _BRUTE_FORCE_MAX:
                exact_groups.extend(gs.tolist())
                continue
            starts = g_start[gs]
            az_r = azf[starts[:, None] + np.arange(r)]  # (n, R)
            az_p = azf[starts[:, None] + r + np.arange(p)]  # (n, P)
            cost = np.abs(az_r[:, :, None] - az_p[:, None, :])  # (n, R, P), same values as official
            rows, cols, unique = _brute_force_match(cost)
            ref_rows.append((starts[:, None] + rows)[unique].ravel())
            pred_rows.append((starts[:, None] + r + cols)[unique].ravel())
            exact_groups.extend(gs[~unique].tolist())
    for g in exact_groups:
        s, r, p = g_start[g], n_ref_g[g], n_pred_g[g]
        cost = np.abs(azf[s:s + r][:, None] - azf[s + r:s + r + p][None, :])
        rows, cols = linear_sum_assignment()(cost)
        ref_rows.append(s + rows)
        pred_rows.append(s + r + cols)
    ri = np.concatenate(ref_rows).astype(np.int64)
    pi = np.concatenate(pred_rows).astype(np.int64)

    # --- per matched pair
    e_az = np.abs(azf[ri] - azf[pi])
    e_d = np.abs(tab["dist"][ri] - tab["dist"][pi])
    e_rd = e_d / (tab["dist"][ri] + EPS)
    on_ok = tab["on"][ri] == tab["on"][pi]
    fail = (e_az > doa_threshold) | (e_d > dist_threshold) | (e_rd > reldist_threshold)
    if onscreen:
        fail |= ~on_ok
    pair_fc = tab["file"][ri] * n_classes + tab["cls"][ri]

    size = n_files * n_classes

    def per_fc(index: np.ndarray, weights: np.ndarray | None, dtype: type) -> np.ndarray:
        out = np.bincount(index, weights=weights, minlength=size)
        return out.astype(dtype).reshape(n_files, n_classes)

    n_fail = per_fc(pair_fc, fail.astype(np.float64), np.int64)
    n_matched = per_fc(pair_fc, None, np.int64)
    return SeldCounts(
        files=names,
        TP=n_matched - n_fail,
        FP=per_fc(g_fc, np.maximum(n_pred_g - n_ref_g, 0).astype(np.float64), np.int64),
        FP_spatial=n_fail,
        FN=per_fc(g_fc, np.maximum(n_ref_g - n_pred_g, 0).astype(np.float64), np.int64),
        n_matched=n_matched,
        n_ref=per_fc(g_fc, n_ref_g.astype(np.float64), np.int64),
        n_pred=per_fc(g_fc, n_pred_g.astype(np.float64), np.int64),
        sum_doa=per_fc(pair_fc, e_az, np.float64),
        sum_dist=per_fc(pair_fc, e_d, np.float64),
        sum_reldist=per_fc(pair_fc, e_rd, np.float64),
        sum_onscreen=per_fc(pair_fc, on_ok.astype(np.float64), np.float64),
    )


# ----------------------------------------------------------------------------------------------
# aggregation


def aggregate(c: Mapping[str, np.ndarray], average: str = "macro") -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Metrics from summed counters ``{name: (..., n_classes)}`` (any leading batch shape).

    Returns ``(overall, classwise)``: ``overall[m]`` has shape ``(...)`` and follows ``average``;
    ``classwise[m]`` has shape ``(..., n_classes)`` (the macro per-class values).
    """
    if average not in ("macro", "micro"):
        raise ValueError(f"average must be 'macro' or 'micro', got {average!r}")
    tp, fpsp = c["TP"].astype(np.float64), c["FP_spatial"].astype(np.float64)
    fp, fn = c["FP"].astype(np.float64), c["FN"].astype(np.float64)
    nm = c["n_matched"].astype(np.float64)
    sums = {"DOAE": c["sum_doa"], "DistE": c["sum_dist"], "RDE": c["sum_reldist"], "OSA": c["sum_onscreen"]}

    classwise = {"F": tp / (EPS + tp + fpsp + 0.5 * (fp + fn))}
    for m, s in sums.items():
        classwise[m] = np.where(nm == 0, np.nan, s / (nm + EPS))

    overall: dict[str, np.ndarray] = {}
    if average == "macro":
        overall["F"] = classwise["F"].mean(axis=-1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN classes -> NaN, as nanmean
            for m in sums:
                overall[m] = np.nanmean(classwise[m], axis=-1)
    else:
        TP, FPSP, FP, FN = tp.sum(-1), fpsp.sum(-1), fp.sum(-1), fn.sum(-1)
        NM = nm.sum(-1)
        overall["F"] = TP / (EPS + TP + FPSP + 0.5 * (FP + FN))
        for m, s in sums.items():
            overall[m] = np.where(NM == 0, np.nan, s.sum(-1) / (NM + EPS))
    return overall, classwise


def _jackknife(global_value: np.ndarray, partial: np.ndarray, significance: float = 0.05) -> dict[str, np.ndarray]:
    """Leave-one-out jackknife with a t-based CI. ``partial`` is ``(n_files, ...)``, ``global_value`` ``(...)``.

    estimate = g - (n-1)(mean(partial) - g); std_err = sqrt((n-1) mean((partial - mean)^2));
    CI = estimate -/+ t_{1-a/2, n-1} std_err.
    """
    from scipy.stats import t as student_t

    n = partial.shape[0]
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = partial.mean(axis=0)
        bias = (n - 1) * (mean - global_value)
        std_err = np.sqrt((n - 1) * np.mean((partial - mean) ** 2, axis=0))
        estimate = global_value - bias
        t_value = student_t.ppf(1 - significance / 2, n - 1) if n > 1 else np.nan
    return {"estimate": estimate, "bias": bias, "std_err": std_err,
            "ci_low": estimate - t_value * std_err, "ci_high": estimate + t_value * std_err}


def scores_from_counts(
    counts: SeldCounts,
    *,
    average: str = "macro",
    onscreen: bool = False,
    jackknife: bool = False,
    thresholds: dict[str, float] | None = None,
) -> SeldScores:
    """Turn per-file counters into :class:`SeldScores` (optionally with leave-one-file-out CIs)."""
    totals = counts.totals()
    overall, classwise = aggregate(totals, average)
    table = {m: classwise[m] for m in METRIC_NAMES}
    table.update({k: totals[k] for k in _INT_COUNTERS})
    jk = None
    if jackknife:
        loo_overall, loo_classwise = aggregate(counts.leave_one_out(), average)
        jk = {}
        for m in METRIC_NAMES:
            jk[m] = {k: float(v) for k, v in _jackknife(overall[m], loo_overall[m]).items()}
            jk[f"classwise.{m}"] = _jackknife(classwise[m], loo_classwise[m])
    return SeldScores(
        F=float(overall["F"]), DOAE=float(overall["DOAE"]), RDE=float(overall["RDE"]),
        DistE=float(overall["DistE"]), OSA=float(overall["OSA"]), average=average, onscreen=onscreen,
        n_files=len(counts.files), classwise=table, counts=counts, thresholds=dict(thresholds or {}),
        jackknife=jk,
    )


# ----------------------------------------------------------------------------------------------
# public entry points


def score_pairs(
    pairs: Sequence[tuple[EventTable, EventTable]],
    *,
    files: Sequence[str] | None = None,
    onscreen: bool = False,
    average: str = "macro",
    jackknife: bool = False,
    doa_threshold: float = 20.0,
    reldist_threshold: float = 1.0,
    dist_threshold: float = math.inf,
) -> SeldScores:
    """Score in-memory ``(reference, prediction)`` tables, one pair per clip (e.g. in validation).

    The official quirks apply: frames ``>= max(reference frame)`` are not scored, so build references
    from the full label CSV (not from a cropped window).
    """
    if average not in ("macro", "micro"):
        raise SeldInputError(None, f"average must be 'macro' or 'micro', got {average!r}")
    counts = count_events(
        [p[0] for p in pairs], [p[1] for p in pairs], files=files, onscreen=onscreen,
        doa_threshold=doa_threshold, reldist_threshold=reldist_threshold, dist_threshold=dist_threshold,
    )
    thr = {"doa_deg": doa_threshold, "reldist": reldist_threshold, "dist": dist_threshold}
    return scores_from_counts(counts, average=average, onscreen=onscreen, jackknife=jackknife, thresholds=thr)


def score(
    refs: Mapping[str, EventTable],
    preds: Mapping[str, EventTable],
    *,
    onscreen: bool = False,
    average: str = "macro",
    jackknife: bool = False,
    doa_threshold: float = 20.0,
    reldist_threshold: float = 1.0,
    dist_threshold: float = math.inf,
) -> SeldScores:
    """Score the files named in ``preds`` against ``refs`` (both keyed by file name).

    As in the official evaluation only prediction files are scored: a reference without a prediction
    adds nothing, a prediction without a reference is a :class:`SeldInputError`.
    """
    names = list(preds)
    missing = [n for n in names if n not in refs]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise SeldInputError(missing[0], f"prediction has no reference file of the same name{more}")
    return score_pairs(
        [(refs[n], preds[n]) for n in names], files=names, onscreen=onscreen, average=average,
        jackknife=jackknife, doa_threshold=doa_threshold, reldist_threshold=reldist_threshold,
        dist_threshold=dist_threshold,
    )


def majority_osa(refs: Mapping[str, EventTable], preds: Mapping[str, EventTable]) -> float:
    """The OSA of always answering the majority on-screen label, on the events ``preds`` matches.

    The official matching pairs events by direction alone, so flagging every prediction off-screen
    gives, as OSA, the share of off-screen references among the matched pairs, and on-screen the rest.
    NaN when nothing is matched.
    """
    from dataclasses import replace

    off = {n: replace(t, onscreen=np.zeros_like(t.onscreen)) for n, t in preds.items()}
    share_off = score(refs, off, onscreen=True).OSA
    return max(share_off, 1.0 - share_off) if share_off == share_off else float("nan")


def score_dirs(
    ref_dir: str | Path,
    pred_dir: str | Path,
    *,
    onscreen: bool = False,
    average: str = "macro",
    jackknife: bool = False,
    doa_threshold: float = 20.0,
    reldist_threshold: float = 1.0,
    dist_threshold: float = math.inf,
    notes: list[InputWarning] | None = None,
) -> SeldScores:
    """Score every prediction CSV under ``pred_dir`` against the same-named CSV under ``ref_dir``.

    ``ref_dir`` is searched recursively (split sub-folders such as ``metadata_dev/dev-test-sony``);
    ``pred_dir`` may hold the CSVs directly or in sub-folders. Both sides are read with the official
    loader's rules (:func:`seldlib.metrics.io.read_seld_csv`). Inputs that are scored as the official
    code does but look wrong are appended to ``notes`` (file order: each reference, then its prediction).
    """
    ref_paths = collect_csvs(ref_dir, "reference")
    if not ref_paths:
        raise SeldInputError(ref_dir, "no reference CSV files found")
    pred_paths = collect_csvs(pred_dir, "prediction")
    if not pred_paths:
        raise SeldInputError(pred_dir, "no prediction CSV files found")
    for name, path in pred_paths.items():
        if name not in ref_paths:
            raise SeldInputError(path, f"prediction has no reference file named {name!r} under {ref_dir}")
    found: list[InputWarning] = []
    pairs = []
    names = sorted(pred_paths)
    for name in names:
        ref = read_seld_csv(ref_paths[name], found)
        if not (len(ref) and ref.frame.max() > 0):
            found.append(InputWarning(ref_paths[name], None, "the reference has no event after frame 0, so no "
                                      "frame of this clip is scored (the official window ends before its last frame)"))
        pairs.append((ref, read_seld_csv(pred_paths[name], found)))
    if notes is not None:
        notes.extend(found)
    return score_pairs(
        pairs, files=names, onscreen=onscreen, average=average, jackknife=jackknife,
        doa_threshold=doa_threshold, reldist_threshold=reldist_threshold, dist_threshold=dist_threshold,
    )
