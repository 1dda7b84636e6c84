"""Scores on masked entries only: per-gene R² and RMSE, per tissue, and their summary."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from ..data.masks import check_mask


MIN_SAMPLES = 5  # fewer distinct samples in a tissue: its R² is not computed (NaN), and the summary counts it
SMALL_TISSUE = 20  # fewer distinct samples: scored, and flagged as small in tables and figures
# Fewer masked entries of a gene in a tissue: its R² there is not computed. Even for a fair imputation,
# SS_res / SS_tot over n entries behaves like a ratio over a chi-square with n − 1 degrees of freedom, whose
# reciprocal has a finite mean only above 2 degrees of freedom and a finite variance only above 4: below 6 entries
# one cell's R² can be any large negative number (one such cell on the `teach` panel alone dragged down every
# method's mean R²: benchmarks/README.md, "`auto`").
MIN_ENTRIES = 6


def masked_scores(
    x_true: np.ndarray, x_hat: np.ndarray, mask: np.ndarray, groups: np.ndarray, genes: Iterable[str] | None = None,
    samples: np.ndarray | None = None, min_samples: int = MIN_SAMPLES, min_entries: int = MIN_ENTRIES,
) -> pd.DataFrame:
    """Per group (tissue) and gene, R² and RMSE over the *missing* entries (``mask == 0``) only; an entry whose
    true value is itself unknown (NaN in ``x_true``) is never scored.

    ``R² = 1 − Σ(x − x̂)² / Σ(x − x̄)²`` with ``x̄`` the mean of the true values over the same entries (the
    original code once used ``x ⊙ (1 − m)`` in place of ``x``; this compares with ``x`` itself). Genes with
    fewer than ``min_entries`` (:data:`MIN_ENTRIES`; at least two) missing entries in a group, or no spread, get
    NaN R², and so does every gene of a group with fewer than ``min_samples`` distinct ``samples`` (an extended
    test set repeats samples, and R² over a few repeated values is meaningless).

    Returns
    -------
    DataFrame with columns ``tissue``, ``gene``, ``r2``, ``rmse``, ``n`` (masked entries) and ``samples``
    (distinct samples of the tissue).
    """
    mask = check_mask(mask, x_true.shape)
    if x_hat.shape != x_true.shape:
        raise ValueError(f"imputed matrix has shape {x_hat.shape}, expected {x_true.shape}")
    groups = np.asarray(groups).astype(str)
    genes = np.asarray(list(genes)) if genes is not None else np.arange(x_true.shape[1]).astype(str)
    frames = []
    samples = np.arange(len(groups)) if samples is None else np.asarray(samples)
    for g in sorted(set(groups)):
        rows = groups == g
        distinct = len(set(samples[rows]))
        enough = distinct >= min_samples
        miss = (1.0 - mask[rows]) * ~np.isnan(x_true[rows])
        xt = np.where(miss > 0, x_true[rows], 0.0).astype(np.float64)
        xh = np.where(miss > 0, x_hat[rows], 0.0).astype(np.float64)
        n = miss.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = xt.sum(axis=0) / n
            ss_tot = (miss * (xt - mean) ** 2).sum(axis=0)
            ss_res = (miss * (xt - xh) ** 2).sum(axis=0)
            r2 = np.where((n >= max(2, min_entries)) & (ss_tot > 0) & enough, 1.0 - ss_res / ss_tot, np.nan)
            rmse = np.where(n >= 1, np.sqrt(ss_res / n), np.nan)
        frames.append(pd.DataFrame({"tissue": g, "gene": genes, "r2": r2, "rmse": rmse, "n": n.astype(int),
                                    "samples": distinct}))
    return pd.concat(frames, ignore_index=True)


def summarise(scores: pd.DataFrame) -> dict[str, float]:
    """Mean over genes within each tissue, then mean over tissues (each tissue weighs the same); with how many
    tissues were scored, how many of them are small (fewer than ``SMALL_TISSUE`` distinct samples) and how many
    could not be scored (fewer than ``MIN_SAMPLES``), so that no tissue drops out unseen."""
    per_tissue = scores.groupby("tissue")[["r2", "rmse"]].mean()
    out = {"r2": float(per_tissue["r2"].mean()), "rmse": float(per_tissue["rmse"].mean()),
           "r2_sd_tissues": float(per_tissue["r2"].std(ddof=0))}
    if "samples" in scores:
        samples = scores.groupby("tissue")["samples"].first()
        out.update({"tissues": int(per_tissue["r2"].notna().sum()),
                    "small_tissues": int(((samples < SMALL_TISSUE) & per_tissue["r2"].notna()).sum()),
                    "unscored_tissues": int(per_tissue["r2"].isna().sum())})
    return out


def tissue_sizes(scores: pd.DataFrame) -> pd.Series:
    """Distinct samples each tissue was scored on, from a long scores table."""
    return scores.groupby("tissue")["samples"].first()
