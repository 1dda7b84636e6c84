"""Imputers with one contract: ``fit(train, valid, train_mask, valid_mask)`` then ``transform(x, mask, obs)``.

``x`` is in the prepared (standardised) scale with ``NaN`` or any value where ``mask == 0``; ``transform`` returns
the full matrix with observed entries kept as they were.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cohort import FactorModel
from .data import Split, Standardizer
from .masks import check_mask
from .oracle import conditional_mean


def check_inputs(x: np.ndarray, mask: np.ndarray, obs: pd.DataFrame, n_genes: int | None = None) -> tuple:
    """Validate an imputation request; return ``x`` with missing entries set to 0 and the mask as float32."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"x must be a (samples × genes) matrix, got {x.ndim} dimensions")
    if n_genes is not None and x.shape[1] != n_genes:
        raise ValueError(f"x has {x.shape[1]} genes, the imputer was fitted on {n_genes}")
    mask = check_mask(mask, x.shape)
    if len(obs) != x.shape[0]:
        raise ValueError(f"obs has {len(obs)} rows, x has {x.shape[0]} samples")
    bad = np.isnan(x) & (mask > 0)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{int(bad.sum())} observed entries (mask == 1) are NaN, first at sample {i}, gene {j}; "
                         "mark them missing (mask = 0) instead")
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

    def transform(self, x: np.ndarray, mask: np.ndarray, obs: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def fit_transform(self, train: Split, train_mask: np.ndarray) -> np.ndarray:
        """In-place use: fit on the observed part of ``train`` and impute its missing entries."""
        return self.fit(train, train_mask=train_mask).transform(train.x, train_mask, train.obs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, seed={self.seed})"


class MeanImputer(Imputer):
    """Per-tissue mean of each gene over the observed training entries (global mean for an unseen tissue)."""

    name = "mean"

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        super().fit(train)
        w = np.ones_like(train.x) if train_mask is None else check_mask(train_mask, train.x.shape, "train_mask")
        xv = np.where(w > 0, train.x, 0.0)
        tissue = train.obs["tissue"].astype(str).to_numpy()
        self.global_mean_ = xv.sum(0) / np.maximum(w.sum(0), 1)
        self.means_ = {}
        for t in np.unique(tissue):
            rows = tissue == t
            n = w[rows].sum(0)
            self.means_[t] = np.where(n > 0, xv[rows].sum(0) / np.maximum(n, 1), self.global_mean_)
        return self

    def transform(self, x, mask, obs):
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        tissue = obs["tissue"].astype(str).to_numpy()
        pred = np.stack([self.means_.get(t, self.global_mean_) for t in tissue]) if len(tissue) else x0
        return keep_observed(x0, mask, pred)


class OracleImputer(Imputer):
    """The generating model's exact conditional mean, expressed in the prepared (standardised) scale.

    Parameters
    ----------
    model
        The cohort's :class:`~gaingtex.cohort.FactorModel`.
    standardizer
        The preparation's training statistics (to move between the two scales).
    gene_index
        Positions of the prepared genes among the cohort's genes.
    """

    name = "oracle"

    def __init__(self, model: FactorModel, standardizer: Standardizer, gene_index: np.ndarray, seed: int = 0):
        super().__init__(seed)
        self.model = model
        self.standardizer = standardizer
        self.gene_index = np.asarray(gene_index)
        self.n_genes = len(self.gene_index)

    @classmethod
    def from_prepared(cls, adata, prepared) -> "OracleImputer":
        from .cohort import factor_model

        return cls(factor_model(adata), prepared.standardizer, prepared.gene_index)

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        return self  # nothing to learn: the model is known

    def transform(self, x, mask, obs):
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        raw = self.standardizer.inverse(x0)
        pred = conditional_mean(self.model, raw, mask, obs, self.gene_index)
        return keep_observed(x0, mask, self.standardizer.transform(pred))


class BloodSurrogate(Imputer):
    """Fill another tissue's missing genes with the same donor's Whole Blood values (the paper's surrogate).

    Samples whose donor has no blood sample in ``blood`` fall back to the per-tissue mean; Whole Blood samples
    themselves are imputed by the per-tissue mean.
    """

    name = "blood-surrogate"

    def __init__(self, blood: Split, seed: int = 0):
        super().__init__(seed)
        is_blood = blood.obs["tissue"].astype(str).to_numpy() == "Whole_Blood"
        donors = blood.obs["donor_id"].astype(str).to_numpy()[is_blood]
        self.profiles_ = dict(zip(donors, blood.x[is_blood]))
        self.fallback_ = MeanImputer(seed)

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        super().fit(train)
        self.fallback_.fit(train, train_mask=train_mask)
        return self

    def transform(self, x, mask, obs):
        pred = self.fallback_.transform(x, mask, obs)
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        donors = obs["donor_id"].astype(str).to_numpy()
        tissue = obs["tissue"].astype(str).to_numpy()
        for i, (d, t) in enumerate(zip(donors, tissue)):
            if t != "Whole_Blood" and d in self.profiles_:
                pred[i] = keep_observed(x0[i], mask[i], self.profiles_[d])
        return pred

    def covers(self, obs: pd.DataFrame) -> np.ndarray:
        """Which samples have a blood profile from the same donor (and are not blood)."""
        return np.array([t != "Whole_Blood" and d in self.profiles_
                         for d, t in zip(obs["donor_id"].astype(str), obs["tissue"].astype(str))])
