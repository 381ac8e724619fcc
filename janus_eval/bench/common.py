"""What `bench generate` and `bench understand` share: the benchmark sizes, Janus's token ids,
a device sync, and transformers' JanusConfig at our dims (for the baselines)."""

from __future__ import annotations

from typing import Any

from janus_eval.types import UserError

SIZES = ("tiny", "janus-1.3b", "janus-pro-7b")
#: The real special-token ids (janus-tiny keeps them too).
BOS, EOS, PAD, BOI, EOI, IMAGE = 100000, 100001, 100015, 100016, 100593, 100581


def model_config(size: str):
    """Janus dims for a benchmark size (the public checkpoints' configs; tiny = janus-tiny)."""
    from janus_eval.model_adapters.janus.config import JanusConfig, LLMConfig
    from janus_eval.model_adapters.janus.tiny import tiny_config

    if size == "tiny":
        return tiny_config()
    if size == "janus-1.3b":  # also Janus-Pro-1B
        return JanusConfig(
            llm=LLMConfig(dim=2048, n_layers=24, n_heads=16, n_kv_heads=16, ffn_dim=5632),
            gen_head_dim=2048,
        )
    if size == "janus-pro-7b":
        return JanusConfig(
            llm=LLMConfig(dim=4096, n_layers=30, n_heads=32, n_kv_heads=32, ffn_dim=11008),
            gen_head_dim=4096,
        )
    raise UserError(f"unknown size {size!r}; expected one of {', '.join(SIZES)}")


def sync(device: Any) -> None:
    """Wait for the device (a name or a torch.device); a no-op off CUDA."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def hf_config(cfg) -> Any:
    """transformers' JanusConfig with every dim of our JanusConfig `cfg`."""
    from transformers import JanusConfig

    c, v, q = cfg.llm, cfg.vision, cfg.vq
    return JanusConfig(
        image_token_id=IMAGE,
        tie_word_embeddings=False,
        text_config=dict(
            model_type="llama",
            vocab_size=c.vocab_size,
            hidden_size=c.dim,
            intermediate_size=c.ffn_dim,
            num_hidden_layers=c.n_layers,
            num_attention_heads=c.n_heads,
            num_key_value_heads=c.n_kv_heads,
            max_position_embeddings=c.max_position_embeddings,
            rms_norm_eps=c.norm_eps,
            rope_parameters={"rope_theta": c.rope_theta, "rope_type": "default"},
            tie_word_embeddings=False,
            bos_token_id=BOS,
            eos_token_id=EOS,
            pad_token_id=PAD,
        ),
        vision_config=dict(
            hidden_size=v.width,
            num_hidden_layers=v.layers,
            num_attention_heads=v.heads,
            image_size=v.image_size,
            patch_size=v.patch_size,
            mlp_ratio=v.mlp_ratio,
            layer_norm_eps=v.norm_eps,
            projection_dim=c.dim,
            depth=cfg.aligner_depth,
            num_image_tokens=v.num_tokens,
        ),
        vq_config=dict(
            embed_dim=q.embed_dim,
            num_embeddings=q.codebook_size,
            latent_channels=q.z_channels,
            base_channels=q.ch,
            channel_multiplier=list(q.decoder_ch_mult),  # one list in transformers
            num_res_blocks=q.num_res_blocks,
            projection_dim=c.dim,
            image_token_embed_dim=cfg.gen_head_dim,
            num_hidden_layers=cfg.gen_aligner_depth,
            num_patches=cfg.gen_grid,
        ),
    )


def sig(x: float, digits: int = 3) -> float:
    """Round to significant digits, so tiny ratios (a toy model on a CPU) do not become 0.0."""
    return float(f"{x:.{digits}g}")
