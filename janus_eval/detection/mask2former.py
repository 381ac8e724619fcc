"""Mask2Former instance segmentation through transformers, fed and read the way mmdet 2.x does.

The official GenEval detector is mmdet's Mask2Former (Swin-S, COCO instance). This backend runs
any transformers `Mask2FormerForUniversalSegmentation` checkpoint (default
facebook/mask2former-swin-small-coco-instance) with mmdet's test-time pipeline and instance
post-processing re-implemented in torch, so the one thing that differs from the official
detector is the weights:

* Pipeline (mmdet config `mask2former_r50_lsj_8x2_50e_coco.py`, test_pipeline): resize keeping
  the aspect ratio to fit (1333, 800) (scale = min(1333 / long side, 800 / short side), sizes
  rounded as `int(x * scale + 0.5)`), bilinear, back to uint8; normalise with mean
  (123.675, 116.28, 103.53) and std (58.395, 57.12, 57.375) in RGB; pad bottom/right with 0 to a
  multiple of 32. mmdet resizes with OpenCV's fixed-point bilinear; torch's bilinear (half-pixel
  centres, no antialias, the same sampling) can differ from it by one grey level here and there.
* Post-processing (mmdet `MaskFormerFusionHead.instance_postprocess` and `simple_test`): mask
  logits upsampled bilinearly to the padded input, cropped to the resized image, upsampled to
  the original size; class scores = softmax over classes + "no object", the last dropped; the
  top 100 (query, class) pairs; binary mask = logit > 0; score = class score x mean sigmoid
  inside the binary mask; box = tight box of the mask with exclusive right/bottom edge
  (`mask2bbox`: x2 = last column + 1).

transformers' own `post_process_instance_segmentation` is not used: it resizes masks through a
fixed 384 x 384 and uses nearest-neighbour upsampling, which moves boxes and colours.
Images of one size are batched together; images of different sizes never share a batch, so
padding (and with it every result) does not depend on batch composition.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from janus_eval.detection.weights import find_file, sha256_file
from janus_eval.hub import resolve_snapshot
from janus_eval.metrics.geneval import Detection
from janus_eval.types import UserError

BACKEND = "mask2former-hf"
DEFAULT_CHECKPOINT = "facebook/mask2former-swin-small-coco-instance"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

IMG_SCALE = (1333, 800)
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
SIZE_DIVISOR = 32
MAX_PER_IMAGE = 100


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


def rescale_size(width: int, height: int, scale: tuple[int, int] = IMG_SCALE) -> tuple[int, int]:
    """mmcv.rescale_size for a (long, short) scale: the largest size that fits both."""
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    return int(width * factor + 0.5), int(height * factor + 0.5)


def preprocess(image: Any):
    """One PIL image -> normalised (3, H, W) float tensor at the resized (unpadded) size."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    rgb = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.uint8).copy())
    x = rgb.permute(2, 0, 1)[None].float()
    new_w, new_h = rescale_size(image.width, image.height)
    if (new_w, new_h) != (image.width, image.height):
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False)
        x = x.round().clamp(0, 255)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return ((x - mean) / std)[0]


