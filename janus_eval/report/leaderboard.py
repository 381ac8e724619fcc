"""The leaderboard: one row per model, one column per task's headline number.

Built from run records only. Three rules keep the table honest:

* A row is a model *as evaluated*: name, checkpoint and weights hash. Two checkpoints of the same
  architecture are two rows.
* A column holds numbers scored the same way. Its name is the task, any task options the task
  lists in `leaderboard_keys` (e.g. GenEval's detector: `geneval[detector=mask2former]/overall`),
  and, only when runs of more than one task version are present, the version
  (`vqav2@v2/accuracy`). Runs that differ there never share a column.
* One number per cell. When a model has several runs for a column, the newest (by
  `finished_at`) is kept and the row's `notes` say which runs were dropped. Partial runs
  (`extra.complete` is false, or a `--limit` run) are kept but flagged: `*` in Markdown/HTML,
  a note in every format, and `partial` in JSON.
* Which official scorer made a number: tasks with named scorer revisions (VQAv2, MMBench) record
  the revision in `config.task.scorer`; the notes name it ("vqav2[scorer=vqa-a013f00]: scored as
  GT-Vision-Lab/VQA@a013f00 (...)"), and the `scorer` option keeps revisions in separate columns.

The notes also name how the model was prompted where its description records it (the Janus
adapters' `chat_format`: the same weights answer differently under another role spelling).

The DataFrame has columns `model, checkpoint, weights, <metric columns...>, notes`;
`df.attrs["partial"]` lists `[row_position, column]` pairs for the renderers.
"""

from __future__ import annotations

import html
import io
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from janus_eval.report.escape import csv_text
from janus_eval.report.records import (
    Run,
    finished_key,
    flatten_metrics,
    format_number,
    load_runs,
    partial_reason,
    task_label,
)
from janus_eval.types import UserError

ID_COLUMNS = ("model", "checkpoint", "weights")
FORMATS = ("md", "csv", "html", "json")
PARTIAL_MARK = "*"


def build_leaderboard(
    paths: Iterable[str | Path], sub_metrics: bool = False, task_order: Sequence[str] = ()
) -> pd.DataFrame:
    """Leaderboard of every run at or below `paths`.

    `sub_metrics` adds every other metric of each task, flattened as `task/metric/sub`, after
    the task's primary column. `task_order` (a suite's tasks) puts those tasks' columns first,
    in that order; other tasks follow by name.
    """
    return leaderboard_from_runs(load_runs(paths), sub_metrics=sub_metrics, task_order=task_order)


def leaderboard_from_runs(
    runs: Sequence[Run], sub_metrics: bool = False, task_order: Sequence[str] = ()
) -> pd.DataFrame:
    versions: dict[str, set[str]] = defaultdict(set)
    for run in runs:
        versions[run.record.task].add(str(run.record.task_version))

    # (model key, task column prefix) -> runs, newest first
    cells: dict[tuple[tuple[str, str, str], str], list[Run]] = defaultdict(list)
    rank: dict[str, tuple[int, str]] = {}  # column prefix -> its place (task_order, then name)
    for run in runs:
        prefix = task_label(run.record, with_version=len(versions[run.record.task]) > 1)
        cells[(run.model_key, prefix)].append(run)
        task = run.record.task
        rank[prefix] = (list(task_order).index(task) if task in task_order else len(task_order),
                        prefix)  # fmt: skip

    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    notes: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    partial: list[tuple[tuple[str, str, str], str]] = []
    seen: dict[str, dict[str, bool]] = defaultdict(dict)  # prefix -> metric -> is primary
    chat: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)  # model -> prefix -> fmt
    for (model, prefix), group in sorted(cells.items()):
        group.sort(key=lambda r: finished_key(r.record), reverse=True)
        kept = group[0]
        record = kept.record
        if len(group) > 1:
            # directory names, not run ids: --no-resume keeps the old run (same id) aside
            dropped = ", ".join(r.path.name for r in group[1:])
            notes[model].append(
                f"{prefix}: newest of {len(group)} runs (kept {kept.path.name}, ignored {dropped})"
            )
        flat = flatten_metrics(record.metrics)
        primary = record.primary_metric
        if primary not in flat:
            notes[model].append(
                f"{prefix}: primary metric {primary!r} missing from {kept.path / 'run.json'}"
            )
        reason = partial_reason(record)
        if reason:
            notes[model].append(f"{prefix}: partial run {record.run_id} ({reason})")
        if record.n_skipped:
            notes[model].append(f"{prefix}: {record.n_skipped} samples skipped")
        if record.model.get("chat_format"):
            chat[model][prefix] = str(record.model["chat_format"])
        scorer = (record.config.get("task") or {}).get("scorer")
        if isinstance(scorer, dict) and scorer.get("reference"):
            notes[model].append(f"{prefix}: scored as {scorer['reference']}")
        data = record.config.get("data")
        if isinstance(data, dict) and data.get("demo"):
            notes[model].append(f"{prefix}: DEMO run on built-in sample data (means nothing)")
        row = rows.setdefault(model, dict(zip(ID_COLUMNS, model, strict=True)))
        for metric in (m for m in flat if m == primary or sub_metrics):
            seen[prefix][metric] = seen[prefix].get(metric, False) or metric == primary
            row[f"{prefix}/{metric}"] = flat[metric]
            if reason:
                partial.append((model, f"{prefix}/{metric}"))

    for model, by_prefix in chat.items():
        formats = sorted(set(by_prefix.values()))
        notes[model].append(
            f"chat format {formats[0]}"
            if len(formats) == 1
            else "chat formats differ: " + ", ".join(f"{p} {f}" for p, f in by_prefix.items())
        )
    # primary first within a task, then the order the metrics were first seen
    metric_columns = [
        f"{prefix}/{metric}"
        for prefix in sorted(seen, key=rank.__getitem__)
        for metric in sorted(seen[prefix], key=lambda m: not seen[prefix][m])
    ]
    ordered = sorted(rows)
    frame = pd.DataFrame(
        [{**rows[m], "notes": "; ".join(notes[m])} for m in ordered],
        columns=[*ID_COLUMNS, *metric_columns, "notes"],
    )
    for column in metric_columns:
        frame[column] = frame[column].astype(float)
    position = {m: i for i, m in enumerate(ordered)}
    frame.attrs["partial"] = sorted([position[m], c] for m, c in partial)
    return frame


