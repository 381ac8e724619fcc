"""Target: same extractor, same images -> FID equal to clean-fid's compute_fid to a relative
1e-6 (measured: 2.3e-7 for "clean", 3.9e-7 for "crop256", from clean-fid's float32 mean against
our float64 one). The bound matters: the FID here is about 0.048, and a covariance divided by N
instead of N - 1 moves it by 1.9e-4 (0.4%), which an absolute 1e-3 let through.

clean-fid runs its own code end to end (listing, DataLoader, resize, statistics, Frechet
distance) with our random extractor passed as `custom_feat_extractor`, so it never builds (or
downloads) its Inception; network access is blocked anyway, so a download attempt would fail
the test instead of hanging it.
"""

from __future__ import annotations

import urllib.request

import numpy as np
import pytest
import torch
from PIL import Image

from janus_eval.metrics import fid
from janus_eval.metrics.fid.bench import synthesize_folder
from janus_eval.metrics.inception import RandomExtractor

EXT = RandomExtractor(seed=1, dim=8).eval()
SIZES = ((96, 64), (64, 96), (80, 80), (299, 299), (40, 30))


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("clean-fid tried to download something")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    a = synthesize_folder(root / "gen", 12, seed=2, sizes=SIZES, ext="png")
    b = synthesize_folder(root / "real", 14, seed=3, sizes=SIZES)
    # one grayscale and one RGBA image on each side: conversions must agree too
    rng = np.random.default_rng(4)
    for d in (a, b):
        Image.fromarray(rng.integers(0, 256, (50, 70), dtype=np.uint8), "L").save(d / "gray.png")
        Image.fromarray(rng.integers(0, 256, (70, 50, 4), dtype=np.uint8), "RGBA").save(
            d / "rgba.png"
        )
    return a, b


def _gigagan_transform(image_np):
    """GigaGAN's evaluation.py `resize_and_center_crop` with resize_size=256."""
    from torchvision.transforms import functional as tvf

    image = Image.fromarray(image_np)
    image = tvf.center_crop(image, min(image.size))
    return np.array(image.resize((256, 256), Image.LANCZOS))


@pytest.mark.parametrize("preprocess", ["clean", "crop256"])
def test_fid_equals_clean_fid(folders, preprocess):
    from cleanfid import fid as cleanfid

    want = cleanfid.compute_fid(
        str(folders[0]),
        str(folders[1]),
        mode="clean",
        custom_feat_extractor=EXT,
        custom_image_tranform=_gigagan_transform if preprocess == "crop256" else None,
        device=torch.device("cpu"),
        num_workers=0,
        batch_size=7,
        verbose=False,
    )
    for resize, workers in (("pil", 0), ("torch", 2)):
        got = fid.compute_fid(
            folders[0],
            folders[1],
            preprocess=preprocess,
            extractor=EXT,
            device="cpu",
            num_workers=workers,
            batch_size=5,
            resize=resize,
        )
        assert got > 0.01  # the folders do differ: the comparison is not 0 == 0
        assert abs(got - float(want)) <= 1e-6 * abs(float(want)), (resize, got, want)


def test_kid_equals_clean_fid_with_the_same_seed(folders):
    from cleanfid import fid as cleanfid

    feats = [
        cleanfid.get_folder_features(
            str(d), EXT, num_workers=0, batch_size=8, device=torch.device("cpu"), verbose=False
        )
        for d in folders
    ]
    np.random.seed(0)
    want = cleanfid.kernel_distance(*feats)
    got = fid.compute_kid(folders[0], folders[1], extractor=EXT, device="cpu", num_workers=0)
    assert got == pytest.approx(want, rel=1e-5, abs=1e-7)
    ours = [fid.folder_features(d, extractor=EXT, device="cpu", num_workers=0) for d in folders]
    assert np.array_equal(ours[0], feats[0]) and np.array_equal(ours[1], feats[1])
