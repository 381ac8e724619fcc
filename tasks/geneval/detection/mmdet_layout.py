"""The key layouts of mmdet's Mask2Former checkpoints (Swin backbone, COCO instance), and the
architecture their tensor shapes describe.

GenEval's detector is mmdet's `mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco`. Its checkpoint
comes in two key layouts of one model:

* mmdet 2.x (what GenEval's download script fetches): the transformer layers are mmcv 1.x
  `BaseTransformerLayer`s, whose sub-modules are lists in `operation_order`:
  `encoder.layers.N.attentions.0` (the deformable self-attention), `decoder.layers.N.attentions.0`
  (cross-attention: the decoder's order is cross_attn, norm, self_attn, norm, ffn, norm) and
  `attentions.1` (self-attention), `ffns.0` for the feed-forward block.
* mmdet 3.x (the model zoo's re-upload, `..._8xb2-lsj-50e_coco_20220504_001756-c9d0c4f2.pth`):
  the same tensors under `self_attn`, `cross_attn` and `ffn`. Nothing else differs: the Swin
  backbone, pixel decoder convolutions, norms, queries and heads keep their names.

(mmdet 2.28.2 `mmdet/models/utils/transformer.py` and mmcv 1.x `BaseTransformerLayer` for the
first; mmdet 3.3.0 `mmdet/models/layers/transformer/mask2former_layers.py` for the second.)
Everything below works on 3.x names; `v3_name` / `v2_name` translate.

The architecture (depths, heads, widths, query count, classes) is read from the tensors' shapes,
so one converter serves the official Swin-S model and the reduced-size model the tests build.
The decoder's attention heads cannot be read from shapes: they are taken equal to the pixel
decoder's (8 and 8 in every mmdet Mask2Former config; transformers has one setting for both).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: mmdet's multi-scale deformable attention in Mask2Former: 3 feature levels, 4 points each.
MSDA_LEVELS, MSDA_POINTS = 3, 4
BACKBONE, PIXEL, HEAD = "backbone.", "panoptic_head.pixel_decoder.", "panoptic_head."


@dataclass(frozen=True)
class Arch:
    """What the weights say about the model (everything transformers' config needs)."""

    embed_dim: int
    patch_size: int
    depths: tuple[int, ...]
    num_heads: tuple[int, ...]
    window_size: int
    mlp_ratio: float
    feature_size: int
    mask_feature_size: int
    hidden_dim: int
    encoder_layers: int
    encoder_feedforward_dim: int
    decoder_layers: int  # mmdet's count; transformers' `decoder_layers` is this + 1
    dim_feedforward: int
    attention_heads: int
    num_queries: int
    num_labels: int

    def hf_config(self):
        """The matching `Mask2FormerConfig` (Swin backbone)."""
        from transformers import Mask2FormerConfig, SwinConfig

        backbone = SwinConfig(
            embed_dim=self.embed_dim,
            patch_size=self.patch_size,
            depths=list(self.depths),
            num_heads=list(self.num_heads),
            window_size=self.window_size,
            mlp_ratio=self.mlp_ratio,
            qkv_bias=True,
            drop_path_rate=0.0,
            out_features=[f"stage{i + 1}" for i in range(len(self.depths))],
        )
        return Mask2FormerConfig(
            backbone_config=backbone,
            feature_size=self.feature_size,
            mask_feature_size=self.mask_feature_size,
            hidden_dim=self.hidden_dim,
            encoder_layers=self.encoder_layers,
            encoder_feedforward_dim=self.encoder_feedforward_dim,
            decoder_layers=self.decoder_layers + 1,
            dim_feedforward=self.dim_feedforward,
            num_attention_heads=self.attention_heads,
            num_queries=self.num_queries,
            num_labels=self.num_labels,
        )


# -- layouts -------------------------------------------------------------------------------------

_V2_ENCODER = re.compile(
    r"(panoptic_head\.pixel_decoder\.encoder\.layers\.\d+\.)(attentions\.0|ffns\.0)\."
)
_V2_DECODER = re.compile(
    r"(panoptic_head\.transformer_decoder\.layers\.\d+\.)(attentions\.[01]|ffns\.0)\."
)
_V2_TO_V3 = {"attentions.0": "self_attn", "ffns.0": "ffn"}
_V2_TO_V3_DECODER = {"attentions.0": "cross_attn", "attentions.1": "self_attn", "ffns.0": "ffn"}


def layout(keys: Iterator[str] | list[str]) -> str:
    """ "mmdet2" or "mmdet3", from the transformer layers' names."""
    keys = list(keys)
    if any(_V2_ENCODER.match(k) or _V2_DECODER.match(k) for k in keys):
        return "mmdet2"
    return "mmdet3"


def v3_name(key: str) -> str:
    """A 2.x key under its 3.x name (3.x keys come back unchanged)."""
    if m := _V2_ENCODER.match(key):
        return m[1] + _V2_TO_V3[m[2]] + "." + key[m.end() :]
    if m := _V2_DECODER.match(key):
        return m[1] + _V2_TO_V3_DECODER[m[2]] + "." + key[m.end() :]
    return key


def v2_name(key: str) -> str:
    """A 3.x key under its 2.x name (for messages about 2.x checkpoints)."""
    for prefix, table in (
        (r"panoptic_head\.pixel_decoder\.encoder\.layers\.\d+\.", _V2_TO_V3),
        (r"panoptic_head\.transformer_decoder\.layers\.\d+\.", _V2_TO_V3_DECODER),
    ):
        for old, new in table.items():
            m = re.match(prefix + re.escape(new) + r"\.", key)
            if m:
                return key[: m.end() - len(new) - 1] + old + "." + key[m.end() :]
    return key


# -- the expected mmdet keys ---------------------------------------------------------------------


def _wb(prefix: str) -> list[str]:
    return [prefix + "weight", prefix + "bias"]


def mmdet_keys(arch: Arch) -> list[str]:
    """Every key of an mmdet 3.x state dict of this architecture, in mmdet's module order."""
    keys = _wb(BACKBONE + "patch_embed.projection.") + _wb(BACKBONE + "patch_embed.norm.")
    for s, depth in enumerate(arch.depths):
        for b in range(depth):
            p = f"{BACKBONE}stages.{s}.blocks.{b}."
            keys += _wb(p + "norm1.")
            keys += [p + "attn.w_msa.relative_position_bias_table"]
            keys += [p + "attn.w_msa.relative_position_index"]
            keys += _wb(p + "attn.w_msa.qkv.") + _wb(p + "attn.w_msa.proj.") + _wb(p + "norm2.")
            keys += _wb(p + "ffn.layers.0.0.") + _wb(p + "ffn.layers.1.")
        if s < len(arch.depths) - 1:
            p = f"{BACKBONE}stages.{s}.downsample."
            keys += _wb(p + "norm.") + [p + "reduction.weight"]
    for i in range(len(arch.depths)):
        keys += _wb(f"{BACKBONE}norm{i}.")
    for i in range(MSDA_LEVELS):
        keys += _wb(f"{PIXEL}input_convs.{i}.conv.") + _wb(f"{PIXEL}input_convs.{i}.gn.")
    for n in range(arch.encoder_layers):
        p = f"{PIXEL}encoder.layers.{n}."
        for part in ("sampling_offsets", "attention_weights", "value_proj", "output_proj"):
            keys += _wb(f"{p}self_attn.{part}.")
        keys += _wb(p + "ffn.layers.0.0.") + _wb(p + "ffn.layers.1.")
        keys += _wb(p + "norms.0.") + _wb(p + "norms.1.")
    keys += [PIXEL + "level_encoding.weight"]
    keys += [PIXEL + "lateral_convs.0.conv.weight"] + _wb(PIXEL + "lateral_convs.0.gn.")
    keys += [PIXEL + "output_convs.0.conv.weight"] + _wb(PIXEL + "output_convs.0.gn.")
    keys += _wb(PIXEL + "mask_feature.")
    for n in range(arch.decoder_layers):
        p = f"{HEAD}transformer_decoder.layers.{n}."
        for attn in ("self_attn", "cross_attn"):
            keys += [f"{p}{attn}.attn.in_proj_weight", f"{p}{attn}.attn.in_proj_bias"]
            keys += _wb(f"{p}{attn}.attn.out_proj.")
        keys += _wb(p + "ffn.layers.0.0.") + _wb(p + "ffn.layers.1.")
        keys += _wb(p + "norms.0.") + _wb(p + "norms.1.") + _wb(p + "norms.2.")
    keys += _wb(HEAD + "transformer_decoder.post_norm.")
    keys += [HEAD + "query_embed.weight", HEAD + "query_feat.weight", HEAD + "level_embed.weight"]
    keys += _wb(HEAD + "cls_embed.")
    for i in (0, 2, 4):
        keys += _wb(f"{HEAD}mask_embed.{i}.")
    return keys


def infer_arch(state: Mapping[str, Any]) -> Arch:
    """The architecture, from tensor shapes (3.x names). A missing key is named."""

    def shape(key: str) -> tuple[int, ...]:
        if key not in state:
            raise KeyError(key)
        return tuple(state[key].shape)

    def count(pattern: str) -> int:
        found = {int(m[1]) for k in state if (m := re.match(pattern, k))}
        return max(found) + 1 if found else 0

    depths = []
    for s in range(count(r"backbone\.stages\.(\d+)\.")):
        depths.append(count(rf"backbone\.stages\.{s}\.blocks\.(\d+)\."))
    if not depths or 0 in depths:
        raise KeyError(f"{BACKBONE}stages.N.blocks.M.* (no Swin blocks found)")
    p = f"{BACKBONE}stages.0.blocks.0."
    table = shape(p + "attn.w_msa.relative_position_bias_table")[0]
    window = (round(table**0.5) + 1) // 2
    embed = shape(BACKBONE + "patch_embed.projection.weight")
    heads = tuple(
        shape(f"{BACKBONE}stages.{s}.blocks.0.attn.w_msa.relative_position_bias_table")[1]
        for s in range(len(depths))
    )
    sampling = shape(f"{PIXEL}encoder.layers.0.self_attn.sampling_offsets.weight")[0]
    return Arch(
        embed_dim=embed[0],
        patch_size=embed[2],
        depths=tuple(depths),
        num_heads=heads,
        window_size=window,
        mlp_ratio=shape(p + "ffn.layers.0.0.weight")[0] / embed[0],
        feature_size=shape(f"{PIXEL}input_convs.0.conv.weight")[0],
        mask_feature_size=shape(PIXEL + "mask_feature.weight")[0],
        hidden_dim=shape(HEAD + "query_feat.weight")[1],
        encoder_layers=count(r"panoptic_head\.pixel_decoder\.encoder\.layers\.(\d+)\."),
        encoder_feedforward_dim=shape(f"{PIXEL}encoder.layers.0.ffn.layers.0.0.weight")[0],
        decoder_layers=count(r"panoptic_head\.transformer_decoder\.layers\.(\d+)\."),
        dim_feedforward=shape(f"{HEAD}transformer_decoder.layers.0.ffn.layers.0.0.weight")[0],
        attention_heads=sampling // (MSDA_LEVELS * MSDA_POINTS * 2),
        num_queries=shape(HEAD + "query_feat.weight")[0],
        num_labels=shape(HEAD + "cls_embed.weight")[0] - 1,
    )
