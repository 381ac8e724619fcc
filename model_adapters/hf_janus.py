"""`hf-janus`: transformers' JanusForConditionalGeneration, run the way its docs show, for
side-by-side comparison with the `janus` adapter.

It reads transformers-layout checkpoints (`model_type: janus`, e.g.
deepseek-community/Janus-Pro-1B); the deepseek-ai layout needs upstream's remote code, which
janus-eval never runs (use the `janus` adapter for those).

What is the same as `janus`: the prompt text (upstream's chat format and default system prompt,
built by janus' processor), greedy answers, CFG weight and temperature. What is transformers'
own: tokenisation and image preprocessing through its JanusProcessor (its resize rounds the
short side where upstream truncates), the model code, its generate() loop, and its
postprocess() to uint8. Sampling note: transformers' GenerationConfig defaults to top_k=50,
while upstream samples the full distribution; this adapter passes top_k=0 (and top_p=1.0)
unless a request sets them. Seeds: each image is generated alone after
torch.manual_seed(stream key of (seed, request id, k)), so images do not depend on batching
(transformers draws with the global generator).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from janus_eval.registry import register_adapter
from janus_eval.types import ImageRequest, UnderstandRequest, UserError

from ._base import Adapter, choice
from .janus.adapter import CFG_WEIGHT, CHAT_FORMATS, weights_and_chat


@register_adapter
class HFJanusAdapter(Adapter):
    """transformers' JanusForConditionalGeneration as people run it today (transformers-layout
    checkpoints), for side-by-side comparison with `janus`.

    See the module docstring for what it shares with `janus` and what is transformers' own."""

    name = "hf-janus"
    OPTIONS = {"chat_format": "auto"}
    needs_path = (
        "a transformers-layout Janus checkpoint (model_type 'janus'), "
        "e.g. deepseek-community/Janus-Pro-1B"
    )

    def configure(self, opts: dict[str, Any]) -> None:
        self.chat_format = choice("chat_format", opts["chat_format"], CHAT_FORMATS)
        self._loaded = None
        self._fingerprint = None
        self._ckpt = None

    @property
    def checkpoint(self):
        if self._ckpt is None:
            from janus_eval.model_adapters.janus.layouts import read_config
            from janus_eval.model_adapters.janus.load import resolve

            ckpt = resolve(self.model_path)
            cfg = read_config(ckpt)
            if cfg.layout != "hf":
                raise UserError(
                    f"{ckpt}: a deepseek-ai layout checkpoint (model_type multi_modality); "
                    f"transformers can only load it with remote code, which janus-eval does not "
                    f"run. Use --model janus for this checkpoint, or a transformers-layout one "
                    f"(e.g. deepseek-community/Janus-Pro-1B) with hf-janus"
                )
            self._ckpt, self._cfg = ckpt, cfg
        return self._ckpt

    def _load(self):
        if self._loaded is None:
            from janus_eval.model_adapters.janus.load import DTYPES
            from janus_eval.model_adapters.janus.processor import JanusProcessor
            from transformers import AutoProcessor, JanusForConditionalGeneration

            ckpt = self.checkpoint
            model = JanusForConditionalGeneration.from_pretrained(
                str(ckpt), dtype=DTYPES[self.dtype]
            )
            model = model.to(self.device).eval()
            hf_proc = AutoProcessor.from_pretrained(str(ckpt))
            hf_proc.use_default_system_prompt = False  # the prompt text already carries it
            ours = JanusProcessor(ckpt, self._cfg, self.chat_format, self.model_path)
            self._loaded = (model, hf_proc, ours)
        return self._loaded

    def describe(self) -> dict[str, Any]:
        import transformers

        return self.description(**weights_and_chat(self), transformers=transformers.__version__)

    def understand(self, reqs: Sequence[UnderstandRequest]) -> list[str]:
        import torch
        from transformers import GenerationConfig

        from janus_eval.images import load_image

        if not reqs:
            return []
        model, hf_proc, ours = self._load()
        texts = [ours.understanding_text(r.prompt, len(r.images), r.system_prompt) for r in reqs]
        images = [load_image(im, what="understanding image") for r in reqs for im in r.images]
        inputs = hf_proc(
            text=texts,
            images=images or None,
            generation_mode="text",
            padding=True,
            return_tensors="pt",
        ).to(self.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
        with torch.inference_mode():
            gc = GenerationConfig(
                max_new_tokens=max(r.max_new_tokens for r in reqs),
                do_sample=False,
                pad_token_id=ours.ids.pad,
                eos_token_id=ours.ids.eos,
                bos_token_id=ours.ids.bos,
            )
            out = model.generate(**inputs, generation_config=gc, generation_mode="text")
        new = out[:, inputs["input_ids"].shape[1] :].tolist()
        answers = []
        for row, r in zip(new, reqs):
            row = row[: r.max_new_tokens]
            cut = row.index(ours.ids.eos) if ours.ids.eos in row else len(row)
            answers.append(ours.decode(row[:cut]))
        return answers

    def generate_images(self, reqs: Sequence[ImageRequest]) -> list[list[Any]]:
        import torch
        from janus_eval.model_adapters.janus.sampler import stream_key
        from torchvision.transforms.functional import to_pil_image
        from transformers import GenerationConfig

        model, hf_proc, ours = self._load()
        native = self._cfg.image_size
        for r in reqs:
            if r.size not in (None, native):
                raise UserError(
                    f"request {r.request_id}: size {r.size} is not supported (this model makes {native}x{native})"
                )
            if _cfg(r) <= 1:  # transformers skips its CFG processor at <= 1, then fails
                raise UserError(
                    f"request {r.request_id}: hf-janus needs cfg_weight > 1 (got {r.cfg_weight})"
                )
        out = []
        for r in reqs:
            text = ours.chat(r.prompt, "")
            inputs = hf_proc(text=[text], generation_mode="image", return_tensors="pt").to(
                self.device
            )
            images = []
            for k in r.indices:
                gc = GenerationConfig(
                    do_sample=r.temperature > 0,
                    temperature=r.temperature or None,
                    top_k=r.top_k or 0,
                    top_p=r.top_p if r.top_p is not None else 1.0,
                    guidance_scale=_cfg(r),
                    pad_token_id=ours.ids.pad,
                    bos_token_id=ours.ids.bos,
                    generation_kwargs={"boi_token_id": ours.ids.boi},
                    max_new_tokens=self._cfg.num_gen_tokens,
                )
                torch.manual_seed(stream_key(r.seed, r.request_id, k))
                with torch.inference_mode():
                    tokens = model.generate(**inputs, generation_config=gc, generation_mode="image")
                    pixels = model.decode_image_tokens(tokens)
                # postprocess(return_tensors="PIL.Image.Image") fails in transformers 5.24 (it hands
                # that value on to preprocess); its uint8 tensors are converted here instead
                arrays = hf_proc.postprocess(list(pixels.float()), return_tensors=None)[
                    "pixel_values"
                ]
                images += [to_pil_image(a) for a in arrays]
            out.append(images)
        return out


def _cfg(r: ImageRequest) -> float:
    """The request's guidance weight, or Janus's own default when it leaves that to the model."""
    return CFG_WEIGHT if r.cfg_weight is None else r.cfg_weight
