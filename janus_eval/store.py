"""A run's directory on disk: append-only per-sample results, atomic record writes.

Layout of results/runs/<run_id>/:
    run.json                    the RunRecord (written atomically at the end)
    samples.jsonl               one JSON object per finished sample, appended as batches finish
    samples.shard-I-of-N.jsonl  the same, for sharded runs (one file per shard, never shared)
    arrays/<batch>.npz          numpy values of per-sample scores (FID features, ...)
    images/                     generated images (tasks choose the layout below it)

Why append-only JSONL: a crash loses at most the line being written. A truncated last line is
cut off on the next open and its sample recomputed; every complete line survives.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from janus_eval.failures import writing
from janus_eval.types import UserError

if TYPE_CHECKING:  # numpy loads with the first array, not for `janus-eval --help`
    import numpy as np

ARRAY_TAG = "__ndarray__"


def atomic_write_text(path: Path, text: str, *, hint: str = "") -> None:
    """Write via a temporary file and rename, so readers never see half a file. A failure
    (permission, full disk) is a WriteFailed naming `path`, and leaves no temporary file."""
    with writing(path, hint=hint):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(
        path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"
    )


def atomic_save_image(image: Any, path: Path) -> None:
    """Save a PIL image as PNG atomically: a crash never leaves a half-written file behind that
    a resumed run would mistake for a finished image."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            image.save(tmp, format="PNG")
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _numpy() -> Any:
    """numpy if something already imported it: a numpy value cannot exist otherwise, so the
    store needs no numpy of its own until it reads arrays back."""
    return sys.modules.get("numpy")


def _is_array(value: Any) -> bool:
    numpy = _numpy()
    return numpy is not None and isinstance(value, numpy.ndarray)


