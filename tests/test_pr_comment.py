"""`compare --format markdown`: the pull-request comment's verdict, gated rows first with their
intervals, warnings, and escaping of everything that comes from the runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_report_fixtures import correct_samples, toy_task, write_run

from janus_eval.report.compare import compare_runs
from janus_eval.report.escape import md_escape
from janus_eval.report.pr_comment import MARKER, render_pr_comment

pytestmark = pytest.mark.usefixtures(toy_task.__name__)
EVIL = "<script>alert(1)</script>"


def _pair(tmp_path: Path, base_flags, cand_flags, **kw) -> tuple[Path, Path]:
    base = write_run(tmp_path, "base", samples=correct_samples(base_flags), **kw)
    cand = write_run(tmp_path, "cand", model="candidate", samples=correct_samples(cand_flags), **kw)
    return base, cand


def _lines(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def test_failing_gate_verdict_first_with_interval(tmp_path: Path) -> None:
    base, cand = _pair(tmp_path, [i < 60 for i in range(100)], [i < 50 for i in range(100)])
    cmp = compare_runs(base, cand, max_drop={"accuracy": 5.0})
    text = render_pr_comment(cmp, baseline="runs/base", candidate="runs/cand")
    assert text.startswith(MARKER + "\n### janus-eval gate: FAIL")
    assert "1 metrics compared over 1 task(s); 1 gated, 1 failed." in text
    (row,) = _lines(text, "| accuracy")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2:5] == ["60.00", "50.00", "-10.00"]
    low, high = (float(x) for x in cells[5].strip("[]").split(", "))
    assert low < -10 < high < 0  # a paired-bootstrap interval around the delta
    assert cells[6:] == ["≥ -5.00", "❌ FAIL"]
    assert "ungated" not in text


def test_passing_gate_and_ungated_rows_folded(tmp_path: Path) -> None:
    metrics = {"accuracy": 60.0, "per_type": {EVIL: 50.0, "yes|no": 40.0}}
    base, cand = _pair(tmp_path, [True] * 6 + [False] * 4, [True] * 6 + [False] * 4,
                       metrics=metrics)  # fmt: skip
    text = render_pr_comment(compare_runs(base, cand, max_drop={"accuracy": 1.0}))
    assert "### janus-eval gate: PASS ✅" in text
    assert "<details><summary>2 ungated metrics</summary>" in text
    assert "<script" not in text and md_escape(f"per_type/{EVIL}") in text
    assert "yes&#124;no" in text  # a category with | does not split the table


def test_no_gate_says_so(tmp_path: Path) -> None:
    base, cand = _pair(tmp_path, [True, False], [True, True])
    text = render_pr_comment(compare_runs(base, cand))
    assert "PASS" in text and "No gate was set" in text


def test_warnings_are_listed_and_escaped(tmp_path: Path) -> None:
    base = write_run(tmp_path, "base", samples=correct_samples([True, False, True]))
    cand = write_run(tmp_path, "cand", model="c", samples=correct_samples([True, True]),
                     options={"prompt_template": EVIL})  # fmt: skip
    text = render_pr_comment(compare_runs(base, cand))
    warnings = text.split("**Warnings**")[1]
    assert "prompt&#95;template differs" in warnings and "&lt;script&gt;" in warnings
    assert "<script" not in text


def test_md_escape_leaves_no_markup() -> None:
    assert md_escape("a|b*c_[d](e)`f`<g>&\n#!~\\") == (
        "a&#124;b&#42;c&#95;&#91;d&#93;(e)&#96;f&#96;&lt;g&gt;&amp; &#35;&#33;&#126;&#92;"
    )


def test_cli_format_markdown_exits_1_on_a_failed_gate(tmp_path: Path, cli) -> None:
    base = write_run(tmp_path, "base", task="pope", primary="f1", metrics={"f1": 80.0})
    cand = write_run(tmp_path, "cand", task="pope", primary="f1", model="c", metrics={"f1": 70.0})
    done = cli("compare", str(base), str(cand), "--max-drop", "f1=1", "--format", "markdown")
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith(MARKER) and "gate: FAIL" in done.stdout
