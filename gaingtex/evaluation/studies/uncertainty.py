"""How sure is an imputed value, per method: interval coverage overall and per tissue, width against R², and the
PIT histogram, against the oracle's exact posterior where the cohort has a generating model (notebook 09).

Every method but the oracle is calibrated by split conformal prediction
(:func:`gaingtex.evaluation.calibration.scenario_predictive`: on the validation donors inductive, on held-out
training entries in place); the oracle's intervals are its exact Gaussian posterior, uncalibrated, since it *is*
the truth's conditional law. Measures are on the hidden entries of the scenario's evaluation matrix only (:mod:`gaingtex.evaluation.
calibration`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...imputers.predictive import predictive
from ..calibration import LEVEL, measures, pit_histogram, scenario_predictive
from ..metrics import summarise
from ..scoring import impute_masked, scores_of


def predictive_of(imputer, data, x_hat: np.ndarray, mask: np.ndarray):
    """A fitted method's predictive distribution on ``data.eval`` (the oracle's exact one, every other method's
    conformal one)."""
    if getattr(imputer, "name", None) == "oracle":
        return predictive(imputer, None, data.eval.x, mask, data.eval.obs, center=x_hat)
    return scenario_predictive(imputer, data, x_hat, mask)


def uncertainty(imputers: dict, data, level: float = LEVEL, bins: int = 10) -> dict[str, pd.DataFrame]:
    """For fitted methods by label (:func:`gaingtex.evaluation.scoring.build_methods`) on one scenario:

    - ``table``: per method, R², coverage of the ``level`` interval (overall, worst gene decile, worst tissue),
      mean width and CRPS, and both as ratios to the oracle's exact posterior when the oracle is among them;
    - ``tissues``: per method and tissue, the coverage and mean width;
    - ``pit``: per method, the share of PIT values in each of ``bins`` bins (flat when calibrated).
    """
    tag = f"{round(level * 100):d}"
    x, obs = data.eval.x, data.eval.obs
    rows, per_tissue, pits = [], [], []
    for label, imputer in imputers.items():
        x_hat, mask, _ = impute_masked(imputer, x, data.eval_mask, obs)
        pred = predictive_of(imputer, data, x_hat, mask)
        entries = (mask == 0) & ~np.isnan(x)
        m = measures(pred, x, entries, obs, level, with_pit=True, by_tissue=True)
        r2 = summarise(scores_of(x, x_hat, mask, obs, by=data.scope))["r2"]
        rows.append({"method": label, "name": getattr(imputer, "name", label), "r2": r2,
                     **{k: v for k, v in m.items() if k not in ("pit", "tissues")}})
        pits.extend({"method": label, "bin": (b + 0.5) / bins, "share": s}
                    for b, s in enumerate(pit_histogram(m["pit"], bins)))
        per_tissue.append(m["tissues"].assign(method=label))
    table = pd.DataFrame(rows)
    oracle = table[table["name"] == "oracle"]
    if len(oracle):
        for k in (f"width_{tag}", "crps"):
            table[f"{k}_vs_oracle"] = table[k] / float(oracle[k].iloc[0])
    tissues = pd.concat(per_tissue, ignore_index=True)[["method", "tissue", "coverage", "width", "entries"]]
    return {"table": table, "tissues": tissues, "pit": pd.DataFrame(pits)}
