"""``make_cohort``: the embedded GTEx-shaped cohort, built from its design, genes and factor model."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from ... import __version__
from ...config import CohortConfig, cohort_config
from .. import reference
from ..schema import AGE_BRACKETS, GTEX, HARDY_LEVELS, SEXES, SPLITS, validate
from ..splits import donor_split
from .design import sample_design
from .factor_model import FactorModel, build_factor_model, encode_covariates
from .genes import assign_modules, choose_genes
from .shifted import SHIFTED_COHORTS, shifted_obs


def make_cohort(preset: str = "book", seed: int = 0, config: CohortConfig | None = None) -> ad.AnnData:
    """Generate the embedded cohort.

    Parameters
    ----------
    preset
        ``smoke``, ``teach``, ``book`` or ``paper`` (see :data:`gaingtex.config.COHORT_PRESETS`).
    seed
        Everything (design, genes, parameters, expression, split) follows from it.
    config
        Overrides the preset's :class:`~gaingtex.config.CohortConfig`.

    Returns
    -------
    AnnData with ``X`` (samples × genes, float32), ``obs`` (``donor_id``, ``tissue``, ``sex``, ``age``,
    ``age_bracket``, ``hardy``, ``cohort``, ``split``), ``var`` (``ensembl_id``, ``chromosome``, ``module``,
    ``alzheimer``), and ``uns['generator']`` holding the exact model parameters that the oracle uses.
    """
    cfg = config or cohort_config(preset)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 20210226]))
    tissues = reference.tissues()
    donors, samples = sample_design(cfg, rng)
    genes = choose_genes(cfg.n_genes, rng)
    module, kinds = assign_modules(genes, cfg, rng)
    genes["module"] = module

    d = donors  # samples["donor"] holds row positions into it
    obs = pd.DataFrame({
        "donor_id": d["donor_id"].to_numpy()[samples["donor"]],
        "tissue": samples["tissue"].to_numpy(),
        "sex": d["sex"].to_numpy()[samples["donor"]],
        "age": d["age"].to_numpy()[samples["donor"]],
        "age_bracket": d["age_bracket"].to_numpy()[samples["donor"]],
        "hardy": d["hardy"].to_numpy()[samples["donor"]],
        "cohort": GTEX,
    })
    abbrev = tissues["abbreviation"].to_dict()
    obs.index = [f"{donor}-{abbrev[t]}-SM-SYN" for donor, t in zip(obs["donor_id"], obs["tissue"])]
    split = donor_split(obs["donor_id"].to_numpy(), seed)
    obs["split"] = obs["donor_id"].map(split)
    obs = pd.concat([obs, shifted_obs(cfg, rng)])

    cov = encode_covariates(obs)
    unit_names = np.where(obs["cohort"] == GTEX, obs["tissue"], obs["cohort"])
    unit_cov = {u: cov[unit_names == u] for u in np.unique(unit_names)}
    model = build_factor_model(genes, module, kinds, unit_cov, cfg, rng)

    # expression
    X = np.empty((len(obs), len(genes)), dtype=np.float32)
    donor_codes, donor_uniques = pd.factorize(obs["donor_id"])
    donor_latent = rng.standard_normal((len(donor_uniques), len(model.donor_factors)))
    for u, name in enumerate(model.units):
        rows = np.flatnonzero(unit_names == name)
        active, L = model.unit_loadings(u)
        f = rng.standard_normal((len(rows), len(active)))
        is_donor = np.isin(active, model.donor_factors)
        if is_donor.any():
            f[:, is_donor] = donor_latent[donor_codes[rows]][:, np.searchsorted(model.donor_factors, active[is_donor])]
        eps = rng.standard_normal((len(rows), len(genes)), dtype=np.float32)
        X[rows] = model.mean(u, cov[rows]) + f @ L.T + eps * np.sqrt(model.noise[u])

    for column, cats in (("tissue", list(tissues.index)), ("sex", list(SEXES)), ("hardy", list(HARDY_LEVELS)),
                         ("age_bracket", list(AGE_BRACKETS)), ("split", list(SPLITS)),
                         ("cohort", [GTEX] + [c for c, _, _ in SHIFTED_COHORTS])):
        obs[column] = pd.Categorical(obs[column], categories=cats)
    obs["age"] = obs["age"].astype(int)
    adata = ad.AnnData(X=X, obs=obs, var=genes)
    adata.uns["generator"] = model.to_dict()
    adata.uns["gaingtex"] = {"preset": cfg.name, "seed": int(seed), "version": __version__, "kind": "embedded"}
    adata.uns["tissue_colors"] = np.array([tissues.loc[t, "colour_hex"] for t in tissues.index], dtype=object)
    return validate(adata, f"embedded cohort ({cfg.name}, seed {seed})")


def factor_model(adata: ad.AnnData) -> FactorModel:
    """The generating model stored in an embedded cohort (raises for real data, which has none)."""
    if "generator" not in adata.uns:
        raise ValueError("this AnnData holds no generating model (uns['generator']): the oracle needs the embedded "
                         "cohort made by `gaingtex cohort`")
    return FactorModel.from_dict(adata.uns["generator"])

