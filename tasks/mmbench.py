"""MMBench (Liu et al., 2023): multiple-choice questions with CircularEval, scored without an LLM
judge exactly as VLMEvalKit's exact matching (`janus_eval.metrics.mcq`, at the revision the `scorer`
option names). Dev is scored here; test writes the prediction file the MMBench server takes."""

from __future__ import annotations

import logging
import string
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from janus_eval.metrics.mcq import (
    DEFAULT_SCORER,
    MMB_ABBRS,
    REVISIONS,
    accuracy_by,
    circular_eval,
    circular_group,
    extract_choice,
    percent,
)
from janus_eval.registry import register_task
from janus_eval.types import Metrics, Sample, UnderstandRequest, UserError

from ._hub import load_table, progress, undecoded_images
from ._records import decode_base64_image, field_problem, is_missing
from ._understanding import UnderstandingTask, common_options, prose, scorer_help

log = logging.getLogger("janus_eval")

#: Janus recipe (VLMEvalKit vlmeval/vlm/janus.py `build_prompt`, MCQ branch): the image, "\n",
#: the hint as "Hint: ...\n" when there is one, the question, one "X. option" line per option, a
#: blank line and the instruction.
MCQ_TEMPLATE = "<image>\n{hint}{question}\n{options}\nAnswer with the option's letter from the given choices directly."  # noqa: E501
#: VLMEvalKit ImageBaseDataset: an image cell this short names the row whose image it shares.
IMAGE_REF_MAX_LEN = 64


