"""FID and KID with clean-fid's semantics (clean-fid 0.1.35, "clean" mode), computed in a stream.

    from janus_eval.metrics.fid import compute_fid
    compute_fid("generated/", "real/")                       # folder to folder
    fid_to_stats("generated/", "real_stats.npz")             # folder to saved statistics

Images are decoded, preprocessed and resized batch by batch (in DataLoader workers), so no folder
needs to fit in memory; tasks feed generated images straight from the sampler with
`image_features`. Reference statistics are computed once and cached as .npz with their provenance
(`reference_stats`).

What is reproduced from clean-fid, quirks included (each checked against its source):

1. Listing (`cleanfid.fid.get_folder_features`): a sorted recursive glob over clean-fid's
   extension list, which is case-sensitive: .jpg .JPG .jpeg .JPEG .png .PNG .bmp .pgm .ppm .tif
   .tiff .webp .npy, so `a.Jpg` or `a.BMP` are not images; hidden files and folders are skipped
   (glob). A .zip is read in place; its members count when their lower-cased extension is in
   the list. We also skip `__MACOSX/` and `._*` members of zips, which clean-fid would try (and
   fail) to decode.
2. Decoding (`cleanfid.resize`/`utils.ResizeDataset`): `PIL.Image.open(f).convert("RGB")`:
   grayscale is replicated to three channels, palettes expanded, and alpha (RGBA, LA) is
   *dropped*, not composited on a background. 16-bit and float images (PIL modes I;16, I, F) are
   refused: PIL's convert clips them at 255, which would give a wrong number silently. .npy files
   are used as they are (clean-fid); we require uint8 HxWx3 arrays.
3. Resize ("clean"): each channel separately as a PIL float ("F") image, bicubic to 299x299,
   clipped to [0, 255], never quantised; the network gets float32 values in [0, 255] and
   normalises them itself ((x - 128) / 128 for the TF-FID Inception). `resize="torch"` does the
   same computation as batched tensor ops on the feature device: PIL's coefficients computed the
   same way in double, products and sums in double in PIL's order, the intermediate rounded to
   float32 between the two passes. It equals PIL bit for bit (tested against PIL on many sizes);
   `resize="pil"` does it with PIL in the workers. Quirk of clean-fid itself: which pass runs
   first depends on the Pillow version (Pillow 13 runs the vertical pass first when the height
   shrinks more than twice as much as the width; older Pillow always starts horizontally), which
   moves float32 roundings, so clean-fid's numbers differ in the last bits across Pillow
   versions. `pillow_pass_rule` detects the installed rule once; the torch resize follows it.
4. Preprocess "crop256" (the GigaGAN/LlamaGen COCO protocol, their `resize_and_center_crop`):
   torchvision's `center_crop` to the short side (offset `int(round((h - s) / 2))`), then PIL
   *LANCZOS* (8-bit) to 256x256, then the clean resize. Applied to both sides.
5. Statistics: mean and `np.cov(rowvar=False)` (N - 1) in float64. clean-fid's mean is float32
   (np.mean of float32 features); the difference moves FID by ~4e-7 relative, and the parity
   test bounds it at 1e-6 relative (tight enough to catch an N instead of N - 1 covariance).
6. `frechet_distance`: clean-fid's code: `scipy.linalg.sqrtm(sigma1 @ sigma2)`; if that is not
   finite, eps=1e-6 is added to both diagonals and sqrtm retried (clean-fid prints a message, we
   warn); an imaginary part larger than 1e-3 on the diagonal raises ValueError, smaller ones are
   dropped.
7. KID (`kernel_distance`): polynomial kernel (x.y / d + 1)^3, 100 subsets of
   m = min(n1, n2, 1000) rows drawn without replacement, unbiased MMD^2. clean-fid draws from the
   unseeded global NumPy generator (its KID changes between calls); ours from
   `np.random.RandomState(seed)`, which draws exactly what clean-fid draws after
   `np.random.seed(seed)`.
8. At least 2 images per side (a covariance needs two); fewer is a UserError.

Not bit-identical on purpose: clean-fid wraps the network in DataParallel; we do not (same math).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import glob
import hashlib
import json
import math
import os
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from janus_eval.types import UserError

EXTENSIONS = ("bmp", "jpg", "jpeg", "pgm", "png", "ppm", "tif", "tiff", "webp", "npy", "JPEG",
              "JPG", "PNG")  # fmt: skip
PREPROCESS = ("clean", "crop256")
CLEAN_SIZE = 299
STATS_FORMAT = "janus-eval-fid-stats/1"
_REFUSED_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")


# ----------------------------------------------------------------------------- image sets


@dataclass(frozen=True)
class ImageSet:
    """Image files under a folder, or members of a zip: what clean-fid accepts as `fdir`."""

    root: Path
    names: tuple[str, ...]
    is_zip: bool = False

    @classmethod
    def from_path(cls, path: str | Path, *, what: str = "image folder") -> ImageSet:
        root = Path(path).expanduser()
        if root.is_file() and root.suffix.lower() == ".zip":
            with zipfile.ZipFile(root) as zf:
                names = sorted(
                    {n for n in zf.namelist() if _zip_image(n)}
                )  # clean-fid: set(), unordered
            return cls(root, tuple(names), is_zip=True)
        if not root.is_dir():
            raise UserError(f"{what}: {root} is neither a folder nor a .zip of images")
        pattern = os.path.join(glob.escape(str(root)), "**")
        files = sorted(
            f for ext in EXTENSIONS for f in glob.glob(f"{pattern}/*.{ext}", recursive=True)
        )
        return cls(root, tuple(Path(f).relative_to(root).as_posix() for f in files))

    def __len__(self) -> int:
        return len(self.names)

    def select(self, names: Iterable[str], *, what: str = "image") -> ImageSet:
        """The given names, in the given order; each must exist."""
        names = tuple(names)
        if self.is_zip:
            have = set(self.names)
            missing = [n for n in names if n not in have]
        else:
            missing = [n for n in names if not (self.root / n).is_file()]
        if missing:
            raise UserError(
                f"{what}: {len(missing)} file(s) missing under {self.root}, e.g. {missing[0]}"
            )
        return ImageSet(self.root, names, self.is_zip)

    def fingerprint(self) -> str:
        """sha256 over (relative name, byte size) of every file: changes when the set does."""
        digest = hashlib.sha256()
        if self.is_zip:
            with zipfile.ZipFile(self.root) as zf:
                sizes = {i.filename: i.file_size for i in zf.infolist()}
            for name in self.names:
                digest.update(f"{name}\t{sizes[name]}\n".encode())
        else:
            for name in self.names:
                digest.update(f"{name}\t{(self.root / name).stat().st_size}\n".encode())
        return digest.hexdigest()

    def where(self, i: int) -> str:
        return f"{self.root}::{self.names[i]}" if self.is_zip else str(self.root / self.names[i])


def _zip_image(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    if name.startswith("__MACOSX/") or base.startswith("._"):
        return False
    return os.path.splitext(name)[1].lower()[1:] in EXTENSIONS


# ----------------------------------------------------------------------- decode and preprocess


def to_rgb_array(image: Any, *, what: str = "image") -> np.ndarray:
    """An opened PIL image as clean-fid sees it: `np.array(image.convert("RGB"))` (uint8 HxWx3)."""
    if image.mode in _REFUSED_MODES:
        raise UserError(
            f"{what}: {image.mode} ({'16-bit' if 'I' in image.mode else 'float'}) images are not "
            "supported: PIL's RGB conversion clips them at 255, which would give a wrong FID. "
            "Convert the file to 8-bit RGB first."
        )
    return np.array(image if image.mode == "RGB" else image.convert("RGB"))


def preprocess_array(arr: np.ndarray, preprocess: str) -> np.ndarray:
    """The protocol's transform before the clean resize (clean-fid's `custom_image_tranform`)."""
    if preprocess == "clean":
        return arr
    if preprocess == "crop256":
        from PIL import Image
        from torchvision.transforms import functional as tvf

        image = Image.fromarray(arr)
        image = tvf.center_crop(image, min(image.size))
        return np.array(image.resize((256, 256), Image.LANCZOS))
    raise UserError(f"unknown FID preprocess {preprocess!r}; known: {', '.join(PREPROCESS)}")


def pil_clean_resize(arr: np.ndarray) -> np.ndarray:
    """clean-fid's resize: per channel, PIL bicubic in float mode to 299x299 (float32 HxWx3)."""
    from PIL import Image

    def channel(x: np.ndarray) -> np.ndarray:
        img = Image.fromarray(x.astype(np.float32))
        img = img.resize((CLEAN_SIZE, CLEAN_SIZE), resample=Image.BICUBIC)
        return np.asarray(img).clip(0, 255).reshape(CLEAN_SIZE, CLEAN_SIZE, 1)

    return np.concatenate([channel(arr[:, :, c]) for c in range(3)], axis=2).astype(np.float32)


