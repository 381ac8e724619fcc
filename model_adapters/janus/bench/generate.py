"""`janus-eval bench generate`: the image-token loop at real shapes with random weights.

Workload: `prompts` prompts of `prompt_tokens` tokens, `images_per_prompt` images each, CFG
weight 5, temperature 1, full-distribution sampling, `steps` tokens per image (576 by default),
then VQ decoding of the codes. It runs the `janus` adapter's CFG sampler (static cache, one
deduplicated prefill, CUDA graphs per 64-slot KV bucket, torch.compile optional) and, with
`baselines=True`, the same workload through transformers' `generate(generation_mode="image")`
(top_k=0, i.e. upstream's full-distribution sampling) and through an upstream-style eager loop
(transformers' LlamaModel with a DynamicCache, one Python step per token, as deepseek-ai's
generation_inference.py), all in this process on this device.

The floor: every decode step must read the LLM's per-step weights (all decoder layers, the
final norm, gen_head, gen_aligner; not embed_tokens or lm_head, which image decoding never
touches) and the KV cache of all 2 x images rows up to the current position. At the mean
position (prompt + steps / 2) and `bandwidth_tbps` (3.0 TB/s: the H100 copy rate measured with
the anchors) that is floor_ms per step; `fraction_of_floor` = floor_ms / measured ms per step.
"""

from __future__ import annotations

import inspect
import json
import platform
import time
from typing import Any

from janus_eval.types import UserError

from ..adapter import OPTIONS
from ..layouts import BOI, BOS, PAD
from . import common
from .common import SIZES, hf_config, model_config, sig, sync


def random_model(cfg, device: str, dtype: str, seed: int = 0, parts: str = "generation"):
    """A JanusModel with N(0, 0.02) weights (norm weights 1), built directly on `device`
    (by default only what generation runs, as `--model-option parts=generation` loads it)."""

    def fill(name, p, g) -> None:
        if p.dim() == 1:
            p.fill_(1.0 if "norm" in name and name.endswith("weight") else 0.0)
        else:
            p.normal_(0.0, 0.02, generator=g)

    return common.random_model(cfg, device, dtype, fill, parts=parts, seed=seed)


def step_bytes(model, rows: int, prompt: int, steps: int) -> tuple[int, int]:
    """(weight bytes, KV bytes at the mean position) that one decode step reads."""
    m = model
    modules = [*m.llm.layers, m.llm.norm, m.gen_head, m.gen_aligner]
    weights = sum(p.numel() * p.element_size() for mod in modules for p in mod.parameters())
    c = m.config.llm
    elem = m.llm.embed_tokens.weight.element_size()
    kv = 2 * c.n_layers * rows * c.n_kv_heads * c.head_dim * elem * (prompt + steps / 2)
    return weights, int(kv)


