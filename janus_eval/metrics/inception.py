"""Feature extractors for FID/KID: what turns a clean-resized image batch into feature vectors.

An extractor is a `torch.nn.Module` with two attributes besides `forward`:

- `forward(x)`: `x` is a float32 batch `(B, 3, 299, 299)` with values in [0, 255] (the output of
  clean-fid's resize, not yet normalised); it returns `(B, dim)` features.
- `id`: a string naming the network *and its weights* (a hash of the weight file). Reference
  statistics are cached per id, and features stored by a run carry it, so numbers from two
  extractors never mix.
- `dim`: the feature width.

Three kinds exist:

- `CleanFidInception`: clean-fid's TF-FID Inception, the TorchScript file
  `inception-2015-12-05.pt` (StyleGAN2-ADA's export), normalised exactly as clean-fid's
  `InceptionV3W` does ((x - 128) / 128, then `layers.forward`). This is the default.
- `FidelityInception`: torch-fidelity's `weights-inception-2015-12-05-6726825d.pth` (a state
  dict; pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` has the same name suffix and layout)
  loaded into the pytorch-fid port of that network (clean-fid's `inception_pytorch` blocks) with
  torch-fidelity's normalisation ((x - 128) / 128). It is a port: features agree with the
  TorchScript network closely but not bit for bit, so it has its own id. Used only when named
  explicitly with `inception_path`.
- `RandomExtractor` ("random:<seed>[:<dim>]"): a two-layer random conv net, for tests only. Its
  FID values mean nothing.

Nothing here downloads: a missing weight file is a `UserError` saying which file, where to put it
and where it comes from. TorchScript files are loaded with `torch.jit.load` (as clean-fid does;
TorchScript archives hold code for the TorchScript interpreter, not Python pickles); state dicts
with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import functools
import hashlib
import platform
import warnings
from pathlib import Path

import torch
from torch import nn

from janus_eval.cache import cache_dir
from janus_eval.types import UserError

CLEAN_FID_FILE = "inception-2015-12-05.pt"
CLEAN_FID_URL = (
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/"
    "inception-2015-12-05.pt"
)
FIDELITY_FILE = "weights-inception-2015-12-05-6726825d.pth"
FIDELITY_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    "weights-inception-2015-12-05-6726825d.pth"
)


def search_locations() -> list[Path]:
    """Where the clean-fid file is looked for when no path is given: our cache, then the place
    clean-fid itself downloads it to (/tmp, or the working directory on Windows)."""
    clean_fid_dir = Path("./") if platform.system() == "Windows" else Path("/tmp")
    return [cache_dir() / CLEAN_FID_FILE, clean_fid_dir / CLEAN_FID_FILE]


def missing_weights_message(looked: list[Path]) -> str:
    places = ", ".join(str(p) for p in looked)
    return (
        f"FID needs the Inception weights file {CLEAN_FID_FILE} (clean-fid's TF-FID Inception, "
        f"TorchScript, ~95 MB); looked in: {places}. Download it where a network is available "
        f"from {CLEAN_FID_URL} and put it at {looked[-1] if len(looked) > 1 else looked[0]} "
        f"(or {cache_dir() / CLEAN_FID_FILE}), or pass its path with "
        f"--task-option inception_path=/path/to/{CLEAN_FID_FILE}. torch-fidelity's "
        f"{FIDELITY_FILE} ({FIDELITY_URL}) also works when named by inception_path."
    )


def find_weights(inception_path: str | Path | None = None) -> Path:
    """The weight file to use: `inception_path` (a file, or a folder holding one of the two known
    names), else the first existing search location."""
    if inception_path:
        path = Path(inception_path).expanduser()
        if path.is_dir():
            for name in (CLEAN_FID_FILE, FIDELITY_FILE):
                if (path / name).is_file():
                    return path / name
            raise UserError(missing_weights_message([path / CLEAN_FID_FILE]))
        if not path.is_file():
            raise UserError(missing_weights_message([path]))
        return path
    for path in search_locations():
        if path.is_file():
            return path
    raise UserError(missing_weights_message(search_locations()))


@functools.lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime: float) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    st = path.stat()
    return _sha256(str(path), st.st_size, st.st_mtime)


class CleanFidInception(nn.Module):
    """clean-fid's `InceptionV3W` in "clean" mode (`resize_inside=False`), without DataParallel."""

    dim = 2048

    def __init__(self, path: Path) -> None:
        super().__init__()
        try:
            with warnings.catch_warnings():  # torch >= 2.9 deprecates jit.load; clean-fid uses it
                warnings.simplefilter("ignore", FutureWarning)
                self.base = torch.jit.load(str(path), map_location="cpu").eval()
            self.layers = self.base.layers
        except Exception as exc:
            raise UserError(
                f"cannot load {path} as clean-fid's TorchScript Inception ({type(exc).__name__}: "
                f"{exc}). Re-download it from {CLEAN_FID_URL}."
            ) from None
        self.id = f"clean-fid-inception-2015-12-05@sha256:{file_sha256(path)[:16]}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bs = x.shape[0]
        x1 = x - 128
        x2 = x1 / 128
        return self.layers.forward(x2).view((bs, 2048))


