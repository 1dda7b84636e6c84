"""Chained equations (scikit-learn's ``IterativeImputer``), shared by MICE and MissForest: each gene in turn is
regressed on its ``n_nearest_features`` most correlated genes and the covariates, round after round."""

from __future__ import annotations

import itertools
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401  (makes IterativeImputer importable)
from sklearn.impute import IterativeImputer

from ._covariates import CovariateColumns
from .base import BudgetExceeded, Imputer, check_inputs, keep_observed, observed_mask, projected_overrun

_FITS: dict[str, int] = {}  # regressions fitted so far, per imputer (how far a run got when its budget ran out)
_TOKENS = itertools.count()


class _Budgeted(RegressorMixin, BaseEstimator):
    """A regressor that refuses to fit once its deadline (a ``time.monotonic()`` value) has passed, or once the
    rate of its fits projects the ``planned`` regressions past the ``budget`` (seconds before the deadline;
    :func:`~gaingtex.imputers.base.projected_overrun`; the ``TimeoutError`` then carries the projected seconds),
    and counts its fits under ``token``.
    ``IterativeImputer`` clones it for every gene and round."""

    def __init__(self, estimator=None, deadline: float | None = None, token: str = "", budget: float | None = None,
                 planned: int = 0):
        self.estimator, self.deadline, self.token = estimator, deadline, token
        self.budget, self.planned = budget, planned

    def fit(self, X, y):
        if self.deadline is not None:
            now = time.monotonic()
            if now > self.deadline:
                raise TimeoutError(self.token)
            fits, elapsed = _FITS.get(self.token, 0), now - (self.deadline - self.budget)
            projected = projected_overrun(elapsed, elapsed, fits, self.planned, self.budget)
            if projected is not None:
                raise TimeoutError(self.token, projected)
        self.estimator_ = clone(self.estimator).fit(X, y)
        if self.estimator_.get_params().get("n_jobs") not in (None, 1):
            # a forest fitted on several threads predicts on one: its trees' predictions are then summed in the
            # same order every run (the trees themselves do not depend on the threads)
            self.estimator_.set_params(n_jobs=1)
        _FITS[self.token] = _FITS.get(self.token, 0) + 1
        return self

    def predict(self, X):
        return self.estimator_.predict(X)


class ChainedImputer(Imputer):
    """``IterativeImputer`` on expression (NaN where missing) and the one-hot covariates, fitted on the training
    samples only.

    In place, ``fit`` runs the rounds on the training matrix and ``transform`` replays the fitted regressions in
    the same order, which reproduces the fitted imputation. Complete training samples (inductive) converge after
    one round, since nothing changes, so ``transform`` replays that round's regressions ``max_iter`` times, as
    the chained equations would iterate on a new sample's missing entries.

    Parameters
    ----------
    n_nearest_features
        Predictors per regression (the most correlated genes, drawn with probability ∝ |correlation|), which keeps
        thousands of genes feasible.
    max_iter, tol
        Rounds, and scikit-learn's stopping tolerance (``converged_`` says whether it stopped before
        ``max_iter``).
    budget
        Seconds allowed for ``fit``; past it, or as soon as the rate of the regressions projects the rounds past
        it, :class:`~gaingtex.imputers.base.BudgetExceeded` says how many regressions were fitted. The projection
        counts every one of ``max_iter`` rounds when entries are missing (the rounds rarely stop early on
        expression: MICE in place on 2,000 genes ran 6 of its 10 in its 120 s budget) and the first alone on
        complete data, where the chain stops after it.
    """

    def __init__(self, estimator, n_nearest_features: int = 30, max_iter: int = 10, tol: float = 1e-3,
                 budget: float | None = None, seed: int = 0, progress: bool = False):
        super().__init__(seed)
        self.estimator, self.n_nearest_features, self.max_iter, self.tol = estimator, int(n_nearest_features), \
            int(max_iter), float(tol)
        self.budget, self.progress = budget, progress

    def _features(self, x, mask, obs) -> np.ndarray:
        return np.hstack([np.where(mask > 0, x, np.nan), self.covariates_.transform(obs)])

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        super().fit(train)
        mask = observed_mask(train.x, train_mask, "train_mask")
        self.covariates_ = CovariateColumns().fit(train.obs)
        features = self._features(train.x, mask, train.obs)
        token = f"{self.name}-{next(_TOKENS)}"
        deadline = None if self.budget is None else time.monotonic() + float(self.budget)
        planned = (1 if (mask > 0).all() else self.max_iter) * features.shape[1]  # regressions
        self.chain_ = IterativeImputer(
            _Budgeted(self.estimator, deadline, token, self.budget, planned), max_iter=self.max_iter,
            tol=self.tol, n_nearest_features=min(self.n_nearest_features, features.shape[1] - 1),
            random_state=self.seed, keep_empty_features=True, verbose=2 if self.progress else 0)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                self.chain_.fit(features)
            self.converged_ = True
            for w in caught:  # the rounds are capped on purpose; anything else is passed on
                if issubclass(w.category, ConvergenceWarning):
                    self.converged_ = False
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        except TimeoutError as stop:  # its second argument, when there is one: the projected seconds
            raise BudgetExceeded(self.name, self.budget, _FITS.pop(token, 0), planned, "regressions",
                                 stop.args[1] if len(stop.args) > 1 else None) from None
        _FITS.pop(token, None)
        if self.chain_.n_iter_ < self.max_iter and (mask > 0).all():
            self.chain_.imputation_sequence_ = self.chain_.imputation_sequence_ * self.max_iter
            self.chain_.n_iter_ *= self.max_iter
        return self

    def transform(self, x, mask, obs):
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        filled = self.chain_.transform(self._features(x0, mask, obs))[:, : x0.shape[1]]
        return keep_observed(x0, mask, filled)