def run(
    size: str = "janus-1.3b",
    images_per_prompt: int = 16,
    prompts: int = 1,
    random_weights: bool = True,
    baselines: bool = False,
    device: str = "cuda",
    dtype: str = "bf16",
    steps: int | None = None,
    *,
    model_path: str | None = None,
    compile: bool | None = None,
    cuda_graphs: bool | None = None,
    prompt_tokens: int = 40,
    repeats: int = 2,
    bandwidth_tbps: float = 3.0,
) -> dict[str, Any]:
    """Time the sampler (and optionally the baselines); return the JSON-ready result."""
    import torch

    from ..sampler import CFGSampler, Stream, stream_key
    from ..vq import to_uint8

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(
            "bench generate: --device cuda but CUDA is not available here (try --device cpu --size tiny)"
        )
    if dtype not in ("bf16", "fp16", "fp32"):
        raise UserError(f"dtype {dtype!r}: expected bf16, fp16 or fp32")
    if images_per_prompt < 1 or prompts < 1 or repeats < 1:
        raise UserError("images_per_prompt, prompts and repeats must be at least 1")
    if random_weights:
        cfg = model_config(size)
        model = random_model(cfg, device, dtype)
    else:
        if model_path is None:
            raise UserError("bench generate without --random-weights needs --model-path")
        from ..load import load_model

        model, _ = load_model(model_path, device, dtype, parts="generation")
        cfg = model.config
    n_tok = steps or cfg.num_gen_tokens
    if not 1 <= n_tok <= cfg.num_gen_tokens:
        raise UserError(f"steps {n_tok}: expected 1..{cfg.num_gen_tokens}")
    vocab = cfg.llm.vocab_size
    g = torch.Generator().manual_seed(1)
    prompt_ids = []
    for _ in range(prompts):  # bos, random text tokens, <begin_of_image>
        body = torch.randint(200, min(90000, vocab - 1), (prompt_tokens - 2,), generator=g).tolist()
        prompt_ids.append([BOS % vocab, *body, BOI % vocab])
    pad = PAD % vocab
    streams = [
        Stream(p, stream_key(0, f"bench-{p}", k))
        for p in range(prompts)
        for k in range(images_per_prompt)
    ]
    n = len(streams)
    sampler = CFGSampler(model, pad, cuda_graphs=cuda_graphs, compile=compile)

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    sampler.generate(prompt_ids, streams, rows=n, n_tokens=n_tok)  # compiles / captures
    sync(device)
    first_call_s = time.perf_counter() - t0

    runs = []
    for _ in range(repeats):
        sampler.timings = {}
        t0 = time.perf_counter()
        codes = sampler.generate(prompt_ids, streams, rows=n, n_tokens=n_tok)
        sync(device)
        runs.append((time.perf_counter() - t0, dict(sampler.timings)))
    sampler.timings = None
    total_s, phases = min(runs, key=lambda r: r[0])

    full = torch.zeros(n, cfg.num_gen_tokens, dtype=torch.long)
    full[:, :n_tok] = codes
    per_call = OPTIONS["decode_batch"]  # images per VQ-decoder call, as runs decode them
    vq_times = []
    with torch.inference_mode():
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            for i in range(0, n, per_call):
                to_uint8(model.decode_images(full[i : i + per_call].to(model.device))).cpu()
            sync(device)
            vq_times.append(time.perf_counter() - t0)
    vq_s = min(vq_times[1:])

    decode_s = phases.get("decode", total_s)
    ms_per_step = 1000 * decode_s / max(1, n_tok - 1)
    w_bytes, kv_bytes = step_bytes(model, 2 * n, prompt_tokens, n_tok)
    floor_ms = (w_bytes + kv_bytes) / (bandwidth_tbps * 1e12) * 1000
    out: dict[str, Any] = {
        "size": size,
        "device": device,
        "card": torch.cuda.get_device_name()
        if device.startswith("cuda")
        else platform.processor() or "cpu",
        "dtype": dtype,
        "images": n,
        "prompts": prompts,
        "images_per_prompt": images_per_prompt,
        "rows": 2 * n,
        "prompt_tokens": prompt_tokens,
        "steps": n_tok,
        "compile": sampler.compile,
        "cuda_graphs": sampler.cuda_graphs,
        "images_per_s": round(n / (total_s + vq_s), 3),
        "sampler_images_per_s": round(n / total_s, 3),
        "ms_per_step": round(ms_per_step, 3),
        "prefill_ms": round(1000 * (phases.get("prefill", 0.0) + phases.get("setup", 0.0)), 3),
        "vq_decode_ms": round(1000 * vq_s, 3),
        "first_call_s": round(first_call_s, 3),
        "peak_gpu_mem_gb": round(torch.cuda.max_memory_allocated() / 1e9, 3)
        if device.startswith("cuda")
        else None,
        "weights_gb_per_step": round(w_bytes / 1e9, 3),
        "mean_kv_gb_per_step": round(kv_bytes / 1e9, 3),
        "bandwidth_tbps": bandwidth_tbps,
        "floor_ms_per_step": round(floor_ms, 3),
        "floor_images_per_s": round(n / (floor_ms * n_tok / 1000), 3),
        "fraction_of_floor": sig(floor_ms / ms_per_step),
        "torch": torch.__version__,
    }
    try:
        import transformers

        out["transformers"] = transformers.__version__
    except ImportError:  # pragma: no cover
        out["transformers"] = None
    if baselines:
        del sampler
        out.update(_baselines(model, prompt_ids, images_per_prompt, n_tok, device, dtype, pad))
        for key in ("hf_generate", "upstream_loop"):
            if out.get(f"{key}_images_per_s"):
                out[f"speedup_vs_{key}"] = round(
                    out["sampler_images_per_s"] / out[f"{key}_images_per_s"], 2
                )
    return out


