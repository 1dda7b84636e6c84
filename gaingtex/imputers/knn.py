"""k-nearest neighbours: scikit-learn's ``KNNImputer`` on expression plus one-hot covariates."""

from __future__ import annotations

import os

import numpy as np
from sklearn import config_context
from sklearn.impute import KNNImputer
from tqdm.auto import tqdm

from ._covariates import CovariateColumns
from ._knn_pool import DonorPool
from ._blocks import in_row_blocks
from .base import Clock, Imputer, masked_mse, observed_mask, validation_task
from .registry import register


EXACT_BELOW = 2_000_000  # the book's 59-gene panel (9,074 × 59 + covariates) is below; its 2,000 genes are not
POOL_BLOCK = 1024  # receivers per block of the donor pool: each block converts the training matrix for its products


@register("knn", "k-NN", colour="#b15928", chooses=("n_neighbors",))
class KNNImputerMethod(Imputer):
    """Each missing entry is the mean of that gene over the ``k`` training samples nearest in the entries both
    have observed (scikit-learn's NaN-Euclidean distance), the sample's tissue and sex one-hot and its age
    standardised.

    The covariate columns are scaled by ``covariate_weight · √genes``, so that with weight 1 another tissue adds as
    much distance as an unrelated expression profile. Only training samples are neighbours: in the inductive
    scenario no test sample is seen at fit time. ``transform`` works in blocks of ``block`` rows, within
    scikit-learn's ``working_memory`` (MiB), because the distance matrix is what blows up on large inputs.

    Where the training matrix (samples × features) has more than ``exact_below`` entries, the same neighbours are
    found by :class:`~._knn_pool.DonorPool` (matrix products, then each gene's nearest donors among the nearest
    samples overall): ``KNNImputer``'s gene-by-gene search costs receivers × donors × genes comparisons in Python
    loops, past any budget from the book's 2,000 genes on (benchmarks/README.md, "Time budgets"), while the
    products take minutes at 15,201 × 12,557. Below it nothing changes: the 59-gene panel and the tests keep
    scikit-learn's own numbers. The two agree but for float32 rounding of the distances (near-ties).

    Parameters
    ----------
    n_neighbors
        ``k``; ``None`` chooses it from ``candidates`` on the validation split (at most 300 rows).
    budget
        Seconds allowed for each ``fit`` (the search of ``k``) and each ``transform``, checked between blocks; a
        run whose rate projects past it stops early.
    exact_below
        Training entries (samples × features) up to which scikit-learn's ``KNNImputer`` runs.
    """

    name = "knn"

    def __init__(self, n_neighbors: int | None = None, candidates: tuple[int, ...] = (5, 10, 20, 40),
                 covariate_weight: float = 1.0, block: int = 256, working_memory: int = 256,
                 budget: float | None = None, exact_below: int = EXACT_BELOW, seed: int = 0,
                 progress: bool = False):
        super().__init__(seed)
        self.exact_below = int(exact_below)
        self.n_neighbors, self.candidates = n_neighbors, tuple(candidates)
        self.covariate_weight, self.block, self.working_memory = float(covariate_weight), int(block), working_memory
        self.budget, self.progress = budget, progress

    def _features(self, x, mask, obs, dtype=None) -> np.ndarray:
        """Expression (NaN where missing) and the weighted covariates; ``dtype`` float32 for the donor pool,
        whose float64 copy at the paper's size would be 1.3 GB."""
        weight = self.covariate_weight * np.sqrt(x.shape[1])
        return np.hstack([np.where(mask > 0, x, np.nan), weight * self.covariates_.transform(obs)], dtype=dtype)

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        super().fit(train)
        mask = observed_mask(train.x, train_mask, "train_mask")
        self.covariates_ = CovariateColumns().fit(train.obs)
        large = len(train.x) * (train.x.shape[1] + self.covariates_.n_columns) > self.exact_below
        if large:
            weight = self.covariate_weight * np.sqrt(train.x.shape[1])
            self.pool_ = DonorPool(train.x, mask, weight * self.covariates_.transform(train.obs))
        else:
            self.pool_, features = None, self._features(train.x, mask, train.obs)
        self.validation_ = None
        k = self.n_neighbors
        if k is None:
            if valid is None:
                raise ValueError("choosing k needs a validation split; pass valid or n_neighbors")
            vx, inputs, targets, vobs = validation_task(valid, valid_mask, self.seed, max_rows=300)
            self.validation_ = {}
            clock = Clock(self.name, self.budget)  # one for the whole search
            for i, k in enumerate(self.candidates):
                self.n_neighbors_ = int(k)
                if self.pool_ is None:
                    self.knn_ = KNNImputer(n_neighbors=k, keep_empty_features=True).fit(features)
                imputed = self._impute(vx, inputs, vobs, clock.part(i, len(self.candidates)))
                self.validation_[k] = masked_mse(np.nan_to_num(vx), imputed, targets)
            k = min(self.validation_, key=self.validation_.get)
        self.n_neighbors_ = int(k)
        self.chosen_ = {"n_neighbors": self.n_neighbors_}
        if self.pool_ is None:
            self.knn_ = KNNImputer(n_neighbors=self.n_neighbors_, keep_empty_features=True).fit(features)
        return self

    def _step(self) -> int:
        return self.block if self.pool_ is None else POOL_BLOCK

    def _predict(self, x, mask, obs) -> np.ndarray:
        """The estimate of every entry of one block of rows (``x`` zero where ``mask`` is 0)."""
        features = self._features(x, mask, obs, None if self.pool_ is None else np.float32)
        if self.pool_ is not None:
            return self.pool_.impute(features, mask == 0, self.n_neighbors_)
        with config_context(working_memory=self.working_memory):
            return self.knn_.transform(features)[:, : x.shape[1]]

    def _impute(self, x, mask, obs, clock=None) -> np.ndarray:
        clock = Clock(self.name, self.budget) if clock is None else clock
        out = np.empty(x.shape, dtype=np.float32)
        step = self._step()
        for start in tqdm(range(0, len(x), step), desc=self.name, disable=not self.progress, leave=False):
            clock.check(start, len(x), "samples", uniform=True)
            r = slice(start, start + step)
            out[r] = self._predict(x[r], mask[r], obs.iloc[r])
        return out

    def transform(self, x, mask, obs):
        clock, step, total = Clock(self.name, self.budget), self._step(), len(np.asarray(x))
        bar = tqdm(total=total, desc=self.name, disable=not self.progress, leave=False)

        def predict(x0, m, o, start):
            out = self._predict(x0, m, o)
            bar.update(len(x0))
            return out

        # scikit-learn's blocks on every core: its per-gene loops hold Python's lock, but its distances do not (the
        # book's panel rows ran faster to the same values: benchmarks/README.md, "The whole book"); the donor
        # pool's products already use every core
        threads = len(os.sched_getaffinity(0)) if self.pool_ is None else 1
        try:
            return in_row_blocks(x, mask, obs, self.n_genes, step, predict, threads,
                                 lambda start: clock.check(start, total, "samples", uniform=True))
        finally:
            bar.close()
