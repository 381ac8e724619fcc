"""The small vocabulary every part of janus-eval speaks.

Tasks produce `Sample`s and turn them into one of two request kinds; adapters answer requests;
the runner stores answers and scores; a `RunRecord` is what reports read. Nothing here imports
torch, so a metric or a report can be used without a model stack.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, Union, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

#: An image as a task hands it over: a path (cheap, loaded by the adapter), raw encoded bytes
#: (e.g. MMBench's base64 column, already decoded), or an already opened PIL image.
ImageLike = Union[str, Path, bytes, "Image.Image"]

#: Aggregated metrics: names to numbers, one level of nesting for breakdowns
#: (e.g. {"accuracy": 71.3, "per_answer_type": {"yes/no": 88.1, ...}}).
Metrics = dict[str, Any]

TaskKind = Literal["understanding", "generation"]


class UserError(Exception):
    """A problem the user can fix (bad name, missing file, malformed record).

    The CLI prints the message alone and exits with status 2; no traceback. Messages say what is
    wrong, which file and record, and how to fix it.
    """


@dataclass(frozen=True)
class Sample:
    """One benchmark item. `id` is unique within a task's data source and stable across runs:
    results are keyed by it, seeds derive from it and shards split by it."""

    id: str
    data: Mapping[str, Any] = field(default_factory=dict)
    category: str | None = None


@dataclass(frozen=True)
class UnderstandRequest:
    """Answer `prompt` about `images`. Each `<image>` in the prompt marks where an image goes;
    when the prompt holds none, the images come first (the Janus recipe)."""

    prompt: str
    images: tuple[ImageLike, ...] = ()
    max_new_tokens: int = 32
    system_prompt: str | None = None

    def summary(self) -> dict[str, Any]:
        """What is stored per sample: the text, and image references without pixel data."""
        return {
            "prompt": self.prompt,
            "images": [_image_ref(im) for im in self.images],
            "max_new_tokens": self.max_new_tokens,
            "system_prompt": self.system_prompt,
        }


@dataclass(frozen=True)
class ImageRequest:
    """Generate images for `prompt`.

    Image k of this request draws from a random stream that depends only on
    (seed, request_id, k): `image_indices` says which k to make (all of range(n) normally,
    only the missing ones when a run resumes), so results never depend on batching.
    """

    prompt: str
    request_id: str
    seed: int = 0
    n: int = 4
    image_indices: tuple[int, ...] | None = None
    #: Classifier-free guidance weight; None: the model's own upstream default (5 for Janus,
    #: 2 for JanusFlow), so a task need not know which model answers.
    cfg_weight: float | None = None
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    #: Output side in pixels; None means the model's native size (384 for Janus).
    size: int | None = None

    @property
    def indices(self) -> tuple[int, ...]:
        return tuple(range(self.n)) if self.image_indices is None else self.image_indices

    def generation_params(self) -> dict[str, Any]:
        """The parameters that change the pixels (part of every result key)."""
        return {
            "n": self.n,
            "cfg_weight": self.cfg_weight,
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "size": self.size,
        }

    def summary(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "seed": self.seed, **self.generation_params()}


Request = UnderstandRequest | ImageRequest


def _image_ref(image: ImageLike) -> str:
    if isinstance(image, (str, Path)):
        return str(image)
    if isinstance(image, bytes):
        import hashlib

        return f"<bytes sha256:{hashlib.sha256(image).hexdigest()[:16]}>"
    return f"<PIL {getattr(image, 'size', '?')}>"


#: The methods that answer each request kind; an adapter implements one or both.
ANSWER_METHODS: Mapping[TaskKind, str] = {
    "understanding": "understand",
    "generation": "generate_images",
}

#: Optional adapter methods. An adapter that has one lists its name in `capabilities`; the core
#: calls it only then (checked at registration: a declared one must exist, an existing one must
#: be declared, so a misspelt name cannot silently fall back to the default).
ADAPTER_CAPABILITIES: Mapping[str, str] = {
    "auto_batch_size": "auto_batch_size(kind) -> int: requests per batch for --batch-size auto "
    "(without it: 8)",
}


@runtime_checkable
class ModelAdapter(Protocol):
    """A model as the runner sees it. Adapters are constructed by the registry with keyword
    arguments `model_path`, `device`, `dtype` (and any adapter-specific options, converted to
    the types of `default_options()` when the adapter declares them). Only the methods for the
    request kinds it answers are needed; optional ones are listed in `capabilities`."""

    name: str

    def describe(self) -> dict[str, Any]:
        """name, checkpoint, weight hashes, dtype, device: everything that changes answers."""
        ...

    def understand(self, reqs: Sequence[UnderstandRequest]) -> list[str]: ...

    def generate_images(self, reqs: Sequence[ImageRequest]) -> list[list[Image.Image]]:
        """One list per request, in the order of `req.indices`."""
        ...


class Task:
    """Base class for benchmarks. Subclasses set the class attributes and implement
    `samples`, `request`, `score` and `aggregate`; the rest has working defaults.

    Tasks are constructed by the registry with `**options` (from `--task-option k=v`), which
    become part of the run's identity through `config()`.
    """

    name: str = ""
    kind: TaskKind = "understanding"
    version: str = "1"
    #: Metric shown on the leaderboard and used by `compare` by default.
    primary_metric: str = ""
    #: All top-level metric names `aggregate` returns (for `janus-eval tasks`).
    metric_names: tuple[str, ...] = ()
    #: Aggregate metric name -> (per-sample score field, scale) for metrics that are the scaled
    #: mean of a per-sample value; `compare` bootstraps these.
    sample_metrics: Mapping[str, tuple[str, float]] = {}
    #: One paragraph for `janus-eval tasks`: which files the task reads and where to get them.
    data_help: str = ""
    #: Options that only say where the data lies (a folder, a hub name or a local copy of it).
    #: The data's content is fingerprinted (janus_eval.identity), so they stay out of
    #: `identity()`: the same data read from elsewhere keeps its run id and result keys.
    location_options: tuple[str, ...] = ()
    #: The run seed, set by `api.evaluate` before samples are read: scoring rules that draw
    #: random numbers (MMMU's fallback) seed them from it and the sample id, never from a batch.
    seed: int = 0

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - set(self.default_options())
        if unknown:
            raise UserError(
                f"task {self.name!r} has no option(s) {sorted(unknown)}; "
                f"known options: {sorted(self.default_options()) or 'none'}"
            )
        self.options: dict[str, Any] = {**self.default_options(), **options}

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        """Options and their defaults; values given on the command line arrive as strings and are
        converted to the default's type by the registry."""
        return {}

    @classmethod
    def demo_options(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """Options a `--demo` run adds where the user's options (`given`) leave them open:
        offline stand-ins for scoring weights or services (janus_eval.demo). A `Path` value is
        a cached file the task fingerprints by content, so it is kept out of the run id."""
        return {}

    def config(self) -> dict[str, Any]:
        """Everything about the task that changes results, as recorded in run.json."""
        return {"name": self.name, "version": self.version, "options": dict(self.options)}

    def identity(self) -> dict[str, Any]:
        """`config()` without the location options: what the run id and result keys hash."""
        config = self.config()
        options = config.get("options") or {}
        kept = {k: v for k, v in options.items() if k not in self.location_options}
        return {**config, "options": kept}

    def samples(self, data_dir: Path | None, limit: int | None) -> Iterable[Sample]:
        raise NotImplementedError

    def request(self, sample: Sample) -> Request:
        raise NotImplementedError

    def score(self, sample: Sample, response: Any) -> dict[str, Any]:
        """Per-sample scores (stored). `response` is the answer text, or for generation tasks
        the list of PIL images (in request index order)."""
        raise NotImplementedError

    def score_batch(self, samples: Sequence[Sample], responses: Sequence[Any]) -> list[dict]:
        """Override when scoring itself runs a model (a detector, an Inception net) that wants
        batches; the default scores one sample at a time."""
        return [self.score(s, r) for s, r in zip(samples, responses)]

    def aggregate(self, scored: Sequence[dict[str, Any]]) -> Metrics:
        raise NotImplementedError

    def image_relpath(self, sample: Sample, index: int) -> str:
        """Where image `index` of a generation sample is saved, relative to the run's images/.
        Tasks with an official layout (GenEval) override this. Ids are data: `safe_name` keeps
        them inside images/ and apart (`a/b` and `a_b` get different folders)."""
        from janus_eval.safe_names import safe_name

        return f"{safe_name(sample.id)}/{index:05d}.png"

    def saves_images(self) -> bool:
        """Whether generated images are written under images/. FID tasks may keep only their
        features; without saved images a generation run resumes per sample, not per image."""
        return True

    def on_images_saved(self, sample: Sample, images_dir: Path) -> None:  # noqa: B027
        """Hook for layout side files (GenEval's per-prompt metadata.jsonl)."""

    def finalize(self, run_dir: Path, samples: Sequence[Sample], scored: Sequence[dict]) -> None:  # noqa: B027
        """Hook for files written beside a finished run (submission files, image grids)."""


@dataclass
class RunRecord:
    """The typed result of one run, serialised as run.json. Reports read only these.

    Modelled on lm-evaluation-harness's results schema: enough to reproduce the run and to tell
    two runs apart without the objects that made them.
    """

    run_id: str
    task: str
    task_version: str
    task_kind: str
    model: dict[str, Any]
    metrics: Metrics
    primary_metric: str
    config: dict[str, Any]
    n_samples: int
    n_computed: int
    n_reused: int
    n_skipped: int = 0
    seed: int = 0
    versions: dict[str, str] = field(default_factory=dict)
    git_commit: str | None = None
    device: str = "cpu"
    timings: dict[str, float] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    prompt: dict[str, Any] = field(default_factory=dict)
    shard: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    schema_version: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunRecord:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
