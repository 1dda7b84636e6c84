"""The blood surrogate: another tissue's missing genes from the same donor's Whole Blood profile (the paper's)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from ..data import Split
from .base import Imputer, check_inputs, keep_observed, observed_mask
from .mean import MeanImputer
from .registry import register


@register("blood-surrogate", "blood surrogate", scenarios=("inductive",), needs_blood=True, colour="#e7298a")
class BloodSurrogate(Imputer):
    """Fill another tissue's missing genes with the same donor's Whole Blood values.

    ``fit`` takes, besides the training split, ``blood``: the Whole Blood samples of the donors that will be
    imputed (complete profiles). Samples whose donor has no blood profile fall back to the per-tissue mean, and so
    do Whole Blood samples themselves.
    """

    name = "blood-surrogate"

    def fit(self, train, valid=None, train_mask=None, valid_mask=None, blood: Split | None = None):
        if blood is None:
            raise ValueError("the blood surrogate needs blood=: the Whole Blood samples of the donors to impute")
        super().fit(train)
        is_blood = blood.obs["tissue"].astype(str).to_numpy() == "Whole_Blood"
        donors = blood.obs["donor_id"].astype(str).to_numpy()[is_blood]
        self.profiles_ = dict(zip(donors, blood.x[is_blood]))
        self.fallback_ = MeanImputer(self.seed).fit(train, train_mask=train_mask)
        return self

    def for_calibration(self, valid, valid_mask=None):
        """A copy that also knows the validation donors' own Whole Blood profiles (their observed entries): on them
        it is calibrated as it imputes test donors, from the donor's blood, not from the per-tissue mean."""
        mask = observed_mask(valid.x, valid_mask, "valid_mask")
        blood = valid.obs["tissue"].astype(str).to_numpy() == "Whole_Blood"
        donors = valid.obs["donor_id"].astype(str).to_numpy()[blood]
        twin = copy.copy(self)
        twin.profiles_ = {**self.profiles_, **dict(zip(donors, np.where(mask[blood] > 0, valid.x[blood], np.nan)))}
        return twin

    def transform(self, x, mask, obs):
        pred = self.fallback_.transform(x, mask, obs)
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        donors = obs["donor_id"].astype(str).to_numpy()
        tissue = obs["tissue"].astype(str).to_numpy()
        for i, (d, t) in enumerate(zip(donors, tissue)):
            if t != "Whole_Blood" and d in self.profiles_:
                profile = self.profiles_[d]  # a missing blood value falls back to the per-tissue mean
                pred[i] = keep_observed(x0[i], mask[i], np.where(np.isnan(profile), pred[i], profile))
        return pred

    def covers(self, obs: pd.DataFrame) -> np.ndarray:
        """Which samples have a blood profile from the same donor (and are not blood)."""
        return np.array([t != "Whole_Blood" and d in self.profiles_
                         for d, t in zip(obs["donor_id"].astype(str), obs["tissue"].astype(str))])

