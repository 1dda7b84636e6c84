"""The shifted (TCGA-like) cohorts beside their healthy GTEx tissue, against the observed fraction (paper Fig. 4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ...data import Prepared, Split
from ...data.masks import missing_mask, stream
from ..metrics import summarise
from ..scoring import score_imputer

# The observed fraction at which the book quotes Fig. 4 (the paper's figure text compares cohorts at 45 %).
QUOTED_FRACTION = 0.45


def shifted_cohorts(prepared: Prepared) -> dict[str, tuple[str, Split, Split]]:
    """Each shifted cohort (the embedded cohort's TCGA-like ones, or TCGA cohorts from ``gaingtex xena``) with
    its healthy tissue's name and that tissue's GTEx test samples, cycled (as in the extended test set) to the
    shifted cohort's size so that both sides are scored on as many entries. A cohort whose tissue has no GTEx
    test sample is left out."""
    out = {}
    ext, test = prepared.external, prepared.test
    names = ext.obs["cohort"].astype(str).to_numpy() if len(ext) else np.array([], dtype=str)
    for name in pd.unique(names):
        part = ext.take(np.flatnonzero(names == name))
        tissue = str(part.obs["tissue"].astype(str).mode().iloc[0])
        rows = np.flatnonzero(test.obs["tissue"].astype(str).to_numpy() == tissue)
        if len(rows):
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
                             "observed": float(fraction), "mask": k, "r2": summarise(scores)["r2"]})
    return pd.DataFrame(rows)


def at_fraction(sweep: pd.DataFrame, fraction: float = QUOTED_FRACTION) -> pd.DataFrame:
    """Mean R² over masks at one observed fraction: rows (cohort, data), one column per method."""
    part = sweep[np.isclose(sweep["observed"], fraction)]
    if part.empty:
        raise ValueError(f"the sweep has no observed fraction {fraction}; it has {sorted(sweep['observed'].unique())}")
    return part.groupby(["cohort", "data", "method"])["r2"].mean().unstack()


def pairs(table: pd.DataFrame, method: str) -> dict[str, tuple[str, float, float]]:
    """Each cohort of an :func:`at_fraction` table: its GTEx tissue, ``method``'s R² on that tissue and on the
    cohort."""
    out = {}
    for cohort in pd.unique(table.index.get_level_values("cohort")):
        rows = table.loc[cohort][method]
        gtex = next(d for d in rows.index if d.startswith("GTEx "))
        shifted = next(d for d in rows.index if not d.startswith("GTEx "))
        out[cohort] = (gtex.removeprefix("GTEx ").replace("_", " "), float(rows[gtex]), float(rows[shifted]))
    return out


def fraction_sentence(table: pd.DataFrame, method: str) -> str:
    """One clause per cohort, for the prose: ``"BRCA 0.41 against 0.72 on Breast"``, joined by semicolons."""
    return "; ".join(f"{cohort} {shifted:.2f} against {gtex:.2f} on {tissue}"
                     for cohort, (tissue, gtex, shifted) in pairs(table, method).items())


def paper_rows(table: pd.DataFrame, method: str = "GAIN-GTEx", missing: str = "not in this build") -> dict[str, str]:
    """The paper's three Fig. 4 comparisons as ``"<GTEx tissue> vs <cohort>"`` R² text for the narrative pages,
    keyed ``paper_tcga_laml`` / ``_brca`` / ``_luad`` (an embedded ``LAML-like`` counts as LAML); a cohort the
    build lacks reads ``missing``."""
    found = {cohort.split("-")[0].upper(): values for cohort, values in pairs(table, method).items()}
    return {f"paper_tcga_{code.lower()}": f"{found[code][1]:.2f} vs {found[code][2]:.2f}" if code in found else missing
            for code in ("LAML", "BRCA", "LUAD")}