def _decode(images: ImageSet, i: int, zip_cache: dict) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    where = images.where(i)
    try:
        if images.names[i].endswith(".npy"):
            if images.is_zip:
                raise UserError(f"{where}: .npy images inside a zip are not supported")
            arr = np.load(images.root / images.names[i])
            if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
                raise UserError(f"{where}: .npy images must be uint8 HxWx3 arrays")
            return arr
        if images.is_zip:
            zf = zip_cache.get(images.root)
            if zf is None:
                zf = zip_cache[images.root] = zipfile.ZipFile(images.root)
            with zf.open(images.names[i]) as f:
                image = Image.open(f)
                image.load()
        else:
            image = Image.open(images.root / images.names[i])
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UserError(f"{where}: cannot decode image ({exc}); remove or replace it") from None
    return to_rgb_array(image, what=where)


# ------------------------------------------------------------------ exact clean resize in torch


def _bicubic(x: float) -> float:
    # Pillow's bicubic_filter (a = -0.5), same operations in the same order.
    if x < 0.0:
        x = -x
    if x < 1.0:
        return (1.5 * x - 2.5) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * -0.5
    return 0.0


@functools.lru_cache(maxsize=64)
def _coefficients(in_size: int, out_size: int) -> tuple[Any, Any]:
    """Pillow's `precompute_coeffs` for bicubic: per output pixel, the first input index and the
    normalised weights; returned as (index (out, ksize), weight (out, ksize)) with zero weights
    (and a clamped index) past each pixel's support."""
    import torch

    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    inv = 1.0 / filterscale
    index = np.zeros((out_size, ksize), dtype=np.int64)
    weight = np.zeros((out_size, ksize), dtype=np.float64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        ws = [_bicubic((x + xmin - center + 0.5) * inv) for x in range(xmax)]
        ww = 0.0
        for w in ws:
            ww += w
        for x, w in enumerate(ws):
            weight[xx, x] = w / ww if ww != 0.0 else w
        index[xx, :] = np.minimum(np.arange(ksize) + xmin, in_size - 1)
    return torch.from_numpy(index), torch.from_numpy(weight)


def _resample(x: Any, dim: int) -> Any:
    """One Pillow pass along `dim` (-1: horizontal, -2: vertical) to 299: double products summed
    in tap order, rounded to float32 (Pillow's ImagingResample{Horizontal,Vertical}_32bpc)."""
    import torch

    index, weight = _coefficients(x.shape[dim], CLEAN_SIZE)
    index, weight = index.to(x.device), weight.to(x.device)
    if dim == -2:
        weight = weight[:, None, :]  # (out, 1, ksize): broadcast over the width
    xd = x.double()
    shape = list(x.shape)
    shape[dim] = CLEAN_SIZE
    acc = torch.zeros(shape, dtype=torch.float64, device=x.device)
    for t in range(index.shape[1]):
        acc = acc + xd.index_select(dim, index[:, t]) * weight[..., t]
    return acc.float()


def _vertical_first(height: int, width: int, rule: str) -> bool:
    """Pillow's pass order. Pillow 13 (see ImagingResampleInner) runs the vertical pass first
    when the height shrinks more than twice as much as the width; older Pillow always ran the
    horizontal pass first. The order changes float32 roundings, so it is part of "exact"."""
    if rule == "horizontal":
        return False
    shrink_h, shrink_w = height - CLEAN_SIZE, width - CLEAN_SIZE
    return shrink_h > 0 and shrink_h > shrink_w * 2


def _passes(x: Any, rule: str) -> Any:
    dims = (-2, -1) if _vertical_first(x.shape[-2], x.shape[-1], rule) else (-1, -2)
    for dim in dims:  # a pass only when its side changes (Pillow's need_horizontal/vertical)
        if x.shape[dim] != CLEAN_SIZE:
            x = _resample(x, dim)
    return x.clamp(0, 255).contiguous()


@functools.lru_cache(maxsize=1)
def pillow_pass_rule() -> str | None:
    """Which pass-order rule the installed Pillow follows ("cost" or "horizontal"), found by
    resizing one probe image with PIL and comparing bit for bit; None when neither matches (then
    the torch resize is not exact here and is not used)."""
    import torch

    probe = np.random.RandomState(0).randint(0, 256, size=(320, 48, 3)).astype(np.uint8)
    want = pil_clean_resize(probe)
    x = torch.from_numpy(probe).permute(2, 0, 1)[None].float()
    for rule in ("cost", "horizontal"):
        got = _passes(x, rule)[0].permute(1, 2, 0).numpy()
        if np.array_equal(got, want):
            return rule
    return None


def torch_clean_resize(x: Any) -> Any:
    """(B, 3, H, W) uint8/float tensor -> (B, 3, 299, 299) float32, equal to `pil_clean_resize`
    bit for bit (with the installed Pillow's pass order)."""
    rule = pillow_pass_rule()
    if rule is None:
        raise RuntimeError(
            "the torch clean resize does not reproduce this Pillow; use resize='pil'"
        )
    return _passes(x.float(), rule)


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


# --------------------------------------------------------------------------------- features


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
            arr = preprocess_array(_decode(self.images, i, self._zips), self.preprocess)
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


def resolve_resize(resize: str, device: str) -> str:
    """ "auto": the exact torch resize on CUDA (the decode workers then only decode), PIL in the
    workers on CPU, where PIL is faster. Either gives the same bits."""
    if resize not in ("auto", "torch", "pil"):
        raise UserError(f"resize={resize!r}: choose 'auto' (default), 'torch' or 'pil'")
    if resize == "auto":
        resize = "torch" if device.startswith("cuda") else "pil"
    if resize == "torch" and pillow_pass_rule() is None:
        warnings.warn(
            "torch resize does not match this Pillow bit for bit; using PIL", stacklevel=3
        )
        resize = "pil"
    return resize


def folder_features(
    images: ImageSet | str | Path,
    *,
    extractor: Any,
    preprocess: str = "clean",
    device: str | None = None,
    batch_size: int = 64,
    num_workers: int | None = None,
    resize: str = "auto",
    progress: bool = False,
    description: str = "FID features",
) -> np.ndarray:
    """Features (N, dim) float32 of every image of a folder/zip, in listing order."""
    import torch

    if not isinstance(images, ImageSet):
        images = ImageSet.from_path(images)
    device = resolve_device(device)
    resize = resolve_resize(resize, device)
    workers = min(8, os.cpu_count() or 1) if num_workers is None else num_workers
    loader = torch.utils.data.DataLoader(
        _DecodeDataset(images, preprocess, resize),
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=device.startswith("cuda"),
        prefetch_factor=4 if workers else None,
    )
    sink = _FeatureSink(extractor, device, resize)
    with _progress(progress, len(images), description) as advance:
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


# ------------------------------------------------------------------------------- statistics


def feature_stats(feats: np.ndarray, *, what: str = "images") -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) in float64; at least two rows are needed for a covariance."""
    if feats.ndim != 2 or feats.shape[0] < 2:
        n = feats.shape[0] if feats.ndim == 2 else 0
        raise UserError(f"FID needs at least 2 images per side; {what}: {n}")
    x = feats.astype(np.float64)
    return np.mean(x, axis=0), np.cov(x, rowvar=False)


class FrechetImaginaryError(UserError, ValueError):
    """clean-fid's ValueError("Imaginary component ..."), also a UserError so the CLI shows
    one message (exit 2) instead of a traceback."""


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 sqrt(S1 S2)), computed as clean-fid does
    (Dougal J. Sutherland's stable version)."""
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise UserError(
            f"FID statistics disagree in size: mean {mu1.shape} vs {mu2.shape}, covariance "
            f"{sigma1.shape} vs {sigma2.shape} (different feature extractors?)"
        )
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        warnings.warn(
            f"fid calculation produces singular product; adding {eps} to diagonal of cov estimates",
            stacklevel=2,
        )
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            m = np.max(np.abs(covmean.imag))
            raise FrechetImaginaryError(
                f"Imaginary component {m}: sqrt(S1 S2) has a significant imaginary part, so no "
                "FID can be given (clean-fid raises here too). It usually means too few images "
                "for the feature dimension (a 2048-d covariance wants thousands of images), or "
                "duplicated/constant images. Stored features are kept; add samples and re-run."
            )
        covmean = covmean.real
    tr_covmean = np.trace(covmean)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def kernel_distance(
    feats1: np.ndarray,
    feats2: np.ndarray,
    *,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
    seed: int = 0,
) -> float:
    """KID as clean-fid's `kernel_distance` computes it, with a seeded generator."""
    for name, f in (("first", feats1), ("second", feats2)):
        if f.ndim != 2 or f.shape[0] < 2:
            raise UserError(f"KID needs at least 2 images per side; the {name} set has fewer")
    rng = np.random.RandomState(seed)
    n = feats1.shape[1]
    m = min(min(feats1.shape[0], feats2.shape[0]), max_subset_size)
    t = 0
    for _ in range(num_subsets):
        x = feats2[rng.choice(feats2.shape[0], m, replace=False)]
        y = feats1[rng.choice(feats1.shape[0], m, replace=False)]
        a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
        b = (x @ y.T / n + 1) ** 3
        t += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return float(t / num_subsets / m)


