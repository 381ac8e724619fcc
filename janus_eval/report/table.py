"""A leaderboard as plain data: column groups, columns that know which way is better, rows.

The HTML page renders this shape and nothing else, so any producer can feed it: today
`table_from_leaderboard` builds it from `leaderboard.py`'s DataFrame, and rows transcribed from
papers ("reported" rows, which have no run behind them) join as `TableRow(reported=True)`.
Columns are grouped the way the Janus papers lay out their main table: understanding
benchmarks first, then generation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from janus_eval.report.gates import lower_is_better
from janus_eval.report.leaderboard import ID_COLUMNS
from janus_eval.report.records import Run, format_number

GROUP_ORDER = ("understanding", "generation")


@dataclass(frozen=True)
class TableColumn:
    key: str  # e.g. 'geneval[detector=mask2former]/overall'
    group: str  # 'understanding' | 'generation' | anything a producer chooses
    higher_is_better: bool = True


@dataclass
class TableRow:
    label: str  # the checkpoint as people name it
    values: Mapping[str, float | None]  # column key -> number (None or absent: no number)
    reported: bool = False  # transcribed from a paper, not run here
    notes: str = ""
    partial: Sequence[str] = ()  # column keys whose number comes from a partial run
    runs: Sequence[Run] = ()  # the runs behind the row (folded away under it in the page)


@dataclass
class Table:
    columns: list[TableColumn]
    rows: list[TableRow] = field(default_factory=list)

    @property
    def groups(self) -> list[tuple[str, int]]:
        """(group name, number of columns) in column order: the header's first line."""
        out: list[tuple[str, int]] = []
        for column in self.columns:
            if out and out[-1][0] == column.group:
                out[-1] = (column.group, out[-1][1] + 1)
            else:
                out.append((column.group, 1))
        return out

    def best(self, column: TableColumn) -> float | None:
        """The best number in a column (largest, or smallest for FID/KID), over every row,
        reported rows included, as papers mark it."""
        numbers = [
            v for r in self.rows if (v := r.values.get(column.key)) is not None and math.isfinite(v)
        ]
        if not numbers:
            return None
        return max(numbers) if column.higher_is_better else min(numbers)


def row_label(model_key: Sequence[str]) -> str:
    """'janus-pro-1b (ckpt/a) #0123abcd4567': name, checkpoint and short weights hash."""
    name, checkpoint, weights = model_key
    return name + (f" ({checkpoint})" if checkpoint else "") + (f" #{weights}" if weights else "")


def table_from_leaderboard(
    frame: pd.DataFrame, runs: Sequence[Run], reported: Sequence[TableRow] = ()
) -> Table:
    """The generic table from `leaderboard_from_runs`' DataFrame, the runs it was built from
    (for each column's understanding/generation group and the per-row run details) and any
    reported rows. Columns are ordered understanding first, generation second, then as the
    leaderboard ordered them."""
    kinds = {run.record.task: run.record.task_kind for run in runs}
    metric_keys = [c for c in frame.columns if c not in (*ID_COLUMNS, "notes")]
    columns = [
        TableColumn(key, kinds.get(_base_task(key), "other"), not lower_is_better(_metric(key)))
        for key in metric_keys
    ]
    rank = {g: i for i, g in enumerate(GROUP_ORDER)}
    columns.sort(key=lambda c: rank.get(c.group, len(rank)))  # stable: keeps leaderboard order
    for extra in reported:  # a reported column no run has still gets a column
        for key in extra.values:
            if key not in {c.key for c in columns}:
                columns.append(TableColumn(key, "reported", not lower_is_better(_metric(key))))
    partial: dict[int, list[str]] = {}
    for r, c in frame.attrs.get("partial", []):
        partial.setdefault(int(r), []).append(c)
    rows = []
    for i, record in enumerate(frame.to_dict(orient="records")):
        key = tuple(str(record[c]) for c in ID_COLUMNS)
        rows.append(
            TableRow(
                label=row_label(key),
                values={k: _number(record[k]) for k in metric_keys},
                notes=str(record.get("notes") or ""),
                partial=partial.get(i, []),
                runs=[run for run in runs if run.model_key == key],
            )
        )
    return Table(columns, rows + list(reported))


def reported_rows(references: Sequence[Any], column_keys: Sequence[str] = ()) -> list[TableRow]:
    """The papers' reported rows (`papers.paper_leaderboard`'s, one per checkpoint and paper)
    as table rows. A number goes into the leaderboard column of its task and metric where the
    runs have one (the first, when task options split a task into several), else into a column
    `task/metric` of its own."""
    from janus_eval.report.papers import paper_leaderboard

    by_task_metric: dict[tuple[str, str], str] = {}
    for key in column_keys:
        by_task_metric.setdefault((_base_task(key), _metric(key)), key)
    table = paper_leaderboard((), references)
    task_metric = {c["key"]: (c["task"], c["metric"]) for c in table["columns"]}
    rows = []
    for row in table["rows"]:
        values = {}
        for key, cell in row["cells"].items():
            task, metric = task_metric[key]
            values[by_task_metric.get((task, metric), f"{task}/{metric}")] = float(cell["value"])
        rows.append(
            TableRow(
                label=f"{row['model']} (reported, {row['paper']})",
                values=values,
                reported=True,
                notes=f"numbers printed in {row['paper']} (results/reference/)",
            )
        )
    return rows


def cell_text(row: TableRow, column: TableColumn) -> str:
    value = row.values.get(column.key)
    mark = "*" if column.key in row.partial else ""
    return format_number(value) + mark if value is not None else "—"


def _number(value: object) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)  # type: ignore[arg-type]


def _base_task(column: str) -> str:
    """'vqav2@v2[scorer=x]/accuracy' -> 'vqav2'."""
    return column.split("/")[0].split("[")[0].split("@")[0]


def _metric(column: str) -> str:
    return column.split("/", 1)[1] if "/" in column else column
