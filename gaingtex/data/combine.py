"""One cohort from a reference cohort and external ones (TCGA cohorts from ``gaingtex xena``), for the book and the
benchmark: the external samples keep their own ``cohort`` and ``tissue`` and become ``split == "external"``.

Genes are matched by symbol. An external cohort's genes outside the reference are dropped, and reference genes it
lacks are NaN (missing, never zero); both are reported.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from .preprocessing import split_labels
from .schema import GTEX, validate


def with_split(cohort: ad.AnnData, seed: int = 0) -> ad.AnnData:
    """``cohort`` with ``obs["split"]``: its own when it has one, else the donor-grouped split drawn with ``seed``
    (as :func:`~gaingtex.data.prepare` would draw it)."""
    if "split" in cohort.obs:
        return cohort
    cohort = cohort.copy()
    cohort.obs["split"] = split_labels(cohort, seed)[0]
    return cohort


def with_external(cohort: ad.AnnData, externals: dict[str, ad.AnnData], seed: int = 0, report=print) -> ad.AnnData:
    """``cohort`` with the samples of each external cohort (``{file name: AnnData}``) appended as ``external``.
    A reference without ``obs["split"]`` gets its donor-grouped split drawn with ``seed`` first
    (:func:`with_split`).

    Raises ``ValueError`` naming the file when an external cohort holds GTEx samples, shares a sample id with
    another cohort, or has none of the reference's genes.
    """
    cohort = with_split(cohort, seed)
    if not externals:
        return cohort
    parts, seen = [cohort], set(map(str, cohort.obs_names))
    for source, ext in externals.items():
        ext = validate(ext, source)
        if "cohort" not in ext.obs or (ext.obs["cohort"].astype(str) == GTEX).any():
            raise ValueError(f"{source}: an external cohort needs obs['cohort'] naming it (such as 'BRCA'), not "
                             f"{GTEX!r}; make it with `gaingtex xena`")
        clash = sorted(seen & set(map(str, ext.obs_names)))
        if clash:
            raise ValueError(f"{source}: sample id {clash[0]!r} is already in another cohort ({len(clash)} shared); "
                             "sample ids must be unique")
        seen |= set(map(str, ext.obs_names))
        shared = cohort.var_names.intersection(ext.var_names)
        if len(shared) == 0:
            raise ValueError(f"{source}: none of its {ext.n_vars} genes is among the reference cohort's "
                             f"{cohort.n_vars} genes (genes are matched by symbol)")
        values = np.asarray(ext[:, shared].X, dtype=np.float32)
        x = np.full((ext.n_obs, cohort.n_vars), np.nan, dtype=np.float32)
        x[:, cohort.var_names.get_indexer(shared)] = values
        lacking = cohort.n_vars - len(shared) + int(np.isnan(values).all(axis=0).sum())  # absent, or all-NaN there
        dropped = ext.n_vars - len(shared)
        names = ", ".join(sorted(ext.obs["cohort"].astype(str).unique()))
        report(f"{source}: {ext.n_obs} samples of {names}; {lacking} of the reference's {cohort.n_vars} genes have "
               f"no value there (missing){f'; {dropped} genes outside the reference dropped' if dropped else ''}")
        obs = ext.obs.copy()
        obs["split"] = "external"
        parts.append(ad.AnnData(x, obs=obs, var=cohort.var.copy()))
    merged = ad.concat(parts, join="outer", merge="first", uns_merge="first")
    merged.var = cohort.var.copy()
    if "age_bracket" in merged.obs and merged.obs["age_bracket"].isna().any():
        merged.obs = merged.obs.drop(columns="age_bracket")
        report("the combined cohort has no age_bracket column: the external cohorts' ages are exact years, some "
               "outside GTEx's brackets")
    for column in merged.obs.columns:  # categories differ between the parts; the schema re-derives them
        if isinstance(merged.obs[column].dtype, pd.CategoricalDtype) or merged.obs[column].dtype == object:
            merged.obs[column] = merged.obs[column].astype(object)
    if "cohort" in merged.obs:
        merged.obs["cohort"] = merged.obs["cohort"].fillna(GTEX)
    return validate(merged, "the combined cohort")