def fid_from_features(feats1: np.ndarray, feats2: np.ndarray) -> float:
    return frechet_distance(
        *feature_stats(feats1, what="first set"), *feature_stats(feats2, what="second set")
    )


# ------------------------------------------------------------------- cached reference stats


def default_stats_dir() -> Path:
    from janus_eval.cache import cache_dir

    return cache_dir("fid_stats")


@dataclass
class ReferenceStats:
    """Features of a reference image set (kept for KID and for subsets such as MJHQ's
    categories), their float64 statistics, and where they came from."""

    feats: np.ndarray
    names: tuple[str, ...]
    provenance: dict[str, Any] = field(default_factory=dict)
    mu: np.ndarray | None = None
    sigma: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.mu is None or self.sigma is None:
            what = self.provenance.get("name", "reference images")
            self.mu, self.sigma = feature_stats(self.feats, what=what)

    def subset(self, keep: Sequence[bool]) -> np.ndarray:
        return self.feats[np.asarray(keep, dtype=bool)]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
        np.savez(
            tmp,
            mu=self.mu,
            sigma=self.sigma,
            feats=self.feats,
            names=np.array(self.names, dtype=str),
            provenance=np.array(json.dumps(self.provenance, sort_keys=True)),
        )
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> ReferenceStats:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                if "provenance" not in data.files or "feats" not in data.files:
                    raise UserError(
                        f"{path} is not a janus-eval FID statistics file (no provenance or "
                        "features; clean-fid's own .npz files cannot be verified and are not "
                        "accepted). Delete it, or compute statistics with reference_stats / "
                        "save_reference_stats."
                    )
                provenance = json.loads(str(data["provenance"]))
                names = tuple(str(n) for n in data["names"])
                return cls(data["feats"], names, provenance, data["mu"], data["sigma"])
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise UserError(f"cannot read FID statistics {path} ({exc}); delete it") from None

    def check(self, expected: dict[str, Any], path: Path | str) -> None:
        """Refuse statistics made under another protocol, extractor or file list."""
        wrong = {
            k: (self.provenance.get(k), v)
            for k, v in expected.items()
            if self.provenance.get(k) != v
        }
        if wrong:
            detail = "; ".join(f"{k}: file has {a!r}, needed {b!r}" for k, (a, b) in wrong.items())
            raise UserError(
                f"FID statistics {path} do not match this computation ({detail}). They were "
                "made from other images or with another protocol or extractor. Delete the file "
                "to recompute, or point stats_cache at another folder."
            )


