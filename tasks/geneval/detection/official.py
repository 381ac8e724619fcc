"""GenEval's own detector without mmdet: the official mmdet checkpoint, converted to transformers.

GenEval's numbers (every paper's: Janus 0.61, Janus-Pro-7B 0.80) come from mmdet 2.x's
Mask2Former Swin-S, `mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco`, with the checkpoint
`evaluation/download_models.sh` fetches (CHECKPOINT_URL, saved as CHECKPOINT_NAME). This backend
reads that `.pth` with `torch.load(weights_only=True)`, converts it once (`mmdet_convert`) into
a transformers directory cached under `$JANUS_EVAL_CACHE/geneval/converted/<sha256[:16]>/`
(config.json + model.safetensors, whose metadata holds the source file's SHA-256 and the
converter version; the same `.pth` always gives byte-identical safetensors), and runs it through
mmdet 2.x's pipeline (`mmdet_pipeline`). Verified against mmdet 3.3.0 itself (docs/GENEVAL.md).

Where the file comes from (`detector_path`): the `.pth` itself, a directory holding it, or by
default the cache (`$JANUS_EVAL_CACHE/geneval/<CHECKPOINT_NAME>`), downloaded there from
CHECKPOINT_URL when a network is allowed (checked against the SHA-256 prefix in its name). When
none of these works the run stops with a message saying where to get the file: it never falls
back to another detector, which would be another measurement.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from janus_eval.types import UserError

from .mask2former import Mask2FormerDetector, load_transformers_model
from .weights import geneval_cache_dir, offline, sha256_file

BACKEND = "official"
LABEL = "mask2former-swin-s (official GenEval)"
CHECKPOINT_NAME = "mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.pth"
CHECKPOINT_URL = (
    "https://download.openmmlab.com/mmdetection/v2.0/mask2former/"
    "mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco/"
    "mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco_20220504_001756-743b7d99.pth"
)
#: mmdet names published checkpoints `<name>-<first 8 hex digits of the file's SHA-256>.pth`.
CHECKPOINT_SHA256_PREFIX = "743b7d99"
#: The same model in mmdet 3.x's key layout (the model zoo's re-upload); also accepted.
MMDET3_URL = (
    "https://download.openmmlab.com/mmdetection/v3.0/mask2former/"
    "mask2former_swin-s-p4-w7-224_8xb2-lsj-50e_coco/"
    "mask2former_swin-s-p4-w7-224_8xb2-lsj-50e_coco_20220504_001756-c9d0c4f2.pth"
)
#: Changes whenever conversion would write different tensors (cached conversions are redone).
CONVERTER_VERSION = "1"

#: What `janus-eval tasks geneval` says about detectors.
DETECTOR_HELP = (
    f"The default detector=official is GenEval's own {CHECKPOINT_NAME}, the file GenEval's "
    f"evaluation/download_models.sh fetches from {CHECKPOINT_URL} (detector_path=FILE or its "
    "folder; without it $JANUS_EVAL_CACHE/geneval/, downloaded there when online), converted "
    "to transformers once and cached. detector=mask2former-hf uses transformers' "
    "Detectron2-trained facebook/mask2former-swin-small-coco-instance (or detector_path=DIR): "
    "a different measurement, in its own leaderboard column."
)
HOW_TO_GET = (
    f"GenEval's official detector is {CHECKPOINT_NAME}: download {CHECKPOINT_URL} "
    "(what GenEval's evaluation/download_models.sh does) and pass --task-option "
    "detector_path=FILE (or the folder holding it), or put it in {cache}. To score with "
    "transformers' Detectron2-trained Mask2Former instead (a different measurement, reported "
    "in its own leaderboard column) pass --task-option detector=mask2former-hf."
)


def how_to_get() -> str:
    return HOW_TO_GET.format(cache=geneval_cache_dir())


def download_checkpoint(url: str, dest: Path, sha256_prefix: str) -> Path:
    """Stream `url` to `dest` (via a temporary file beside it), refusing other content."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=dest.parent, suffix=".part", delete=False) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (fixed URL)
                for chunk in iter(lambda: response.read(1 << 22), b""):
                    digest.update(chunk)
                    tmp.write(chunk)
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise
    if not digest.hexdigest().startswith(sha256_prefix):
        Path(tmp.name).unlink(missing_ok=True)
        raise UserError(
            f"GenEval detector: {url} did not deliver the official file (its SHA-256 does not "
            f"start with {sha256_prefix}). {how_to_get()}"
        )
    os.replace(tmp.name, dest)
    return dest


