"""The embedded GTEx-shaped cohort: GTEx v8's design with expression from a known linear-Gaussian factor model.

Expression of sample ``i`` (tissue ``t``, donor ``d``, covariates ``c_i``) is, gene by gene,

    x_i = r_t ⊙ (β (c_i − c̄_t) + (B · a_t) f_i) + sqrt(ψ_t) ⊙ ε_i,   f_i, ε_i ~ N(0, I)

where ``B`` holds the loadings of every latent factor (shared by all tissues, by a tissue group, by one tissue,
by one gene module, or by all samples of a donor), ``a_t`` switches and scales the factors active in tissue
``t``, ``β`` holds covariate effects, and the row scale ``r_t`` and noise ``ψ_t`` are set so that every gene has
mean 0 and variance 1 within every tissue, as GTEx's per-tissue inverse-normal transform makes them. Donor
factors are drawn once per donor and shared by all of its samples. Because the model is known, the best
possible imputation is known too (:mod:`gaingtex.oracle`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from . import __version__, reference
from ._io import atomic_path
from .config import CohortConfig, cohort_config

SEXES = ("female", "male")
HARDY_LEVELS = ("0", "1", "2", "3", "4", "NA")
AGE_BRACKETS = ("20-29", "30-39", "40-49", "50-59", "60-69", "70-79")
SPLITS = ("train", "valid", "test", "external")
GTEX = "GTEx"
# (shifted cohort, the GTEx tissue it is derived from, fraction of male donors)
SHIFTED_COHORTS: tuple[tuple[str, str, float], ...] = (
    ("LAML-like", "Whole_Blood", 0.55),
    ("BRCA-like", "Breast_Mammary_Tissue", 0.0),
    ("LUAD-like", "Lung", 0.5),
)
Y_GENES = ("RPS4Y1", "DDX3Y", "UTY", "KDM5D", "EIF1AY", "ZFY", "USP9Y", "NLGN4Y", "TXLNGY", "PCDH11Y")
# Named gene families: (module name, symbol pattern, kind). Strong modules are tightly co-expressed and well
# predicted; weak ones are loosely co-expressed and poorly predicted, as in the paper's Alzheimer figure.
NAMED_MODULES: tuple[tuple[str, str, str], ...] = (
    ("respiratory_chain", r"^(NDUF[ABCSV]\d+|COX[4-8][A-C]?\d?|UQCR\w*|SDH[A-D]|ATP5\w+)$", "strong"),
    ("proteasome", r"^PSM[A-G]\d+$", "strong"),
    ("ribosome", r"^RP[LS]\d+[A-Z]?\d*$", "strong"),
    ("wnt_calcium_signalling", r"^(WNT\d+\w*|FZD\d+|CALML\d+|DVL\d|LRP[56])$", "weak"),
)
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
# Shifted cohorts: fraction of each loading's variance replaced by noise, and extra cancer-specific factors.
SHIFT = {"perturbation": 0.25, "cancer_factors": 4, "cancer_share": 0.15}
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
    """

    units: list[str]
    loadings: np.ndarray
    amplitude: np.ndarray
    scale: np.ndarray
    noise: np.ndarray
    beta: np.ndarray
    covariate_mean: np.ndarray
    donor_factors: np.ndarray

    def unit_index(self, name: str) -> int:
        try:
            return self.units.index(name)
        except ValueError:
            raise KeyError(f"unknown tissue or cohort {name!r}: the generating model has {len(self.units)} units")

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
        }

    @classmethod
    def from_dict(cls, d: dict) -> "FactorModel":
        return cls(
            units=[str(u) for u in d["units"]],
            **{k: np.asarray(d[k]) for k in ("loadings", "amplitude", "scale", "noise", "beta", "covariate_mean")},
            donor_factors=np.asarray(d["donor_factors"], dtype=int),
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


# ----------------------------------------------------------------------------------------------------------- design

def _scaled_counts(counts: dict[str, int], total: int) -> dict[str, int]:
    """Largest-remainder rounding of ``counts`` to a new ``total``."""
    keys = list(counts)
    raw = np.array([counts[k] for k in keys], dtype=float) * total / sum(counts.values())
    out = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - out))[: total - out.sum()]:
        out[i] += 1
    return dict(zip(keys, out.tolist()))