def _provenance(name: str, images: ImageSet, preprocess: str, extractor: Any) -> dict[str, Any]:
    return {
        "format": STATS_FORMAT,
        "name": name,
        "preprocess": preprocess,
        "resize": "clean: PIL bicubic per channel in float, 299x299",
        "extractor": extractor.id,
        "n_images": len(images),
        "file_list_sha256": images.fingerprint(),
    }


def _versions() -> dict[str, str]:
    from janus_eval.provenance import package_versions

    return package_versions()


class _FolderRun:
    """What every folder-level entry point does first: list each folder (or zip) and require
    two images in it, pick the device and load the extractor once. `features` then runs the
    extraction with the options given here (preprocess, batch_size, num_workers, resize,
    progress)."""

    def __init__(
        self,
        folders: Sequence[ImageSet | str | Path],
        *,
        extractor: Any,
        inception_path: str | Path | None,
        device: str | None,
        what: str = "image folder",
        **options: Any,
    ) -> None:
        from janus_eval.metrics.inception import load_extractor

        self.sets = [
            f if isinstance(f, ImageSet) else ImageSet.from_path(f, what=what) for f in folders
        ]
        for images in self.sets:
            _require_images(images, what)
        self.device = resolve_device(device)
        self.model = load_extractor(extractor, inception_path=inception_path, device=self.device)
        self.options = options

    def features(self, images: ImageSet, description: str) -> np.ndarray:
        return folder_features(
            images, extractor=self.model, device=self.device, description=description,
            **self.options,
        )  # fmt: skip

    def each(self) -> list[np.ndarray]:
        return [self.features(s, f"FID {s.root.name}") for s in self.sets]


