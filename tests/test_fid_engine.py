"""The streaming FID engine: exact resize, statistics, errors, caching, extractor loading."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from janus_eval.metrics import fid
from janus_eval.metrics.fid.bench import synthesize_folder
from janus_eval.metrics.inception import (
    CLEAN_FID_URL,
    CleanFidInception,
    RandomExtractor,
    find_weights,
    load_extractor,
)
from janus_eval.types import UserError

EXT = RandomExtractor(seed=0, dim=8).eval()
SMALL = ((64, 48), (48, 64), (40, 40))


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fid")
    a = synthesize_folder(root / "a", 12, seed=0, sizes=SMALL)
    b = synthesize_folder(root / "b", 10, seed=1, sizes=SMALL, ext="png")
    return a, b


def features(path, **kw) -> np.ndarray:
    return fid.folder_features(path, extractor=EXT, device="cpu", num_workers=0, **kw)


# ------------------------------------------------------------------------------------ resize


@pytest.mark.parametrize(
    "hw",
    [(299, 299), (256, 256), (384, 384), (480, 640), (640, 480), (300, 298), (500, 375),
     (700, 300), (17, 33), (33, 17), (299, 512), (1, 7)],
)  # fmt: skip
def test_torch_resize_equals_pil_bit_for_bit(hw):
    arr = np.random.default_rng(sum(hw)).integers(0, 256, (*hw, 3), dtype=np.uint8)
    want = fid.pil_clean_resize(arr)
    got = fid.torch_clean_resize(torch.from_numpy(arr).permute(2, 0, 1)[None])[0]
    assert np.array_equal(got.permute(1, 2, 0).numpy(), want)


def test_pil_resize_is_clean_fids(folders):
    from cleanfid.resize import build_resizer

    arr = np.asarray(Image.open(next(folders[0].iterdir())).convert("RGB"))
    assert np.array_equal(fid.pil_clean_resize(arr), build_resizer("clean")(arr))


def test_both_resize_paths_give_identical_features(folders):
    assert np.array_equal(features(folders[0], resize="pil"), features(folders[0], resize="torch"))


def test_crop256_is_gigagans_transform():
    from torchvision.transforms import functional as tvf

    arr = np.random.default_rng(0).integers(0, 256, (301, 480, 3), dtype=np.uint8)
    image = tvf.center_crop(Image.fromarray(arr), min(arr.shape[:2]))
    want = np.array(image.resize((256, 256), Image.LANCZOS))
    assert np.array_equal(fid.preprocess_array(arr, "crop256"), want)
    with pytest.raises(UserError, match="unknown FID preprocess"):
        fid.preprocess_array(arr, "nope")


# -------------------------------------------------------------------------------- statistics


def test_frechet_distance_is_clean_fids():
    from cleanfid.fid import frechet_distance as clean

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 6)), rng.normal(1.0, 2.0, size=(30, 6))
    stats = (x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    ours = fid.frechet_distance(stats[0], stats[1], stats[2], stats[3])
    assert isinstance(ours, float)
    assert ours == pytest.approx(float(clean(*stats)), abs=1e-12)
    assert fid.frechet_distance(stats[0], stats[1], stats[0], stats[1]) == pytest.approx(
        0, abs=1e-8
    )


def test_frechet_distance_rejects_mismatched_sizes():
    with pytest.raises(UserError, match="disagree in size"):
        fid.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_kernel_distance_is_clean_fids_with_the_same_seed():
    from cleanfid.fid import kernel_distance as clean

    rng = np.random.default_rng(1)
    f1 = rng.normal(size=(50, 8)).astype(np.float32)
    f2 = rng.normal(0.3, 1, size=(40, 8)).astype(np.float32)
    np.random.seed(7)
    want = clean(f1, f2, num_subsets=10)
    assert fid.kernel_distance(f1, f2, num_subsets=10, seed=7) == want
    assert fid.kernel_distance(f1, f2, num_subsets=10, seed=8) != want


def test_fewer_than_two_images_is_an_error(tmp_path):
    with pytest.raises(UserError, match="at least 2 images"):
        fid.feature_stats(np.zeros((1, 8), np.float32))
    with pytest.raises(UserError, match="at least 2 images"):
        fid.kernel_distance(np.zeros((1, 4)), np.zeros((5, 4)))
    synthesize_folder(tmp_path / "one", 1, sizes=SMALL)
    synthesize_folder(tmp_path / "two", 2, sizes=SMALL)
    with pytest.raises(UserError, match="at least 2 images"):
        fid.compute_fid(tmp_path / "one", tmp_path / "two", extractor=EXT, device="cpu")


# ----------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("workers", [0, 2])
def test_corrupt_image_names_the_file(tmp_path, workers):
    synthesize_folder(tmp_path, 3, sizes=SMALL)
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(UserError, match=r"broken\.jpg: cannot decode image"):
        fid.folder_features(tmp_path, extractor=EXT, device="cpu", num_workers=workers)


def test_empty_reference_folder_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(UserError, match="no images found"):
        fid.reference_stats(
            fid.ImageSet.from_path(tmp_path), name="empty", extractor=EXT, cache_dir=tmp_path
        )
    with pytest.raises(UserError, match="neither a folder nor a .zip"):
        fid.ImageSet.from_path(tmp_path / "missing")


def test_grayscale_palette_and_rgba_are_converted_like_clean_fid(tmp_path):
    rng = np.random.default_rng(3)
    rgba = Image.fromarray(rng.integers(0, 256, (40, 50, 4), dtype=np.uint8), "RGBA")
    gray = Image.fromarray(rng.integers(0, 256, (40, 50), dtype=np.uint8), "L")
    pal = gray.convert("P")
    (tmp_path / "odd").mkdir()
    (tmp_path / "rgb").mkdir()
    for name, im in (("rgba", rgba), ("gray", gray), ("pal", pal)):
        im.save(tmp_path / "odd" / f"{name}.png")
        im.convert("RGB").save(tmp_path / "rgb" / f"{name}.png")  # alpha dropped, not blended
    assert np.array_equal(features(tmp_path / "odd"), features(tmp_path / "rgb"))


def test_sixteen_bit_images_are_refused(tmp_path):
    arr = (np.arange(40 * 50).reshape(40, 50) * 30).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "deep.png")
    Image.fromarray(arr.astype(np.uint8)).save(tmp_path / "ok.png")
    with pytest.raises(UserError, match="16-bit"):
        features(tmp_path)


def test_listing_follows_clean_fid(tmp_path):
    synthesize_folder(tmp_path / "sub", 2, sizes=SMALL)
    shutil.copy(tmp_path / "sub" / "000000.jpg", tmp_path / "odd.Jpg")  # not a clean-fid ext
    shutil.copy(tmp_path / "sub" / "000000.jpg", tmp_path / ".hidden.jpg")
    shutil.copy(tmp_path / "sub" / "000000.jpg", tmp_path / "top.JPG")
    names = fid.ImageSet.from_path(tmp_path).names
    assert names == ("sub/000000.jpg", "sub/000001.jpg", "top.JPG")


def test_zip_reads_like_the_folder_and_skips_macos_junk(folders, tmp_path):
    archive = tmp_path / "imgs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(folders[0].iterdir()):
            zf.write(f, f"imgs/{f.name}")
        zf.writestr("__MACOSX/imgs/._000000.jpg", b"junk")
        zf.writestr("imgs/._000001.jpg", b"junk")
    images = fid.ImageSet.from_path(archive)
    assert len(images) == 12
    assert np.array_equal(features(images), features(folders[0]))


def test_in_memory_images_equal_saved_pngs(folders, tmp_path):
    images = [Image.open(f).convert("RGB") for f in sorted(folders[1].iterdir())]
    got = fid.image_features(images, extractor=EXT, device="cpu", batch_size=3)
    assert np.array_equal(got, features(folders[1]))
    got = fid.image_features(images, extractor=EXT, device="cpu", preprocess="crop256")
    assert np.array_equal(got, features(folders[1], preprocess="crop256"))


# ----------------------------------------------------------------------- cached statistics


def test_reference_stats_are_cached_and_checked(folders, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    work = tmp_path / "ref"
    shutil.copytree(folders[0], work)
    images = fid.ImageSet.from_path(work)
    first = fid.reference_stats(images, name="toy", extractor=EXT, cache_dir=cache, num_workers=0)
    files = list(cache.glob("*.npz"))
    assert len(files) == 1 and first.provenance["file_list_sha256"] == images.fingerprint()

    def boom(*a, **k):
        raise AssertionError("features recomputed although cached")

    monkeypatch.setattr(fid.features, "folder_features", boom)
    again = fid.reference_stats(images, name="toy", extractor=EXT, cache_dir=cache)
    assert np.array_equal(again.sigma, first.sigma)
    assert np.array_equal(again.feats, first.feats)

    (work / "000000.jpg").unlink()  # the file list changed: refuse, do not reuse
    with pytest.raises(UserError, match="file_list_sha256"):
        fid.reference_stats(fid.ImageSet.from_path(work), name="toy", extractor=EXT,
                            cache_dir=cache)  # fmt: skip

    # A file from another protocol put where this one is expected is refused too.
    shutil.copy(folders[0] / "000000.jpg", work / "000000.jpg")
    other = cache / files[0].name.replace("__clean__", "__crop256__")
    shutil.copy(files[0], other)
    with pytest.raises(UserError, match="preprocess: file has 'clean', needed 'crop256'"):
        fid.reference_stats(images, name="toy", extractor=EXT, preprocess="crop256",
                            cache_dir=cache)  # fmt: skip


def test_fid_to_stats_matches_folder_to_folder(folders, tmp_path):
    stats = tmp_path / "b_stats.npz"
    fid.save_reference_stats(folders[1], stats, extractor=EXT, device="cpu", num_workers=0)
    kw = dict(extractor=EXT, device="cpu", num_workers=0)
    direct = fid.compute_fid(folders[0], folders[1], **kw)
    assert fid.fid_to_stats(folders[0], stats, **kw) == pytest.approx(direct, abs=1e-9)
    with pytest.raises(UserError, match="extractor: file has"):
        fid.fid_to_stats(folders[0], stats, extractor=RandomExtractor(1, 8), device="cpu")
    with pytest.raises(UserError, match="preprocess: file has"):
        fid.fid_to_stats(folders[0], stats, preprocess="crop256", **kw)
    bare = tmp_path / "clean_fid_style.npz"
    np.savez(bare, mu=np.zeros(8), sigma=np.eye(8))
    with pytest.raises(UserError, match="not a janus-eval FID statistics file"):
        fid.fid_to_stats(folders[0], bare, **kw)


# -------------------------------------------------------------------------------- extractors


def test_missing_weights_say_which_file_and_where_from(tmp_path, monkeypatch):
    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path))
    monkeypatch.setattr(
        "janus_eval.metrics.inception.search_locations", lambda: [tmp_path / "none.pt"]
    )
    with pytest.raises(UserError) as err:
        find_weights()
    text = str(err.value)
    assert "inception-2015-12-05.pt" in text and CLEAN_FID_URL in text
    assert "inception_path" in text
    with pytest.raises(UserError, match="inception-2015-12-05.pt"):
        load_extractor("inception", inception_path=tmp_path / "nothing_here.pt")


def test_random_extractor_spec():
    a, b = load_extractor("random:3:5"), load_extractor("random:3:5")
    x = torch.rand(2, 3, 299, 299) * 255
    assert a.id == "random:3:5" and a(x).shape == (2, 5)
    assert torch.equal(a(x), b(x))
    with pytest.raises(UserError, match="random:<seed>"):
        load_extractor("random:x")
    with pytest.raises(UserError, match="unknown FID extractor"):
        load_extractor("vgg")


class _Layers(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(4)
        self.fc = torch.nn.Linear(48, 2048)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(x).flatten(1))


class _Base(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = _Layers()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def test_torchscript_file_loads_like_clean_fids_wrapper(tmp_path):
    """A stand-in TorchScript file with clean-fid's layout (a `layers` submodule): our wrapper
    gives what clean-fid's InceptionV3W gives on it."""
    from cleanfid.inception_torchscript import InceptionV3W

    path = tmp_path / "inception-2015-12-05.pt"
    torch.jit.save(torch.jit.script(_Base()), str(path))
    ours = load_extractor("inception", inception_path=tmp_path)
    assert isinstance(ours, CleanFidInception) and ours.id.startswith("clean-fid-inception")
    theirs = InceptionV3W(str(tmp_path), download=False).eval()
    x = torch.rand(3, 3, 299, 299) * 255
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
    bad = tmp_path / "bad" / "inception-2015-12-05.pt"
    bad.parent.mkdir()
    bad.write_bytes(b"garbage")
    with pytest.raises(UserError, match="cannot load"):
        load_extractor("inception", inception_path=bad)


