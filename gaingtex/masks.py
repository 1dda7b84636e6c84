"""Missingness masks (1 = observed, 0 = missing)."""

from __future__ import annotations

import numpy as np


def sample_mask(
    n_samples: int, n_genes: int, keep_low: float, keep_high: float, rng: np.random.Generator | int
) -> np.ndarray:
    """Per sample draw a keep-probability ``p ~ U(keep_low, keep_high)``, then ``Bernoulli(p)`` per gene.

    Returns a float32 ``(n_samples, n_genes)`` array of 0/1.
    """
    if not 0.0 <= keep_low <= keep_high <= 1.0:
        raise ValueError(f"keep-probabilities must satisfy 0 ≤ low ≤ high ≤ 1, got low={keep_low}, high={keep_high}")
    rng = np.random.default_rng(rng)
    p = rng.uniform(keep_low, keep_high, size=(n_samples, 1))
    return (rng.random((n_samples, n_genes)) < p).astype(np.float32)


def missing_mask(n_samples: int, n_genes: int, missing_rate: float, rng: np.random.Generator | int) -> np.ndarray:
    """Entries missing completely at random, each independently with probability ``missing_rate``."""
    if not 0.0 <= missing_rate < 1.0:
        raise ValueError(f"missing_rate must be in [0, 1), got {missing_rate}")
    keep = 1.0 - missing_rate
    return sample_mask(n_samples, n_genes, keep, keep, rng)


def check_mask(mask: np.ndarray, shape: tuple[int, int], what: str = "mask") -> np.ndarray:
    """Validate a mask against the data's shape and return it as float32 0/1."""
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise ValueError(f"{what} has shape {mask.shape}, expected {tuple(shape)} (samples × genes)")
    if not np.isin(mask, (0, 1)).all():
        raise ValueError(f"{what} must hold only 0 (missing) and 1 (observed)")
    return mask.astype(np.float32)
