"""The per-tissue median: the mean's robust sibling."""

from __future__ import annotations

import numpy as np

from .mean import PerTissueImputer
from .registry import register


@register("median", "per-tissue median", colour="#cccccc")
class MedianImputer(PerTissueImputer):
    """Per-tissue median of each gene over the observed training entries (the median over every tissue for a
    tissue unseen in training, or a gene a tissue never shows)."""

    name = "median"

    @staticmethod
    def statistic(x, w):
        x = np.where(w > 0, x, np.nan)
        seen = ~np.isnan(x).all(0)
        out = np.full(x.shape[1], np.nan)
        out[seen] = np.nanmedian(x[:, seen], axis=0)  # a column with no value: NaN, without numpy's warning
        return out
