"""Loading a Janus checkpoint, either layout, straight onto the target device and dtype.

* Where: a local directory, or a hub name resolved by `janus_eval.hub.resolve_snapshot`
  (huggingface_hub's cache; HF_HUB_OFFLINE honoured).
* What: `model.safetensors` (or sharded with `model.safetensors.index.json`) first; else
  `pytorch_model.bin` (or sharded with `pytorch_model.bin.index.json`), opened only through
  `torch.load(weights_only=True)`, memory-mapped when the file allows it. Never remote code.
* How: the model is built on the meta device, given uninitialised storage on the target device
  in the target dtype, and every parameter is filled from its source tensor(s) one at a time
  (q/k/v and gate/up are concatenated into fused weights as they are copied). safetensors
  tensors are read with plain file reads straight into the destination when it is host memory of
  the same dtype, else into a one-tensor staging buffer; so host memory never holds more than
  the model plus one tensor, and never a float32 copy of a bf16 checkpoint bound for a GPU.
* Checks first: every expected tensor must exist with the expected shape, and nothing
  unexpected may be present (known-unused tensors excepted); all problems are reported in one
  UserError before anything is copied.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import pickle
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from janus_eval.types import UserError

from .config import JanusConfig, read_config
from .model import JanusModel, vq_dtype_for

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}

#: Tensors present in real checkpoints that Janus never uses.
IGNORED = (
    re.compile(r"vision_(model|und_enc_model)\.vision_tower\.attn_pool\..*"),  # SigLIP pool head
    re.compile(r"(gen_vision_model|model\.vqmodel)\.quantize\.codebook_used"),  # training stat
    re.compile(r".*\.rotary_emb\.inv_freq"),  # saved by old transformers versions
    re.compile(r".*\.position_ids"),
)


def _libc():
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        lib.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        return lib if os.uname().sysname == "Linux" else None
    except (OSError, AttributeError):
        return None


_LIBC = _libc()

_ST_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Weight files


class SafetensorsFile:
    """A .safetensors file read with ordinary file reads (no mmap, so no page-cache pages
    count against the process while loading)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with open(path, "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                if n > 200_000_000:
                    raise ValueError(f"header of {n} bytes")
                header = json.loads(f.read(n))
        except (OSError, ValueError, struct.error) as exc:
            raise UserError(f"{path}: not a readable safetensors file ({exc})") from None
        self.base = 8 + n
        self.entries = {k: v for k, v in header.items() if k != "__metadata__"}
        self._f = None

    def meta(self) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        out = {}
        for key, e in self.entries.items():
            if e["dtype"] not in _ST_DTYPES:
                raise UserError(f"{self.path}: tensor {key} has unsupported dtype {e['dtype']}")
            out[key] = (tuple(e["shape"]), _ST_DTYPES[e["dtype"]])
        return out

    def read_into(self, key: str, out: torch.Tensor) -> None:
        """Fill the contiguous CPU tensor `out` (the tensor's dtype and numel) from the file."""
        start, end = self.entries[key]["data_offsets"]
        buf = out.view(-1).view(torch.uint8).numpy()
        if end - start != buf.nbytes:
            raise UserError(
                f"{self.path}: tensor {key} has {end - start} bytes, expected {buf.nbytes}"
            )
        if self._f is None:
            self._f = open(self.path, "rb", buffering=0)  # noqa: SIM115 (closed in close())
        self._f.seek(self.base + start)
        view, done = memoryview(buf), 0
        while done < buf.nbytes:  # read() returns at most ~2 GiB at a time on Linux
            got = self._f.readinto(view[done:])
            if not got:
                raise UserError(f"{self.path}: file ends inside tensor {key}; re-download it")
            done += got

    def read(self, key: str) -> torch.Tensor:
        shape, dtype = self.meta_of(key)
        out = torch.empty(shape, dtype=dtype)
        self.read_into(key, out)
        return out

    def meta_of(self, key: str) -> tuple[tuple[int, ...], torch.dtype]:
        e = self.entries[key]
        return tuple(e["shape"]), _ST_DTYPES[e["dtype"]]

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


class TorchBinFile:
    """A pytorch_model*.bin shard, opened with torch.load(weights_only=True) only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.mapped = True
            try:
                sd = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as exc:
                if "mmap" not in str(exc):
                    raise
                self.mapped = False
                sd = torch.load(path, map_location="cpu", weights_only=True)  # legacy format
        except pickle.UnpicklingError as exc:
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
            raise UserError(
                f"{path}: refused to unpickle: the file needs code execution to load "
                f"(torch.load(weights_only=True) failed: {first[:200]}). janus-eval never "
                f"executes code from checkpoints; convert the weights to safetensors in a "
                f"trusted environment, or use a checkpoint that ships model.safetensors"
            ) from None
        except Exception as exc:
            raise UserError(
                f"{path}: cannot read PyTorch weights ({type(exc).__name__}: {exc})"
            ) from None
        if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
            sd = sd["state_dict"]
        if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
            raise UserError(f"{path}: expected a dict of tensors (a state dict)")
        self.sd: dict[str, torch.Tensor] = sd

    def meta(self) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        return {k: (tuple(v.shape), v.dtype) for k, v in self.sd.items()}

    def read(self, key: str) -> torch.Tensor:
        return self.sd[key]

    def copy_into(self, key: str, dst: torch.Tensor, chunk_bytes: int = 1 << 26) -> None:
        """dst <- tensor `key`, in row blocks whose mapped pages are dropped once copied."""
        src = self.sd[key].reshape(dst.shape)
        rows = (
            max(1, chunk_bytes // max(1, src[0].numel() * src.element_size())) if src.dim() else 1
        )
        for i in range(0, max(1, src.shape[0] if src.dim() else 1), rows):
            part = src[i : i + rows] if src.dim() else src
            (dst[i : i + rows] if dst.dim() else dst).copy_(part)
            self.release(part)

    def release(self, t: torch.Tensor) -> None:
        """Drop the mapped file pages behind a copied tensor (MADV_DONTNEED on a private,
        never-written file mapping: a later access would simply re-read the file), so a
        memory-mapped shard does not stay resident next to the loaded model."""
        if not self.mapped or _LIBC is None or not t.numel() or not t.is_contiguous():
            return  # (anonymous memory would be zeroed, not re-read: never release it)
        page = os.sysconf("SC_PAGE_SIZE")
        start = t.data_ptr() // page * page
        end = -(-(t.data_ptr() + t.numel() * t.element_size()) // page) * page
        _LIBC.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), 4)  # MADV_DONTNEED

    def close(self) -> None:
        self.sd = {}


def weight_files(ckpt: Path) -> list[Path]:
    """The checkpoint's weight files, safetensors first, shards from their index."""
    for index_name, single in (
        ("model.safetensors.index.json", "model.safetensors"),
        ("pytorch_model.bin.index.json", "pytorch_model.bin"),
    ):
        index = ckpt / index_name
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise UserError(f"{index}: malformed index ({exc})") from None
            files = sorted(set(weight_map.values()))
            missing = [f for f in files if not (ckpt / f).is_file()]
            if missing:
                raise UserError(
                    f"{ckpt}: {index_name} lists shard(s) that are not there: "
                    f"{', '.join(missing[:5])}; download the complete checkpoint"
                )
            return [ckpt / f for f in files]
        if (ckpt / single).is_file():
            return [ckpt / single]
    loose = sorted(ckpt.glob("*.safetensors"))
    if loose:
        return loose
    raise UserError(
        f"{ckpt}: no weights found (expected model.safetensors, a safetensors index, "
        f"pytorch_model.bin or a pytorch_model.bin.index.json with its shards)"
    )


def open_weight_file(path: Path) -> SafetensorsFile | TorchBinFile:
    return SafetensorsFile(path) if path.suffix == ".safetensors" else TorchBinFile(path)


# ---------------------------------------------------------------------------------------------
# Which source tensors fill which parameter


@dataclass(frozen=True)
class Piece:
    """Source tensor `key` fills rows [start, start + shape[0]) of a parameter."""

    key: str
    shape: tuple[int, ...]
    start: int


def _llm_sources(name: str, prefix: str) -> list[str]:
    """Our LLM name (under `llm.`) -> source keys; fused weights list their parts in order."""
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
        if rest == "lm_head.weight":
            return ["language_model.lm_head.weight"]
        return _llm_sources(rest, "language_model.model.")
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
        if rest == "lm_head.weight":
            return ["lm_head.weight"]
        return _llm_sources(rest, "model.language_model.")
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
        splits = _split_rows(name, param.shape, len(keys), model)
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


def _split_rows(name: str, shape: torch.Size, parts: int, model: torch.nn.Module) -> list[int]:
    if parts == 1:
        return [shape[0]]
    if name.endswith("qkv_proj.weight"):
        c = model.config.llm
        return [c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim, c.n_kv_heads * c.head_dim]
    return [shape[0] // parts] * parts


def _same_shape(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Equal, or equal once size-1 dims are dropped (pos_embed is [1, N, W] upstream, [N, W]
    in transformers)."""
    return tuple(a) == tuple(b) or [d for d in a if d != 1] == [d for d in b if d != 1]


# ---------------------------------------------------------------------------------------------
# Putting it together


def resolve(model_path: str | Path, what: str = "janus checkpoint") -> Path:
    from janus_eval.hub import resolve_snapshot

    path = resolve_snapshot(
        model_path,
        what=what,
        allow_patterns=["*.json", "*.safetensors", "*.bin", "*.model", "*.txt", "*.jinja"],
    )
    if not path.is_dir():
        raise UserError(f"{what}: {path} is not a directory")
    return path


def build_empty(
    cfg: JanusConfig, device: str | torch.device, dtype: torch.dtype, parts: str = "all"
) -> JanusModel:
    """The model with uninitialised storage on `device`: LLM/vision/heads in `dtype`, the VQ
    model in fp32 (fp32 runs) or bf16; parts="generation" leaves out what generation never
    runs (JanusModel.keep)."""
    with torch.device("meta"):
        model = JanusModel(cfg).keep(parts)
    model.to(dtype)
    model.vq.to(vq_dtype_for(dtype))
    return model.to_empty(device=device).eval().requires_grad_(False)


def load_model(
    model_path: str | Path, device: str = "cpu", dtype: str = "fp32", parts: str = "all"
) -> tuple[JanusModel, Path]:
    if dtype not in DTYPES:
        raise UserError(f"dtype {dtype!r} is not one of {sorted(DTYPES)}")
    ckpt = resolve(model_path)
    cfg = read_config(ckpt)
    model = build_empty(cfg, device, DTYPES[dtype], parts)
    with torch.device("meta"):
        full = {n for n, _ in JanusModel(cfg).named_parameters()}
    left_out = full - {n for n, _ in model.named_parameters()}
    unused = {k for name in left_out for k in SOURCES[cfg.layout](name)}
    fill_weights(model, ckpt, cfg.layout, unused=unused)
    return model, ckpt


def fill_weights(
    model: torch.nn.Module,
    ckpt: Path,
    layout: str,
    *,
    sources: Callable[[str], list[str]] | None = None,
    unused: set[str] = frozenset(),
) -> None:
    """Fill every parameter of `model` (uninitialised storage, see build_empty) from the
    checkpoint's weight files, after `plan` has checked all of them."""
    files = [open_weight_file(p) for p in weight_files(ckpt)]
    try:
        where = {}
        for f in files:
            for key, meta in f.meta().items():
                where[key] = (f, meta)
        available = {k: m for k, (_, m) in where.items()}
        pieces = plan(
            model, layout, available, _tied(ckpt), str(ckpt), unused=unused, sources=sources
        )
        params = dict(model.named_parameters())
        # file by file, so a .bin shard's pages are touched once, in order
        for f in files:
            for name, plist in pieces.items():
                for p in plist:
                    if where[p.key][0] is f:
                        dst = params[name].data[p.start : p.start + p.shape[0]]
                        _copy(f, p.key, dst.view(p.shape) if dst.dim() else dst)
    finally:
        for f in files:
            f.close()


def _copy(f: SafetensorsFile | TorchBinFile, key: str, dst: torch.Tensor) -> None:
    direct = isinstance(f, SafetensorsFile) and dst.device.type == "cpu" and dst.is_contiguous()
    if direct and dst.dtype == f.meta_of(key)[1]:
        f.read_into(key, dst)  # straight into the parameter, no staging copy
    elif isinstance(f, TorchBinFile):
        f.copy_into(key, dst)
    else:
        dst.copy_(f.read(key).reshape(dst.shape))


def _tied(ckpt: Path) -> bool:
    try:
        raw = json.loads((ckpt / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    text = raw.get("text_config") or raw.get("language_config") or {}
    return bool(text.get("tie_word_embeddings", False))


# ---------------------------------------------------------------------------------------------
# Fingerprint


def fingerprint(ckpt: Path) -> str:
    """sha256 over the weight files' own sha256s (and config.json's).

    A hub snapshot's files are symlinks to blobs named by their sha256, which is used as is;
    other files are hashed once and remembered under $JANUS_EVAL_CACHE/fingerprints, keyed by
    (real path, size, mtime)."""
    h = hashlib.sha256()
    for path in [ckpt / "config.json", *weight_files(ckpt)]:
        h.update(path.name.encode() + b"\0" + _file_sha256(path).encode() + b"\n")
    return h.hexdigest()


def _file_sha256(path: Path) -> str:
    real = Path(os.path.realpath(path))
    if re.fullmatch(r"[0-9a-f]{64}", real.name) and "blobs" in real.parts:
        return real.name
    from janus_eval.cache import cache_dir

    st = real.stat()
    cache = cache_dir("fingerprints") / (
        hashlib.sha256(f"{real}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest() + ".txt"
    )
    if cache.is_file():
        return cache.read_text().strip()
    h = hashlib.sha256()
    with open(real, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            h.update(block)
    digest = h.hexdigest()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(digest)
    except OSError:
        pass
    return digest