def test_torch_fidelity_state_dict_loads(tmp_path):
    from cleanfid import inception_pytorch as ip

    from janus_eval.metrics.inception import FIDELITY_FILE, FidelityInception

    net = ip._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    path = tmp_path / FIDELITY_FILE
    torch.save(net.state_dict(), path)
    model = load_extractor("inception", inception_path=path)
    assert isinstance(model, FidelityInception) and model.id.startswith("torch-fidelity")
    with torch.no_grad():
        assert model(torch.rand(1, 3, 299, 299) * 255).shape == (1, 2048)
    torch.save({"junk": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(UserError, match="torch-fidelity"):
        load_extractor("inception", inception_path=tmp_path / "wrong.pth")


def test_imaginary_sqrtm_is_a_user_error_and_still_a_value_error():
    """clean-fid raises ValueError("Imaginary component"); ours is that and a UserError."""
    from janus_eval.metrics.fid import frechet_distance
    from janus_eval.types import UserError

    mu = np.zeros(2)
    s1 = np.eye(2)
    s2 = -np.eye(2)  # S1 @ S2 = -I: its square root is i*I
    with pytest.raises(UserError, match="Imaginary component") as caught:
        frechet_distance(mu, s1, mu, s2)
    assert isinstance(caught.value, ValueError)
