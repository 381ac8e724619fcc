"""The GenEval task: prompts in, images out in GenEval's own layout, verdicts by the detector
and the CLIP colour classifier under the official rules (see the package's docstring)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from janus_eval.images import load_image
from janus_eval.metrics import geneval as rules
from janus_eval.registry import register_task
from janus_eval.store import atomic_write_text
from janus_eval.types import ImageRequest, Sample, Task, UserError

from .data import REPO, find_metadata, find_object_names, read_metadata
from .detection.official import DETECTOR_HELP
from .outputs import write_outputs


def _cfg_weight(value: Any) -> float | str:
    """The cfg_weight option as a number, or "auto" (the model's own default guidance weight:
    5 for Janus, 2 for JanusFlow, as each upstream generates)."""
    if value is None or str(value).strip().lower() in ("", "auto"):
        return "auto"
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UserError(
            f"GenEval: cfg_weight={value!r}: expected a number, or auto for the model's default"
        ) from None


#: Options that change how fast scoring runs or where files are read from, not the verdicts.
RUNTIME_OPTIONS = ("device", "detection_batch_size", "metadata", "object_names")
IDENTITY_ONLY = ("detector_weights", "clip_weights")  # added by config(), not options


@register_task
class GenEval(Task):
    name = "geneval"
    kind = "generation"
    version = "2"  # 2: detection exactly as mmdet 2.x; GenEval's own detector by default
    primary_metric = "overall"
    metric_names = (
        "overall",
        "per_tag",
        "correct_images",
        "correct_prompts",
        "n_images",
        "n_prompts",
        "per_tag_images",
    )
    sample_metrics = {"correct_images": ("accuracy", 1.0), "correct_prompts": ("any_correct", 1.0)}
    leaderboard_keys = ("detector", "detector_weights")
    data_help = (
        "GenEval reads evaluation_metadata.jsonl (553 prompts) from --data-dir or --task-option "
        f"metadata=FILE ({REPO}, prompts/); the detector's class names are built in (or "
        "object_names.txt beside the data, or --task-option object_names=FILE). "
        f"{DETECTOR_HELP} CLIP ViT-L-14 openai weights: clip_path."
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**{k: v for k, v in options.items() if k not in IDENTITY_ONLY})
        from .detection import check_backend

        self.options["detector"] = check_backend(self.options["detector"])
        self.options["cfg_weight"] = _cfg_weight(self.options["cfg_weight"])
        self._identity: dict[str, Any] | None = None
        self._object_names: list[str] | None = None
        self._models: tuple[Any, Any] | None = None

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        from .detection.clip_color import DEFAULT_MODEL, DEFAULT_PRETRAINED

        return {
            "metadata": "",
            "object_names": "",
            "images_per_prompt": 4,
            "cfg_weight": "auto",
            "detector": "official",
            "detector_path": "",
            "mmdet_config": "",
            "clip_model": DEFAULT_MODEL,
            "clip_path": DEFAULT_PRETRAINED,
            "device": "auto",
            "detection_batch_size": 8,
        }

    @classmethod
    def demo_options(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """A tiny random Mask2Former (through the transformers backend) and a tiny random CLIP,
        cached on first use (demo_models), unless the user names a detector or CLIP;
        two images per prompt keep the demo short."""
        from .demo_models import DEMO_CLIP_NAME, demo_clip, demo_detector

        options: dict[str, Any] = {"images_per_prompt": 2}
        if not {"detector", "detector_path", "mmdet_config"} & set(given):
            options.update(detector="mask2former-hf", detector_path=demo_detector())
        if not {"clip_model", "clip_path"} & set(given):
            options.update(clip_model=DEMO_CLIP_NAME, clip_path=demo_clip())
        return options

    # -- identity ------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Options that change verdicts, plus the detector's and CLIP's weight hashes (so the
        weights are located, and fetched if need be, before any image is generated)."""
        if self._identity is None:
            from .detection import label, weights_file
            from .detection.clip_color import resolve_clip
            from .detection.weights import sha256_file

            o = self.options
            options = {k: v for k, v in o.items() if k not in RUNTIME_OPTIONS}
            options["detector"] = label(o["detector"])
            detector = weights_file(o["detector"], o["detector_path"])
            options["detector_weights"] = sha256_file(detector)[:16]
            clip = resolve_clip(o["clip_model"], o["clip_path"])
            options["clip_weights"] = sha256_file(clip.weights)[:16]
            self._identity = {"name": self.name, "version": self.version, "options": options}
        return self._identity

    # -- data ----------------------------------------------------------------------------------

    def object_names(self, data_dir: Path | None = None, metadata: Path | None = None) -> list[str]:
        """The detector's class names, by index (read once; see `data.find_object_names`)."""
        if self._object_names is None:
            self._object_names = find_object_names(self.options["object_names"], data_dir, metadata)
        return self._object_names

    def samples(self, data_dir: Path | None, limit: int | None) -> Iterable[Sample]:
        path = find_metadata(self.options["metadata"], data_dir)
        records = read_metadata(path, self.object_names(data_dir, path))
        for index, record in enumerate(records[:limit] if limit else records):
            yield Sample(id=f"{index:05d}", data={"metadata": record}, category=record["tag"])

    def request(self, sample: Sample) -> ImageRequest:
        n = int(self.options["images_per_prompt"])
        if n < 1:
            raise UserError("GenEval: images_per_prompt must be at least 1")
        return ImageRequest(
            prompt=sample.data["metadata"]["prompt"],
            request_id=sample.id,
            n=n,
            cfg_weight=None if self.options["cfg_weight"] == "auto" else self.options["cfg_weight"],
        )

    def image_relpath(self, sample: Sample, index: int) -> str:
        return f"{sample.id}/samples/{index:05d}.png"

    def on_images_saved(self, sample: Sample, images_dir: Path) -> None:
        path = images_dir / sample.id / "metadata.jsonl"
        text = json.dumps(sample.data["metadata"])
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            atomic_write_text(path, text)

    # -- scoring -------------------------------------------------------------------------------

    def models(self) -> tuple[Any, Any]:
        """(detector, colour classifier), loaded once on the task's device."""
        if self._models is None:
            from .detection import load_detector, resolve_device
            from .detection.clip_color import load_clip_classifier, resolve_clip

            o = self.options
            device = resolve_device(o["device"])
            detector = load_detector(
                o["detector"],
                o["detector_path"],
                self.object_names(),
                device=device,
                batch_size=int(o["detection_batch_size"]),
                mmdet_config=o["mmdet_config"],
                min_score=min(rules.THRESHOLD, rules.COUNTING_THRESHOLD),
            )
            clip = load_clip_classifier(
                resolve_clip(o["clip_model"], o["clip_path"]), device=device
            )
            self._models = (detector, clip)
        return self._models

    def score_batch(self, samples: Sequence[Sample], responses: Sequence[Any]) -> list[dict]:
        detector, clip = self.models()
        images, metas = [], []
        for sample, response in zip(samples, responses):
            for k, image in enumerate(response):
                images.append(load_image(image, what=f"GenEval image {sample.id}/{k}"))
                metas.append(sample.data["metadata"])
        verdicts = iter(rules.judge_images(metas, detector.detect(images), images, clip.classify))
        scored = []
        for sample, response in zip(samples, responses):
            mine = [next(verdicts) for _ in response]
            meta = sample.data["metadata"]
            correct = [v.correct for v in mine]
            scored.append(
                {
                    "tag": meta["tag"],
                    "prompt": meta["prompt"],
                    "metadata": rules.metadata_key(meta),
                    "correct": correct,
                    "reasons": [v.reason for v in mine],
                    "accuracy": sum(correct) / len(correct) if correct else 0.0,
                    "any_correct": any(correct),
                    "details": [
                        {name: [[*d.box, d.score] for d in dets] for name, dets in v.kept.items()}
                        for v in mine
                    ],
                }
            )
        return scored

    def aggregate(self, scored: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return rules.summarize(_per_image(scored))

    def finalize(self, run_dir: Path, samples: Sequence[Sample], scored: Sequence[dict]) -> None:
        paths = [
            [f"images/{self.image_relpath(sample, k)}" for k in range(len(score["correct"]))]
            for sample, score in zip(samples, scored)
        ]
        write_outputs(run_dir, scored, paths, title=f"GenEval: {run_dir.name}")


def _per_image(scored: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-sample scores -> the official per-image records (tag, correct, metadata)."""
    return [
        {"tag": s["tag"], "correct": ok, "metadata": s["metadata"]}
        for s in scored
        for ok in s["correct"]
    ]