def locate_checkpoint(path: str | Path = "") -> Path:
    """The official `.pth`: `path` (a file, or a folder holding CHECKPOINT_NAME), else the
    cache, else a download; a UserError saying where to get it when all fail."""
    if str(path):
        given = Path(path).expanduser()
        file = given / CHECKPOINT_NAME if given.is_dir() else given
        if not file.is_file():
            raise UserError(f"GenEval detector: {file} not found. {how_to_get()}")
        return file
    cached = geneval_cache_dir() / CHECKPOINT_NAME
    if cached.is_file():
        return cached
    if offline():
        why = "offline: HF_HUB_OFFLINE or JANUS_EVAL_OFFLINE is set"
    else:
        try:
            return download_checkpoint(CHECKPOINT_URL, cached, CHECKPOINT_SHA256_PREFIX)
        except UserError:
            raise
        except Exception as exc:
            why = f"download failed: {type(exc).__name__}"
    raise UserError(f"GenEval detector: {cached} is not there ({why}). {how_to_get()}")


def _converted_ok(directory: Path, source_sha256: str) -> bool:
    from safetensors import safe_open

    weights = directory / "model.safetensors"
    if not (weights.is_file() and (directory / "config.json").is_file()):
        return False
    try:
        with safe_open(str(weights), "pt") as fh:
            meta = fh.metadata() or {}
    except Exception:
        return False
    return meta.get("source_sha256") == source_sha256 and meta.get("converter") == (
        CONVERTER_VERSION
    )


_DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "float64": "F64"}


def save_safetensors(path: Path, tensors: dict[str, Any], metadata: dict[str, str]) -> None:
    """A safetensors file with a canonical header: metadata and tensors sorted by name.
    (`safetensors.torch.save_file` keeps metadata in a hash map, so its key order, and the
    file's bytes, change from one run to the next.) Little-endian data, as the format says."""
    import struct

    import torch

    header: dict[str, Any] = {"__metadata__": dict(sorted(metadata.items()))}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes()
        dtype = _DTYPES[str(t.dtype).removeprefix("torch.")]
        header[name] = {
            "dtype": dtype,
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(text)) + text)
        for data in blobs:
            fh.write(data)


def convert_checkpoint(pth: Path, out_dir: Path) -> dict[str, str]:
    """Write config.json and model.safetensors for the mmdet checkpoint `pth` into `out_dir`;
    returns the safetensors metadata."""
    from .mmdet_convert import convert_state_dict, read_mmdet_checkpoint

    state = read_mmdet_checkpoint(pth)
    arch, kind, hf_state = convert_state_dict(state, source=str(pth), how=how_to_get())
    metadata = {
        "format": "pt",
        "source": CHECKPOINT_NAME if pth.name == CHECKPOINT_NAME else pth.name,
        "source_sha256": sha256_file(pth),
        "source_layout": kind,
        "converter": CONVERTER_VERSION,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    arch.hf_config().save_pretrained(str(out_dir))
    save_safetensors(out_dir / "model.safetensors", hf_state, metadata)
    return metadata


def converted_dir(pth: Path) -> Path:
    """The cached conversion of `pth`, made now if it is missing or stale (atomically: a
    half-written conversion is never used)."""
    sha = sha256_file(pth)
    target = geneval_cache_dir() / "converted" / sha[:16]
    if _converted_ok(target, sha):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{sha[:16]}."))
    try:
        convert_checkpoint(pth, work)
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


class OfficialMask2Former(Mask2FormerDetector):
    """GenEval's mmdet Mask2Former Swin-S, converted, through mmdet 2.x's pipeline."""

    backend = BACKEND

    def __init__(self, path: str | Path, class_names: Any, **kwargs: Any) -> None:
        self.checkpoint = locate_checkpoint(path)
        self.directory = converted_dir(self.checkpoint)
        model = load_transformers_model(self.directory)
        super().__init__(model, class_names, what=str(self.checkpoint), **kwargs)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "name": LABEL,
            "path": str(self.checkpoint),
            "weights_sha256": sha256_file(self.checkpoint),
            "converted": str(self.directory),
        }
