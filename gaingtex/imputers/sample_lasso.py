"""SampleLASSO (Mancuso et al., Nucleic Acids Research 2020, 48(21):e125): a sparse regression over samples.

For each sample to impute, its observed genes are regressed on the same genes of the training samples; the
weights then combine those training samples' values of its missing genes. Mancuso et al. found that this
beats models of gene–gene relationships, and that the lasso picks training samples of the same tissue by itself.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso
from tqdm.auto import tqdm

from ._blocks import shared_rows
from .base import Clock, Imputer, check_inputs, keep_observed, masked_mse, observed_mask, validation_task
from .registry import register


ROWS_A_THREAD = 4  # rows each thread regresses between two checks of the budget: a few seconds at most


@register("sample-lasso", "SampleLASSO", scenarios=("inductive",), colour="#ff7f00", chooses=("alpha",))
class SampleLassoImputer(Imputer):
    """Per sample, ``Lasso(alpha)`` of its observed values on the training samples' values of those genes.

    Only complete training samples serve as regressors, so it is an inductive method. For speed, each sample's
    regression uses the ``max_reference`` training samples most correlated with it on its observed genes (all of
    them when there are fewer); the choice is deterministic.

    Parameters
    ----------
    alpha
        The lasso penalty (scikit-learn's scale: ``(1 / 2n) ‖y − Xw‖² + α ‖w‖₁``); ``None`` chooses it from
        ``candidates`` on ``n_validation`` validation samples.
    budget
        Seconds allowed for each ``fit`` (the search of the penalty) and each ``transform``, checked between
        samples; a run whose rate projects past it stops early, and a ``transform`` that the search's rate at the
        chosen penalty projects past it does not start.
    """

    name = "sample-lasso"

    def __init__(self, alpha: float | None = None, candidates: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1),
                 max_reference: int = 1000, n_validation: int = 60, max_iter: int = 2000,
                 budget: float | None = None, seed: int = 0, progress: bool = False):
        super().__init__(seed)
        self.alpha, self.candidates, self.max_reference = alpha, tuple(candidates), int(max_reference)
        self.n_validation, self.max_iter, self.budget, self.progress = int(n_validation), int(max_iter), budget, \
            progress

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        super().fit(train)
        mask = observed_mask(train.x, train_mask, "train_mask")
        complete = (mask > 0).all(1)
        if complete.sum() < 2:
            raise ValueError(f"SampleLASSO needs complete training samples as regressors; {int(complete.sum())} of "
                             f"{len(mask)} are complete")
        self.reference_ = np.asarray(train.x[complete], dtype=np.float64)
        self.validation_, self.row_seconds_ = None, None  # seconds a validation row took at the chosen penalty
        alpha = self.alpha
        if alpha is None:
            if valid is None:
                raise ValueError("choosing the lasso penalty needs a validation split; pass valid or alpha")
            vx, inputs, targets, _ = validation_task(valid, valid_mask, self.seed, max_rows=self.n_validation)
            vx = np.nan_to_num(vx)
            clock = Clock(self.name, self.budget)  # one for the whole search
            self.validation_, seconds = {}, {}
            for i, a in enumerate(self.candidates):
                t0 = time.perf_counter()
                prediction = self._impute(vx, inputs, a, clock.part(i, len(self.candidates)))
                seconds[a] = (time.perf_counter() - t0) / max(len(vx), 1)
                self.validation_[a] = masked_mse(vx, prediction, targets)
            alpha = min(self.validation_, key=self.validation_.get)
            self.row_seconds_ = seconds[alpha]
        self.alpha_ = float(alpha)
        self.chosen_ = {"alpha": self.alpha_}
        return self

    def _impute(self, x, mask, alpha, clock=None) -> np.ndarray:
        """Each row's regression, the rows shared among one thread per core (:func:`~._blocks.shared_rows`: the
        lasso's coordinate descent lets go of Python's lock; each row's values are its own), a few rows a thread
        between the clock's checks."""
        clock = Clock(self.name, self.budget) if clock is None else clock
        ref = self.reference_
        out = np.empty(x.shape, dtype=np.float64)

        def walk(rows):
            for i in rows:
                o = mask[i] > 0
                if not o.any():
                    out[i] = ref.mean(0)
                    continue
                chosen = self._nearest(ref[:, o], x[i, o])
                lasso = Lasso(alpha=alpha, max_iter=self.max_iter, tol=1e-3).fit(ref[chosen][:, o].T, x[i, o])
                out[i] = ref[chosen].T @ lasso.coef_ + lasso.intercept_

        with warnings.catch_warnings(), tqdm(total=len(x), desc=self.name, disable=not self.progress,
                                             leave=False) as bar:
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter bounds the time; the fit stays usable
            shared_rows(len(x), walk, clock, per_thread=ROWS_A_THREAD, progress=bar.update)
        return out

    def _nearest(self, ref_o: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The ``max_reference`` training samples most correlated with ``y`` on its observed genes."""
        if len(ref_o) <= self.max_reference:
            return np.arange(len(ref_o))
        rc = ref_o - ref_o.mean(1, keepdims=True)
        yc = y - y.mean()
        corr = (rc @ yc) / np.maximum(np.linalg.norm(rc, axis=1) * np.linalg.norm(yc), 1e-12)
        return np.sort(np.argpartition(-corr, self.max_reference - 1)[: self.max_reference])

    def transform(self, x, mask, obs):
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        clock = Clock(self.name, self.budget)
        # the search's rate at the chosen penalty (validation rows, half shown): a request it puts far past the
        # budget stops before it starts
        clock.expect(self.row_seconds_, len(x0), "samples")
        return keep_observed(x0, mask, self._impute(x0, mask, self.alpha_, clock))