# -- rendering ----------------------------------------------------------------------------------


def render_leaderboard(df: pd.DataFrame, fmt: str = "md") -> str:
    """The leaderboard as Markdown, CSV, an HTML table, or JSON.

    CSV and JSON keep full-precision numbers for machines (empty / null where a model has no
    run); Markdown and HTML round for people and mark partial runs with `*`.
    """
    if fmt == "csv":
        buffer = io.StringIO()
        df.apply(lambda column: column.map(csv_text)).to_csv(buffer, index=False)
        return buffer.getvalue()
    if fmt == "json":
        return json.dumps(_json_rows(df), indent=2) + "\n"
    if fmt not in FORMATS:
        raise UserError(f"unknown leaderboard format {fmt!r}; choose one of {', '.join(FORMATS)}")
    headers = list(df.columns)
    cells = _display_cells(df)
    footnote = (
        f"{PARTIAL_MARK} partial run (incomplete or --limit); see notes"
        if df.attrs.get("partial")
        else ""
    )
    if fmt == "md":
        numeric = [c not in (*ID_COLUMNS, "notes") for c in headers]
        text = markdown_table(headers, cells, numeric)
        return text + (f"\n{footnote}\n" if footnote else "")
    table = html_table(headers, cells, css_class="leaderboard")
    return table + (f'<p class="footnote">{html.escape(footnote)}</p>\n' if footnote else "")


def _display_cells(df: pd.DataFrame) -> list[list[str]]:
    marked = {(int(r), c) for r, c in df.attrs.get("partial", [])}
    metric_columns = [c for c in df.columns if c not in (*ID_COLUMNS, "notes")]
    out = []
    for i, row in enumerate(df.itertuples(index=False)):
        values = dict(zip(df.columns, row, strict=True))
        cells = []
        for column in df.columns:
            value = values[column]
            if column in metric_columns:
                text = format_number(None if pd.isna(value) else value)
                text += PARTIAL_MARK if (i, column) in marked else ""
            else:
                text = (
                    ""
                    if value is None or (isinstance(value, float) and math.isnan(value))
                    else str(value)
                )
            cells.append(text)
        out.append(cells)
    return out


def _json_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    marked: dict[int, list[str]] = defaultdict(list)
    for r, c in df.attrs.get("partial", []):
        marked[int(r)].append(c)
    rows = []
    for i, row in enumerate(df.to_dict(orient="records")):
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        clean["partial"] = marked.get(i, [])
        rows.append(clean)
    return rows


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool] | None = None
) -> str:
    """A GitHub-flavoured Markdown table (pandas' to_markdown needs tabulate; this does not)."""
    numeric = list(numeric) if numeric is not None else [False] * len(headers)

    def esc(text: str) -> str:
        return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    table = [[esc(h) for h in headers], *[[esc(c) for c in row] for row in rows]]
    widths = [max(3, *(len(r[i]) for r in table)) for i in range(len(headers))]
    rule = ["-" * (w - 1) + ":" if num else "-" * w for w, num in zip(widths, numeric, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    return "\n".join([line(table[0]), line(rule), *(line(r) for r in table[1:])]) + "\n"


def html_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    css_class: str = "",
    cell_classes: Sequence[Sequence[str]] | None = None,
) -> str:
    """A plain escaped HTML table; `cell_classes` (same shape as rows) styles single cells."""
    attr = f' class="{html.escape(css_class)}"' if css_class else ""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        tds = []
        for j, cell in enumerate(row):
            klass = cell_classes[i][j] if cell_classes else ""
            kattr = f' class="{html.escape(klass)}"' if klass else ""
            tds.append(f"<td{kattr}>{html.escape(str(cell))}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return (
        f"<table{attr}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody>\n</table>\n"
    )
