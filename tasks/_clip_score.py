"""CLIP score beside FID (coco30k, mjhq30k): options, per-sample scores, aggregation.

Each generated image is scored against its caption from the same in-memory images the FID
features come from; the per-image scores are stored with the sample ({"clip_scores": [...],
"clip_model": "clip-<weights hash>"}), so a resumed run never recomputes them. The aggregate is
torchmetrics' CLIPScore over every image (janus_eval.metrics.clip_score); MJHQ-30K adds one per
category.

`clip_score` option: "auto" (default) computes it when the CLIP model can be loaded and
otherwise goes on without it, saying so once and recording why in the metrics; "on" makes a
missing model an error before anything is generated; "off" skips it. The option and the model
are recorded but kept out of the run id (they change no FID), so a run resumed with another
setting reuses its images; samples stored without a score (or with another model's) leave the CLIP score out
of the metrics, with the reason, rather than mixing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from janus_eval.types import UserError

log = logging.getLogger("janus_eval")

MODES = ("auto", "on", "off")
#: Options that change no FID: kept out of the run id (see the module docstring). The first two
#: are recorded in the run config (a merge of shards reads them from there); the batch size is not.
CLIP_RECORDED = ("clip_score", "clip_model")
CLIP_RUNTIME = ("clip_batch_size",)


def clip_options() -> dict[str, Any]:
    from janus_eval.metrics.clip_score import DEFAULT_MODEL

    return {
        # "auto" | "on" | "off": see tasks/_clip_score.py.
        "clip_score": "auto",
        # A hub name or a local folder holding a transformers CLIPModel and its CLIPProcessor.
        "clip_model": DEFAULT_MODEL,
        "clip_batch_size": 64,
    }


class ClipScoring:
    """The CLIP side of a FID task: loads the model once, scores batches, aggregates."""

    def __init__(self, task_name: str, options: dict[str, Any], device: Callable[[], str]) -> None:
        mode = str(options["clip_score"]).lower()
        if mode not in MODES:
            raise UserError(
                f"task {task_name!r}: clip_score={options['clip_score']!r}; choose auto, on or off"
            )
        self.task_name = task_name
        self.mode = mode
        self.model_name = str(options["clip_model"])
        self.batch_size = int(options["clip_batch_size"])
        self._device = device
        self._scorer: Any = None
        #: Why there is no CLIP score this run ("" while it is available or not yet tried).
        self.unavailable = "off (--task-option clip_score=off)" if mode == "off" else ""

    def scorer(self) -> Any:
        """The loaded scorer, or None (off, or unavailable under "auto": said once)."""
        if self._scorer is not None or self.unavailable:
            return self._scorer
        from janus_eval.metrics.clip_score import load_clip_scorer

        try:
            self._scorer = load_clip_scorer(
                self.model_name, device=self._device(), batch_size=self.batch_size
            )
        except UserError as exc:
            if self.mode == "on":
                raise UserError(
                    f"{self.task_name}: clip_score=on but {exc} "
                    "(or pass --task-option clip_score=auto to go on without it)"
                ) from None
            self.unavailable = f"CLIP model {self.model_name!r} not available: {exc}"
            log.warning(
                "%s: continuing WITHOUT CLIP score: %s. Pass --task-option clip_model=DIR "
                "(a local CLIP checkpoint) to compute it, or clip_score=off to silence this.",
                self.task_name,
                exc,
            )
        return self._scorer

    def score(self, captions: Sequence[str], responses: Sequence[Sequence[Any]]) -> list[dict]:
        """Per sample: {"clip_scores": [one per image], "clip_model": id}, or {} without a model."""
        scorer = self.scorer()
        if scorer is None:
            return [{} for _ in responses]
        images = [image for group in responses for image in group]
        texts = [caption for caption, group in zip(captions, responses) for _ in group]
        values = scorer.scores(images, texts)
        out, start = [], 0
        for group in responses:
            part = [float(v) for v in values[start : start + len(group)]]
            start += len(group)
            out.append({"clip_scores": part, "clip_model": scorer.id})
        return out

    def aggregate(self, scored: Sequence[dict], by: str | None = None) -> dict[str, Any]:
        """{"clip_score", "clip_model"[, "clip_score_per_<by>"]} when every sample holds scores
        of the model in use, else {"clip_score_status": why not}."""
        from janus_eval.metrics.clip_score import clip_score

        scorer = self.scorer()
        if scorer is None:
            return {"clip_score_status": f"not computed: {self.unavailable}"}
        stale = [i for i, s in enumerate(scored) if s.get("clip_model") != scorer.id]
        if stale:
            return {
                "clip_score_status": (
                    f"not computed: {len(stale)} of {len(scored)} stored samples (first: "
                    f"#{stale[0]}) have no CLIP score from {scorer.id} (stored while it was off, "
                    "unavailable or another model); re-run with --no-resume to score them all"
                )
            }
        metrics: dict[str, Any] = {
            "clip_score": clip_score(v for s in scored for v in s["clip_scores"]),
            "clip_model": f"{self.model_name} ({scorer.id})",
        }
        if by is not None:
            groups: dict[str, list[float]] = {}
            for s in scored:
                if s.get(by):
                    groups.setdefault(s[by], []).extend(s["clip_scores"])
            metrics[f"clip_score_per_{by}"] = {k: clip_score(v) for k, v in sorted(groups.items())}
        return metrics
