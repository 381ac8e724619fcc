"""CLIP score (Hessel et al., 2021) exactly as torchmetrics' `CLIPScore` computes it.

    from janus_eval.metrics.clip_score import load_clip_scorer, clip_score
    scorer = load_clip_scorer("openai/clip-vit-large-patch14", device="cuda")
    per_image = scorer.scores(images, captions)   # 100 * cos(E_image, E_caption), one per pair
    clip_score(per_image)                         # max(mean, 0), CLIPScore.compute()

The per-pair numbers come from torchmetrics' own update function (`_clip_score_update`, the code
`CLIPScore.update` runs), so preprocessing and truncation are torchmetrics': images are handed
over as uint8 (3, H, W) tensors to the model's `CLIPProcessor` (resize of the short side and
centre crop to the model's size, CLIP normalisation), captions are tokenized with padding and cut
to the text model's 77 positions (torchmetrics warns when it cuts). Tested against the public
`CLIPScore` class on the same images (tests/test_clip_score.py).

Quirks kept, as torchmetrics has them (1.9.0):

* The clamp at 0 is applied to the *mean*, not to each pair: `compute()` returns
  `max(sum(100 * cos) / n, 0)`. The documented formula `mean(max(100 * cos, 0))` gives the same
  number whenever no pair has a negative cosine, which is the case for real captions and CLIP
  ViT-L/14 (scores there are ~15-40). Per-pair scores are stored unclamped, so both can be
  recomputed from a run.
* torchmetrics 1.9.0 fails with transformers >= 5 (`get_image_features` returns a
  `BaseModelOutputWithPooling`; Lightning-AI/torchmetrics#3407). As the upstream fix (#3408)
  does, the projected embedding (`pooler_output`) is unwrapped; `_FeatureTensors` does it here.
* torchmetrics loads a model by name only when the name contains "openai" and never by local
  path, so the model and processor are loaded here (safetensors first, `.bin` through
  transformers' weights-only loading, never remote code) and passed to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from janus_eval.types import UserError

#: The CLIP text-to-image papers report (SD, GigaGAN, LlamaGen): ViT-L/14 at 224 px.
DEFAULT_MODEL = "openai/clip-vit-large-patch14"
#: What a CLIP checkpoint folder needs, weights excepted.
CONFIG_FILES = ("config.json", "preprocessor_config.json", "processor_config.json",
                "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
                "special_tokens_map.json")  # fmt: skip
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TESTED_TORCHMETRICS = "1.9.0"


def clip_score(per_pair: Iterable[float]) -> float:
    """torchmetrics `CLIPScore.compute()`: the mean of the per-pair scores, clamped at 0."""
    values = np.asarray(list(per_pair), dtype=np.float64)
    if values.size == 0:
        raise ValueError("clip_score of no image-caption pairs")
    return float(max(values.mean(), 0.0))


def _unwrap(features: Any) -> Any:
    return features if hasattr(features, "norm") else features.pooler_output


class _FeatureTensors:
    """A CLIPModel whose get_*_features return tensors under transformers 4 and 5 alike."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.config = model.config

    def to(self, device: Any) -> _FeatureTensors:
        self.model.to(device)
        return self

    def get_image_features(self, *args: Any, **kwargs: Any) -> Any:
        return _unwrap(self.model.get_image_features(*args, **kwargs))

    def get_text_features(self, *args: Any, **kwargs: Any) -> Any:
        return _unwrap(self.model.get_text_features(*args, **kwargs))


@dataclass
class ClipScorer:
    """A loaded CLIP model and processor. `id` names the weights by their hash (stored with every
    score), so the same model read from a hub cache or a local copy is the same model."""

    model: Any
    processor: Any
    id: str
    device: str = "cpu"
    batch_size: int = 64

    def torchmetrics_pair(self) -> tuple[Any, Any]:
        """(model, processor) as torchmetrics' `model_name_or_path` callable must return."""
        return _FeatureTensors(self.model), self.processor

    def scores(self, images: Sequence[Any], captions: Sequence[str]) -> np.ndarray:
        """100 * cos(image, caption) per pair (unclamped, float64), in batches."""
        import torch
        from torchmetrics.functional.multimodal.clip_score import _clip_score_update

        if len(images) != len(captions):
            raise ValueError(f"{len(images)} images but {len(captions)} captions")
        model, processor = self.torchmetrics_pair()
        out = []
        for start in range(0, len(images), self.batch_size):
            batch = [
                pil_to_tensor(im).to(self.device) for im in images[start : start + self.batch_size]
            ]
            with torch.inference_mode():
                score, _ = _clip_score_update(
                    batch, list(captions[start : start + self.batch_size]), model, processor
                )
            out.append(score.detach().float().cpu().numpy().reshape(-1))
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


def pil_to_tensor(image: Any) -> Any:
    """A PIL image as the uint8 (3, H, W) tensor torchmetrics takes."""
    import torch

    arr = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def _checkpoint_dir(name_or_path: str) -> Path:
    """A local folder, or the hub snapshot of its config, processor and one weights file
    (safetensors when the repo has it). UserError when it cannot be had."""
    from janus_eval.hub import looks_like_path, resolve_snapshot

    what = "CLIP score model"
    if looks_like_path(name_or_path):
        folder = resolve_snapshot(name_or_path, what=what)
    else:
        for weights in WEIGHT_FILES:
            folder = resolve_snapshot(
                name_or_path, what=what, allow_patterns=[*CONFIG_FILES, weights]
            )
            if (folder / weights).is_file():
                break
    if not folder.is_dir() or not (folder / "config.json").is_file():
        raise UserError(f"{what}: {folder} is not a CLIP checkpoint folder (no config.json)")
    if not any((folder / w).is_file() for w in WEIGHT_FILES):
        raise UserError(
            f"{what}: {folder} has none of {', '.join(WEIGHT_FILES)}; save the model with "
            "CLIPModel.save_pretrained (or download the hub repo) into it"
        )
    return folder


def weights_id(folder: Path) -> str:
    """sha256 (16 hex) over config.json and the weights file, read once and cached."""
    import hashlib

    from janus_eval.filehash import FileDigests

    digests = FileDigests()
    h = hashlib.sha256()
    try:
        weights = next(folder / w for w in WEIGHT_FILES if (folder / w).is_file())
        for path in (folder / "config.json", weights):
            h.update(path.name.encode() + b"\0" + digests.sha256(path).encode() + b"\n")
    finally:
        digests.save()
    return h.hexdigest()[:16]


def load_clip_scorer(name_or_path: str, *, device: str = "cpu", batch_size: int = 64) -> ClipScorer:
    """The CLIP model and processor from a local folder or a hub name (HF_HUB_OFFLINE and the
    hub cache honoured). UserError, saying what to pass, when it cannot be loaded."""
    from transformers import CLIPModel, CLIPProcessor

    folder = _checkpoint_dir(name_or_path)
    safetensors = (folder / "model.safetensors").is_file()
    try:
        model = CLIPModel.from_pretrained(str(folder), use_safetensors=safetensors)
        processor = CLIPProcessor.from_pretrained(str(folder))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise UserError(
            f"CLIP score model: transformers could not load {folder} as a CLIPModel with its "
            f"CLIPProcessor ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    model = model.to(device).eval()
    return ClipScorer(
        model=model,
        processor=processor,
        id=f"clip-{weights_id(folder)}",
        device=device,
        batch_size=batch_size,
    )
