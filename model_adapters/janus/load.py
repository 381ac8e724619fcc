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
  UserError before anything is copied. The VQ encoder is optional as a whole: inference never
  encodes images, so a checkpoint with no VQ-encoder tensor at all loads without it (one with
  only some of them is incomplete and refused).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import pickle
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from janus_eval.types import UserError

from .config import JanusConfig
from .layouts import SOURCES, has_vq_encoder, plan, read_config
from .model import JanusModel

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


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


def vq_dtype_for(dtype: torch.dtype) -> torch.dtype:
    """The VQ decoder runs in fp32 when the model does, else in bf16: upstream's decoder was
    written for bf16 (its Upsample cast to bf16 whenever the input was not fp32, so an fp16
    decoder breaks there), and that is the precision its published images come from."""
    return torch.float32 if dtype == torch.float32 else torch.bfloat16


def build_empty(
    cfg: JanusConfig,
    device: str | torch.device,
    dtype: torch.dtype,
    parts: str = "all",
    vq_encoder: bool = True,
) -> JanusModel:
    """The model with uninitialised storage on `device`: LLM/vision/heads in `dtype`, the VQ
    model in fp32 (fp32 runs) or bf16; parts="generation" leaves out what generation never
    runs, vq_encoder=False the VQ encoder (JanusModel.keep)."""
    with torch.device("meta"):
        model = JanusModel(cfg).keep(parts, vq_encoder=vq_encoder)
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

    def build(available: dict[str, Any]) -> tuple[JanusModel, set[str]]:
        model = build_empty(
            cfg, device, DTYPES[dtype], parts, has_vq_encoder(cfg.layout, available)
        )
        with torch.device("meta"):
            full = {n for n, _ in JanusModel(cfg).named_parameters()}
        left_out = full - {n for n, _ in model.named_parameters()}
        return model, {k for name in left_out for k in SOURCES[cfg.layout](name)}

    return fill_weights(ckpt, cfg.layout, build), ckpt


def fill_weights(
    ckpt: Path,
    layout: str,
    build: Callable[[dict[str, Any]], tuple[torch.nn.Module, set[str]]],
    sources: Callable[[str], list[str]] | None = None,
) -> torch.nn.Module:
    """The model `build(available tensors)` makes (uninitialised storage; with the checkpoint
    keys it may leave out) filled from the checkpoint's weight files, after `plan` has checked
    every tensor. `sources`: as for `plan`."""
    files = [open_weight_file(p) for p in weight_files(ckpt)]
    try:
        where = {}
        for f in files:
            for key, meta in f.meta().items():
                where[key] = (f, meta)
        available = {k: m for k, (_, m) in where.items()}
        model, unused = build(available)
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
    return model


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


def fingerprint(ckpt: Path, files: list[Path] | None = None) -> str:
    """sha256 over the weight files' own sha256s (and config.json's), each under its file name;
    `files`: other weight files than a Janus checkpoint's (JanusFlow's VAE).

    A hub snapshot's files are symlinks to blobs named by their sha256, which is used as is;
    other files are hashed once and remembered under $JANUS_EVAL_CACHE/filehash, keyed by path
    and checked against (size, mtime, ctime, inode) (janus_eval.filehash)."""
    from .._base import fingerprint_files

    paths = [ckpt / "config.json", *(weight_files(ckpt) if files is None else files)]
    return fingerprint_files((path.name, path) for path in paths)
