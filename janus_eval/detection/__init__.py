"""Object detectors and colour classifiers used to score generated images (GenEval).

One small interface, several backends:

    detector = load_detector("mask2former-hf", path, class_names, device="cuda")
    detector.detect(images) -> [{class_name: [Detection, ...]}, ...]   # raw, per image
    detector.describe() -> {"backend", "path", "weights_sha256"}

* "mask2former-hf" (default, `mask2former.py`): transformers' Mask2Former with mmdet's test
  pipeline and post-processing re-implemented; installs anywhere.
* "mmdet" (`mmdet_backend.py`): the official mmdet 2.x detector, when mmdet imports.

The colour classifier (`clip_color.py`) is separate: `ClipColorClassifier(...)` is the
`classify_color` callable of `janus_eval.metrics.geneval`. Heavy imports (torch, transformers,
open_clip, mmdet) happen inside the functions, so importing this package is cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from janus_eval.metrics.geneval import Detection
from janus_eval.types import UserError

BACKENDS = ("mask2former-hf", "mmdet")


class Detector(Protocol):
    backend: str
    class_names: list[str]

    def describe(self) -> dict[str, Any]: ...

    def detect(self, images: Sequence[Any]) -> list[dict[str, list[Detection]]]: ...


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise UserError(
            f"unknown GenEval detector {backend!r}; choose one of {', '.join(BACKENDS)}"
        )


def weights_file(backend: str, path: str | Path) -> Path:
    """The detector's weight file, found (or fetched) without loading the model, for hashing."""
    check_backend(backend)
    if backend == "mmdet":
        from janus_eval.detection.mmdet_backend import resolve_checkpoint

        return resolve_checkpoint(path)
    from janus_eval.detection.mask2former import resolve

    return resolve(path)[1]


def load_detector(
    backend: str,
    path: str | Path,
    class_names: Sequence[str],
    *,
    device: str = "cpu",
    batch_size: int = 4,
    min_score: float = 0.0,
    mmdet_config: str | None = None,
) -> Detector:
    check_backend(backend)
    if backend == "mmdet":
        from janus_eval.detection.mmdet_backend import MMDetMask2Former

        return MMDetMask2Former(
            path, class_names, device=device, config=mmdet_config or None, min_score=min_score
        )
    from janus_eval.detection.mask2former import HFMask2Former

    return HFMask2Former(
        path, class_names, device=device, batch_size=batch_size, min_score=min_score
    )


def resolve_device(device: str) -> str:
    """ "auto" -> cuda when available, else cpu."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
