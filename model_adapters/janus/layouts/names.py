"""Where each parameter of our Janus lives in a checkpoint, for both layouts (tensor names).

Our module names follow the original deepseek-ai checkpoint minus its `language_model.model.`
and `vision_model.vision_tower.` prefixes, with q/k/v and gate/up fused; the transformers layout
renames most of them. `SOURCES[layout](name)` gives the checkpoint keys that fill parameter
`name`, in row order when several are concatenated into one fused weight. The loader checks and
copies with it (`plan` checks a checkpoint's tensors against a model, JanusFlow's too, before a
byte is copied); janus-tiny writes its checkpoints with it, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from janus_eval.types import UserError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..config import JanusConfig


@dataclass(frozen=True)
class Piece:
    """Source tensor `key` fills rows [start, start + shape[0]) of a parameter."""

    key: str
    shape: tuple[int, ...]
    start: int


def _llm_sources(name: str, prefix: str, lm_head: str) -> list[str]:
    """Our LLM name (under `llm.`) -> source keys; fused weights list their parts in order."""
    if name == "lm_head.weight":
        return [lm_head]
    if name.endswith("self_attn.qkv_proj.weight"):
        base = name[: -len("qkv_proj.weight")]
        return [f"{prefix}{base}{p}_proj.weight" for p in "qkv"]
    if name.endswith("mlp.gate_up_proj.weight"):
        base = name[: -len("gate_up_proj.weight")]
        return [f"{prefix}{base}gate_proj.weight", f"{prefix}{base}up_proj.weight"]
    return [prefix + name]


def original_sources(name: str) -> list[str]:
    head, _, rest = name.partition(".")
    if head == "llm":
        return _llm_sources(rest, "language_model.model.", "language_model.lm_head.weight")
    if head == "vision":
        return ["vision_model.vision_tower." + rest]
    if head == "vq":
        return ["gen_vision_model." + rest]
    return [name]  # aligner, gen_aligner, gen_head, gen_embed: same names upstream


_HF_VISION = [
    (r"^patch_embed\.proj\.", "embeddings.patch_embedding."),
    (r"^pos_embed$", "embeddings.position_embedding.weight"),
    (r"^blocks\.(\d+)\.norm(\d)\.", r"encoder.layers.\1.layer_norm\2."),
    (r"^blocks\.(\d+)\.attn\.proj\.", r"encoder.layers.\1.self_attn.projection_layer."),
    (r"^blocks\.(\d+)\.mlp\.", r"encoder.layers.\1.mlp."),
    (r"^norm\.", "post_layernorm."),
]
_HF_VQ = [
    (r"^(encoder|decoder)\.mid\.0\.", r"\1.mid.block_1."),
    (r"^(encoder|decoder)\.mid\.1\.", r"\1.mid.attn_1."),
    (r"^(encoder|decoder)\.mid\.2\.", r"\1.mid.block_2."),
    (r"^encoder\.conv_blocks\.(\d+)\.res\.", r"encoder.down.\1.block."),
    (r"^encoder\.conv_blocks\.", "encoder.down."),
    (r"^decoder\.conv_blocks\.(\d+)\.res\.", r"decoder.up.\1.block."),
    (r"^decoder\.conv_blocks\.", "decoder.up."),
]


def _sub(rules: list[tuple[str, str]], name: str) -> str:
    for pattern, repl in rules:
        name = re.sub(pattern, repl, name)
    return name


def _hf_mlp(rest: str) -> str:
    """Upstream Sequential index (0, 2, 4..) -> transformers' fc1 / hidden_layers.k."""
    m = re.match(r"layers\.(\d+)\.(.*)", rest)
    assert m, rest
    i = int(m.group(1))
    return f"fc1.{m.group(2)}" if i == 0 else f"hidden_layers.{i // 2 - 1}.{m.group(2)}"


def hf_sources(name: str) -> list[str]:
    head, _, rest = name.partition(".")
    if head == "llm":
        return _llm_sources(rest, "model.language_model.", "lm_head.weight")
    if head == "vision":
        m = re.match(r"blocks\.(\d+)\.attn\.qkv\.(weight|bias)$", rest)
        if m:
            return [
                f"model.vision_model.encoder.layers.{m.group(1)}.self_attn.{p}_proj.{m.group(2)}"
                for p in "qkv"
            ]
        return ["model.vision_model." + _sub(_HF_VISION, rest)]
    if head == "aligner":
        return ["model.aligner." + _hf_mlp(rest)]
    if head == "gen_aligner":
        return ["model.generation_aligner." + _hf_mlp(rest)]
    if head == "gen_head":
        return ["model.generation_head." + rest.replace("output_mlp_projector", "proj_out")]
    if head == "gen_embed":
        return ["model.generation_embeddings." + rest]
    if head == "vq":
        return ["model.vqmodel." + _sub(_HF_VQ, rest)]
    raise KeyError(name)


