"""Any imputer given the covariates as extra, always-observed columns: a congenial imputation model for an analysis
of expression against those covariates.

Multiple imputation is valid for an analysis only when the imputation model contains what the analysis tests
(Meng 1994's congeniality): a model that imputes a gene from the other genes alone fills it with values that
depend on age only through the genes, so an age effect estimated on its imputations is biased toward zero. The
linear-Gaussian methods take one matrix and no covariates; appending the covariates as columns they always see
makes their conditional mean linear in the covariates as well as the genes, which is the analysis' own model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import Split
from ..data.embedded import encode_covariates
from .base import Imputer, check_inputs, observed_mask


class WithCovariates(Imputer):
    """``inner`` fitted on ``[genes, covariates]``; every call appends the samples' covariates (sex, age and the
    Hardy scale, encoded as the embedded cohort's generator encodes them, standardised on the training samples;
    constant ones dropped) as observed columns and returns the genes' part.

    ``scaled``: the inner method has a spread and draws of its own (the registry's ``spread``), which calibration
    (:func:`~.conformal.calibrate` with ``scaled=``) must be told, since this wrapper is not registered."""

    def __init__(self, inner: Imputer):
        super().__init__(inner.seed)
        self.inner = inner
        self.name = f"{inner.name}+covariates"

    def _columns(self, obs: pd.DataFrame) -> np.ndarray:
        return ((encode_covariates(obs)[:, self.keep_] - self.center_) / self.std_).astype(np.float32)

    def _augment(self, x, mask, obs):
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        c = self._columns(obs)
        return np.hstack([x0, c]), np.hstack([mask, np.ones(c.shape, np.float32)])

    def fit(self, train: Split, valid: Split | None = None, train_mask=None, valid_mask=None):
        super().fit(train)
        raw = encode_covariates(train.obs)
        std = raw.std(axis=0)
        self.keep_ = np.flatnonzero(std > 0)  # a constant column would make a covariance singular
        self.center_, self.std_ = raw[:, self.keep_].mean(axis=0), std[self.keep_]

        def augmented(split, mask, what):
            if split is None:
                return None, None
            m = observed_mask(split.x, mask, what)
            c = self._columns(split.obs)
            x = np.hstack([np.where(m > 0, split.x, np.nan), c]).astype(np.float32)
            return Split(x, split.obs), np.hstack([m, np.ones(c.shape, np.float32)])

        train_aug, train_m = augmented(train, train_mask, "train_mask")
        valid_aug, valid_m = augmented(valid, valid_mask, "valid_mask")
        self.inner.fit(train_aug, valid_aug, train_m, valid_m)
        self.chosen_ = dict(self.inner.chosen_)
        return self

    def transform(self, x, mask, obs):
        xa, ma = self._augment(x, mask, obs)
        return self.inner.transform(xa, ma, obs)[:, : self.n_genes]

    def spread(self, x, mask, obs):
        xa, ma = self._augment(x, mask, obs)
        out = self.inner.spread(xa, ma, obs)
        return None if out is None else out[:, : self.n_genes]

    def draw(self, x, mask, obs, draws, rng):
        xa, ma = self._augment(x, mask, obs)
        out = self.inner.draw(xa, ma, obs, draws, rng)
        return None if out is None else out[..., : self.n_genes]
