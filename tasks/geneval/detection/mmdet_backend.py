"""The official detector: mmdet 2.x Mask2Former (Swin-S, COCO instance), when mmdet imports.

Mirrors djghosh13/geneval `evaluation/evaluate_images.py`: the config
`configs/mask2former/mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.py` from the mmdet source
tree, the checkpoint `mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.pth` (what
`evaluation/download_models.sh` saves; found as for the "official" backend, `official.py`),
`inference_detector` one image at a time, and per class the rows `[x1, y1, x2, y2, score]` with
their masks. The default "official" backend gives the same detections without mmdet.
Differences, both harmless to the results: the image goes in as a decoded BGR array rather
than a file name (PNG decoding is lossless), and the checkpoint is read with
`torch.load(weights_only=True)` and then loaded non-strictly into the model, as mmcv's
`load_checkpoint` (used by `init_detector`) would, instead of unpickling it in full.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from janus_eval.metrics.geneval import Detection
from janus_eval.types import UserError

from .mmdet_convert import read_mmdet_checkpoint
from .official import locate_checkpoint
from .weights import sha256_file

BACKEND = "mmdet"
CONFIG_NAME = "mask2former/mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.py"


def available() -> bool:
    return importlib.util.find_spec("mmdet") is not None


def resolve_config(config: str | Path | None) -> Path:
    if config:
        path = Path(config).expanduser()
        if not path.is_file():
            raise UserError(f"GenEval detector (mmdet): config {path} not found")
        return path
    import mmdet

    root = Path(mmdet.__file__).resolve().parent
    for candidate in (
        root.parent / "configs" / CONFIG_NAME,
        root / ".mim" / "configs" / CONFIG_NAME,
    ):
        if candidate.is_file():
            return candidate
    raise UserError(
        f"GenEval detector (mmdet): {CONFIG_NAME} is not in the installed mmdet; install mmdet "
        "2.27 from source as GenEval does, or pass --task-option mmdet_config=FILE."
    )


class MMDetMask2Former:
    """`detect(images) -> [{class_name: [Detection, ...]}, ...]` through mmdet's own code."""

    backend = BACKEND

    def __init__(
        self,
        path: str | Path,
        class_names: Sequence[str],
        *,
        device: str = "cuda",
        config: str | Path | None = None,
        min_score: float = 0.0,
    ) -> None:
        if not available():
            raise UserError(
                "detector=mmdet needs mmdet 2.x with mmcv-full 1.x importable (GenEval's own "
                "environment); use the default detector=mask2former-hf otherwise."
            )
        from mmcv.runner import load_state_dict as mmcv_load_state_dict
        from mmdet.apis import init_detector

        self.checkpoint = locate_checkpoint(path)
        self.model = init_detector(str(resolve_config(config)), None, device=device)
        mmcv_load_state_dict(self.model, read_mmdet_checkpoint(self.checkpoint), strict=False)
        self.class_names = list(class_names)
        self.min_score = min_score

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "path": str(self.checkpoint),
            "weights_sha256": sha256_file(self.checkpoint),
        }

    def detect(self, images: Sequence[Any]) -> list[dict[str, list[Detection]]]:
        import numpy as np
        from mmdet.apis import inference_detector

        out = []
        for image in images:
            bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
            result = inference_detector(self.model, bgr)
            bbox = result[0] if isinstance(result, tuple) else result
            segm = result[1] if isinstance(result, tuple) and len(result) > 1 else None
            if len(bbox) != len(self.class_names):
                raise UserError(
                    f"mmdet detector returned {len(bbox)} classes, the object names "
                    f"file lists {len(self.class_names)}"
                )
            dets: dict[str, list[Detection]] = {}
            for index, name in enumerate(self.class_names):
                for j, row in enumerate(bbox[index]):
                    if row[4] > self.min_score:
                        mask = None if segm is None else np.asarray(segm[index][j], dtype=bool)
                        dets.setdefault(name, []).append(
                            Detection(
                                box=tuple(float(v) for v in row[:4]), score=float(row[4]), mask=mask
                            )
                        )
            out.append(dets)
        return out