def save_reference_stats(
    images: ImageSet | str | Path,
    path: str | Path,
    *,
    name: str | None = None,
    extractor: Any = "inception",
    preprocess: str = "clean",
    inception_path: str | Path | None = None,
    device: str | None = None,
    batch_size: int = 64,
    num_workers: int | None = None,
    resize: str = "auto",
    progress: bool = False,
) -> ReferenceStats:
    """Compute a folder's features and statistics and write them to `path` (.npz)."""
    run = _FolderRun(
        [images], what="reference images", extractor=extractor, inception_path=inception_path,
        device=device, preprocess=preprocess, batch_size=batch_size, num_workers=num_workers,
        resize=resize, progress=progress,
    )  # fmt: skip
    (images,) = run.sets
    provenance = _provenance(name or str(images.root), images, preprocess, run.model)
    feats = run.features(images, f"reference features ({provenance['name']})")
    stats = ReferenceStats(
        feats,
        images.names,
        {**provenance, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
         "root": str(images.root), "versions": _versions()},
    )  # fmt: skip
    stats.save(Path(path))
    return stats


def reference_stats(
    images: ImageSet,
    *,
    name: str,
    extractor: Any,
    preprocess: str = "clean",
    cache_dir: str | Path | None = None,
    device: str | None = None,
    batch_size: int = 64,
    num_workers: int | None = None,
    resize: str = "auto",
    progress: bool = False,
) -> ReferenceStats:
    """Statistics of a reference set, computed once per (name, preprocess, extractor) and cached.

    A cached file whose provenance (file list, protocol, extractor) differs is refused with a
    UserError, never silently reused or overwritten."""
    _require_images(images, f"reference images ({name})")
    cache = Path(cache_dir).expanduser() if cache_dir else default_stats_dir()
    path = cache / f"{_slug(name)}__{preprocess}__{_slug(extractor.id)}.npz"
    expected = _provenance(name, images, preprocess, extractor)
    if path.is_file():
        stats = ReferenceStats.load(path)
        stats.check(expected, path)
        return stats
    return save_reference_stats(
        images,
        path,
        name=name,
        extractor=extractor,
        preprocess=preprocess,
        device=device,
        batch_size=batch_size,
        num_workers=num_workers,
        resize=resize,
        progress=progress,
    )


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in text)[:80]


