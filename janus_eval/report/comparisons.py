"""The report's comparisons: every other checkpoint against a baseline checkpoint.

Each pair of runs (same task label, baseline's and candidate's newest) goes through
`compare_runs`, so the report shows exactly what `janus-eval compare` would: deltas, paired
bootstrap 95% intervals for per-sample metrics, and gate verdicts for `--max-drop` gates. The
chart plots the deltas with their intervals as error bars, coloured by verdict, for each task's
primary metric, every metric with an interval and every gated metric; the table lists all.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from janus_eval.report.charts import delta_chart
from janus_eval.report.compare import MetricRow, compare_runs
from janus_eval.report.gates import apply_gates, lower_is_better
from janus_eval.report.records import Run, format_number
from janus_eval.report.table import row_label
from janus_eval.types import UserError

COMPARE_CSS = """
table.comparison tr.pass td { background: #e8f5e9; } table.comparison tr.fail td { background: #fdecea; }
.verdict-pass { color: #2a7d2e; font-weight: bold; } .verdict-fail { color: #c62828; font-weight: bold; }
"""


@dataclass
class CheckpointComparison:
    baseline: str
    candidate: str
    rows: list[MetricRow]
    primary: set[tuple[str, str]]  # (task label, metric) of each task's headline number
    warnings: list[str]

    @property
    def failed(self) -> bool:
        return any(r.passed is False for r in self.rows)


def compare_checkpoints(
    by_task: Mapping[str, Sequence[Run]],
    baseline: str | None = None,
    max_drop: Mapping[str, float] | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[CheckpointComparison]:
    """Each checkpoint other than `baseline` (a checkpoint label or model name; default the
    first checkpoint) against it, task by task."""
    labels = list(dict.fromkeys(row_label(r.model_key) for runs in by_task.values() for r in runs))
    if len(labels) < 2:
        return []
    base = _pick(labels, baseline, by_task)
    out = []
    for cand in (lab for lab in labels if lab != base):
        result = CheckpointComparison(base, cand, [], set(), [])
        for task, runs in by_task.items():
            pair = {row_label(r.model_key): r for r in runs}
            if base in pair and cand in pair:
                cmp = compare_runs(pair[base].path, pair[cand].path, n_boot=n_boot, seed=seed)
                result.rows.extend(cmp.rows)
                result.warnings.extend(cmp.warnings)
                result.primary.add((cmp.rows[0].task if cmp.rows else task,
                                    pair[base].record.primary_metric))  # fmt: skip
        out.append(result)
    _gate(out, dict(max_drop or {}))
    return out


def _pick(labels: Sequence[str], wanted: str | None, by_task: Mapping[str, Sequence[Run]]) -> str:
    if wanted is None:
        return labels[0]
    names: dict[str, set[str]] = {}  # label -> its row name and the model's own name
    for r in (r for runs in by_task.values() for r in runs):
        names.setdefault(row_label(r.model_key), set()).update(
            {r.model_key[0], str(r.record.model.get("name"))}
        )
    matches = [lab for lab in labels if wanted == lab or wanted in names.get(lab, ())]
    if len(matches) != 1:
        found = "several" if matches else "no"
        raise UserError(
            f"--baseline {wanted!r}: {found} checkpoint matches; give one of: " + "; ".join(labels)
        )
    return matches[0]


def _gate(comparisons: Sequence[CheckpointComparison], gates: Mapping[str, float]) -> None:
    """Apply each gate to every candidate that has its metric; a gate no candidate has is an
    error (as in `compare`)."""
    for name, value in gates.items():
        errors = []
        for cmp in comparisons:
            try:
                apply_gates(cmp.rows, {name: value})
            except UserError as exc:
                errors.append(str(exc))
                cmp.warnings.append(f"gate {name} not applied: no such metric in this pair")
        if errors and len(errors) == len(comparisons):
            raise UserError(errors[0])


def render_comparison_html(cmp: CheckpointComparison) -> str:
    """Heading, verdict, delta chart and the full table of one candidate vs the baseline."""
    verdict = "FAIL (a gate failed)" if cmp.failed else "PASS"
    klass = "verdict-fail" if cmp.failed else "verdict-pass"
    gated = any(r.gate is not None for r in cmp.rows)
    parts = [
        f"<h3>{html.escape(cmp.candidate)} vs {html.escape(cmp.baseline)}</h3>",
        f"<p class='{klass}'>gates: {verdict}</p>" if gated else "<p>No gates given.</p>",
    ]
    charted = [r for r in cmp.rows if r.delta is not None and
               (r.ci_low is not None or r.gate is not None or (r.task, r.metric) in cmp.primary)]  # fmt: skip
    if charted:
        parts.append(
            delta_chart(
                f"{cmp.candidate} vs {cmp.baseline}",
                [f"{r.task}:{r.metric}" for r in charted],
                [r.delta for r in charted],
                [None if r.ci_low is None else (r.ci_low, r.ci_high) for r in charted],
                [r.passed for r in charted],
                [_tooltip(r, cmp) for r in charted],
            )
        )
    parts.append(_table(cmp.rows))
    parts.extend(f"<p class='warning'>warning: {html.escape(w)}</p>" for w in cmp.warnings)
    return "\n".join(parts)


def _tooltip(row: MetricRow, cmp: CheckpointComparison) -> str:
    interval = "" if row.ci_low is None else f", 95% CI [{row.ci_low:.4g}, {row.ci_high:.4g}]"
    return (
        f"{row.task}:{row.metric}: {cmp.baseline} {format_number(row.baseline)} -> "
        f"{cmp.candidate} {format_number(row.candidate)}, delta {format_number(row.delta)}{interval}"
    )


def _table(rows: Sequence[MetricRow]) -> str:
    heads = ("task", "metric", "baseline", "candidate", "delta", "95% CI", "gate", "verdict")
    lines = [
        "<table class='comparison'><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in heads)
        + "</tr></thead><tbody>"
    ]
    for r in rows:
        ci = "" if r.ci_low is None else f"[{format_number(r.ci_low)}, {format_number(r.ci_high)}]"
        gate = (
            ""
            if r.gate is None
            else ("+" if lower_is_better(r.metric) else "-") + format_number(r.gate)
        )
        status = {None: "", True: "PASS", False: "FAIL"}[r.passed]
        klass = {None: "", True: " class='pass'", False: " class='fail'"}[r.passed]
        cells = (r.task, r.metric, format_number(r.baseline), format_number(r.candidate),
                 format_number(r.delta), ci, gate, status)  # fmt: skip
        lines.append(
            f"<tr{klass}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"
        )
    lines.append("</tbody></table>")
    return "\n".join(lines)
