"""Missingness masks (1 = observed, 0 = missing) and the named random streams they are drawn from."""

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


# Every random stream of the evaluation, by name: its number is mixed with the run's seed, so that each stream is
# independent of the others and reproducible on its own. (The numbers are those the package has always used, so
# that results stay comparable across versions.)
STREAMS = {
    "scenario": 5,            # the scenario masks: the extended test set's (inductive), train + valid (in place)
    "calibration": 7,         # the benchmark's calibration: swapped tissues, blood surrogate, shifted cohorts
    "missing-rate": 11,       # R² against the missing rate
    "observed-fraction": 13,  # shifted cohorts against the observed fraction
    "embedding-null": 17,     # random tissue embeddings
    "coexpression": 19,       # the genes of the co-expression similarity
    "user": 23,               # `gaingtex impute`: the validation split of a user's cohort
    "holdout": 29,            # entries a method hides from its own training data to choose a setting (SoftImpute)
    "scaling": 31,            # the scaling study's subsamples and masks
    "conformal": 37,          # the validation entries a method's intervals are calibrated on (not its own choice's)
    "multiple-imputation": 41,  # the multiple-imputation study's simulated samples, masks, bootstraps and draws
    "blend": 43,              # `auto`: the validation entries its blend is chosen on, and the halves it is cross-fitted on
}


def stream(seed: int, name: str, *keys: int) -> np.random.Generator:
    """The random generator of stream ``name`` (see :data:`STREAMS`) for ``seed``; ``keys`` pick sub-streams
    (one per missing rate, per cohort and mask, …)."""
    if name not in STREAMS:
        raise ValueError(f"unknown random stream {name!r}: expected one of {', '.join(STREAMS)}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), STREAMS[name], *(int(k) for k in keys)]))
