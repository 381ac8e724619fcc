"""GQA (Hudson & Manning, 2019), test-dev balanced: short answers about real images, scored by
exact match after the answer normalisation the published numbers used (`janus_eval.metrics.gqa`,
VLMEvalKit's by default, LLaVA's as `scorer=llava`) with GQA eval.py's aggregation."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from janus_eval.metrics.gqa import SCORERS, gqa_scores, is_correct, normalize_prediction
from janus_eval.registry import register_task
from janus_eval.store import atomic_write_text
from janus_eval.types import Metrics, Sample, UnderstandRequest, UserError

from ._hub import HubImageCache, load_table, progress, undecoded_images
from ._records import find_file, image_dirs, read_json
from ._understanding import COUNTS, UnderstandingTask, common_options, prose

log = logging.getLogger("janus_eval")

#: VLMEvalKit's GQA prompt for Janus: Janus builds custom prompts only for Y/N, MCQ and MM-Vet,
#: so GQA gets ImageVQADataset.build_prompt: the image, the question with no separator, then
#: the short-answer instruction (vlmeval/dataset/image_vqa.py, vlmeval/vlm/janus.py).
GQA_TEMPLATE = "<image>{question}\nAnswer the question using a single word or phrase."


@register_task
class GQA(UnderstandingTask):
    name = "gqa"
    version = "1"
    primary_metric = "accuracy"
    metric_names = ("accuracy", "binary", "open", "per_structural", "per_semantic", *COUNTS)
    sample_metrics = {"accuracy": ("correct", 100.0)}
    leaderboard_keys = ("scorer",)
    splits = ("testdev", "val")
    data_help = prose(
        """
        GQA reads the official question file testdev_balanced_questions.json (split=testdev;
        val_balanced_questions.json for split=val; a dict of question id -> {imageId, question,
        answer, isBalanced, types, ...}) from --data-dir or its questions/, and the images
        <imageId>.jpg from --data-dir, its images/, or --task-option image_dir=DIR; both from
        cs.stanford.edu/people/dorarad/gqa/download.html (questions1.2.zip, images.zip). Only
        balanced questions are scored, as GQA's eval.py does. Without --data-dir it reads the
        Hugging Face dataset lmms-lab/GQA (configs <split>_balanced_instructions and
        <split>_balanced_images; --task-option source=NAME_OR_LOCAL_DIR, a snapshot of it or a
        folder with one save_to_disk folder per config). scorer=vlmevalkit (default; strip +
        lower-case) or llava (trailing periods dropped + lower-case). Writes
        gqa_<split>_balanced_predictions.json (eval.py's format) in the run directory.
        """
    )

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        options = common_options("testdev", "lmms-lab/GQA", GQA_TEMPLATE, max_new_tokens=128)
        return {**options, "image_dir": "", "scorer": "vlmevalkit"}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.options["scorer"] not in SCORERS:
            raise UserError(f"gqa: scorer must be one of {', '.join(SCORERS)}")

    @property
    def question_file(self) -> str:
        return f"{self.options['split']}_balanced_questions.json"

    # -- reading ------------------------------------------------------------------------------
    def read_files(self, data_dir: Path) -> Iterator[Sample]:
        path = find_file(data_dir, [self.question_file], ("", "questions", "questions1.2"))
        if path is None:
            raise UserError(f"GQA: {self.question_file} not found in {data_dir}. {self.data_help}")
        questions = read_json(path, what="GQA questions")
        if not isinstance(questions, dict):
            raise UserError(f"GQA: {path} is not a dict of question id -> question; is it GQA's?")
        dirs = image_dirs(data_dir, self.options["image_dir"], "images")
        for qid, q in questions.items():
            where = f"GQA: {path} question {qid}"
            problem = _problem(q)
            if problem:
                self.bad_record(str(qid), f"{where}: {problem}")
                continue
            if not q["isBalanced"]:
                continue
            image = self.find_image(f"{q['imageId']}.jpg", dirs, str(qid), where)
            if image is None:
                continue
            yield _sample(str(qid), q, image)

    def read_hub(self) -> Iterator[Sample]:
        source, split = self.options["source"], self.options["split"]
        what = f"GQA ({source})"
        questions = _config_table(source, split, f"{split}_balanced_instructions", what)
        images = undecoded_images(_config_table(source, split, f"{split}_balanced_images", what))
        row_of = {str(image_id): n for n, image_id in enumerate(images["id"])}
        cache = HubImageCache(source, f"{split}_balanced")
        for q in progress(questions, len(questions), "reading GQA"):
            qid = str(q.get("id"))
            where = f"{what} {split}_balanced_instructions question {qid}"
            problem = _problem(q)
            if problem:
                self.bad_record(qid, f"{where}: {problem}")
                continue
            if not q["isBalanced"]:
                continue
            row = row_of.get(str(q["imageId"]))
            cell = None if row is None else images[row]["image"]
            image = cache.path_for(cell, f"{q['imageId']}.jpg")
            if image is None:
                self.bad_record(
                    qid, f"{where}: image {q['imageId']} not in {split}_balanced_images"
                )
                continue
            yield _sample(qid, q, image)

    # -- scoring ------------------------------------------------------------------------------
    def request(self, sample: Sample) -> UnderstandRequest:
        return self.build_request(sample.data["image"], question=sample.data["question"])

    def score(self, sample: Sample, response: str) -> dict[str, Any]:
        d, scorer = sample.data, self.options["scorer"]
        return {
            "question_id": sample.id,
            "prediction": normalize_prediction(response, scorer),
            "correct": int(is_correct(response, d["answer"], scorer)),
            "structural": d["structural"],
            "semantic": d["semantic"],
        }

    def aggregate(self, scored: Sequence[dict[str, Any]]) -> Metrics:
        metrics: Metrics = gqa_scores(scored)
        return self.with_counts(metrics, scored)

    def finalize(self, run_dir: Path, samples: Sequence[Sample], scored: Sequence[dict]) -> None:
        """The predictions in eval.py's input format, to check the numbers with GQA's own
        script (`python eval.py --tier <split>_balanced`); normalised by the chosen scorer."""
        entries = [{"questionId": s["question_id"], "prediction": s["prediction"]} for s in scored]
        path = run_dir / f"gqa_{self.options['split']}_balanced_predictions.json"
        atomic_write_text(path, json.dumps(entries))
        log.info("GQA predictions for eval.py written to %s", path)


def _config_table(source: str, split: str, config: str, what: str):
    """One config of lmms-lab/GQA: from the hub or a snapshot of it (configs named in its
    README), or from a local folder holding one `save_to_disk` folder per config."""
    local = Path(source).expanduser() / config
    if local.is_dir():
        return load_table(str(local), split, what=what)
    return load_table(source, split, what=what, config=config)


def _problem(q: Any) -> str | None:
    if not isinstance(q, Mapping):
        return "is not a JSON object"
    missing = [k for k in ("imageId", "question", "answer", "isBalanced", "types") if k not in q]
    if missing:
        return f"lacks {', '.join(missing)}"
    types = q["types"]
    if not isinstance(types, Mapping) or not {"structural", "semantic"} <= set(types):
        return "has no types.structural / types.semantic"
    if not isinstance(q["answer"], str) or not isinstance(q["question"], str):
        return "question and answer must be text"
    return None


def _sample(qid: str, q: Mapping[str, Any], image: Path) -> Sample:
    return Sample(
        id=qid,
        data={
            "question": q["question"],
            "answer": q["answer"],
            "structural": q["types"]["structural"],
            "semantic": q["types"]["semantic"],
            "image": str(image),
        },
        category=q["types"]["structural"],
    )
