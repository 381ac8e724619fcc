"""`--no-resume`: earlier results are moved aside, never deleted.

An unsharded run moves everything in the run directory (but its lock files) to a dated
sibling. A slice (`--shard I/N`, a
torchrun rank) may run beside the other slices of the same run, so it moves only what is its
own: its results file and slice record, the arrays its lines point at, and its samples' images,
into the same dated sibling (same layout). Both run under the run lock (janus_eval.lock), so
nothing is moved from under a process that is writing it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

from janus_eval.failures import writing
from janus_eval.lock import LOCK_FILES
from janus_eval.store import ARRAY_TAG, remove_temporary_files, shard_filename

log = logging.getLogger("janus_eval")

_ARRAY_FILE = re.compile(r"arrays/[0-9a-f]{32}\.npz")


def _aside_dir(run_dir: Path, *, fresh: bool) -> Path:
    """`<run>.replaced-<time>`; `fresh`: one that does not exist yet (slices of one run that
    start in the same second share theirs)."""
    aside = run_dir.with_name(f"{run_dir.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
    base, n = aside, 1
    while fresh and aside.exists():
        aside, n = base.with_name(f"{base.name}-{n}"), n + 1
    return aside


def prepare_run_dir(run_dir: Path, *, set_aside: bool) -> None:
    """Called while no other process writes the run: --no-resume moves earlier results aside,
    a resumed run clears temporary files that an interrupted write left behind."""
    if set_aside:
        set_aside_run(run_dir)
    else:
        removed = remove_temporary_files(run_dir)
        if removed:
            log.info("removed %d temporary file(s) left by an interrupted write", removed)


def set_aside_run(run_dir: Path) -> Path | None:
    """Move everything in the run directory but its lock files aside (caller holds the run's
    exclusive lock, which stays in place)."""
    present = [p for p in run_dir.iterdir() if not LOCK_FILES.fullmatch(p.name)]
    if not present:
        return None
    aside = _aside_dir(run_dir, fresh=True)
    for path in present:
        with writing(aside / path.name, hint="--no-resume moves earlier results aside"):
            aside.mkdir(exist_ok=True)
            os.replace(path, aside / path.name)
    log.warning("--no-resume: earlier results moved to %s", aside)
    return aside


def set_aside_slice(
    run_dir: Path, shard: tuple[int, int], image_paths: Iterable[str]
) -> Path | None:
    """Move slice `shard`'s own earlier results aside (caller holds that slice's lock).
    `image_paths`: the images of the slice's samples, relative to images/."""
    results = run_dir / shard_filename(shard)
    own = [results, run_dir / f"run.shard-{shard[0]}-of-{shard[1]}.json"]
    own += [run_dir / rel for rel in _array_files(results)]
    own += [run_dir / "images" / rel for rel in image_paths]
    present = [p for p in own if p.is_file()]
    if not present:
        return None
    aside = _aside_dir(run_dir, fresh=False)
    if any((aside / p.relative_to(run_dir)).exists() for p in present):  # never overwrite
        aside = _aside_dir(run_dir, fresh=True)
    for path in present:
        target = aside / path.relative_to(run_dir)
        with writing(target, hint="--no-resume moves earlier results aside"):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    log.warning(
        "--no-resume: %d earlier file(s) of slice %d/%d moved to %s",
        len(present),
        shard[0],
        shard[1],
        aside,
    )
    return aside


def _array_files(results: Path) -> set[str]:
    """The .npz files (relative to the run directory) that lines of `results` point at; damaged
    lines are passed over, they are moved aside with the file all the same."""
    found: set[str] = set()
    if not results.is_file():
        return found
    for line in results.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        scores = record.get("scores") if isinstance(record, dict) else None
        for value in (scores or {}).values() if isinstance(scores, dict) else ():
            ref = value.get(ARRAY_TAG) if isinstance(value, dict) else None
            if isinstance(ref, str) and _ARRAY_FILE.fullmatch(ref):  # never a path from data
                found.add(ref)
    return found
