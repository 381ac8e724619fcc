"""`janus-eval compare ... --format markdown`: the comparison as a pull-request comment.

A reviewer reads the verdict first, then the gated metrics, then everything else: the comment
opens with PASS/FAIL and the counts, lists gated rows (failures first) in one table, folds the
ungated rows into a `<details>` block, and ends with compare's warnings. Deltas are
`candidate - baseline` with their paired-bootstrap 95% interval where the metric has a per-sample
form (see report/compare.py); gates judge the point delta.

The first line is an HTML comment marker (`MARKER`) so a CI job can find and update its own
comment instead of adding one per push. Every string that comes from the runs (task and metric
names, breakdown categories, paths, warnings) is escaped (`escape.md_escape`).
"""

from __future__ import annotations

from collections.abc import Sequence

from janus_eval.report.compare import Comparison, MetricRow
from janus_eval.report.escape import md_escape
from janus_eval.report.gates import lower_is_better
from janus_eval.report.leaderboard import markdown_table
from janus_eval.report.records import format_number

MARKER = "<!-- janus-eval-gate -->"
HEADERS = ("task", "metric", "baseline", "candidate", "delta", "95% CI", "gate", "verdict")
_NUMERIC = (False, False, True, True, True, False, True, False)


def render_pr_comment(cmp: Comparison, *, baseline: str = "", candidate: str = "") -> str:
    """The Markdown body of the comment (GitHub-flavoured)."""
    gated = sorted((r for r in cmp.rows if r.gate is not None), key=lambda r: r.passed is True)
    others = [r for r in cmp.rows if r.gate is None]
    failed = sum(1 for r in gated if r.passed is False)
    verdict = "FAIL ❌" if cmp.failed else "PASS ✅"
    lines = [MARKER, f"### janus-eval gate: {verdict}", ""]
    if baseline or candidate:
        lines += [f"Baseline {md_escape(baseline)} vs candidate {md_escape(candidate)}.", ""]
    lines += [
        f"{len(cmp.rows)} metrics compared over {len(cmp.pairs)} task(s); {len(gated)} gated, "
        f"{failed} failed.",
        "",
    ]
    if gated:
        lines += [_table(gated), ""]
    else:
        lines += ["No gate was set (`--max-drop METRIC=VALUE`), so nothing can fail.", ""]
    if others:
        lines += [
            f"<details><summary>{len(others)} ungated metrics</summary>",
            "",
            _table(others),
            "</details>",
            "",
        ]
    if cmp.warnings:
        lines += ["**Warnings**", ""] + [f"- {md_escape(w)}" for w in cmp.warnings] + [""]
    lines.append(
        "<sub>delta = candidate - baseline; 95% CI: paired bootstrap over the samples both runs "
        "scored (set-level metrics such as FID have none); a gate judges the point delta; "
        "lower is better for fid* and kid* metrics.</sub>"
    )
    return "\n".join(lines) + "\n"


def _table(rows: Sequence[MetricRow]) -> str:
    return markdown_table(HEADERS, [_cells(r) for r in rows], _NUMERIC).rstrip("\n")


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "-") + format_number(abs(value))


def _cells(row: MetricRow) -> list[str]:
    ci = "" if row.ci_low is None else f"[{_signed(row.ci_low)}, {_signed(row.ci_high)}]"
    if row.gate is None:
        gate, verdict = "", ""
    else:
        allowed = format_number(row.gate)
        gate = f"≤ +{allowed}" if lower_is_better(row.metric) else f"≥ -{allowed}"
        verdict = "✅ pass" if row.passed else "❌ FAIL"
    return [
        md_escape(row.task),
        md_escape(row.metric),
        format_number(row.baseline),
        format_number(row.candidate),
        "—" if row.delta is None else _signed(row.delta),
        ci,
        gate,
        verdict,
    ]
