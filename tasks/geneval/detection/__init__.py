"""Object detectors and colour classifiers used to score generated images (GenEval).

One small interface, several backends:

    detector = load_detector("official", path, class_names, device="cuda")
    detector.detect(images) -> [{class_name: [Detection, ...]}, ...]   # raw, per image
    detector.describe() -> {"backend", "path", "weights_sha256", ...}

* "official" (default, `official.py`): GenEval's own mmdet checkpoint (Mask2Former Swin-S),
  converted to transformers (`mmdet_layout.py`, `mmdet_convert.py`) and run through mmdet 2.x's
  test pipeline and post-processing re-implemented in torch (`mmdet_pipeline.py`). Recorded as
  "mask2former-swin-s (official GenEval)": the detector of the published numbers.
* "mask2former-hf" (`mask2former.py`): any transformers Mask2Former checkpoint through the same
  pipeline, by default facebook/mask2former-swin-small-coco-instance (Detectron2-trained: a
  different measurement, kept in its own leaderboard column).
* "mmdet" (`mmdet_backend.py`): the official checkpoint through mmdet 2.x itself, when it imports.

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

BACKENDS = ("official", "mask2former-hf", "mmdet")
#: What the run config and the leaderboard call each backend's measurement.
LABELS = {"official": "mask2former-swin-s (official GenEval)"}


class Detector(Protocol):
    backend: str
    class_names: list[str]

    def describe(self) -> dict[str, Any]: ...

    def detect(self, images: Sequence[Any]) -> list[dict[str, list[Detection]]]: ...


def check_backend(backend: str) -> str:
    """The backend's name (a recorded label such as LABELS["official"] is accepted too, so a
    task rebuilt from a run's config finds its detector)."""
    backend = next((name for name, label in LABELS.items() if label == backend), backend)
    if backend not in BACKENDS:
        raise UserError(
            f"unknown GenEval detector {backend!r}; choose one of {', '.join(BACKENDS)}"
        )
    return backend


def label(backend: str) -> str:
    """How runs record the backend (`detector` in the run config, the leaderboard column)."""
    return LABELS.get(check_backend(backend), check_backend(backend))


def weights_file(backend: str, path: str | Path) -> Path:
    """The detector's weight file, found (or fetched) without loading the model, for hashing.
    For "official" the `.pth` is also converted (once, cached), so a bad file fails here,
    before any image is generated."""
    backend = check_backend(backend)
    if backend in ("official", "mmdet"):
        from .official import converted_dir, locate_checkpoint

        checkpoint = locate_checkpoint(path)
        if backend == "official":
            converted_dir(checkpoint)
        return checkpoint
    from .mask2former import DEFAULT_CHECKPOINT, resolve

    return resolve(path or DEFAULT_CHECKPOINT)[1]


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
    backend = check_backend(backend)
    if backend == "mmdet":
        from .mmdet_backend import MMDetMask2Former

        return MMDetMask2Former(
            path, class_names, device=device, config=mmdet_config or None, min_score=min_score
        )
    options = {"device": device, "batch_size": batch_size, "min_score": min_score}
    if backend == "official":
        from .official import OfficialMask2Former

        return OfficialMask2Former(path, class_names, **options)
    from .mask2former import DEFAULT_CHECKPOINT, HFMask2Former

    return HFMask2Former(path or DEFAULT_CHECKPOINT, class_names, **options)


def resolve_device(device: str) -> str:
    """ "auto" -> cuda when available, else cpu."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
