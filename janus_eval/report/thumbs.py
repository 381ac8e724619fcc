"""Thumbnails for the HTML report: embedded while they fit a byte budget, linked after that.

Embedding (base64 JPEG data URIs) keeps the report one portable file; the budget keeps it
small enough to open and mail however many runs it covers. Past the budget an image is shown by
its path relative to the report, which works as long as the report sits where it was written
relative to the runs (e.g. next to results/runs).
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path


class EmbedBudget:
    """Bytes of embedded thumbnails left before images are linked instead."""

    def __init__(self, limit: int, out_dir: Path) -> None:
        self.left = limit
        self.out_dir = out_dir

    def src(self, image_path: Path, thumb_px: int) -> str | None:
        """A data: URI (or a relative link once the budget is spent); None when unreadable."""
        if not image_path.is_file():
            return None
        if self.left > 0:
            data = jpeg_thumbnail(image_path, thumb_px)
            if data is None:
                return None
            if len(data) <= self.left:
                self.left -= len(data)
                return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
            self.left = 0
        return self.link(image_path)

    def link(self, path: Path) -> str:
        return relative(path, self.out_dir)


def relative(path: Path, start: Path) -> str:
    """`path` as seen from the report's folder (reports get moved with their runs). A first
    segment with a ':' (a directory named 'javascript:x') gets './' so it is never a URL scheme."""
    text = Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
    return "./" + text if ":" in text.split("/")[0] else text


def jpeg_thumbnail(path: Path, side: int) -> bytes | None:
    """The image shrunk to at most `side` pixels on its long side, as JPEG; None if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.draft("RGB", (side, side))  # JPEG sources decode at a reduced scale
            image = image.convert("RGB")
            image.thumbnail((side, side))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=80)
    except (OSError, UnidentifiedImageError):
        return None
    return buffer.getvalue()
