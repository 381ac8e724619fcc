"""The leaderboard in the Janus papers' layout, measured runs beside the papers' own numbers.

Columns are the papers' (Janus arXiv 2410.13848 Table 2, Janus-Pro, JanusFlow), in their order:
understanding POPE, MME-P, MMBench, SEED, VQAv2, GQA, MMMU, MM-Vet | generation GenEval,
MSCOCO-30K FID, MJHQ-30K FID. Rows are models as evaluated (name, checkpoint, weights hash, as
in the task-per-column leaderboard), and each released checkpoint's published numbers get rows of
their own, marked `reported`, one per paper, right after the measured rows of that checkpoint.

Matching: a measured number and a reported one are compared when the run's checkpoint names the
same release (`reference.matches_checkpoint`), and task and metric are the column's. The cell
then carries `delta = measured - reported`. When the run was measured under different task
options than the paper's number (a different split, say) the delta is still shown, and the cell
and the row's notes say how the definitions differ: a mismatch is said, not hidden.

One run per cell, the newest by `finished_at`, as in the task-per-column leaderboard; partial and
demo runs are flagged in the notes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from janus_eval.report.records import (
    Run,
    finished_key,
    flatten_metrics,
    partial_reason,
)
from janus_eval.report.reference import (
    ReferenceValue,
    checkpoint_name,
    definition_mismatches,
    matches_checkpoint,
)


@dataclass(frozen=True)
class PaperColumn:
    key: str  # stable id, used as the cell key
    label: str  # as the papers print it
    group: str  # "understanding" | "generation"
    task: str
    metric: str
    higher_is_better: bool = True


PAPER_COLUMNS: tuple[PaperColumn, ...] = (
    PaperColumn("pope", "POPE", "understanding", "pope", "f1"),
    PaperColumn("mme_p", "MME-P", "understanding", "mme", "perception"),
    PaperColumn("mmbench", "MMBench", "understanding", "mmbench", "accuracy"),
    PaperColumn("seed", "SEED", "understanding", "seedbench", "accuracy"),
    PaperColumn("vqav2", "VQAv2", "understanding", "vqav2", "accuracy"),
    PaperColumn("gqa", "GQA", "understanding", "gqa", "accuracy"),
    PaperColumn("mmmu", "MMMU", "understanding", "mmmu", "accuracy"),
    PaperColumn("mmvet", "MM-Vet", "understanding", "mmvet", "total"),
    PaperColumn("geneval", "GenEval", "generation", "geneval", "overall"),
    PaperColumn("coco30k_fid", "MSCOCO-30K FID", "generation", "coco30k", "fid", False),
    PaperColumn("mjhq30k_fid", "MJHQ-30K FID", "generation", "mjhq30k", "fid", False),
)
GROUPS = ("understanding", "generation")


def paper_leaderboard(
    runs: Sequence[Run],
    references: Sequence[ReferenceValue] = (),
    columns: Sequence[PaperColumn] = PAPER_COLUMNS,
) -> dict[str, Any]:
    """The table as plain data (JSON-ready, deterministic for the same inputs), for every
    renderer: Markdown/text/CSV/JSON here, the HTML report elsewhere.

    Shape::

        {"groups": [{"name": "understanding", "columns": ["pope", ...]},
                    {"name": "generation", "columns": ["geneval", ...]}],
         "columns": [{"key": "pope", "label": "POPE", "group": "understanding",
                      "task": "pope", "metric": "f1", "higher_is_better": true}, ...],
         "rows": [{"reported": false, "model": "janus", "checkpoint": "/ckpt/Janus-Pro-7B",
                   "weights": "3f2a...", "release": "janus-pro-7b", "paper": null,
                   "cells": {"pope": {"value": 86.1, "run_id": "...", "partial": false,
                                      "reported": 87.4, "delta": -1.3, "paper": "arXiv:...",
                                      "mismatch": ["split: paper all, run random"]}},
                   "notes": ["pope: partial run ... (limit=10)", ...]},
                  {"reported": true, "model": "Janus-Pro-7B", "checkpoint":
                   "deepseek-ai/Janus-Pro-7B", "weights": "", "release": "janus-pro-7b",
                   "paper": "arXiv:2501.17811",
                   "cells": {"pope": {"value": 87.4, "source": "arXiv:..., Table 3 ...",
                                      "definition": "POPE F1 (%) ..."}},
                   "notes": []}],
         "notes": ["reported rows: numbers printed in the papers (results/reference/)", ...]}

    A cell absent from `cells` is an empty cell. Rows come grouped by release (sorted), measured
    rows first, then that release's reported rows by paper. `delta` is measured - reported (for
    a lower-is-better column a negative delta is an improvement: read `higher_is_better`).
    """
    by_column = {(c.task, c.metric): c for c in columns}
    measured = _measured_rows(runs, columns)
    reported = _reported_rows(references, by_column)
    for row in measured:
        _attach_deltas(row, references, by_column)
    rows = sorted(measured, key=_row_order) + sorted(reported, key=_row_order)
    rows.sort(key=lambda r: r["release"])  # stable: measured before reported within a release
    notes = [
        "rows marked reported are numbers printed in the papers (results/reference/, each with "
        "paper, table, row and column); delta = measured - reported",
        "lower is better for the FID columns",
    ]
    return {
        "groups": [
            {"name": g, "columns": [c.key for c in columns if c.group == g]} for g in GROUPS
        ],
        "columns": [asdict(c) for c in columns],
        "rows": rows,
        "notes": notes,
    }


def _row_order(row: dict[str, Any]) -> tuple[str, str, str, str, str]:
    return (row["release"], row["model"], row["checkpoint"], row["weights"], row["paper"] or "")


def _measured_rows(runs: Sequence[Run], columns: Sequence[PaperColumn]) -> list[dict[str, Any]]:
    tasks = {c.task for c in columns}
    groups: dict[tuple[tuple[str, str, str], str], list[Run]] = defaultdict(list)
    for run in runs:
        if run.record.task in tasks:
            groups[(run.model_key, run.record.task)].append(run)
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for (key, task), group in sorted(groups.items()):
        group.sort(key=lambda r: finished_key(r.record), reverse=True)
        kept = group[0]
        row = rows.setdefault(key, _measured_row(key))
        if len(group) > 1:
            ignored = ", ".join(r.path.name for r in group[1:])
            row["notes"].append(f"{task}: newest of {len(group)} runs kept ({kept.path.name}; "
                                f"ignored {ignored})")  # fmt: skip
        _fill_cells(row, kept, [c for c in columns if c.task == task])
    return list(rows.values())


def _measured_row(key: tuple[str, str, str]) -> dict[str, Any]:
    name, checkpoint, weights = key
    return {
        "reported": False,
        "model": name,
        "checkpoint": checkpoint,
        "weights": weights,
        "release": checkpoint_name(checkpoint),
        "paper": None,
        "cells": {},
        "notes": [],
    }


def _fill_cells(row: dict[str, Any], run: Run, columns: Sequence[PaperColumn]) -> None:
    record = run.record
    flat = flatten_metrics(record.metrics)
    reason = partial_reason(record)
    if reason:
        row["notes"].append(f"{record.task}: partial run {record.run_id} ({reason})")
    if record.n_skipped:
        row["notes"].append(f"{record.task}: {record.n_skipped} samples skipped")
    data = record.config.get("data")
    if isinstance(data, dict) and data.get("demo"):
        row["notes"].append(f"{record.task}: DEMO run on built-in sample data (means nothing)")
    for column in columns:
        if column.metric not in flat:
            row["notes"].append(
                f"{column.label}: run {record.run_id} has no metric {column.metric!r}"
            )
            continue
        row["cells"][column.key] = {
            "value": flat[column.metric],
            "run_id": record.run_id,
            "partial": bool(reason),
            "options": dict((record.config.get("task") or {}).get("options") or {}),
        }


def _attach_deltas(
    row: dict[str, Any],
    references: Sequence[ReferenceValue],
    by_column: dict[tuple[str, str], PaperColumn],
) -> None:
    for ref in sorted(references, key=lambda r: r.paper):
        column = by_column.get((ref.task, ref.metric))
        if column is None or not matches_checkpoint(ref, row["checkpoint"]):
            continue
        cell = row["cells"].get(column.key)
        if cell is None or "reported" in cell:
            if cell is not None and cell["reported"] != ref.value:
                row["notes"].append(f"{column.label}: papers disagree ({cell['paper']} "
                                    f"{cell['reported']:g}, {ref.paper} {ref.value:g})")  # fmt: skip
            continue
        cell["reported"] = ref.value
        cell["delta"] = cell["value"] - ref.value
        cell["paper"] = ref.paper
        mismatch = definition_mismatches(ref, cell["options"])
        if mismatch:
            cell["mismatch"] = mismatch
            row["notes"].append(
                f"{column.label}: measured under another definition than {ref.paper}'s number "
                f"({'; '.join(mismatch)}); the paper's: {ref.definition}"
            )
    for cell in row["cells"].values():
        cell.pop("options", None)


def _reported_rows(
    references: Sequence[ReferenceValue], by_column: dict[tuple[str, str], PaperColumn]
) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for ref in references:
        column = by_column.get((ref.task, ref.metric))
        if column is None:
            continue
        row = rows.setdefault(
            (ref.checkpoint, ref.paper),
            {
                "reported": True,
                "model": ref.checkpoint.rsplit("/", 1)[-1],
                "checkpoint": ref.checkpoint,
                "weights": "",
                "release": checkpoint_name(ref.checkpoint),
                "paper": ref.paper,
                "cells": {},
                "notes": [],
            },
        )
        row["cells"][column.key] = {
            "value": ref.value,
            "source": ref.source,
            "definition": ref.definition,
        }
    return list(rows.values())


def row_label(row: dict[str, Any]) -> str:
    """'Janus-Pro-7B (reported, arXiv:2501.17811)' or 'janus · /ckpt/Janus-Pro-7B · 3f2a..'."""
    if row["reported"]:
        return f"{row['model']} (reported, {row['paper']})"
    return " · ".join(p for p in (row["model"], row["checkpoint"], row["weights"]) if p)
