"""What `compare` shows and stores, written for the mutants of report/compare.py that the other
compare tests let through (docs/TESTING.md, "report/compare.py"): the table's headers, column
alignment and row colours, the default format, the PASS footer, a metric only one side has, the
pairs record, and one run per task never called "several"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report_fixtures import TOY, correct_samples, toy_task, write_run

from janus_eval.report.compare import compare_runs, comparison_table, render_comparison

pytestmark = pytest.mark.usefixtures(toy_task.__name__)


def _passing(tmp_path: Path):
    base = write_run(tmp_path, "base", samples=correct_samples([1, 1, 0, 0]))
    cand = write_run(tmp_path, "cand", model="candidate", samples=correct_samples([1, 1, 1, 0]))
    return compare_runs(base, cand, max_drop={"accuracy": 10})


def test_the_table_is_the_default_and_names_every_column(tmp_path: Path) -> None:
    cmp = _passing(tmp_path)
    text = render_comparison(cmp)
    assert text == render_comparison(cmp, "table")
    header = next(line for line in text.splitlines() if "metric" in line)
    for name in ("task", "metric", "baseline", "candidate", "delta", "95% CI", "gate", "status"):
        assert name in header
    assert text.endswith("RESULT: PASS\n")


def test_json_ends_with_a_newline_and_records_the_pair(tmp_path: Path) -> None:
    data_text = render_comparison(_passing(tmp_path), "json")
    assert data_text.startswith('{\n  "failed": false,\n  "rows": [\n    {\n      "task"')
    assert data_text.endswith("}\n")
    (pair,) = json.loads(data_text)["pairs"]
    assert pair == {
        "task": TOY,
        "baseline_run": "base",
        "candidate_run": "cand",
        "baseline_samples": 4,
        "candidate_samples": 4,
        "common_samples": 4,
    }


def test_numbers_are_right_aligned_and_rows_coloured_by_their_gate(tmp_path: Path) -> None:
    cmp = _passing(tmp_path)
    table = comparison_table(cmp)
    justify = {c.header: c.justify for c in table.columns}
    assert justify == {"task": "left", "metric": "left", "baseline": "right",
                       "candidate": "right", "delta": "right", "95% CI": "left",
                       "gate": "right", "status": "left"}  # fmt: skip
    assert [r.style for r in table.rows] == ["green"]
    worse = write_run(tmp_path, "worse", model="candidate", samples=correct_samples([0, 0, 0, 0]))
    failing = compare_runs(tmp_path / "base", worse, max_drop={"accuracy": 10})
    assert failing.failed
    assert [r.style for r in comparison_table(failing).rows] == ["bold red"]
    ungated = compare_runs(tmp_path / "base", tmp_path / "cand")
    assert [r.style for r in comparison_table(ungated).rows] == [None]


def test_a_metric_only_one_side_has_shows_a_dash(tmp_path: Path) -> None:
    base = write_run(tmp_path, "b", samples=correct_samples([1, 0]),
                     metrics={"accuracy": 50.0, "extra": 3.0})  # fmt: skip
    cand = write_run(tmp_path, "c", samples=correct_samples([1, 0]), metrics={"accuracy": 50.0})
    cmp = compare_runs(base, cand)
    (extra,) = [r for r in cmp.rows if r.metric == "extra"]
    assert extra.delta is None
    (line,) = [x for x in render_comparison(cmp, "md").splitlines() if "| extra" in x]
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[2:6] == ["3.00", "—", "—", ""]  # baseline, candidate, delta, 95% CI


def test_one_run_per_task_in_folders_gives_no_newest_warning(tmp_path: Path) -> None:
    for side in ("base", "cand"):
        write_run(tmp_path / side, "toy", samples=correct_samples([1, 0]))
        write_run(tmp_path / side, "fid", task="fidtask", primary="fid", metrics={"fid": 10.0})
    cmp = compare_runs(tmp_path / "base", tmp_path / "cand")
    assert not [w for w in cmp.warnings if "runs of" in w]


def test_markdown_puts_each_footer_line_in_a_list_under_the_table(tmp_path: Path) -> None:
    base = write_run(tmp_path, "b", samples=correct_samples([1, 0]), metrics={"accuracy": 50.0})
    cand = write_run(tmp_path, "c", samples=correct_samples([1, 0]), metrics={"accuracy": 90.0})
    cmp = compare_runs(base, cand)
    (warning,) = cmp.warnings
    md = render_comparison(cmp, "md")
    assert md.endswith(
        f"|\n\n- warning: {warning}\n- RESULT: PASS\n"
    )  # a blank line ends the table
