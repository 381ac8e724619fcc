"""Rectified-flow image generation: upstream's README loop, batched, with the prompt cached.

Per image: z ~ N(0, I) of shape [4, L, L], drawn from the image's own random stream; then for
step i = 0 .. steps-1 at t = i / steps * 1000, the LLM reads [the prompt, t_emb, the latent's
g*g tokens] in a conditional and an unconditional row, the decoder turns the last g*g states of
each into a velocity, `v = w * v_cond - (w - 1) * v_uncond`, and `z += v / steps` (Euler, from
noise at t = 0 to the image at t = 1). Upstream's defaults: 30 steps, w = 2 (README's call and
the demo's sliders).

Seeds belong to images: z of image k of a request comes from a CPU torch.Generator seeded with
the Janus sampler's `stream_key(seed, request id, k)`, so it does not depend on the batch, the
device or the shard. The computation does not either: every row is computed on its own, and
every image in the same shapes whatever shares its chunk (fixed chunks of ROWS images, prompts
padded to a multiple of BUCKET tokens; see FlowSampler.generate). Matrix kernels pick their
blocking, and so their rounding, by shape, so merely independent rows would still let the last
bits of a latent (and now and then a pixel) move with the batch size.

Upstream's behaviour kept, quirks included:

* The prompt is the chat text: upstream appends a generation tag and cuts its embedding off.
* The unconditional row keeps the prompt's length: every prompt token but the first (BOS) is
  masked out, yet RoPE positions still count them (upstream passes an attention mask, not
  position ids), so the latent tokens sit at the same positions in both rows.
* t and dt are in the model's dtype: in bf16, t is rounded before the sinusoid, dt is
  bf16(1 / steps) and z accumulates in bf16, as upstream's bf16 run does.
* Upstream means to cache the prompt's keys and values but copies them out of the list it has
  just emptied, so every step recomputes the prompt. Here the prompt is prefilled once into a
  static cache and each step writes the same 1 + g*g slots after it: the same numbers (causal
  attention: the prompt never sees the latent), less work.
* The encoder runs once on z (upstream runs it on [z, z], computing the same thing twice).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from janus_eval.types import UserError

from ..janus.llm import causal_mask
from ..janus.processor import left_pad
from .model import JanusFlowModel

#: Upstream's defaults (README's generate() call; demo/app_janusflow.py's sliders).
STEPS = 30
CFG_WEIGHT = 2.0
#: Images per chunk (a fixed shape: see FlowSampler.generate), and the prompt length bucket.
ROWS = 8
BUCKET = 64


@dataclass(frozen=True)
class FlowImage:
    """One image to make: which prompt, its random stream's key, its guidance weight."""

    prompt: int
    key: int
    cfg_weight: float = CFG_WEIGHT


def initial_noise(keys: Sequence[int], shape: tuple[int, ...]) -> Tensor:
    """[len(keys), *shape] float32 standard normal noise, image i from a CPU generator seeded
    with keys[i] alone (so the same on every device and in every batch)."""
    out = [torch.randn(shape, generator=torch.Generator().manual_seed(k)) for k in keys]
    return torch.stack(out) if out else torch.zeros(0, *shape)


