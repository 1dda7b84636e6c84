"""Per-tissue RNA-seq normalisation as the GTEx v8 eQTL pipeline does it (broadinstitute/gtex-pipeline,
``qtl/src/eqtl_prepare_expression.py``):

1. expression thresholds: keep a gene with ≥ 6 reads in ≥ 20 % of the tissue's samples and, when TPM are given,
   TPM ≥ 0.1 in ≥ 20 % of them;
2. TMM (edgeR's trimmed mean of M-values) on the counts of every gene, giving counts per million of the effective
   library sizes;
3. a rank-based inverse-normal transform per gene across the tissue's samples: Φ⁻¹(rank / (n + 1)), ties given
   their mean rank.

``int`` skips TMM (for a gene panel, whose library sizes mean nothing) and ``none`` keeps the values as they are
(the eQTL BED files are already normalised).

Everything works on whole blocks of samples or genes at once, a bounded number of cells at a time, on every core.
TMM follows the arithmetic of the maintained ``rnanorm`` package (itself checked against edgeR), whose per-sample
loop is what made loading a full GTEx matrix slow; the tests hold this implementation to both.
"""

from __future__ import annotations

import numpy as np
from scipy import special  # not scipy.stats: its import alone costs more than normalising a small file

from .._parallel import run_parallel

METHODS = ("tmm-int", "int", "none")
COUNT_THRESHOLD = 6
TPM_THRESHOLD = 0.1
SAMPLE_FRACTION = 0.2
M_TRIM, A_TRIM = 0.3, 0.05  # edgeR's defaults
CHUNK_CELLS = 1 << 16  # float64 cells worked on at once by one thread: its temporaries stay in the cache


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


def looks_like_counts(values: np.ndarray) -> bool:
    """Whether every observed value is a non-negative whole number (read counts, not TPM)."""
    values = np.asarray(values)
    seen = ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        whole = (values >= 0) & (values == np.round(values))
    return bool(seen.any()) and bool((whole | ~seen).all())


def check_tmm_input(counts: np.ndarray) -> None:
    """The one-line errors for counts that TMM cannot use: missing values, negative counts, empty samples."""
    if np.isnan(counts).any():
        raise ValueError("TMM needs complete read counts; the matrix has missing values (use --normalise none)")
    if (counts < 0).any():
        raise ValueError(f"read counts cannot be negative (found {counts.min():g})")
    empty = counts.sum(axis=1, dtype=np.float64) == 0
    if empty.any():
        raise ValueError(f"{int(empty.sum())} samples have no reads at all")


def tmm_factors(counts: np.ndarray) -> np.ndarray:
    """edgeR's TMM normalisation factors (geometric mean 1) of the samples (rows) of a counts matrix.

    As edgeR and ``rnanorm``: genes with no read in any sample are set aside; the reference is the sample whose
    upper-quartile factor is closest to their mean; each sample's log-ratio to it is the precision-weighted mean
    of the M-values left after trimming 30 % of M and 5 % of A at each end (by mean rank among the genes both
    samples express)."""
    counts = np.asarray(counts)
    check_tmm_input(counts)
    library = counts.sum(axis=1, dtype=np.float64)  # whole numbers: exact in any order
    nonzero = counts.sum(axis=0, dtype=np.float64) > 0
    genes = slice(None) if nonzero.all() else np.flatnonzero(nonzero)  # a block at a time, not a copy of all
    parts = row_chunks(len(counts), int(nonzero.sum()))
    upper = np.concatenate(run_parallel([lambda s=s: _upper_quartile(counts[s][:, genes]) for s in parts]))
    f75 = upper / library
    f75 = f75 / _gmean(f75)
    reference = counts[np.argmin(np.fabs(f75 - np.mean(f75)))].astype(np.float64)
    # Genes the reference has no read of have no M value in any sample: left out here, as rnanorm's NaN do.
    genes = np.flatnonzero(nonzero & (reference > 0))
    reference = reference[genes]
    parts = row_chunks(len(counts), len(genes))
    logs = np.concatenate(run_parallel([lambda s=s: _log_ratio(counts[s][:, genes], library[s], reference)
                                        for s in parts]))
    factors = np.power(2, logs)
    return factors / _gmean(factors)


def _gmean(values: np.ndarray) -> float:
    """The geometric mean, as ``scipy.stats.gmean`` computes it."""
    with np.errstate(divide="ignore"):
        return np.exp(np.mean(np.log(values)))


def tmm_cpm(counts: np.ndarray, factors: np.ndarray | None = None) -> np.ndarray:
    """Counts per million of the TMM-effective library sizes (edgeR ``cpm(normalized.lib.sizes=TRUE)``)."""
    counts = np.asarray(counts)
    factors = tmm_factors(counts) if factors is None else factors
    return np.asarray(counts, dtype=np.float64) / effective_library(counts, factors)[:, np.newaxis] * 1e6


