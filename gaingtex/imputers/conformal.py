"""Split conformal calibration of any imputer: intervals, an SD-like spread and draws for every method.

The calibration set is the pseudo-masked entries of held-out validation donors (as :func:`~.base.validation_task`
hides them, but drawn from the stream ``"conformal"``, not the one a method's own validation choice used, and
leaving about as many entries shown as the imputation it calibrates will have: :func:`calibrate`). Each entry's
nonconformity score is ``|y − ŷ| / σ``: ``σ`` is the method's own predictive SD (:meth:`~.base.Imputer.spread`)
where the registry says ``spread=True``, else 1. The calibration is **Mondrian**: an entry takes the quantile of
the scores of its gene within its tissue group (:func:`tissue_groups`) when that cell holds at least
:data:`MIN_COUNT` scores, else of its gene, else of every score.

Why not ``mapie`` or ``crepes``: both calibrate a one-dimensional regressor (``predict(X)`` on rows, or flat
residuals). Flattening the masked matrix is easy, but neither falls back from a small Mondrian cell to a larger
one (``crepes`` gives a cell with too few scores an infinite or maximal interval, ``mapie`` has no Mondrian
regression at all), and the scores must be saved with a deep model in its archive and resampled for draws. What
is left is the finite-sample quantile (:func:`conformal_quantile`), a few lines, tested on known cases.

What each family gets:

- interval at level ``L``: ``ŷ ± q_L σ``, with ``q_L`` the cell's conformal quantile — marginal coverage ≥ ``L``
  per cell when validation and new entries are exchangeable;
- SD-like spread: ``σ × RMS(cell's scores)``, the maximum-likelihood scale of a Gaussian on the cell's residuals
  (for a calibrated model with its own ``σ`` the factor is about 1);
- draws: a method with its own ``draw`` (the linear-Gaussian family) gives its joint draws per sample, each
  entry's deviation from ``ŷ`` multiplied by its cell's RMS factor (joint, recalibrated); every other method gets
  ``ŷ + σ ε S`` with ``S`` resampled from the cell's scores and ``ε`` a random sign (per entry, independent across
  genes: these methods have no model of how their errors co-vary);
- CRPS and PIT: a Gaussian method's ``N(ŷ, (σ·RMS)²)``; any other's symmetric empirical distribution
  ``ŷ ± σ S``, whose CRPS is computed exactly from the sorted scores (:meth:`Calibration.crps`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.masks import stream
from .base import observed_mask

# A Mondrian cell is used when it holds at least this many scores: the coverage of a conformal interval given its
# calibration scores is Beta-distributed with sd ≈ sqrt(α(1 − α)/n), 0.03 at α = 0.1 and n = 100, so that a cell's
# own coverage stays within about ±0.06 of nominal (2 sd); and the 99 % quantile is finite (n ≥ 99).
MIN_COUNT = 100
# Validation rows scored for the calibration (evenly spaced, every tissue kept): at 50 % hidden, about 1,000
# scores per gene, a gene's quantile with coverage sd ≈ 0.01; and a bounded extra cost for slow methods.
CAL_ROWS = 2000
NEED_EPS = 1e-9  # (n + 1) L is computed in floating point: 10 × 0.9 must give 9, not 9.000000000000002
SIGMA_FLOOR = 1e-6
# The least share of a validation row's observed entries hidden at once, and the most folds (transforms) a
# calibration makes: at 10 %, a row shows 90 % of what it has, and five folds score half of its entries.
MIN_HIDE = 0.1
MAX_FOLDS = 5  # a spread of 0 (an entry the model thinks it knows exactly) must not divide by zero


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

    def __init__(self, scores, gene, group, groups, n_genes: int, scaled: bool, min_count: int = MIN_COUNT):
        self.scores = np.asarray(scores, dtype=np.float32)
        self.gene, self.group = np.asarray(gene, dtype=np.int64), np.asarray(group, dtype=np.int64)
        self.groups, self.n_genes = tuple(str(g) for g in groups), int(n_genes)
        self.scaled, self.min_count = bool(scaled), int(min_count)
        if not (len(self.scores) == len(self.gene) == len(self.group)):
            raise ValueError("calibration scores, genes and groups differ in length")
        G = len(self.groups)
        # One store of sorted segments: every gene × group cell, then every gene, then all scores.
        keys = [self.gene * G + self.group, self.n_genes * G + self.gene, np.full(len(self.scores), self.n_genes * (G + 1))]
        key = np.concatenate(keys)
        values = np.tile(self.scores.astype(np.float64), 3)
        order = np.lexsort((values, key))
        self._store, key = values[order], key[order]
        n_keys = self.n_genes * (G + 1) + 1
        self._count = np.bincount(key, minlength=n_keys)
        self._start = np.concatenate([[0], np.cumsum(self._count)[:-1]])
        self._cum = np.concatenate([[0.0], np.cumsum(self._store)])
        self._cum2 = np.concatenate([[0.0], np.cumsum(self._store ** 2)])
        self._segment = key  # the segment of each stored score

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
        key = self._table(None)
        n, start = self._count[key], self._start[key]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt((self._cum2[start + n] - self._cum2[start]) / n)

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
        n, start = self._count[key].astype(np.float64), self._start[key]
        total = self._cum[start + self._count[key]] - self._cum[start]
        t = np.abs(np.asarray(r, dtype=np.float64))
        k = self._rank(t, key)
        below = self._cum[start + k] - self._cum[start]
        far = (total - 2.0 * below + t * (2.0 * k - n)) / n  # E|S − t|
        return 0.5 * far + 0.5 * t - 0.25 * self._gini()[key]

    def pit(self, r: np.ndarray, key: np.ndarray) -> np.ndarray:
        """``P(ε S ≤ r)`` under the symmetric empirical distribution of each entry's cell."""
        n = self._count[key].astype(np.float64)
        r = np.asarray(r, dtype=np.float64)
        k = self._rank(np.abs(r), key) / n  # P(S ≤ |r|)
        return np.where(r >= 0, 0.5 + 0.5 * k, 0.5 - 0.5 * k)

    def _rank(self, t: np.ndarray, key: np.ndarray) -> np.ndarray:
        """``#{S ≤ t}`` within each entry's segment, by one search in the store keyed by segment."""
        if not hasattr(self, "_keyed"):
            top = float(self._store.max()) if len(self._store) else 0.0
            self._top, self._width = top, 2.0 * top + 1.0  # a segment's keys stay below the next segment's
            self._keyed = self._segment * self._width + self._store
        t = np.minimum(t, self._top + 0.5)
        k = np.searchsorted(self._keyed, key * self._width + t, side="right") - self._start[key]
        return np.clip(k, 0, self._count[key])

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
                "groups": np.array(self.groups, dtype=str),
                "meta": np.array([self.n_genes, int(self.scaled), self.min_count], dtype=np.int64)}

    @classmethod
    def from_arrays(cls, arrays) -> "Calibration":
        n_genes, scaled, min_count = (int(v) for v in arrays["meta"])
        return cls(arrays["scores"], arrays["gene"], arrays["group"], [str(g) for g in arrays["groups"]], n_genes,
                   bool(scaled), min_count)


