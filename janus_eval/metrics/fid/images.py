"""Image sets as clean-fid lists and decodes them: which files count, in which order, and the
RGB array each becomes (quirks 1, 2, 4 and 8 of the package docstring)."""

from __future__ import annotations

import glob
import hashlib
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from janus_eval.types import UserError

EXTENSIONS = ("bmp", "jpg", "jpeg", "pgm", "png", "ppm", "tif", "tiff", "webp", "npy", "JPEG",
              "JPG", "PNG")  # fmt: skip
PREPROCESS = ("clean", "crop256")
_REFUSED_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")


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


def decode(images: ImageSet, i: int, zip_cache: dict) -> np.ndarray:
    """Image `i` of the set as a uint8 HxWx3 array; `zip_cache` keeps a zip open across calls
    (one per DataLoader worker). A file that does not decode is a UserError naming it."""
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


def require_images(images: ImageSet, what: str) -> None:
    if len(images) == 0:
        raise UserError(
            f"{what}: no images found in {images.root} (clean-fid's extensions: "
            f"{', '.join(EXTENSIONS)})"
        )
    if len(images) < 2:
        raise UserError(f"{what}: FID needs at least 2 images; {images.root} has 1")
