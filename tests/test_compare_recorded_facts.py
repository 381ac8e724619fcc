"""compare reads what it needs from the task out of run.json (issue 17): the runner records the
task's `sample_metrics` and `location_options` in `extra`, compare bootstraps from them with the
task nowhere in the registry, and only a run.json written before they were recorded falls back
to the installed task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report_fixtures import correct_samples, write_run

from janus_eval import registry
from janus_eval.api import evaluate
from janus_eval.report.compare import compare_runs

UNREGISTERED = "recorded-only"


def _with_facts(run_dir: Path, sample_metrics: dict, location_options: list[str]) -> Path:
    """Add the task facts to a hand-written run.json, as janus_eval.finish writes them."""
    path = run_dir / "run.json"
    record = json.loads(path.read_text())
    record["extra"].update(sample_metrics=sample_metrics, location_options=location_options)
    path.write_text(json.dumps(record))
    return run_dir


def _never_asked(name: str):
    raise AssertionError(f"compare asked the registry for task {name!r}")


def test_runs_record_the_task_facts(tmp_path: Path) -> None:
    rec = evaluate("toy-qa", "dummy", output_dir=tmp_path, limit=4)
    on_disk = json.loads((tmp_path / rec.run_id / "run.json").read_text())["extra"]
    # toy_plugin.ToyQA: sample_metrics = {"accuracy": ("correct", 100.0)}, no location options
    assert on_disk["sample_metrics"] == {"accuracy": ["correct", 100.0]}
    assert on_disk["location_options"] == []


def test_compare_bootstraps_from_run_json_alone(tmp_path: Path, monkeypatch) -> None:
    facts = {"accuracy": ["correct", 100.0]}
    kw = {"task": UNREGISTERED, "options": {"folder": "/a", "prompt": "x"}}
    base = write_run(tmp_path, "b", samples=correct_samples([1, 0, 1, 0]), **kw)
    kw["options"] = {"folder": "/b", "prompt": "y"}
    cand = write_run(tmp_path, "c", samples=correct_samples([1, 1, 1, 0]), **kw)
    _with_facts(base, facts, ["folder"])
    _with_facts(cand, facts, ["folder"])
    monkeypatch.setattr(registry, "task_class", _never_asked)
    cmp = compare_runs(base, cand)
    (row,) = cmp.rows
    assert (row.baseline, row.candidate, row.delta, row.n_pairs) == (50.0, 75.0, 25.0, 4)
    assert row.ci_low is not None and row.ci_low <= 25.0 <= row.ci_high
    # `folder` is a recorded location option: only `prompt` is worth a warning
    assert cmp.warnings == [f"{UNREGISTERED}: task option prompt differs ('x' vs 'y')"]


def test_an_empty_recorded_sample_metrics_means_no_interval(tmp_path: Path, monkeypatch) -> None:
    base = write_run(tmp_path, "b", task=UNREGISTERED, samples=correct_samples([1, 0]))
    cand = write_run(tmp_path, "c", task=UNREGISTERED, samples=correct_samples([1, 1]))
    _with_facts(base, {}, [])
    _with_facts(cand, {}, [])
    monkeypatch.setattr(registry, "task_class", _never_asked)
    cmp = compare_runs(base, cand)
    assert cmp.rows[0].ci_low is None and cmp.rows[0].delta == pytest.approx(50.0)
    assert cmp.warnings == []


def test_an_old_run_json_of_a_task_not_installed_says_why(tmp_path: Path) -> None:
    base = write_run(tmp_path, "b", task=UNREGISTERED, samples=correct_samples([1, 0]))
    cand = write_run(tmp_path, "c", task=UNREGISTERED, samples=correct_samples([1, 1]))
    cmp = compare_runs(base, cand)
    assert cmp.rows[0].ci_low is None
    (warning,) = cmp.warnings
    assert "not installed here" in warning and "predates the recorded sample_metrics" in warning
