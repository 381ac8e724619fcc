"""mmdet's Mask2Former checkpoint -> transformers' `Mask2FormerForUniversalSegmentation` weights.

The target names are the layout transformers' `save_pretrained` writes (and every transformers
version reads): `...encoder.encoder.layers.S.blocks.B.attention.self.query`, `intermediate.dense`,
... Most tensors are only renamed; three change shape or order:

* Swin attention: mmdet's fused `qkv` (3C x C) is split into query, key, value (in that order).
* Swin patch merging: mmdet gathers each 2x2 patch with `nn.Unfold`, so the 4C input features
  are ordered (channel, position) with positions (0,0), (0,1), (1,0), (1,1); transformers
  concatenates (position, channel) with positions (0,0), (1,0), (0,1), (1,1). The reduction's
  input columns and the norm's 4C weights are permuted accordingly (the inverse of mmdet's own
  `swin_converter.correct_unfold_reduction_order`).
* Decoder self-attention: `nn.MultiheadAttention`'s packed `in_proj` (3C x C) becomes
  `q_proj`, `k_proj`, `v_proj` (cross-attention is an `nn.MultiheadAttention` in both).

mmdet's Swin stores `relative_position_index` (a buffer computed from the window size);
transformers recomputes it, so it is checked against the standard index and dropped. The one
tensor transformers has and mmdet lacks, the loss's `criterion.empty_weight`, is written with
transformers' own values (it plays no part in inference). The backbone's final `layernorm`,
which transformers' Swin backbone builds but never applies, is left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from janus_eval.types import UserError

from .mmdet_layout import Arch, infer_arch, layout, mmdet_keys, v2_name, v3_name

#: transformers orders the 2x2 patch (row, col) as (0,0), (1,0), (0,1), (1,1); mmdet's unfold
#: as (0,0), (0,1), (1,0), (1,1). Position p of transformers is position UNFOLD_ORDER[p] of mmdet.
UNFOLD_ORDER = (0, 2, 1, 3)

_SWIN = "model.pixel_level_module.encoder."
_PIXEL = "model.pixel_level_module.decoder."
_HEAD = "model.transformer_module."
_BLOCK = r"backbone\.stages\.(\d+)\.blocks\.(\d+)\."
_ENC = r"panoptic_head\.pixel_decoder\.encoder\.layers\.(\d+)\."
_DEC = r"panoptic_head\.transformer_decoder\.layers\.(\d+)\."
_PD = r"panoptic_head\.pixel_decoder\."


def _group(source: str, target: str, parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(pattern, template) pairs: `source` + each literal part ("{n}": a number) -> `target` +
    its counterpart; `\\1`, `\\2` in templates are the pattern's groups."""
    literal = [(re.escape(a).replace(r"\{n\}", r"(\d+)"), b) for a, b in parts]
    return [(source + a, target + b) for a, b in literal]


#: mmdet 3.x key prefixes (regular expressions) -> transformers key prefixes.
RENAMES: list[tuple[str, str]] = [
    *_group(
        r"backbone\.patch_embed\.",
        _SWIN + "embeddings.",
        [("projection.", "patch_embeddings.projection."), ("norm.", "norm.")],
    ),
    *_group(
        _BLOCK,
        _SWIN + r"encoder.layers.\1.blocks.\2.",
        [
            ("norm1.", "layernorm_before."),
            ("norm2.", "layernorm_after."),
            (
                "attn.w_msa.relative_position_bias_table",
                "attention.self.relative_position_bias_table",
            ),
            ("attn.w_msa.proj.", "attention.output.dense."),
            ("ffn.layers.0.0.", "intermediate.dense."),
            ("ffn.layers.1.", "output.dense."),
        ],
    ),
    *_group(
        _ENC,
        _PIXEL + r"encoder.layers.\1.",
        [
            ("self_attn.", "self_attn."),
            ("ffn.layers.0.0.", "fc1."),
            ("ffn.layers.1.", "fc2."),
            ("norms.0.", "self_attn_layer_norm."),
            ("norms.1.", "final_layer_norm."),
        ],
    ),
    *_group(
        _PD,
        _PIXEL,
        [
            ("input_convs.{n}.conv.", r"input_projections.\1.0."),
            ("input_convs.{n}.gn.", r"input_projections.\1.1."),
            ("level_encoding.weight", "level_embed"),
            ("lateral_convs.0.conv.", "adapter_1.0."),
            ("lateral_convs.0.gn.", "adapter_1.1."),
            ("output_convs.0.conv.", "layer_1.0."),
            ("output_convs.0.gn.", "layer_1.1."),
            ("mask_feature.", "mask_projection."),
        ],
    ),
    *_group(
        _DEC,
        _HEAD + r"decoder.layers.\1.",
        [
            ("cross_attn.attn.", "cross_attn."),
            ("self_attn.attn.out_proj.", "self_attn.out_proj."),
            ("ffn.layers.0.0.", "fc1."),
            ("ffn.layers.1.", "fc2."),
            ("norms.0.", "cross_attn_layer_norm."),
            ("norms.1.", "self_attn_layer_norm."),
            ("norms.2.", "final_layer_norm."),
        ],
    ),
    *_group(
        r"panoptic_head\.",
        _HEAD,
        [
            ("transformer_decoder.post_norm.", "decoder.layernorm."),
            ("query_embed.", "queries_embedder."),
            ("query_feat.", "queries_features."),
            ("level_embed.", "level_embed."),
            ("mask_embed.0.", "decoder.mask_predictor.mask_embedder.0.0."),
            ("mask_embed.2.", "decoder.mask_predictor.mask_embedder.1.0."),
            ("mask_embed.4.", "decoder.mask_predictor.mask_embedder.2.0."),
        ],
    ),
    (r"panoptic_head\.cls_embed\.", "class_predictor."),
]
_RENAMES = [(re.compile(p), t) for p, t in RENAMES]


