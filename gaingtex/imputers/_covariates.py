"""Covariates as complete numeric columns, for the methods that take one matrix (k-NN, MICE, MissForest):
one-hot tissue and sex and standardised age, each learnt from the training samples only."""

from __future__ import annotations

import numpy as np
import pandas as pd


class CovariateColumns:
    """One-hot ``tissue`` and ``sex`` and standardised ``age`` of the training samples.

    A tissue or sex unseen in training gets all-zero indicator columns (no neighbour or regression favours it),
    and a missing age the training mean.
    """

    def fit(self, obs: pd.DataFrame) -> "CovariateColumns":
        self.levels_ = {c: sorted(obs[c].astype(str).unique()) for c in ("tissue", "sex") if c in obs}
        age = obs["age"].to_numpy(dtype=float) if "age" in obs else np.zeros(len(obs))
        self.age_ = (float(np.nanmean(age)) if len(age) else 0.0, float(np.nanstd(age)) or 1.0)
        return self

    @property
    def n_columns(self) -> int:
        return sum(len(v) for v in self.levels_.values()) + 1

    def transform(self, obs: pd.DataFrame) -> np.ndarray:
        parts = []
        for column, levels in self.levels_.items():
            values = obs[column].astype(str).to_numpy()
            parts.append((values[:, None] == np.asarray(levels)[None, :]).astype(np.float32))
        age = obs["age"].to_numpy(dtype=float) if "age" in obs else np.full(len(obs), self.age_[0])
        parts.append(np.nan_to_num((age - self.age_[0]) / self.age_[1]).astype(np.float32)[:, None])
        return np.hstack(parts)
