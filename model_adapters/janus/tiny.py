"""janus-tiny: the real Janus architecture at toy sizes, with deterministic random weights.

It is written on first use in the original deepseek-ai layout (or the transformers layout, for
tests) with a byte-level BPE tokenizer that holds Janus's special tokens at their real ids, so
everything that reads a real checkpoint reads this one the same way. It serves the README demo
and every end-to-end test: a 32 px image is 16 vision tokens and 16 VQ codes, so understanding
and generation take milliseconds on a CPU.

Tiny dims: LLM 2 layers, width 64, 4 heads, FFN 128, vocab 102400 (the real vocab, so the real
token ids fit); SigLIP 2 layers, width 64, 4 heads, patch 8 at 32 px (16 tokens); VQ ch 32,
multipliers (1, 1, 2, 2) (8x down/up-sampling: 4x4 = 16 codes per 32 px image), one res block
per level, z 32, codebook 16384 x 8. (transformers ties the VQ grid to the vision patch grid:
patch size = VQ downsampling factor, 16 = 16 in the real models.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from janus_eval.cache import cache_dir

from .layouts import BOI, BOS, EOI, EOS, IMAGE, PAD, export_state, hf_config, original_config
from .tinykit import random_weights, write_once

TINY_VERSION = 4
#: janus-tiny speaks Janus-Pro's roles, and says so the way a checkpoint saved by transformers
#: does (the processor reads the roles off it; nothing guesses).
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ '<|User|>' if m['role'] == 'user' else '<|Assistant|>' }}: "
    "{{ m['content'] }}\n\n{% endfor %}{% if add_generation_prompt %}<|Assistant|>:{% endif %}"
)
IMAGE_SIZE = 32
SEED = 20240611

#: Janus's special tokens at their ids in the deepseek-ai tokenizer. bos/eos/pad/boi/eoi/image
#: are the ids the public configs and code use (transformers' JanusConfig.image_token_id=100581,
#: boi 100016, eoi 100593, pad 100015 as upstream's uncond rows use it); the role and grounding
#: tokens follow the order of the checkpoint's additional_special_tokens list after
#: <image_placeholder>. Code never hard-codes these: it looks tokens up by text.
SPECIAL_TOKENS: dict[int, str] = {
    BOS: "<｜begin▁of▁sentence｜>",
    EOS: "<｜end▁of▁sentence｜>",
    PAD: "<｜▁pad▁｜>",
    BOI: "<begin_of_image>",
    IMAGE: "<image_placeholder>",
    100582: "<patch_placeholder>",
    100583: "<|ref|>",
    100584: "<|/ref|>",
    100585: "<|det|>",
    100586: "<|/det|>",
    100587: "<|grounding|>",
    100588: "<|User|>",
    100589: "<|Assistant|>",
    EOI: "<end_of_image>",
}
LAST_SPECIAL = max(SPECIAL_TOKENS)

LLM = dict(
    vocab_size=102400,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=16384,
)
VISION = dict(width=64, layers=2, heads=4, patch_size=8, mlp_ratio=4.0)
VQ = dict(ch=32, ch_mult=[1, 1, 2, 2], z_channels=32, num_res_blocks=1)


def default_path(layout: str = "original") -> Path:
    suffix = "" if layout == "original" else f"-{layout}"
    return cache_dir() / f"janus-tiny-v{TINY_VERSION}{suffix}"


def ensure_tiny_checkpoint(path: Path | None = None, layout: str = "original") -> Path:
    """The tiny checkpoint directory, written (atomically) if it is not there yet.

    layout: "original" (deepseek-ai multi_modality) or "hf" (transformers `model_type: janus`).
    Both hold the same weights."""
    if layout not in ("original", "hf"):
        raise ValueError(f"layout must be 'original' or 'hf', not {layout!r}")
    path = Path(path) if path is not None else default_path(layout)
    return write_once(path, lambda root: _write(root, layout))


def tiny_config():
    from .config import JanusConfig, LLMConfig, VisionConfig, VQConfig

    return JanusConfig(
        llm=LLMConfig(
            vocab_size=LLM["vocab_size"],
            dim=LLM["hidden_size"],
            n_layers=LLM["num_hidden_layers"],
            n_heads=LLM["num_attention_heads"],
            n_kv_heads=LLM["num_key_value_heads"],
            ffn_dim=LLM["intermediate_size"],
        ),
        vision=VisionConfig(image_size=IMAGE_SIZE, **VISION),
        vq=VQConfig(
            **{k: VQ[k] for k in ("ch", "z_channels", "num_res_blocks")},
            encoder_ch_mult=tuple(VQ["ch_mult"]),
            decoder_ch_mult=tuple(VQ["ch_mult"]),
        ),
        gen_head_dim=LLM["hidden_size"],
    )


def random_state(cfg, seed: int = SEED) -> dict[str, Any]:
    """Deterministic weights for a JanusModel with `cfg` (tinykit.random_weights)."""
    import torch

    from .model import JanusModel

    with torch.device("meta"):
        model = JanusModel(cfg)
    return random_weights(model, seed)


def _write(root: Path, layout: str) -> None:
    from safetensors.torch import save_file

    cfg = tiny_config()
    tensors = export_state(random_state(cfg), cfg, layout)
    save_file(tensors, str(root / "model.safetensors"), metadata={"format": "pt"})
    config = _original_config() if layout == "original" else _hf_config()
    _dump(root / "config.json", config)
    write_processor_files(root, layout)


def write_processor_files(
    root: Path, layout: str, sft_format: str = "deepseek", chat_template: str | None = CHAT_TEMPLATE
) -> None:
    """tokenizer.json and the tokenizer, processor and preprocessor configs of a tiny checkpoint
    (32 px images, 16 image tokens) in `layout`; `sft_format` and `chat_template` (None: none)
    are what states its chat format (janusflow-tiny states JanusFlow's `User`/`Assistant`)."""
    _write_tokenizer(root, chat_template)
    if layout == "original":
        _dump(
            root / "processor_config.json",
            {
                "add_special_token": False,
                "ignore_id": -100,
                "image_tag": "<image_placeholder>",
                "mask_prompt": True,
                "num_image_tokens": (IMAGE_SIZE // VISION["patch_size"]) ** 2,
                "processor_class": "VLChatProcessor",
                "sft_format": sft_format,
            },
        )
        _dump(
            root / "preprocessor_config.json",
            {
                "background_color": [127, 127, 127],
                "do_normalize": True,
                "image_mean": [0.5] * 3,
                "image_processor_type": "VLMImageProcessor",
                "image_size": IMAGE_SIZE,
                "image_std": [0.5] * 3,
                "min_size": 14,
                "processor_class": "VLChatProcessor",
                "rescale_factor": 1 / 255,
            },
        )
    else:
        _dump(
            root / "preprocessor_config.json",
            {
                "image_processor_type": "JanusImageProcessor",
                "size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
                "image_mean": [0.5] * 3,
                "image_std": [0.5] * 3,
                "min_size": 14,
                "resample": 3,
                "rescale_factor": 1 / 255,
                "do_normalize": True,
                "do_rescale": True,
                "do_resize": True,
            },
        )
        _dump(
            root / "processor_config.json",
            {
                "processor_class": "JanusProcessor",
                "num_image_tokens": (IMAGE_SIZE // VISION["patch_size"]) ** 2,
                "use_default_system_prompt": True,
            },
        )


def _original_config() -> dict[str, Any]:
    return original_config(tiny_config(), tower="janus_tiny_siglip")


def _hf_config() -> dict[str, Any]:
    return hf_config(tiny_config())


def _word(i: int) -> str:
    """A pronounceable filler token for id i (the tiny model's answers read as pseudo-words)."""
    syl = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    out = ""
    while True:
        out = syl[i % len(syl)] + out
        i //= len(syl)
        if not i:
            return "Ġ" + out


def _write_tokenizer(root: Path, chat_template: str | None = CHAT_TEMPLATE) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from tokenizers.pre_tokenizers import ByteLevel

    vocab = {ch: i for i, ch in enumerate(sorted(ByteLevel.alphabet()))}
    for i in range(len(vocab), 100000):
        vocab[_word(i)] = i
    for i in range(BOS, LAST_SPECIAL + 1):
        vocab[SPECIAL_TOKENS.get(i, f"<｜reserved▁{i}｜>")] = i
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    bos = SPECIAL_TOKENS[BOS]
    tok.post_processor = processors.TemplateProcessing(  # BOS first, as LlamaTokenizerFast does
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, BOS)]
    )
    data = json.loads(tok.to_str())
    data["added_tokens"] = [
        {
            "id": i,
            "content": text,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for i, text in sorted(SPECIAL_TOKENS.items())
    ]
    (root / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    _dump(
        root / "tokenizer_config.json",
        {
            "add_bos_token": True,
            "add_eos_token": False,
            "bos_token": SPECIAL_TOKENS[BOS],
            "eos_token": SPECIAL_TOKENS[EOS],
            "pad_token": SPECIAL_TOKENS[PAD],
            "clean_up_tokenization_spaces": False,
            **({"chat_template": chat_template} if chat_template else {}),
            "model_max_length": 16384,
            "tokenizer_class": "PreTrainedTokenizerFast",
            # what transformers' JanusProcessor reads (the hf layout's converter writes these)
            "extra_special_tokens": {
                "image_token": "<image_placeholder>",
                "boi_token": "<begin_of_image>",
                "eoi_token": "<end_of_image>",
            },
        },
    )
    _dump(
        root / "special_tokens_map.json",
        {
            "bos_token": SPECIAL_TOKENS[BOS],
            "eos_token": SPECIAL_TOKENS[EOS],
            "additional_special_tokens": [SPECIAL_TOKENS[i] for i in range(IMAGE, 100590)],
        },
    )


def _dump(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
