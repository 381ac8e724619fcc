"""MME (Fu et al., 2023): yes/no questions in 14 subtasks, two per image, scored by the MME
authors' eval tool (`janus_eval.metrics.mme`): accuracy and accuracy+ per subtask, perception
(MME-P, the number the Janus papers report) and cognition totals."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from janus_eval.metrics.mme import COGNITION, PERCEPTION, SUBTASKS, mme_scores, parse_yes_no
from janus_eval.registry import register_task
from janus_eval.types import Metrics, Sample, UnderstandRequest, UserError

from ._hub import HubImageCache, load_table, progress, undecoded_images
from ._understanding import SHORT_ANSWER_TEMPLATE, UnderstandingTask, common_options, prose

RELEASE = "MME_Benchmark_release_version"
IMAGE_SUFFIXES = (".jpg", ".png", ".jpeg", ".JPG", ".PNG", ".JPEG")
GROUPS = {"perception": PERCEPTION, "cognition": COGNITION, "all": SUBTASKS}


@register_task
class MME(UnderstandingTask):
    name = "mme"
    version = "1"
    primary_metric = "perception"
    metric_names = (
        "perception",
        "cognition",
        "per_category",
        "per_category_acc",
        "per_category_acc_plus",
        "n_questions",
        "n_images",
        "n_other",
        "n_skipped_records",
    )
    #: Scores are per subtask (acc+ needs both questions of an image), not means over samples.
    sample_metrics: dict[str, tuple[str, float]] = {}
    splits = ("test",)
    data_help = prose(
        """
        MME reads the official release folder MME_Benchmark_release_version/ (--data-dir is that
        folder or its parent): one folder per subtask (existence, count, position, color, posters,
        celebrity, scene, landmark, artwork, OCR, commonsense_reasoning, numerical_calculation,
        text_translation, code_reasoning), each holding the images and one <image>.txt per image
        with two lines 'question<TAB>Yes|No', or images/ and questions_answers_YN/ subfolders
        (artwork, celebrity, landmark, posters, scene); get it from the MME authors
        (github.com/BradyFU/Awesome-Multimodal-Large-Language-Models, branch Evaluation) or from
        the Hugging Face dataset. Without --data-dir it reads lmms-lab/MME (split test;
        --task-option source=NAME_OR_LOCAL_DIR). Options:
        subtasks=all|perception|cognition|NAME,NAME,... ; --limit counts images (two questions
        each).
        """
    )

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        options = common_options("test", "lmms-lab/MME", SHORT_ANSWER_TEMPLATE, max_new_tokens=128)
        return {**options, "subtasks": "all"}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        spec = str(self.options["subtasks"])
        names = GROUPS.get(spec) or tuple(s.strip() for s in spec.split(",") if s.strip())
        unknown = [n for n in names if n not in SUBTASKS]
        if unknown or not names:
            raise UserError(
                f"mme: unknown subtask(s) {unknown or [spec]}; subtasks= takes all, perception, "
                f"cognition or names from {', '.join(SUBTASKS)}"
            )
        #: In the tool's order, whatever order they were given in.
        self.subtasks = tuple(s for s in SUBTASKS if s in names)

    # -- reading ------------------------------------------------------------------------------
    def take(self, reader: Iterator[Sample], limit: int | None) -> list[Sample]:
        """--limit counts images, each with both its questions."""
        samples = list(reader)
        if limit is None:
            return samples
        keep = set(list(dict.fromkeys(_image_key(s) for s in samples))[:limit])
        return [s for s in samples if _image_key(s) in keep]

    def read_files(self, data_dir: Path) -> Iterator[Sample]:
        root = data_dir / RELEASE if (data_dir / RELEASE).is_dir() else data_dir
        for name in self.subtasks:
            folder = root / name
            if not folder.is_dir():
                raise UserError(f"MME: subtask folder {folder} not found. {self.data_help}")
            images = folder / "images" if (folder / "images").is_dir() else folder
            questions = folder / "questions_answers_YN" if images != folder else folder
            for txt in sorted(questions.glob("*.txt")):
                yield from self._image_pairs(name, txt, images)

    def _image_pairs(self, name: str, txt: Path, images: Path) -> Iterator[Sample]:
        where = f"MME: {txt}"
        lines = [line for line in txt.read_text(encoding="utf-8").splitlines() if line.strip()]
        if len(lines) != 2:
            self.bad_record(
                f"{name}/{txt.stem}",
                f"{where} has {len(lines)} question line(s); MME has exactly two per image "
                "(the tool scores them together)",
            )
            return
        pairs = [line.strip().split("\t") for line in lines]
        for number, fields in enumerate(pairs, start=1):
            if len(fields) != 2 or fields[1].lower() not in ("yes", "no"):
                self.bad_record(
                    f"{name}/{txt.stem}",
                    f"{where} line {number} is not 'question<TAB>Yes' or 'question<TAB>No'",
                )
                return
        image = _find_image(images, txt.stem)
        if image is None:
            self.bad_record(
                f"{name}/{txt.stem}",
                f"{where}: no image {txt.stem}.jpg/.png in {images}",
            )
            return
        for k, (question, answer) in enumerate(pairs, start=1):
            yield _sample(name, image.name, k, question, answer, image)

    def read_hub(self) -> Iterator[Sample]:
        source = self.options["source"]
        what = f"MME ({source})"
        table = undecoded_images(load_table(source, "test", what=what))
        missing = {"question_id", "question", "answer", "category", "image"} - set(
            table.column_names
        )
        if missing:
            raise UserError(
                f"{what}: split 'test' lacks columns {sorted(missing)}; expected lmms-lab/MME's "
                "layout (question_id = '<subtask>/<image file>', two rows per image)"
            )
        cache = HubImageCache(source, "test")
        groups: dict[str, list[dict]] = {}
        for row in progress(table, len(table), "reading MME"):
            if row["category"] in self.subtasks:
                groups.setdefault(str(row["question_id"]), []).append(row)
        for qid, rows in groups.items():
            where = f"{what} question_id {qid}"
            if len(rows) != 2:
                self.bad_record(qid, f"{where} has {len(rows)} question(s), MME has two per image")
                continue
            if any(str(r["answer"]).lower() not in ("yes", "no") for r in rows):
                self.bad_record(qid, f"{where}: an answer is not Yes or No")
                continue
            image = cache.path_for(rows[0]["image"], qid.replace("/", "__"))
            if image is None:
                self.bad_record(qid, f"{where} has no image")
                continue
            name = qid.split("/")[-1]
            for k, r in enumerate(rows, start=1):
                yield _sample(r["category"], name, k, r["question"], r["answer"], image)

    # -- scoring ------------------------------------------------------------------------------
    def request(self, sample: Sample) -> UnderstandRequest:
        return self.build_request(sample.data["image_path"], question=sample.data["question"])

    def score(self, sample: Sample, response: str) -> dict[str, Any]:
        d = sample.data
        pred = parse_yes_no(response)
        return {
            "category": d["category"],
            "image": d["image"],
            "answer": d["answer"],
            "pred": pred,
            "correct": int(pred == d["answer"].lower()),
        }

    def aggregate(self, scored: Sequence[dict[str, Any]]) -> Metrics:
        # the stored parse is itself a valid prediction ("yes"/"no"/"other" parse to themselves)
        out = mme_scores({**s, "question": "", "prediction": s["pred"]} for s in scored)
        metrics: Metrics = {k: out[k] for k in ("perception", "cognition") if out[k] is not None}
        per = out["per_category"]
        metrics["per_category"] = {k: v["score"] for k, v in per.items()}
        metrics["per_category_acc"] = {k: 100 * v["acc"] for k, v in per.items()}
        metrics["per_category_acc_plus"] = {k: 100 * v["acc_plus"] for k, v in per.items()}
        metrics["n_questions"] = len(scored)
        metrics["n_images"] = len({(s["category"], s["image"]) for s in scored})
        metrics["n_other"] = sum(s["pred"] == "other" for s in scored)
        return self.with_skips(metrics)


def _sample(category: str, image: str, k: int, question: str, answer: str, path: Path) -> Sample:
    return Sample(
        id=f"{category}/{image}#{k}",
        data={
            "category": category,
            "image": image,
            "question": question,
            "answer": str(answer).capitalize(),
            "image_path": str(path),
        },
        category=category,
    )


def _find_image(folder: Path, stem: str) -> Path | None:
    return next((p for s in IMAGE_SUFFIXES if (p := folder / (stem + s)).is_file()), None)


def _image_key(sample: Sample) -> tuple[str, str]:
    return sample.data["category"], sample.data["image"]
