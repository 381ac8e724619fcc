"""MMMU (Yue et al., 2024), validation: college-level multiple-choice and open questions over 30
subjects, each with one to seven images, scored by the official MMMU evaluation code's rules
(`janus_eval.metrics.mmmu`): overall, per subject and per discipline."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from janus_eval.metrics.mmmu import SUBJECTS, choice_info, fallback_rng, judge, mmmu_accuracy
from janus_eval.registry import register_task
from janus_eval.types import Metrics, Sample, UnderstandRequest, UserError

from ._hub import HubImageCache, load_table, progress, undecoded_images
from ._understanding import COUNTS, UnderstandingTask, common_options, option_lines, prose
from .mmbench import MCQ_TEMPLATE

#: VLMEvalKit janus.py, MCQ branch with no options (MMMU's open questions).
OPEN_TEMPLATE = "<image>\n{question}\nAnswer the question directly. "
IMAGE_COLUMNS = tuple(f"image_{k}" for k in range(1, 8))
#: The hub dataset with one config per subject (the others hold every subject in one table).
PER_SUBJECT_SOURCE = "MMMU/MMMU"


@register_task
class MMMU(UnderstandingTask):
    name = "mmmu"
    version = "1"
    primary_metric = "accuracy"
    metric_names = ("accuracy", "per_subject", "per_discipline", *COUNTS)
    sample_metrics = {"accuracy": ("correct", 100.0)}
    splits = ("validation", "dev")
    prompt_fields = ("hint", "question", "options")
    data_help = prose(
        """
        MMMU reads a local copy of the Hugging Face dataset MMMU/MMMU or lmms-lab/MMMU
        (`huggingface-cli download MMMU/MMMU --repo-type dataset --local-dir DIR`): every
        <split>-*.parquet file below --data-dir (columns id, question, options, answer,
        question_type, image_1..image_7). Without --data-dir it reads lmms-lab/MMMU (one table)
        or, with --task-option source=MMMU/MMMU, the official dataset's 30 subject configs (or
        source=LOCAL_DIR written by save_to_disk). split=validation (default) or dev; the test
        split has no answers. `<image>` in the templates stands for all of a question's images, in
        order (the Janus recipe puts them before the text). Random fallbacks of the official
        parser are drawn from the run seed and the question id.
        """
    )

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        options = common_options("validation", "lmms-lab/MMMU", MCQ_TEMPLATE, max_new_tokens=128)
        return {**options, "open_prompt_template": OPEN_TEMPLATE}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.check_template("open_prompt_template", ("question",))

    # -- reading ------------------------------------------------------------------------------
    def read_files(self, data_dir: Path) -> Iterator[Sample]:
        import pyarrow.parquet as pq

        split = self.options["split"]
        files = sorted(data_dir.rglob(f"{split}-*.parquet"))
        if not files:
            raise UserError(f"MMMU: no {split}-*.parquet files below {data_dir}. {self.data_help}")
        cache = HubImageCache(str(data_dir), split)
        for path in files:
            try:
                batches = pq.ParquetFile(path).iter_batches(batch_size=64)
            except Exception as exc:  # pyarrow raises several kinds for a broken file
                raise UserError(f"MMMU: cannot read {path} as parquet ({exc})") from None
            rows = (row for batch in batches for row in batch.to_pylist())  # a batch in memory
            yield from self._rows(rows, str(path), cache)

    def read_hub(self) -> Iterator[Sample]:
        source, split = self.options["source"], self.options["split"]
        configs: Iterable[str | None] = SUBJECTS if source == PER_SUBJECT_SOURCE else (None,)
        cache = HubImageCache(source, split)
        for config in configs:
            what = f"MMMU ({source}{'/' + config if config else ''})"
            table = load_table(source, split, what=what, config=config)
            for column in IMAGE_COLUMNS:
                if column in table.column_names:
                    table = undecoded_images(table, column)
            yield from self._rows(progress(table, len(table), "reading MMMU"), what, cache)

    def _rows(
        self, rows: Iterable[Mapping[str, Any]], where: str, cache: HubImageCache
    ) -> Iterator[Sample]:
        for number, row in enumerate(rows):
            sid = str(row.get("id"))
            at = f"MMMU: {where} row {number} (id {sid})"
            try:
                sample = self._sample(sid, row, cache)
            except ValueError as exc:
                self.bad_record(sid, f"{at}: {exc}")
                continue
            yield sample

    def _sample(self, sid: str, row: Mapping[str, Any], cache: HubImageCache) -> Sample:
        """One question; ValueError says what is wrong with the row."""
        subject = "_".join(sid.split("_")[1:-1])  # main_eval_only.py's reading of the id
        if subject not in SUBJECTS:
            raise ValueError(f"id does not name an MMMU subject ('{subject}')")
        qtype = str(row.get("question_type"))
        images = [cache.path_for(row[c], f"{sid}_{c}.png") for c in IMAGE_COLUMNS if row.get(c)]
        if not images or None in images:
            raise ValueError("has no readable image (image_1 .. image_7)")
        data: dict[str, Any] = {
            "subject": subject,
            "question_type": qtype,
            "question": str(row.get("question")),
            "images": [str(p) for p in images],
        }
        if qtype == "multiple-choice":
            options = _literal(row.get("options"), "options")
            index2ans, all_choices = choice_info([str(o) for o in options])
            if row.get("answer") not in all_choices:
                raise ValueError(f"answer {row.get('answer')!r} is not one of {all_choices}")
            data.update(gold=row["answer"], index2ans=index2ans, all_choices=all_choices)
        else:
            data["gold"] = _gold(row.get("answer"))
        return Sample(id=sid, data=data, category=subject)

    # -- scoring ------------------------------------------------------------------------------
    def request(self, sample: Sample) -> UnderstandRequest:
        d = sample.data
        images = tuple(d["images"])
        if d["question_type"] == "multiple-choice":
            options = option_lines(d["index2ans"])
            req = self.build_request(images, hint="", question=d["question"], options=options)
        else:
            req = self.build_request(
                images, template="open_prompt_template", question=d["question"]
            )
        # `<image>` stands for all of the question's images
        return dataclasses.replace(
            req, prompt=req.prompt.replace("<image>", "<image>" * len(images), 1)
        )

    def score(self, sample: Sample, response: str) -> dict[str, Any]:
        row = {**sample.data, "response": response}
        parsed, correct = judge(row, fallback_rng(self.seed, sample.id))
        return {
            "subject": sample.data["subject"],
            "question_type": sample.data["question_type"],
            "parsed": parsed,
            "correct": int(correct),
        }

    def aggregate(self, scored: Sequence[dict[str, Any]]) -> Metrics:
        out = mmmu_accuracy((s["subject"], s["correct"]) for s in scored)
        metrics: Metrics = {
            "accuracy": 100 * out["overall"],
            "per_subject": {k: 100 * v for k, v in out["per_subject"].items()},
            "per_discipline": {k: 100 * v for k, v in out["per_discipline"].items()},
        }
        return self.with_counts(metrics, scored)


def _literal(value: Any, what: str) -> list:
    """A list written as a Python literal (MMMU stores `options` so; the official code
    `eval()`s it, here it is parsed without running anything)."""
    if isinstance(value, list):
        return value
    try:
        parsed = ast.literal_eval(str(value))
    except (ValueError, SyntaxError):
        raise ValueError(f"{what} {str(value)[:60]!r} is not a list literal") from None
    if not isinstance(parsed, list):
        raise ValueError(f"{what} {str(value)[:60]!r} is not a list")
    return parsed


def _gold(answer: Any) -> str | list[str]:
    """An open question's answer; one written as a list literal ("['24/7', '3.429']", as the
    dataset stores the three with several right answers) is that list, as the official
    answer_dict_val.json has it."""
    text = "" if answer is None else str(answer)
    if text.startswith("[") and text.endswith("]"):
        try:
            return [str(a) for a in _literal(text, "answer")]
        except ValueError:
            pass
    return text
