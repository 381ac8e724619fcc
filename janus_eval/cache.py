"""One cache directory for everything janus-eval derives and keeps: the janus-tiny checkpoint,
weight fingerprints, hub images written to files, FID reference statistics."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """$JANUS_EVAL_CACHE (default ~/.cache/janus-eval), joined with `parts` (not created)."""
    root = os.environ.get("JANUS_EVAL_CACHE") or "~/.cache/janus-eval"
    return Path(root).expanduser().joinpath(*parts)


#: What a failed cache write tells the user to do (janus_eval.failures.writing's hint).
CACHE_HINT = "or set JANUS_EVAL_CACHE to a writable folder"
