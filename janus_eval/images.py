"""Opening images the way every task and adapter needs them: RGB, with a clear error."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from janus_eval.types import ImageLike, UserError


def load_image(image: ImageLike, *, what: str = "image") -> Image.Image:
    """Open `image` (path, encoded bytes or PIL image) as an RGB PIL image.

    Grayscale, palette and RGBA inputs are converted to RGB (alpha dropped, as PIL's convert
    does), which is what every benchmark's own loader does. A missing or undecodable file raises
    a UserError naming it.
    """
    if isinstance(image, Image.Image):
        return image if image.mode == "RGB" else image.convert("RGB")
    try:
        if isinstance(image, bytes):
            opened = Image.open(io.BytesIO(image))
        else:
            path = Path(image)
            if not path.is_file():
                raise UserError(f"{what}: file not found: {path}")
            opened = Image.open(path)
        opened.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise UserError(f"{what}: cannot decode image ({exc})") from None
    return opened if opened.mode == "RGB" else opened.convert("RGB")
