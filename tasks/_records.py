"""Reading benchmark files: JSON, JSON lines, typed fields of records, images beside them.

Small functions the understanding tasks share so that every malformed record is described the
same way (which file, which record, what is wrong), whatever benchmark it comes from.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from janus_eval.types import UserError


def read_json(path: Path, *, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise UserError(f"{what}: {path} is not valid JSON ({exc})") from None
    except OSError as exc:
        raise UserError(f"{what}: cannot read {path} ({exc.strerror})") from None


def iter_json_lines(path: Path) -> Iterator[tuple[int, Any | None]]:
    """(line number, parsed object or None when the line is not JSON); blank lines are
    skipped."""
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError:
                yield number, None


def field_problem(record: Mapping[str, Any], **kinds: str) -> str | None:
    """What is wrong with a record's typed fields, or None. Each keyword names a field and its
    kind: "text" (a string, not missing: a null question must not become the prompt "None"),
    "int" (an integer) or "id" (a string or an integer, as ids are in benchmark files)."""
    for name, kind in kinds.items():
        value = record.get(name)
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if kind == "text" and isinstance(value, str) and not is_missing(value):
            continue
        if (kind == "int" and is_int) or (kind == "id" and (is_int or isinstance(value, str))):
            continue
        got = "null or absent" if is_missing(value) else f"{type(value).__name__} {value!r:.40}"
        return f"field {name!r} is {got}, expected {_KINDS[kind]}"
    return None


_KINDS = {"text": "text", "int": "an integer", "id": "a string or an integer"}


def find_file(data_dir: Path, names: Iterable[str], subdirs: Iterable[str] = ("",)) -> Path | None:
    """The first of `names` found directly in data_dir or one of its `subdirs`."""
    for sub in subdirs:
        for name in names:
            path = data_dir / sub / name
            if path.is_file():
                return path
    return None


def image_dirs(data_dir: Path, image_dir: str, subfolder: str) -> list[Path]:
    """Where to look for COCO-style image files: the `image_dir` option if given, else the data
    directory, its `<subfolder>/`, `images/<subfolder>/` and `images/`."""
    if image_dir:
        path = Path(image_dir).expanduser()
        if not path.is_dir():
            raise UserError(f"image_dir {path} is not a directory")
        return [path]
    return [data_dir / subfolder, data_dir / "images" / subfolder, data_dir / "images", data_dir]


def locate_image(name: str, dirs: Iterable[Path]) -> Path | None:
    for folder in dirs:
        path = folder / name
        if path.is_file():
            return path
    return None


def decode_base64_image(value: str) -> bytes:
    """The bytes of a base64-encoded image; ValueError when it is not base64 or not an image.
    Decoding is as lenient as VLMEvalKit's (`b64decode` drops characters outside the alphabet);
    what it yields must then be an image. Only the header is read (PIL opens lazily), no pixels
    are decoded."""
    try:
        data = base64.b64decode(value)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not valid base64 ({exc})") from None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)):
            pass
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"decodes to {len(data)} bytes that are not an image ({exc})") from None
    return data


def is_missing(value: Any) -> bool:
    """Empty cell: None, NaN, or the string "nan" (what pandas writes for NaN, as the hub copy of
    MMBench has it; pandas reading the TSV turns the same cell into NaN)."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and value == "nan"