def _hf_model(cfg, device: str, dtype: str):
    """transformers' JanusForConditionalGeneration at the same dims, random weights."""
    import torch
    from transformers import JanusForConditionalGeneration

    from ..load import DTYPES

    with torch.device(device):
        return JanusForConditionalGeneration(hf_config(cfg)).to(DTYPES[dtype]).eval()


def _baselines(
    model, prompt_ids, per_prompt: int, n_tok: int, device: str, dtype: str, pad: int
) -> dict:
    import torch
    from transformers import DynamicCache, GenerationConfig
    from transformers.utils import logging

    logging.set_verbosity_error()
    cfg = model.config
    hf = _hf_model(cfg, device, dtype)
    hf.model.vision_model.config.num_image_tokens = n_tok
    ids = torch.tensor(prompt_ids, device=device)
    n = ids.shape[0] * per_prompt
    gc = GenerationConfig(
        do_sample=True,
        guidance_scale=5.0,
        num_return_sequences=per_prompt,
        top_k=0,
        top_p=1.0,
        pad_token_id=pad,
        bos_token_id=int(ids[0, 0]),
        max_new_tokens=n_tok,
        generation_kwargs={"boi_token_id": int(ids[0, -1])},
    )

    def timed(fn) -> float:  # the second of two calls (the first warms up)
        for _ in range(2):
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
        return time.perf_counter() - t0

    out = {}
    with torch.inference_mode():
        seconds = timed(
            lambda: hf.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                generation_config=gc,
                generation_mode="image",
            )
        )
        out["hf_generate_images_per_s"] = round(n / seconds, 3)
        out["hf_generate_ms_per_step"] = round(1000 * seconds / n_tok, 3)

        lm = hf.model.language_model
        # transformers 5.x renames past_key_values -> cache (the old name warns until 5.40)
        cache_arg = (
            "cache" if "cache" in inspect.signature(lm.forward).parameters else "past_key_values"
        )

        def upstream() -> None:  # deepseek-ai generation_inference.py, per prompt
            for row in prompt_ids:
                tokens = torch.tensor([row] * (2 * per_prompt), device=device)
                tokens[1::2, 1:-1] = pad
                emb = lm.get_input_embeddings()(tokens)
                cache = DynamicCache()
                for _ in range(n_tok):
                    o = lm(inputs_embeds=emb, use_cache=True, **{cache_arg: cache})
                    logits = hf.model.generation_head(o.last_hidden_state[:, -1, :])
                    c, u = logits[0::2], logits[1::2]
                    probs = torch.softmax(u + 5.0 * (c - u), dim=-1)
                    nxt = torch.multinomial(probs, 1)
                    emb = hf.prepare_embeddings_for_image_generation(
                        torch.cat([nxt, nxt], 1).view(-1, 1)
                    )

        seconds = timed(upstream)
        out["upstream_loop_images_per_s"] = round(n / seconds, 3)
        out["upstream_loop_ms_per_step"] = round(1000 * seconds / n_tok, 3)
    return out


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - thin CLI for direct use
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="janus-1.3b", choices=SIZES)
    p.add_argument("--images-per-prompt", type=int, default=16)
    p.add_argument("--prompts", type=int, default=1)
    p.add_argument("--baselines", action="store_true")
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="bf16")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--no-compile", action="store_true")
    a = p.parse_args(argv)
    print(
        json.dumps(
            run(
                a.size,
                a.images_per_prompt,
                a.prompts,
                True,
                a.baselines,
                a.device,
                a.dtype,
                a.steps,
                compile=False if a.no_compile else None,
            )
        )
    )


if __name__ == "__main__":  # pragma: no cover
    main()
