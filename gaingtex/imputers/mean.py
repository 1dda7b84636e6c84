"""The per-tissue mean: the paper's simplest baseline."""

from __future__ import annotations

import numpy as np

from .base import Imputer, check_inputs, keep_observed, observed_mask
from .registry import register


@register("mean", "per-tissue mean", colour="#a6a6a6")
class MeanImputer(Imputer):
    """Per-tissue mean of each gene over the observed training entries (global mean for an unseen tissue)."""

    name = "mean"

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        super().fit(train)
        w = observed_mask(train.x, train_mask, "train_mask")
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