def _sample_design(cfg: CohortConfig, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Donors (sex, age, Hardy scale) and their samples (donor, tissue) with GTEx v8's counts."""
    tissues = reference.tissues()
    summary = reference.donor_summary()
    section = {name: dict(zip(g["value"], g["donors"])) for name, g in summary.groupby("section")}
    n_donors_full = sum(section["sex"].values())
    per_tissue = tissues["eqtl_samples"].to_dict()
    per_donor_hist = {int(k): v for k, v in section["tissues_per_donor"].items()}
    if cfg.sample_fraction >= 1.0:
        n_donors = n_donors_full
        k = np.repeat(list(per_donor_hist), list(per_donor_hist.values()))
    else:
        per_tissue = {
            t: max(cfg.min_samples_per_tissue, int(round(n * cfg.sample_fraction))) for t, n in per_tissue.items()
        }
        n_donors = max(cfg.min_samples_per_tissue * 2, int(round(n_donors_full * cfg.sample_fraction)))
        k = rng.choice(np.repeat(list(per_donor_hist), list(per_donor_hist.values())), size=n_donors)
    sexes = np.repeat(SEXES, [_scaled_counts(section["sex"], n_donors)[s] for s in SEXES])
    sexes = rng.permutation(sexes)
    k = rng.permutation(k)
    # Each donor can give at most one sample per tissue it is eligible for.
    eligible = {
        s: np.array([tissues.loc[t, "donor_sex"] in ("both", s) for t in tissues.index]) for s in SEXES
    }
    cap = np.array([eligible[s].sum() for s in sexes])
    k = np.minimum(k, cap)
    n_samples = sum(per_tissue.values())
    while k.sum() != n_samples:  # adjust a scaled-down design to the exact sample total
        if k.sum() < n_samples:
            i = rng.choice(np.flatnonzero(k < cap))
            k[i] += 1
        else:
            i = rng.choice(np.flatnonzero(k > 1))
            k[i] -= 1
    # Greedy bipartite realisation: fill the sex-specific tissues first, then the others from largest to smallest,
    # each from the eligible donors with the most places left (random order among equals).
    remaining = k.astype(float)
    order = sorted(tissues.index, key=lambda t: (tissues.loc[t, "donor_sex"] == "both", -per_tissue[t]))
    rows = []
    for t in order:
        need = per_tissue[t]
        ok = np.array([tissues.loc[t, "donor_sex"] in ("both", s) for s in sexes]) & (remaining > 0)
        candidates = np.flatnonzero(ok)
        if len(candidates) < need:
            raise RuntimeError(f"cannot place {need} samples of {t}: only {len(candidates)} donors have room")
        priority = remaining[candidates] + rng.random(len(candidates))
        chosen = candidates[np.argsort(-priority)[:need]]
        remaining[chosen] -= 1
        rows.extend((d, t) for d in chosen)
    if remaining.sum() != 0:
        raise RuntimeError("the donor design could not be realised exactly; try another seed")
    # Donor attributes: age bracket and Hardy scale with the summary's counts.
    brackets = rng.permutation(np.repeat(AGE_BRACKETS, [_scaled_counts(section["age_bracket"], n_donors)[b]
                                                        for b in AGE_BRACKETS]))
    hardy_counts = _scaled_counts(section["hardy_scale"], n_donors)
    hardy = rng.permutation(np.repeat(HARDY_LEVELS, [hardy_counts[h] for h in HARDY_LEVELS]))
    lows = np.array([int(b[:2]) for b in brackets])
    ages = lows + rng.integers(0, 10, size=n_donors)
    ids = _donor_ids(n_donors, rng)
    donors = pd.DataFrame(
        {"donor_id": ids, "sex": sexes, "age": ages, "age_bracket": brackets, "hardy": hardy, "n_tissues": k}
    )
    samples = pd.DataFrame(rows, columns=["donor", "tissue"])
    samples = samples.sort_values(["donor", "tissue"], kind="stable").reset_index(drop=True)
    return donors, samples


def _donor_ids(n: int, rng: np.random.Generator, prefix: str = "GTEX-S") -> list[str]:
    alphabet = np.array(list("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"))
    ids: set[str] = set()
    out = []
    while len(out) < n:
        candidate = prefix + "".join(rng.choice(alphabet, size=4))
        if candidate not in ids:
            ids.add(candidate)
            out.append(candidate)
    return out


# ------------------------------------------------------------------------------------------------------------ genes

def _choose_genes(n_genes: int, rng: np.random.Generator) -> pd.DataFrame:
    """Real protein-coding genes: the Alzheimer pathway, Y-linked and named families first, then random others."""
    table = reference.protein_coding_genes().drop_duplicates("symbol").set_index("symbol")
    ad_genes = list(reference.alzheimer_genes())
    missing = sorted(set(ad_genes) - set(table.index))
    if missing:
        raise ValueError(f"Alzheimer genes not in the protein-coding list: {missing}")
    required = list(dict.fromkeys(ad_genes + [g for g in Y_GENES if g in table.index]))
    if n_genes < len(required):
        raise ValueError(f"n_genes={n_genes} is below the {len(required)} genes every cohort includes")
    others = np.array(sorted(set(table.index) - set(required)))
    family = np.array([any(re.match(p, s) for _, p, _ in NAMED_MODULES) for s in others])
    n_rest = n_genes - len(required)
    # Families are taken with priority (up to a third of the remaining genes) so that modules are visible.
    fam = rng.permutation(others[family])[: min(family.sum(), n_rest // 3)]
    rest = rng.permutation(others[~family])[: n_rest - len(fam)]
    symbols = sorted(required + list(fam) + list(rest))
    genes = pd.DataFrame(
        {"ensembl_id": table.loc[symbols, "ensembl_gene_id"].to_numpy(), "chromosome": table.loc[symbols, "contig"]},
        index=pd.Index(symbols, name="symbol"),
    )
    genes["alzheimer"] = genes.index.isin(ad_genes)
    return genes


def _assign_modules(genes: pd.DataFrame, cfg: CohortConfig, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Module of every gene (named families, ``chrY``, then generic ``module_NN``) and each module's kind."""
    module = np.empty(len(genes), dtype=object)
    kinds: dict[str, str] = {}
    for i, (sym, chrom) in enumerate(zip(genes.index, genes["chromosome"])):
        if chrom == "Y":
            module[i] = "chrY"
            kinds["chrY"] = "sex"
            continue
        for name, pattern, kind in NAMED_MODULES:
            if re.match(pattern, sym):
                module[i] = name
                kinds[name] = kind
                break
    free = np.flatnonzero(module == None)  # noqa: E711 (object array)
    n_generic = max(4, int(round(len(free) / cfg.genes_per_module)))
    labels = rng.integers(0, n_generic, size=len(free))
    for j in range(n_generic):
        kinds[f"module_{j:03d}"] = "normal"
    module[free] = [f"module_{j:03d}" for j in labels]
    return module.astype(str), kinds


# ------------------------------------------------------------------------------------------------------ factor model

def _build_factor_model(
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

    units = list(tissue_ids)
    amp_units = [amplitude]
    targets = [target]
    # shifted cohorts: perturbed copies of their tissue's loadings plus cancer-specific factors
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
    amplitude = np.concatenate(amp_units, axis=0)
    target = np.concatenate(targets, axis=0)

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
    )


def _shifted_obs(cfg: CohortConfig, rng: np.random.Generator) -> pd.DataFrame:
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


def donor_split(donors: np.ndarray, seed: int, test: float = 0.25, valid: float = 0.2) -> dict[str, str]:
    """Assign every donor to ``train``, ``valid`` or ``test``: ``test`` of the donors to test, then ``valid`` of the rest
    to validation (the paper's 75/25 then 80/20, ≈ 60/15/25). No donor is in two splits by construction."""
    unique = np.array(sorted(set(donors)))
    if len(unique) < 3:
        raise ValueError(f"a donor split needs at least 3 donors, got {len(unique)}")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(unique)
    n_test = max(1, int(round(len(unique) * test)))
    n_valid = max(1, int(round((len(unique) - n_test) * valid)))
    out = {d: "test" for d in perm[:n_test]}
    out.update({d: "valid" for d in perm[n_test: n_test + n_valid]})
    out.update({d: "train" for d in perm[n_test + n_valid:]})
    return out


# ------------------------------------------------------------------------------------------------------------ build

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
    donors, samples = _sample_design(cfg, rng)
    genes = _choose_genes(cfg.n_genes, rng)
    module, kinds = _assign_modules(genes, cfg, rng)
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
    obs = pd.concat([obs, _shifted_obs(cfg, rng)])

    cov = encode_covariates(obs)
    unit_names = np.where(obs["cohort"] == GTEX, obs["tissue"], obs["cohort"])
    unit_cov = {u: cov[unit_names == u] for u in np.unique(unit_names)}
    model = _build_factor_model(genes, module, kinds, unit_cov, cfg, rng)

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
    return adata


def factor_model(adata: ad.AnnData) -> FactorModel:
    """The generating model stored in an embedded cohort (raises for real data, which has none)."""
    if "generator" not in adata.uns:
        raise ValueError("this AnnData holds no generating model (uns['generator']): the oracle needs the embedded "
                         "cohort made by `gaingtex cohort`")
    return FactorModel.from_dict(adata.uns["generator"])


def write_h5ad(adata: ad.AnnData, path: str | os.PathLike) -> Path:
    """Write ``adata`` atomically: to a temporary file beside ``path``, then renamed over it."""
    with atomic_path(path, suffix=".h5ad") as tmp:
        adata.write_h5ad(tmp)
    return Path(path)


def read_h5ad(path: str | os.PathLike) -> ad.AnnData:
    """Read a cohort written by :func:`write_h5ad`, with a clear error for a missing or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cohort file {path} does not exist (make one with `gaingtex cohort --out {path}`)")
    adata = ad.read_h5ad(path)
    for column in ("donor_id", "tissue", "sex", "age", "hardy", "split"):
        if column not in adata.obs.columns:
            raise ValueError(f"{path}: obs has no {column!r} column; expected a gaingtex cohort")
    return adata
