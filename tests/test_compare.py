"""Run comparison: deltas, the paired bootstrap, gates at their edges, refusals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from test_report_fixtures import TOY, correct_samples, toy_task, write_run

from janus_eval.report.compare import (
    compare_runs,
    comparison_table,
    gate_passes,
    paired_bootstrap_ci,
    render_comparison,
)
from janus_eval.types import UserError

pytestmark = pytest.mark.usefixtures(toy_task.__name__)


def _pair(tmp_path: Path, base_flags, cand_flags, **kw) -> tuple[Path, Path]:
    base = write_run(tmp_path, "base", samples=correct_samples(base_flags), **kw)
    cand = write_run(tmp_path, "cand", model="candidate", samples=correct_samples(cand_flags), **kw)
    return base, cand


def _row(cmp, metric: str):
    (row,) = [r for r in cmp.rows if r.metric == metric]
    return row


def test_delta_and_bootstrap_interval(tmp_path: Path) -> None:
    # 400 paired samples; the candidate fixes 20 the baseline got wrong: delta exactly +5 points
    base_flags = [i < 240 for i in range(400)]
    cand_flags = [i < 260 for i in range(400)]
    cmp = compare_runs(*_pair(tmp_path, base_flags, cand_flags))
    row = _row(cmp, "accuracy")
    assert (row.baseline, row.candidate) == (60.0, 65.0)
    assert row.delta == pytest.approx(5.0)
    assert row.n_pairs == 400
    assert row.ci_low < 5.0 < row.ci_high
    # per-pair differences are 0/1 with p = 0.05: sd of the mean delta = 100*sqrt(p(1-p)/n)
    sd = 100 * math.sqrt(0.05 * 0.95 / 400)
    assert row.ci_low == pytest.approx(5.0 - 1.96 * sd, abs=0.6)
    assert row.ci_high == pytest.approx(5.0 + 1.96 * sd, abs=0.6)
    assert not cmp.failed and cmp.warnings == []
    # same seed, same interval; another seed moves it a little
    again = _row(compare_runs(tmp_path / "base", tmp_path / "cand"), "accuracy")
    assert (again.ci_low, again.ci_high) == (row.ci_low, row.ci_high)


def test_bootstrap_interval_has_the_exact_95_percent_ends() -> None:
    """A case worked out by hand. Three pairs whose differences are -1, 0 and +1: a resample of
    three draws has mean -1 only when all three draws are the -1 pair, probability
    (1/3)^3 = 1/27 = 3.7%, and likewise +1. Since 3.7% > 2.5%, the 2.5th and 97.5th percentiles
    of the resampled means are exactly -1 and +1; a 90% interval (5th/95th) would be
    [-2/3, +2/3], since 3.7% < 5%. 20,000 resamples put about 741 on each end, far above the
    500 a 2.5th percentile needs, so the ends are exact, not approximately so."""
    base, cand = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])
    assert paired_bootstrap_ci(base, cand, scale=100.0, n_boot=20_000) == (-100.0, 100.0)
    assert paired_bootstrap_ci(base, cand, n_boot=20_000, level=0.90) == pytest.approx(
        (-2 / 3, 2 / 3)
    )


def test_compare_reports_the_exact_95_percent_ends(tmp_path: Path) -> None:
    """The same known case through compare_runs: per-sample 0/1 scores, accuracy scaled by 100."""
    cmp = compare_runs(*_pair(tmp_path, [1, 0, 0], [0, 0, 1]), n_boot=20_000)
    row = _row(cmp, "accuracy")
    assert row.delta == 0.0 and (row.ci_low, row.ci_high) == (-100.0, 100.0)


def test_bootstrap_interval_covers_true_delta() -> None:
    """Over repeated draws from a known population the 95% interval holds the true delta
    about 95% of the time (a biased or mis-paired bootstrap would not)."""
    rng = np.random.default_rng(123)
    true_delta, hits, reps = 0.05, 0, 200
    for rep in range(reps):
        skill = rng.random(300)  # shared per-item difficulty: pairing matters
        base = (rng.random(300) < 0.3 + 0.4 * skill).astype(float)
        cand = (rng.random(300) < 0.35 + 0.4 * skill).astype(float)
        low, high = paired_bootstrap_ci(base, cand, n_boot=400, seed=rep)
        hits += low <= true_delta <= high
    assert 0.88 <= hits / reps <= 0.99


def test_gate_edges(tmp_path: Path) -> None:
    base, cand = _pair(tmp_path, [1, 1, 0, 0], [1, 0, 0, 0])  # 50 -> 25: a 25-point drop
    assert not compare_runs(base, cand, max_drop={"accuracy": 25.0}).failed
    assert compare_runs(base, cand, max_drop={"accuracy": 24.99}).failed
    assert not compare_runs(base, cand, max_drop={f"{TOY}:accuracy": 25}).failed
    failed = compare_runs(base, cand, max_drop={f"{TOY}:accuracy": 10})
    row = _row(failed, "accuracy")
    assert failed.failed and row.passed is False and row.gate == 10
    # float rounding at the edge does not flip a gate: 71.3 - 0.5 is 70.8 up to rounding
    assert gate_passes("accuracy", 71.3, 70.8, 0.5)
    assert not gate_passes("accuracy", 71.3, 70.79, 0.5)


def test_lower_is_better_gates(tmp_path: Path) -> None:
    base = write_run(tmp_path, "b", task="fidtask", primary="fid", kind="generation",
                     metrics={"fid": 10.0, "kid": 0.002, "clip_score": 30.0})  # fmt: skip
    cand = write_run(tmp_path, "c", task="fidtask", primary="fid", kind="generation",
                     metrics={"fid": 10.5, "kid": 0.001, "clip_score": 31.0})  # fmt: skip
    assert not compare_runs(base, cand, max_drop={"fid": 0.5}).failed
    worse = compare_runs(base, cand, max_drop={"fid": 0.4})
    assert worse.failed and _row(worse, "fid").ci_low is None  # set-level: no interval
    assert not compare_runs(base, cand, max_drop={"kid": 0.0, "clip_score": 0.0}).failed
    back = compare_runs(cand, base, max_drop={"kid": 0.0})  # KID rises 0.001 -> 0.002
    assert back.failed
    # the unregistered task is compared on recorded numbers, and says so
    assert any("not installed" in w for w in worse.warnings)


def test_unknown_gate_metric_lists_available(tmp_path: Path) -> None:
    base, cand = _pair(tmp_path, [1, 0], [1, 1])
    with pytest.raises(UserError, match=rf"no metric 'acc'.*available: {TOY}:accuracy"):
        compare_runs(base, cand, max_drop={"acc": 1})
    with pytest.raises(UserError, match="no metric"):
        compare_runs(base, cand, max_drop={"vqav2:accuracy": 1})


def test_nested_gate_and_missing_candidate_metric(tmp_path: Path) -> None:
    base = write_run(tmp_path, "b", metrics={"accuracy": 50.0, "per_type": {"yes/no": 80.0}})
    cand = write_run(tmp_path, "c", metrics={"accuracy": 50.0, "per_type": {"number": 30.0}})
    cmp = compare_runs(base, cand, max_drop={"per_type/yes/no": 100.0})
    row = _row(cmp, "per_type/yes/no")
    assert row.candidate is None and row.passed is False and cmp.failed
    assert _row(cmp, "per_type/number").baseline is None


def test_refuses_different_tasks_versions_and_detectors(tmp_path: Path) -> None:
    a = write_run(tmp_path, "a", metrics={"accuracy": 1.0})
    b = write_run(tmp_path, "b", task="other", metrics={"accuracy": 1.0})
    with pytest.raises(UserError, match="different tasks"):
        compare_runs(a, b)
    c = write_run(tmp_path, "c", version="2", metrics={"accuracy": 1.0})
    with pytest.raises(UserError, match="version 1 with version 2"):
        compare_runs(a, c)
    g1 = write_run(tmp_path, "g1", task="geneval", primary="overall", metrics={"overall": 0.5},
                   options={"detector": "mask2former"}, leaderboard_keys=["detector"])  # fmt: skip
    g2 = write_run(tmp_path, "g2", task="geneval", primary="overall", metrics={"overall": 0.5},
                   options={"detector": "owlv2"}, leaderboard_keys=["detector"])  # fmt: skip
    with pytest.raises(UserError, match="scored differently"):
        compare_runs(g1, g2)


def test_different_sample_sets_use_the_intersection(tmp_path: Path) -> None:
    base = write_run(tmp_path, "b", samples=correct_samples([1, 1, 0, 0, 1]))  # s000..s004
    cand = write_run(tmp_path, "c", samples=correct_samples([1, 0, 0]), limit=3)  # s000..s002
    cmp = compare_runs(base, cand)
    row = _row(cmp, "accuracy")
    assert row.n_pairs == 3
    assert row.baseline == pytest.approx(200 / 3) and row.candidate == pytest.approx(100 / 3)
    assert any("sample sets differ (baseline 5, candidate 3, common 3)" in w for w in cmp.warnings)
    assert any("limit differs" in w for w in cmp.warnings)
    assert cmp.pairs[0]["common_samples"] == 3


def test_recorded_aggregate_mismatch_is_reported(tmp_path: Path) -> None:
    base = write_run(tmp_path, "b", samples=correct_samples([1, 0]), metrics={"accuracy": 50.0})
    cand = write_run(tmp_path, "c", samples=correct_samples([1, 0]), metrics={"accuracy": 90.0})
    cmp = compare_runs(base, cand)
    assert any("candidate run.json says 90" in w for w in cmp.warnings)


def test_folders_of_runs_match_by_task(tmp_path: Path) -> None:
    write_run(tmp_path / "base", "toy", samples=correct_samples([1, 1, 1, 0]))
    write_run(tmp_path / "base", "fid", task="fidtask", primary="fid", metrics={"fid": 10.0})
    write_run(tmp_path / "base", "only-base", task="pope", primary="f1", metrics={"f1": 80.0})
    write_run(tmp_path / "cand", "toy", samples=correct_samples([1, 1, 0, 0]))
    write_run(tmp_path / "cand", "fid", task="fidtask", primary="fid", metrics={"fid": 12.0})
    cmp = compare_runs(tmp_path / "base", tmp_path / "cand", max_drop={f"{TOY}:accuracy": 30})
    assert {r.task for r in cmp.rows} == {TOY, "fidtask"}
    assert not cmp.failed and _row(cmp, "fid").gate is None
    assert any("pope: only in the baseline" in w for w in cmp.warnings)
    assert compare_runs(tmp_path / "base", tmp_path / "cand", max_drop={"fid": 1}).failed

    write_run(tmp_path / "x", "a", task="pope", primary="f1", metrics={"f1": 1.0})
    with pytest.raises(UserError, match="no task in common"):
        compare_runs(tmp_path / "x", tmp_path / "cand")


def test_renderings(tmp_path: Path) -> None:
    base, cand = _pair(tmp_path, [1, 1, 0, 0], [1, 0, 0, 0])
    cmp = compare_runs(base, cand, max_drop={"accuracy": 10})
    text = render_comparison(cmp, "table")
    assert "FAIL" in text and "-25.00" in text and "RESULT: FAIL" in text
    md = render_comparison(cmp, "md")
    assert md.startswith("| task") and "| FAIL" in md
    data = json.loads(render_comparison(cmp, "json"))
    assert data["failed"] is True
    assert data["rows"][0]["delta"] == pytest.approx(-25.0)
    assert data["rows"][0]["ci_low"] <= -25.0 <= data["rows"][0]["ci_high"]
    assert comparison_table(cmp).row_count == len(cmp.rows)
    with pytest.raises(UserError, match="unknown comparison format"):
        render_comparison(cmp, "xml")
