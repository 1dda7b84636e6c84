"""Split conformal calibration of any imputer: the scores behind intervals, an SD-like spread and draws for
every method (:mod:`.predictive` turns them into a predictive distribution).

The calibration set must be exchangeable with the entries it calibrates:

- inductive (new samples): pseudo-masked entries of held-out validation donors (as
  :func:`~.base.validation_task` hides them, but drawn from the stream ``"conformal"``, not the one a method's own
  validation choice used, and leaving about as many entries shown as the imputation it calibrates will have:
  :func:`calibrate`);
- in place (the method completes the rows it was fitted on): a share of the training rows' observed entries held
  out of the fit and hidden like the scored ones (:func:`holdout`, :func:`calibrate_holdout`).

Each entry's nonconformity score is ``|y − ŷ| / (σ c_t)``: ``σ`` is the method's own predictive SD
(:meth:`~.base.Imputer.spread`) where the registry says ``spread=True``, else 1, and ``c_t`` its tissue's scale,
the RMS of the tissue's scores over that of all scores (shrunk toward 1 where the tissue has few of them).
The tissue scale is there because a method's errors differ far more between tissues than its own ``σ`` says: a
small tissue's per-tissue Gaussian in place errs about twice as widely as a large one's. The calibration is
**Mondrian**: an entry takes the quantile of the scores of its gene within its tissue group
(:func:`tissue_groups`) when that cell holds at least :data:`MIN_COUNT` scores, else of its gene, else of every
score.

Why not ``mapie`` or ``crepes``: both calibrate a one-dimensional regressor (``predict(X)`` on rows, or flat
residuals). Flattening the masked matrix is easy, but neither falls back from a small Mondrian cell to a larger
one (``crepes`` gives a cell with too few scores an infinite or maximal interval, ``mapie`` has no Mondrian
regression at all), and the scores must be saved with a deep model in its archive and resampled for draws. What
is left is the finite-sample quantile (:func:`conformal_quantile`), a few lines, tested on known cases.

What each family gets (``s = σ c_t``):

- interval at level ``L``: ``ŷ ± q_L s``, with ``q_L`` the cell's conformal quantile — marginal coverage ≥ ``L``
  per cell when calibration and new entries are exchangeable;
- SD-like spread: ``s × RMS(cell's scores)``, the maximum-likelihood scale of a Gaussian on the cell's residuals
  (for a calibrated model with its own ``σ`` the factor is about 1);
- draws: a method with its own ``draw`` (the linear-Gaussian family) gives its joint draws per sample, each
  entry's deviation from ``ŷ`` multiplied by its cell's RMS factor and its tissue's scale (joint, recalibrated);
  every other method gets ``ŷ + s ε S`` with ``S`` resampled from the cell's scores and ``ε`` a random sign (per
  entry, independent across genes: these methods have no model of how their errors co-vary);
- CRPS and PIT: a Gaussian method's ``N(ŷ, (s·RMS)²)``; any other's symmetric empirical distribution
  ``ŷ ± s S``, whose CRPS is computed exactly from the sorted scores (:meth:`Calibration.crps`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.masks import stream
from .base import observed_mask
from .mondrian import MIN_COUNT, NEED_EPS, Calibration, tissue_groups

# Validation rows scored for the calibration (evenly spaced, every tissue kept): at 50 % hidden, about 1,000
# scores per gene, a gene's quantile with coverage sd ≈ 0.01; and a bounded extra cost for slow methods.
CAL_ROWS = 2000
# In place, the share of a calibration row's observed entries held out of the fit, and the scores per gene the
# rows are chosen to give (:func:`holdout`). A gene's coverage then has sd sqrt(0.09 / 200) ≈ 0.02 from its
# calibration, so that the worst decile of genes sits about 0.04 below nominal (1.75 sd), as it does in place at
# the book preset (benchmarks/results/calibration-book.json); 100 scores would put it at the 0.85 floor.
HOLDOUT = 0.1
HOLDOUT_SCORES = 200
SIGMA_FLOOR = 1e-6  # a spread of 0 (an entry the model thinks it knows exactly) must not divide by zero
# The least share of a validation row's observed entries hidden at once, and the most folds (transforms) a
# calibration makes: at 10 %, a row shows 90 % of what it has, and five folds score half of its entries.
MIN_HIDE = 0.1
MAX_FOLDS = 5
# Folds are added until about half the entries are scored, short by at most this share of a fold: at a missing
# rate of 0.5 the share shown is 0.5001 as often as 0.4999, and a second fold there would score every entry and
# double the calibration's cost (two transforms of the validation rows) for no better calibration.
FOLD_SLACK = 0.05


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
    observed entries, ``h = 1 − shown / observed`` within [:data:`MIN_HIDE`, 0.5], hidden in ``⌈0.5 / h − ε⌉``
    disjoint folds (``ε`` = :data:`FOLD_SLACK`, at most :data:`MAX_FOLDS`, one transform each) so that about half
    of the observed entries are scored whatever ``h``. Without ``shown``, half is hidden at once, as :func:`~.base.validation_task` does."""
    if valid is None or len(valid) == 0:
        raise ValueError("conformal calibration needs held-out validation samples, and there are none")
    scaled = own_spread(imputer) if scaled is None else bool(scaled)
    imputer = imputer.for_calibration(valid, valid_mask)
    rng = stream(seed, "conformal")
    x, obs = valid.x, valid.obs
    mask = observed_mask(x, valid_mask, "valid_mask")
    if max_rows is not None and len(x) > max_rows:  # evenly spaced, so that every tissue stays in
        rows = np.unique(np.linspace(0, len(x) - 1, max_rows).round().astype(int))
        x, mask, obs = x[rows], mask[rows], obs.iloc[rows]
    seen = float(mask.mean())
    hide = 0.5 if shown is None or seen == 0 else float(np.clip(1.0 - float(shown) / seen, MIN_HIDE, 0.5))
    folds = min(max(int(np.ceil(0.5 / hide - FOLD_SLACK)), 1), MAX_FOLDS)
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
    return _calibration(np.concatenate(scores), np.concatenate(genes), np.concatenate(rows_of), obs, x.shape[1],
                        scaled, min_count)