SOURCES: dict[str, Callable[[str], list[str]]] = {"original": original_sources, "hf": hf_sources}


def split_rows(name: str, shape: Any, parts: int, cfg: JanusConfig) -> list[int]:
    """Rows of fused parameter `name` that each of its `parts` source tensors fills."""
    if parts == 1:
        return [shape[0]]
    if name.endswith("qkv_proj.weight"):
        c = cfg.llm
        return [c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim, c.n_kv_heads * c.head_dim]
    return [shape[0] // parts] * parts


def export_state(
    state: dict[str, Any],
    cfg: JanusConfig,
    layout: str,
    sources: Callable[[str], list[str]] | None = None,
) -> dict[str, Any]:
    """Our parameter names -> the checkpoint's tensor names (fused weights split back): how
    janus-tiny and the tests write checkpoints of either layout (`sources`: another family's
    names, as for `plan`; `cfg.llm` gives the splits)."""
    out = {}
    for name, tensor in state.items():
        keys = (sources or SOURCES[layout])(name)
        parts = (
            tensor.split(split_rows(name, tensor.shape, len(keys), cfg))
            if len(keys) > 1
            else [tensor]
        )
        for key, part in zip(keys, parts):
            out[key] = (
                part.squeeze(0)
                if layout == "hf" and name == "vision.pos_embed"
                else part.contiguous()
            )
    return out


def has_vq_encoder(layout: str, keys: Iterable[str]) -> bool:
    """Whether any of the checkpoint's tensor `keys` belongs to the VQ encoder."""
    prefix = SOURCES[layout]("vq.encoder.conv_in.weight")[0].removesuffix("conv_in.weight")
    return any(key.startswith(prefix) for key in keys)


#: Tensors present in real checkpoints that Janus never uses.
IGNORED = (
    re.compile(r"vision_(model|und_enc_model)\.vision_tower\.attn_pool\..*"),  # SigLIP pool head
    re.compile(r"(gen_vision_model|model\.vqmodel)\.quantize\.codebook_used"),  # training stat
    re.compile(r".*\.rotary_emb\.inv_freq"),  # saved by old transformers versions
    re.compile(r".*\.position_ids"),
)


def plan(
    model: torch.nn.Module,
    layout: str,
    available: dict[str, tuple[tuple[int, ...], torch.dtype]],
    tie_lm_head: bool = False,
    where: str = "",
    unused: set[str] = frozenset(),
    sources: Callable[[str], list[str]] | None = None,
) -> dict[str, list[Piece]]:
    """Map every parameter of `model` to its source pieces; raise one UserError listing all
    missing, mis-shaped and unexpected tensors (`unused`: present keys to skip quietly).
    `sources` names a parameter's source tensors (default: the Janus rule for `layout`)."""
    sources = sources or SOURCES[layout]
    out: dict[str, list[Piece]] = {}
    missing, wrong, used = [], [], set()
    for name, param in model.named_parameters():
        keys = sources(name)
        if tie_lm_head and name == "llm.lm_head.weight" and keys[0] not in available:
            keys = sources("llm.embed_tokens.weight")
        splits = split_rows(name, param.shape, len(keys), model.config)
        pieces, start = [], 0
        for key, nrows in zip(keys, splits):
            shape = (nrows, *param.shape[1:]) if len(keys) > 1 else tuple(param.shape)
            used.add(key)
            if key not in available:
                missing.append(key)
            elif not _same_shape(available[key][0], shape):
                wrong.append(f"{key}: {list(available[key][0])} (expected {list(shape)})")
            pieces.append(Piece(key, shape, start))
            start += nrows
        out[name] = pieces
    unexpected = [
        k
        for k in available
        if k not in used and k not in unused and not any(p.fullmatch(k) for p in IGNORED)
    ]
    problems = []
    for label, items in (("missing", missing), ("wrong shape", wrong), ("unexpected", unexpected)):
        if items:
            shown = "; ".join(items[:8]) + (
                f"; ... ({len(items) - 8} more)" if len(items) > 8 else ""
            )
            problems.append(f"{len(items)} {label}: {shown}")
    if problems:
        raise UserError(
            f"{where}: the weights do not match a {layout}-layout "
            f"{type(model).__name__.removesuffix('Model')} model with this "
            f"config.json ({' | '.join(problems)}). Is the checkpoint complete, and does its "
            f"config.json belong to these weights?"
        )
    return out


def _same_shape(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Equal, or equal once size-1 dims are dropped (pos_embed is [1, N, W] upstream, [N, W]
    in transformers)."""
    return tuple(a) == tuple(b) or [d for d in a if d != 1] == [d for d in b if d != 1]
