"""Baseline vs. candidate: per-metric deltas, paired bootstrap intervals, CI gates.

Deltas are `candidate - baseline` of the numbers in each run.json. For metrics that are a scaled
mean of a per-sample score (the task's `sample_metrics`, e.g. VQAv2 accuracy = 100 * mean of
per-question accuracy) the 95% interval of the delta comes from a paired bootstrap: samples are
paired by id, ids are resampled with replacement `n_boot` times (numpy `Generator(PCG64(seed))`,
the same resampled ids for every metric), and the 2.5th/97.5th percentiles of
`scale * mean(candidate - baseline)` over the resamples bound the interval. Set-level metrics
(FID, KID, CLIP score over a set) have no per-sample form: their rows show the delta without an
interval. Which metrics those are comes from run.json (`extra.sample_metrics`, recorded by the
runner), never from the task class: the task need not be installed where runs are compared.
Only a run.json written before janus-eval recorded them falls back to the installed task
(report/records.py); without it only the recorded numbers are compared, and a warning says so.

When the two runs scored different sample sets, the comparison is made on the ids both have: the
per-sample metrics are recomputed there (rows then show those values, not run.json's) and a
warning gives the counts; set-level metrics cannot be recomputed and are compared as recorded.
Data are compared by content, not by where they lay (report/same_data.py): two models run on the
same data get no data warning, and samples whose content differs are counted and named.

Gates (`--max-drop METRIC=VALUE`, rules in report/gates.py) look at the point delta only; the
interval is shown to help judge noise.
"""

from __future__ import annotations

import io
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from janus_eval.report.gates import (  # noqa: F401 (gate_passes is public here too)
    apply_gates,
    gate_passes,
    lower_is_better,
)
from janus_eval.report.leaderboard import markdown_table
from janus_eval.report.records import (
    Run,
    find_run_dirs,
    finished_key,
    flatten_metrics,
    format_number,
    is_number,
    leaderboard_options,
    load_record,
    recorded_task_facts,
    task_label,
)
from janus_eval.report.same_data import data_warnings
from janus_eval.types import UserError

CI_LEVEL = 0.95
_BOOT_CHUNK_ELEMENTS = 4_000_000  # resample in chunks so 1000 x 100k samples fits in memory


@dataclass
class MetricRow:
    task: str
    metric: str
    baseline: float | None
    candidate: float | None
    delta: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    gate: float | None = None
    passed: bool | None = None
    n_pairs: int | None = None


