"""Opening images the way every task and adapter needs them: RGB, with a clear error.

Images are data, and data can be hostile: an undecodable, truncated or unreadable file and a
decompression bomb (more pixels than PIL's `Image.MAX_IMAGE_PIXELS` x 2, about 179 million,
PIL's own refusal threshold) are all bad input, a UserError naming the file.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from janus_eval.types import ImageLike, UserError


def load_image(image: ImageLike, *, what: str = "image") -> Image.Image:
    """Open `image` (path, encoded bytes or PIL image) as an RGB PIL image.

    Grayscale, palette and RGBA inputs are converted to RGB (alpha dropped, as PIL's convert
    does), which is what every benchmark's own loader does. A missing, unreadable, undecodable
    or oversized file raises a UserError naming it.
    """
    if isinstance(image, Image.Image):
        return image if image.mode == "RGB" else image.convert("RGB")
    opened = _decoded(image, what=what, reduced=False)
    return opened if opened.mode == "RGB" else opened.convert("RGB")


def check_image(image: ImageLike, *, what: str = "image") -> None:
    """Raise the UserError `load_image` would, more cheaply: JPEGs decode at 1/8 scale (every
    byte of the stream is still read, so truncation shows), other formats in full."""
    if not isinstance(image, Image.Image):
        _decoded(image, what=what, reduced=True).close()


def _decoded(image: str | Path | bytes, *, what: str, reduced: bool) -> Image.Image:
    name = "embedded image" if isinstance(image, bytes) else str(image)
    try:
        if isinstance(image, bytes):
            opened = Image.open(io.BytesIO(image))
        else:
            path = Path(image)
            if not path.is_file():
                raise UserError(f"{what}: file not found: {path}")
            opened = Image.open(path)
        if reduced and opened.format == "JPEG":
            opened.draft("RGB", (max(1, opened.width // 8), max(1, opened.height // 8)))
        opened.load()
    except Image.DecompressionBombError as exc:
        raise UserError(f"{what} {name} is too large to decode safely ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.strerror:  # permission, I/O error: not the pixels
            raise UserError(f"{what} {name} cannot be read ({exc.strerror})") from None
        raise UserError(f"{what} {name} cannot be decoded ({exc})") from None
    return opened
