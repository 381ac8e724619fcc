"""GenEval's colour classifier: zero-shot CLIP over ten colours on masked object crops.

Mirrors djghosh13/geneval `evaluation/evaluate_images.py` (`ImageCrops`, `color_classification`)
and clip_benchmark 1.4.0 (`zero_shot_classifier`, `run_classification`), which it calls:

* Crop: the image (RGB) is composited over a flat #999 image through the object's mask, so
  everything outside the mask turns grey, then cut to the box (PIL rounds the float box); without
  a mask the plain image is cut.
* Classifier per object class: for each colour, the three templates ("a photo of a {c} {obj}",
  "a photo of a {c}-colored {obj}", "a photo of a {c} object") are encoded, each L2-normalised,
  averaged, and the mean renormalised; logits = 100 x normalised image feature @ weights; the
  prediction is the argmax (first index on ties).
* Model: ViT-L-14 with OpenAI's weights. The official environment (open_clip 2.20) built that
  model with QuickGELU; open_clip 3.x builds plain "ViT-L-14" with GELU even for the openai
  weights, so the default here is the architecture "ViT-L-14-quickgelu", i.e. the same network;
  a pretrained tag's own quick_gelu flag is honoured whatever the architecture is called, so
  clip_model=ViT-L-14 with the openai tag builds that network too.
  Preprocessing is open_clip's for those weights: resize the short side to 224 (bicubic),
  centre crop 224, OpenAI mean/std.
* Precision: clip_benchmark runs both text and image towers under CUDA fp16 autocast (amp=True
  by default); so does this wrapper on CUDA. On CPU it runs in fp32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from janus_eval.metrics.geneval import COLOR_BACKGROUND, COLORS, Detection, color_templates
from janus_eval.types import UserError

from .weights import sha256_file

DEFAULT_MODEL = "ViT-L-14-quickgelu"
DEFAULT_PRETRAINED = "openai"

#: (image, detection, class name): one colour question.
ColorQuery = tuple[Any, Detection, str]


def color_crop(image: Any, detection: Detection, bgcolor: str = COLOR_BACKGROUND) -> Any:
    """The picture the colour classifier sees for one detection (official `ImageCrops`)."""
    from PIL import Image

    rgb = image.convert("RGB")
    if detection.mask is not None:
        import numpy as np

        mask = np.asarray(detection.mask, dtype=bool)
        if mask.shape != (rgb.height, rgb.width):
            raise ValueError(
                f"mask shape {mask.shape} does not match the image {rgb.height}x{rgb.width}"
            )
        rgb = Image.composite(rgb, Image.new("RGB", rgb.size, color=bgcolor), Image.fromarray(mask))
    return rgb.crop(tuple(detection.box[:4]))


class ClipColorClassifier:
    """Colour of detected objects, batched: `classify(queries)` answers many at once, and the
    instance itself is a `classify_color(image, detection, class_name)` callable.

    `model` needs `encode_image` and `encode_text` (an open_clip CLIP, or a fake in tests),
    `preprocess` maps a PIL image to a (3, H, W) tensor, `tokenizer` a list of strings to a
    token tensor.
    """

    def __init__(
        self,
        model: Any,
        preprocess: Callable[[Any], Any],
        tokenizer: Callable[[list[str]], Any],
        *,
        device: str = "cpu",
        batch_size: int = 16,
        amp: bool | None = None,
        bgcolor: str = COLOR_BACKGROUND,
    ) -> None:
        self.model = model
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = device
        self.batch_size = batch_size
        self.amp = str(device).startswith("cuda") if amp is None else amp
        self.bgcolor = bgcolor
        self._weights: dict[str, Any] = {}

    def _autocast(self):
        import torch

        if self.amp:
            return torch.autocast(device_type="cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def class_weights(self, class_name: str):
        """(embed_dim, 10) zero-shot weights for one object class, cached."""
        if class_name not in self._weights:
            import torch
            import torch.nn.functional as F

            columns = []
            with torch.no_grad(), self._autocast():
                for color in COLORS:
                    texts = [t.format(c=color) for t in color_templates(class_name)]
                    emb = self.model.encode_text(self.tokenizer(texts).to(self.device))
                    emb = F.normalize(emb, dim=-1).mean(dim=0)
                    emb /= emb.norm()
                    columns.append(emb)
                self._weights[class_name] = torch.stack(columns, dim=1).to(self.device)
        return self._weights[class_name]

    def classify(self, queries: Sequence[ColorQuery]) -> list[str]:
        """The colour of each (image, detection, class name), in order."""
        import torch
        import torch.nn.functional as F

        answers: list[str] = [""] * len(queries)
        by_class: dict[str, list[int]] = {}
        for i, (_, _, name) in enumerate(queries):
            by_class.setdefault(name, []).append(i)
        for name, indices in by_class.items():
            weights = self.class_weights(name)
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                pixels = torch.stack(
                    [
                        self.preprocess(color_crop(queries[i][0], queries[i][1], self.bgcolor))
                        for i in chunk
                    ]
                ).to(self.device)
                with torch.no_grad(), self._autocast():
                    feats = F.normalize(self.model.encode_image(pixels), dim=-1)
                    logits = 100.0 * feats @ weights
                for i, k in zip(chunk, logits.float().argmax(dim=1).tolist()):
                    answers[i] = COLORS[k]
        return answers

    def __call__(self, image: Any, detection: Detection, class_name: str) -> str:
        return self.classify([(image, detection, class_name)])[0]


@dataclass(frozen=True)
class ClipSource:
    """Where CLIP comes from, resolved to files (so it can be hashed before it is loaded)."""

    model_name: str  # an open_clip architecture, or "local-dir:<dir>"
    weights: Path
    #: The pretrained tag's own activation: the `openai` weights need QuickGELU even when the
    #: architecture is named "ViT-L-14", which open_clip 3.x builds with GELU (2.20 did not).
    quick_gelu: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "weights": str(self.weights),
            "weights_sha256": sha256_file(self.weights),
        }


def resolve_clip(
    model_name: str = DEFAULT_MODEL, pretrained: str = DEFAULT_PRETRAINED
) -> ClipSource:
    """`pretrained` is an open_clip tag for `model_name` (fetched from the Hugging Face cache,
    or downloaded when a network is there), a weights file, or a directory holding
    open_clip_config.json and its weights (then `model_name` is ignored)."""
    import open_clip
    from open_clip.factory import _find_checkpoint_in_dir

    path = Path(pretrained).expanduser()
    if path.is_dir():
        if not (path / "open_clip_config.json").is_file():
            raise UserError(
                f"GenEval colour classifier: {path} has no open_clip_config.json; "
                "pass a weights file with --task-option clip_path=FILE instead"
            )
        weights = _find_checkpoint_in_dir(path)
        if weights is None:
            raise UserError(
                f"GenEval colour classifier: no weights (*.safetensors, *.bin, *.pth) in {path}"
            )
        return ClipSource(f"local-dir:{path}", Path(weights))
    if path.is_file():
        return ClipSource(model_name, path)
    cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    if not cfg:
        raise UserError(
            f"GenEval colour classifier: {pretrained!r} is neither a file nor a directory nor "
            f"an open_clip pretrained tag of {model_name!r}"
        )
    hub = cfg.get("hf_hub", "").strip("/")
    try:
        weights = open_clip.download_pretrained(cfg)
    except Exception as exc:
        raise UserError(
            f"GenEval colour classifier: CLIP {model_name} ({pretrained}) weights are not in the "
            f"Hugging Face cache and cannot be downloaded ({type(exc).__name__}). Needed: "
            f"open_clip_model.safetensors (or open_clip_pytorch_model.bin) from the Hugging Face "
            f"repo {hub or cfg.get('url')}; get it where a network is available "
            f"(`huggingface-cli download {hub}`) and pass --task-option clip_path=FILE."
        ) from None
    if not weights:
        raise UserError(f"GenEval colour classifier: no weights for {model_name} ({pretrained})")
    return ClipSource(model_name, Path(weights), bool(cfg.get("quick_gelu")))


def load_clip_classifier(
    source: ClipSource, *, device: str = "cpu", batch_size: int = 16
) -> ClipColorClassifier:
    """Build the model (safetensors, or torch.load with weights_only=True) and wrap it."""
    import open_clip

    name = source.model_name
    try:
        if name.startswith("local-dir:"):
            model, _, preprocess = open_clip.create_model_and_transforms(name, device=device)
        else:
            model, _, preprocess = open_clip.create_model_and_transforms(
                name,
                pretrained=str(source.weights),
                device=device,
                force_quick_gelu=source.quick_gelu,
            )
        tokenizer = open_clip.get_tokenizer(name)
    except Exception as exc:
        raise UserError(
            f"GenEval colour classifier: cannot build CLIP {name} from "
            f"{source.weights} ({type(exc).__name__}: {exc})"
        ) from None
    return ClipColorClassifier(
        model.eval(), preprocess, tokenizer, device=device, batch_size=batch_size
    )
