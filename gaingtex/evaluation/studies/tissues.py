"""Which tissues are hard, and why: per-tissue R² of every method, the ranking of one method's tissues, and rank
correlations with the training-set size and with the oracle (paper Fig. 2's question)."""

from __future__ import annotations

import pandas as pd
from scipy.stats import spearmanr

from ..metrics import SMALL_TISSUE, tissue_sizes


def per_tissue(scores: pd.DataFrame, sizes: bool = False) -> pd.DataFrame:
    """Mean R² over genes, tissues × methods, from a long scores table; with ``sizes``, also each tissue's
    number of distinct samples (``samples``) and whether that is below ``SMALL_TISSUE`` (``small``)."""
    table = scores.groupby(["method", "tissue"], sort=False)["r2"].mean().unstack(0)
    if sizes:
        counts = tissue_sizes(scores).reindex(table.index)
        table = table.assign(samples=counts, small=counts < SMALL_TISSUE)
    return table


def tissue_ends(table: pd.DataFrame, method: str, n: int = 3) -> pd.DataFrame:
    """The ``n`` hardest and ``n`` easiest tissues for ``method`` (rows of :func:`per_tissue`), hardest first."""
    ranked = table[method].dropna().sort_values()
    return table.loc[list(ranked.index[:n]) + list(ranked.index[-n:])]


def hardness(table: pd.DataFrame, method: str, train_counts: pd.Series, reference: str = "oracle") -> dict:
    """Is a tissue hard for ``method`` because it has few training samples, or because of its biology? The
    Spearman correlation across tissues of ``method``'s R² with the number of training samples, and with
    ``reference``'s R² (which no amount of training data changes), plus the hardest and easiest tissue."""
    ranked = table[method].dropna().sort_values()
    out = {"rho_training_samples": float(spearmanr(table[method], train_counts.reindex(table.index),
                                                   nan_policy="omit").statistic),
           "worst_tissue": ranked.index[0].replace("_", " "), "worst_tissue_r2": float(ranked.iloc[0]),
           "best_tissue": ranked.index[-1].replace("_", " "), "best_tissue_r2": float(ranked.iloc[-1])}
    if reference in table:
        out["rho_reference"] = float(spearmanr(table[method], table[reference], nan_policy="omit").statistic)
    return out
