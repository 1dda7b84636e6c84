"""The per-tissue mean: the paper's simplest baseline (and :class:`PerTissueImputer`, what it shares with the
per-tissue median)."""

from __future__ import annotations

import numpy as np

from ._blocks import in_row_blocks
from .base import Imputer, observed_mask
from .registry import register

BLOCK_ENTRIES = 1 << 20  # entries per block that fit and transform handle at once (4 MB as float32)


class PerTissueImputer(Imputer):
    """Each missing entry is a per-tissue statistic of its gene over the observed training entries; the statistic
    over every tissue for a tissue unseen in training, or a gene a tissue never shows."""

    @staticmethod
    def statistic(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Per column of ``x``, over the entries where ``w > 0``; NaN for a column with none."""
        raise NotImplementedError

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        super().fit(train)
        x = train.x
        tissue = train.obs["tissue"].astype(str).to_numpy()
        rows = {t: tissue == t for t in np.unique(tissue)}
        if train_mask is not None and np.shape(train_mask) != x.shape:
            observed_mask(x, train_mask, "train_mask")  # raises, naming both shapes
        # In blocks of genes (the statistic is per gene, so the blocks do not change it): the whole training
        # matrix's mask and filled copy would be two more matrices at the paper's size.
        parts, by_tissue = [], {t: [] for t in rows}
        for start in range(0, x.shape[1], max(1, BLOCK_ENTRIES // max(len(x), 1))):
            cols = slice(start, start + max(1, BLOCK_ENTRIES // max(len(x), 1)))
            try:
                w = observed_mask(x[:, cols], None if train_mask is None else np.asarray(train_mask)[:, cols],
                                  "train_mask")
            except ValueError:
                observed_mask(x, train_mask, "train_mask")  # the whole matrix's message (its gene numbers)
                raise
            parts.append(self.statistic(x[:, cols], w))
            for t, sel in rows.items():
                by_tissue[t].append(self.statistic(x[sel, cols], w[sel]))
        self.global_ = np.nan_to_num(np.concatenate(parts))  # a gene never observed: 0, the training mean
        self.values_ = {}
        for t, value in by_tissue.items():
            value = np.concatenate(value)
            self.values_[t] = np.where(np.isnan(value), self.global_, value)
        return self

    def transform(self, x, mask, obs):
        x = np.asarray(x)
        step = max(1, BLOCK_ENTRIES // max(x.shape[-1], 1))
        return in_row_blocks(x, mask, obs, self.n_genes, step, lambda x0, m, o, start: np.stack(
            [self.values_.get(t, self.global_) for t in o["tissue"].astype(str).to_numpy()]))


@register("mean", "per-tissue mean", colour="#a6a6a6")
class MeanImputer(PerTissueImputer):
    """Per-tissue mean of each gene over the observed training entries (global mean for an unseen tissue)."""

    name = "mean"

    @staticmethod
    def statistic(x, w):
        n = w.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(w > 0, x, 0.0).sum(0) / np.where(n > 0, n, np.nan)