def relative_position_index(window: int):
    """Swin's (window^2, window^2) relative position index (the standard formula)."""
    import torch

    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij"))
    flat = coords.flatten(1)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0) + (window - 1)
    return rel[..., 0] * (2 * window - 1) + rel[..., 1]


def _own(x):
    """A contiguous copy that shares no memory with the checkpoint (safetensors insists)."""
    return x.detach().clone().contiguous()


def _unfold_to_hf(x):
    """Patch-merging features from mmdet's (channel, position) order to transformers'."""
    head, channels = x.shape[:-1], x.shape[-1] // 4
    x = x.reshape(*head, channels, 4)[..., list(UNFOLD_ORDER)]
    return x.transpose(-1, -2).reshape(*head, 4 * channels)


def _split3(x, prefix: str, names: tuple[str, str, str], suffix: str) -> dict[str, Any]:
    return {f"{prefix}{n}.{suffix}": _own(part) for n, part in zip(names, x.chunk(3, dim=0))}


def convert_tensor(key: str, tensor: Any, arch: Arch) -> dict[str, Any]:
    """One mmdet 3.x tensor -> its transformers tensor(s); {} for the index buffer it drops.
    KeyError for a key no rule knows, ValueError for a wrong relative position index."""
    import torch

    if m := re.fullmatch(_BLOCK + r"attn\.w_msa\.qkv\.(weight|bias)", key):
        prefix = f"{_SWIN}encoder.layers.{m[1]}.blocks.{m[2]}.attention.self."
        return _split3(tensor, prefix, ("query", "key", "value"), m[3])
    if re.fullmatch(_BLOCK + r"attn\.w_msa\.relative_position_index", key):
        if not torch.equal(tensor.long(), relative_position_index(arch.window_size)):
            raise ValueError(
                f"{key} is not Swin's relative position index for window {arch.window_size}"
            )
        return {}
    if m := re.fullmatch(
        r"backbone\.stages\.(\d+)\.downsample\.(norm\.\w+|reduction\.weight)", key
    ):
        return {f"{_SWIN}encoder.layers.{m[1]}.downsample.{m[2]}": _own(_unfold_to_hf(tensor))}
    if m := re.fullmatch(r"backbone\.norm(\d+)\.(weight|bias)", key):
        return {f"{_SWIN}hidden_states_norms.stage{int(m[1]) + 1}.{m[2]}": _own(tensor)}
    if m := re.fullmatch(_DEC + r"self_attn\.attn\.in_proj_(weight|bias)", key):
        prefix = f"{_HEAD}decoder.layers.{m[1]}.self_attn."
        return _split3(tensor, prefix, ("q_proj", "k_proj", "v_proj"), m[2])
    for pattern, target in _RENAMES:
        if m := pattern.match(key):
            return {m.expand(target) + key[m.end() :]: _own(tensor)}
    raise KeyError(key)


def _listing(what: str, keys: list[str], limit: int = 8) -> str:
    more = f" (and {len(keys) - limit} more)" if len(keys) > limit else ""
    return f"{what}: {', '.join(keys[:limit])}{more}"


def convert_state_dict(
    state: Mapping[str, Any], *, source: str, how: str = ""
) -> tuple[Arch, str, dict[str, Any]]:
    """(architecture, "mmdet2" | "mmdet3", transformers state dict) for an mmdet Mask2Former
    state dict. Keys that are missing, unknown or renamed are a UserError naming them (in the
    checkpoint's own layout); `how` is appended (where to get the right file)."""
    kind = layout(list(state))
    shown = v2_name if kind == "mmdet2" else str
    v3 = {v3_name(k): t for k, t in state.items()}
    original = {v3_name(k): k for k in state}
    bad = (
        f"GenEval detector: {source} is not an mmdet Mask2Former (Swin) checkpoint ({kind} layout)"
    )
    try:
        arch = infer_arch(v3)
    except KeyError as exc:
        raise UserError(f"{bad}: missing key {shown(str(exc.args[0]))}. {how}".strip()) from None
    expected = mmdet_keys(arch)
    known = set(expected)
    missing = [shown(k) for k in expected if k not in v3]
    unexpected = [original[k] for k in v3 if k not in known]
    if missing or unexpected:
        parts = [_listing("missing keys", missing)] if missing else []
        parts += [_listing("unexpected keys", unexpected)] if unexpected else []
        raise UserError(f"{bad}: {'; '.join(parts)}. {how}".strip())
    import torch

    hf: dict[str, Any] = {}
    for key in expected:
        try:
            hf.update(convert_tensor(key, v3[key], arch))
        except ValueError as exc:
            raise UserError(f"{bad}: {exc}. {how}".strip()) from None
    empty_weight = torch.ones(arch.num_labels + 1)
    empty_weight[-1] = arch.hf_config().no_object_weight
    hf["criterion.empty_weight"] = empty_weight
    return arch, kind, hf


def read_mmdet_checkpoint(path: Path, *, what: str = "GenEval detector") -> dict[str, Any]:
    """The model weights of an mmdet checkpoint (`state_dict` inside, or the bare dict), read
    with `torch.load(weights_only=True)`; a DataParallel `module.` prefix is removed."""
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(
            f"{what}: cannot read {path} as a weights-only checkpoint ({type(exc).__name__}: "
            f"{exc}); is it a complete download of the .pth file?"
        ) from None
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise UserError(f"{what}: {path} holds no state_dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}
