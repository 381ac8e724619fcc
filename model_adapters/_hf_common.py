"""What the adapters for other libraries' checkpoints (`hf-vlm`, `diffusers`) share: which files
of a checkpoint folder are weights, one fingerprint over a chosen set of its files, the device
check, load failures as one message, and the options' parsing (option checks and conversion,
the device check and file fingerprints are every adapter's: _base.py).

A run id must change whenever a file that changes answers or pixels changes, and must not change
with files that are merely present (a hub cache folder collects whatever earlier downloads
fetched). So each adapter names the files it loads, and only those are hashed, by their paths
relative to the checkpoint and their sha256 (janus_eval.filehash: hub blobs are named by it;
other files are hashed once and remembered, as for the janus adapter's fingerprint).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from janus_eval.types import UserError

from ._base import check_device, fingerprint_files  # noqa: F401  (check_device: for the adapters)

#: Files holding tensors (and their shard indexes), in any format a library might save.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".msgpack", ".h5", ".onnx")
_INDEX = re.compile(r".*\.index(\.[^.]+)?\.json$")


def is_weight_file(name: str) -> bool:
    return name.endswith(WEIGHT_SUFFIXES) or bool(_INDEX.fullmatch(name))


def files_fingerprint(root: Path, relpaths: Iterable[str]) -> str:
    """sha256 over (relative path, file sha256) of `relpaths` under `root`, in sorted order."""
    return fingerprint_files((rel, root / rel) for rel in sorted(set(relpaths)))


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@contextmanager
def load_errors(model_path: str, what: str) -> Iterator[None]:
    """A library's load failures (a missing attention kernel, broken or incomplete files, code
    that needs trust_remote_code) as one UserError naming the checkpoint; `what` says what was
    being loaded and with which settings."""
    from safetensors import SafetensorError

    try:
        yield
    except (ImportError, OSError, ValueError, SafetensorError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        if "trust_remote_code" in str(exc):
            raise UserError(
                f"{model_path}: loading it needs the checkpoint's own Python code "
                f"(trust_remote_code), which janus-eval never runs ({first})"
            ) from None
        raise UserError(f"{model_path}: {what} ({type(exc).__name__}: {first})") from exc


def read_json(path: Path, what: str) -> dict:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{what}: {path} not found") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{what}: {path} is not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UserError(f"{what}: {path} should hold a JSON object")
    return data


def text_option(value: object) -> str | None:
    """An option that is text or unset: "", "none" and None all mean unset."""
    if value is None:
        return None
    text = str(value)
    return None if text.strip().lower() in {"", "none"} else text