@register_task
class MMBench(UnderstandingTask):
    name = "mmbench"
    version = "1"
    primary_metric = "accuracy"
    metric_names = (
        "accuracy",
        "per_category",
        "per_l2_category",
        "n_questions",
        "n_rows",
        "n_skipped_records",
    )
    #: CircularEval accuracy is a mean over questions of an all-rotations-right flag that only
    #: exists once every rotation is scored, so there is no per-sample field to bootstrap.
    sample_metrics: dict[str, tuple[str, float]] = {}
    splits = ("dev", "test")
    prompt_fields = ("hint", "question", "options")
    scorers = REVISIONS
    #: Numbers from different VLMEvalKit revisions never share a leaderboard column.
    leaderboard_keys = ("scorer",)
    data_help = prose(
        """
        MMBench reads VLMEvalKit's TSV MMBench_<DEV|TEST>_<EN|CN>.tsv (columns index, question,
        hint, A-D, answer, category, l2-category, image as base64; an image of 64 characters or
        fewer names the row whose image it shares; rotated CircularEval copies have index +
        k*1000000) from --data-dir (or --data-dir pointing at the .tsv itself); get it from
        https://opencompass.openxlab.space/utils/VLMEval/MMBench_DEV_EN.tsv (DEV_CN, TEST_EN,
        TEST_CN likewise). Without --data-dir it reads the Hugging Face dataset lmms-lab/MMBench
        (config en/cn, split dev/test; --task-option source=NAME_OR_LOCAL_DIR). Options:
        split=dev|test, lang=en|cn. --limit counts questions, each with all its rotations.
        split=test writes mmbench_test_<lang>_submission.xlsx in the run directory (all columns
        but image, plus prediction) for the MMBench server; when openpyxl is not installed it
        writes the same columns as .tsv instead (pip install openpyxl for the .xlsx).
        """,
        scorer_help(REVISIONS),
    )

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        options = common_options("dev", "lmms-lab/MMBench", MCQ_TEMPLATE, max_new_tokens=128)
        return {**options, "lang": "en", "scorer": DEFAULT_SCORER}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.options["lang"] not in ("en", "cn"):
            raise UserError("mmbench: lang must be 'en' or 'cn'")

    @property
    def tsv_name(self) -> str:
        return f"MMBench_{self.options['split'].upper()}_{self.options['lang'].upper()}.tsv"

    # -- reading ------------------------------------------------------------------------------
    def take(self, reader: Iterator[Sample], limit: int | None) -> list[Sample]:
        """--limit counts questions: the first `limit` of them, each with all its rotations."""
        rows = list(reader)
        if limit is None:
            return rows
        groups = list(dict.fromkeys(circular_group(s.data["index"]) for s in rows))[:limit]
        wanted = set(groups)
        return [s for s in rows if circular_group(s.data["index"]) in wanted]

    def read_files(self, data_dir: Path) -> Iterator[Sample]:
        import pandas as pd

        path = data_dir if data_dir.is_file() else data_dir / self.tsv_name
        if not path.is_file():
            raise UserError(f"MMBench: {path} not found. {self.data_help}")
        try:
            # Exactly VLMEvalKit's loader (smp `load_tsv`), so its NaN handling is ours too.
            table = pd.read_csv(path, sep="\t")
        except (
            pd.errors.ParserError,
            pd.errors.EmptyDataError,
            UnicodeDecodeError,
            OSError,
        ) as exc:
            raise UserError(f"MMBench: cannot read {path} as TSV ({exc})") from None
        table.columns = [_column(c) for c in table.columns]
        yield from self._rows(table.to_dict("records"), str(path))

    def read_hub(self) -> Iterator[Sample]:
        source = self.options["source"]
        what = f"MMBench ({source})"
        table = undecoded_images(
            load_table(source, self.options["split"], what=what, config=self.options["lang"])
        )
        records = (
            {_column(k): v for k, v in row.items()}
            for row in progress(table, len(table), "reading MMBench")
        )
        yield from self._rows(records, f"{what} split {self.options['split']}")

    def _rows(self, records, where: str) -> Iterator[Sample]:
        """Validate rows and resolve images (base64, short references, or hub image cells)."""
        records = list(records)
        for col in ("index", "question", "image"):
            if records and col not in records[0]:
                raise UserError(f"MMBench: {where} has no {col!r} column. {self.data_help}")
        if self.options["split"] == "dev" and records and "answer" not in records[0]:
            raise UserError(
                f"MMBench: {where} has no 'answer' column, so it cannot be scored as split=dev; "
                "test-split files have no answers: pass --task-option split=test to write the "
                "submission file instead"
            )
        by_index = {str(r["index"]): r["image"] for r in records}
        decoded: dict[str, bytes] = {}
        seen: set[str] = set()
        for number, rec in enumerate(records):
            sid = str(rec["index"])
            at = f"MMBench: {where} row {number + 1} (index {sid})"
            if self.repeated(sid, seen, f"{at}: index appears twice"):
                continue
            problem = field_problem(rec, question="text")
            if problem:
                self.bad_record(sid, f"{at}: {problem}")
                continue
            try:
                index = int(rec["index"])
            except (TypeError, ValueError):
                self.bad_record(sid, f"{at}: index is not an integer")
                continue
            image, problem = self._image(sid, rec["image"], by_index, decoded)
            if problem:
                self.bad_record(sid, f"{at}: {problem}")
                continue
            choices = {
                c: str(rec[c])
                for c in string.ascii_uppercase
                if c in rec and not is_missing(rec[c])
            }
            if not choices:
                self.bad_record(sid, f"{at}: no options (columns A, B, ...)")
                continue
            answer = rec.get("answer")
            answer = None if is_missing(answer) else str(answer).strip()
            if self.options["split"] == "dev" and answer not in choices:
                self.bad_record(
                    sid, f"{at}: answer {answer!r} is not one of the options {sorted(choices)}"
                )
                continue
            hint = rec.get("hint")
            yield Sample(
                id=sid,
                data={
                    "index": index,
                    "question": str(rec["question"]),
                    "hint": None if is_missing(hint) else str(hint),
                    "choices": choices,
                    "answer": answer,
                    "category": _text(rec.get("category")),
                    "l2_category": _text(rec.get("l2-category")),
                    "image": image,
                    "row": {k: _plain(v) for k, v in rec.items() if k != "image"},
                },
                category=_text(rec.get("category")),
            )

    @staticmethod
    def _image(
        sid: str, value: Any, by_index: dict[str, Any], decoded: dict[str, bytes]
    ) -> tuple[Any, str | None]:
        """(image for the request, problem or None). TSV cells are base64 or a reference to
        another row's index (decoded once per owning row); hub cells are undecoded
        {'bytes', 'path'} dicts."""
        if isinstance(value, dict):
            data = value.get("bytes")
            if data:
                return data, None
            if value.get("path") and Path(value["path"]).is_file():
                return value["path"], None
            return None, "image cell has neither bytes nor a readable path"
        if is_missing(value):
            return None, "has no image"
        text, owner = str(value), None
        if len(text) <= IMAGE_REF_MAX_LEN:
            owner = text
            target = by_index.get(owner)
            if target is None or is_missing(target) or len(str(target)) <= IMAGE_REF_MAX_LEN:
                return None, (
                    f"image {text!r} is a reference to index {owner}, which has no "
                    "base64 image of its own in the file"
                )
            text = str(target)
        key = owner or sid
        if key not in decoded:
            try:
                decoded[key] = decode_base64_image(text)
            except ValueError as exc:
                where = f" (the image of index {owner})" if owner else ""
                return None, f"broken base64 image{where}: {exc}"
        return decoded[key], None

    # -- scoring ------------------------------------------------------------------------------
    def request(self, sample: Sample) -> UnderstandRequest:
        d = sample.data
        options = "".join(f"{k}. {v}\n" for k, v in d["choices"].items())
        hint = f"Hint: {d['hint']}\n" if d["hint"] is not None else ""
        return self.build_request(d["image"], hint=hint, question=d["question"], options=options)

    def score(self, sample: Sample, response: str) -> dict[str, Any]:
        d = sample.data
        pred = extract_choice(response, d["choices"], scorer=self.scorer.name)
        out = {
            "index": d["index"],
            "category": d["category"],
            "l2_category": d["l2_category"],
            "answer": d["answer"],
            "pred": pred,
            "hit": None if d["answer"] is None else int(pred == d["answer"]),
            "prediction": response,
        }
        if self.options["split"] == "test":  # finalize (also after a shard merge) needs it
            out["row"] = d["row"]
        return out

    def aggregate(self, scored: Sequence[dict[str, Any]]) -> Metrics:
        metrics: Metrics = {}
        if self.options["split"] == "dev":
            hits = circular_eval((s["index"], s["pred"], s["answer"]) for s in scored)
            mains = {s["index"]: s for s in scored if s["index"] in hits}
            order = list(hits)
            flags = [hits[g] for g in order]
            if flags:
                metrics["accuracy"] = percent(flags)
                metrics["per_category"] = accuracy_by(flags, [mains[g]["category"] for g in order])
                metrics["per_l2_category"] = accuracy_by(
                    flags, [mains[g]["l2_category"] for g in order], MMB_ABBRS
                )
            metrics["n_questions"] = len(flags)
        metrics["n_rows"] = len(scored)
        return self.with_skips(metrics)

    def finalize(self, run_dir: Path, samples: Sequence[Sample], scored: Sequence[dict]) -> None:
        """split=test: the prediction file for the MMBench server (VLMEvalKit's layout: the TSV
        columns without the image, plus the raw `prediction`). Reads only the stored scores, so
        it works the same after `janus-eval merge`."""
        if self.options["split"] != "test":
            return
        import pandas as pd

        table = pd.DataFrame([{**r["row"], "prediction": r["prediction"]} for r in scored])
        stem = run_dir / f"mmbench_test_{self.options['lang']}_submission"
        try:
            import openpyxl  # noqa: F401
        except ImportError:
            path = stem.with_suffix(".tsv")
            table.to_csv(path, sep="\t", index=False)
            log.warning(
                "openpyxl is not installed: wrote %s (the MMBench server wants .xlsx; "
                "pip install openpyxl, or open the TSV and save it as .xlsx)",
                path,
            )
            return
        path = stem.with_suffix(".xlsx")
        table.to_excel(path, index=False)
        log.info("MMBench submission written to %s", path)


def _column(name: Any) -> str:
    """VLMEvalKit lower-cases every column name except option letters (the hub copy spells
    'L2-category')."""
    name = str(name)
    return name if name in string.ascii_uppercase else name.lower()


def _text(value: Any) -> str:
    return "none" if is_missing(value) else str(value)


def _plain(value: Any) -> Any:
    """JSON/Excel-friendly cell: NaN -> None, numpy scalars -> Python."""
    if is_missing(value):
        return None
    return value.item() if hasattr(value, "item") else value
