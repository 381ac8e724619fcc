"""What a diffusers pipeline folder holds, read without loading any weights: the pipeline class
and its components (model_index.json), whether it needs code of its own, which files
`DiffusionPipeline.from_pretrained` will read, and the defaults of the pipeline's __call__.

This is what lets the `diffusers` adapter refuse a pipeline before downloading gigabytes, and
describe itself (for the run id) without building the model.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from janus_eval.types import UserError

from ._hf_common import is_weight_file, read_json

#: Component libraries diffusers loads from its own code; anything else is a module shipped
#: in the checkpoint (remote code).
OWN_LIBRARIES = ("diffusers", "transformers")
#: Weight formats from_pretrained reads, in its order of preference.
LOADED_WEIGHTS = (".safetensors", ".bin")
#: Parameters that make a pipeline something other than text-to-image.
NOT_TEXT_TO_IMAGE = ("image", "mask_image", "control_image", "video")
_SHARD = re.compile(r"-\d+-of-\d+")


@dataclass(frozen=True)
class PipelineSpec:
    root: Path
    class_name: str
    #: component name -> (library, class name), for the components the checkpoint provides.
    components: dict[str, tuple[str, str]]

    @property
    def pipeline_class(self) -> type:
        import diffusers

        return getattr(diffusers, self.class_name)

    def call_defaults(self) -> dict[str, Any]:
        """Parameter -> default of the pipeline's __call__ (inspect.Parameter.empty if none)."""
        params = inspect.signature(self.pipeline_class.__call__).parameters
        return {name: p.default for name, p in params.items() if name != "self"}

    def compatible_schedulers(self) -> list[str]:
        """The scheduler classes diffusers says can replace the checkpoint's (its own included),
        from the scheduler's config alone."""
        import diffusers

        cls = getattr(diffusers, self.components["scheduler"][1])
        scheduler = cls.from_pretrained(str(self.root), subfolder="scheduler")
        return sorted(c.__name__ for c in scheduler.compatibles)

    def files(self, variant: str | None, skip: tuple[str, ...] = ()) -> list[str]:
        """The files from_pretrained reads (relative paths), as diffusers picks them: in a
        folder with weights, its config.json and the weights of the asked-for variant
        (non-variant ones where a component has none), safetensors before .bin; every file of
        the other folders (tokenizer, scheduler). Components in `skip` are not loaded."""
        out = ["model_index.json"]
        for name in sorted(set(self.components) - set(skip)):
            folder = self.root / name
            if not folder.is_dir():
                raise UserError(
                    f"{self.root}: model_index.json lists the component {name!r}, but the "
                    f"folder {name}/ is missing; download the complete pipeline"
                )
            every = sorted(
                p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file()
            )
            weights = [f for f in every if f.endswith(LOADED_WEIGHTS)]
            if not weights:
                out += [f for f in every if not is_weight_file(f)]
                continue
            chosen = _pick(weights, variant)
            if not chosen:
                raise UserError(
                    f"{folder}: no weights to load (found {', '.join(Path(f).name for f in weights)}"
                    f" for variant {variant!r}); download the complete pipeline"
                )
            out += [f for f in every if Path(f).name == "config.json"] + chosen
        return out


def _variant(name: str) -> str | None:
    """diffusers' variant of a weight file: model.fp16.safetensors, model.fp16-00001-of-00002
    .safetensors and the legacy model-00001-of-00002.fp16.safetensors are all fp16."""
    stem = _SHARD.sub("", Path(name).name.rsplit(".", 1)[0])
    parts = stem.split(".", 1)
    return parts[1] if len(parts) > 1 else None


def _pick(weights: list[str], variant: str | None) -> list[str]:
    for wanted in dict.fromkeys([variant, None]):
        group = [f for f in weights if _variant(f) == wanted]
        for suffix in LOADED_WEIGHTS:
            chosen = [f for f in group if f.endswith(suffix)]
            if chosen:
                return chosen
    return []


def read_spec(root: Path, model_path: str) -> PipelineSpec:
    """model_index.json, after checking diffusers can build every part from its own code."""
    import diffusers
    import diffusers.pipelines

    index = read_json(root / "model_index.json", "diffusers pipeline")
    class_name = index.get("_class_name")
    remote = (
        f"{model_path}: the pipeline needs Python code shipped with the checkpoint "
        f"(trust_remote_code), which janus-eval never runs"
    )
    if not isinstance(class_name, str):
        raise UserError(f"{remote}: model_index.json names the class {class_name!r}")
    if not isinstance(getattr(diffusers, class_name, None), type):
        raise UserError(
            f"{model_path}: model_index.json names the pipeline {class_name!r}, which diffusers "
            f"{diffusers.__version__} does not have; it is either custom code (never run here) "
            f"or needs a newer diffusers"
        )
    components = {}
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, list) or len(value) != 2:
            continue
        library, cls = value
        if library is None or cls is None:
            continue
        if library not in OWN_LIBRARIES and not hasattr(diffusers.pipelines, library):
            raise UserError(f"{remote}: component {name!r} comes from {library}.py ({cls})")
        components[name] = (library, cls)
    spec = PipelineSpec(root, class_name, components)
    params = spec.call_defaults()
    wrong = [p for p in NOT_TEXT_TO_IMAGE if p in params]
    if "prompt" not in params or wrong:
        raise UserError(
            f"{model_path}: {class_name} is not a text-to-image pipeline (its __call__ takes "
            f"{', '.join(wrong) or 'no prompt'}); the diffusers adapter runs text-to-image "
            f"pipelines such as StableDiffusionXLPipeline or PixArtSigmaPipeline"
        )
    return spec
