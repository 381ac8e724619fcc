"""Reaching the Hugging Face Hub only when a name (not a path) is given, with clear errors.

Offline first: a local directory is always used as it is; a hub name goes through
huggingface_hub / datasets, which honour HF_HUB_OFFLINE and their caches. Failures become a
UserError that says what was asked for and how to supply it locally.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from janus_eval.types import UserError


def looks_like_path(name_or_path: str | Path) -> bool:
    text = str(name_or_path)
    return Path(text).exists() or text.startswith((".", "/", "~")) or text.count("/") != 1


def resolve_snapshot(
    name_or_path: str | Path, *, what: str, allow_patterns: list[str] | None = None
) -> Path:
    """A local directory for a checkpoint or data repo: the path itself, or a hub snapshot."""
    if looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if not path.exists():
            raise UserError(f"{what}: {path} does not exist")
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(str(name_or_path), allow_patterns=allow_patterns))
    except Exception as exc:  # offline, missing repo, no cache: all the same to the user
        raise download_error(name_or_path, what, exc) from None


def download_error(name: str | Path, what: str, exc: Exception) -> UserError:
    """The UserError for a checkpoint that could not be fetched from the hub or its cache, for
    every downloader (snapshot_download here, diffusers' own pipeline download elsewhere)."""
    return UserError(
        f"{what}: could not get {str(name)!r} from the Hugging Face Hub or its cache "
        f"({_why(exc)}). "
        f"Download it where a network is available (`huggingface-cli download "
        f"{name}`) or pass a local directory instead."
    )


def load_hub_dataset(name_or_path: str | Path, *, split: str, what: str, **kwargs: Any):
    """`datasets.load_dataset` with a UserError instead of a traceback when it cannot load."""
    import datasets

    try:
        return datasets.load_dataset(str(name_or_path), split=split, **kwargs)
    except Exception as exc:
        raise UserError(
            f"{what}: could not load dataset {name_or_path!r} split {split!r} "
            f"({_why(exc)}). "
            f"Pass --data-dir with the official files, or download the dataset where a network "
            f"is available (it is then read from the Hugging Face cache; HF_HUB_OFFLINE=1 "
            f"forces cache-only)."
        ) from None


def _why(exc: Exception) -> str:
    """The exception's type and first line: hub errors carry long multi-line bodies."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