class FidelityInception(nn.Module):
    """torch-fidelity's weights in the pytorch-fid port of the TF Inception (2048-d pool)."""

    dim = 2048

    def __init__(self, path: Path) -> None:
        super().__init__()
        from cleanfid import inception_pytorch as ip

        net = ip._inception_v3(num_classes=1008, aux_logits=False, weights=None)
        net.Mixed_5b = ip.FIDInceptionA(192, pool_features=32)
        net.Mixed_5c = ip.FIDInceptionA(256, pool_features=64)
        net.Mixed_5d = ip.FIDInceptionA(288, pool_features=64)
        net.Mixed_6b = ip.FIDInceptionC(768, channels_7x7=128)
        net.Mixed_6c = ip.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6d = ip.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6e = ip.FIDInceptionC(768, channels_7x7=192)
        net.Mixed_7b = ip.FIDInceptionE_1(1280)
        net.Mixed_7c = ip.FIDInceptionE_2(2048)
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        except Exception as exc:
            raise UserError(
                f"cannot load {path} as torch-fidelity's Inception state dict "
                f"({type(exc).__name__}: {str(exc)[:300]}). Expected {FIDELITY_FILE} from "
                f"{FIDELITY_URL}."
            ) from None
        self.net = net.eval()
        self.id = f"torch-fidelity-inception-2015-12-05@sha256:{file_sha256(path)[:16]}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = (x - 128) / 128
        for block in (n.Conv2d_1a_3x3, n.Conv2d_2a_3x3, n.Conv2d_2b_3x3, n.maxpool1,
                      n.Conv2d_3b_1x1, n.Conv2d_4a_3x3, n.maxpool2, n.Mixed_5b, n.Mixed_5c,
                      n.Mixed_5d, n.Mixed_6a, n.Mixed_6b, n.Mixed_6c, n.Mixed_6d, n.Mixed_6e,
                      n.Mixed_7a, n.Mixed_7b, n.Mixed_7c, n.avgpool):  # fmt: skip
            x = block(x)
        return torch.flatten(x, 1)


class RandomExtractor(nn.Module):
    """Random weights drawn from `seed`, for tests: cheap, deterministic, no download."""

    def __init__(self, seed: int = 0, dim: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, kernel_size=7, stride=4)
        self.conv2 = nn.Conv2d(8, dim, kernel_size=5, stride=4)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                fan_in = p[0].numel() if p.dim() > 1 else 1
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in**0.5)
        self.dim = dim
        self.id = f"random:{seed}:{dim}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1((x - 128) / 128))
        return self.conv2(x).mean(dim=(2, 3))


def load_extractor(
    spec: str | nn.Module | None = "inception",
    *,
    inception_path: str | Path | None = None,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """An extractor in eval mode on `device`, from a spec: "inception" (the weight file found by
    `find_weights`), "random:<seed>[:<dim>]" (tests), or an extractor object (returned as is,
    moved to `device`)."""
    if isinstance(spec, nn.Module):
        model = spec
    elif spec in (None, "", "inception"):
        path = find_weights(inception_path)
        model = FidelityInception(path) if path.suffix == ".pth" else CleanFidInception(path)
    elif isinstance(spec, str) and spec.startswith("random:"):
        try:
            parts = [int(p) for p in spec.split(":")[1:]]
            model = RandomExtractor(*parts)
        except (TypeError, ValueError):
            raise UserError(
                f"extractor {spec!r}: expected random:<seed> or random:<seed>:<dim>"
            ) from None
    else:
        raise UserError(
            f"unknown FID extractor {spec!r}; use 'inception' (default) or 'random:<seed>' "
            "(testing only)"
        )
    for attr in ("id", "dim"):
        if not hasattr(model, attr):
            raise TypeError(f"FID extractor {type(model).__name__} needs a `{attr}` attribute")
    return model.to(device).eval()
