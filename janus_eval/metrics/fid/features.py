"""The feature pipeline: decode, preprocess and resize in DataLoader workers, run the extractor
on the device, keep features there until the end. `FeatureOptions` is the one set of options
every folder-level function takes."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from janus_eval.types import UserError

from .images import ImageSet, decode, preprocess_array, require_images, to_rgb_array
from .resize import CLEAN_SIZE, pil_clean_resize, resolve_resize, torch_clean_resize


@dataclass(frozen=True)
class FeatureOptions:
    """How images become features: the keyword options of `compute_fid`, `compute_kid`,
    `fid_to_stats`, `save_reference_stats`, `reference_stats` and `folder_features`, with
    clean-fid's defaults. Every combination gives the same bits except `preprocess` and
    `extractor`, which are the protocol (and are recorded with reference statistics)."""

    #: "clean" (clean-fid) or "crop256" (GigaGAN/LlamaGen COCO: centre crop, LANCZOS to 256).
    preprocess: str = "clean"
    #: "inception" (weights from `inception_path` or the usual places), "random:<seed>" (tests),
    #: or an extractor object (janus_eval.metrics.inception).
    extractor: Any = "inception"
    inception_path: str | Path | None = None
    #: None or "": CUDA when available, else CPU.
    device: str | None = None
    batch_size: int = 64
    #: DataLoader workers decoding images; None: min(8, CPUs).
    num_workers: int | None = None
    #: "auto": the exact torch resize on CUDA, PIL in the workers on CPU ("torch", "pil").
    resize: str = "auto"
    #: A progress bar on a terminal.
    progress: bool = False

    def kwargs(self) -> dict[str, Any]:
        """The options as keyword arguments (no copy of the extractor, unlike `asdict`)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _group_by_shape(tensors: Sequence[Any]) -> list[tuple[list[int], Any]]:
    """Stack equal-sized tensors: [(positions, (n, C, H, W) tensor)], one entry per size. Done
    in the DataLoader workers, so each batch crosses processes as a few big tensors."""
    import torch

    groups: dict[tuple[int, ...], list[int]] = {}
    for i, t in enumerate(tensors):
        groups.setdefault(tuple(t.shape), []).append(i)
    return [(idx, torch.stack([tensors[i] for i in idx])) for idx in groups.values()]


