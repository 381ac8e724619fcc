"""What the three understanding tasks (VQAv2, MMBench, POPE) share: options, prompt building,
bad-record handling, and reading their data sources (official files or a Hugging Face dataset).

Why a base class: all three ask one question about one image and differ only in how records are
read and scored, so the request, the skip-or-raise policy and the source loading live here once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import itertools
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from janus_eval.cache import cache_dir
from janus_eval.metrics.revisions import ScorerRevision, pick
from janus_eval.types import Metrics, Sample, Task, UnderstandRequest, UserError

#: Janus recipe (VLMEvalKit vlmeval/vlm/janus.py): no system prompt; the message is the image
#: (`<image_placeholder>`) immediately followed by "\n" + question + the short-answer instruction.
#: `<image>` marks the image's place explicitly, so adapters that would otherwise put their own
#: separator after a leading image reproduce that text exactly.
SHORT_ANSWER_TEMPLATE = "<image>\n{question}\nAnswer the question using a single word or phrase."


def common_options(
    *, split: str, source: str, prompt_template: str, max_new_tokens: int
) -> dict[str, Any]:
    return {
        "split": split,
        "source": source,
        "prompt_template": prompt_template,
        # "" = explicitly no system prompt (VLMEvalKit sets Janus's system_prompt to "").
        "system_prompt": "",
        "skip_bad_records": False,
        "max_new_tokens": max_new_tokens,
    }


class UnderstandingTask(Task):
    """One image, one question, one short answer. Subclasses set `splits` and `prompt_fields`
    and implement reading and scoring."""

    kind = "understanding"
    #: Where the records and images are read from; their content is what identifies the run.
    location_options = ("source", "image_dir")
    splits: tuple[str, ...] = ()
    #: Placeholders `prompt_template` may use.
    prompt_fields: tuple[str, ...] = ("question",)
    #: Official scorer revisions the `scorer` option may name (empty: the task has one scorer).
    scorers: Mapping[str, ScorerRevision] = {}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        split = self.options["split"]
        if split not in self.splits:
            raise UserError(
                f"task {self.name!r}: unknown split {split!r}; choose one of {', '.join(self.splits)}"
            )
        self.check_template("prompt_template", self.prompt_fields)
        if int(self.options["max_new_tokens"]) < 1:
            raise UserError(f"task {self.name!r}: max_new_tokens must be at least 1")
        #: (sample id, reason) of every record left out because skip_bad_records is on.
        self.skipped: list[tuple[str, str]] = []
        self.scorer: ScorerRevision | None = None
        if self.scorers:
            try:
                self.scorer = pick(self.scorers, self.options["scorer"])
            except ValueError as exc:
                raise UserError(f"task {self.name!r}: {exc} (--task-option scorer=NAME)") from None

    def config(self) -> dict[str, Any]:
        """The task config (hashed into the run id) plus, for tasks with named scorers, the
        scorer's full reference, which run.json and the leaderboard notes show."""
        out = super().config()
        if self.scorer is not None:
            out["scorer"] = self.scorer.describe()
        return out

    def check_template(self, option: str, fields: tuple[str, ...]) -> None:
        try:
            self.options[option].format(**{f: "" for f in fields})
        except (KeyError, IndexError, ValueError) as exc:
            raise UserError(
                f"task {self.name!r}: {option} {self.options[option]!r} is not usable "
                f"({type(exc).__name__}: {exc}); it may use the placeholders "
                f"{', '.join('{' + f + '}' for f in fields)}"
            ) from None

    # -- records ----------------------------------------------------------------------------
    def samples(self, data_dir: Path | None, limit: int | None) -> list[Sample]:
        """The official files in `data_dir` when given, else the `source` dataset; stops reading
        once `limit` samples are found."""
        self.skipped = []
        reader = self.read_files(data_dir) if data_dir is not None else self.read_hub()
        return self.take(reader, limit)

    def read_files(self, data_dir: Path) -> Iterator[Sample]:
        raise NotImplementedError

    def read_hub(self) -> Iterator[Sample]:
        raise NotImplementedError

    def take(self, reader: Iterator[Sample], limit: int | None) -> list[Sample]:
        return list(itertools.islice(reader, limit))

    def bad_record(self, record_id: str, message: str) -> None:
        """Raise a UserError for a malformed record, or count it when the user asked to skip."""
        if self.options["skip_bad_records"]:
            self.skipped.append((record_id, message))
            return
        raise UserError(
            f"{message}. Fix or remove the record, or pass --task-option skip_bad_records=true "
            "to skip such records (they are counted in the run record)."
        )

    def find_image(self, name: str, dirs: list[Path], record_id: str, where: str) -> Path | None:
        """`name` in the first of `dirs` that holds it; None (after `bad_record`) if none does."""
        image = locate_image(name, dirs)
        if image is None:
            folders = ", ".join(str(d) for d in dirs)
            self.bad_record(record_id, f"{where}: image {name} not found in {folders}")
        return image

    def with_skips(self, metrics: Metrics) -> Metrics:
        metrics["n_skipped_records"] = len(self.skipped)
        return metrics

    # -- requests ---------------------------------------------------------------------------
    def build_request(
        self, image: Any, *, template: str = "prompt_template", **fields: str
    ) -> UnderstandRequest:
        """The request for one image (or a tuple of images) with the `template` option filled
        in from `fields`."""
        return UnderstandRequest(
            prompt=self.options[template].format(**fields),
            images=image if isinstance(image, tuple) else (image,),
            max_new_tokens=int(self.options["max_new_tokens"]),
            system_prompt=self.options["system_prompt"],
        )


def option_lines(choices: Mapping[str, str]) -> str:
    """The Janus recipe's option block: one "X. text\n" line per option (VLMEvalKit janus.py)."""
    return "".join(f"{letter}. {text}\n" for letter, text in choices.items())


# -- small readers --------------------------------------------------------------------------
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


# -- Hugging Face datasets (hub name or local copy) -------------------------------------------
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
    each) instead of holding a whole split's images in memory. Files are keyed by the record's
    image name, written atomically, and reused by later runs."""

    def __init__(self, source: str, split: str) -> None:
        digest = hashlib.sha1(
            str(
                Path(source).expanduser().resolve()
                if Path(source).expanduser().exists()
                else source
            ).encode()
        )
        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in source)[-48:]
        self.dir = cache_dir("images") / f"{slug}-{digest.hexdigest()[:8]}" / split

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
            target = self.dir / name
            if not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
                tmp.write_bytes(data)
                os.replace(tmp, target)
            return target
        if src and Path(src).is_file():
            return Path(src)
        return None


def progress(items: Iterable[Any], total: int | None, desc: str) -> Iterable[Any]:
    """A progress bar on a terminal (reading a large hub split takes minutes), silent elsewhere."""
    from tqdm.auto import tqdm

    return tqdm(items, total=total, desc=desc, disable=None, leave=False)


def is_missing(value: Any) -> bool:
    """Empty cell: None, NaN, or the string "nan" (what pandas writes for NaN, as the hub copy of
    MMBench has it; pandas reading the TSV turns the same cell into NaN)."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and value == "nan"


def scorer_help(available: Mapping[str, ScorerRevision]) -> str:
    """One sentence for a task's data_help: the scorer names and what each reproduces."""
    names = [f"{name} = {rev.reference}" for name, rev in available.items()]
    return (
        f"Scoring: --task-option scorer={names[0]} (the default, the official code's current "
        f"revision); older revisions that published numbers used: {'; '.join(names[1:])}."
    )
