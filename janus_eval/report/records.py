"""Reading finished runs back from disk: the only input every report has.

Reports never see live tasks or adapters, only what the runner wrote: `run.json` (a RunRecord)
and the per-sample results in `samples*.jsonl` (one file per shard). This module finds run
directories, loads them with errors that name the file, and derives the few labels every report
agrees on (which model a run belongs to, which leaderboard column its numbers go in).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from janus_eval.demo import is_demo
from janus_eval.store import ARRAY_TAG, read_jsonl
from janus_eval.types import RunRecord, UserError

RUN_FILE = "run.json"


@dataclass(frozen=True)
class Run:
    """A run directory and its record."""

    path: Path
    record: RunRecord

    @property
    def model_key(self) -> tuple[str, str, str]:
        """The model's key; a demo run's name says "(DEMO)", so it never shares a leaderboard
        row (nor a cell's "newest run") with real runs of the same weights."""
        name, checkpoint, weights = model_key(self.record.model)
        return (f"{name} (DEMO)" if is_demo(self.record) else name, checkpoint, weights)

    @property
    def task_label(self) -> str:
        return task_label(self.record)

    def samples(self) -> Iterator[dict[str, Any]]:
        return iter_samples(self.path)

    def sample_scores(self) -> dict[str, dict[str, Any]]:
        return load_sample_scores(self.path)


# -- finding and loading ------------------------------------------------------------------------


def find_run_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Run directories at or below `paths` (a run dir, its run.json, or any folder above runs).

    The walk stops at a run directory, so a generation run's thousands of images are not listed.
    """
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise UserError(
                f"{path}: no such file or directory (expected a run directory "
                f"holding {RUN_FILE}, or a folder of them, e.g. results/runs)"
            )
        if path.is_file():
            if path.name != RUN_FILE:
                raise UserError(f"{path}: expected a run directory or its {RUN_FILE}, got a file")
            found.append(path.parent)
            continue
        before = len(found)
        for root, dirs, files in os.walk(path):
            if RUN_FILE in files:
                found.append(Path(root))
                dirs[:] = []
            else:
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if len(found) == before:
            raise UserError(
                f"{path}: no {RUN_FILE} found in it or below it. A run directory "
                f"(results/runs/<run_id>/) holds {RUN_FILE}; it is written when "
                "`janus-eval run` finishes."
            )
    return sorted(dict.fromkeys(p.resolve() for p in found))


def load_record(run_dir: str | Path) -> RunRecord:
    """The RunRecord of one run directory, or a UserError naming the bad file."""
    path = Path(run_dir)
    file = path if path.name == RUN_FILE else path / RUN_FILE
    if not file.is_file():
        raise UserError(
            f"{file.parent}: not a run directory (no {RUN_FILE}). Point at "
            "results/runs/<run_id>/ or a folder containing run directories."
        )
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{file}: malformed JSON at line {exc.lineno}, column {exc.colno} "
            f"({exc.msg}); re-run the evaluation to rewrite it"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{file}: cannot read ({exc})") from None
    if not isinstance(data, dict):
        raise UserError(f"{file}: expected a JSON object (a run record), got {type(data).__name__}")
    try:
        record = RunRecord.from_dict(data)
    except TypeError as exc:
        raise UserError(
            f"{file}: not a run record ({exc}); re-run the evaluation to rewrite it"
        ) from None
    if not isinstance(record.metrics, dict) or not isinstance(record.model, dict):
        raise UserError(f"{file}: 'metrics' and 'model' must be JSON objects")
    if not isinstance(record.config, dict) or not isinstance(record.extra, dict):
        raise UserError(f"{file}: 'config' and 'extra' must be JSON objects")
    return record


def load_runs(paths: Iterable[str | Path]) -> list[Run]:
    """Every run at or below `paths`, in path order."""
    return [Run(d, load_record(d)) for d in find_run_dirs(paths)]


def iter_samples(run_dir: str | Path) -> Iterator[dict[str, Any]]:
    """The stored per-sample results, one per sample id (the last line for an id wins: a
    resumed or re-scored sample is appended after the line it replaces).

    Reads every `samples*.jsonl` (one per shard); a crash-truncated final line is skipped.
    """
    by_id: dict[str, dict[str, Any]] = {}
    for file in sorted(Path(run_dir).glob("samples*.jsonl")):
        for number, line in enumerate(read_jsonl(file, tolerate_partial_tail=True), start=1):
            if not isinstance(line, dict) or "id" not in line:
                raise UserError(
                    f"{file}: result {number} has no 'id'; the file is damaged. "
                    "Remove that line and re-run to recompute it."
                )
            by_id[str(line["id"])] = line
    return iter(by_id.values())


def load_sample_scores(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Sample id -> its score fields, without references to side arrays (reports do not need
    FID features and should not pay for loading them)."""
    out = {}
    for line in iter_samples(run_dir):
        scores = line.get("scores") or {}
        out[str(line["id"])] = {
            k: v for k, v in scores.items() if not (isinstance(v, dict) and ARRAY_TAG in v)
        }
    return out


# -- labels every report agrees on --------------------------------------------------------------


def model_key(model: Mapping[str, Any]) -> tuple[str, str, str]:
    """(name, checkpoint, short weights hash): what makes two runs the same model.

    `weights_sha256` may be one hash or a mapping of file -> hash (sharded checkpoints); the
    mapping is hashed again so it fits a table cell.
    """
    weights = model.get("weights_sha256")
    if isinstance(weights, str):
        short = weights[:12]
    elif weights:
        blob = json.dumps(weights, sort_keys=True, default=str).encode()
        short = hashlib.sha256(blob).hexdigest()[:12]
    else:
        short = ""
    return (str(model.get("name") or "?"), str(model.get("checkpoint") or ""), short)


def leaderboard_options(record: RunRecord) -> dict[str, Any]:
    """The task options that change what a number means (e.g. GenEval's detector), as named by
    the task's `leaderboard_keys`, which the runner copies into `extra`."""
    keys = record.extra.get("leaderboard_keys") or []
    options = (record.config.get("task") or {}).get("options") or {}
    return {k: options.get(k) for k in keys}


@dataclass(frozen=True)
class TaskFacts:
    """What a report needs to know about a run's task beyond its numbers: which metrics are a
    scaled mean of a per-sample score (metric -> (score field, scale), for the bootstrap) and
    which options only say where the data lay."""

    sample_metrics: Mapping[str, tuple[str, float]]
    location_options: frozenset[str]


def recorded_task_facts(records: Iterable[RunRecord], warnings: list[str]) -> TaskFacts:
    """The task facts from run.json (`extra`, written by janus_eval.finish.task_facts) of the
    first record that has them. Records written before janus-eval recorded them fall back to
    the task as installed here; without it, no per-sample metrics, and a warning says so."""
    records = list(records)
    for record in records:
        if "sample_metrics" in record.extra:
            metrics = record.extra.get("sample_metrics") or {}
            return TaskFacts(
                {k: (str(field), float(scale)) for k, (field, scale) in metrics.items()},
                frozenset(record.extra.get("location_options") or ()),
            )
    return _installed_task_facts(records[0].task, warnings)


def _installed_task_facts(task: str, warnings: list[str]) -> TaskFacts:
    """For a run.json older than recorded task facts only: ask the installed task."""
    from janus_eval import registry

    try:
        cls = registry.task_class(task)
    except UserError:
        warnings.append(
            f"{task}: task not installed here, so no bootstrap intervals (recorded numbers "
            "only): its run.json predates the recorded sample_metrics; a re-run with this "
            "version records them (and reuses every stored result)"
        )
        return TaskFacts({}, frozenset())
    return TaskFacts(dict(cls.sample_metrics), frozenset(cls.location_options))


def task_label(record: RunRecord, with_version: bool = False) -> str:
    """'geneval[detector=mask2former]': the task plus its leaderboard options. Runs with
    different labels are scored differently and never share a column."""
    label = record.task + (f"@v{record.task_version}" if with_version else "")
    options = leaderboard_options(record)
    if options:
        label += "[" + ",".join(f"{k}={v}" for k, v in options.items()) + "]"
    return label


def finished_key(record: RunRecord) -> tuple[int, _dt.datetime | str]:
    """Sort key for 'newest': parsed finished_at; runs without one sort first."""
    text = record.finished_at or ""
    try:
        stamp = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return (0, text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=_dt.timezone.utc)
    return (1, stamp)


def partial_reason(record: RunRecord) -> str | None:
    """Why a run's numbers are not the full benchmark's, or None."""
    reasons = []
    if record.extra.get("complete") is False:
        reasons.append(f"incomplete: {record.n_samples} samples")
    limit = record.config.get("limit")
    if limit is not None:
        reasons.append(f"limit={limit}")
    return ", ".join(reasons) or None


def flatten_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """{'accuracy': 71.3, 'per_type': {'yes/no': 88.1}} -> {'accuracy': 71.3,
    'per_type/yes/no': 88.1}: numbers only (bools and strings are not metrics)."""
    out: dict[str, float] = {}
    for name, value in metrics.items():
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                if is_number(inner):
                    out[f"{name}/{sub}"] = float(inner)
        elif is_number(value):
            out[name] = float(value)
    return out


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_number(value: Any) -> str:
    """Two decimals for percentages and FIDs, four significant digits for small values (KID)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if not is_number(value):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if value == 0 or abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.4g}"
