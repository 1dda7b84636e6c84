"""The imputer contract: ``fit(train, valid=None, train_mask=None, valid_mask=None)``, then ``transform(x, mask, obs)``.

``x`` is in the prepared (standardised) scale. An entry is missing where ``mask == 0``; without a mask, where ``x``
is NaN. Whatever a missing entry holds (NaN, 0, 1e6) is never read. ``transform`` returns the full matrix with the
observed entries exactly as they were. Constructors take settings only; data arrive through ``fit``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import Split
from ..evaluation.masks import check_mask


def observed_mask(x: np.ndarray, mask: np.ndarray | None, what: str = "mask") -> np.ndarray:
    """The 0/1 float32 mask of ``x``: ``mask`` when given (checked), else the non-NaN entries. An entry marked
    observed must hold a number."""
    x = np.asarray(x)
    mask = (~np.isnan(x)).astype(np.float32) if mask is None else check_mask(mask, x.shape, what)
    bad = np.isnan(x) & (mask > 0)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{int(bad.sum())} observed entries ({what} == 1) are NaN, first at sample {i}, gene {j}; "
                         "mark them missing (mask = 0) instead")
    return mask


def check_inputs(x: np.ndarray, mask: np.ndarray | None, obs: pd.DataFrame, n_genes: int | None = None) -> tuple:
    """Validate an imputation request; return ``x`` with missing entries set to 0 and the mask as float32."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"x must be a (samples × genes) matrix, got {x.ndim} dimensions")
    if n_genes is not None and x.shape[1] != n_genes:
        raise ValueError(f"x has {x.shape[1]} genes, the imputer was fitted on {n_genes}")
    mask = observed_mask(x, mask)
    if len(obs) != x.shape[0]:
        raise ValueError(f"obs has {len(obs)} rows, x has {x.shape[0]} samples")
    return np.where(mask > 0, x, 0.0).astype(np.float32), mask


def keep_observed(x: np.ndarray, mask: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """``m ⊙ x + (1 − m) ⊙ x̂``."""
    return (mask * x + (1.0 - mask) * prediction).astype(np.float32)


class Imputer:
    """Base class: a name, a seed, ``fit`` and ``transform``."""

    name = "imputer"

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.n_genes: int | None = None

    def fit(self, train: Split, valid: Split | None = None, train_mask: np.ndarray | None = None,
            valid_mask: np.ndarray | None = None) -> "Imputer":
        self.n_genes = train.x.shape[1]
        return self

    def transform(self, x: np.ndarray, mask: np.ndarray | None, obs: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def fit_transform(self, train: Split, train_mask: np.ndarray | None = None) -> np.ndarray:
        """In-place use: fit on the observed part of ``train`` and impute its missing entries."""
        return self.fit(train, train_mask=train_mask).transform(train.x, train_mask, train.obs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, seed={self.seed})"
