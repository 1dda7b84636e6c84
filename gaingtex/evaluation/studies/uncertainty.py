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

from ...imputers import label as label_of
from ...imputers.predictive import predictive
from ..calibration import LEVEL, PIT_BINS, measures, scenario_predictive
from ..metrics import summarise
from ..scoring import impute_masked, scores_of


def predictive_of(imputer, data, x_hat: np.ndarray, mask: np.ndarray):
    """A fitted method's predictive distribution on ``data.eval`` (the oracle's exact one, every other method's
    conformal one)."""
    if getattr(imputer, "name", None) == "oracle":
        return predictive(imputer, None, data.eval.x, mask, data.eval.obs, center=x_hat)
    return scenario_predictive(imputer, data, x_hat, mask)


def uncertainty(imputers: dict, data, level: float = LEVEL, bins: int = PIT_BINS) -> dict[str, pd.DataFrame]:
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
        m = measures(pred, x, entries, obs, level, pit_bins=bins, by_tissue=True)
        r2 = summarise(scores_of(x, x_hat, mask, obs, by=data.scope))["r2"]
        rows.append({"method": label, "name": getattr(imputer, "name", label), "r2": r2,
                     **{k: v for k, v in m.items() if k not in ("pit", "tissues")}})
        pits += _pit_rows({"method": label}, m["pit"])
        per_tissue.append(m["tissues"].assign(method=label))
    return _result(rows, per_tissue, pits, tag)


def _result(rows: list[dict], per_tissue: list[pd.DataFrame], pits: list[dict], tag: str) -> dict[str, pd.DataFrame]:
    table = pd.DataFrame(rows)
    oracle = table[table["name"] == "oracle"]
    if len(oracle):
        for k in (f"width_{tag}", "crps"):
            table[f"{k}_vs_oracle"] = table[k] / float(oracle[k].iloc[0])
    tissues = pd.concat(per_tissue, ignore_index=True)[["method", "tissue", "coverage", "width", "entries"]]
    return {"table": table, "tissues": tissues, "pit": pd.DataFrame(pits)}


def _pit_rows(key: dict, shares: list[float]) -> list[dict]:
    """A PIT histogram as rows of ``key``, each bin named by its centre."""
    return [{**key, "bin": (b + 0.5) / len(shares), "share": s} for b, s in enumerate(shares)]


KEY = ("method", "scenario", "genes", "seed")


class Details:
    """The PIT histograms and per-tissue tables of a comparison's calibrated rows (``compare(details=…)``), as two
    tables for a run folder (:meth:`tables`): notebook 09 then shows the methods notebook 08 already fitted and
    calibrated on the same masks (:func:`from_comparison`) instead of fitting them again."""

    def __init__(self, missing_rate: float):
        self.missing_rate = float(missing_rate)
        self.pit: list[dict] = []
        self.tissues: list[pd.DataFrame] = []

    def __call__(self, row: dict, detail: dict) -> None:
        key = {**{k: row[k] for k in KEY}, "missing_rate": self.missing_rate}
        for posterior, d in detail.items():
            self.pit += _pit_rows({**key, "posterior": posterior}, d["pit"])
            self.tissues.append(d["tissues"].assign(**key, posterior=posterior))

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(pit, tissues)``: one row per method, posterior (``conformal``, or the oracle's ``exact``) and bin or
        tissue."""
        return pd.DataFrame(self.pit), (pd.concat(self.tissues, ignore_index=True) if self.tissues
                                        else pd.DataFrame())


def from_comparison(rows: pd.DataFrame, pit: pd.DataFrame, tissues: pd.DataFrame, methods, seed: int,
                    missing_rate: float, scenario: str = "inductive", genes: str = "all",
                    level: float = LEVEL) -> dict[str, pd.DataFrame] | None:
    """:func:`uncertainty`'s tables for ``methods`` (registry names) from a comparison's rows and its
    :class:`Details` tables: the same fits, calibrations and measures, read instead of made again. The oracle's
    are those of its exact posterior, as :func:`uncertainty` gives them. ``None`` when a method is not there at
    that seed, scenario, gene set and missing rate (a comparison made otherwise, or the method past its budget)."""
    tag = f"{round(level * 100):d}"
    names = [f"coverage_{tag}", f"width_{tag}", "crps", f"coverage_{tag}_worst_gene", f"coverage_{tag}_worst_tissue"]

    def chosen(table, name, posterior=None):
        if not len(table) or not set(KEY) <= set(table.columns):
            return table.iloc[0:0]
        hit = ((table["method"] == name) & (table["scenario"] == scenario) & (table["genes"].astype(str) == genes)
               & (table["seed"] == seed))
        if "missing_rate" in table.columns:
            hit &= np.isclose(table["missing_rate"], missing_rate)
        if posterior is not None:
            hit &= table["posterior"] == posterior
        return table[hit]

    out, per_tissue, pits = [], [], []
    for name in methods:
        row = chosen(rows, name)
        posterior = "exact" if name == "oracle" else "conformal"
        shares, by_tissue = chosen(pit, name, posterior), chosen(tissues, name, posterior)
        prefix = "exact_" if posterior == "exact" else ""
        if len(row) != 1 or not len(shares) or not len(by_tissue) or \
                any(f"{prefix}{k}" not in row.columns or pd.isna(row[f"{prefix}{k}"].iloc[0]) for k in names):
            return None
        label = label_of(name)
        r = row.iloc[0]
        out.append({"method": label, "name": name, "r2": float(r["r2"]),
                    **{k: float(r[f"{prefix}{k}"]) for k in names}})
        pits += _pit_rows({"method": label}, shares["share"].astype(float).tolist())
        per_tissue.append(by_tissue.assign(method=label).reset_index(drop=True))
    return _result(out, per_tissue, pits, tag)