def _json_default(obj: Any) -> Any:
    numpy = _numpy()
    if numpy is not None and isinstance(obj, numpy.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def shard_filename(shard: tuple[int, int] | None) -> str:
    return "samples.jsonl" if shard is None else f"samples.shard-{shard[0]}-of-{shard[1]}.jsonl"


class RunStore:
    """Reads and appends the per-sample results of one run directory.

    `own_file_only`: read only this store's own results file, not those of other slices or of
    an unsharded run in the same directory (a slice started with --no-resume reuses nothing)."""

    def __init__(
        self, run_dir: Path, shard: tuple[int, int] | None = None, *, own_file_only: bool = False
    ) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / shard_filename(shard)
        self.images_dir = self.run_dir / "images"
        self.arrays_dir = self.run_dir / "arrays"
        self.own_file_only = own_file_only
        self.repaired_lines = 0
        self._npz_cache: dict[str, Mapping[str, np.ndarray]] = {}

    # -- reading -------------------------------------------------------------------------------
    def result_files(self) -> list[Path]:
        if self.own_file_only:
            return [self.path] if self.path.exists() else []
        return sorted(self.run_dir.glob("samples*.jsonl"))

    def load(self) -> dict[str, dict[str, Any]]:
        """All stored results of this run directory (every shard file), by result key.

        Repairs this store's own file first: a final line without its newline, or one that does
        not parse, is a write cut short by a crash; it is truncated away and recomputed.
        """
        if self.path.exists():
            with writing(self.path):
                self.repaired_lines = _truncate_partial_tail(self.path)
        results: dict[str, dict[str, Any]] = {}
        for file in self.result_files():
            for record in read_jsonl(file, tolerate_partial_tail=True):
                results[record["key"]] = record
        return results

    def resolve_arrays(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record with array references in its scores replaced by the arrays."""
        scores = record.get("scores") or {}
        if not any(_is_array_ref(v) for v in scores.values()):
            return record
        resolved = {}
        for name, value in scores.items():
            if _is_array_ref(value):
                npz = self._npz(value[ARRAY_TAG])
                resolved[name] = npz[value["name"]]
            else:
                resolved[name] = value
        return {**record, "scores": resolved}

    def _npz(self, rel: str) -> Mapping[str, np.ndarray]:
        if rel not in self._npz_cache:
            path = self.run_dir / rel
            if not path.exists():
                raise UserError(
                    f"{path} is missing but {self.path.name} refers to it; the run directory "
                    "is incomplete. Delete the run directory (or the affected lines) and re-run."
                )
            import numpy as np

            with np.load(path) as data:
                self._npz_cache[rel] = {k: data[k] for k in data.files}
        return self._npz_cache[rel]

    # -- writing -------------------------------------------------------------------------------
    def check_writable(self) -> None:
        """Fail before any work when the results file cannot be appended to (a read-only file
        or folder), instead of after the first batch is computed."""
        with writing(self.path), open(self.path, "a", encoding="utf-8"):
            pass

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        """Append finished samples and make them durable before returning.

        Arrays go to one .npz per batch, written (atomically) before the lines that refer to
        them, so a line on disk always has its arrays. A write that fails part way (full disk,
        an interrupt) is cut back off, so the file holds whole batches only.
        """
        if not records:
            return
        records = self._externalise_arrays(records)
        payload = "".join(json.dumps(r, default=_json_default) + "\n" for r in records)
        with writing(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _append_whole(self.path, payload.encode("utf-8"))

    def _externalise_arrays(self, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        arrays: dict[str, np.ndarray] = {}
        rel = f"arrays/{uuid.uuid4().hex}.npz"
        out = []
        for i, record in enumerate(records):
            scores = record.get("scores") or {}
            if not any(_is_array(v) for v in scores.values()):
                out.append(record)
                continue
            new_scores = {}
            for name, value in scores.items():
                if _is_array(value):
                    entry = f"{i}.{name}"
                    arrays[entry] = value
                    new_scores[name] = {ARRAY_TAG: rel, "name": entry}
                else:
                    new_scores[name] = value
            out.append({**record, "scores": new_scores})
        if arrays:
            with writing(self.run_dir / rel):
                self.arrays_dir.mkdir(parents=True, exist_ok=True)
                tmp = self.arrays_dir / f".{uuid.uuid4().hex}.tmp.npz"
                try:
                    _numpy().savez(tmp, **arrays)
                    os.replace(tmp, self.run_dir / rel)
                finally:
                    tmp.unlink(missing_ok=True)
        return out


def _append_whole(path: Path, data: bytes) -> None:
    """Append `data` and fsync, or leave the file as it was: a write that fails part way (full
    disk, an interrupt) is cut back off. Unbuffered, so nothing is flushed after the cut (when
    even the cut fails, the next run's tail repair removes the partial line)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def _is_array_ref(value: Any) -> bool:
    return isinstance(value, dict) and ARRAY_TAG in value


def read_jsonl(path: Path, *, tolerate_partial_tail: bool = False) -> Iterable[dict[str, Any]]:
    """Yield the objects of a JSON-lines results file.

    A final line cut short is skipped when `tolerate_partial_tail`; a bad line elsewhere means the
    file was edited or damaged, which we report rather than silently drop results.
    """
    with open(path, encoding="utf-8") as fh:
        lines = fh.readlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if tolerate_partial_tail and number == len(lines):
                return
            record = None
        if not (isinstance(record, dict) and isinstance(record.get("key"), str)):
            what = "is not valid JSON" if record is None else "is not a result (no 'key')"
            raise UserError(
                f"{path}: line {number} {what}. The results file is damaged; "
                "remove that line (its sample is then recomputed) and re-run."
            )
        yield record


def count_stored(run_dir: Path) -> int:
    """How many distinct results the directory's results files hold (damaged lines are not
    counted; nothing is repaired)."""
    keys: set[str] = set()
    for file in Path(run_dir).glob("samples*.jsonl"):
        try:
            lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("key"), str):
                keys.add(record["key"])
    return len(keys)


#: Temporary files our writers make beside their targets (atomic_write_text, atomic_save_image,
#: array batches, hub-cache images); a kill can leave one behind.
TEMPORARY_PATTERNS = (".*.tmp", ".*.tmp.npz")


def remove_temporary_files(run_dir: Path) -> int:
    """Delete what interrupted writes left in `run_dir`; only call it while no other process
    writes there (the run lock is held exclusively). Returns how many files went."""
    removed = 0
    for pattern in TEMPORARY_PATTERNS:
        for path in Path(run_dir).rglob(pattern):
            if path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def _truncate_partial_tail(path: Path) -> int:
    """Cut a crash-truncated final line off `path`; returns how many lines were removed."""
    data = path.read_bytes()
    if not data:
        return 0
    keep = len(data)
    removed = 0
    if not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        removed = 1
    else:
        last_start = data.rfind(b"\n", 0, len(data) - 1) + 1
        try:
            json.loads(data[last_start:])
        except json.JSONDecodeError:
            keep, removed = last_start, 1
    if removed:
        with open(path, "r+b") as fh:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
    return removed