def _require_images(images: ImageSet, what: str) -> None:
    if len(images) == 0:
        raise UserError(
            f"{what}: no images found in {images.root} (clean-fid's extensions: "
            f"{', '.join(EXTENSIONS)})"
        )
    if len(images) < 2:
        raise UserError(f"{what}: FID needs at least 2 images; {images.root} has 1")


# --------------------------------------------------------------------------- folder API


def compute_fid(
    fdir1: str | Path,
    fdir2: str | Path,
    *,
    preprocess: str = "clean",
    extractor: Any = "inception",
    inception_path: str | Path | None = None,
    device: str | None = None,
    batch_size: int = 64,
    num_workers: int | None = None,
    resize: str = "auto",
    progress: bool = False,
) -> float:
    """FID between two folders (or zips), as `cleanfid.fid.compute_fid(fdir1, fdir2)` in clean
    mode. `extractor`: "inception" (weights from `inception_path` or the usual places), or an
    extractor object; `device` None means CUDA when available."""
    f1, f2 = _FolderRun(
        [fdir1, fdir2], extractor=extractor, inception_path=inception_path, device=device,
        preprocess=preprocess, batch_size=batch_size, num_workers=num_workers, resize=resize,
        progress=progress,
    ).each()  # fmt: skip
    return fid_from_features(f1, f2)


