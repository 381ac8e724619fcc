"""The reference image-generation loop: upstream's generation_inference.py, eager, one prompt at
a time. The fast sampler's correctness oracle, so it shares only the model and the random stream.

Rows interleave as upstream (even conditional, odd unconditional). Draws: "multinomial" (upstream,
seeded by the image's stream key), "gumbel" (the fast sampler's noise, exact checks) or "argmax".
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from janus_eval.types import UserError

from .llm import causal_mask, positions
from .model import JanusModel
from .sampling import code_hashes, gumbel_noise, split_keys, uncond_ids


@torch.inference_mode()
def reference_generate(
    model: JanusModel,
    prompt_ids: list[int],
    keys: Sequence[int],
    pad_id: int,
    cfg_weight: float = 5.0,
    temperature: float = 1.0,
    draw: str = "multinomial",
) -> torch.Tensor:
    """[len(keys), gen_tokens] codes (CPU) for one prompt, image i drawing from stream keys[i]."""
    if draw not in ("multinomial", "gumbel", "argmax"):
        raise UserError(f"reference draw {draw!r}: expected multinomial, gumbel or argmax")
    if temperature == 0:
        draw = "argmax"
    dev, llm = model.device, model.llm
    n, n_tok = len(keys), model.config.num_gen_tokens
    uncond = uncond_ids(prompt_ids, pad_id)
    tokens = torch.tensor([prompt_ids if i % 2 == 0 else uncond for i in range(2 * n)], device=dev)
    t = tokens.shape[1]
    valid = torch.ones_like(tokens, dtype=torch.bool)
    generators = [torch.Generator(device=dev).manual_seed(k) for k in keys]
    key_lo, key_hi = split_keys(keys, dev)
    code_hash = code_hashes(model.config.vq.codebook_size, dev)
    out = torch.zeros(n, n_tok, dtype=torch.long, device=dev)
    llm.use_cache(llm.setup_cache(2 * n, t + n_tok))
    try:
        h = llm(
            llm.embed_tokens(tokens),
            positions(valid),
            causal_mask(valid),
            slots=torch.arange(t, device=dev),
            cache_rows=torch.arange(2 * n, device=dev),
        )
        for i in range(n_tok):
            logits = model.gen_head(h[:, -1]).float()
            cond, unc = logits[0::2], logits[1::2]
            z = unc + cfg_weight * (cond - unc)
            if draw == "argmax":
                nxt = z.argmax(-1)
            elif draw == "gumbel":
                step = torch.tensor(i, device=dev)
                nxt = (z / temperature + gumbel_noise(key_lo, key_hi, step, code_hash)).argmax(-1)
            else:
                probs = torch.softmax(z / temperature, dim=-1)
                nxt = torch.cat(
                    [torch.multinomial(probs[j], 1, generator=generators[j]) for j in range(n)]
                )
            out[:, i] = nxt
            if i == n_tok - 1:
                break
            x = model.gen_embeddings(torch.stack([nxt, nxt], 1).view(-1))[:, None]
            slot = t + i
            mask = torch.ones(2 * n, 1, 1, slot + 1, dtype=torch.bool, device=dev)
            pos = torch.full((2 * n, 1), slot, device=dev)
            h = llm(x, pos, mask, slots=torch.tensor([slot], device=dev), kv_len=slot + 1)
    finally:
        llm.use_cache(None)
    return out.cpu()