@dataclass
class Comparison:
    rows: list[MetricRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: one entry per compared pair of runs: task, run ids, sample counts
    pairs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when any gate failed: the CLI exits 1."""
        return any(row.passed is False for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "failed": self.failed,
            "rows": [asdict(r) for r in self.rows],
            "warnings": list(self.warnings),
            "pairs": list(self.pairs),
        }


def compare_runs(
    baseline: str | Path,
    candidate: str | Path,
    max_drop: Mapping[str, float] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Comparison:
    """Compare two run directories, or two folders of runs matched by task.

    Raises UserError for runs of different tasks, task versions or leaderboard options (e.g.
    GenEval detectors), and for gates naming a metric neither run has.
    """
    base_runs = _runs_at(baseline)
    cand_runs = _runs_at(candidate)
    result = Comparison()
    if len(base_runs) == 1 and len(cand_runs) == 1:
        pairs = [(base_runs[0], cand_runs[0])]
    else:
        pairs = _match_by_task(base_runs, cand_runs, result.warnings)
    for base, cand in pairs:
        _compare_pair(base, cand, result, n_boot=n_boot, seed=seed)
    apply_gates(result.rows, dict(max_drop or {}))
    return result


def _runs_at(path: str | Path) -> list[Run]:
    return [Run(d, load_record(d)) for d in find_run_dirs([path])]


def _match_by_task(base: list[Run], cand: list[Run], warnings: list[str]) -> list[tuple[Run, Run]]:
    """Pair the newest run of each task (and leaderboard options) on both sides."""

    def newest(runs: list[Run], side: str) -> dict[str, Run]:
        groups: dict[str, list[Run]] = defaultdict(list)
        for run in runs:
            groups[run.task_label].append(run)
        out = {}
        for label, group in groups.items():
            group.sort(key=lambda r: finished_key(r.record), reverse=True)
            if len(group) > 1:
                warnings.append(
                    f"{side} has {len(group)} runs of {label}; using the newest, "
                    f"{group[0].path.name}"
                )
            out[label] = group[0]
        return out

    b, c = newest(base, "baseline"), newest(cand, "candidate")
    common = sorted(set(b) & set(c))
    for label in sorted(set(b) - set(c)):
        warnings.append(f"{label}: only in the baseline, not compared")
    for label in sorted(set(c) - set(b)):
        warnings.append(f"{label}: only in the candidate, not compared")
    if not common:
        raise UserError(
            f"no task in common: baseline has {sorted(b) or 'none'}, candidate has "
            f"{sorted(c) or 'none'}. Run the same tasks (with the same scoring options) on both."
        )
    return [(b[label], c[label]) for label in common]


def _compare_pair(base: Run, cand: Run, out: Comparison, *, n_boot: int, seed: int) -> None:
    b, c = base.record, cand.record
    where = f"{base.path} vs {cand.path}"
    if b.task != c.task:
        raise UserError(
            f"cannot compare runs of different tasks ({b.task!r} vs {c.task!r}): {where}"
        )
    if str(b.task_version) != str(c.task_version):
        raise UserError(
            f"cannot compare {b.task} version {b.task_version} with version {c.task_version}: "
            f"the scoring changed between versions. Re-run the baseline with this version ({where})"
        )
    if leaderboard_options(b) != leaderboard_options(c):
        raise UserError(
            f"cannot compare {task_label(b)} with {task_label(c)}: they are scored differently. "
            f"Re-run one of them with the other's options ({where})"
        )
    facts = recorded_task_facts([b, c], out.warnings)
    out.warnings.extend(_config_warnings(b.task, b.config, c.config, facts.location_options))

    base_scores, cand_scores = base.sample_scores(), cand.sample_scores()
    common = sorted(set(base_scores) & set(cand_scores))
    same_set = len(common) == len(base_scores) == len(cand_scores)
    out.warnings.extend(data_warnings(b.task, base, cand, base_scores.keys(), cand_scores.keys()))
    out.pairs.append(
        {
            "task": task_label(b),  # same as every row's task
            "baseline_run": b.run_id,
            "candidate_run": c.run_id,
            "baseline_samples": len(base_scores),
            "candidate_samples": len(cand_scores),
            "common_samples": len(common),
        }
    )

    label = task_label(b)
    sample_metrics = facts.sample_metrics
    b_flat, c_flat = flatten_metrics(b.metrics), flatten_metrics(c.metrics)
    for metric in [*b_flat, *(m for m in c_flat if m not in b_flat)]:
        row = MetricRow(label, metric, b_flat.get(metric), c_flat.get(metric), None)
        if metric in sample_metrics:
            score_field, scale = sample_metrics[metric]
            _bootstrap_row(
                row, base_scores, cand_scores, common, score_field, scale, same_set,
                n_boot=n_boot, seed=seed, warnings=out.warnings,
            )  # fmt: skip
        if row.baseline is not None and row.candidate is not None:
            row.delta = row.candidate - row.baseline
        out.rows.append(row)


def _bootstrap_row(
    row: MetricRow,
    base_scores: Mapping[str, Mapping[str, Any]],
    cand_scores: Mapping[str, Mapping[str, Any]],
    common: Sequence[str],
    score_field: str,
    scale: float,
    same_set: bool,
    *,
    n_boot: int,
    seed: int,
    warnings: list[str],
) -> None:
    ids = [
        i
        for i in common
        if _per_sample(base_scores[i].get(score_field)) is not None
        and _per_sample(cand_scores[i].get(score_field)) is not None
    ]
    if not ids:
        warnings.append(f"{row.task}:{row.metric}: no paired per-sample {score_field!r} scores")
        return
    base = np.array([_per_sample(base_scores[i][score_field]) for i in ids], dtype=np.float64)
    cand = np.array([_per_sample(cand_scores[i][score_field]) for i in ids], dtype=np.float64)
    base_mean, cand_mean = scale * base.mean(), scale * cand.mean()
    if same_set:
        for side, recorded, mean in (("baseline", row.baseline, base_mean),
                                     ("candidate", row.candidate, cand_mean)):  # fmt: skip
            # tasks round their aggregates (VQA's official scorer to 2 decimals): tolerate that
            if recorded is not None and abs(recorded - mean) > 1e-3 * abs(scale):
                warnings.append(
                    f"{row.task}:{row.metric}: {side} run.json says {recorded:g} but "
                    f"{scale:g} * mean({score_field}) over its samples is {mean:g}"
                )
    else:
        row.baseline, row.candidate = float(base_mean), float(cand_mean)
    row.ci_low, row.ci_high = paired_bootstrap_ci(base, cand, scale=scale, n_boot=n_boot, seed=seed)
    row.n_pairs = len(ids)


def _per_sample(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if is_number(value) and math.isfinite(value):
        return float(value)
    return None


def paired_bootstrap_ci(
    baseline: np.ndarray,
    candidate: np.ndarray,
    *,
    scale: float = 1.0,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = CI_LEVEL,
) -> tuple[float, float]:
    """Percentile interval of `scale * mean(candidate - baseline)` over paired resamples."""
    diff = np.asarray(candidate, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    n = diff.size
    if n == 0 or n_boot < 1:
        raise ValueError("paired bootstrap needs at least one pair and one resample")
    rng = np.random.Generator(np.random.PCG64(seed))
    means = np.empty(n_boot, dtype=np.float64)
    chunk = max(1, _BOOT_CHUNK_ELEMENTS // n)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = diff[idx].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(scale * means, [tail, 100 - tail])
    return float(low), float(high)


def _config_warnings(
    task: str, base: Mapping[str, Any], cand: Mapping[str, Any], where: frozenset[str]
) -> list[str]:
    """Differences besides the model and the data that can move numbers (seed, limit, task
    options other than where the data lay; the data are checked by content, in same_data)."""
    out = []
    for key in ("limit", "seed"):
        if base.get(key) != cand.get(key):
            out.append(f"{task}: {key} differs ({base.get(key)!r} vs {cand.get(key)!r})")
    b_opts = (base.get("task") or {}).get("options") or {}
    c_opts = (cand.get("task") or {}).get("options") or {}
    for key in sorted((set(b_opts) | set(c_opts)) - where):
        if b_opts.get(key) != c_opts.get(key):
            out.append(
                f"{task}: task option {key} differs ({b_opts.get(key)!r} vs {c_opts.get(key)!r})"
            )
    return out


# -- rendering ----------------------------------------------------------------------------------

HEADERS = ("task", "metric", "baseline", "candidate", "delta", "95% CI", "gate", "status")


def _cells(row: MetricRow) -> list[str]:
    delta = "—" if row.delta is None else ("+" if row.delta >= 0 else "") + format_number(row.delta)
    ci = (
        "" if row.ci_low is None else f"[{format_number(row.ci_low)}, {format_number(row.ci_high)}]"
    )
    if row.gate is None:
        gate, status = "", ""
    else:
        sign = "+" if lower_is_better(row.metric) else "-"
        gate, status = f"{sign}{format_number(row.gate)}", "PASS" if row.passed else "FAIL"
    return [
        row.task, row.metric, format_number(row.baseline), format_number(row.candidate),
        delta, ci, gate, status,
    ]  # fmt: skip


def render_comparison(cmp: Comparison, fmt: str = "table") -> str:
    """Plain-text table (rich, no colour), Markdown, or JSON."""
    if fmt == "json":
        return json.dumps(cmp.to_dict(), indent=2) + "\n"
    footer = [f"warning: {w}" for w in cmp.warnings]
    footer.append("RESULT: " + ("FAIL (a gate failed)" if cmp.failed else "PASS"))
    if fmt == "md":
        numeric = [False, False, True, True, True, False, True, False]
        table = markdown_table(HEADERS, [_cells(r) for r in cmp.rows], numeric)
        return table + "\n" + "\n".join(f"- {line}" for line in footer) + "\n"
    if fmt == "table":
        from rich.console import Console

        buffer = io.StringIO()
        Console(file=buffer, width=160, color_system=None).print(comparison_table(cmp))
        return buffer.getvalue() + "\n".join(footer) + "\n"
    raise UserError(f"unknown comparison format {fmt!r}; choose table, md or json")


def comparison_table(cmp: Comparison):  # -> rich.table.Table (rich imported lazily)
    """A rich Table for the CLI: failing gates in red, passing in green."""
    from rich.table import Table

    table = Table(title="baseline vs candidate", title_justify="left")
    for header in HEADERS:
        numeric = header in ("baseline", "candidate", "delta", "gate")
        table.add_column(header, justify="right" if numeric else "left")
    for row in cmp.rows:
        style = None if row.passed is None else ("green" if row.passed else "bold red")
        table.add_row(*_cells(row), style=style)
    return table
