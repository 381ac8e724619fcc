"""Per-task breakdowns as bar charts across checkpoints, read from run.json metrics alone.

Tasks store breakdowns as mapping-valued metrics, and the report reads their shape, not their
names, so a new task's breakdowns are charted without code here:

* a mapping of numbers is one breakdown: MMBench `per_category` / `per_l2_category`, SEED
  `per_dimension`, GenEval `per_tag`, MJHQ-30K `fid_per_category`, VQAv2 `per_answer_type`;
* a mapping keyed by metric names, recognised by having the task's primary metric as a key,
  is a split: POPE stores `random`, `popular`, `adversarial` as top-level metrics, each with
  accuracy/precision/recall/f1; the primary metric (POPE's f1) is charted across the splits.
  Mappings of mappings ({split: {metric: value}}) are read the same way.

Counts are not scores and are left out: names starting `n_`, or ending `_images` or `_count`
(`n_per_category`, GenEval's `per_tag_images`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from janus_eval.report.charts import bar_chart
from janus_eval.report.records import Run, is_number
from janus_eval.report.table import row_label


@dataclass(frozen=True)
class Breakdown:
    task: str  # the task label (leaderboard column prefix)
    name: str  # 'per_tag', or 'f1 per split'
    categories: list[str]
    series: dict[str, list[float | None]]  # checkpoint label -> value per category

    def svg(self) -> str:
        metric = self.name.split(" per ")[0] if " per " in self.name else self.name
        return bar_chart(f"{self.task} · {self.name}", self.categories, self.series,
                         xlabel=metric)  # fmt: skip


def is_count(name: str) -> bool:
    return name.startswith("n_") or name.endswith(("_images", "_count"))


def run_breakdowns(metrics: Mapping[str, object], primary: str) -> dict[str, dict[str, float]]:
    """One run's breakdowns: chart name -> {category: value}.

    A mapping keyed by metric names (it has the primary metric as a key, as POPE's `random`
    split has `f1`) is a split, not a breakdown: the primary metric is charted across splits.
    """
    out: dict[str, dict[str, float]] = {}
    splits: dict[str, dict[str, float]] = {}  # inner metric -> {split: value}
    for name, value in metrics.items():
        if not isinstance(value, Mapping) or is_count(name):
            continue
        if all(isinstance(v, Mapping) for v in value.values()):  # {split: {metric: value}}
            for split, inner in value.items():
                _add_split(splits, str(split), inner, primary)
        elif primary in value:
            _add_split(splits, name, value, primary)
        else:
            numbers = {str(k): float(v) for k, v in value.items() if is_number(v)}
            if numbers:
                out[name] = numbers
    for metric in sorted(splits):
        out[f"{metric} per split"] = splits[metric]
    return out


def _add_split(splits: dict[str, dict[str, float]], split: str, inner: Mapping[str, object],
               primary: str) -> None:  # fmt: skip
    """The split's primary metric, or every metric when it has no primary."""
    chosen = [primary] if primary in inner else [str(m) for m in inner if not is_count(str(m))]
    for metric in chosen:
        if is_number(inner.get(metric)):
            splits.setdefault(metric, {})[split] = float(inner[metric])  # type: ignore[arg-type]


def breakdowns(by_task: Mapping[str, Sequence[Run]]) -> list[Breakdown]:
    """Every breakdown of every task, with one bar series per checkpoint (`by_task` maps a task
    label to one run per checkpoint); categories in first-seen order across checkpoints."""
    out = []
    for label, runs in by_task.items():
        per_run = [run_breakdowns(r.record.metrics, r.record.primary_metric) for r in runs]
        names = list(dict.fromkeys(n for b in per_run for n in b))
        for name in names:
            categories = list(dict.fromkeys(c for b in per_run for c in b.get(name, {})))
            series = {
                row_label(run.model_key): [b.get(name, {}).get(c) for c in categories]
                for run, b in zip(runs, per_run, strict=True)
            }
            out.append(Breakdown(label, name, categories, series))
    return out
