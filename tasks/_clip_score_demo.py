"""The CLIP-score demo stand-in: a tiny random-weight transformers CLIP in the real layout
(config.json, model.safetensors, processor and tokenizer files, as `save_pretrained` writes them
for openai/clip-vit-large-patch14), built once under $JANUS_EVAL_CACHE/demo/. The CLIP-score
tests build the same model, so demo and tests share one builder."""

from __future__ import annotations

import logging
from pathlib import Path

from janus_eval.cache import cache_dir, write_once

log = logging.getLogger("janus_eval")

#: Bump when the tiny model changes, so an old cached copy is not reused.
VERSION = "v1"


def clip_tokenizer(max_length: int = 16):
    """CLIP's BPE with no merges over the byte alphabet: each character is a token (the last one
    of a word with CLIP's </w> mark), so different prompts give different ids."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    chars = sorted(ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab.update({"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1})
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def save_tiny_clip(directory: Path, seed: int = 0) -> Path:
    """A tiny CLIPModel + CLIPProcessor (32 px images, the byte-level tokenizer) in `directory`."""
    import torch
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


def demo_clip_score_model() -> Path:
    """The demo's CLIP-score model directory, written on first use."""
    path = cache_dir("demo", f"clip-score-tiny-{VERSION}")
    if not path.is_dir():
        log.info("demo: building a tiny random-weight CLIP for the CLIP score in %s (once)", path)
    return write_once(path, save_tiny_clip)
