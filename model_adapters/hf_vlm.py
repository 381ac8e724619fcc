"""`hf-vlm`: any transformers image-text-to-text model, run through its own processor and chat
template, for the understanding tasks (the LLaVA-style models the Janus papers compare with).

How a request becomes model input:
  * the prompt is split at each `<image>`: the pieces become one user message of text and image
    entries in that order (each text piece stripped of the whitespace next to an image: the
    template puts its own separator there); a prompt without `<image>` gets its images first,
    then the text (UnderstandRequest's rule). The marker count must equal the image count.
  * a system message is added when there is a system prompt: the `system_prompt` option when
    set, else the request's (tasks send "" = none). With none, the template's own default
    applies (Qwen2-VL's adds "You are a helpful assistant.").
  * the processor's chat template (or the `chat_template` override) renders the messages with
    the generation prompt; the processor then tokenises the texts with left padding and
    preprocesses the images, as apply_chat_template(tokenize=True) would (no second BOS when
    the template writes one).
Answers: greedy decoding (no sampling, no repetition penalty, whatever generation_config.json
suggests), stopping at the generation config's eos ids, each answer cut to its request's
max_new_tokens and decoded without special tokens, surrounding whitespace stripped. Greedy
answers do not depend on the batch: padding is masked and a row's tokens never see another's.

Options (`--model-option k=v`):
  attn_implementation  eager | sdpa | flash_attention_2 | flash_attention_3 | flex_attention
                       (default: transformers' choice, sdpa where available)
  chat_template        a .jinja file, or the template text itself (default: the checkpoint's)
  system_prompt        text used as every request's system prompt (default: the request's)
`--dtype` (fp32, bf16, fp16) sets the weights' dtype. Checkpoints that need their own Python
code (trust_remote_code) are refused: janus-eval never runs remote code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from janus_eval.registry import register_adapter
from janus_eval.types import ImageRequest, UnderstandRequest, UserError

from ._base import Adapter
from ._hf_common import (
    check_device,
    files_fingerprint,
    is_weight_file,
    load_errors,
    read_json,
    text_option,
    text_sha256,
)

OPTIONS = {"attn_implementation": None, "chat_template": None, "system_prompt": None}
ATTENTION = ("eager", "sdpa", "flash_attention_2", "flash_attention_3", "flex_attention")
#: What a processor, its tokenizer and chat template are saved as (config.json and weights aside).
PROCESSOR_PATTERNS = ["*.json", "*.txt", "*.model", "*.jinja", "*.tiktoken"]
IMAGE = "<image>"


@register_adapter
class HFVLMAdapter(Adapter):
    """Any transformers image-text-to-text model (AutoModelForImageTextToText + AutoProcessor,
    e.g. llava-hf/llava-1.5-7b-hf, Qwen/Qwen2-VL-2B-Instruct) for the understanding tasks:
    prompts through the model's chat template, batched greedy answers. No remote code.
    Options: attn_implementation, chat_template (file or text), system_prompt (docs/MODEL.md)."""

    name = "hf-vlm"
    OPTIONS = OPTIONS
    needs_path = (
        "a transformers image-text-to-text checkpoint "
        "(a local folder or a hub name such as llava-hf/llava-1.5-7b-hf)"
    )

    def configure(self, opts: dict[str, Any]) -> None:
        self.attn = text_option(opts["attn_implementation"])
        if self.attn is not None and self.attn not in ATTENTION:
            raise UserError(
                f"model option attn_implementation={self.attn!r}: expected one of "
                f"{', '.join(ATTENTION)} (or leave it unset for transformers' default)"
            )
        self.template_override = _read_template(text_option(opts["chat_template"]))
        self.system_prompt = text_option(opts["system_prompt"])
        self._ckpt: Path | None = None
        self._config: dict | None = None
        self._processor = None
        self._model = None
        self._description: dict[str, Any] | None = None

    # ---- lazy pieces -------------------------------------------------------------------------

    @property
    def checkpoint(self) -> Path:
        """The local folder: configs first, checked, and only then the weights (a model that
        would be refused is not downloaded); safetensors, else .bin."""
        if self._ckpt is None:
            from janus_eval.hub import looks_like_path, resolve_snapshot

            what = "hf-vlm checkpoint"
            ckpt = resolve_snapshot(self.model_path, what=what, allow_patterns=PROCESSOR_PATTERNS)
            if not ckpt.is_dir():
                raise UserError(f"{what}: {ckpt} is not a directory")
            self._config = check_config(ckpt, self.model_path)
            if not looks_like_path(self.model_path):
                for weights in ("*.safetensors", "*.bin"):
                    ckpt = resolve_snapshot(
                        self.model_path, what=what, allow_patterns=[*PROCESSOR_PATTERNS, weights]
                    )
                    if any(ckpt.glob(weights)):
                        break
            self._ckpt = ckpt
        return self._ckpt

    @property
    def processor(self):
        if self._processor is None:
            from transformers import AutoProcessor

            with load_errors(self.model_path, "transformers could not load the processor"):
                proc = AutoProcessor.from_pretrained(str(self.checkpoint), trust_remote_code=False)
            tok = getattr(proc, "tokenizer", None)
            if tok is None or not hasattr(proc, "image_processor"):
                raise UserError(
                    f"{self.model_path}: AutoProcessor loaded a {type(proc).__name__}, not a "
                    f"processor with a tokenizer and an image processor; hf-vlm needs the "
                    f"checkpoint's processor files (processor_config.json / "
                    f"preprocessor_config.json, tokenizer files)"
                )
            tok.padding_side = "left"  # generation appends on the right
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
            self._processor = proc
        return self._processor

    @property
    def chat_template(self) -> str:
        """The template text used for every prompt: the override, else the processor's."""
        if self.template_override is not None:
            return self.template_override
        template = self.processor.chat_template
        if isinstance(template, dict):  # several named templates: "default" is the chat one
            template = template.get("default")
        if not template:
            raise UserError(
                f"{self.model_path}: the processor has no chat template; pass one with "
                f"--model-option chat_template=FILE.jinja"
            )
        return template

    def _load(self):
        if self._model is None:
            import torch
            from transformers import AutoModelForImageTextToText

            from .janus.load import DTYPES

            check_device(self.device)
            what = (
                f"transformers could not load the model (attn_implementation="
                f"{self.attn or 'default'}, dtype={self.dtype})"
            )
            with load_errors(self.model_path, what):
                model = AutoModelForImageTextToText.from_pretrained(
                    str(self.checkpoint),
                    dtype=DTYPES[self.dtype],
                    attn_implementation=self.attn,
                    trust_remote_code=False,
                )
            self._model = model.to(torch.device(self.device)).eval()
        return self._model

    # ---- protocol ----------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        if self._description is None:
            import transformers

            from .janus.load import fingerprint

            ckpt = self.checkpoint
            self._description = self.description(
                fingerprint(ckpt),
                model_type=self._config["model_type"],
                processor_sha256=files_fingerprint(ckpt, processor_files(ckpt)),
                chat_template="override" if self.template_override else "checkpoint",
                chat_template_sha256=text_sha256(self.chat_template),
                system_prompt=self.system_prompt,
                attn_implementation=self.attn or "default",
                decoding="greedy",
                transformers=transformers.__version__,
            )
        return dict(self._description)

    def understand(self, reqs: Sequence[UnderstandRequest]) -> list[str]:
        import torch
        from transformers import GenerationConfig

        if not reqs:
            return []
        for r in reqs:
            if r.max_new_tokens < 0:
                raise UserError(f"max_new_tokens {r.max_new_tokens} < 0")
        longest = max(r.max_new_tokens for r in reqs)
        if longest == 0:
            return ["" for _ in reqs]
        model = self._load()
        inputs = self.inputs(reqs)
        tok = self.processor.tokenizer
        eos = model.generation_config.eos_token_id
        eos = [tok.eos_token_id] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
        config = GenerationConfig(
            max_new_tokens=longest,
            do_sample=False,
            num_beams=1,
            eos_token_id=eos,
            pad_token_id=tok.pad_token_id,
        )
        with torch.inference_mode():
            out = model.generate(**inputs, generation_config=config)
        answers = []
        for row, r in zip(out[:, inputs["input_ids"].shape[1] :].tolist(), reqs):
            row = row[: r.max_new_tokens]
            cut = next((i for i, t in enumerate(row) if t in eos), len(row))
            answers.append(tok.decode(row[:cut], skip_special_tokens=True).strip())
        return answers

    def generate_images(self, reqs: Sequence[ImageRequest]) -> list[list[Any]]:
        raise UserError(
            "model 'hf-vlm' answers questions about images; it cannot generate images "
            "(use janus, janusflow or diffusers for generation tasks)"
        )

    # ---- prompts -----------------------------------------------------------------------------

    def messages(self, req: UnderstandRequest) -> list[dict[str, Any]]:
        """The chat messages for one request (see the module docstring)."""
        pieces = req.prompt.split(IMAGE)
        if len(pieces) == 1:
            content = [{"type": "image"}] * len(req.images) + _text(req.prompt)
        elif len(pieces) - 1 != len(req.images):
            raise UserError(
                f"prompt has {len(pieces) - 1} {IMAGE} marker(s) but the request carries "
                f"{len(req.images)} image(s): {req.prompt[:80]!r}"
            )
        else:
            content = _text(pieces[0])
            for piece in pieces[1:]:
                content += [{"type": "image"}, *_text(piece)]
        system = self.system_prompt if self.system_prompt is not None else req.system_prompt
        out = [{"role": "system", "content": _text(system)}] if system else []
        return [*out, {"role": "user", "content": content}]

    def inputs(self, reqs: Sequence[UnderstandRequest]):
        """The processor's batch for `reqs` (left-padded, on the model's device)."""
        from janus_eval.images import load_image

        proc = self.processor
        template = self.chat_template
        texts = [
            proc.apply_chat_template(
                self.messages(r), chat_template=template, add_generation_prompt=True
            )
            for r in reqs
        ]
        images = [[load_image(im, what="understanding image") for im in r.images] for r in reqs]
        bos = proc.tokenizer.bos_token
        batch = proc(
            text=texts,
            images=images if any(images) else None,
            padding=True,
            return_tensors="pt",
            # the template already wrote BOS: do not add another (as apply_chat_template does)
            add_special_tokens=not (bos is not None and texts[0].startswith(bos)),
        )
        model = self._load()
        batch = batch.to(model.device)
        if "pixel_values" in batch and batch["pixel_values"].is_floating_point():
            batch["pixel_values"] = batch["pixel_values"].to(model.dtype)
        return batch


