"""Hugging Face datasets as a task's source: a hub name, a `save_to_disk` copy or a local
folder of data files; images left encoded and written to files once (`HubImageCache`)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from janus_eval.cache import CACHE_HINT, cache_dir
from janus_eval.failures import writing
from janus_eval.safe_names import safe_name
from janus_eval.types import UserError


def load_table(source: str, split: str, *, what: str, config: str | None = None):
    """A `datasets.Dataset` for `split` of `source`: a hub name, a directory written by
    `save_to_disk` (a Dataset, or a DatasetDict holding `split`), or a local folder of
    parquet/JSON/CSV files that `load_dataset` understands (files named by split)."""
    from janus_eval.hub import load_hub_dataset, looks_like_path

    if looks_like_path(source):
        path = Path(source).expanduser()
        if not path.exists():
            raise UserError(f"{what}: source {path} does not exist")
        if any((path / f).is_file() for f in ("dataset_dict.json", "state.json")):
            import datasets

            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                if split not in loaded:
                    raise UserError(f"{what}: {path} has splits {sorted(loaded)}, not {split!r}")
                return loaded[split]
            return loaded
        return load_hub_dataset(str(path), split=split, what=what, **_local_config(path, config))
    kwargs = {"name": config} if config else {}
    return load_hub_dataset(source, split=split, what=what, **kwargs)


def load_column(source: str, split: str, column: str, *, what: str) -> list[Any]:
    """One column of `split` without reading the rest (VQAv2's test split is ~450k rows with
    images): a `save_to_disk` copy is memory-mapped and only the column is taken; parquet (a hub
    name or a local folder) is streamed with `columns=[column]`, so only that column's pages
    are read."""
    from janus_eval.hub import load_hub_dataset, looks_like_path

    path = Path(source).expanduser()
    if looks_like_path(source) and any(
        (path / f).is_file() for f in ("dataset_dict.json", "state.json")
    ):
        return list(load_table(source, split, what=what).select_columns([column])[column])
    stream = load_hub_dataset(source, split=split, what=what, streaming=True, columns=[column])
    try:
        return [row[column] for row in stream]
    except Exception as exc:  # a failure while streaming: same advice as a failure to open
        raise UserError(
            f"{what}: could not read column {column!r} of split {split!r} ({exc})"
        ) from None


def _local_config(path: Path, config: str | None) -> dict[str, str]:
    """`name=config` for a local copy that declares configs in its README (a snapshot of a
    multi-config hub repo such as lmms-lab/MMBench: load_dataset refuses it without a name);
    nothing for a plain folder of data files, which has only the implicit default config."""
    if not config:
        return {}
    from datasets import get_dataset_config_names

    try:
        names = get_dataset_config_names(str(path))
    except Exception:  # let load_dataset report what is wrong with the folder
        return {}
    return {"name": config} if config in names or len(names) > 1 else {}


def undecoded_images(table, column: str = "image"):
    """The table with its image column left as encoded bytes ({'bytes', 'path'}): samples hand
    files to the adapter, they never decode pixels."""
    import datasets

    feature = table.features.get(column)
    if isinstance(feature, datasets.Image) and feature.decode:
        return table.cast_column(column, datasets.Image(decode=False))
    inner = getattr(feature, "feature", None)  # a list of images (lmms-lab/SEED-Bench)
    if isinstance(inner, datasets.Image) and inner.decode:
        return table.cast_column(column, type(feature)(datasets.Image(decode=False)))
    return table


class HubImageCache:
    """Writes images embedded in a dataset to files once, so requests carry paths (a few bytes
    each) instead of holding a whole split's images in memory.

    The dataset names the files, so names are not trusted: a file is called after the record's
    image name made safe (`safe_name`: no `../`, no absolute paths) plus a hash of the image
    bytes, so two records that give one name to different images never share a file. Files are
    written atomically and reused by later runs."""

    def __init__(self, source: str, split: str) -> None:
        digest = hashlib.sha1(
            str(
                Path(source).expanduser().resolve()
                if Path(source).expanduser().exists()
                else source
            ).encode()
        )
        slug = safe_name(source[-48:])
        self.dir = cache_dir("images") / f"{slug}-{digest.hexdigest()[:8]}" / safe_name(split)

    def path_for(self, value: Any, name: str) -> Path | None:
        """A file holding the image in `value` (an undecoded image cell), or None if it has
        neither bytes nor a readable path."""
        if isinstance(value, Mapping):
            data, src = value.get("bytes"), value.get("path")
        elif isinstance(value, bytes):
            data, src = value, None
        else:
            data, src = None, None
        if data:
            stem, _, ext = str(name).rpartition(".")
            plain_ext = stem and ext.isascii() and ext.isalnum() and len(ext) <= 8
            stem, ext = (stem, "." + ext.lower()) if plain_ext else (str(name), "")
            content = hashlib.sha256(data).hexdigest()[:16]
            target = self.dir / f"{safe_name(stem)}-{content}{ext}"
            if not target.is_file():
                with writing(target, hint=CACHE_HINT):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
                    try:
                        tmp.write_bytes(data)
                        os.replace(tmp, target)
                    finally:
                        tmp.unlink(missing_ok=True)
            return target
        if src and Path(src).is_file():
            return Path(src)
        return None


def progress(items: Iterable[Any], total: int | None, desc: str) -> Iterable[Any]:
    """A progress bar on a terminal (reading a large hub split takes minutes), silent elsewhere."""
    from tqdm.auto import tqdm

    return tqdm(items, total=total, desc=desc, disable=None, leave=False)
