"""A tiny random-weight CLIP (transformers CLIPModel + CLIPProcessor) saved in the real layout,
for the CLIP score tests, and torchmetrics' CLIPScore as the reference implementation."""

from __future__ import annotations

from pathlib import Path

import torch


def save_tiny_clip(directory: Path, seed: int = 0) -> Path:
    """config.json, model.safetensors and the processor files, as `save_pretrained` writes them
    for openai/clip-vit-large-patch14 (32 px images, a byte-level CLIP tokenizer)."""
    from diffusers_helpers import clip_tokenizer
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tokenizer = clip_tokenizer(max_length=77)
    config = CLIPConfig(
        text_config={"vocab_size": tokenizer.vocab_size, "hidden_size": 16,
                     "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                     "max_position_embeddings": 77,
                     "bos_token_id": tokenizer.convert_tokens_to_ids("<|startoftext|>"),
                     "eos_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>")},
        vision_config={"image_size": 32, "patch_size": 8, "hidden_size": 16,
                       "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2},
        projection_dim=8,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = CLIPModel(config)
    # Random towers give cosines around 0, whose mean torchmetrics clamps to 0, which would hide
    # every difference. A shared offset (the same final LayerNorm bias and projection on both
    # sides) makes every cosine positive while the random part still varies per pair.
    with torch.no_grad():
        model.vision_model.post_layernorm.bias.fill_(1.0)
        model.text_model.final_layer_norm.bias.fill_(1.0)
        model.text_projection.weight.copy_(model.visual_projection.weight)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)
    return directory


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
