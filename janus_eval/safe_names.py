"""File names made from data: confined to their directory, and never shared by two raw values.

Sample ids, image names from a dataset's fields and similar strings become file names in the
run's images/ folder and in the cache. Data is not trusted: `../../x`, `/etc/x`, `.hidden`, names
that differ only in case (one file on macOS and Windows) or in characters a file system drops
must neither leave the directory nor land on another record's file.

`safe_name` keeps a name as it is when it is already plain (ASCII lowercase letters, digits,
`-`, `_`, `.`, not starting with a dot, at most 100 characters); otherwise it sanitises the
name and appends `+` and 16 hex digits of the raw value's SHA-256. `+` is never kept by
sanitising, so a suffixed name cannot equal a plain one; two suffixed names are equal only if
their hashes are. The runner also checks that no two samples of a run share an image file
(`check_image_paths`), so even a crafted hash collision fails loudly instead of silently.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import PurePosixPath

from janus_eval.types import UserError

MAX_STEM = 100
SEPARATOR = "+"
_PLAIN = re.compile(r"[a-z0-9_.-]+")
_EXTENSION = re.compile(r"(.+?)(\.[a-z0-9]{1,8})$")


def safe_name(raw: object) -> str:
    """One path component for `raw` (e.g. `a/b` -> `a_b+<hash>`, `COCO_1.jpg` ->
    `coco_1+<hash>.jpg`); plain names come back unchanged. A trailing extension stays last."""
    text = str(raw)
    if _PLAIN.fullmatch(text) and not text.startswith(".") and len(text) <= MAX_STEM:
        return text
    clean = "".join(
        c.lower() if c.isascii() and c.isalnum() else c if c in "-_." else "_" for c in text
    )
    if clean.startswith("."):
        clean = "_" + clean[1:]
    match = _EXTENSION.fullmatch(clean)
    stem, ext = (match.group(1), match.group(2)) if match else (clean, "")
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{stem[:MAX_STEM] or '_'}{SEPARATOR}{digest}{ext}"


def check_image_paths(task_name: str, paths: Iterable[tuple[str, str]]) -> None:
    """`paths` are (sample id, image path relative to images/) for every image of a run: each
    path must stay below images/ and belong to one sample only."""
    owner: dict[str, str] = {}
    for sample_id, rel in paths:
        parts = PurePosixPath(rel).parts
        if not parts or PurePosixPath(rel).is_absolute() or ".." in parts or "\\" in rel:
            raise UserError(
                f"task {task_name!r} puts an image of sample {sample_id!r} at {rel!r}, outside "
                "the run's images/ folder; its image_relpath must build names with "
                "janus_eval.safe_names.safe_name"
            )
        key = rel.casefold()
        if key in owner and owner[key] != sample_id:
            raise UserError(
                f"task {task_name!r}: samples {owner[key]!r} and {sample_id!r} would share the "
                f"image file images/{rel} (names that differ only in case are one file on macOS "
                "and Windows); ids must map to distinct names (use "
                "janus_eval.safe_names.safe_name in image_relpath)"
            )
        owner[key] = sample_id