def _calibration(scores, genes, rows, obs: pd.DataFrame, n_genes: int, scaled: bool, min_count: int) -> Calibration:
    """A :class:`Calibration` of flat scores at ``(rows, genes)`` of the samples ``obs``."""
    names, index = np.unique(tissue_groups(obs), return_inverse=True)
    tissues, tissue = np.unique(obs["tissue"].astype(str).to_numpy(), return_inverse=True)
    return Calibration(scores, genes, index[rows], names, n_genes, scaled, min_count, tissue[rows], tissues)


def holdout(mask: np.ndarray, seed: int = 0, per_gene: int = HOLDOUT_SCORES, share: float = HOLDOUT,
            max_rows: int | None = None) -> np.ndarray:
    """In place, the calibration entries: ``share`` of the observed entries (``mask > 0``) of as many rows as give
    each gene about ``per_gene`` of them (at most ``max_rows``), evenly spaced so that every tissue stays in
    (stream ``"conformal"``, 2): 4,000 of the ``book`` preset's 9,074 training rows at 50 % missing, 4 % of what
    the methods are shown. The method is fitted and imputes with them hidden, like the entries it is scored on,
    and is calibrated on them (:func:`calibrate_holdout`).

    Why not held-out donors, as inductive: a method fitted on the very rows it completes errs differently on them
    than on new rows. At the ``book`` preset in place, intervals calibrated on validation donors under-covered the
    per-tissue Gaussian's hidden entries and over-covered SoftImpute's; calibrated on held-out entries, both came
    out at their nominal coverage (benchmarks/results/calibration-book.json, ``coverage_90_validation_donors``)."""
    mask = np.asarray(mask) > 0
    rows = np.arange(len(mask))
    seen = float(mask.mean()) if mask.size else 0.0
    wanted = len(rows) if seen == 0 else int(np.ceil(per_gene / (share * seen)))
    wanted = wanted if max_rows is None else min(wanted, int(max_rows))
    if len(rows) > wanted:
        rows = np.unique(np.linspace(0, len(rows) - 1, wanted).round().astype(int))
    out = np.zeros(mask.shape, dtype=bool)
    out[rows] = (stream(seed, "conformal", 2).random((len(rows), mask.shape[1])) < share) & mask[rows]
    return out


def calibrate_holdout(imputer, x: np.ndarray, mask: np.ndarray, obs: pd.DataFrame, held: np.ndarray,
                      values: np.ndarray, center: np.ndarray, min_count: int = MIN_COUNT,
                      scaled: bool | None = None, sigma: np.ndarray | None = None) -> Calibration:
    """The calibration of an imputer fitted in place without the entries ``held`` (:func:`holdout`): ``values``
    are their true values (flat, in the order of ``np.nonzero(held)``), ``center`` the imputer's imputation of
    ``x`` shown where ``mask > 0`` (``held`` hidden), ``sigma`` its spread there when already computed."""
    held = np.asarray(held, dtype=bool)
    if not held.any():
        raise ValueError("conformal calibration in place needs held-out entries, and there are none")
    if (np.asarray(mask)[held] > 0).any():
        raise ValueError("the held-out calibration entries must be hidden from the imputation they calibrate")
    scaled = own_spread(imputer) if scaled is None else bool(scaled)
    i, j = np.nonzero(held)
    s = np.abs(np.asarray(values, dtype=np.float64) - np.asarray(center)[i, j])
    if scaled:
        if sigma is None:
            sigma = imputer.spread(np.where(np.asarray(mask) > 0, x, np.nan).astype(np.float32), mask, obs)
        if sigma is None:
            raise ValueError(f"{imputer.name} is registered with its own spread but its spread() returned None")
        s = s / np.maximum(np.asarray(sigma, dtype=np.float64)[i, j], SIGMA_FLOOR)
    return _calibration(s, j, i, obs, x.shape[1], scaled, min_count)
