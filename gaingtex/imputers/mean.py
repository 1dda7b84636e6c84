"""The per-tissue mean: the paper's simplest baseline (and :class:`PerTissueImputer`, what it shares with the
per-tissue median)."""

from __future__ import annotations

import numpy as np

from .base import Imputer, check_inputs, keep_observed, observed_mask
from .registry import register


class PerTissueImputer(Imputer):
    """Each missing entry is a per-tissue statistic of its gene over the observed training entries; the statistic
    over every tissue for a tissue unseen in training, or a gene a tissue never shows."""

    @staticmethod
    def statistic(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Per column of ``x``, over the entries where ``w > 0``; NaN for a column with none."""
        raise NotImplementedError

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        super().fit(train)
        w = observed_mask(train.x, train_mask, "train_mask")
        tissue = train.obs["tissue"].astype(str).to_numpy()
        self.global_ = np.nan_to_num(self.statistic(train.x, w))  # a gene never observed: 0, the training mean
        self.values_ = {}
        for t in np.unique(tissue):
            value = self.statistic(train.x[tissue == t], w[tissue == t])
            self.values_[t] = np.where(np.isnan(value), self.global_, value)
        return self

    def transform(self, x, mask, obs):
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        tissue = obs["tissue"].astype(str).to_numpy()
        pred = np.stack([self.values_.get(t, self.global_) for t in tissue]) if len(tissue) else x0
        return keep_observed(x0, mask, pred)


@register("mean", "per-tissue mean", colour="#a6a6a6")
class MeanImputer(PerTissueImputer):
    """Per-tissue mean of each gene over the observed training entries (global mean for an unseen tissue)."""

    name = "mean"

    @staticmethod
    def statistic(x, w):
        n = w.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(w > 0, x, 0.0).sum(0) / np.where(n > 0, n, np.nan)
