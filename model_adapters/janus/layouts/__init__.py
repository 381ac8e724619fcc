"""Everything about how a Janus checkpoint is laid out on disk, in one place.

Two layouts exist: deepseek-ai's original one (`model_type: multi_modality`) and transformers'
(`model_type: janus`). `names` maps our parameter names to each layout's tensor names (both key
maps, the fused q/k/v and gate/up splits, the loader's check `plan`, and `export_state`, the
reverse that janus-tiny and the tests write checkpoints with); `configs` translates config.json
both ways (either layout -> JanusConfig; JanusConfig -> either layout) and holds the special
token ids. Loading (load.py), janus-tiny (tiny.py) and the benchmarks all go through here.
"""

from .configs import (
    BOI,
    BOS,
    EOI,
    EOS,
    IMAGE,
    PAD,
    SIGLIP_TOWERS,
    config_json,
    hf_config,
    llm_from_llama,
    original_config,
    read_config,
    vision_from_params,
)
from .names import (
    SOURCES,
    Piece,
    export_state,
    has_vq_encoder,
    hf_sources,
    original_sources,
    plan,
    split_rows,
)

__all__ = [
    "BOI", "BOS", "EOI", "EOS", "IMAGE", "PAD", "SIGLIP_TOWERS", "SOURCES", "Piece", "config_json",
    "export_state", "has_vq_encoder", "hf_config", "hf_sources", "llm_from_llama",
    "original_config", "original_sources", "plan", "read_config", "split_rows",
    "vision_from_params",
]  # fmt: skip
