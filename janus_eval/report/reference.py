"""Published reference numbers: what the Janus papers report, stored as data in results/reference/.

One JSON file per paper (`results/reference/*.json`):

```json
{"paper": "arXiv:2501.17811", "title": "...", "url": "https://arxiv.org/abs/2501.17811",
 "read_from": "where the table text was read", "notes": ["..."],
 "not_found": [{"checkpoint": "...", "task": "...", "why": "..."}],
 "rows": [{"checkpoint": "deepseek-ai/Janus-Pro-7B", "task": "pope", "metric": "f1",
           "value": 87.4, "table": "Table 3 (...)", "row": "Janus-Pro-7B", "column": "POPE↑",
           "definition": "what exactly was measured (split, scorer, units)",
           "conditions": {"split": "all"}}]}
```

`value` is in janus-eval's units for that task and metric (GenEval's overall as a fraction, the
understanding accuracies in percent, MME-P as the 0-2000 sum), so it compares directly with a
measured run. `conditions` name the task options the paper's number was measured under (a value
or a list of acceptable values); a measured run whose options differ is still shown next to the
paper's number, with the difference said (`definition_mismatches`), never hidden.

Why data and not code: a number with its source (paper, table, row, column) can be checked by
anyone against the paper, and a new paper is a new file, not a code change.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from janus_eval.types import UserError

#: Where the repository keeps the reference files; `JANUS_EVAL_REFERENCE_DIR` overrides it.
#: The checkout's results/reference/; an installed wheel carries the same files as
#: janus_eval/reference_rows/ (pyproject's package-dir).
_CHECKOUT_REFERENCE_DIR = Path(__file__).resolve().parents[2] / "results" / "reference"
DEFAULT_REFERENCE_DIR = (
    _CHECKOUT_REFERENCE_DIR
    if _CHECKOUT_REFERENCE_DIR.is_dir()
    else Path(__file__).resolve().parents[1] / "reference_rows"
)
REFERENCE_ENV = "JANUS_EVAL_REFERENCE_DIR"

_ROW_FIELDS = ("checkpoint", "task", "metric", "value", "table", "row", "column", "definition")
_PAPER_FIELDS = ("paper", "title", "url", "read_from", "rows")


@dataclass(frozen=True)
class ReferenceValue:
    """One published number and exactly where it was printed."""

    checkpoint: str  # hub name of the released checkpoint, e.g. deepseek-ai/Janus-Pro-7B
    task: str
    metric: str
    value: float
    paper: str  # e.g. arXiv:2501.17811
    table: str
    row: str  # the row label as printed
    column: str  # the column label as printed
    definition: str
    conditions: Mapping[str, Any] = field(default_factory=dict)
    url: str = ""
    read_from: str = ""

    @property
    def source(self) -> str:
        """'arXiv:2501.17811, Table 3 (...), row "Janus-Pro-7B", column "POPE↑"'."""
        return f'{self.paper}, {self.table}, row "{self.row}", column "{self.column}"'


def reference_dir() -> Path:
    return Path(os.environ.get(REFERENCE_ENV) or DEFAULT_REFERENCE_DIR)


def load_reference(paths: Iterable[str | Path] | None = None) -> list[ReferenceValue]:
    """Every reference number in `paths` (files or folders of `*.json`; default: the
    repository's results/reference/). A missing default folder gives no numbers; a missing
    given path or a malformed file is a UserError naming the file and the row."""
    if paths is None:
        folder = reference_dir()
        if not folder.is_dir():
            return []
        paths = [folder]
    values: list[ReferenceValue] = []
    for file in _reference_files(paths):
        values.extend(_load_file(file))
    return values


def _reference_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files.extend(sorted(path.glob("*.json")))
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(
                f"{path}: no such reference file or folder (expected results/reference/ or a "
                "JSON file in its format; see janus_eval/report/reference.py)"
            )
    return files


def _load_file(file: Path) -> list[ReferenceValue]:
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{file}: malformed JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{file}: cannot read ({exc})") from None
    if not isinstance(doc, dict) or any(k not in doc for k in _PAPER_FIELDS):
        raise UserError(
            f"{file}: a reference file is a JSON object with {', '.join(_PAPER_FIELDS)}; "
            "see results/reference/README.md"
        )
    out = []
    for number, row in enumerate(doc["rows"], start=1):
        where = f"{file}: row {number}"
        if not isinstance(row, dict):
            raise UserError(f"{where}: expected a JSON object, got {type(row).__name__}")
        missing = [k for k in _ROW_FIELDS if k not in row]
        if missing:
            raise UserError(f"{where}: missing {', '.join(missing)} (every number needs them)")
        value = row["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{where}: value {value!r} is not a number")
        conditions = row.get("conditions") or {}
        if not isinstance(conditions, dict):
            raise UserError(f"{where}: conditions must be an object of task options")
        out.append(
            ReferenceValue(
                checkpoint=str(row["checkpoint"]),
                task=str(row["task"]),
                metric=str(row["metric"]),
                value=float(value),
                paper=str(doc["paper"]),
                table=str(row["table"]),
                row=str(row["row"]),
                column=str(row["column"]),
                definition=str(row["definition"]),
                conditions=conditions,
                url=str(doc["url"]),
                read_from=str(doc["read_from"]),
            )
        )
    return out


def checkpoint_name(checkpoint: str) -> str:
    """The released name a checkpoint string points at, lower-cased, for matching:
    'deepseek-ai/Janus-Pro-7B', '/ckpt/Janus-Pro-7B/' and a hub cache path
    '.../models--deepseek-ai--Janus-Pro-7B/snapshots/<sha>' all give 'janus-pro-7b'."""
    parts = [p for p in str(checkpoint).replace("\\", "/").split("/") if p]
    for part in reversed(parts):
        if part.startswith("models--"):
            return part.split("--")[-1].lower()
    return parts[-1].lower() if parts else ""


def matches_checkpoint(reference: ReferenceValue, checkpoint: str) -> bool:
    """A measured run and a reported number are the same checkpoint when they name the same
    release (see `checkpoint_name`); a local copy keeps its release's folder name."""
    return bool(checkpoint) and checkpoint_name(reference.checkpoint) == checkpoint_name(checkpoint)


def definition_mismatches(reference: ReferenceValue, options: Mapping[str, Any]) -> list[str]:
    """How a run's task options differ from the conditions the paper's number was measured
    under: ['split: paper testdev or test, run val']; empty when they agree."""
    out = []
    for key, wanted in sorted(reference.conditions.items()):
        allowed = wanted if isinstance(wanted, list) else [wanted]
        have = options.get(key)
        if have not in allowed:
            shown = " or ".join(str(a) for a in allowed)
            out.append(f"{key}: paper {shown}, run {have}")
    return out
