"""`janus-eval bench fid`: this FID engine against clean-fid's `compute_fid`, measured together.

Same process, same folders, same extractor object, same batch size and worker count: clean-fid
runs `compute_fid(folder, reference, mode="clean", custom_feat_extractor=extractor)`, we run
`compute_fid` with its defaults (resize="auto": the exact torch resize
on CUDA, PIL in the workers on CPU). Reported: images/s of each (both folders counted), the
ratio, and the FID difference (a correct engine differs by float noise only).

Before timing, both folders are read once (page cache) and the extractor runs one batch
(CUDA context, cuDNN autotuning), so neither side pays a cold start the other does not.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from janus_eval.types import UserError

from .api import compute_fid
from .images import ImageSet
from .resize import resolve_resize

#: (width, height) of synthesised images: COCO-like landscape/portrait and a square.
SIZES = ((640, 480), (480, 640), (512, 512))


def synthesize_folder(
    path: str | Path, n: int, *, seed: int = 0, sizes=SIZES, ext: str = "jpg"
) -> Path:
    """`n` smooth random images (low-frequency colour fields plus noise), JPEG by default, so
    decoding costs about what a photo costs. Deterministic in `seed`."""
    from PIL import Image

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        w, h = sizes[i % len(sizes)]
        coarse = rng.integers(0, 256, (max(h // 64, 2), max(w // 64, 2), 3), dtype=np.uint8)
        field = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BILINEAR), np.int16)
        noise = rng.integers(-12, 13, (h, w, 3), dtype=np.int16)
        image = Image.fromarray(np.clip(field + noise, 0, 255).astype(np.uint8))
        image.save(path / f"{i:06d}.{ext}", **({"quality": 90} if ext == "jpg" else {}))
    return path


def _read_all(folder: str | Path) -> int:
    images = ImageSet.from_path(folder)
    for i in range(len(images)):
        (images.root / images.names[i]).read_bytes()
    return len(images)


def run(
    folder: str | None,
    reference: str | None,
    n_images: int = 2000,
    device: str = "cuda",
    batch_size: int = 64,
    num_workers: int = 8,
    inception_path: str | None = None,
    random_extractor: bool = False,
) -> dict[str, Any]:
    """Time clean-fid and our engine on (folder, reference); missing folders are synthesised
    with `n_images` images each."""
    import torch
    from cleanfid import fid as cleanfid

    from janus_eval.metrics.inception import load_extractor

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("bench fid: no CUDA device here; pass --device cpu")
    model = load_extractor(
        "random:0:64" if random_extractor else "inception",
        inception_path=inception_path,
        device=device,
    )
    with tempfile.TemporaryDirectory(prefix="janus-fid-bench-") as tmp:
        folder = folder or str(synthesize_folder(Path(tmp) / "images", n_images, seed=0))
        reference = reference or str(synthesize_folder(Path(tmp) / "reference", n_images, seed=1))
        total = _read_all(folder) + _read_all(reference)
        with torch.inference_mode():
            model(torch.full((min(batch_size, 8), 3, 299, 299), 128.0, device=device))

        t0 = time.perf_counter()
        fid_clean = float(
            cleanfid.compute_fid(
                folder,
                reference,
                mode="clean",
                custom_feat_extractor=model,
                device=torch.device(device),
                batch_size=batch_size,
                num_workers=num_workers,
                verbose=False,
            )
        )
        t1 = time.perf_counter()
        fid_ours = compute_fid(
            folder,
            reference,
            extractor=model,
            device=device,
            batch_size=batch_size,
            num_workers=num_workers,
        )
        t2 = time.perf_counter()
    clean_rate, ours_rate = total / (t1 - t0), total / (t2 - t1)
    return {
        "n_images": total,
        "device": device,
        "extractor": model.id,
        "batch_size": batch_size,
        "num_workers": num_workers,
        "resize": resolve_resize("auto", device),
        "cleanfid_s": round(t1 - t0, 3),
        "ours_s": round(t2 - t1, 3),
        "cleanfid_images_per_s": round(clean_rate, 2),
        "ours_images_per_s": round(ours_rate, 2),
        "speedup": round(ours_rate / clean_rate, 3),
        "fid_cleanfid": fid_clean,
        "fid_ours": fid_ours,
        "fid_abs_diff": abs(fid_ours - fid_clean),
    }