def own_spread(imputer) -> bool:
    """Whether the registry says the method has a predictive distribution of its own."""
    from .registry import spec

    try:
        return bool(spec(imputer.name).spread)
    except ValueError:  # a method a caller built without registering it
        return False


def calibrate(imputer, valid, valid_mask: np.ndarray | None = None, seed: int = 0, max_rows: int | None = CAL_ROWS,
              min_count: int = MIN_COUNT, scaled: bool | None = None, shown: float | None = None) -> Calibration:
    """The calibration of a fitted ``imputer`` on the validation split: some of its observed entries are hidden
    (stream ``"conformal"``), imputed from the rest, and scored.

    ``shown``: the share of entries the imputer will be shown where it is used (e.g. 0.5 at a missing rate of
    0.5). A method's errors shrink as it is shown more, and an overconfident spread shrinks faster, so the
    entries a calibration hides are chosen to leave about that share shown: a fraction ``h`` of each row's
    observed entries, ``h = 1 − shown / observed`` within [:data:`MIN_HIDE`, 0.5], hidden in ``⌈0.5 / h⌉``
    disjoint folds (at most :data:`MAX_FOLDS`, one transform each) so that about half of the observed entries are
    scored whatever ``h``. Without ``shown``, half is hidden at once, as :func:`~.base.validation_task` does."""
    if valid is None or len(valid) == 0:
        raise ValueError("conformal calibration needs held-out validation samples, and there are none")
    scaled = own_spread(imputer) if scaled is None else bool(scaled)
    rng = stream(seed, "conformal")
    x, obs = valid.x, valid.obs
    mask = observed_mask(x, valid_mask, "valid_mask")
    if max_rows is not None and len(x) > max_rows:  # evenly spaced, so that every tissue stays in
        rows = np.unique(np.linspace(0, len(x) - 1, max_rows).round().astype(int))
        x, mask, obs = x[rows], mask[rows], obs.iloc[rows]
    seen = float(mask.mean())
    hide = 0.5 if shown is None or seen == 0 else float(np.clip(1.0 - float(shown) / seen, MIN_HIDE, 0.5))
    folds = min(int(np.ceil(0.5 / hide - NEED_EPS)), MAX_FOLDS)
    fold = np.floor(rng.random(x.shape) / hide).astype(np.int64)  # fold f with probability h each, f < 1 / h
    scores, genes, rows_of = [], [], []
    for f in range(folds):
        targets = (mask > 0) & (fold == f)
        inputs = (mask * ~targets).astype(np.float32)
        shown_x = np.where(inputs > 0, x, np.nan).astype(np.float32)
        prediction = imputer.transform(shown_x, inputs, obs)
        i, j = np.nonzero(targets)
        s = np.abs(x[i, j].astype(np.float64) - prediction[i, j])
        if scaled:
            sigma = imputer.spread(shown_x, inputs, obs)
            if sigma is None:
                raise ValueError(f"{imputer.name} is registered with its own spread but its spread() returned None")
            s = s / np.maximum(np.asarray(sigma, dtype=np.float64)[i, j], SIGMA_FLOOR)
        scores.append(s), genes.append(j), rows_of.append(i)
    groups = tissue_groups(obs)
    names, index = np.unique(groups, return_inverse=True)
    rows_of = np.concatenate(rows_of)
    return Calibration(np.concatenate(scores), np.concatenate(genes), index[rows_of], names, x.shape[1], scaled,
                       min_count)


