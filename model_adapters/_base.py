"""What every adapter in this folder does the same way, written once: taking the registry's
arguments (model path, device, dtype, `--model-option`s), checking and converting options,
describing itself, checking image requests and handing images back per request, and
fingerprinting the files it loads.

An adapter subclasses `Adapter`, names its options with their defaults in `OPTIONS` and what
`--model-path` must name in `needs_path`, and sets itself up from the checked options in
`configure(opts)` (model path, device and dtype are already set then).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from janus_eval.types import ImageRequest, UserError

DTYPES = ("bf16", "fp16", "fp32")


class Adapter:
    """The registry's arguments, checked: an unknown option or dtype, or a missing model path
    where one is needed, stops the run before anything loads."""

    name = ""
    #: Every `--model-option` this adapter takes, with its default.
    OPTIONS: dict[str, Any] = {}
    #: What `--model-path` must name, said when it is missing (None: the path is optional).
    needs_path: str | None = None

    def __init__(
        self,
        model_path: str | None = None,
        device: str = "cpu",
        dtype: str = "fp32",
        **options: Any,
    ) -> None:
        self.options = adapter_options(self.name, dtype, options, self.OPTIONS)
        #: No --model-path was given: the adapter's own default (janus-tiny's checkpoint).
        self.default_model = model_path is None
        if model_path is None:
            model_path = self._default_path()
        self.model_path = None if model_path is None else str(model_path)
        if self.needs_path is not None and not self.default_model:
            self._check_local_path()
        self.device = device
        self.dtype = dtype
        self.configure(self.options)

    def configure(self, opts: dict[str, Any]) -> None:
        """Check and convert the adapter's own options (`self.options`, defaults filled in)."""

    def _default_path(self) -> str | None:
        """The model path when none is given (an adapter with a built-in model makes one)."""
        if self.needs_path is None:
            return None
        raise UserError(f"model {self.name!r} needs --model-path: {self.needs_path}")

    def _check_local_path(self) -> None:
        """A local --model-path that is not there stops the run here, before any data is read
        (offline, reading a hub dataset first can take half a minute); hub names pass."""
        from janus_eval.hub import looks_like_path

        path = Path(str(self.model_path)).expanduser()
        if looks_like_path(self.model_path) and not path.exists():
            raise UserError(
                f"--model-path {path} does not exist: model {self.name!r} needs {self.needs_path}"
            )

    def description(self, weights_sha256: str | None, **more: Any) -> dict[str, Any]:
        """What describe() says of every adapter (name, checkpoint, weights, dtype, device),
        then `more`."""
        return {
            "name": self.name,
            "checkpoint": self.model_path,
            "weights_sha256": weights_sha256,
            "dtype": self.dtype,
            "device": self.device,
            **more,
        }


def adapter_options(
    name: str, dtype: str, options: dict[str, Any], defaults: dict[str, Any]
) -> dict[str, Any]:
    """`defaults` updated by `options`, after the checks every adapter makes before anything
    loads: no unknown option, a known dtype."""
    unknown = set(options) - set(defaults)
    if unknown:
        raise UserError(
            f"model {name!r} has no option(s) {sorted(unknown)}; known: {sorted(defaults)}"
        )
    if dtype not in DTYPES:
        raise UserError(f"dtype {dtype!r}: expected bf16, fp16 or fp32")
    return {**defaults, **options}


def choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    """An option that must be one of `allowed`."""
    if value not in allowed:
        said = ", ".join(allowed[:-1]) + " or " + allowed[-1]
        raise UserError(f"model option {name}={value!r}: expected {said}")
    return value


def check_device(device: str) -> None:
    """A CUDA device asked for where there is none is the user's to fix, not a traceback."""
    import torch

    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {device!r}: CUDA is not available here (use --device cpu)")


def as_bool(name: str, value: Any) -> bool | None:
    """true / false / auto (None) from a bool or its spellings on the command line."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    if text in {"", "auto", "none"}:
        return None
    raise UserError(f"model option {name}={value!r}: expected true, false or auto")


def as_int(name: str, value: Any) -> int | None:
    """A positive integer, or None for unset ("", "auto", "none")."""
    if value is None or (isinstance(value, str) and value.strip().lower() in {"", "auto", "none"}):
        return None
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise UserError(f"model option {name}={value!r}: expected an integer") from None
    if out < 1:
        raise UserError(f"model option {name}={value!r}: must be at least 1")
    return out


def check_image_request(r: ImageRequest, native: int) -> None:
    """What every image request must pass before any work: the model's own size (or none) and
    image indices inside range(n)."""
    if r.size not in (None, native):
        raise UserError(
            f"request {r.request_id}: size {r.size} is not supported; this checkpoint "
            f"generates {native}x{native} images (leave size unset or pass {native})"
        )
    bad = [k for k in r.indices if not 0 <= k < r.n]
    if bad:
        raise UserError(f"request {r.request_id}: image indices {bad} are outside range({r.n})")


def per_request(reqs: Sequence[ImageRequest], images: list[Any]) -> list[list[Any]]:
    """Images made in request order, `len(r.indices)` each, back into one list per request."""
    out, i = [], 0
    for r in reqs:
        out.append(images[i : i + len(r.indices)])
        i += len(r.indices)
    return out


def fingerprint_files(named: Iterable[tuple[str, Path]]) -> str:
    """sha256 over (name, file sha256) pairs in the given order; file digests come from
    janus_eval.filehash (hub blobs are named by theirs and never read; other files are
    hashed once and remembered)."""
    from janus_eval.filehash import FileDigests

    named = list(named)
    digests = FileDigests()
    try:
        known = digests.many(str(path) for _, path in named)
    finally:
        digests.save()
    h = hashlib.sha256()
    for name, path in named:
        h.update(name.encode() + b"\0" + known[str(path)].encode() + b"\n")
    return h.hexdigest()
