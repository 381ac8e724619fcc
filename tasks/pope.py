"""POPE (Li et al., 2023): object-hallucination yes/no questions on COCO val2014 images, scored by
the official parser (`janus_eval.metrics.pope`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from janus_eval.metrics.pope import parse_yes_no, pope_metrics
from janus_eval.registry import register_task
from janus_eval.types import Metrics, Sample, UnderstandRequest, UserError

from ._hub import HubImageCache, load_table, progress, undecoded_images
from ._records import field_problem, image_dirs, iter_json_lines, locate_image
from ._understanding import SHORT_ANSWER_TEMPLATE, UnderstandingTask, common_options, prose

SPLITS = ("random", "popular", "adversarial")
_METRICS = ("accuracy", "precision", "recall", "f1", "yes_ratio")


@register_task
class POPE(UnderstandingTask):
    name = "pope"
    version = "1"
    primary_metric = "f1"
    metric_names = (*_METRICS, "mean_accuracy", "mean_f1", "n_skipped_records")
    sample_metrics = {"accuracy": ("correct", 100.0), "yes_ratio": ("pred_yes", 100.0)}
    splits = (*SPLITS, "all")
    data_help = prose(
        """
        POPE reads the official question files coco_pope_random.json, coco_pope_popular.json,
        coco_pope_adversarial.json (JSON lines: question_id, image, text, label; from
        github.com/RUCAIBox/POPE, output/coco/) from --data-dir, and the COCO val2014 images they
        name (COCO_val2014_*.jpg, from cocodataset.org) from --data-dir, its val2014/,
        images/val2014/ or images/, or --task-option image_dir=DIR. Without --data-dir it reads
        the Hugging Face dataset lmms-lab/POPE (--task-option source=NAME_OR_LOCAL_DIR; split
        'test', one 'category' per POPE split). --task-option split=random|popular|adversarial|all
        (all: pooled plus per split; question ids restart in each file, so sample ids become
        '<split>/<question_id>').
        """
    )

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        options = common_options("all", "lmms-lab/POPE", SHORT_ANSWER_TEMPLATE, max_new_tokens=128)
        # lmms_eval_metrics: also report lmms-eval's exact-match parser (under "lmms_eval").
        return {**options, "image_dir": "", "lmms_eval_metrics": False}

    @property
    def wanted_splits(self) -> tuple[str, ...]:
        split = self.options["split"]
        return SPLITS if split == "all" else (split,)

    def _sample_id(self, split: str, question_id: Any) -> str:
        return f"{split}/{question_id}" if self.options["split"] == "all" else str(question_id)

    # -- reading ------------------------------------------------------------------------------
    def read_files(self, data_dir: Path) -> Iterator[Sample]:
        dirs = image_dirs(data_dir, self.options["image_dir"], "val2014")
        for split in self.wanted_splits:
            path = data_dir / f"coco_pope_{split}.json"
            if not path.is_file():
                raise UserError(f"POPE: {path} not found. {self.data_help}")
            seen: dict[str, int] = {}
            for line_no, rec in iter_json_lines(path):
                where = f"POPE: {path} line {line_no}"
                if not isinstance(rec, dict):
                    self.bad_record(f"{split}:line{line_no}", f"{where} is not a JSON object")
                    continue
                missing = [k for k in ("question_id", "image", "text", "label") if k not in rec]
                problem = field_problem(rec, question_id="id", image="text", text="text")
                if missing or problem:
                    why = (
                        f"lacks {missing}"
                        if missing
                        else f"(question_id {rec['question_id']!r}): {problem}"
                    )
                    self.bad_record(f"{split}:line{line_no}", f"{where} {why}")
                    continue
                sid = self._sample_id(split, rec["question_id"])
                if sid in seen:
                    self.bad_record(
                        sid,
                        f"{where}: question_id {rec['question_id']} already "
                        f"appeared on line {seen[sid]}",
                    )
                    continue
                seen[sid] = line_no
                if rec["label"] not in ("yes", "no"):
                    self.bad_record(sid, f"{where}: label {rec['label']!r} is not 'yes' or 'no'")
                    continue
                image = locate_image(str(rec["image"]), dirs)
                if image is None:
                    self.bad_record(
                        sid,
                        f"{where} (question_id {rec['question_id']}): image "
                        f"{rec['image']} not found in "
                        f"{', '.join(str(d) for d in dirs)}",
                    )
                    continue
                yield self._sample(sid, split, rec["question_id"], rec["text"], rec["label"], image)

    def read_hub(self) -> Iterator[Sample]:
        source = self.options["source"]
        what = f"POPE ({source})"
        table = undecoded_images(load_table(source, "test", what=what))
        if "category" not in table.column_names:
            raise UserError(
                f"{what}: split 'test' has no 'category' column (columns: "
                f"{', '.join(table.column_names)}); expected lmms-lab/POPE's layout, where "
                "'category' names the POPE split of each record"
            )
        cache = HubImageCache(source, "test")
        wanted = set(self.wanted_splits)
        seen: set[str] = set()
        for row in progress(table, len(table), "reading POPE"):
            split = row.get("category")
            if split not in wanted:
                continue
            sid = self._sample_id(split, row["question_id"])
            where = f"{what} record question_id {row['question_id']} ({split})"
            problem = field_problem(row, question_id="id", question="text")
            if problem:
                self.bad_record(sid, f"{where}: {problem}")
                continue
            if self.repeated(sid, seen, f"{where}: duplicated question id"):
                continue
            label = str(row["answer"]).lower().strip()
            if label not in ("yes", "no"):
                self.bad_record(sid, f"{where}: answer {row['answer']!r} is not yes or no")
                continue
            name = str(row.get("image_source") or f"{split}-{row['question_id']}")
            image = cache.path_for(row["image"], name if name.endswith(".jpg") else name + ".jpg")
            if image is None:
                self.bad_record(sid, f"{where} has no image")
                continue
            yield self._sample(sid, split, row["question_id"], row["question"], label, image)

    @staticmethod
    def _sample(
        sid: str, split: str, question_id: Any, question: str, label: str, image: Path
    ) -> Sample:
        return Sample(
            id=sid,
            data={
                "question_id": question_id,
                "question": question,
                "label": label,
                "split": split,
                "image": str(image),
            },
            category=split,
        )

    # -- scoring ------------------------------------------------------------------------------
    def request(self, sample: Sample) -> UnderstandRequest:
        return self.build_request(sample.data["image"], question=sample.data["question"])

    def score(self, sample: Sample, response: str) -> dict[str, Any]:
        pred = parse_yes_no(response)
        label = sample.data["label"]
        out = {
            "question_id": sample.data["question_id"],
            "split": sample.data["split"],
            "label": label,
            "pred": pred,
            "correct": int(pred == label),
            "pred_yes": int(pred == "yes"),
        }
        if self.options["lmms_eval_metrics"]:
            out["pred_lmms_eval"] = parse_yes_no(response, "lmms-eval")
        return out

    def aggregate(self, scored: Sequence[dict[str, Any]]) -> Metrics:
        metrics: Metrics = _percent(
            pope_metrics([s["pred"] for s in scored], [s["label"] for s in scored])
        )
        if self.options["split"] == "all":
            per_split = {}
            for split in SPLITS:
                rows = [s for s in scored if s["split"] == split]
                if rows:
                    per_split[split] = _percent(
                        pope_metrics([s["pred"] for s in rows], [s["label"] for s in rows])
                    )
            metrics.update(per_split)
            # LLaVA-style summary: the mean over the three splits (not the pooled value).
            metrics["mean_accuracy"] = sum(m["accuracy"] for m in per_split.values()) / len(
                per_split
            )
            metrics["mean_f1"] = sum(m["f1"] for m in per_split.values()) / len(per_split)
        if self.options["lmms_eval_metrics"]:
            metrics["lmms_eval"] = _percent(
                pope_metrics(
                    [s["pred_lmms_eval"] for s in scored],
                    [s["label"] for s in scored],
                    variant="lmms-eval",
                )
            )
        return self.with_skips(metrics)


def _percent(values: dict[str, float]) -> dict[str, float]:
    return {k: 100.0 * v for k, v in values.items()}
