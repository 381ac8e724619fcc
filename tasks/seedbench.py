"""SEED-Bench (Li et al., 2023), image dimensions 1-9: four-option multiple choice, scored as
VLMEvalKit scores SEEDBench_IMG (`janus_eval.metrics.seedbench`), overall and per dimension."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from janus_eval.metrics.mcq import DEFAULT_SCORER, REVISIONS
from janus_eval.metrics.seedbench import (
    DIMENSIONS,
    QUESTION_TYPES,
    seedbench_accuracy,
    seedbench_letter,
)
from janus_eval.registry import register_task
from janus_eval.types import Metrics, Sample, UnderstandRequest, UserError

from ._hub import HubImageCache, load_table, progress, undecoded_images
from ._records import find_file, image_dirs, read_json
from ._understanding import (
    COUNTS,
    UnderstandingTask,
    common_options,
    option_lines,
    prose,
    scorer_help,
)
from .mmbench import MCQ_TEMPLATE

QUESTION_FILES = ("SEED-Bench.json", "SEED-Bench_v1.json")
FIELDS = ("question_id", "question", "answer", "question_type_id", "data_id")


@register_task
class SEEDBench(UnderstandingTask):
    name = "seedbench"
    version = "1"
    primary_metric = "accuracy"
    metric_names = ("accuracy", "per_dimension", *COUNTS)
    sample_metrics = {"accuracy": ("hit", 100.0)}
    splits = ("test",)
    prompt_fields = ("hint", "question", "options")
    #: The VLMEvalKit revision that reads the letter; in the run id, so revisions never mix.
    scorers = REVISIONS
    data_help = prose(
        """
        SEED-Bench reads SEED-Bench.json (its 'questions' list: question_id, question,
        choice_a..choice_d, answer, question_type_id, data_id, data_type) from --data-dir and the
        images it names (data_id) from --data-dir, its SEED-Bench-image/ or images/, or
        --task-option image_dir=DIR; both from huggingface.co/datasets/AILab-CVC/SEED-Bench
        (SEED-Bench.json, SEED-Bench-image.zip). Only image questions are used (dimensions 1-9;
        the video dimensions 10-12 are skipped). Without --data-dir it reads the Hugging Face
        dataset lmms-lab/SEED-Bench (split test; --task-option source=NAME_OR_LOCAL_DIR).
        """,
        scorer_help(REVISIONS),
    )

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        options = common_options("test", "lmms-lab/SEED-Bench", MCQ_TEMPLATE, max_new_tokens=128)
        return {**options, "image_dir": "", "scorer": DEFAULT_SCORER}

    # -- reading ------------------------------------------------------------------------------
    def read_files(self, data_dir: Path) -> Iterator[Sample]:
        path = find_file(data_dir, QUESTION_FILES)
        if path is None:
            raise UserError(
                f"SEED-Bench: SEED-Bench.json not found in {data_dir}. {self.data_help}"
            )
        doc = read_json(path, what="SEED-Bench questions")
        questions = doc.get("questions") if isinstance(doc, dict) else doc
        if not isinstance(questions, list):
            raise UserError(f"SEED-Bench: {path} has no 'questions' list; is it SEED-Bench.json?")
        dirs = [
            *image_dirs(data_dir, self.options["image_dir"], "SEED-Bench-image"),
            data_dir / "seed_bench_image",
        ]
        seen: set[str] = set()
        for number, q in enumerate(questions):
            where = f"SEED-Bench: {path} question #{number}"
            if not isinstance(q, dict) or any(k not in q for k in FIELDS):
                self.bad_record(f"record{number}", f"{where} lacks one of {', '.join(FIELDS)}")
                continue
            sid = str(q["question_id"])
            where = f"SEED-Bench: {path} question_id {sid}"
            if not self._is_image_question(q, where):
                continue
            image = self.find_image(str(q["data_id"]), dirs, sid, where)
            if image is None:
                continue
            sample = self._sample(q, image, where, seen)
            if sample is not None:
                yield sample

    def read_hub(self) -> Iterator[Sample]:
        source = self.options["source"]
        what = f"SEED-Bench ({source})"
        table = undecoded_images(load_table(source, "test", what=what))
        missing = {*FIELDS, "image", "choice_a"} - set(table.column_names)
        if missing:
            raise UserError(
                f"{what}: split 'test' lacks columns {sorted(missing)}; expected "
                "lmms-lab/SEED-Bench's layout"
            )
        cache = HubImageCache(source, "test")
        seen: set[str] = set()
        for row in progress(table, len(table), "reading SEED-Bench"):
            sid = str(row["question_id"])
            where = f"{what} question_id {sid}"
            if not self._is_image_question(row, where):
                continue
            cells = row["image"] if isinstance(row["image"], list) else [row["image"]]
            image = cache.path_for(cells[0], f"{row['data_id']}") if cells else None
            if image is None:
                self.bad_record(sid, f"{where} has no image")
                continue
            sample = self._sample(row, image, where, seen)
            if sample is not None:
                yield sample

    def _is_image_question(self, q: Mapping[str, Any], where: str) -> bool:
        """Image dimensions 1-9 (SEED-Bench eval.py `filter_questions(task='image')`); the
        video dimensions 10-12 are left out; anything else is a bad record."""
        try:
            dimension = int(q["question_type_id"])
        except (TypeError, ValueError):
            dimension = 0
        if dimension in QUESTION_TYPES.values():
            return dimension in DIMENSIONS
        self.bad_record(
            str(q["question_id"]),
            f"{where}: question_type_id {q['question_type_id']!r} is not a SEED-Bench dimension (1-12)",
        )
        return False

    def _sample(
        self, q: Mapping[str, Any], image: Path, where: str, seen: set[str]
    ) -> Sample | None:
        sid = str(q["question_id"])
        if self.repeated(sid, seen, f"{where}: question_id appears twice"):
            return None
        choices = {
            letter: str(q[f"choice_{letter.lower()}"])
            for letter in "ABCD"
            if q.get(f"choice_{letter.lower()}") is not None
        }
        if q["answer"] not in choices:
            self.bad_record(
                sid, f"{where}: answer {q['answer']!r} is not one of the options {sorted(choices)}"
            )
            return None
        dimension = DIMENSIONS[int(q["question_type_id"])]
        return Sample(
            id=sid,
            data={
                "question": str(q["question"]),
                "choices": choices,
                "answer": q["answer"],
                "dimension": dimension,
                "image": str(image),
            },
            category=dimension,
        )

    # -- scoring ------------------------------------------------------------------------------
    def request(self, sample: Sample) -> UnderstandRequest:
        d = sample.data
        return self.build_request(
            d["image"], hint="", question=d["question"], options=option_lines(d["choices"])
        )

    def score(self, sample: Sample, response: str) -> dict[str, Any]:
        d = sample.data
        pred = seedbench_letter(response, d["choices"], scorer=self.scorer.name)
        return {
            "dimension": d["dimension"],
            "answer": d["answer"],
            "pred": pred,
            "hit": int(pred == d["answer"]),
        }

    def aggregate(self, scored: Sequence[dict[str, Any]]) -> Metrics:
        metrics: Metrics = seedbench_accuracy(
            [s["hit"] for s in scored], [s["dimension"] for s in scored]
        )
        return self.with_counts(metrics, scored)
