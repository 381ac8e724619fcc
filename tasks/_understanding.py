"""What the understanding tasks share: options, prompt building and bad-record handling.

Why a base class: every one asks a question about an image (or a few) and they differ only in
how records are read and scored, so the request, the skip-or-raise policy and the choice of
source (official files or a Hugging Face dataset, `_records` / `_hub`) live here once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from janus_eval.images import check_image
from janus_eval.metrics.revisions import ScorerRevision, pick
from janus_eval.types import Metrics, Sample, Task, UnderstandRequest, UserError

from ._records import locate_image

#: Janus recipe (VLMEvalKit vlmeval/vlm/janus.py): no system prompt; the message is the image
#: (`<image_placeholder>`) immediately followed by "\n" + question + the short-answer instruction.
#: `<image>` marks the image's place explicitly, so adapters that would otherwise put their own
#: separator after a leading image reproduce that text exactly.
SHORT_ANSWER_TEMPLATE = "<image>\n{question}\nAnswer the question using a single word or phrase."
#: The counts a task scoring one sample per question ends its metric_names with (`with_counts`).
COUNTS = ("n_questions", "n_skipped_records")


def prose(*parts: str) -> str:
    """Paragraphs written in triple-quoted strings, joined on one line (runs of whitespace
    become one space): how tasks write their long `data_help`, which error messages quote."""
    return " ".join(" ".join(parts).split())


def common_options(
    split: str, source: str, prompt_template: str, *, max_new_tokens: int
) -> dict[str, Any]:
    """The options every understanding task has, with the task's defaults (its own options
    follow them, and may replace one of these, e.g. MM-Vet's system_prompt)."""
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
        """The first `limit` samples. With skip_bad_records, images that do not decode (or are
        too large) are found here, by decoding each once, so they are skipped and counted like
        any bad record; without it they stop the run when they are reached, naming the file."""
        if self.options["skip_bad_records"]:
            reader = (s for s in reader if self._images_decode(s))
        return list(itertools.islice(reader, limit))

    def _images_decode(self, sample: Sample) -> bool:
        try:
            for image in self.request(sample).images:
                check_image(image, what=f"{self.name}: sample {sample.id!r}: image")
        except UserError as exc:
            self.skipped.append((sample.id, str(exc)))
            return False
        return True

    def bad_record(self, record_id: str, message: str) -> None:
        """Raise a UserError for a malformed record, or count it when the user asked to skip."""
        if self.options["skip_bad_records"]:
            self.skipped.append((record_id, message))
            return
        raise UserError(
            f"{message}. Fix or remove the record, or pass --task-option skip_bad_records=true "
            "to skip such records (they are counted in the run record)."
        )

    def repeated(self, record_id: str, seen: set[str], message: str) -> bool:
        """True (after `bad_record(record_id, message)`) when the id was met before, else it is
        remembered: ids name stored results, so a repeated id is a bad record, never a second
        sample."""
        if record_id in seen:
            self.bad_record(record_id, message)
            return True
        seen.add(record_id)
        return False

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

    def with_counts(self, metrics: Metrics, scored: Sequence[Any]) -> Metrics:
        """`metrics` plus COUNTS, for a task whose every scored sample is one question."""
        metrics["n_questions"] = len(scored)
        return self.with_skips(metrics)

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


def scorer_help(available: Mapping[str, ScorerRevision]) -> str:
    """One sentence for a task's data_help: the scorer names and what each reproduces."""
    names = [f"{name} = {rev.reference}" for name, rev in available.items()]
    return (
        f"Scoring: --task-option scorer={names[0]} (the default, the official code's current "
        f"revision); older revisions that published numbers used: {'; '.join(names[1:])}."
    )
