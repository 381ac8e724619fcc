"""What identifies a run's data: its samples' ids and contents, never where the files lie.

A sample's *data id* is a hash of its id, category and data, with every image the sample
refers to replaced by the sha256 of the image file's bytes (embedded bytes by their own sha256,
an in-memory PIL image by its pixels). A run's *data fingerprint* is a hash of the sorted
(sample id, data id) pairs. Neither depends on the model, the seed or any path, so:

* the same data under another mount point (or another machine, or the hub copy cached
  elsewhere) gives the same run id and the same result keys: a run resumes there, and `merge`
  joins slices from machines that mount the data differently;
* one edited label or re-encoded image changes that sample's data id, hence its result key and
  the run id, and `compare` can name the samples whose content differs.

Which strings are images: the request's images are (tasks hand files over as paths), and a
string in the sample's data equal to one of them is the same file; a `pathlib.Path` anywhere in
the data is a file too. Any other string is text and is hashed as such.

Why content hashes and not (relative path, size, mtime): copies made with cp, scp or most sync
tools do not keep mtime, so such a proxy would give copied data a new run id (exactly what has
to resume), and size alone misses same-size edits. File digests are cached by
`janus_eval.filehash`, so only the first run on a given copy reads the images.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from janus_eval.filehash import FileDigests
from janus_eval.provenance import stable_hash
from janus_eval.types import Request, Sample, UnderstandRequest, UserError

_PLAIN = (int, float, bool, type(None))
#: Recorded with every fingerprint (config["data"]["scheme"]); a new scheme is a new run id.
SCHEME = "content-v1"


def _bytes_id(data: bytes | bytearray) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _pixels_id(image: Any) -> str:
    header = f"{image.mode}:{image.size[0]}x{image.size[1]}:".encode()
    return "pixels-sha256:" + hashlib.sha256(header + image.tobytes()).hexdigest()


class DataIdentity:
    """Data ids and path-free request views for one run's samples (see the module docstring)."""

    def __init__(self, digests: FileDigests | None = None) -> None:
        self.digests = digests or FileDigests()
        self._files: dict[str, str] = {}

    def prepare(self, samples: Sequence[Sample], requests: Sequence[Request]) -> None:
        """Hash every image file the requests name, in parallel, once, and save the digests for
        later runs (a later run then only stats the files). A `Path` inside sample data, which
        no built-in task has, is hashed when a data id meets it."""
        wanted: dict[str, str] = {}
        for sample, request in zip(samples, requests):
            for path in _request_files(request):
                wanted.setdefault(path, sample.id)
        self._hash(wanted)

    def _hash(self, wanted: Mapping[str, str]) -> None:
        """Digest the files in `wanted` (path -> the sample that needs it, for errors)."""
        todo = [p for p in wanted if p not in self._files]
        if not todo:
            return
        try:
            self._files.update({p: "sha256:" + d for p, d in self.digests.many(todo).items()})
        except OSError as exc:
            path = str(exc.filename)
            who = next((s for p, s in wanted.items() if os.path.abspath(p) == path), "?")
            raise UserError(
                f"sample {who!r}: cannot read {path} to fingerprint the data "
                f"({exc.strerror or exc}). Check that the data directory is complete."
            ) from None
        finally:
            self.digests.save()

    # -- per sample ------------------------------------------------------------------------------
    def image_id(self, image: Any) -> str:
        """An image by content: a file by its bytes, embedded bytes likewise, PIL by pixels."""
        if isinstance(image, (str, Path)):
            key = str(image)
            if key not in self._files:
                self._hash({key: "?"})
            return self._files[key]
        if isinstance(image, (bytes, bytearray)):
            return _bytes_id(image)
        if hasattr(image, "tobytes") and hasattr(image, "mode"):
            return _pixels_id(image)
        return f"<{type(image).__name__}>"

    def sample_id(self, sample: Sample, request: Request) -> str:
        """The sample's data id: 16 hex digits of (id, category, data, request images)."""
        images = [self.image_id(im) for im in _images_of(request)]
        by_path = {str(im): i for im, i in zip(_images_of(request), images) if _is_file(im)}
        view = self._view(sample.data, by_path)
        return stable_hash(
            {"id": sample.id, "category": sample.category, "data": view, "images": images}, 16
        )

    def request_view(self, request: Request) -> dict[str, Any]:
        """The request's summary with images by content instead of by path: what a result key
        hashes (the stored summary keeps the paths, for people)."""
        summary = request.summary()
        if isinstance(request, UnderstandRequest):
            summary["images"] = [self.image_id(im) for im in request.images]
        return summary

    def _view(self, value: Any, images: Mapping[str, str]) -> Any:
        kind = type(value)
        if kind is str:
            return images.get(value, value)
        if kind in _PLAIN:
            return value
        if kind is dict or isinstance(value, Mapping):
            return {str(k): self._view(v, images) for k, v in value.items()}
        if kind is list or isinstance(value, (list, tuple)):
            return [self._view(v, images) for v in value]
        if isinstance(value, Path):
            return self.image_id(value)
        if isinstance(value, str):
            return images.get(value, value)
        if isinstance(value, (bytes, bytearray)):
            return _bytes_id(value)
        if isinstance(value, (int, float, bool)):
            return value
        if hasattr(value, "tobytes") and hasattr(value, "mode"):
            return _pixels_id(value)
        return str(value)


def data_fingerprint(pairs: Iterable[tuple[str, str]]) -> str:
    """The run's data fingerprint from its (sample id, data id) pairs (order does not matter)."""
    return stable_hash(sorted(pairs))


def _images_of(request: Request) -> tuple[Any, ...]:
    return request.images if isinstance(request, UnderstandRequest) else ()


def _is_file(image: Any) -> bool:
    return isinstance(image, (str, Path))


def _request_files(request: Request) -> list[str]:
    return [str(im) for im in _images_of(request) if _is_file(im)]
