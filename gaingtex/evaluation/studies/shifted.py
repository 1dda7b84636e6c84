"""The shifted (TCGA-like) cohorts beside their healthy GTEx tissue, against the observed fraction (paper Fig. 4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ...data import Prepared, Split
from ...data.embedded import SHIFTED_COHORTS
from ..masks import missing_mask, stream
from ..metrics import summarize
from ..scoring import score_imputer

# The observed fraction at which the book quotes Fig. 4 (the paper's figure text compares cohorts at 45 %).
QUOTED_FRACTION = 0.45


def shifted_cohorts(prepared: Prepared) -> dict[str, tuple[str, Split, Split]]:
    """Each shifted cohort with its healthy tissue's name and that tissue's GTEx test samples, cycled (as in
    the extended test set) to the shifted cohort's size so that both sides are scored on as many entries."""
    out = {}
    ext, test = prepared.external, prepared.test
    for name, tissue, _ in SHIFTED_COHORTS:
        part = ext.take(np.flatnonzero(ext.obs["cohort"].astype(str).to_numpy() == name)) if len(ext) else ext
        rows = np.flatnonzero(test.obs["tissue"].astype(str).to_numpy() == tissue)
        if len(part) and len(rows):
            out[name] = (tissue, part, test.take(np.resize(rows, max(len(part), len(rows)))))
    if not out:
        raise ValueError("the prepared data holds no shifted (TCGA-like) cohort samples")
    return out


FRACTIONS = tuple(np.round(np.arange(0.05, 0.86, 0.1), 2))  # the paper's observed fractions 0.05 … 0.85


def observed_fraction_sweep(imputers: dict, prepared: Prepared, fractions=FRACTIONS, n_masks: int = 3, seed: int = 0,
                            min_entries: int = 10) -> pd.DataFrame:
    """R² against the observed fraction on each shifted cohort and on its healthy GTEx tissue (paper Fig. 4).

    Models are used as trained on GTEx, without retraining; a shifted sample is presented with its healthy
    tissue's covariates. Rows: ``cohort`` (e.g. ``LAML-like``), ``data`` (the cohort's name or ``GTEx <tissue>``),
    ``method``, ``observed``, ``mask``, ``r2``. A gene is scored only where at least ``min_entries`` of its
    values are masked: at high observed fractions a small tissue leaves a handful, and R² over a handful of
    values is noise.
    """
    rows = []
    cohorts = shifted_cohorts(prepared)
    jobs = [(c, f, k) for c in cohorts for f in fractions for k in range(n_masks)]
    for ci, (cohort, fraction, k) in enumerate(tqdm(jobs, desc="observed fractions", leave=False)):
        tissue, shifted, healthy = cohorts[cohort]
        for label, split in ((cohort, shifted), (f"GTEx {tissue}", healthy)):
            rng = stream(seed, "observed-fraction", ci, label == cohort)
            mask = missing_mask(*split.x.shape, 1.0 - fraction, rng)
            for name, imputer in imputers.items():
                scores, _ = score_imputer(imputer, split.x, mask, split.obs, by="all", min_entries=min_entries)
                rows.append({"cohort": cohort, "tissue": tissue, "data": label, "method": name,
                             "observed": float(fraction), "mask": k, "r2": summarize(scores)["r2"]})
    return pd.DataFrame(rows)


def at_fraction(sweep: pd.DataFrame, fraction: float = QUOTED_FRACTION) -> pd.DataFrame:
    """Mean R² over masks at one observed fraction: rows (cohort, data), one column per method."""
    part = sweep[np.isclose(sweep["observed"], fraction)]
    if part.empty:
        raise ValueError(f"the sweep has no observed fraction {fraction}; it has {sorted(sweep['observed'].unique())}")
    return part.groupby(["cohort", "data", "method"])["r2"].mean().unstack()


def fraction_values(table: pd.DataFrame, methods: dict[str, str]) -> dict[str, float]:
    """Values of an :func:`at_fraction` table for the book's prose: ``tcga_<cohort>_<gtex|shifted>_<key>`` for each
    method label → key of ``methods`` (e.g. ``{"GAIN-GTEx": "gain"}``)."""
    out = {}
    for (cohort, data), row in table.iterrows():
        which = "gtex" if data.startswith("GTEx") else "shifted"
        for label, key in methods.items():
            out[f"tcga_{cohort.split('-')[0].lower()}_{which}_{key}"] = float(row[label])
    return out
