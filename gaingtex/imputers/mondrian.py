"""The Mondrian store of a split conformal calibration: nonconformity scores by gene and tissue group, their
finite-sample quantiles, RMS factors, resampling, and the exact CRPS and PIT of their empirical distribution
(:mod:`.conformal` makes the scores; :mod:`.predictive` turns a store into a predictive distribution).

An entry takes the quantile of the scores of its gene within its tissue group (:func:`tissue_groups`) when that
cell holds at least :data:`MIN_COUNT` scores, else of its gene, else of every score; every score is first divided
by its tissue's scale (:meth:`Calibration._tissue_scales`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# A Mondrian cell is used when it holds at least this many scores: the coverage of a conformal interval given its
# calibration scores is Beta-distributed with sd ≈ sqrt(α(1 − α)/n), 0.03 at α = 0.1 and n = 100, so that a cell's
# own coverage stays within about ±0.06 of nominal (2 sd); and the 99 % quantile is finite (n ≥ 99).
MIN_COUNT = 100
# A tissue's squared scale is shrunk toward 1 as if this many scores at the overall mean square were added to its
# own: the RMS of n scores has a relative sd of about 1/sqrt(2n) for Gaussian residuals (7 % at 100), more with
# heavier tails, so that a tissue with a few dozen scores keeps about the overall scale and one with thousands
# its own.
TISSUE_PRIOR = 100
NEED_EPS = 1e-9  # (n + 1) L is computed in floating point: 10 × 0.9 must give 9, not 9.000000000000002


def conformal_rank(n: int | np.ndarray, level: float) -> np.ndarray:
    """The rank ``k = ⌈(n + 1) L⌉`` of the finite-sample conformal quantile among ``n`` sorted scores (``> n``:
    too few scores for the level; the interval is infinite)."""
    return np.ceil((np.asarray(n, dtype=np.float64) + 1.0) * float(level) - NEED_EPS).astype(np.int64)


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The split conformal quantile of ``scores`` at ``level``: the ``⌈(n + 1) L⌉``-th smallest, ``inf`` when
    ``n`` is too small for the level."""
    check_level(level)
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    k = int(conformal_rank(len(s), level))
    return float(s[k - 1]) if 1 <= k <= len(s) else math.inf


def check_level(level: float, what: str = "interval level") -> float:
    try:
        level = float(level)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number between 0 and 1, got {level!r}") from None
    if not 0.0 < level < 1.0:
        raise ValueError(f"{what} must be between 0 and 1 (exclusive), e.g. 0.9, got {level:g}")
    return level


def tissue_groups(obs: pd.DataFrame) -> np.ndarray:
    """Each sample's tissue group (GTEx's organ systems: brain, gastrointestinal, …); a tissue the reference does
    not know is its own group."""
    from ..data import reference

    groups = reference.tissues()["group"]
    tissue = obs["tissue"].astype(str)
    return tissue.map(groups).fillna(tissue).astype(str).to_numpy()


