"""The cohort described: tissues, donors, sex-specific tissues, co-expression similarity between tissues."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...data import GTEX, reference
from ...data.masks import stream


def tissue_table(obs: pd.DataFrame) -> pd.DataFrame:
    """Per tissue: samples (= donors, since no donor gives a tissue twice), GTEx v8's genotyped count, the
    share of female donors, and samples per split."""
    gtex = obs[obs["cohort"].astype(str) == GTEX] if "cohort" in obs else obs
    ref = reference.tissues()
    table = pd.crosstab(gtex["tissue"].astype(str), gtex["split"].astype(str))
    table.insert(0, "samples", table.sum(axis=1))
    table.insert(1, "donors", gtex.groupby(gtex["tissue"].astype(str), observed=True)["donor_id"].nunique())
    table.insert(2, "gtex_v8_samples", ref["eqtl_samples"].reindex(table.index).astype(int))
    female = gtex["sex"].astype(str).eq("female").groupby(gtex["tissue"].astype(str)).mean()
    table.insert(3, "female_share", female.reindex(table.index).round(2))
    table.insert(4, "group", ref["group"].reindex(table.index))
    return table.sort_values("samples", ascending=False).rename_axis("tissue")


def tissues_per_donor(obs: pd.DataFrame) -> pd.Series:
    """Number of tissues sampled per donor (GTEx samples only)."""
    gtex = obs[obs["cohort"].astype(str) == GTEX] if "cohort" in obs else obs
    return gtex.groupby(gtex["donor_id"].astype(str))["tissue"].nunique()


def coexpression_similarity(x: np.ndarray, tissues, n_genes: int = 200, seed: int = 0) -> pd.DataFrame:
    """How alike two tissues' co-expression is: the correlation, across gene pairs, of their gene–gene
    correlation matrices (on ``n_genes`` random genes). Tissues are ordered by group, then name.

    After per-tissue standardisation every tissue has the same gene means and variances, so this — which genes
    move together — is what tells tissues apart.
    """
    rng = stream(seed, "coexpression")
    tissues = np.asarray(tissues).astype(str)
    genes = rng.choice(x.shape[1], size=min(n_genes, x.shape[1]), replace=False)
    upper = np.triu_indices(len(genes), k=1)
    group = reference.tissues()["group"]
    names = sorted(np.unique(tissues), key=lambda t: (str(group.get(t)), t))
    profiles = np.stack([np.corrcoef(x[tissues == t][:, genes], rowvar=False)[upper] for t in names])
    return pd.DataFrame(np.corrcoef(profiles), index=names, columns=names)


def reference_tissues_per_donor_mean() -> float:
    """The real GTEx v8 eQTL cohort's mean number of tissues per donor (from the shipped donor summary)."""
    s = reference.donor_summary()
    s = s[s["section"] == "tissues_per_donor"]
    return float((s["value"].astype(int) * s["donors"]).sum() / s["donors"].sum())


def sex_specific(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a :func:`tissue_table` whose tissue has donors of one sex only in GTEx v8 (shipped facts)."""
    sexes = reference.tissues(in_paper_only=False)["donor_sex"]
    return table.loc[[t for t in table.index if sexes.get(t, "both") != "both"], ["samples", "female_share"]]
