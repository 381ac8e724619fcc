"""Reference statistics: a reference set's features and float64 mean/covariance, computed
once, cached as .npz with their provenance, and refused when made another way."""

from __future__ import annotations

import datetime as _dt
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from janus_eval.types import UserError

from .distance import feature_stats
from .features import FeatureOptions, FolderRun
from .images import ImageSet

STATS_FORMAT = "janus-eval-fid-stats/1"


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


def save_reference_stats(
    images: ImageSet | str | Path, path: str | Path, *, name: str | None = None, **options: Any
) -> ReferenceStats:
    """Compute a folder's features and statistics and write them to `path` (.npz). `options`
    are `FeatureOptions`' fields."""
    run = FolderRun([images], FeatureOptions(**options), what="reference images")
    return _save(run, Path(path), name)


def _save(run: FolderRun, path: Path, name: str | None) -> ReferenceStats:
    (images,) = run.sets
    provenance = _provenance(name or str(images.root), images, run.options.preprocess, run.model)
    feats = run.features(images, f"reference features ({provenance['name']})")
    stats = ReferenceStats(
        feats,
        images.names,
        {**provenance, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
         "root": str(images.root), "versions": _versions()},
    )  # fmt: skip
    stats.save(path)
    return stats


def reference_stats(
    images: ImageSet, *, name: str, cache_dir: str | Path | None = None, **options: Any
) -> ReferenceStats:
    """Statistics of a reference set, computed once per (name, preprocess, extractor) and cached
    in `cache_dir` (default $JANUS_EVAL_CACHE/fid_stats). `options` are `FeatureOptions`' fields.

    A cached file whose provenance (file list, protocol, extractor) differs is refused with a
    UserError, never silently reused or overwritten."""
    run = FolderRun([images], FeatureOptions(**options), what=f"reference images ({name})")
    preprocess = run.options.preprocess
    cache = Path(cache_dir).expanduser() if cache_dir else default_stats_dir()
    path = cache / f"{_slug(name)}__{preprocess}__{_slug(run.model.id)}.npz"
    if path.is_file():
        stats = ReferenceStats.load(path)
        stats.check(_provenance(name, images, preprocess, run.model), path)
        return stats
    return _save(run, path, name)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in text)[:80]