class FlowSampler:
    """Latents for FlowImages. Each image is computed in the same shapes whatever else is asked
    for with it (see `generate`), which is what makes images independent of the batch."""

    def __init__(self, model: JanusFlowModel, pad_id: int, rows: int = ROWS) -> None:
        if rows < 1:
            raise UserError(f"rows_per_batch={rows}: must be at least 1")
        self.model = model
        self.pad_id = pad_id
        self.rows = rows

    def latent_shape(self) -> tuple[int, int, int]:
        c = self.model.config
        return (c.latent_channels, c.latent_size, c.latent_size)

    def generate(
        self,
        prompts: Sequence[list[int]],
        images: Sequence[FlowImage],
        steps: int = STEPS,
        noise: Tensor | None = None,
        on_step: Callable[[int, Tensor], None] | None = None,
    ) -> Tensor:
        """Final latents [len(images), C, L, L] (CPU, float32). `noise` replaces the images' own
        initial noise; `on_step(i, v)` sees each step's guided velocity, chunk by chunk, for the
        chunk's images (parity tests compare it with upstream's).

        Fixed shapes: images are grouped by their prompt's length rounded up to BUCKET tokens
        and run `rows` at a time, a short last chunk filled up with copies of its last image; so
        every image is computed with the same cache length, the same number of rows and its own
        left padding, whichever images share its chunk."""
        if steps < 1:
            raise UserError(f"steps={steps}: the flow needs at least 1 step (upstream: 30)")
        for im in images:
            if im.cfg_weight < 0:
                raise UserError(f"cfg_weight {im.cfg_weight} < 0; JanusFlow's default is 2")
        if noise is None:
            noise = initial_noise([im.key for im in images], self.latent_shape())
        out = noise.clone()
        groups: dict[int, list[int]] = {}
        for i, im in enumerate(images):
            groups.setdefault(_round_up(len(prompts[im.prompt]), BUCKET), []).append(i)
        for width, members in sorted(groups.items()):
            for c in range(0, len(members), self.rows):
                part = members[c : c + self.rows]
                full = part + [part[-1]] * (self.rows - len(part))
                rows = [prompts[images[i].prompt] for i in full]
                cfg = [images[i].cfg_weight for i in full]
                z = self._run(rows, cfg, width, steps, noise[full], len(part), on_step)
                out[part] = z[: len(part)].float().cpu()
        return out

    @torch.inference_mode()
    def _run(self, rows, cfg, width, steps, noise, n_real, on_step) -> Tensor:
        model, llm = self.model, self.model.llm
        dev, dtype, n = model.device, model.dtype, len(rows)
        ids, valid, pos = self._prompt_rows(rows, width)
        span = 1 + model.config.num_gen_tokens
        llm.use_cache(llm.setup_cache(2 * n, width + span))
        try:
            llm(
                llm.embed_tokens(ids),
                pos,
                causal_mask(valid),
                slots=torch.arange(width, device=dev),
                cache_rows=torch.arange(2 * n, device=dev),
            )
            step_pos = pos[:, -1:] + 1 + torch.arange(span, device=dev)
            causal = torch.ones(span, span, dtype=torch.bool, device=dev).tril()
            mask = torch.cat(
                [valid[:, None, :].expand(-1, span, -1), causal.expand(2 * n, -1, -1)], dim=-1
            )[:, None]
            slots = torch.arange(width, width + span, device=dev)
            w = torch.tensor(cfg, device=dev).to(dtype)[:, None, None, None]
            dt = torch.tensor(1.0 / steps, device=dev).to(dtype)
            z = noise.to(dev, dtype)
            for i in range(steps):
                t = torch.full((n,), i / steps * 1000.0, device=dev).to(dtype)
                tokens, feats, t_emb = model.encode_latents(z, t)
                x = torch.cat([t_emb[:, None], tokens], dim=1)
                h = llm(torch.cat([x, x]), step_pos, mask, slots=slots, kv_len=width + span)
                v = model.velocity(h[:, 1:], torch.cat([feats, feats]), torch.cat([t_emb, t_emb]))
                v = w * v[:n] - (w - 1) * v[n:]
                if on_step is not None:
                    on_step(i, v[:n_real])
                z = z + dt * v
        finally:
            llm.use_cache(None)
        return z

    def _prompt_rows(self, rows: list[list[int]], width: int):
        """Conditional rows, then unconditional ones (only the first real token visible), each
        left-padded to `width`; RoPE positions count from the row's first real token, masked
        tokens included, as upstream's."""
        ids, valid = left_pad([[self.pad_id] * width, *rows], self.pad_id)  # (width wide)
        ids, valid = ids[1:], valid[1:]
        start = (~valid).sum(1, keepdim=True)
        pos = (torch.arange(width)[None] - start).clamp_min(0)
        first = torch.arange(width)[None] == start
        ids = torch.cat([ids, ids.masked_fill(~first, self.pad_id)])
        dev = self.model.device
        return ids.to(dev), torch.cat([valid, first]).to(dev), torch.cat([pos, pos]).to(dev)


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def bytes_per_image(model: JanusFlowModel, prompt_len: int) -> int:
    """Device bytes one image (two rows) needs while its chunk runs, generously counted: its KV
    cache, one layer's step activations, the attention scores, the decoder's activations."""
    c = model.config
    elem = torch.finfo(model.dtype).bits // 8
    span = 1 + c.num_gen_tokens
    slots = prompt_len + span
    kv = 2 * 2 * c.llm.n_layers * c.llm.n_kv_heads * c.llm.head_dim * slots * elem
    step = 2 * span * (3 * c.llm.ffn_dim + 8 * c.llm.dim) * elem
    scores = 2 * c.llm.n_heads * span * slots * 4
    width = c.decoder.in_channels + c.decoder.channels
    uvit = 2 * 8 * width * c.num_gen_tokens * 4 * elem
    return kv + step + scores + uvit
