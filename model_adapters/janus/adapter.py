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
  decode_batch     int                     images per VQ-decoder call (default 8: 384 px
                                           activations are ~0.6 GB per 16 images per tensor)
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

#: Upstream's guidance weight (generation_inference.py), used when a request leaves it to the model.
CFG_WEIGHT = 5.0

OPTIONS = {
    "chat_format": "auto",
    "sampler": "fast",
    "rows_per_batch": None,
    "compile": None,
    "cuda_graphs": None,
    "decode_batch": 8,
    "parts": "all",
}


def adapter_options(
    name: str, dtype: str, options: dict[str, Any], defaults: dict[str, Any]
) -> dict[str, Any]:
    """`defaults` updated by `options`, after the checks every Janus adapter (`janus`,
    `janus-tiny`, `hf-janus`) makes before anything loads: no unknown option, a known dtype."""
    unknown = set(options) - set(defaults)
    if unknown:
        raise UserError(
            f"model {name!r} has no option(s) {sorted(unknown)}; known: {sorted(defaults)}"
        )
    if dtype not in ("bf16", "fp16", "fp32"):
        raise UserError(f"dtype {dtype!r}: expected bf16, fp16 or fp32")
    return {**defaults, **options}


def check_image_request(r: ImageRequest, native: int) -> None:
    """What every image request must pass before any work: the model's own size (or none) and
    image indices inside range(n)."""
    if r.size not in (None, native):
        raise UserError(
            f"request {r.request_id}: size {r.size} is not supported; this checkpoint "
            f"generates {native}x{native} images (leave size unset or pass {native})"
        )
    bad = [k for k in r.indices if not 0 <= k < r.n]
    if bad:
        raise UserError(f"request {r.request_id}: image indices {bad} are outside range({r.n})")


def per_request(reqs: Sequence[ImageRequest], images: list[Any]) -> list[list[Any]]:
    """Images made in request order, `len(r.indices)` each, back into one list per request."""
    out, i = [], 0
    for r in reqs:
        out.append(images[i : i + len(r.indices)])
        i += len(r.indices)
    return out


def _as_bool(name: str, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    if text in {"", "auto", "none"}:
        return None
    raise UserError(f"model option {name}={value!r}: expected true, false or auto")


def _as_int(name: str, value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in {"", "auto", "none"}):
        return None
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise UserError(f"model option {name}={value!r}: expected an integer") from None
    if out < 1:
        raise UserError(f"model option {name}={value!r}: must be at least 1")
    return out


@register_adapter
class JanusAdapter:
    """DeepSeek Janus / Janus-Pro through janus-eval's own implementation."""

    name = "janus"

    def __init__(
        self,
        model_path: str | None = None,
        device: str = "cpu",
        dtype: str = "fp32",
        **options: Any,
    ) -> None:
        opts = adapter_options(self.name, dtype, options, OPTIONS)
        if opts["chat_format"] not in ("auto", "pro", "janus"):
            raise UserError(
                f"model option chat_format={opts['chat_format']!r}: expected auto, pro or janus"
            )
        if opts["sampler"] not in ("fast", "reference"):
            raise UserError(f"model option sampler={opts['sampler']!r}: expected fast or reference")
        self.chat_format = opts["chat_format"]
        self.sampler_kind = opts["sampler"]
        if opts["parts"] not in ("all", "generation"):
            raise UserError(f"model option parts={opts['parts']!r}: expected all or generation")
        self.parts = opts["parts"]
        self.rows_per_batch = _as_int("rows_per_batch", opts["rows_per_batch"])
        self.compile = _as_bool("compile", opts["compile"])
        self.cuda_graphs = _as_bool("cuda_graphs", opts["cuda_graphs"])
        self.decode_batch = _as_int("decode_batch", opts["decode_batch"]) or 8
        self.model_path = self._default_path() if model_path is None else str(model_path)
        #: What describe() calls the checkpoint: the path or hub name as given (janus-tiny's
        #: default is named by its version, not by where this machine caches it).
        self.checkpoint_label = self._default_label() if model_path is None else str(model_path)
        self.device = device
        self.dtype = dtype
        self._ckpt: Path | None = None
        self._cfg = None
        self._model = None
        self._proc = None
        self._sampler = None
        self._fingerprint: str | None = None

    def _default_label(self) -> str:
        return self.model_path

    def _default_path(self) -> str:
        raise UserError(
            "model 'janus' needs --model-path: a local Janus checkpoint directory or a hub name "
            "such as deepseek-ai/Janus-Pro-7B (or use --model janus-tiny for a toy model)"
        )

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
            import torch

            _, load_model, processor = self._family()
            if self.device.startswith("cuda") and not torch.cuda.is_available():
                raise UserError(
                    f"device {self.device!r}: CUDA is not available here (use --device cpu)"
                )
            self._proc = processor(self.checkpoint, self.config, self.chat_format, self.model_path)
            self._model, _ = load_model(self.checkpoint, self.device, self.dtype)
        return self._model, self._proc

    # ---- protocol ----------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        from .load import fingerprint
        from .processor import resolve_chat_format

        # first: a checkpoint whose chat format nobody stated stops the run before any hashing
        chat = resolve_chat_format(self.chat_format, self.checkpoint, self.model_path)
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.checkpoint)
        return {
            "name": self.name,
            "checkpoint": self.checkpoint_label,
            "weights_sha256": self._fingerprint,
            "layout": self.config.layout,
            "dtype": self.dtype,
            "device": self.device,
            "chat_format": chat,
            "sampler": self.sampler_kind,
            "image_size": self.config.image_size,
        }

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
        from .load import DTYPES
        from .engine import fit_batch_size

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
