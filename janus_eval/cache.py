"""One cache directory for everything janus-eval derives and keeps: the janus-tiny checkpoint,
weight fingerprints, hub images written to files, FID reference statistics."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """$JANUS_EVAL_CACHE (default ~/.cache/janus-eval), joined with `parts` (not created)."""
    root = os.environ.get("JANUS_EVAL_CACHE") or "~/.cache/janus-eval"
    return Path(root).expanduser().joinpath(*parts)


#: What a failed cache write tells the user to do (janus_eval.failures.writing's hint).
CACHE_HINT = "or set JANUS_EVAL_CACHE to a writable folder"


def write_once(
    path: Path,
    write: Callable[[Path], None],
    marker: str = "model.safetensors",
    config: str = "config.json",
) -> Path:
    """`path`, made by `write(tmp)` in a temporary sibling renamed into place, unless `path`
    already holds `config` and `marker` (the tiny random checkpoints: janus-tiny, the demo
    scorers). A crash leaves no half-written checkpoint; when two processes race, the first
    rename wins and the other's copy is dropped. A read-only or full cache is one message
    saying where the cache is and how to move it, never a traceback."""
    if (path / config).is_file() and (path / marker).is_file():
        return path
    from janus_eval.failures import writing

    with writing(path, hint=CACHE_HINT):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
        try:
            write(tmp)
            try:
                os.rename(tmp, path)
            except OSError:  # someone else finished first (or path exists): keep theirs
                if not (path / marker).is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return path
