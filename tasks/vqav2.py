"""VQAv2 (Goyal et al., 2017): open-ended questions on COCO images. The val split is scored here
with the official accuracy (`janus_eval.metrics.vqa`, at the revision the `scorer` option names);
test-dev and test write the submission file the EvalAI server takes, which must answer every
test2015 question (test-dev is a subset of test2015), so it is padded with "" from the full
test2015 question list wherever the run's data came from."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from janus_eval.metrics.vqa import (
    DEFAULT_SCORER,
    REVISIONS,
    evalai_answer_processor,
    vqa_accuracy,
    vqa_summary,
)
from janus_eval.registry import register_task
from janus_eval.store import atomic_write_text
from janus_eval.types import Metrics, Sample, UnderstandRequest, UserError

from ._hub import HubImageCache, load_column, load_table, progress, undecoded_images
from ._records import field_problem, find_file, image_dirs, locate_image, read_json
from ._understanding import (
    COUNTS,
    SHORT_ANSWER_TEMPLATE,
    UnderstandingTask,
    common_options,
    prose,
    scorer_help,
)

log = logging.getLogger("janus_eval")

QUESTION_FILES = {
    "val": "v2_OpenEnded_mscoco_val2014_questions.json",
    "testdev": "v2_OpenEnded_mscoco_test-dev2015_questions.json",
    "test": "v2_OpenEnded_mscoco_test2015_questions.json",
}
ANNOTATION_FILE = "v2_mscoco_val2014_annotations.json"
#: split -> (COCO image folder, file name prefix); test-dev images are part of test2015.
IMAGES = {
    "val": ("val2014", "COCO_val2014_"),
    "testdev": ("test2015", "COCO_test2015_"),
    "test": ("test2015", "COCO_test2015_"),
}
HUB_SPLITS = {"val": "validation", "testdev": "testdev", "test": "test"}
JSON_SUBDIRS = ("", "questions", "annotations", "Questions", "Annotations")
N_ANSWERS = 10


@register_task
class VQAv2(UnderstandingTask):
    name = "vqav2"
    version = "1"
    primary_metric = "accuracy"
    metric_names = ("accuracy", "per_answer_type", "per_question_type", *COUNTS)
    sample_metrics = {"accuracy": ("accuracy", 100.0)}
    splits = ("val", "testdev", "test")
    scorers = REVISIONS
    #: Numbers from different official scorer revisions never share a leaderboard column.
    leaderboard_keys = ("scorer",)
    data_help = prose(
        """
        VQAv2 reads the official files from --data-dir (or its questions/ and annotations/
        subfolders): v2_OpenEnded_mscoco_val2014_questions.json with
        v2_mscoco_val2014_annotations.json (split=val),
        v2_OpenEnded_mscoco_test-dev2015_questions.json (split=testdev) or
        v2_OpenEnded_mscoco_test2015_questions.json (split=test), from visualqa.org/download.html;
        images COCO_val2014_<id:012d>.jpg / COCO_test2015_<id:012d>.jpg (cocodataset.org) in
        --data-dir, its val2014/ or test2015/, images/..., or --task-option image_dir=DIR. Without
        --data-dir it reads the Hugging Face dataset lmms-lab/VQAv2 (splits
        validation/testdev/test; --task-option source=NAME_OR_LOCAL_DIR), writing its images once
        under $JANUS_EVAL_CACHE (~/.cache/janus-eval). val is scored locally; testdev/test write
        vqav2_<split>_submission.json in the run directory for eval.ai, padded with "" to every
        test2015 question id as EvalAI expects; the id list comes from --task-option
        test_questions=PATH (v2_OpenEnded_mscoco_test2015_questions.json, in
        v2_Questions_Test_mscoco.zip from visualqa.org), else that file in --data-dir, else the
        question_id column of the source dataset's test split (lmms-lab/VQAv2's test split is all
        447,793 test2015 questions; only that column is read, streamed).
        """,
        scorer_help(REVISIONS),
    )

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        options = common_options("val", "lmms-lab/VQAv2", SHORT_ANSWER_TEMPLATE, max_new_tokens=16)
        return {
            **options,
            "image_dir": "",
            "scorer": DEFAULT_SCORER,
            # The official test2015 question file; pads test-dev/test submissions.
            "test_questions": "",
            # Answer written to submission files: "evalai" = processed by the EvalAI answer
            # processor as lmms-eval and LLaVA submit it; "raw" = the model's text.
            "submission_answer": "evalai",
        }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.options["submission_answer"] not in ("evalai", "raw"):
            raise UserError("vqav2: submission_answer must be 'evalai' or 'raw'")
        self._data_dir: Path | None = None
        #: Every question id the evaluation server expects (test-dev and test), else None.
        self._server_ids: list[int] | None = None

    @property
    def scored_locally(self) -> bool:
        return self.options["split"] == "val"

    # -- reading ------------------------------------------------------------------------------
    def samples(self, data_dir: Path | None, limit: int | None) -> list[Sample]:
        self._data_dir = data_dir
        out = super().samples(data_dir, limit)
        if not self.scored_locally:  # fail before any answer is computed, not after
            self._server_ids = self.server_question_ids()
        return out

    def server_question_ids(self) -> list[int]:
        """Every test2015 question id, which a test-dev or test submission must answer: from
        the test_questions option, else the test2015 question file in the data directory, else
        the source dataset's test split (its question_id column only)."""
        given = self.options["test_questions"]
        path = Path(given).expanduser() if given else None
        if path is None and self._data_dir is not None:
            path = find_file(self._data_dir, [QUESTION_FILES["test"]], JSON_SUBDIRS)
            if path is None:
                raise UserError(
                    f"VQAv2 split={self.options['split']}: the EvalAI server wants an answer for "
                    f"every test2015 question, but {QUESTION_FILES['test']} is not in "
                    f"{self._data_dir}. Put it there (v2_Questions_Test_mscoco.zip from "
                    "visualqa.org/download.html) or pass --task-option test_questions=PATH."
                )
        if path is not None:
            if not path.is_file():
                raise UserError(f"VQAv2: test_questions {path} is not a file")
            questions = _records(
                read_json(path, what="VQAv2 test2015 questions"), "questions", path
            )
            return [int(q["question_id"]) for q in questions]
        source = self.options["source"]
        try:
            ids = load_column(source, HUB_SPLITS["test"], "question_id", what=f"VQAv2 ({source})")
        except UserError as exc:
            raise UserError(
                f"{exc} VQAv2 split={self.options['split']} needs every test2015 question id "
                "for the submission: pass --task-option test_questions=PATH to "
                f"{QUESTION_FILES['test']} (v2_Questions_Test_mscoco.zip from visualqa.org)."
            ) from None
        return [int(i) for i in ids]

    def read_files(self, data_dir: Path) -> Iterator[Sample]:
        split = self.options["split"]
        q_path = find_file(data_dir, [QUESTION_FILES[split]], JSON_SUBDIRS)
        if q_path is None:
            raise UserError(
                f"VQAv2: {QUESTION_FILES[split]} not found in {data_dir}. {self.data_help}"
            )
        questions = _records(read_json(q_path, what="VQAv2 questions"), "questions", q_path)
        annotations: dict[Any, dict] = {}
        a_path = None
        if self.scored_locally:
            a_path = find_file(data_dir, [ANNOTATION_FILE], JSON_SUBDIRS)
            if a_path is None:
                raise UserError(
                    f"VQAv2: {ANNOTATION_FILE} not found in {data_dir} (needed to "
                    f"score split=val). {self.data_help}"
                )
            for ann in _records(read_json(a_path, what="VQAv2 annotations"), "annotations", a_path):
                if isinstance(ann, dict) and "question_id" in ann:
                    annotations.setdefault(ann["question_id"], ann)
        folder, prefix = IMAGES[split]
        dirs = image_dirs(data_dir, self.options["image_dir"], folder)
        seen: set[str] = set()
        for number, q in enumerate(questions):
            where = f"VQAv2: {q_path} question #{number}"
            if not isinstance(q, dict) or not all(
                k in q for k in ("question_id", "image_id", "question")
            ):
                self.bad_record(f"record{number}", f"{where} lacks question_id/image_id/question")
                continue
            problem = field_problem(q, question_id="int", question="text")
            if problem:
                self.bad_record(f"record{number}", f"{where}: {problem}")
                continue
            sid = str(q["question_id"])
            where = f"VQAv2: {q_path} question_id {sid}"
            if self.repeated(sid, seen, f"{where} appears twice"):
                continue
            ann = None
            if self.scored_locally:
                ann = annotations.get(q["question_id"])
                if ann is None:
                    self.bad_record(sid, f"VQAv2: {a_path} has no annotation for question_id {sid}")
                    continue
                problem = _answers_problem(ann.get("answers"))
                if problem:
                    self.bad_record(sid, f"VQAv2: {a_path} question_id {sid}: {problem}")
                    continue
            if not isinstance(q["image_id"], int):
                self.bad_record(sid, f"{where}: image_id {q['image_id']!r} is not an integer")
                continue
            name = f"{prefix}{q['image_id']:012d}.jpg"
            image = locate_image(name, dirs)
            if image is None:
                self.bad_record(
                    sid, f"{where}: image {name} not found in {', '.join(str(d) for d in dirs)}"
                )
                continue
            yield self._sample(q, ann, image)

    def read_hub(self) -> Iterator[Sample]:
        split = self.options["split"]
        source = self.options["source"]
        what = f"VQAv2 ({source})"
        table = undecoded_images(load_table(source, HUB_SPLITS[split], what=what))
        cache = HubImageCache(source, HUB_SPLITS[split])
        prefix = IMAGES[split][1]
        seen: set[str] = set()
        for number, row in enumerate(progress(table, len(table), "reading VQAv2")):
            sid = str(row.get("question_id"))
            where = f"{what} split {HUB_SPLITS[split]} record {number} (question_id {sid})"
            if self.repeated(sid, seen, f"{where}: duplicated question id"):
                continue
            problem = field_problem(row, question_id="int", question="text")
            if problem:
                self.bad_record(sid, f"{where}: {problem}")
                continue
            if self.scored_locally:
                problem = _answers_problem(row.get("answers"))
                if problem:
                    self.bad_record(sid, f"{where}: {problem}")
                    continue
            image = cache.path_for(row.get("image"), f"{prefix}{int(row['image_id']):012d}.jpg")
            if image is None:
                self.bad_record(sid, f"{where} has no image")
                continue
            yield self._sample(row, row if self.scored_locally else None, image)

    @staticmethod
    def _sample(question: dict, ann: dict | None, image: Path) -> Sample:
        data = {
            "question_id": int(question["question_id"]),
            "question": question["question"],
            "image": str(image),
        }
        if ann is not None:
            data.update(
                answers=[a["answer"] for a in ann["answers"]],
                answer_type=ann.get("answer_type"),
                question_type=ann.get("question_type"),
            )
        return Sample(id=str(question["question_id"]), data=data, category=data.get("answer_type"))

    # -- scoring ------------------------------------------------------------------------------
    def request(self, sample: Sample) -> UnderstandRequest:
        return self.build_request(sample.data["image"], question=sample.data["question"])

    def score(self, sample: Sample, response: str) -> dict[str, Any]:
        out: dict[str, Any] = {"question_id": sample.data["question_id"]}
        if self.scored_locally:
            out.update(
                accuracy=vqa_accuracy(response, sample.data["answers"], scorer=self.scorer.name),
                answer_type=sample.data["answer_type"],
                question_type=sample.data["question_type"],
            )
        else:
            raw = self.options["submission_answer"] == "raw"
            out["submission_answer"] = response if raw else evalai_answer_processor(response)
        return out

    def aggregate(self, scored: Sequence[dict[str, Any]]) -> Metrics:
        metrics: Metrics = {}
        if self.scored_locally:
            metrics = vqa_summary(
                [s["accuracy"] for s in scored],
                [s["answer_type"] for s in scored],
                [s["question_type"] for s in scored],
            )
        return self.with_counts(metrics, scored)

    def finalize(self, run_dir: Path, samples: Sequence[Sample], scored: Sequence[dict]) -> None:
        """Write the EvalAI submission: every test2015 question id, "" for any without an
        answer (skipped records, the test2015 ids outside test-dev, and those past --limit)."""
        if self.scored_locally:
            return
        answers = {int(s["question_id"]): s["submission_answer"] for s in scored}
        for sid, _ in self.skipped:
            if sid.isdigit():
                answers.setdefault(int(sid), "")
        expected = self._server_ids
        if expected is None:  # `janus-eval merge` does not always re-read the data
            try:
                expected = self.server_question_ids()
            except UserError as exc:
                log.warning("VQAv2 submission NOT padded to every test2015 id: %s", exc)
                expected = []
        padded = 0
        for qid in expected:
            if qid not in answers:
                answers[qid] = ""
                padded += 1
        entries = [{"question_id": qid, "answer": ans} for qid, ans in answers.items()]
        path = run_dir / f"vqav2_{self.options['split']}_submission.json"
        atomic_write_text(path, json.dumps(entries))
        log.info(
            "VQAv2 submission with %d answers (%d padded test2015 ids, %d skipped records) "
            "written to %s",
            len(entries),
            padded,
            len(self.skipped),
            path,
        )


def _records(doc: Any, key: str, path: Path) -> list:
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        raise UserError(f"VQAv2: {path} has no '{key}' list; is it an official VQAv2 {key} file?")
    return doc[key]


def _answers_problem(answers: Any) -> str | None:
    if not isinstance(answers, list):
        return "annotation has no answers list"
    if len(answers) != N_ANSWERS:
        return f"annotation has {len(answers)} answers, VQAv2 has exactly {N_ANSWERS}"
    if not all(isinstance(a, dict) and isinstance(a.get("answer"), str) for a in answers):
        return "an answer lacks its 'answer' text"
    return None
