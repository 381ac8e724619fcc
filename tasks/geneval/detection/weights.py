"""Locating and fingerprinting GenEval's scorer files (detectors, CLIP, prompts) without
loading them.

A run's identity includes the hash of every weight file that decides a verdict, so two
detectors (or two copies of "the same" detector that differ) never share a run or a
leaderboard column. Hashes are cached per (path, size, mtime): a 900 MB file is read once per
process.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from janus_eval.cache import cache_dir
from janus_eval.types import UserError

_cache: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | Path) -> str:
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _cache:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                digest.update(chunk)
        _cache[key] = digest.hexdigest()
    return _cache[key]


def find_file(directory: Path, names: Sequence[str], *, what: str, how: str) -> Path:
    """The first of `names` present in `directory`, or a UserError listing what is expected."""
    for name in names:
        if (directory / name).is_file():
            return directory / name
    raise UserError(f"{what}: none of {', '.join(names)} found in {directory}. {how}")


def geneval_cache_dir() -> Path:
    """$JANUS_EVAL_CACHE/geneval: the prompts, the official detector and its conversions."""
    return cache_dir("geneval")


def offline() -> bool:
    """True when downloads are switched off (HF_HUB_OFFLINE or JANUS_EVAL_OFFLINE)."""
    return any(
        os.environ.get(v, "").lower() in {"1", "true", "yes"}
        for v in ("HF_HUB_OFFLINE", "JANUS_EVAL_OFFLINE")
    )