def _text(text: str | None) -> list[dict[str, str]]:
    text = (text or "").strip()
    return [{"type": "text", "text": text}] if text else []


def _read_template(value: str | None) -> str | None:
    """The chat_template option: a file's contents, or template text given inline."""
    if value is None:
        return None
    path = Path(value).expanduser()
    if "{" not in value and len(value) < 4096:
        if not path.is_file():
            raise UserError(
                f"model option chat_template={value!r}: no such file, and not a Jinja template "
                f"either (a template holds '{{{{' or '{{%')"
            )
        return path.read_text(encoding="utf-8")
    return value


def check_config(ckpt: Path, model_path: str) -> dict:
    """config.json, after checking transformers can build the model without remote code and
    that it is an image-text-to-text model."""
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    config = read_json(ckpt / "config.json", "hf-vlm checkpoint")
    model_type = config.get("model_type")
    version = transformers.__version__
    if model_type not in CONFIG_MAPPING_NAMES:
        if "auto_map" in config:
            raise UserError(
                f"{model_path}: model_type {model_type!r} is defined by the checkpoint's own "
                f"Python code (auto_map in config.json), which transformers runs only with "
                f"trust_remote_code; janus-eval never runs remote code. Use a conversion of the "
                f"model to transformers' own format (often published with a '-hf' suffix)."
            )
        raise UserError(
            f"{model_path}: model_type {model_type!r} in config.json is unknown to transformers "
            f"{version}; upgrade transformers, or check that this is a transformers checkpoint"
        )
    if model_type not in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        raise UserError(
            f"{model_path}: model_type {model_type!r} is not an image-text-to-text model in "
            f"transformers {version} (AutoModelForImageTextToText cannot load it); hf-vlm runs "
            f"vision-language models such as llava, qwen2_vl, idefics3 or gemma3"
        )
    return config


def processor_files(ckpt: Path) -> list[str]:
    """The files the processor, its tokenizer and the chat template are read from."""
    top = [
        p.name
        for p in ckpt.iterdir()
        if p.is_file()
        and p.name != "config.json"
        and not is_weight_file(p.name)
        and any(p.match(pattern) for pattern in PROCESSOR_PATTERNS)
    ]
    extra = ckpt / "additional_chat_templates"
    more = [f"{extra.name}/{p.name}" for p in extra.glob("*.jinja")] if extra.is_dir() else []
    return top + more
