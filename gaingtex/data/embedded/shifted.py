"""The shifted (TCGA-like) cohorts: perturbed copies of a GTEx tissue's model with cancer-specific factors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...config import CohortConfig

# (shifted cohort, the GTEx tissue it is derived from, fraction of male donors)
SHIFTED_COHORTS: tuple[tuple[str, str, float], ...] = (
    ("LAML-like", "Whole_Blood", 0.55),
    ("BRCA-like", "Breast_Mammary_Tissue", 0.0),
    ("LUAD-like", "Lung", 0.5),
)
# Fraction of each loading's variance replaced by noise, and extra cancer-specific factors.
SHIFT = {"perturbation": 0.25, "cancer_factors": 4, "cancer_share": 0.15}


def add_shifted_units(loadings: np.ndarray, amplitude: np.ndarray, target: np.ndarray, no_sex_effect: np.ndarray,
                      tissue_ids: list[str], rng: np.random.Generator) -> tuple:
    """Append one unit per shifted cohort: its tissue's loadings, perturbed, plus cancer-specific factors.

    Returns ``(units, loadings, amplitude, target)`` with the shifted cohorts after the tissues.
    """
    G = loadings.shape[0]
    units = list(tissue_ids)
    amp_units = [amplitude]
    targets = [target]
    for name, tissue, male in SHIFTED_COHORTS:
        ti = tissue_ids.index(tissue)
        active = np.flatnonzero(amplitude[ti])
        old = loadings[:, active] * amplitude[ti, active]
        rms = np.sqrt((old ** 2).mean(axis=0))
        eps = SHIFT["perturbation"]
        new = np.sqrt(1 - eps) * old + np.sqrt(eps) * rng.standard_normal(old.shape) * rms
        kc = SHIFT["cancer_factors"]
        cancer = rng.standard_normal((G, kc)) * np.sqrt(SHIFT["cancer_share"] / kc)
        start = loadings.shape[1]
        loadings = np.concatenate([loadings, new, cancer], axis=1)
        amp_units = [np.pad(a, ((0, 0), (0, new.shape[1] + kc))) for a in amp_units]
        a = np.zeros((1, loadings.shape[1]))
        a[0, start:] = 1.0
        amp_units.append(a)
        units.append(name)
        targets.append((target if 0 < male < 1 else no_sex_effect)[ti: ti + 1].copy())
    return units, loadings, np.concatenate(amp_units, axis=0), np.concatenate(targets, axis=0)


def shifted_obs(cfg: CohortConfig, rng: np.random.Generator) -> pd.DataFrame:
    frames = []
    for name, tissue, male in SHIFTED_COHORTS:
        n = cfg.n_shifted
        ids = [f"TCGA-{name[:2]}-{i:04d}" for i in range(n)]
        ages = np.clip(np.round(rng.normal(62, 11, n)), 20, 79).astype(int)
        frames.append(pd.DataFrame({
            "donor_id": ids,
            "tissue": tissue,
            "sex": np.where(rng.random(n) < male, "male", "female"),
            "age": ages,
            "age_bracket": [f"{a // 10 * 10}-{a // 10 * 10 + 9}" for a in ages],
            "hardy": "NA",
            "cohort": name,
            "split": "external",
        }, index=[f"{i}-01A" for i in ids]))
    return pd.concat(frames)