class Calibration:
    """Nonconformity scores of one fitted method on its calibration entries, by gene and tissue group.

    ``scores``, ``gene`` (column index) and ``group`` (index into ``groups``) are flat, one per entry;
    ``scaled``: the scores were divided by the method's own spread."""

    LEVELS = ("gene x group", "gene", "all")

    def __init__(self, scores, gene, group, groups, n_genes: int, scaled: bool, min_count: int = MIN_COUNT,
                 tissue=None, tissues=()):
        # Indices as int32 and no per-score array that a per-cell one can replace: at the paper's 12,557 genes a
        # calibration holds 12.5 million scores, so each byte a score costs 12.5 MB (benchmarks/README.md, "The
        # book on a GTEx download of the paper's size").
        self.scores = np.asarray(scores, dtype=np.float32)
        self.gene, self.group = np.asarray(gene, dtype=np.int32), np.asarray(group, dtype=np.int32)
        self.groups, self.n_genes = tuple(str(g) for g in groups), int(n_genes)
        self.scaled, self.min_count = bool(scaled), int(min_count)
        self.tissues = tuple(str(t) for t in tissues)
        self.tissue = (np.full(len(self.scores), len(self.tissues), dtype=np.int32) if tissue is None
                       else np.asarray(tissue, dtype=np.int32))
        if not (len(self.scores) == len(self.gene) == len(self.group) == len(self.tissue)):
            raise ValueError("calibration scores, genes, groups and tissues differ in length")
        self.tissue_scale = self._tissue_scales()
        normalised = self.scores.astype(np.float64) / self.tissue_scale[self.tissue]
        G = len(self.groups)
        # One store of sorted segments: every gene × group cell, then every gene, then all scores. The scores are
        # sorted once; each level then orders them by cell with a stable sort (a radix sort where the cells fit 16
        # bits), far faster than one lexsort of the three levels together (benchmarks/README.md, "The whole book").
        by_value = np.argsort(normalised, kind="stable")
        stores, keys = [], []
        gene = self.gene.astype(np.int64)
        levels = ((0, gene * G + self.group, self.n_genes * G), (self.n_genes * G, gene, self.n_genes),
                  (self.n_genes * (G + 1), np.zeros(len(self.scores), np.int64), 1))
        for offset, cell, cells in levels:
            cell = cell[by_value].astype(np.uint16 if cells <= 1 << 16 else np.int64)
            order = np.argsort(cell, kind="stable")
            stores.append(normalised[by_value[order]])
            keys.append(offset + cell[order].astype(np.int64))
        self._store, key = np.concatenate(stores), np.concatenate(keys)
        n_keys = self.n_genes * (G + 1) + 1
        self._count = np.bincount(key, minlength=n_keys)
        self._start = np.concatenate([[0], np.cumsum(self._count)[:-1]])
        self._cum = np.concatenate([[0.0], np.cumsum(self._store)])
        squares = np.concatenate([[0.0], np.cumsum(self._store ** 2)])
        with np.errstate(invalid="ignore", divide="ignore"):  # each segment's RMS score (NaN where it is empty)
            self._rms = np.sqrt((squares[self._start + self._count] - squares[self._start]) / self._count)
        # the segment of each stored score
        self._segment = key.astype(np.int32 if n_keys < np.iinfo(np.int32).max else np.int64)

    def _tissue_scales(self) -> np.ndarray:
        """Each tissue's scale, ``c_t² = (Σ_t s² + K m) / ((n_t + K) m)`` with ``m`` the mean square of all scores
        and ``K`` = :data:`TISSUE_PRIOR`: its RMS over the overall RMS, shrunk toward 1 when it has few scores. The
        last entry (a tissue the calibration never saw) is 1."""
        scale = np.ones(len(self.tissues) + 1)
        s2 = self.scores.astype(np.float64) ** 2
        overall = float(s2.mean()) if len(s2) else 0.0
        if overall <= 0:
            return scale
        n = np.bincount(self.tissue, minlength=len(scale))
        total = np.bincount(self.tissue, weights=s2, minlength=len(scale))
        scale = np.sqrt((total + TISSUE_PRIOR * overall) / ((n + TISSUE_PRIOR) * overall))
        scale[-1] = 1.0
        return scale

    def row_scale(self, obs: pd.DataFrame) -> np.ndarray:
        """Each sample's tissue scale (1 for a tissue the calibration did not see enough of)."""
        at = {t: i for i, t in enumerate(self.tissues)}
        index = np.array([at.get(t, len(self.tissues)) for t in obs["tissue"].astype(str)], dtype=np.int64)
        return self.tissue_scale[index]

    # ------------------------------------------------------------------------------------------- the cells
    def group_index(self, obs: pd.DataFrame) -> np.ndarray:
        """Each sample's group as an index into ``groups`` (``len(groups)``: a group with no calibration scores,
        whose entries fall back to their gene)."""
        at = {g: i for i, g in enumerate(self.groups)}
        return np.array([at.get(g, len(self.groups)) for g in tissue_groups(obs)], dtype=np.int64)

    def cells(self, need: int | None = None) -> np.ndarray:
        """The segment key every (group, gene) resolves to, shape ``(groups + 1, genes)``: its own cell when it
        holds ``need`` scores (default :attr:`min_count`), else its gene's, else all scores."""
        need = self.min_count if need is None else max(int(need), 1)
        G, J = len(self.groups), self.n_genes
        genes = np.broadcast_to(np.arange(J)[None, :], (G + 1, J))
        row = np.arange(G + 1)[:, None]
        own = np.where(row < G, genes * G + np.minimum(row, G - 1), 0)  # the last row: a group never calibrated
        gene_key = J * G + genes
        fallback = np.where(self._count[gene_key] >= need, gene_key, J * (G + 1))
        return np.where((row < G) & (self._count[own] >= need), own, fallback)

    def resolved(self, need: int | None = None) -> dict[str, float]:
        """The share of (known group, gene) cells that resolve to each level of :attr:`LEVELS`."""
        key = self.cells(need)[:-1]
        G = len(self.groups)
        level = np.where(key < self.n_genes * G, 0, np.where(key < self.n_genes * (G + 1), 1, 2))
        return {name: float((level == i).mean()) for i, name in enumerate(self.LEVELS)}

    @staticmethod
    def need(level: float) -> int:
        """The fewest scores whose conformal quantile at ``level`` is finite."""
        n = 1
        while conformal_rank(n, level) > n:
            n += 1
        return n

    def _table(self, level: float | None) -> np.ndarray:
        need = self.min_count if level is None else max(self.min_count, self.need(level))
        return self.cells(need)

    # --------------------------------------------------------------------------------- per-cell statistics
    def quantile(self, level: float) -> np.ndarray:
        """The conformal quantile of every (group, gene), shape ``(groups + 1, genes)``; ``inf`` where even all
        scores are too few."""
        check_level(level)
        key = self._table(level)
        n, start = self._count[key], self._start[key]
        k = conformal_rank(n, level)
        ok = (k >= 1) & (k <= n)
        return np.where(ok, self._store[np.clip(start + k - 1, 0, len(self._store) - 1)], np.inf)

    def rms(self) -> np.ndarray:
        """The root mean square score of every (group, gene)'s cell: the SD-like factor."""
        return self._rms[self._table(None)]

    def sample(self, rows_group: np.ndarray, size: tuple, rng: np.random.Generator) -> np.ndarray:
        """Scores resampled from each entry's cell, with a random sign: ``size = (draws, samples, genes)``."""
        key = self._table(None)[rows_group]  # (samples, genes)
        n, start = self._count[key], self._start[key]
        pick = start + np.floor(rng.random(size) * n).astype(np.int64)
        sign = np.where(rng.random(size) < 0.5, -1.0, 1.0)
        return (sign * self._store[pick]).astype(np.float32)

    def crps(self, r: np.ndarray, key: np.ndarray) -> np.ndarray:
        """The CRPS, in score units, of the symmetric empirical distribution ``±S`` of each entry's cell ``key`` at
        the scaled residual ``r``: ``½ E|S − |r|| + ½ |r| − ¼ E|S − S'|`` (exact, from the sorted scores)."""
        return self.crps_pit(r, key)[0]

    def pit(self, r: np.ndarray, key: np.ndarray) -> np.ndarray:
        """``P(ε S ≤ r)`` under the symmetric empirical distribution of each entry's cell."""
        return self.crps_pit(r, key)[1]

    def crps_pit(self, r: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`crps` and :meth:`pit` together, from one search of each ``|r|`` among its cell's scores."""
        n, start = self._count[key].astype(np.float64), self._start[key]
        total = self._cum[start + self._count[key]] - self._cum[start]
        r = np.asarray(r, dtype=np.float64)
        t = np.abs(r)
        k = self._rank(t, key)  # #{S ≤ |r|}
        below = self._cum[start + k] - self._cum[start]
        far = (total - 2.0 * below + t * (2.0 * k - n)) / n  # E|S − t|
        crps = 0.5 * far + 0.5 * t - 0.25 * self._gini()[key]
        return crps, np.where(r >= 0, 0.5 + 0.5 * k / n, 0.5 - 0.5 * k / n)

    def _rank(self, t: np.ndarray, key: np.ndarray) -> np.ndarray:
        """``#{S ≤ t}`` within each entry's segment, by one search in the store keyed by segment."""
        if not hasattr(self, "_keyed"):
            top = float(self._store.max()) if len(self._store) else 0.0
            self._top, self._width = top, 2.0 * top + 1.0  # a segment's keys stay below the next segment's
            self._keyed = self._segment * self._width + self._store
        needles = key * self._width + np.minimum(t, self._top + 0.5)
        order = np.argsort(needles)  # searched in order, each search starts where the last ended: much faster
        k = np.empty(len(needles), dtype=np.int64)
        k[order] = np.searchsorted(self._keyed, needles[order], side="right")
        return np.clip(k - self._start[key], 0, self._count[key])

    def _gini(self) -> np.ndarray:
        """``E|S − S'|`` of every segment: ``(2 / n²) Σ_i (2i − n − 1) s_(i)``."""
        if not hasattr(self, "_gini_"):
            n = self._count[self._segment].astype(np.float64)
            rank = np.arange(len(self._store)) - self._start[self._segment] + 1
            terms = (2.0 * rank - n - 1.0) * self._store
            sums = np.bincount(self._segment, weights=terms, minlength=len(self._count))
            with np.errstate(invalid="ignore", divide="ignore"):
                self._gini_ = 2.0 * sums / self._count.astype(np.float64) ** 2
        return self._gini_

    # --------------------------------------------------------------------------------------- save / load
    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"scores": self.scores, "gene": self.gene.astype(np.int32), "group": self.group.astype(np.int16),
                "groups": np.array(self.groups, dtype=str), "tissue": self.tissue.astype(np.int16),
                "tissues": np.array(self.tissues, dtype=str),
                "meta": np.array([self.n_genes, int(self.scaled), self.min_count], dtype=np.int64)}

    @classmethod
    def from_arrays(cls, arrays) -> "Calibration":
        """A saved calibration; one saved before tissue scales (no ``tissue``) is read with every scale 1."""
        n_genes, scaled, min_count = (int(v) for v in arrays["meta"])
        keys = set(getattr(arrays, "files", arrays))
        tissue, tissues = (arrays["tissue"], [str(t) for t in arrays["tissues"]]) if "tissue" in keys else (None, ())
        return cls(arrays["scores"], arrays["gene"], arrays["group"], [str(g) for g in arrays["groups"]], n_genes,
                   bool(scaled), min_count, tissue, tissues)
