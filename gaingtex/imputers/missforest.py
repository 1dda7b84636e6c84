"""MissForest-class imputation: chained equations with extremely randomised trees.

The paper ran ``missingpy``'s MissForest, which no longer imports under current scikit-learn. scikit-learn's
``IterativeImputer`` with an ``ExtraTreesRegressor`` is the MissForest-like variant its own documentation shows,
and needs nothing beyond scikit-learn; ``miceforest`` would add LightGBM, a compiled dependency, for the same
chained-trees idea.
"""

from __future__ import annotations

import os

from sklearn.ensemble import ExtraTreesRegressor

from ._chained import ChainedImputer
from .registry import register


@register("missforest", "MissForest", stochastic=True, colour="#6a3d9a")
class MissForestImputer(ChainedImputer):
    """Each gene in turn predicted by an ensemble of ``n_estimators`` extremely randomised trees from its
    ``n_nearest_features`` most correlated genes and the covariates, round after round
    (see :class:`~._chained.ChainedImputer`). Its cost grows with genes × rounds × trees × samples: give it a
    ``budget`` on large cohorts.

    Each ensemble is grown on ``n_jobs`` threads (``None``: one per core; scikit-learn's tree building lets go of
    Python's lock) and predicts on one, so that its values are the same whatever ``n_jobs``."""

    name = "missforest"

    def __init__(self, n_estimators: int = 30, min_samples_leaf: int = 5, n_nearest_features: int = 30,
                 max_iter: int = 5, tol: float = 1e-3, n_jobs: int | None = None, budget: float | None = None,
                 seed: int = 0, progress: bool = False):
        n_jobs = len(os.sched_getaffinity(0)) if n_jobs is None else int(n_jobs)
        trees = ExtraTreesRegressor(n_estimators=n_estimators, min_samples_leaf=min_samples_leaf, n_jobs=n_jobs,
                                    random_state=seed)
        super().__init__(trees, n_nearest_features, max_iter, tol, budget, seed, progress)
