"""The folder API, clean-fid's three calls: FID and KID between two folders (or zips), and FID
of a folder against saved statistics. Keyword options are `FeatureOptions`' fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .distance import feature_stats, fid_from_features, frechet_distance, kernel_distance
from .features import FeatureOptions, FolderRun
from .stats import STATS_FORMAT, ReferenceStats


def compute_fid(fdir1: str | Path, fdir2: str | Path, **options: Any) -> float:
    """FID between two folders (or zips), as `cleanfid.fid.compute_fid(fdir1, fdir2)` in clean
    mode. `extractor`: "inception" (weights from `inception_path` or the usual places), or an
    extractor object; `device` None means CUDA when available (see `FeatureOptions`)."""
    f1, f2 = FolderRun([fdir1, fdir2], FeatureOptions(**options)).each()
    return fid_from_features(f1, f2)


def compute_kid(
    fdir1: str | Path,
    fdir2: str | Path,
    *,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
    seed: int = 0,
    **options: Any,
) -> float:
    """KID between two folders, as `cleanfid.fid.compute_kid(fdir1, fdir2)` (seeded)."""
    f1, f2 = FolderRun([fdir1, fdir2], FeatureOptions(**options)).each()
    return kernel_distance(
        f1, f2, num_subsets=num_subsets, max_subset_size=max_subset_size, seed=seed
    )


def fid_to_stats(fdir: str | Path, stats_path: str | Path, **options: Any) -> float:
    """FID of a folder against statistics saved by `save_reference_stats`; statistics made with
    another preprocess or extractor are refused."""
    ref = ReferenceStats.load(stats_path)
    run = FolderRun([fdir], FeatureOptions(**options))
    check = {
        "format": STATS_FORMAT,
        "preprocess": run.options.preprocess,
        "extractor": run.model.id,
    }
    ref.check(check, stats_path)
    feats = run.features(run.sets[0], "FID features")
    return frechet_distance(*feature_stats(feats, what=str(fdir)), ref.mu, ref.sigma)
