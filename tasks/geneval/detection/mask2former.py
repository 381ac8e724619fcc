"""Mask2Former instance segmentation through transformers, fed and read the way mmdet 2.x does.

`Mask2FormerDetector` runs any transformers `Mask2FormerForUniversalSegmentation` with mmdet's
test-time pipeline and instance post-processing (`mmdet_pipeline`), so the one thing that
decides which detector it is, is the weights:

* `HFMask2Former` ("mask2former-hf"): a transformers checkpoint directory or hub name, by
  default facebook/mask2former-swin-small-coco-instance (Detectron2-trained: not the weights
  GenEval's numbers come from, so a measurement of its own).
* `official.OfficialMask2Former` ("official"): GenEval's own mmdet checkpoint, converted.

transformers' own `post_process_instance_segmentation` is not used: it resizes masks through a
fixed 384 x 384 and uses nearest-neighbour upsampling, which moves boxes and colours.
Images of one size are batched together; images of different sizes never share a batch, so
padding (and with it every result) does not depend on batch composition.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from janus_eval.hub import resolve_snapshot
from janus_eval.metrics.geneval import Detection
from janus_eval.types import UserError

from .mmdet_pipeline import instance_postprocess, preprocess, same_size_batches
from .weights import find_file, sha256_file

BACKEND = "mask2former-hf"
DEFAULT_CHECKPOINT = "facebook/mask2former-swin-small-coco-instance"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: Weights inference never reads, which a checkpoint may lack: transformers' Swin backbone
#: builds a final norm it does not apply, the loss has a class-weight buffer, and older Swin
#: versions store the relative position index that newer ones recompute.
UNUSED_WEIGHTS = (
    "model.pixel_level_module.encoder.swin.layernorm.weight",
    "model.pixel_level_module.encoder.swin.layernorm.bias",
    "criterion.empty_weight",
)


def resolve(path: str | Path) -> tuple[Path, Path]:
    """(directory, weights file) for a local checkpoint directory or a hub name."""
    how = (
        "A transformers Mask2Former checkpoint directory holds config.json and model.safetensors "
        f"(or pytorch_model.bin); get one with `huggingface-cli download {DEFAULT_CHECKPOINT}` "
        "where a network is available and pass --task-option detector_path=DIR."
    )
    directory = resolve_snapshot(
        path, what="GenEval detector (Mask2Former)", allow_patterns=["*.json", "*.safetensors"]
    )
    if not directory.is_dir():
        raise UserError(f"GenEval detector: {directory} is not a directory. {how}")
    find_file(directory, ["config.json"], what="GenEval detector", how=how)
    return directory, find_file(directory, WEIGHT_FILES, what="GenEval detector", how=how)


def to_detections(
    labels, boxes, scores, masks, class_names: Sequence[str], min_score: float = 0.0
) -> dict[str, list[Detection]]:
    """Group candidates by class name, dropping those not above `min_score` (a pure speed-up
    when min_score is at most the lowest threshold that selection applies later)."""
    keep = (scores > min_score).nonzero().flatten()
    labels, boxes, scores = labels[keep].tolist(), boxes[keep].tolist(), scores[keep].tolist()
    masks = masks[keep].cpu().numpy()  # one transfer per image, not one per object
    out: dict[str, list[Detection]] = {}
    for label, box, score, mask in zip(labels, boxes, scores, masks):
        out.setdefault(class_names[label], []).append(
            Detection(box=tuple(box), score=score, mask=mask)
        )
    return out


def load_transformers_model(directory: Path):
    """`Mask2FormerForUniversalSegmentation.from_pretrained(directory)`, insisting that every
    weight inference uses came from the checkpoint: a weight silently initialised at random
    would make a detector that still "works"."""
    import transformers
    from transformers import Mask2FormerForUniversalSegmentation

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # the load report is checked below instead
    try:
        model, info = Mask2FormerForUniversalSegmentation.from_pretrained(
            str(directory), output_loading_info=True
        )
    except Exception as exc:
        raise UserError(
            f"GenEval detector: could not load a Mask2Former checkpoint from "
            f"{directory} ({type(exc).__name__}: {exc})"
        ) from None
    finally:
        transformers.logging.set_verbosity(verbosity)
    missing = sorted(
        k
        for k in info.get("missing_keys", ())
        if k not in UNUSED_WEIGHTS and not k.endswith("relative_position_index")
    )
    problems = [
        (what, sorted(info.get(key) or ()))
        for what, key in [("unexpected", "unexpected_keys"), ("mismatched", "mismatched_keys")]
    ]
    problems = [("missing", missing), *problems]
    problems = [(what, keys) for what, keys in problems if keys]
    if problems:
        listed = "; ".join(
            f"{what} weights: {', '.join(map(str, keys[:6]))}" for what, keys in problems
        )
        raise UserError(f"GenEval detector: {directory} does not fit its config.json ({listed})")
    return model


class Mask2FormerDetector:
    """`detect(images) -> [{class_name: [Detection, ...]}, ...]` with a loaded transformers
    Mask2Former, through mmdet's pipeline. Subclasses say where the model comes from."""

    backend = ""

    def __init__(
        self,
        model: Any,
        class_names: Sequence[str],
        *,
        device: str = "cpu",
        batch_size: int = 4,
        min_score: float = 0.0,
        what: str = "",
    ) -> None:
        import torch

        num_labels = model.config.num_labels
        if num_labels != len(class_names):
            raise UserError(
                f"GenEval detector {what} predicts {num_labels} classes but the "
                f"object names file lists {len(class_names)}; GenEval needs a COCO instance "
                "segmentation checkpoint (80 classes in COCO order)."
            )
        self.model = model.to(device).eval()
        self.class_names = list(class_names)
        self.device = device
        self.batch_size = batch_size
        self.min_score = min_score
        self._torch = torch

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    def detect(self, images: Sequence[Any]) -> list[dict[str, list[Detection]]]:
        results: list[dict[str, list[Detection]] | None] = [None] * len(images)
        for chunk in same_size_batches(images, self.batch_size):
            for i, dets in zip(chunk, self._detect_same_size([images[i] for i in chunk])):
                results[i] = dets
        return results  # type: ignore[return-value]

    def raw_outputs(self, images: Sequence[Any]):
        """(class logits, mask logits, padded size, resized sizes) for images of one size."""
        torch = self._torch
        prepared = [preprocess(im, self.device) for im in images]
        batch = torch.stack([x for x, _ in prepared])
        with torch.inference_mode():
            out = self.model(pixel_values=batch)
        return (
            out.class_queries_logits.float(),
            out.masks_queries_logits.float(),
            tuple(batch.shape[-2:]),
            [hw for _, hw in prepared],
        )

    def _detect_same_size(self, images: Sequence[Any]) -> list[dict[str, list[Detection]]]:
        class_logits, mask_logits, padded_hw, resized = self.raw_outputs(images)
        results = []
        with self._torch.inference_mode():
            for i, image in enumerate(images):
                labels, boxes, scores, masks = instance_postprocess(
                    class_logits[i],
                    mask_logits[i],
                    padded_hw=padded_hw,
                    resized_hw=resized[i],
                    original_hw=(image.height, image.width),
                )
                results.append(
                    to_detections(labels, boxes, scores, masks, self.class_names, self.min_score)
                )
        return results


class HFMask2Former(Mask2FormerDetector):
    """A transformers Mask2Former checkpoint (directory or hub name) as GenEval's detector."""

    backend = BACKEND

    def __init__(self, path: str | Path, class_names: Sequence[str], **kwargs: Any) -> None:
        self.directory, self.weights = resolve(path)
        model = load_transformers_model(self.directory)
        super().__init__(model, class_names, what=str(self.directory), **kwargs)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "path": str(self.directory),
            "weights_sha256": sha256_file(self.weights),
        }