def _to_model_input(groups: Sequence[tuple[list[int], Any]], n: int, resize: str, device: Any):
    """Groups from `_group_by_shape` -> one (n, 3, 299, 299) float32 batch on `device`, in the
    original order; with resize="torch" the groups are uint8 and resized here, in slices that
    keep the float64 working set near 1 GB."""
    import torch

    if resize == "pil" and len(groups) == 1:
        return groups[0][1].to(device, non_blocking=True)
    out = torch.empty((n, 3, CLEAN_SIZE, CLEAN_SIZE), device=device)
    for idx, stacked in groups:
        if resize == "pil":
            out[idx] = stacked.to(device, non_blocking=True)
            continue
        per_image = stacked.shape[-1] * stacked.shape[-2] * 3 * 8 * 4
        step = max(1, (1 << 30) // per_image)
        for s in range(0, len(idx), step):
            part = stacked[s : s + step].to(device, non_blocking=True)
            out[idx[s : s + step]] = torch_clean_resize(part)
    return out


def resolve_device(device: str | None) -> str:
    """ "" or None -> "cuda" when available, else "cpu"."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _to_tensor(arr: np.ndarray, resize: str) -> Any:
    """(3, H, W): already resized to 299 by PIL with resize="pil", else the uint8 pixels that
    the torch resize takes on the feature device."""
    import torch

    if resize == "pil":
        return torch.from_numpy(pil_clean_resize(arr).transpose((2, 0, 1))).contiguous()
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


class _DecodeDataset:
    """Decode + preprocess (+ PIL resize with resize="pil") in DataLoader workers. Errors travel
    back as text so the main process raises one clean UserError."""

    def __init__(self, images: ImageSet, preprocess: str, resize: str) -> None:
        self.images, self.preprocess, self.resize = images, preprocess, resize
        self._zips: dict = {}

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Any, str | None]:
        try:
            arr = preprocess_array(decode(self.images, i, self._zips), self.preprocess)
        except UserError as exc:
            return None, str(exc)
        return _to_tensor(arr, self.resize), None


def _collate(batch: list) -> tuple[int, list, list]:
    errors = [err for _, err in batch if err]
    return len(batch), ([] if errors else _group_by_shape([t for t, _ in batch])), errors


class _FeatureSink:
    """Runs the extractor on resized batches and keeps features on the device until the end,
    so the host never waits for the GPU between batches."""

    def __init__(self, extractor: Any, device: str, resize: str) -> None:
        self.extractor, self.device, self.resize = extractor, device, resize
        self.parts: list[Any] = []

    def add(self, groups: Sequence[tuple[list[int], Any]], n: int) -> None:
        import torch

        with torch.inference_mode():
            x = _to_model_input(groups, n, self.resize, self.device)
            self.parts.append(self.extractor(x).float())

    def result(self) -> np.ndarray:
        import torch

        if not self.parts:
            return np.zeros((0, int(self.extractor.dim)), dtype=np.float32)
        return torch.cat(self.parts).cpu().numpy().astype(np.float32, copy=False)


def folder_features(
    images: ImageSet | str | Path, *, description: str = "FID features", **options: Any
) -> np.ndarray:
    """Features (N, dim) float32 of every image of a folder/zip, in listing order. `options`
    are `FeatureOptions`' fields."""
    import torch

    from janus_eval.metrics.inception import load_extractor

    o = FeatureOptions(**options)
    if not isinstance(images, ImageSet):
        images = ImageSet.from_path(images)
    device = resolve_device(o.device)
    extractor = load_extractor(o.extractor, inception_path=o.inception_path, device=device)
    resize = resolve_resize(o.resize, device)
    workers = min(8, os.cpu_count() or 1) if o.num_workers is None else o.num_workers
    loader = torch.utils.data.DataLoader(
        _DecodeDataset(images, o.preprocess, resize),
        batch_size=o.batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=device.startswith("cuda"),
        prefetch_factor=4 if workers else None,
    )
    sink = _FeatureSink(extractor, device, resize)
    with _progress(o.progress, len(images), description) as advance:
        for n, groups, errors in loader:
            if errors:
                raise UserError(errors[0])
            sink.add(groups, n)
            advance(n)
    return sink.result()


def image_features(
    images: Sequence[Any],
    *,
    extractor: Any,
    preprocess: str = "clean",
    device: str | None = None,
    batch_size: int = 64,
    resize: str = "auto",
    what: str = "generated image",
) -> np.ndarray:
    """Features (N, dim) of in-memory PIL images, exactly as if they had been saved losslessly
    (PNG) and read back by `folder_features`."""
    device = resolve_device(device)
    resize = resolve_resize(resize, device)
    sink = _FeatureSink(extractor, device, resize)
    for start in range(0, len(images), batch_size):
        tensors = []
        for k, image in enumerate(images[start : start + batch_size]):
            arr = preprocess_array(to_rgb_array(image, what=f"{what} {start + k}"), preprocess)
            tensors.append(_to_tensor(arr, resize))
        sink.add(_group_by_shape(tensors), len(tensors))
    return sink.result()


@contextlib.contextmanager
def _progress(enabled: bool, total: int, description: str):
    if not enabled:
        yield lambda n: None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=description, unit="img", disable=None) as bar:
        yield bar.update


class FolderRun:
    """What every folder-level entry point does first: list each folder (or zip) and require
    two images in it, pick the device and load the extractor once; `features` then extracts
    with these options."""

    def __init__(
        self,
        folders: Sequence[ImageSet | str | Path],
        options: FeatureOptions,
        *,
        what: str = "image folder",
    ) -> None:
        from janus_eval.metrics.inception import load_extractor

        self.sets = [
            f if isinstance(f, ImageSet) else ImageSet.from_path(f, what=what) for f in folders
        ]
        for images in self.sets:
            require_images(images, what)
        device = resolve_device(options.device)
        self.model = load_extractor(
            options.extractor, inception_path=options.inception_path, device=device
        )
        self.options = replace(options, extractor=self.model, device=device)

    def features(self, images: ImageSet, description: str) -> np.ndarray:
        return folder_features(images, description=description, **self.options.kwargs())

    def each(self) -> list[np.ndarray]:
        return [self.features(s, f"FID {s.root.name}") for s in self.sets]