@dataclass
class Predictive:
    """A fitted method's predictive distribution on one matrix (prepared scale).

    ``center`` is its imputation (observed entries exact), ``sigma`` its own spread or ``None`` (1),
    ``observed`` the mask, ``group`` each row's group index, ``calibration`` the method's (``None``: the model's
    own Gaussian as it is, for the oracle's exact posterior)."""

    center: np.ndarray
    sigma: np.ndarray | None
    observed: np.ndarray
    group: np.ndarray | None
    calibration: Calibration | None

    @property
    def gaussian(self) -> bool:
        return self.sigma is not None

    def _sigma(self) -> np.ndarray | float:
        return 1.0 if self.sigma is None else np.maximum(self.sigma, SIGMA_FLOOR)

    def _factor(self, table: np.ndarray) -> np.ndarray:
        return table[self.group]  # (samples, genes)

    def half_width(self, level: float) -> np.ndarray:
        """Half the interval's width at ``level`` for every entry (0 where observed)."""
        check_level(level)
        if self.calibration is None:
            from scipy.stats import norm

            q = norm.ppf(0.5 + level / 2.0)
        else:
            q = self._factor(self.calibration.quantile(level))
        return np.where(self.observed > 0, 0.0, q * self._sigma()).astype(np.float32)

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds at ``level``; observed entries have zero width."""
        h = self.half_width(level)
        return self.center - h, self.center + h

    def sd(self) -> np.ndarray:
        """The SD-like spread of every entry: ``σ × RMS`` of its cell's scores (0 where observed)."""
        factor = 1.0 if self.calibration is None else self._factor(self.calibration.rms())
        return np.where(self.observed > 0, 0.0, factor * self._sigma()).astype(np.float32)

    def draws(self, count: int, rng: np.random.Generator, own: np.ndarray | None = None) -> np.ndarray:
        """``(count, samples, genes)`` completed matrices. ``own``: the method's own joint draws, recalibrated
        entry by entry by its cell's RMS factor; without them, residuals resampled per entry."""
        if own is not None:
            factor = 1.0 if self.calibration is None else self._factor(self.calibration.rms())
            out = self.center + factor * (own - self.center)
        elif self.calibration is None:
            out = self.center + self._sigma() * rng.standard_normal((count, *self.center.shape))
        else:
            out = self.center + self._sigma() * self.calibration.sample(self.group, (count, *self.center.shape), rng)
        return np.where(self.observed > 0, self.center, out).astype(np.float32)

    def crps_pit(self, y: np.ndarray, entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CRPS and PIT of the true values ``y`` at ``entries`` (a boolean matrix), in the prepared scale."""
        import scoringrules as sr
        from scipy.stats import norm

        i, j = np.nonzero(entries)
        mu = self.center[i, j].astype(np.float64)
        truth = y[i, j].astype(np.float64)
        sigma = np.ones(len(i)) if self.sigma is None else np.maximum(self.sigma[i, j].astype(np.float64),
                                                                       SIGMA_FLOOR)
        if self.gaussian:
            if self.calibration is not None:
                sigma = sigma * self.calibration.rms()[self.group[i], j]
            return np.asarray(sr.crps_normal(truth, mu, sigma)), norm.cdf((truth - mu) / sigma)
        key = self.calibration._table(None)[self.group[i], j]
        r = (truth - mu) / sigma
        return sigma * self.calibration.crps(r, key), self.calibration.pit(r, key)


def predictive(imputer, calibration: Calibration | None, x: np.ndarray, mask: np.ndarray, obs: pd.DataFrame,
               center: np.ndarray | None = None) -> Predictive:
    """``imputer``'s predictive distribution on ``x`` (missing where ``mask == 0``); ``center``: its imputation of
    the same input when already made (so that nothing is imputed twice)."""
    shown = np.where(mask > 0, x, np.nan).astype(np.float32)
    center = imputer.transform(shown, mask, obs) if center is None else center
    scaled = own_spread(imputer) if calibration is None else calibration.scaled
    sigma = imputer.spread(shown, mask, obs) if scaled else None
    if scaled and sigma is None:
        raise ValueError(f"{imputer.name} is registered with its own spread but its spread() returned None")
    if calibration is None and sigma is None:
        raise ValueError(f"{imputer.name} has no spread of its own: calibrate it (conformal.calibrate) first")
    group = None if calibration is None else calibration.group_index(obs)
    return Predictive(np.asarray(center, dtype=np.float32), sigma, np.asarray(mask), group, calibration)