def compute_kid(
    fdir1: str | Path,
    fdir2: str | Path,
    *,
    preprocess: str = "clean",
    extractor: Any = "inception",
    inception_path: str | Path | None = None,
    device: str | None = None,
    batch_size: int = 64,
    num_workers: int | None = None,
    resize: str = "auto",
    num_subsets: int = 100,
    max_subset_size: int = 1000,
    seed: int = 0,
    progress: bool = False,
) -> float:
    """KID between two folders, as `cleanfid.fid.compute_kid(fdir1, fdir2)` (seeded)."""
    f1, f2 = _FolderRun(
        [fdir1, fdir2], extractor=extractor, inception_path=inception_path, device=device,
        preprocess=preprocess, batch_size=batch_size, num_workers=num_workers, resize=resize,
        progress=progress,
    ).each()  # fmt: skip
    return kernel_distance(
        f1, f2, num_subsets=num_subsets, max_subset_size=max_subset_size, seed=seed
    )


def fid_to_stats(
    fdir: str | Path,
    stats_path: str | Path,
    *,
    preprocess: str = "clean",
    extractor: Any = "inception",
    inception_path: str | Path | None = None,
    device: str | None = None,
    batch_size: int = 64,
    num_workers: int | None = None,
    resize: str = "auto",
    progress: bool = False,
) -> float:
    """FID of a folder against statistics saved by `save_reference_stats`; statistics made with
    another preprocess or extractor are refused."""
    ref = ReferenceStats.load(stats_path)
    run = _FolderRun(
        [fdir], extractor=extractor, inception_path=inception_path, device=device,
        preprocess=preprocess, batch_size=batch_size, num_workers=num_workers, resize=resize,
        progress=progress,
    )  # fmt: skip
    check = {"format": STATS_FORMAT, "preprocess": preprocess, "extractor": run.model.id}
    ref.check(check, stats_path)
    feats = run.features(run.sets[0], "FID features")
    return frechet_distance(*feature_stats(feats, what=str(fdir)), ref.mu, ref.sigma)
