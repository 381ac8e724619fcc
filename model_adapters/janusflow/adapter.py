"""The `janusflow` and `janusflow-tiny` model adapters.

Understanding is Janus's (the same LLM, SigLIP tower, processor and greedy decoder, inherited
from JanusAdapter); only the model and the image positions differ. Generation is the
rectified-flow loop of flow.py, then the SDXL VAE of vae.py. As for Janus, nothing heavy is
imported until needed, and describe() reads only config files and fingerprints.

Options (`--model-option k=v`):
  chat_format      auto | pro | janus   role spelling; auto = what the checkpoint states
                                        (JanusFlow-1.3B: janus, User/Assistant; processor.py)
  steps            int (30)             Euler steps of the flow (upstream's default)
  vae              name or path         the SDXL VAE (default stabilityai/sdxl-vae, as upstream)
  rows_per_batch   int (8)              images per flow chunk: a fixed shape (short chunks are
                                        filled up), so images do not depend on the batch; it
                                        moves last bits, so it is part of describe()
  compile          bool                 torch.compile the understanding decode step
  cuda_graphs      bool                 replay the understanding decode step as CUDA graphs

Requests: cfg_weight None (a task that leaves it to the model) means upstream's 2;
temperature / top_k / top_p do not exist for a flow and are refused unless at their defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from janus_eval.registry import register_adapter
from janus_eval.types import ImageRequest, UserError

from .._base import as_int, check_image_request, per_request
from ..janus.adapter import JanusAdapter, _toy_threads

OPTIONS = {
    "chat_format": "auto",
    "steps": 30,
    "vae": None,
    "rows_per_batch": 8,  # flow.ROWS
    "compile": None,
    "cuda_graphs": None,
}


@register_adapter
class JanusFlowAdapter(JanusAdapter):
    """DeepSeek JanusFlow (rectified-flow generation, SDXL VAE) through janus-eval's own
    implementation; image decoding needs the diffusers extra."""

    name = "janusflow"

    OPTIONS = OPTIONS
    needs_path = (
        "a local JanusFlow checkpoint directory or a hub name such as deepseek-ai/JanusFlow-1.3B "
        "(or use --model janusflow-tiny)"
    )

    def configure(self, opts: dict[str, Any]) -> None:
        super().configure(opts)  # Janus's: chat format, compile, CUDA graphs
        self.steps = as_int("steps", opts["steps"])
        if self.steps is None:
            raise UserError("model option steps: expected a positive integer (upstream: 30)")
        self.rows_per_batch = as_int("rows_per_batch", opts["rows_per_batch"]) or 8
        self.vae_spec = str(opts["vae"]) if opts["vae"] else None
        self._vae_dir: Path | None = None
        self._vae = None

    def _default_vae(self) -> str:
        from .vae import DEFAULT_VAE

        return DEFAULT_VAE

    def _vae_label(self) -> str:
        return self.vae_spec or self._default_vae()

    # ---- lazy pieces -------------------------------------------------------------------------

    checkpoint_kind = "janusflow checkpoint"

    def _family(self) -> tuple[Any, Any, Any]:
        from .config import read_config
        from .load import load_model
        from .processor import JanusFlowProcessor

        return read_config, load_model, JanusFlowProcessor

    @property
    def vae_dir(self) -> Path:
        if self._vae_dir is None:
            from .vae import locate

            self._vae_dir = locate(self.vae_spec or self._default_vae())
        return self._vae_dir

    def _load_vae(self):
        if self._vae is None:
            from .vae import load_vae, vae_dtype_for

            model, _ = self._load()
            self._vae = load_vae(self.vae_dir, self.device, vae_dtype_for(model.dtype))
        return self._vae

    # ---- protocol ----------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """Janus's description (weights, layout, dtype, device, chat format, image size) with
        the flow's settings and the VAE. The VAE is named as given; a local VAE
        directory is fingerprinted too (a hub name is not resolved just to describe a run)."""
        from janus_eval.hub import looks_like_path

        out = super().describe()
        out.pop("sampler", None)  # Janus's token sampler: not part of JanusFlow
        out.update(
            latent_size=self.config.latent_size,
            steps=self.steps,
            rows_per_batch=self.rows_per_batch,
            vae=self._vae_label(),
        )
        if self.vae_spec and looks_like_path(self.vae_spec):
            from .vae import fingerprint as vae_fingerprint

            out["vae_sha256"] = vae_fingerprint(self.vae_dir)
        return out

    def auto_batch_size(self, kind: str) -> int:
        """Requests per batch for `--batch-size auto`: 8 on a CPU; on a GPU as many
        understanding rows or generated images (one per request) as fit in 80% of free memory
        next to the weights, at most 256."""
        import torch

        if not str(self.device).startswith("cuda") or not torch.cuda.is_available():
            return 8
        from ..janus.engine import AUTO_NEW_TOKENS, AUTO_TEXT_TOKENS, bytes_per_row
        from ..janus.load import DTYPES
        from .flow import bytes_per_image
        from .load import build_empty

        free, _ = torch.cuda.mem_get_info(torch.device(self.device))
        meta = build_empty(self.config, "meta", DTYPES[self.dtype])
        if self._model is None:
            free -= sum(p.numel() * p.element_size() for p in meta.parameters())
        if kind.startswith("generat"):
            need = bytes_per_image(meta, 128)
        else:
            prompt = self.config.vision.num_tokens + 2 + AUTO_TEXT_TOKENS
            need = bytes_per_row(self.config, meta.dtype.itemsize, prompt, AUTO_NEW_TOKENS)
        return max(1, min(256, int(max(free, 0) * 0.8 // need)))

    def generate_images(self, reqs: Sequence[ImageRequest]) -> list[list[Any]]:
        from ..janus.sampler import stream_key
        from ..janus.understand import release
        from .flow import CFG_WEIGHT, FlowImage, FlowSampler
        from .vae import scale_factor

        native = self.config.latent_size * scale_factor(self.vae_dir)
        prompts: dict[str, int] = {}
        images = []
        for r in reqs:  # every check before any work
            check_image_request(r, native)
            if r.temperature != 1.0 or r.top_k or (r.top_p is not None and r.top_p < 1):
                raise UserError(
                    f"request {r.request_id}: JanusFlow integrates a flow from Gaussian noise; "
                    f"temperature, top_k and top_p do not apply (leave them at their defaults)"
                )
            cfg = CFG_WEIGHT if r.cfg_weight is None else r.cfg_weight
            if cfg < 0:
                raise UserError(f"request {r.request_id}: cfg_weight {cfg} < 0")
            index = prompts.setdefault(r.prompt, len(prompts))
            images += [
                FlowImage(index, stream_key(r.seed, r.request_id, k), cfg) for k in r.indices
            ]
        if not images:
            return [[] for _ in reqs]
        model, proc = self._load()
        vae = self._load_vae()
        release(model)  # an understanding task's KV cache and graphs are not needed any more
        ids = [proc.generation_ids(p) for p in prompts]
        with _toy_threads(model):
            sampler = FlowSampler(model, proc.ids.pad, self.rows_per_batch)
            latents = sampler.generate(ids, images, self.steps)
            pictures = self._decode(vae, latents)
        return per_request(reqs, pictures)

    def _decode(self, vae, latents) -> list[Any]:
        """One image per VAE call: a batched decode's rounding depends on the batch size (a
        pixel in a few thousand moves by one level), and the VAE is ~1% of the flow's work."""
        from PIL import Image

        from .vae import decode

        return [
            Image.fromarray(decode(vae, z[None].to(self.device))[0].cpu().numpy(), mode="RGB")
            for z in latents
        ]


@register_adapter
class JanusFlowTinyAdapter(JanusFlowAdapter):
    """A random-weight JanusFlow at toy sizes (32 px understanding images, 64 px generated images
    through a tiny random VAE) for demos and tests; written on first use under
    $JANUS_EVAL_CACHE (the VAE part needs the diffusers extra)."""

    name = "janusflow-tiny"

    def _default_path(self) -> str:
        from .tiny import ensure_tiny_checkpoint

        return str(ensure_tiny_checkpoint())

    def _default_label(self) -> str:
        from .tiny import TINY_VERSION

        return f"janusflow-tiny-v{TINY_VERSION}"

    def _default_vae(self) -> str:
        from .tiny import ensure_tiny_vae

        return str(ensure_tiny_vae())

    def _vae_label(self) -> str:
        from .tiny import VAE_LABEL

        return self.vae_spec or VAE_LABEL