def effective_library(counts: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Each sample's library size times its TMM factor: what counts are divided by (then × 10⁶)."""
    return np.asarray(counts).sum(axis=1, dtype=np.float64) * factors


def _upper_quartile(block: np.ndarray) -> np.ndarray:
    """Each row's 75th percentile, interpolated as ``scipy.stats.scoreatpercentile`` does (edgeR's quantile)."""
    at = 75 / 100. * (block.shape[1] - 1)
    low = int(at)
    high = min(low + 1, block.shape[1] - 1)
    # Whole counts are exact in float32: the order statistics are found there, interpolated in float64. One
    # partition point, and the largest number before it for the other: numpy's partition is several times
    # faster at a single point than at two.
    part = np.partition(block, high, axis=1)
    above = part[:, high].astype(np.float64)
    below = part[:, :high].max(axis=1).astype(np.float64) if high > low else above
    if low == at:
        return below
    w_low, w_high = high - at, at - low
    return (below * w_low + above * w_high) / (w_low + w_high)


def _log_ratio(block: np.ndarray, library: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """log₂ TMM factor (before the geometric-mean scaling) of each row of a counts block against ``reference``,
    in ``rnanorm``'s order of operations. Every reference count is positive (the caller leaves out the others);
    a zero count in the row makes M and A −∞, which sort first and are never kept, as ``rnanorm``'s NaN."""
    r_ref = reference / reference.sum()
    ref_term = (1 - r_ref) / reference
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.divide(block, library[:, np.newaxis], dtype=np.float64)
        m = np.divide(r, r_ref)
        np.log2(m, out=m)
        a = np.multiply(r, r_ref)
        np.log2(a, out=a)
        a /= 2
        w = np.subtract(1, r, out=r)
        w /= block
        w += ref_term
        n = np.count_nonzero(block, axis=1)
        keep = _within_trim(m, n, M_TRIM)
        keep &= _within_trim(a, n, A_TRIM)
        np.maximum(m, np.finfo(np.float64).min, out=m)  # so that −∞ / ∞ is 0, not NaN, where nothing is kept
        num = np.multiply(np.divide(m, w, out=m), keep, out=m).sum(axis=1)
        return num / np.multiply(np.divide(1, w, out=w), keep, out=w).sum(axis=1)


def _within_trim(values: np.ndarray, n: np.ndarray, trim: float) -> np.ndarray:
    """Whether each number's mean rank among its row's ``n`` finite numbers (the rest are −∞) lies in [low,
    n − low + 1], low = ⌊n·trim⌋ + 1 (edgeR's trimming), without ranking every number: the numbers strictly
    between the values at ranks low and n − low + 1 are in, those beyond are out, and each of the two tie groups
    at those cut points is in when its own mean rank is (always, when the cut value is not tied)."""
    low = np.floor(n * trim) + 1
    high = n - low + 1
    ordered = np.sort(values, axis=1)  # the −∞ first
    rows = np.arange(len(values))
    width = values.shape[1]
    skip = width - n
    at = [np.clip(skip + rank.astype(np.intp) - 1, 0, width - 1) for rank in (low, high)]
    cuts = [np.where(n > 0, ordered[rows, i], np.nan) for i in at]
    inside = (values >= cuts[0][:, np.newaxis]) & (values <= cuts[1][:, np.newaxis])
    tied = np.zeros(len(values), dtype=bool)
    for i, cut in zip(at, cuts):
        tied |= (ordered[rows, np.maximum(i - 1, 0)] == cut) & (i > 0)
        tied |= (ordered[rows, np.minimum(i + 1, width - 1)] == cut) & (i < width - 1)
    if tied.any():  # rows whose cut value is tied: its tie group is out when its mean rank is not in range
        t = np.flatnonzero(tied)
        part = ordered[t]  # sorted, so its counts below and at a cut give the group's ranks
        for cut in cuts:
            edge = cut[t][:, np.newaxis]
            below = np.count_nonzero(part < edge, axis=1) - skip[t]  # the −∞ are no numbers
            mean = below + (np.count_nonzero(part == edge, axis=1) + 1) / 2  # ranks below + 1 … below + group size
            out = t[(mean < low[t]) | (mean > high[t])]
            if len(out):
                inside[out] &= values[out] != cut[out][:, np.newaxis]
    return inside


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks (from 1) along the last axis, tied values sharing their mean rank (``scipy.stats.rankdata``'s
    ``average``). NaN rank after every number, each alone."""
    order = np.argsort(x, axis=-1)
    twice = _twice_ranks(np.take_along_axis(x, order, axis=-1))
    ranks = np.empty(x.shape, dtype=np.float64)
    np.put_along_axis(ranks, order, twice / 2 + 1, axis=-1)
    return ranks


def _twice_ranks(ordered: np.ndarray) -> np.ndarray:
    """For sorted rows: 2 × (mean rank − 1) of each position's tie group, i.e. its first plus its last position
    (int32: a quarter of the memory traffic of the int64 positions).

    One pass over all rows as one flat array, each row starting a group of its own: the groups' first positions
    give each group's value, and a running count of group starts gives each position its group."""
    n = ordered.shape[-1]
    flat = np.ascontiguousarray(ordered).reshape(-1)
    if not flat.size:
        return np.zeros(ordered.shape, dtype=np.int32)
    starts = np.empty(flat.size, dtype=bool)
    np.not_equal(flat[1:], flat[:-1], out=starts[1:])
    starts[::n] = True
    first = np.flatnonzero(starts)
    size = np.diff(first, append=flat.size)
    within = first % n  # the group's first position in its row
    index = np.int32 if flat.size < 2 ** 31 else np.intp
    value = (2 * within + size - 1).astype(np.int32)
    group = np.cumsum(starts, dtype=index)
    group -= 1
    return value[group].reshape(ordered.shape)


def inverse_normal(x: np.ndarray) -> np.ndarray:
    """Rank-based inverse-normal transform of each column (gene) across rows (samples): Φ⁻¹(rank / (n + 1)) with
    tied values given their mean rank; NaN stays NaN and the observed values are ranked among themselves."""
    x = np.asarray(x)
    holes = np.isnan(x).any(axis=0)
    if not holes.any() and x.size <= CHUNK_CELLS:  # the blocks the loader hands over: no copy to make
        return inverse_normal_rows(x.T).T
    out = np.full(x.shape, np.nan, dtype=np.float32)
    complete = np.flatnonzero(~holes)
    parts = row_chunks(len(complete), len(x))

    def fill(genes: np.ndarray) -> None:
        out[:, genes] = inverse_normal_rows(x[:, genes].T).T

    run_parallel([lambda s=s: fill(complete[s]) for s in parts])
    for j in np.flatnonzero(holes):
        seen = ~np.isnan(x[:, j])
        if seen.any():
            out[seen, j] = inverse_normal_rows(x[seen, j][np.newaxis])[0]
    return out


def inverse_normal_rows(rows: np.ndarray) -> np.ndarray:
    """The inverse-normal transform of each row of a complete matrix (genes × samples), as float32."""
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    m, n = rows.shape
    # Ranks are whole or half numbers, so Φ⁻¹ is looked up in a table of the 2n − 1 values it can take.
    table = special.ndtri((np.arange(2, 2 * n + 1) / 2) / (n + 1)).astype(np.float32)
    order = np.argsort(rows, axis=1)
    # Flat positions, one index array: faster than take/put_along_axis, which build an index per axis.
    order += (np.arange(m) * n)[:, np.newaxis]
    out = np.empty(rows.size, dtype=np.float32)
    out[order] = table[_twice_ranks(rows.reshape(-1)[order])]
    return out.reshape(m, n)


def normalise_tissue(values: np.ndarray, method: str, tpm: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One tissue's samples × genes: ``(normalised values of the genes kept, which genes were kept)``.

    ``tmm-int`` and ``int`` apply the thresholds (counts for ``tmm-int``; for ``int``, counts when the values are
    whole numbers, else TPM thresholds on the values themselves), then TMM (``tmm-int`` only) and the inverse-normal
    transform; ``none`` keeps every gene and value.
    """
    if method == "none":
        _check_method(method)
        return np.asarray(values, dtype=np.float32), np.ones(values.shape[1], dtype=bool)
    keep, library = tissue_scaling(values, method, tpm)
    kept = np.asarray(values)[:, keep]
    return inverse_normal(kept if library is None else kept / library[:, np.newaxis] * 1e6), keep


def tissue_scaling(values: np.ndarray, method: str, tpm: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """The first half of :func:`normalise_tissue`: ``(genes kept, effective library sizes or None)``. A kept
    gene's normalised values are then the inverse-normal transform of ``values / library × 10⁶`` (``tmm-int``)
    or of the values themselves (``int``), gene by gene."""
    _check_method(method)
    values = np.asarray(values)
    counts = looks_like_counts(values)
    if method == "tmm-int" and not counts:
        raise ValueError("--normalise tmm-int needs read counts, and these values are not whole numbers (TPM?); "
                         "use --normalise int")
    keep = expressed(values if counts else None, tpm if counts else (tpm if tpm is not None else values))
    if method != "tmm-int":
        return keep, None
    return keep, effective_library(values, tmm_factors(values))


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown normalisation {method!r}: expected one of {', '.join(METHODS)}")


def row_chunks(n_rows: int, row_cells: int) -> list[slice]:
    """Slices of ``n_rows`` rows of ``row_cells`` cells each, about :data:`CHUNK_CELLS` cells a slice."""
    step = max(1, CHUNK_CELLS // max(1, row_cells))
    return [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]
