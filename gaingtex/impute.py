"""``gaingtex impute``: fill every missing (NaN) entry of a user's cohort, in place, with a registered method.

The method trains on the cohort's observed entries — a donor-grouped tenth-or-so of the donors held out for
validation (early stopping, factor counts) — and then imputes every sample. Observed values come back bit for bit.
"""

from __future__ import annotations

import anndata as ad
import numpy as np

from . import __version__
from .data import Split, Standardizer, validate
from .evaluation.masks import stream
from .imputers import registry

VALID_SHARE = 0.15


def validation_donors(obs, seed: int) -> np.ndarray:
    """A donor-grouped validation subset (stream ``"user"``); donors of a tissue that would otherwise have no
    training sample stay in training."""
    donors = obs["donor_id"].astype(str).to_numpy()
    tissue = obs["tissue"].astype(str).to_numpy()
    unique = np.unique(donors)
    if len(unique) < 3:
        return np.zeros(len(obs), dtype=bool)
    chosen = set(stream(seed, "user").choice(unique, size=max(1, int(round(VALID_SHARE * len(unique)))),
                                             replace=False))
    valid = np.isin(donors, list(chosen))
    orphan = set(tissue[valid]) - set(tissue[~valid])
    if orphan:
        valid &= ~np.isin(donors, np.unique(donors[np.isin(tissue, list(orphan))]))
    return valid


def impute_cohort(adata: ad.AnnData, method: str, preset: str = "book", seed: int = 0, source: str = "input",
                  progress: bool = False) -> ad.AnnData:
    """A copy of ``adata`` with every NaN filled by ``method`` (in place), recording what was done in
    ``uns["gaingtex_impute"]``."""
    spec = registry.spec(method)
    if not spec.supports("inplace"):
        raise ValueError(f"method {spec.name!r} cannot fill a cohort in place (it supports {', '.join(spec.scenarios)})")
    adata = validate(adata, source)
    X = np.asarray(adata.X, dtype=np.float32)
    observed = ~np.isnan(X)
    generator = None
    if spec.needs_generator:
        from .data.embedded import factor_model

        generator = factor_model(adata)
    valid = validation_donors(adata.obs, seed)
    scale = Standardizer.fit(X[~valid], names=adata.var_names)
    Z = scale.transform(X)
    train, held = (Split(Z[rows], adata.obs.iloc[rows], adata.var_names, scale)
                   for rows in (np.flatnonzero(~valid), np.flatnonzero(valid)))
    imputer = registry.get(spec.name, scenario="inplace", preset=preset, seed=seed, generator=generator,
                           progress=progress)
    imputer.fit(train, held if len(held) else None)
    filled = scale.inverse(imputer.transform(Z, observed.astype(np.float32), adata.obs))
    out = np.where(observed, X, filled).astype(np.float32)
    result = ad.AnnData(X=out, obs=adata.obs.copy(), var=adata.var.copy(), uns=dict(adata.uns))
    result.uns["gaingtex_impute"] = {"method": spec.name, "preset": preset, "seed": int(seed),
                                     "filled_fraction": float(1.0 - observed.mean()),
                                     "filled_entries": int((~observed).sum()), "validation_samples": int(valid.sum()),
                                     "version": __version__}
    return result
