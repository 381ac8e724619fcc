"""GenEval's official files: the prompts (evaluation_metadata.jsonl) and the detector's class
names (object_names.txt), found locally, in the cache, or downloaded once and checked.

Every record is checked here, before any image is generated, against what the rules rely on
(tag, include, optional exclude, prompt; classes, colours and positions the rules know), so a
bad line fails with its file and line number instead of halfway through a run.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from janus_eval.cache import CACHE_HINT
from janus_eval.metrics import geneval as rules
from janus_eval.store import atomic_write_text
from janus_eval.types import UserError

from .detection.object_names import geneval_object_names
from .detection.weights import geneval_cache_dir, offline

REPO = "https://github.com/djghosh13/geneval"
RAW = "https://raw.githubusercontent.com/djghosh13/geneval/main"
METADATA = (
    "evaluation_metadata.jsonl",
    f"{RAW}/prompts/evaluation_metadata.jsonl",
    "5c48e0813e812e3c373fa5c8ed07a8f0a483be30272b4427b0559c8048e67c13",
)
OBJECT_NAMES = "object_names.txt"


def download(url: str, dest: Path, sha256: str) -> Path:
    """Fetch an official file once into the cache; refuse content that differs from it."""
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (fixed https URL)
        data = response.read()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise UserError(
            f"{url} does not match the official GenEval file (SHA-256 differs); "
            f"download it from {REPO} yourself and pass its path"
        )
    atomic_write_text(dest, data.decode("utf-8"), hint=CACHE_HINT)
    return dest


def locate(
    spec: tuple[str, str, str], explicit: str, search: Iterable[Path], *, option: str
) -> Path:
    """An official file: the explicit option, else the first hit in `search`, else the cache,
    else a download; a UserError saying where to get it when all fail."""
    name, url, sha256 = spec
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise UserError(f"GenEval: --task-option {option}={explicit}: file not found")
        return path
    candidates = [*search, geneval_cache_dir() / name]
    for path in candidates:
        if path.is_file():
            return path
    why = "offline (HF_HUB_OFFLINE / JANUS_EVAL_OFFLINE set)"
    if not offline():
        try:
            return download(url, geneval_cache_dir() / name, sha256)
        except UserError:
            raise
        except Exception as exc:
            why = f"download failed: {type(exc).__name__}"
    raise UserError(
        f"GenEval needs {name} ({why}); looked in: {', '.join(str(p) for p in candidates)}. "
        f"Get it from {REPO} ({url.removeprefix(RAW + '/')}) and pass --data-dir DIR (the "
        f"folder holding it) or --task-option {option}=FILE."
    )


def read_object_names(path: Path) -> list[str]:
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    while names and not names[-1]:
        names.pop()
    if not names or any(not n for n in names):
        raise UserError(f"{path}: expected one class name per line, no blank lines")
    return names


def check_record(record: Any, where: str, class_names: set[str] | None) -> None:
    """Everything the rules rely on, checked up front so a bad line fails before generation."""
    if not isinstance(record, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for key, kind in (("tag", str), ("include", list), ("prompt", str)):
        if not isinstance(record.get(key), kind):
            raise UserError(
                f"{where}: missing or invalid {key!r} (expected a "
                f"{kind.__name__}); every line needs tag, include and prompt"
            )
    clauses = [("include", i, c) for i, c in enumerate(record["include"])]
    if not isinstance(record.get("exclude", []), list):
        raise UserError(f"{where}: 'exclude' must be a list")
    clauses += [("exclude", i, c) for i, c in enumerate(record.get("exclude", []))]
    for part, i, clause in clauses:
        what = f"{where}: {part}[{i}]"
        if not (
            isinstance(clause, dict)
            and isinstance(clause.get("class"), str)
            and isinstance(clause.get("count"), int)
            and clause["count"] >= 1
        ):
            raise UserError(f"{what} needs a 'class' name and an integer 'count' >= 1")
        if class_names is not None and clause["class"] not in class_names:
            raise UserError(
                f"{what}: class {clause['class']!r} is not one of the detector's "
                "classes (object_names.txt)"
            )
        if "color" in clause and clause["color"] not in rules.COLORS:
            raise UserError(
                f"{what}: colour {clause['color']!r} is not one of {', '.join(rules.COLORS)}"
            )
        if "position" in clause:
            pos = clause["position"]
            if not (
                isinstance(pos, list)
                and len(pos) == 2
                and pos[0] in rules.RELATIONS
                and isinstance(pos[1], int)
                and 0 <= pos[1] < i
            ):
                raise UserError(
                    f"{what}: position must be [relation, index of an earlier "
                    f"include], relation one of {', '.join(rules.RELATIONS)}"
                )


def read_metadata(path: Path, class_names: Sequence[str] | None = None) -> list[dict]:
    """The prompts, one JSON object a line (blank lines skipped); errors name file and line."""
    names = set(class_names) if class_names is not None else None
    records = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}, line {lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{where}: not valid JSON ({exc.msg})") from None
            check_record(record, where, names)
            records.append(record)
    return records


def find_metadata(explicit: str, data_dir: Path | None) -> Path:
    """evaluation_metadata.jsonl: the `metadata` option, else `data_dir` itself (a file) or
    the file in it or in its prompts/, else the cache, else a download."""
    if data_dir is None:
        search = []
    elif data_dir.is_file():
        search = [data_dir]
    else:
        search = [data_dir / METADATA[0], data_dir / "prompts" / METADATA[0]]
    return locate(METADATA, explicit, search, option="metadata")


def find_object_names(
    explicit: str, data_dir: Path | None = None, metadata: Path | None = None
) -> list[str]:
    """The detector's class names, by index: the `object_names` option, else an
    object_names.txt beside the data (or in its evaluation/), else the official names built in
    (no download)."""
    dirs = [] if data_dir is None or data_dir.is_file() else [data_dir, data_dir / "evaluation"]
    if metadata is not None:
        dirs += [metadata.parent, metadata.parent.parent / "evaluation"]
    found = [d / OBJECT_NAMES for d in dirs if (d / OBJECT_NAMES).is_file()]
    if explicit and not Path(explicit).expanduser().is_file():
        raise UserError(f"GenEval: --task-option object_names={explicit}: file not found")
    path = Path(explicit).expanduser() if explicit else (found[0] if found else None)
    return read_object_names(path) if path else geneval_object_names()
