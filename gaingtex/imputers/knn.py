"""k-nearest neighbours: scikit-learn's ``KNNImputer`` on expression plus one-hot covariates."""

from __future__ import annotations

import numpy as np
from sklearn import config_context
from sklearn.impute import KNNImputer
from tqdm.auto import tqdm

from ._covariates import CovariateColumns
from .base import Clock, Imputer, check_inputs, keep_observed, masked_mse, observed_mask, validation_task
from .registry import register


@register("knn", "k-NN", colour="#b15928", chooses=("n_neighbors",))
class KNNImputerMethod(Imputer):
    """Each missing entry is the mean of that gene over the ``k`` training samples nearest in the entries both
    have observed (scikit-learn's NaN-Euclidean distance), the sample's tissue and sex one-hot and its age
    standardised.

    The covariate columns are scaled by ``covariate_weight · √genes``, so that with weight 1 another tissue adds as
    much distance as an unrelated expression profile. Only training samples are neighbours: in the inductive
    scenario no test sample is seen at fit time. ``transform`` works in blocks of ``block`` rows, within
    scikit-learn's ``working_memory`` (MiB), because the distance matrix is what blows up on large inputs.

    Parameters
    ----------
    n_neighbors
        ``k``; ``None`` chooses it from ``candidates`` on the validation split (at most 300 rows).
    budget
        Seconds allowed for each ``fit`` (the search of ``k``) and each ``transform``, checked between blocks; a
        run whose rate projects past it stops early.
    """

    name = "knn"

    def __init__(self, n_neighbors: int | None = None, candidates: tuple[int, ...] = (5, 10, 20, 40),
                 covariate_weight: float = 1.0, block: int = 256, working_memory: int = 256,
                 budget: float | None = None, seed: int = 0, progress: bool = False):
        super().__init__(seed)
        self.n_neighbors, self.candidates = n_neighbors, tuple(candidates)
        self.covariate_weight, self.block, self.working_memory = float(covariate_weight), int(block), working_memory
        self.budget, self.progress = budget, progress

    def _features(self, x, mask, obs) -> np.ndarray:
        weight = self.covariate_weight * np.sqrt(x.shape[1])
        return np.hstack([np.where(mask > 0, x, np.nan), weight * self.covariates_.transform(obs)])

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        super().fit(train)
        mask = observed_mask(train.x, train_mask, "train_mask")
        self.covariates_ = CovariateColumns().fit(train.obs)
        features = self._features(train.x, mask, train.obs)
        self.validation_ = None
        k = self.n_neighbors
        if k is None:
            if valid is None:
                raise ValueError("choosing k needs a validation split; pass valid or n_neighbors")
            vx, inputs, targets, vobs = validation_task(valid, valid_mask, self.seed, max_rows=300)
            self.validation_ = {}
            clock = Clock(self.name, self.budget)  # one for the whole search
            for i, k in enumerate(self.candidates):
                self.knn_ = KNNImputer(n_neighbors=k, keep_empty_features=True).fit(features)
                imputed = self._impute(vx, inputs, vobs, clock.part(i, len(self.candidates)))
                self.validation_[k] = masked_mse(np.nan_to_num(vx), imputed, targets)
            k = min(self.validation_, key=self.validation_.get)
        self.n_neighbors_ = int(k)
        self.chosen_ = {"n_neighbors": self.n_neighbors_}
        self.knn_ = KNNImputer(n_neighbors=self.n_neighbors_, keep_empty_features=True).fit(features)
        return self

    def _impute(self, x, mask, obs, clock=None) -> np.ndarray:
        clock = Clock(self.name, self.budget) if clock is None else clock
        out = np.empty(x.shape, dtype=np.float32)
        starts = range(0, len(x), self.block)
        for start in tqdm(starts, desc=self.name, disable=not self.progress, leave=False):
            clock.check(start, len(x), "samples", uniform=True)
            r = slice(start, start + self.block)
            with config_context(working_memory=self.working_memory):
                out[r] = self.knn_.transform(self._features(x[r], mask[r], obs.iloc[r]))[:, : x.shape[1]]
        return out

    def transform(self, x, mask, obs):
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        return keep_observed(x0, mask, self._impute(x0, mask, obs))
