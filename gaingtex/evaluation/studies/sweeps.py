"""R² against the missing rate (paper Fig. 5's companion) and the blood surrogate's score."""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ...data import Prepared, extended_index
from ...data.masks import missing_mask, stream
from ...imputers import BloodSurrogate
from ..metrics import summarise
from ..scenarios import scoring_scope
from ..scoring import score_imputer


def blood_surrogate_r2(prepared: Prepared, missing_rate: float, rng: np.random.Generator | int) -> float | None:
    """R² of the blood surrogate on the test samples whose donor also gave Whole Blood (pooled over tissues,
    MCAR mask at ``missing_rate``); ``None`` when no test donor has both."""
    blood = BloodSurrogate().fit(prepared.train, blood=prepared.test)
    covered = prepared.test.take(np.flatnonzero(blood.covers(prepared.test.obs)))
    if not len(covered):
        return None
    mask = missing_mask(*covered.x.shape, missing_rate, np.random.default_rng(rng))
    return summarise(score_imputer(blood, covered.x, mask, covered.obs, by="all")[0])["r2"]


def missing_rate_sweep(imputers: dict, prepared: Prepared, rates=(0.1, 0.3, 0.5, 0.7, 0.9), seed: int = 0,
                       per_tissue: int | None = None) -> pd.DataFrame:
    """R² of every method on the extended test set at several missing rates (the same mask for all methods at
    each rate). ``per_tissue`` caps the rows per tissue to keep the sweep quick."""
    ext = prepared.test.take(extended_index(prepared.test.obs, per_tissue))
    by = scoring_scope(prepared.test.obs["tissue"].astype(str).value_counts())
    rows = []
    for i, rate in enumerate(tqdm(rates, desc="missing rates", leave=False)):
        mask = missing_mask(*ext.x.shape, rate, stream(seed, "missing-rate", i))
        for name, imputer in imputers.items():
            scores, seconds = score_imputer(imputer, ext.x, mask, ext.obs, by=by)
            rows.append({"method": name, "missing_rate": rate, **summarise(scores), "impute_seconds": seconds})
    return pd.DataFrame(rows)
