"""The embedded cohort's generating model: a tissue-conditional linear-Gaussian factor model, and its parameters.

Expression of sample ``i`` (tissue ``t``, donor ``d``, covariates ``c_i``) is, gene by gene,

    x_i = r_t ⊙ (β (c_i − c̄_t) + (B · a_t) f_i) + sqrt(ψ_t) ⊙ ε_i,   f_i, ε_i ~ N(0, I)

where ``B`` holds the loadings of every latent factor (shared by all tissues, by a tissue group, by one tissue,
by one gene module, or by all samples of a donor), ``a_t`` switches and scales the factors active in tissue
``t``, ``β`` holds covariate effects, and the row scale ``r_t`` and noise ``ψ_t`` are set so that every gene has
mean 0 and variance 1 within every tissue, as GTEx's per-tissue inverse-normal transform makes them. Donor
factors are drawn once per donor and shared by all of its samples. Because the model is known, the best
possible imputation is known too (:mod:`gaingtex.imputers.oracle`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...config import CohortConfig
from .. import reference
from ..schema import HARDY_LEVELS, SEXES
from .shifted import add_shifted_units

# Mean predictability (fraction of a gene's variance the model explains) of each tissue group: a design choice
# that echoes the spread of the paper's per-tissue R² (cell lines lowest, gastrointestinal tissues highest).
GROUP_PREDICTABILITY = {"cells": 0.52, "blood_immune": 0.62, "brain": 0.72, "gastrointestinal": 0.78}
DEFAULT_PREDICTABILITY = 0.68
# Raw variance shares of the latent components of an ordinary gene before each row is rescaled.
SHARE = {"shared": 0.35, "group": 0.25, "module": 0.30, "tissue": 0.01, "donor": 0.06}
MODULE_SHARE = {"strong": 0.9, "normal": 0.3, "weak": 0.08}
# Log-normal spread of each factor's amplitude between tissue groups and between tissues of one group: how much a
# tissue's co-expression differs from its group's and the group's from the others'.
AMPLITUDE_SD = {"shared": (0.12, 0.03), "group": (0.0, 0.03), "module": (0.15, 0.03), "donor": (0.1, 0.03)}
MODULE_PREDICTABILITY = {"strong": 1.22, "weak": 0.4}


@dataclass
class FactorModel:
    """Parameters of the generating model, one *unit* per GTEx tissue and per shifted cohort.

    Attributes
    ----------
    units
        Unit names: the tissue ids, then the shifted cohorts' names.
    loadings
        ``(genes, factors)`` loading matrix ``B`` of every latent factor.
    amplitude
        ``(units, factors)`` scale of each factor in each unit; 0 where the factor is absent.
    scale
        ``(units, genes)`` row scale ``r``.
    noise
        ``(units, genes)`` residual variance ``ψ``.
    beta
        ``(genes, covariates)`` covariate effects.
    covariate_mean
        ``(units, covariates)`` centring ``c̄`` of each unit's covariate vector.
    donor_factors
        Indices of the factors drawn once per donor.
    genes
        Gene symbols of the loadings' rows, in order: the oracle matches a cohort's genes to them by name.
    """

    units: list[str]
    loadings: np.ndarray
    amplitude: np.ndarray
    scale: np.ndarray
    noise: np.ndarray
    beta: np.ndarray
    covariate_mean: np.ndarray
    donor_factors: np.ndarray
    genes: list[str]

    def unit_index(self, name: str) -> int:
        try:
            return self.units.index(name)
        except ValueError:
            raise KeyError(f"unknown tissue or cohort {name!r}: the generating model has {len(self.units)} units")

    def gene_index(self, genes) -> np.ndarray:
        """Rows of the model's genes for ``genes``, matched by symbol; an error names genes it does not know."""
        from ..preprocessing import select_genes

        try:
            return select_genes(self.genes, list(genes))
        except KeyError as err:
            raise ValueError(f"{err.args[0]} (the generating model's {len(self.genes)} genes): the oracle needs the "
                             "embedded cohort's own genes") from None

    def unit_loadings(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        """Active factor indices and the ``(genes, active)`` scaled loading matrix ``r ⊙ B a`` of unit ``u``."""
        active = np.flatnonzero(self.amplitude[u])
        return active, (self.loadings[:, active] * self.amplitude[u, active]) * self.scale[u][:, None]

    def mean(self, u: int, covariates: np.ndarray) -> np.ndarray:
        """``(samples, genes)`` conditional mean of unit ``u`` given encoded covariates."""
        return ((covariates - self.covariate_mean[u]) @ self.beta.T) * self.scale[u]

    def to_dict(self) -> dict:
        return {
            "units": np.array(self.units, dtype=object),
            "loadings": self.loadings,
            "amplitude": self.amplitude,
            "scale": self.scale,
            "noise": self.noise,
            "beta": self.beta,
            "covariate_mean": self.covariate_mean,
            "donor_factors": self.donor_factors,
            "genes": np.array(self.genes, dtype=object),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "FactorModel":
        return cls(
            units=[str(u) for u in d["units"]],
            **{k: np.asarray(d[k]) for k in ("loadings", "amplitude", "scale", "noise", "beta", "covariate_mean")},
            donor_factors=np.asarray(d["donor_factors"], dtype=int),
            genes=[str(g) for g in d["genes"]],
        )


def encode_covariates(obs: pd.DataFrame) -> np.ndarray:
    """Generator's covariate vector per sample: ``[male, (age − 50) / 15, one-hot Hardy scale (0–4, NA)]``."""
    for column in ("sex", "age", "hardy"):
        if column not in obs.columns:
            raise KeyError(f"obs has no {column!r} column (needed columns: sex, age, hardy)")
    sex = obs["sex"].astype(str).to_numpy()
    bad = sorted(set(sex) - set(SEXES))
    if bad:
        raise ValueError(f"obs column 'sex' holds {bad!r}: expected 'female' or 'male'")
    hardy = obs["hardy"].astype(str).to_numpy()
    bad = sorted(set(hardy) - set(HARDY_LEVELS))
    if bad:
        raise ValueError(f"obs column 'hardy' holds {bad!r}: expected one of {HARDY_LEVELS}")
    out = np.zeros((len(obs), 2 + len(HARDY_LEVELS)))
    out[:, 0] = sex == "male"
    out[:, 1] = (obs["age"].to_numpy(dtype=float) - 50.0) / 15.0
    out[np.arange(len(obs)), 2 + np.searchsorted(np.array(HARDY_LEVELS), hardy)] = 1.0
    return out


def build_factor_model(
    genes: pd.DataFrame,
    module: np.ndarray,
    kinds: dict[str, str],
    unit_covariates: dict[str, np.ndarray],
    cfg: CohortConfig,
    rng: np.random.Generator,
) -> FactorModel:
    tissues = reference.tissues()
    tissue_ids = list(tissues.index)
    groups = sorted(tissues["group"].unique())
    group_of = tissues["group"].to_dict()
    G, T = len(genes), len(tissue_ids)
    module_names = sorted(kinds)
    mod_idx = np.array([module_names.index(m) for m in module])
    n_mod = len(module_names)

    blocks: list[np.ndarray] = []  # loading columns
    amp_blocks: list[np.ndarray] = []  # (T, columns)
    g_z = {g: rng.standard_normal(1024) for g in groups}  # group-level draws reused across blocks

    def tissue_amp(k: int, offset: int, group_sd: float, tissue_sd: float) -> np.ndarray:
        out = np.empty((T, k))
        for ti, t in enumerate(tissue_ids):
            z_g = g_z[group_of[t]][offset: offset + k]
            out[ti] = np.exp(group_sd * z_g + tissue_sd * rng.standard_normal(k))
        return out

    # shared factors: every tissue, amplitudes varying by group and tissue
    ks = cfg.n_shared_factors
    blocks.append(rng.standard_normal((G, ks)) * np.sqrt(SHARE["shared"] / ks))
    amp_blocks.append(tissue_amp(ks, 0, *AMPLITUDE_SD["shared"]))
    # group factors: only in the tissues of one group
    kg = cfg.n_group_factors
    for g in groups:
        blocks.append(rng.standard_normal((G, kg)) * np.sqrt(SHARE["group"] / kg))
        a = np.zeros((T, kg))
        for ti, t in enumerate(tissue_ids):
            if group_of[t] == g:
                a[ti] = np.exp(AMPLITUDE_SD["group"][1] * rng.standard_normal(kg))
        amp_blocks.append(a)
    # module factors: one per module, loading only its genes
    load = np.zeros((G, n_mod))
    for m, name in enumerate(module_names):
        members = np.flatnonzero(mod_idx == m)
        share = MODULE_SHARE.get(kinds[name], MODULE_SHARE["normal"])
        if kinds[name] == "normal":
            share *= rng.uniform(0.6, 1.4)
        signs = np.where(rng.random(len(members)) < 0.9, 1.0, -1.0)
        load[members, m] = np.sqrt(share) * rng.uniform(0.7, 1.3, len(members)) * signs
    blocks.append(load)
    amp_blocks.append(tissue_amp(n_mod, 100, *AMPLITUDE_SD["module"]))
    # tissue-specific factors
    kt = cfg.n_tissue_factors
    for ti in range(T):
        blocks.append(rng.standard_normal((G, kt)) * np.sqrt(SHARE["tissue"] / kt))
        a = np.zeros((T, kt))
        a[ti] = 1.0
        amp_blocks.append(a)
    # donor factors: drawn once per donor, shared by all of its tissues
    kd = cfg.n_donor_factors
    donor_start = sum(b.shape[1] for b in blocks)
    blocks.append(rng.standard_normal((G, kd)) * np.sqrt(SHARE["donor"] / kd))
    amp_blocks.append(tissue_amp(kd, 500, *AMPLITUDE_SD["donor"]))

    loadings = np.concatenate(blocks, axis=1)
    amplitude = np.concatenate(amp_blocks, axis=1)
    donor_factors = np.arange(donor_start, donor_start + kd)

    # covariate effects: small sex, age and Hardy effects for every gene, a dominant sex effect for chrY genes
    P = 2 + len(HARDY_LEVELS)
    beta = np.concatenate(
        [rng.normal(0, 0.12, (G, 1)), rng.normal(0, 0.1, (G, 1)), rng.normal(0, 0.12, (G, len(HARDY_LEVELS)))],
        axis=1,
    )
    chr_y = module == "chrY"
    beta[chr_y, 0] = 10.0 * rng.uniform(0.8, 1.2, chr_y.sum())

    # per-gene, per-tissue predictability (explained variance): tissue level × module level × gene jitter
    base = np.array(
        [np.clip(GROUP_PREDICTABILITY.get(group_of[t], DEFAULT_PREDICTABILITY) + rng.normal(0, 0.04), 0.3, 0.9)
         for t in tissue_ids]
    )
    mod_pred = np.array(
        [MODULE_PREDICTABILITY.get(kinds[m], rng.uniform(0.85, 1.1)) for m in module_names]
    )[mod_idx]
    target = base[:, None] * mod_pred[None, :] * np.exp(0.15 * rng.standard_normal((T, G)))
    target = np.clip(target, 0.03, 0.95)
    no_sex_effect = target.copy()  # chrY genes where every donor has the same sex
    both_sexes = np.array([tissues.loc[t, "donor_sex"] == "both" for t in tissue_ids])
    target[np.ix_(both_sexes, chr_y)] = 0.97

    units, loadings, amplitude, target = add_shifted_units(loadings, amplitude, target, no_sex_effect, tissue_ids, rng)

    # row scale and noise so that each gene has mean 0, variance 1 in every unit
    U = len(units)
    scale = np.empty((U, G))
    cov_mean = np.empty((U, P))
    for u, name in enumerate(units):
        c = unit_covariates[name]
        cov_mean[u] = c.mean(axis=0)
        cov_var = np.einsum("gp,pq,gq->g", beta, np.cov(c, rowvar=False, bias=True).reshape(P, P), beta)
        factor_var = ((loadings * amplitude[u]) ** 2).sum(axis=1)
        scale[u] = np.sqrt(target[u] / (factor_var + cov_var))
    return FactorModel(
        units=units,
        loadings=loadings.astype(np.float32),
        amplitude=amplitude.astype(np.float32),
        scale=scale.astype(np.float32),
        noise=(1.0 - target).astype(np.float32),
        beta=beta.astype(np.float32),
        covariate_mean=cov_mean.astype(np.float32),
        donor_factors=donor_factors,
        genes=list(genes.index),
    )
