"""compare at its edges, written for the mutants test_compare.py let through (docs/TESTING.md):
the documented resampling, reproduced from its definition; bad bootstrap arguments; the gate's
relative tolerance and non-finite numbers; left-out per-sample scores; the configuration
warnings; which of several runs is compared; what the tables print."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from test_report_fixtures import TOY, correct_samples, toy_task, write_run

from janus_eval.report import compare as C
from janus_eval.types import UserError

pytestmark = pytest.mark.usefixtures(toy_task.__name__)


def _row(cmp, metric: str):
    (row,) = [r for r in cmp.rows if r.metric == metric]
    return row


def test_the_interval_is_the_documented_percentile_bootstrap():
    """Module docstring: ids resampled with replacement n_boot = 1000 times from numpy
    Generator(PCG64(seed = 0)), the 2.5th and 97.5th percentiles of scale * mean(diff). Redone
    here from that definition (one draw of shape (n_boot, n)), defaults left to the function."""
    rng = np.random.default_rng(7)
    base, cand = rng.random(50), rng.random(50) + 0.1
    diff = cand - base
    idx = np.random.Generator(np.random.PCG64(0)).integers(0, 50, size=(1000, 50))
    want = np.percentile(100.0 * diff[idx].mean(axis=1), [2.5, 97.5])
    # approx: the code's tail is (1 - 0.95) / 2 * 100 = 2.4999999999999996, not 2.5
    assert C.paired_bootstrap_ci(base, cand, scale=100.0) == pytest.approx(want, abs=1e-9)
    idx = np.random.Generator(np.random.PCG64(3)).integers(0, 50, size=(40, 50))
    want = np.percentile(diff[idx].mean(axis=1), [5.0, 95.0])
    assert C.paired_bootstrap_ci(base, cand, n_boot=40, seed=3, level=0.9) == pytest.approx(
        want, abs=1e-9
    )


def test_resampling_in_chunks_keeps_the_exact_answer(monkeypatch):
    """Big sets are resampled in chunks of rows (memory); the known case of test_compare.py
    (-1, 0, +1: exact 95% ends -1 and +1) still comes out exactly, two rows per chunk."""
    monkeypatch.setattr(C, "_BOOT_CHUNK_ELEMENTS", 6)
    base, cand = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])
    assert C.paired_bootstrap_ci(base, cand, n_boot=20_001) == (-1.0, 1.0)


def test_bootstrap_arguments():
    with pytest.raises(ValueError, match="at least one pair"):
        C.paired_bootstrap_ci(np.array([]), np.array([]))
    with pytest.raises(ValueError, match="one resample"):
        C.paired_bootstrap_ci(np.array([0.0]), np.array([1.0]), n_boot=0)
    # one pair: every resample is that pair; one resample is enough
    assert C.paired_bootstrap_ci(np.array([0.25]), np.array([1.0]), n_boot=1) == (0.75, 0.75)


def test_gate_tolerance_is_relative_and_non_finite_numbers_fail():
    """Slack 1e-9 * max(1, |baseline|): float rounding at a large baseline is absorbed, a real
    miss at a small one is not."""
    assert C.gate_passes("accuracy", 1e9, 1e9 - 1.5, 0.5)  # 1.0 of slack at 1e9
    assert not C.gate_passes("accuracy", 1e9, 1e9 - 2.0, 0.5)
    assert C.gate_passes("fid", 1e9, 1e9 + 1.5, 0.5)
    assert not C.gate_passes("accuracy", 0.0, -0.5 - 1.5e-9, 0.5)  # slack 1e-9 at 0
    assert C.gate_passes("accuracy", 0.0, -0.5 - 0.5e-9, 0.5)
    for bad in (math.inf, -math.inf, math.nan):
        assert not C.gate_passes("accuracy", 50.0, bad, 1.0)
        assert not C.gate_passes("fid", bad, 10.0, 1.0)


def test_pairs_leave_out_missing_and_non_finite_scores(tmp_path: Path):
    base = write_run(
        tmp_path, "b", samples=correct_samples([1, 0, 1, 0]), metrics={"accuracy": 50.0}
    )
    cand_samples = correct_samples([1, 1, 0, 0])
    cand_samples[1]["scores"]["correct"] = float("nan")
    cand_samples[2]["scores"] = {"other": 1}
    cand = write_run(tmp_path, "c", samples=cand_samples, metrics={"accuracy": 50.0})
    row = _row(C.compare_runs(base, cand), "accuracy")
    assert row.n_pairs == 2  # s000 (1 vs 1) and s003 (0 vs 0)
    assert (row.ci_low, row.ci_high) == (0.0, 0.0)


def _edit_config(run_dir: Path, **changes) -> None:
    path = run_dir / "run.json"
    record = json.loads(path.read_text())
    record["config"].update(changes)
    path.write_text(json.dumps(record))


def test_config_warnings_name_the_seed_and_each_task_option(tmp_path: Path):
    flags = [1, 0]
    base = write_run(tmp_path, "b", samples=correct_samples(flags), options={"prompt": "a", "k": 1})
    cand = write_run(tmp_path, "c", samples=correct_samples(flags), options={"prompt": "b", "k": 1})
    _edit_config(cand, seed=5)
    warnings = C.compare_runs(base, cand).warnings
    assert f"{TOY}: task option prompt differs ('a' vs 'b')" in warnings
    assert f"{TOY}: seed differs (0 vs 5)" in warnings
    assert not any("option k" in w for w in warnings)
    same = write_run(tmp_path, "s", samples=correct_samples(flags), options={"prompt": "a", "k": 1})
    assert C.compare_runs(base, same).warnings == []


def test_the_newest_of_several_runs_is_compared_and_the_choice_said(tmp_path: Path):
    for run_id, when, flags in (("old", "2025-01-01", [0, 0]), ("new", "2025-02-01", [1, 1])):
        write_run(tmp_path / "base", run_id, samples=correct_samples(flags),
                  finished_at=f"{when}T00:00:00+00:00")  # fmt: skip
    write_run(tmp_path / "cand", "c", samples=correct_samples([1, 0]))
    cmp = C.compare_runs(tmp_path / "base", tmp_path / "cand")
    assert cmp.pairs[0]["baseline_run"] == "new" and _row(cmp, "accuracy").baseline == 100.0
    assert f"baseline has 2 runs of {TOY}; using the newest, new" in cmp.warnings


def test_a_gate_on_a_breakdown_key_with_a_colon(tmp_path: Path):
    metrics = {"accuracy": 50.0, "per_type": {"a:b": 40.0}}
    base = write_run(tmp_path, "b", metrics=metrics)
    cand = write_run(tmp_path, "c", metrics={"accuracy": 50.0, "per_type": {"a:b": 30.0}})
    assert C.compare_runs(base, cand, max_drop={"per_type/a:b": 10.0}).failed is False
    assert C.compare_runs(base, cand, max_drop={"per_type/a:b": 9.0}).failed is True
    with pytest.raises(UserError, match="no metric"):
        C.compare_runs(base, cand, max_drop={"per_type/a:c": 1.0})


def test_what_the_tables_print(tmp_path: Path):
    """Signs on deltas (zero and gains get a '+'), an empty interval cell for set-level
    metrics, numbers right-aligned in Markdown."""
    base = write_run(tmp_path, "b", samples=correct_samples([1, 0]),
                     metrics={"accuracy": 50.0, "fid": 10.0, "kid": 0.5})  # fmt: skip
    cand = write_run(tmp_path, "c", samples=correct_samples([1, 0]),
                     metrics={"accuracy": 50.0, "fid": 9.5, "kid": 0.75})  # fmt: skip
    cmp = C.compare_runs(base, cand, max_drop={"fid": 1.0})
    cells = {r.metric: C._cells(r) for r in cmp.rows}
    assert cells["accuracy"][4] == "+0.00" and cells["accuracy"][5] == "[0.00, 0.00]"
    assert cells["fid"][4:8] == ["-0.5", "", "+1.00", "PASS"]
    assert cells["kid"][4] == "+0.25"
    md = C.render_comparison(cmp, "md").splitlines()
    assert md[1].replace(" ", "").replace("-", "") == "|||:|:|:||:||"
    assert json.loads(C.render_comparison(cmp, "json"))["rows"][1]["delta"] == -0.5
