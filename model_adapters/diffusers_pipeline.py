"""`diffusers`: any diffusers text-to-image pipeline (`DiffusionPipeline.from_pretrained`, a local
folder or a hub name) for the generation tasks: SDXL, PixArt, SD 1.5, ... next to Janus.

(The module is not called diffusers.py so that it never shadows the diffusers package.)

Seeds belong to images: image k of a request draws its initial noise (and a stochastic
scheduler's per-step noise) from its own CPU `torch.Generator`, seeded with the janus sampler's
`stream_key(seed, request id, k)`; diffusers draws each image of a batch from its own generator,
so an image does not depend on the batch it was made in, nor on the GPU's random generator.
Prompts are batched: one pipeline call makes up to `images_per_call` images that share the
guidance scale and size.

Options (`--model-option k=v`; every one that changes pixels is in describe(), so in the run id):
  steps            num_inference_steps (default: the pipeline's own, e.g. 50 for SDXL)
  guidance_scale   task (default): the task's cfg_weight (GenEval's cfg_weight option; a task
                   that leaves it to the model, as GenEval's auto and the FID tasks do, gets
                   the pipeline's own default) | pipeline: the pipeline's own default | a number
  scheduler        a diffusers scheduler class compatible with the pipeline, built from the
                   checkpoint's scheduler config (e.g. DPMSolverMultistepScheduler)
  resolution       N or HxW in pixels (default: the pipeline's own, e.g. 1024 for SDXL); a task
                   that asks for a size (the FID tasks' image_size) must agree with it
  variant          weight files to load, e.g. fp16 (diffusion_pytorch_model.fp16.safetensors)
  negative_prompt  text for the unconditional branch (default: none)
  safety_checker   true (default: the pipeline as published, as GenEval's own script ran it)
                   | false: drop the checker, which blacks out images it flags
  images_per_call  most images per pipeline call (default 8); memory only, never pixels
`--dtype` (fp32, bf16, fp16) sets the weights' dtype. Pipelines or components that come with
their own Python code are refused: janus-eval never runs remote code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from janus_eval.registry import register_adapter
from janus_eval.types import ImageRequest, UnderstandRequest, UserError

from ._base import Adapter, as_bool, as_int
from ._hf_common import check_device, files_fingerprint, load_errors, text_option

OPTIONS = {
    "steps": None,
    "guidance_scale": "task",
    "scheduler": None,
    "resolution": None,
    "variant": None,
    "negative_prompt": None,
    "safety_checker": True,
    "images_per_call": 8,
}
#: Components that go with the safety checker when it is dropped.
SAFETY = ("safety_checker", "feature_extractor")
NOISE = "torch.Generator('cpu') per image, seeded with stream_key(seed, request id, k)"


@register_adapter
class DiffusersAdapter(Adapter):
    """Any diffusers text-to-image pipeline (DiffusionPipeline.from_pretrained: a local folder or
    a hub name such as stabilityai/stable-diffusion-xl-base-1.0) for the generation tasks; one
    seeded generator per image, so images do not depend on batching. Needs the extra
    'diffusers'. Options: steps, guidance_scale (task|pipeline|number), scheduler, resolution,
    variant, negative_prompt, safety_checker, images_per_call (docs/MODEL.md)."""

    name = "diffusers"
    OPTIONS = OPTIONS
    needs_path = (
        "a diffusers pipeline folder (with model_index.json) or a hub name such as "
        "stabilityai/stable-diffusion-xl-base-1.0"
    )

    def configure(self, opts: dict[str, Any]) -> None:
        from janus_eval.extras import require

        require("diffusers", "diffusers", "model 'diffusers'")
        self.steps = as_int("steps", opts["steps"])
        self.guidance = _guidance(opts["guidance_scale"])
        self.scheduler = text_option(opts["scheduler"])
        self.resolution = _resolution(opts["resolution"])
        self.variant = text_option(opts["variant"])
        self.negative_prompt = text_option(opts["negative_prompt"])
        self.safety_checker = as_bool("safety_checker", opts["safety_checker"]) is not False
        self.images_per_call = as_int("images_per_call", opts["images_per_call"]) or 8
        self._spec = None
        self._pipe = None
        self._description: dict[str, Any] | None = None

    # ---- the checkpoint ------------------------------------------------------------------------

    @property
    def spec(self):
        """The pipeline folder, checked (model_index.json first: a pipeline that would be
        refused is not downloaded), with the options checked against the pipeline."""
        if self._spec is None:
            from janus_eval.hub import looks_like_path, resolve_snapshot

            from ._diffusers_checkpoint import read_spec

            what = "diffusers pipeline"
            root = resolve_snapshot(self.model_path, what=what, allow_patterns=["model_index.json"])
            spec = read_spec(root, self.model_path)
            if not looks_like_path(self.model_path):
                spec = read_spec(self._download(), self.model_path)
            self._check_options(spec)
            self._spec = spec
        return self._spec

    def _download(self) -> Path:
        from diffusers import DiffusionPipeline

        from janus_eval.hub import download_error

        try:
            return Path(DiffusionPipeline.download(self.model_path, variant=self.variant))
        except Exception as exc:  # offline, missing repo or variant: all the user's to fix
            raise download_error(self.model_path, "diffusers pipeline", exc) from None

    def _check_options(self, spec) -> None:
        params = spec.call_defaults()
        for option, param, value in (
            ("steps", "num_inference_steps", self.steps),
            ("guidance_scale", "guidance_scale", self.guidance),
            ("negative_prompt", "negative_prompt", self.negative_prompt),
        ):
            if value not in (None, "task", "pipeline") and param not in params:
                raise UserError(
                    f"model option {option}: {spec.class_name} has no {param!r} parameter"
                )
        if self.scheduler is not None:
            compatible = spec.compatible_schedulers()
            if self.scheduler not in compatible:
                raise UserError(
                    f"model option scheduler={self.scheduler!r}: not a scheduler diffusers "
                    f"lists as compatible with {spec.components['scheduler'][1]}; choose one of "
                    f"{', '.join(compatible)}"
                )

    def _skipped(self, spec) -> tuple[str, ...]:
        return () if self.safety_checker else tuple(c for c in SAFETY if c in spec.components)

    def _load(self):
        if self._pipe is None:
            import diffusers
            import torch
            from packaging.version import Version

            from .janus.load import DTYPES

            check_device(self.device)
            spec = self.spec
            dtype_key = (
                "dtype" if Version(diffusers.__version__) >= Version("0.42.1") else "torch_dtype"
            )
            kwargs: dict[str, Any] = {dtype_key: DTYPES[self.dtype], "variant": self.variant}
            kwargs.update({c: None for c in self._skipped(spec)})
            with load_errors(
                self.model_path, f"diffusers could not load the pipeline ({self.dtype})"
            ):
                pipe = diffusers.DiffusionPipeline.from_pretrained(
                    str(spec.root), trust_remote_code=False, **kwargs
                )
            if self.scheduler is not None:
                cls = getattr(diffusers, self.scheduler)
                pipe.scheduler = cls.from_config(pipe.scheduler.config)
            pipe.set_progress_bar_config(disable=True)
            self._pipe = pipe.to(torch.device(self.device))
        return self._pipe

    # ---- protocol ----------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        if self._description is None:
            import diffusers
            import transformers

            spec = self.spec
            defaults = spec.call_defaults()
            guidance = self.guidance
            if "guidance_scale" not in defaults:
                guidance = "none (the pipeline has no guidance_scale)"
            elif guidance == "pipeline":
                guidance = defaults["guidance_scale"]
            skipped = set(self._skipped(spec))
            self._description = self.description(
                files_fingerprint(spec.root, spec.files(self.variant, self._skipped(spec))),
                pipeline=spec.class_name,
                scheduler=self.scheduler or spec.components["scheduler"][1],
                steps=self.steps or defaults.get("num_inference_steps"),
                guidance_scale=guidance,
                resolution="x".join(map(str, self.resolution or ())) or "pipeline default",
                negative_prompt=self.negative_prompt,
                variant=self.variant,
                safety_checker="safety_checker" in set(spec.components) - skipped,
                noise=NOISE,
                diffusers=diffusers.__version__,
                transformers=transformers.__version__,
            )
        return dict(self._description)

    def understand(self, reqs: Sequence[UnderstandRequest]) -> list[str]:
        raise UserError(
            "model 'diffusers' generates images; it cannot answer questions (use janus, "
            "janusflow or hf-vlm for understanding tasks)"
        )

    def generate_images(self, reqs: Sequence[ImageRequest]) -> list[list[Any]]:
        from .janus.sampler import stream_key

        groups: dict[tuple, list[tuple[int, int, str, int]]] = {}
        for i, r in enumerate(reqs):  # every check before any work
            bad = [k for k in r.indices if not 0 <= k < r.n]
            if bad:
                raise UserError(
                    f"request {r.request_id}: image indices {bad} are outside range({r.n})"
                )
            setting = (self._guidance_for(r), self._size_for(r))
            for k in r.indices:
                key = stream_key(r.seed, r.request_id, k)
                groups.setdefault(setting, []).append((i, k, r.prompt, key))
        made: dict[tuple[int, int], Any] = {}
        for (guidance, size), jobs in groups.items():
            for start in range(0, len(jobs), self.images_per_call):
                chunk = jobs[start : start + self.images_per_call]
                images = self._call([j[2] for j in chunk], [j[3] for j in chunk], guidance, size)
                made.update({(j[0], j[1]): im for j, im in zip(chunk, images)})
        return [[made[(i, k)] for k in r.indices] for i, r in enumerate(reqs)]

    # ---- helpers -----------------------------------------------------------------------------

    def _guidance_for(self, req: ImageRequest) -> float | None:
        """The guidance scale passed for `req` (None: the pipeline's own default)."""
        if self.guidance == "task":
            return req.cfg_weight if "guidance_scale" in self.spec.call_defaults() else None
        return None if self.guidance == "pipeline" else self.guidance

    def _size_for(self, req: ImageRequest) -> tuple[int, int] | None:
        if req.size is None:
            return self.resolution
        if self.resolution not in (None, (req.size, req.size)):
            raise UserError(
                f"request {req.request_id}: the task asks for {req.size}x{req.size} images but "
                f"--model-option resolution={'x'.join(map(str, self.resolution))}; drop one"
            )
        return (req.size, req.size)

    def _call(self, prompts: list[str], keys: list[int], guidance, size) -> list[Any]:
        import torch

        pipe = self._load()
        kwargs: dict[str, Any] = {
            "prompt": prompts,
            "generator": [torch.Generator("cpu").manual_seed(k) for k in keys],
            "num_images_per_prompt": 1,
            "output_type": "pil",
        }
        if self.steps is not None:
            kwargs["num_inference_steps"] = self.steps
        if guidance is not None:
            kwargs["guidance_scale"] = guidance
        if size is not None:
            kwargs["height"], kwargs["width"] = size
        if self.negative_prompt is not None:
            kwargs["negative_prompt"] = [self.negative_prompt] * len(prompts)
        try:
            with torch.inference_mode():
                out = pipe(**kwargs)
        except ValueError as exc:  # the pipeline's own input checks (size multiples, ...)
            raise UserError(
                f"{self.spec.class_name} refused the settings: {str(exc).splitlines()[0]}"
            ) from exc
        if not hasattr(out, "images"):  # e.g. a text-to-video pipeline (.frames)
            raise UserError(f"{self.spec.class_name} does not return images")
        return list(out.images)


def _guidance(value: Any) -> str | float:
    text = str(value).strip().lower()
    if text in ("task", "pipeline"):
        return text
    try:
        scale = float(value)
    except (TypeError, ValueError):
        scale = -1.0
    if not scale >= 0:
        raise UserError(
            f"model option guidance_scale={value!r}: expected task, pipeline or a number >= 0"
        )
    return scale


def _resolution(value: Any) -> tuple[int, int] | None:
    text = text_option(value)
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*(?:[x*]\s*(\d+))?\s*", text)
    if not m or int(m.group(1)) < 1 or int(m.group(2) or 1) < 1:
        raise UserError(
            f"model option resolution={value!r}: expected N or HxW in pixels, e.g. 1024 or 768x1344"
        )
    return int(m.group(1)), int(m.group(2) or m.group(1))