def pad_batch(tensors: Sequence[Any]):
    """Stack (3, h, w) tensors, zero-padded bottom/right to a multiple of SIZE_DIVISOR."""
    import torch

    h = max(t.shape[1] for t in tensors)
    w = max(t.shape[2] for t in tensors)
    h, w = -(-h // SIZE_DIVISOR) * SIZE_DIVISOR, -(-w // SIZE_DIVISOR) * SIZE_DIVISOR
    out = torch.zeros(len(tensors), 3, h, w)
    for i, t in enumerate(tensors):
        out[i, :, : t.shape[1], : t.shape[2]] = t
    return out


def mask_to_boxes(masks):
    """mmdet `mask2bbox`: (n, h, w) bool -> (n, 4) float32 boxes, x2/y2 exclusive; 0s if empty."""
    import torch

    n, h, w = masks.shape
    boxes = torch.zeros(n, 4, dtype=torch.float32, device=masks.device)
    if n == 0:
        return boxes
    cols, rows = masks.any(dim=1), masks.any(dim=2)  # (n, w), (n, h)
    nonempty = cols.any(dim=1) & rows.any(dim=1)
    x = torch.arange(w, device=masks.device)
    y = torch.arange(h, device=masks.device)
    big = torch.tensor(1 << 30, device=masks.device)
    boxes[:, 0] = torch.where(cols, x, big).min(dim=1).values.float()
    boxes[:, 1] = torch.where(rows, y, big).min(dim=1).values.float()
    boxes[:, 2] = torch.where(cols, x, -1).max(dim=1).values.float() + 1
    boxes[:, 3] = torch.where(rows, y, -1).max(dim=1).values.float() + 1
    boxes[~nonempty] = 0
    return boxes


def instance_postprocess(
    class_logits,
    mask_logits,
    *,
    padded_hw: tuple[int, int],
    resized_hw: tuple[int, int],
    original_hw: tuple[int, int],
    max_per_image: int = MAX_PER_IMAGE,
):
    """One image's (Q, C+1) class logits and (Q, h, w) mask logits -> (labels, boxes, scores,
    binary masks), mmdet-style. Candidates come back in (query, class) order."""
    import torch
    import torch.nn.functional as F

    masks = F.interpolate(mask_logits[None], size=padded_hw, mode="bilinear", align_corners=False)[
        0
    ]
    masks = masks[:, : resized_hw[0], : resized_hw[1]]
    masks = F.interpolate(masks[None], size=original_hw, mode="bilinear", align_corners=False)[0]
    scores = F.softmax(class_logits, dim=-1)[:, :-1]
    num_classes = scores.shape[1]
    top_scores, top_index = scores.flatten().topk(min(max_per_image, scores.numel()), sorted=False)
    order = torch.argsort(top_index)
    top_scores, top_index = top_scores[order], top_index[order]
    labels = top_index % num_classes
    chosen = masks[top_index // num_classes]
    binary = chosen > 0
    mask_scores = (chosen.sigmoid() * binary).flatten(1).sum(1) / (binary.flatten(1).sum(1) + 1e-6)
    return labels, mask_to_boxes(binary), top_scores * mask_scores, binary


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


class HFMask2Former:
    """`detect(images) -> [{class_name: [Detection, ...]}, ...]` with a transformers model."""

    backend = BACKEND

    def __init__(
        self,
        path: str | Path,
        class_names: Sequence[str],
        *,
        device: str = "cpu",
        batch_size: int = 4,
        min_score: float = 0.0,
    ) -> None:
        import torch
        from transformers import Mask2FormerForUniversalSegmentation

        self.directory, self.weights = resolve(path)
        try:
            model = Mask2FormerForUniversalSegmentation.from_pretrained(str(self.directory))
        except Exception as exc:
            raise UserError(
                f"GenEval detector: could not load a Mask2Former checkpoint from "
                f"{self.directory} ({type(exc).__name__}: {exc})"
            ) from None
        num_labels = model.config.num_labels
        if num_labels != len(class_names):
            raise UserError(
                f"GenEval detector {self.directory} predicts {num_labels} classes but the "
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
        return {
            "backend": self.backend,
            "path": str(self.directory),
            "weights_sha256": sha256_file(self.weights),
        }

    def detect(self, images: Sequence[Any]) -> list[dict[str, list[Detection]]]:
        results: list[dict[str, list[Detection]] | None] = [None] * len(images)
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            by_size.setdefault(image.size, []).append(i)
        for indices in by_size.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                for i, dets in zip(chunk, self._detect_same_size([images[i] for i in chunk])):
                    results[i] = dets
        return results  # type: ignore[return-value]

    def _detect_same_size(self, images: Sequence[Any]) -> list[dict[str, list[Detection]]]:
        torch = self._torch
        tensors = [preprocess(im) for im in images]
        batch = pad_batch(tensors).to(self.device)
        with torch.inference_mode():
            out = self.model(pixel_values=batch)
            results = []
            for i, image in enumerate(images):
                labels, boxes, scores, masks = instance_postprocess(
                    out.class_queries_logits[i].float(),
                    out.masks_queries_logits[i].float(),
                    padded_hw=tuple(batch.shape[-2:]),
                    resized_hw=tuple(tensors[i].shape[-2:]),
                    original_hw=(image.height, image.width),
                )
                results.append(
                    to_detections(labels, boxes, scores, masks, self.class_names, self.min_score)
                )
        return results
