"""Tiny random transformers vision-language checkpoints for the hf-vlm tests, built from configs
and saved with save_pretrained (so they load through the same AutoProcessor /
AutoModelForImageTextToText path as real ones). Nothing is downloaded: the tokenizer is a
byte-level BPE with no merges (every byte is a token, so any prompt change changes the ids)
plus each architecture's special tokens, and the chat templates are written here in the style
of the real ones."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

_ROOT = Path(tempfile.mkdtemp(prefix="hf-vlm-tests-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)

#: llava-hf's template shape: "USER: <image>\n<text> ASSISTANT:".
LLAVA_TEMPLATE = (
    "{% for message in messages %}{{ message['role'].upper() + ': ' }}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}{{ '<image>\n' }}"
    "{% else %}{{ item['text'] }}{% endif %}{% endfor %}{{ ' ' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
#: Qwen2-VL's template shape, with its default system prompt when none is given.
QWEN_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}"
    "{{ '<|vision_start|><|image_pad|><|vision_end|>' }}{% else %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{{ '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def byte_tokenizer(specials: dict[str, str], extra: list[str]):
    """A PreTrainedTokenizerFast over bytes: 256 byte tokens, then the special tokens; with a
    bos_token, BOS is put first as Llama's tokenizer does."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {ch: i for i, ch in enumerate(sorted(ByteLevel.alphabet()))}
    names = [
        specials[k] for k in ("bos_token", "eos_token", "pad_token", "unk_token") if k in specials
    ]
    for token in names + extra:
        vocab.setdefault(token, len(vocab))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    bos = specials.get("bos_token")
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, vocab[bos])]
        )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **specials)
    fast.add_special_tokens({"additional_special_tokens": extra})
    return fast


@functools.cache
def tiny_llava() -> Path:
    """LLaVA-1.5 in miniature: CLIP vision tower (16 px, 8 px patches: 4 image tokens), a
    two-layer Llama, the "default" feature strategy (CLS dropped)."""
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tok = byte_tokenizer(
        {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"},
        ["<image>"],
    )
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=LLAVA_TEMPLATE,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=16,
            patch_size=8,
            projection_dim=16,
        ),
        text_config=LlamaConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        ),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    return _save(LlavaForConditionalGeneration, config, processor, _ROOT / "llava")


@functools.cache
def tiny_qwen2_vl() -> Path:
    """Qwen2-VL in miniature: 4 px patches merged 2x2, images resized to 8..16 px a side (so 1
    to 4 image tokens, aspect kept), multimodal RoPE sections (1, 1, 2)."""
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    tok = byte_tokenizer(
        {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
        ["<|im_start|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"],
    )
    sizes = {"patch_size": 4, "merge_size": 2, "temporal_patch_size": 2}
    pixels = {"min_pixels": 8 * 8, "max_pixels": 16 * 16}
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(**sizes, **pixels),
        tokenizer=tok,
        video_processor=Qwen2VLVideoProcessor(**sizes, **pixels),
        chat_template=QWEN_TEMPLATE,
    )
    ids = tok.convert_tokens_to_ids
    config = Qwen2VLConfig(
        vision_config={
            "depth": 1,
            "embed_dim": 16,
            "hidden_size": 32,
            "num_heads": 2,
            "mlp_ratio": 2,
            "patch_size": 4,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        text_config={
            "vocab_size": len(tok),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 512,
            "rope_scaling": {"type": "mrope", "mrope_section": [1, 1, 2]},
            "bos_token_id": None,
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
        },
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
    )
    return _save(Qwen2VLForConditionalGeneration, config, processor, _ROOT / "qwen2_vl")


def _save(model_class, config, processor, directory: Path) -> Path:
    import torch

    torch.manual_seed(0)
    model_class(config).eval().save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


ARCHITECTURES = {"llava": tiny_llava, "qwen2_vl": tiny_qwen2_vl}
