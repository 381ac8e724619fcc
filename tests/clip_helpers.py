"""A tiny random-weight CLIP (transformers CLIPModel + CLIPProcessor) saved in the real layout,
for the CLIP score tests, and torchmetrics' CLIPScore as the reference implementation."""

from __future__ import annotations

from pathlib import Path

import torch

# The builder lives with the task's demo (one copy for demo and tests).
from janus_eval.tasks._clip_score_demo import save_tiny_clip  # noqa: F401


def torchmetrics_clip_score(directory: Path, images, captions) -> float:
    """torchmetrics' public CLIPScore (update on every pair, then compute) with the model and
    processor from `directory`. Its get_*_features are unwrapped to tensors here, independently
    of the code under test, as torchmetrics' merged fix for transformers 5 does (#3408)."""
    import numpy as np
    from torchmetrics.multimodal.clip_score import CLIPScore
    from transformers import CLIPModel, CLIPProcessor

    class Unwrapped(CLIPModel):
        def get_image_features(self, *args, **kwargs):
            out = super().get_image_features(*args, **kwargs)
            return out if isinstance(out, torch.Tensor) else out.pooler_output

        def get_text_features(self, *args, **kwargs):
            out = super().get_text_features(*args, **kwargs)
            return out if isinstance(out, torch.Tensor) else out.pooler_output

    model = Unwrapped.from_pretrained(str(directory)).eval()
    processor = CLIPProcessor.from_pretrained(str(directory))
    metric = CLIPScore(model_name_or_path=lambda: (model, processor))
    tensors = [
        torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1) for im in images
    ]
    with torch.no_grad():
        metric.update(tensors, list(captions))
        return float(metric.compute())
