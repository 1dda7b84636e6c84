"""Per-tissue RNA-seq normalisation as the GTEx v8 eQTL pipeline does it (broadinstitute/gtex-pipeline,
``qtl/src/eqtl_prepare_expression.py``):

1. expression thresholds: keep a gene with ≥ 6 reads in ≥ 20 % of the tissue's samples and, when TPM are given,
   TPM ≥ 0.1 in ≥ 20 % of them;
2. TMM (edgeR's trimmed mean of M-values, through the maintained ``rnanorm`` package) on the counts of every gene,
   giving counts per million of the effective library sizes;
3. a rank-based inverse-normal transform per gene across the tissue's samples: Φ⁻¹(rank / (n + 1)), ties given
   their mean rank.

``int`` skips TMM (for a gene panel, whose library sizes mean nothing) and ``none`` keeps the values as they are
(the eQTL BED files are already normalised).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

METHODS = ("tmm-int", "int", "none")
COUNT_THRESHOLD = 6
TPM_THRESHOLD = 0.1
SAMPLE_FRACTION = 0.2


def expressed(counts: np.ndarray | None, tpm: np.ndarray | None = None, count_threshold: float = COUNT_THRESHOLD,
              tpm_threshold: float = TPM_THRESHOLD, fraction: float = SAMPLE_FRACTION) -> np.ndarray:
    """Genes (columns of samples × genes matrices) that pass GTEx's expression thresholds in these samples."""
    if counts is None and tpm is None:
        raise ValueError("expression thresholds need read counts or TPM")
    n = (counts if counts is not None else tpm).shape[0]
    keep = np.ones((counts if counts is not None else tpm).shape[1], dtype=bool)
    if counts is not None:
        keep &= (counts >= count_threshold).sum(axis=0) >= fraction * n
    if tpm is not None:
        keep &= (tpm >= tpm_threshold).sum(axis=0) >= fraction * n
    return keep


def tmm_factors(counts: np.ndarray) -> np.ndarray:
    """edgeR's TMM normalisation factors (geometric mean 1) of the samples (rows) of a counts matrix."""
    from rnanorm import TMM

    counts = _counts(counts)
    return TMM().fit(counts).get_norm_factors(counts)


def tmm_cpm(counts: np.ndarray) -> np.ndarray:
    """Counts per million of the TMM-effective library sizes (edgeR ``cpm(normalized.lib.sizes=TRUE)``)."""
    from rnanorm import TMM

    counts = _counts(counts)
    return TMM().fit_transform(counts)


def _counts(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    if np.isnan(counts).any():
        raise ValueError("TMM needs complete read counts; the matrix has missing values (use --normalise none)")
    if (counts < 0).any():
        raise ValueError(f"read counts cannot be negative (found {counts.min():g})")
    if (counts.sum(axis=1) == 0).any():
        raise ValueError(f"{int((counts.sum(axis=1) == 0).sum())} samples have no reads at all")
    return counts


def inverse_normal(x: np.ndarray) -> np.ndarray:
    """Rank-based inverse-normal transform of each column (gene) across rows (samples): Φ⁻¹(rank / (n + 1)) with
    tied values given their mean rank; NaN stays NaN and the observed values are ranked among themselves."""
    x = np.asarray(x, dtype=np.float64)
    holes = np.isnan(x).any(axis=0)
    out = np.full(x.shape, np.nan, dtype=np.float32)
    if (~holes).any():  # complete genes at once
        out[:, ~holes] = stats.norm.ppf(stats.rankdata(x[:, ~holes], axis=0) / (len(x) + 1))
    for j in np.flatnonzero(holes):
        seen = ~np.isnan(x[:, j])
        n = int(seen.sum())
        if n:
            out[seen, j] = stats.norm.ppf(stats.rankdata(x[seen, j]) / (n + 1))
    return out


def looks_like_counts(values: np.ndarray) -> bool:
    """Whether every observed value is a non-negative whole number (read counts, not TPM)."""
    seen = values[~np.isnan(values)]
    return bool(seen.size) and bool((seen >= 0).all()) and bool(np.all(seen == np.round(seen)))


def normalise_tissue(values: np.ndarray, method: str, tpm: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One tissue's samples × genes: ``(normalised values of the genes kept, which genes were kept)``.

    ``tmm-int`` and ``int`` apply the thresholds (counts for ``tmm-int``; for ``int``, counts when the values are
    whole numbers, else TPM thresholds on the values themselves), then TMM (``tmm-int`` only) and the inverse-normal
    transform; ``none`` keeps every gene and value.
    """
    if method not in METHODS:
        raise ValueError(f"unknown normalisation {method!r}: expected one of {', '.join(METHODS)}")
    if method == "none":
        return np.asarray(values, dtype=np.float32), np.ones(values.shape[1], dtype=bool)
    counts = looks_like_counts(values)
    if method == "tmm-int" and not counts:
        raise ValueError("--normalise tmm-int needs read counts, and these values are not whole numbers (TPM?); "
                         "use --normalise int")
    keep = expressed(values if counts else None, tpm if counts else (tpm if tpm is not None else values))
    scaled = tmm_cpm(values) if method == "tmm-int" else values
    return inverse_normal(scaled[:, keep]), keep
