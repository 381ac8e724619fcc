"""The `janus` and `janus-tiny` model adapters.

Nothing heavy is imported at module level (the registry imports every adapter module to list
them); torch and the model code load on first use. The checkpoint is read lazily too: describe()
needs only the config and the weight files' fingerprint, so resumed runs key their results
without loading the model.

Options (`--model-option k=v`):
  chat_format      auto | pro | janus      role spelling; auto = what the checkpoint's files or
                                           name state, else the run stops (processor.py)
  sampler          fast | reference        image loop: the CFG sampler, or upstream's eager loop
  rows_per_batch   int                     images per sampler chunk (default: as many as fit)
  compile          bool                    torch.compile the decode step (default: on CUDA)
  cuda_graphs      bool                    replay the decode step as CUDA graphs (default: on CUDA)
  decode_batch     int                     images per VQ-decoder call (default 1: a PNG then
                                           never depends on which images share its call, so
                                           a resume that redraws part of a batch writes the
                                           same bytes; more is faster, equal to rounding)
  parts            all | generation        generation: load no vision tower, lm_head or VQ
                                           encoder (1.5 GB less at 7B; understand() refuses)
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from janus_eval.registry import register_adapter
from janus_eval.types import ImageRequest, UnderstandRequest, UserError

from .._base import (  # noqa: F401  (adapter_options: other branches import it from here)
    Adapter,
    adapter_options,
    as_bool,
    as_int,
    check_device,
    check_image_request,
    choice,
    per_request,
)

#: Upstream's guidance weight (generation_inference.py), used when a request leaves it to the model.
CFG_WEIGHT = 5.0

OPTIONS = {
    "chat_format": "auto",
    "sampler": "fast",
    "rows_per_batch": None,
    "compile": None,
    "cuda_graphs": None,
    "decode_batch": 1,
    "parts": "all",
}


CHAT_FORMATS = ("auto", "pro", "janus")


def weights_and_chat(adapter) -> dict[str, Any]:
    """The chat format (resolved first: a checkpoint whose format nobody stated stops the run
    before any hashing; the role spelling changes every prompt, so it belongs in the results
    key) and the weights' fingerprint (computed once per adapter), as describe() reports them:
    `janus` and `hf-janus` alike."""
    from .load import fingerprint
    from .processor import resolve_chat_format

    chat = resolve_chat_format(adapter.chat_format, adapter.checkpoint, adapter.model_path)
    if adapter._fingerprint is None:
        adapter._fingerprint = fingerprint(adapter.checkpoint)
    return {"weights_sha256": adapter._fingerprint, "chat_format": chat}


@register_adapter
class JanusAdapter(Adapter):
    """DeepSeek Janus / Janus-Pro through janus-eval's own implementation."""

    name = "janus"
    #: Optional methods it has (janus_eval.types.ADAPTER_CAPABILITIES).
    capabilities = frozenset({"auto_batch_size"})
    OPTIONS = OPTIONS
    needs_path = (
        "a local Janus checkpoint directory or a hub name such as deepseek-ai/Janus-Pro-7B "
        "(or use --model janus-tiny for a toy model)"
    )

    def configure(self, opts: dict[str, Any]) -> None:
        opts = {**OPTIONS, **opts}  # a family's own OPTIONS may leave some out
        self.chat_format = choice("chat_format", opts["chat_format"], CHAT_FORMATS)
        self.sampler_kind = choice("sampler", opts["sampler"], ("fast", "reference"))
        self.parts = choice("parts", opts["parts"], ("all", "generation"))
        self.rows_per_batch = as_int("rows_per_batch", opts["rows_per_batch"])
        self.compile = as_bool("compile", opts["compile"])
        self.cuda_graphs = as_bool("cuda_graphs", opts["cuda_graphs"])
        self.decode_batch = as_int("decode_batch", opts["decode_batch"]) or 1
        #: What describe() calls the checkpoint: the path or hub name as given (janus-tiny's
        #: default is named by its version, not by where this machine caches it).
        self.checkpoint_label = self._default_label() if self.default_model else self.model_path
        self._ckpt: Path | None = None
        self._cfg = None
        self._model = None
        self._proc = None
        self._sampler = None
        self._fingerprint: str | None = None

    def _default_label(self) -> str:
        return self.model_path

    # ---- lazy pieces -------------------------------------------------------------------------

    #: How messages name the checkpoint (an adapter for another family of the house says its own).
    checkpoint_kind = "janus checkpoint"

    def _family(self) -> tuple[Any, Any, Any]:
        """(read_config, load_model(ckpt, device, dtype), processor class) of the model family;
        JanusFlow's adapter reuses everything else here by overriding this."""
        from .layouts import read_config
        from .load import load_model
        from .processor import JanusProcessor

        return read_config, functools.partial(load_model, parts=self.parts), JanusProcessor

    @property
    def checkpoint(self) -> Path:
        if self._ckpt is None:
            from .load import resolve

            self._ckpt = resolve(self.model_path, what=self.checkpoint_kind)
        return self._ckpt

    @property
    def config(self):
        if self._cfg is None:
            self._cfg = self._family()[0](self.checkpoint)
        return self._cfg

    def _load(self):
        if self._model is None:
            _, load_model, processor = self._family()
            check_device(self.device)
            self._proc = processor(self.checkpoint, self.config, self.chat_format, self.model_path)
            self._model, _ = load_model(self.checkpoint, self.device, self.dtype)
        return self._model, self._proc

    # ---- protocol ----------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return self.description(
            **weights_and_chat(self),
            checkpoint=self.checkpoint_label,
            layout=self.config.layout,
            sampler=self.sampler_kind,
            image_size=self.config.image_size,
        )

    def understand(self, reqs: Sequence[UnderstandRequest]) -> list[str]:
        from .understand import greedy

        if not reqs:
            return []
        if self.parts == "generation":
            raise UserError(
                "this janus model was loaded with --model-option parts=generation (no vision "
                "tower or lm_head); understanding tasks need parts=all"
            )
        for r in reqs:
            if r.max_new_tokens < 0:
                raise UserError(f"max_new_tokens {r.max_new_tokens} < 0")
        model, proc = self._load()
        batch = proc.understanding_batch(
            [(r.prompt, tuple(r.images), r.system_prompt) for r in reqs]
        )
        with _toy_threads(model):
            tokens = greedy(
                model,
                batch,
                [r.max_new_tokens for r in reqs],
                {proc.ids.eos},
                cuda_graphs=self.cuda_graphs,
                compile=self.compile,
            )
        return [proc.decode(t) for t in tokens]

    def auto_batch_size(self, kind: str) -> int:
        """Requests per batch for `--batch-size auto`: on a GPU, as many as fit in 80% of its
        free memory (KV cache and activations per request, see engine.fit_batch_size; the
        weights counted too when not loaded yet), at most 256; on a CPU, 8."""
        import torch

        if not str(self.device).startswith("cuda") or not torch.cuda.is_available():
            return 8
        from .engine import fit_batch_size
        from .load import DTYPES

        free, _ = torch.cuda.mem_get_info(torch.device(self.device))
        return fit_batch_size(
            self.config, DTYPES[self.dtype], kind, free, weights_loaded=self._model is not None
        )

    def generate_images(self, reqs: Sequence[ImageRequest]) -> list[list[Any]]:
        from .sampler import Stream, stream_key, validate

        native = self.config.image_size
        streams, owners, prompts, index = [], [], [], {}
        for r in reqs:  # every check before any work
            check_image_request(r, native)
            if self.sampler_kind == "reference" and (
                r.top_k or (r.top_p is not None and r.top_p < 1)
            ):
                raise UserError(
                    f"request {r.request_id}: the reference sampler draws from the full "
                    f"distribution as upstream does; top_k/top_p need sampler=fast"
                )
            if r.prompt not in index:
                index[r.prompt] = len(index)
            for k in r.indices:
                streams.append(
                    Stream(
                        index[r.prompt],
                        stream_key(r.seed, r.request_id, k),
                        CFG_WEIGHT if r.cfg_weight is None else r.cfg_weight,
                        r.temperature,
                        r.top_k,
                        r.top_p,
                    )
                )
                owners.append(r)
        validate(streams)
        if not streams:
            return [[] for _ in reqs]
        model, proc = self._load()
        from .understand import release

        release(model)  # an understanding task's KV cache and graphs are not needed any more
        prompts = [proc.generation_ids(p) for p in index]
        with _toy_threads(model):
            codes = self._codes(model, proc, prompts, streams)
            images = self._decode(model, codes)
        return per_request(reqs, images)

    # ---- helpers -----------------------------------------------------------------------------

    def _codes(self, model, proc, prompts, streams):
        import torch

        if self.sampler_kind == "reference":
            from .reference import reference_generate

            rows = []
            for s in streams:  # one image per call: its generator depends on its key alone
                rows.append(
                    reference_generate(
                        model, prompts[s.prompt], [s.key], proc.ids.pad, s.cfg_weight, s.temperature
                    )
                )
            return torch.cat(rows)
        if self._sampler is None:
            from .sampler import CFGSampler

            self._sampler = CFGSampler(
                model, proc.ids.pad, cuda_graphs=self.cuda_graphs, compile=self.compile
            )
        return self._sampler.generate(prompts, streams, rows=self.rows_per_batch)

    def _decode(self, model, codes) -> list[Any]:
        import torch
        from PIL import Image

        from .vq import to_uint8

        images = []
        with torch.inference_mode():
            for i in range(0, codes.shape[0], self.decode_batch):
                pixels = model.decode_images(codes[i : i + self.decode_batch].to(model.device))
                for arr in to_uint8(pixels).cpu().numpy():
                    images.append(Image.fromarray(arr, mode="RGB"))
        return images


@contextmanager
def _toy_threads(model) -> Iterator[None]:
    """A toy-sized model on the CPU runs single-threaded: its per-token ops are microseconds of
    work, and OpenMP's barriers cost milliseconds each on a busy machine (40x slower measured)."""
    import torch

    if model.device.type != "cpu" or model.config.llm.dim >= 512:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@register_adapter
class JanusTinyAdapter(JanusAdapter):
    """A random-weight Janus at toy sizes (32 px images, 16 image tokens) for demos and tests; its
    checkpoint is written on first use under $JANUS_EVAL_CACHE (default ~/.cache/janus-eval)."""

    name = "janus-tiny"

    def _default_path(self) -> str:
        from .tiny import ensure_tiny_checkpoint

        return str(ensure_tiny_checkpoint())

    def _default_label(self) -> str:
        from .tiny import TINY_VERSION

        return f"janus-tiny-v{TINY_VERSION}"
