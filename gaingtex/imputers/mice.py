"""MICE: chained equations with Bayesian ridge regressions (scikit-learn's ``IterativeImputer`` default)."""

from __future__ import annotations

from sklearn.linear_model import BayesianRidge

from ._chained import ChainedImputer
from .registry import register


@register("mice", "MICE", stochastic=True, colour="#fdbf6f")
class MICEImputer(ChainedImputer):
    """Multivariate imputation by chained equations: each gene a Bayesian ridge regression on its
    ``n_nearest_features`` most correlated genes and the covariates (see :class:`~._chained.ChainedImputer`).
    The posterior mean is imputed (one imputation, not multiple draws), as the other methods' point estimates."""

    name = "mice"

    def __init__(self, n_nearest_features: int = 30, max_iter: int = 10, tol: float = 1e-3,
                 budget: float | None = None, seed: int = 0, progress: bool = False):
        super().__init__(BayesianRidge(), n_nearest_features, max_iter, tol, budget, seed, progress)
