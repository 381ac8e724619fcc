"""mmdet 2.x's test-time pipeline and instance post-processing for GenEval's Mask2Former, in torch.

GenEval runs `inference_detector` with the config `mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco`
(mmdet 2.x, mmcv-full 1.7.1, OpenCV 4.6/4.7). Its test pipeline (inherited from
`mask2former_r50_lsj_8x2_50e_coco.py`) and the head's post-processing, step by step:

1. Load the file with OpenCV (BGR, 8 bit); here PIL decodes it (the same pixels for PNG).
2. `Resize(keep_ratio=True)` to img_scale (1333, 800): `mmcv.imrescale`, scale factor
   min(1333 / long side, 800 / short side), new size `int(x * factor + 0.5)`, resized by
   `cv2.resize(..., INTER_LINEAR)`. OpenCV's 8-bit bilinear is fixed-point arithmetic, not
   torch's: `resize_bilinear_cv2` reproduces it bit for bit (see there).
3. `Pad(size_divisor=32, pad_val=dict(img=(128, 128, 128)))`: bottom/right padding with grey
   128, *before* normalisation (mmdet 3.x pads with 0 after normalising; 2.x is the official one).
4. `Normalize`: BGR -> RGB, (x - mean) * (1 / std) in float32, mean (123.675, 116.28, 103.53),
   std (58.395, 57.12, 57.375).
5. Post-processing (`Mask2FormerHead.simple_test`, `MaskFormerFusionHead.instance_postprocess`):
   mask logits upsampled bilinearly to the padded input, cropped to the resized image, upsampled
   to the original size; class scores = softmax over the classes and "no object", the last
   dropped; the top 100 (query, class) pairs (`topk(sorted=False)`); mask = logit > 0; score =
   class score x mean sigmoid inside the mask; box = the mask's tight box with exclusive
   right/bottom edges (`mask2bbox`: x2 = last column + 1; all zeros for an empty mask).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

IMG_SCALE = (1333, 800)
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
SIZE_DIVISOR = 32
PAD_VALUE = 128
MAX_PER_IMAGE = 100

#: OpenCV's fixed-point bilinear: coefficients in units of 1/2048.
_COEF_BITS = 11
_COEF_SCALE = 1 << _COEF_BITS


def rescale_size(width: int, height: int, scale: tuple[int, int] = IMG_SCALE) -> tuple[int, int]:
    """mmcv.rescale_size for a (long, short) scale: the largest size that fits both."""
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    return int(width * factor + 0.5), int(height * factor + 0.5)


def _taps(src: int, dst: int, *, clamp: bool):
    """Per output index: the two source indices and their fixed-point weights, as OpenCV's
    `resize` computes them: float32 positions (x + 0.5) * scale - 0.5, weights rounded to
    1/2048. Columns (`clamp`) outside the image take the edge pixel with weight 1; rows keep
    their fractional weight and read the edge row twice (OpenCV clamps only the row index)."""
    import numpy as np

    scale = 1.0 / (dst / src)  # OpenCV: scale = 1 / inv_scale, in double
    pos = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    first = np.floor(pos).astype(np.int64)
    frac = (pos - first.astype(np.float32)).astype(np.float32)
    if clamp:
        frac[(first < 0) | (first >= src - 1)] = 0
    w0 = np.rint((np.float32(1) - frac) * np.float32(_COEF_SCALE)).astype(np.int64)
    w1 = np.rint(frac * np.float32(_COEF_SCALE)).astype(np.int64)
    return np.clip(first, 0, src - 1), np.clip(first + 1, 0, src - 1), w0, w1


def resize_bilinear_cv2(image: Any, width: int, height: int, device: Any = None):
    """`cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)` for a uint8
    (H, W, C) array, bit for bit (checked against OpenCV 4.7.0, GenEval's, and 5.1.0 on x86), as
    a uint8 tensor on `device` (integer arithmetic: exact on any device).
    The horizontal pass sums two pixels with integer weights (units of 1/2048, exact); the
    vertical pass combines two such rows the way OpenCV's vectorised loop does:
    (((b0 * (S0 >> 4)) >> 16) + ((b1 * (S1 >> 4)) >> 16) + 2) >> 2, which is not the rounded
    exact value (it can be one grey level lower). For an exact 2x reduction cv::resize switches
    to INTER_AREA, ((a + b + c + d + 2) >> 2); the formula above gives exactly that there
    (weights 1024/1024), so it needs no case of its own."""
    import numpy as np
    import torch

    src = torch.as_tensor(np.array(image, dtype=np.uint8, copy=True), device=device)
    h, w = src.shape[:2]
    if (width, height) == (w, h):
        return src
    s = src.to(torch.int32)  # every intermediate below fits in 31 bits

    def taps(src_len: int, dst_len: int, clamp: bool, shape: tuple[int, ...]):
        i0, i1, w0, w1 = _taps(src_len, dst_len, clamp=clamp)
        index = [torch.as_tensor(i, device=src.device) for i in (i0, i1)]
        weight = [
            torch.as_tensor(v, dtype=torch.int32, device=src.device).view(shape) for v in (w0, w1)
        ]
        return index, weight

    (x0, x1), (a0, a1) = taps(w, width, True, (1, -1, 1))
    (y0, y1), (b0, b1) = taps(h, height, False, (-1, 1))
    rows = s.index_select(1, x0) * a0 + s.index_select(1, x1) * a1  # (h, width, C)
    rows = rows.reshape(h, -1) >> 4
    out = ((rows.index_select(0, y0) * b0) >> 16) + ((rows.index_select(0, y1) * b1) >> 16)
    return ((out + 2) >> 2).clamp(0, 255).to(torch.uint8).reshape(height, width, -1)


def preprocess(image: Any, device: Any = None):
    """One PIL image -> (3, H, W) float tensor on `device`: resized, padded with grey 128 to a
    multiple of 32, normalised (steps 2-4); and the resized (unpadded) size (h, w)."""
    import numpy as np
    import torch

    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    new_w, new_h = rescale_size(image.width, image.height)
    resized = resize_bilinear_cv2(rgb, new_w, new_h, device)
    pad_h = -(-new_h // SIZE_DIVISOR) * SIZE_DIVISOR
    pad_w = -(-new_w // SIZE_DIVISOR) * SIZE_DIVISOR
    padded = torch.full((pad_h, pad_w, 3), PAD_VALUE, dtype=torch.uint8, device=resized.device)
    padded[:new_h, :new_w] = resized
    x = padded.permute(2, 0, 1).float()
    # mmcv.imnormalize: cv2.subtract(img, mean) then cv2.multiply(img, 1 / std), in float32
    mean = torch.tensor(MEAN, dtype=torch.float32, device=x.device).view(3, 1, 1)
    stdinv = torch.tensor([1 / s for s in STD], dtype=torch.float32, device=x.device)
    return (x - mean) * stdinv.view(3, 1, 1), (new_h, new_w)


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
    binary masks), mmdet-style (step 5). Candidates come back in (query, class) order (mmdet's
    own order is whatever `topk(sorted=False)` returns; GenEval sorts by score)."""
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


def same_size_batches(images: Sequence[Any], batch_size: int) -> list[list[int]]:
    """Indices of images grouped by size, in chunks of `batch_size`: images of different sizes
    never share a batch, so padding (and every result) does not depend on batch composition."""
    by_size: dict[tuple[int, int], list[int]] = {}
    for i, image in enumerate(images):
        by_size.setdefault(image.size, []).append(i)
    return [
        indices[start : start + batch_size]
        for indices in by_size.values()
        for start in range(0, len(indices), batch_size)
    ]
