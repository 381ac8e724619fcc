"""Frechet distance and KID from features, as clean-fid computes them (quirks 5 to 8 of the
package docstring)."""

from __future__ import annotations

import warnings

import numpy as np

from janus_eval.types import UserError


def feature_stats(feats: np.ndarray, *, what: str = "images") -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) in float64; at least two rows are needed for a covariance."""
    if feats.ndim != 2 or feats.shape[0] < 2:
        n = feats.shape[0] if feats.ndim == 2 else 0
        raise UserError(f"FID needs at least 2 images per side; {what}: {n}")
    x = feats.astype(np.float64)
    return np.mean(x, axis=0), np.cov(x, rowvar=False)


class FrechetImaginaryError(UserError, ValueError):
    """clean-fid's ValueError("Imaginary component ..."), also a UserError so the CLI shows
    one message (exit 2) instead of a traceback."""


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 sqrt(S1 S2)), computed as clean-fid does
    (Dougal J. Sutherland's stable version)."""
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise UserError(
            f"FID statistics disagree in size: mean {mu1.shape} vs {mu2.shape}, covariance "
            f"{sigma1.shape} vs {sigma2.shape} (different feature extractors?)"
        )
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        warnings.warn(
            f"fid calculation produces singular product; adding {eps} to diagonal of cov estimates",
            stacklevel=2,
        )
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            m = np.max(np.abs(covmean.imag))
            raise FrechetImaginaryError(
                f"Imaginary component {m}: sqrt(S1 S2) has a significant imaginary part, so no "
                "FID can be given (clean-fid raises here too). It usually means too few images "
                "for the feature dimension (a 2048-d covariance wants thousands of images), or "
                "duplicated/constant images. Stored features are kept; add samples and re-run."
            )
        covmean = covmean.real
    tr_covmean = np.trace(covmean)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def kernel_distance(
    feats1: np.ndarray,
    feats2: np.ndarray,
    *,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
    seed: int = 0,
) -> float:
    """KID as clean-fid's `kernel_distance` computes it, with a seeded generator."""
    for name, f in (("first", feats1), ("second", feats2)):
        if f.ndim != 2 or f.shape[0] < 2:
            raise UserError(f"KID needs at least 2 images per side; the {name} set has fewer")
    rng = np.random.RandomState(seed)
    n = feats1.shape[1]
    m = min(min(feats1.shape[0], feats2.shape[0]), max_subset_size)
    t = 0
    for _ in range(num_subsets):
        x = feats2[rng.choice(feats2.shape[0], m, replace=False)]
        y = feats1[rng.choice(feats1.shape[0], m, replace=False)]
        a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
        b = (x @ y.T / n + 1) ** 3
        t += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return float(t / num_subsets / m)


def fid_from_features(feats1: np.ndarray, feats2: np.ndarray) -> float:
    return frechet_distance(
        *feature_stats(feats1, what="first set"), *feature_stats(feats2, what="second set")
    )
