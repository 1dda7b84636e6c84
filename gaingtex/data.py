"""Preparation: donor-grouped splits, training-only standardisation, covariate encoding, extended test set, genes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import anndata as ad
import numpy as np
import pandas as pd

from . import reference
from .cohort import GTEX, donor_split

CATEGORICAL = ("tissue", "sex", "hardy")
NUMERIC = ("age",)


@dataclass(frozen=True)
class Standardizer:
    """Per-gene mean and standard deviation, estimated on the training split only."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, mask: np.ndarray | None = None) -> "Standardizer":
        """Estimate from ``x``; with a mask, from observed entries only (the in-place scenario)."""
        w = np.ones_like(x, dtype=np.float64) if mask is None else mask.astype(np.float64)
        xv = np.where(w > 0, x, 0.0).astype(np.float64)
        n = w.sum(axis=0)
        if (n < 2).any():
            raise ValueError(f"{int((n < 2).sum())} genes have fewer than 2 observed training values; "
                             "cannot standardise them")
        mean = xv.sum(axis=0) / n
        var = (w * (xv - mean) ** 2).sum(axis=0) / (n - 1)
        std = np.sqrt(var)
        std[std == 0] = 1.0
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return z * self.std + self.mean

    def subset(self, genes: np.ndarray) -> "Standardizer":
        return Standardizer(self.mean[genes], self.std[genes])


@dataclass(frozen=True)
class CovariateEncoder:
    """Turns an ``obs`` frame into model inputs: integer codes of ``tissue``, ``sex``, ``hardy`` and standardised
    ``age`` (training mean and standard deviation)."""

    categories: dict[str, tuple[str, ...]]
    age_mean: float
    age_std: float

    @classmethod
    def fit(cls, obs: pd.DataFrame) -> "CovariateEncoder":
        _check_columns(obs)
        cats = {}
        for column in CATEGORICAL:
            s = obs[column]
            values = s.cat.categories if isinstance(s.dtype, pd.CategoricalDtype) else sorted(s.astype(str).unique())
            cats[column] = tuple(str(v) for v in values)
        age = obs["age"].to_numpy(dtype=float)
        return cls(cats, float(age.mean()), float(age.std() or 1.0))

    @property
    def vocab_sizes(self) -> list[int]:
        return [len(self.categories[c]) for c in CATEGORICAL]

    def encode(self, obs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(samples, 3)`` int32 codes and ``(samples, 1)`` float32 standardised age."""
        _check_columns(obs)
        codes = np.empty((len(obs), len(CATEGORICAL)), dtype=np.int32)
        for j, column in enumerate(CATEGORICAL):
            values = obs[column].astype(str).to_numpy()
            lookup = {v: i for i, v in enumerate(self.categories[column])}
            unknown = sorted(set(values) - set(lookup))
            if unknown:
                raise ValueError(f"obs column {column!r} holds {unknown[:5]!r}, unseen when the encoder was fitted "
                                 f"(known: {len(lookup)} values such as {list(lookup)[:3]!r})")
            codes[:, j] = [lookup[v] for v in values]
        age = obs["age"].to_numpy(dtype=float)
        if np.isnan(age).any():
            raise ValueError("obs column 'age' has missing values")
        num = ((age - self.age_mean) / self.age_std).astype(np.float32)[:, None]
        return codes, num

    def to_config(self) -> dict:
        return {"categories": {k: list(v) for k, v in self.categories.items()},
                "age_mean": self.age_mean, "age_std": self.age_std}

    @classmethod
    def from_config(cls, config: dict) -> "CovariateEncoder":
        return cls({k: tuple(v) for k, v in config["categories"].items()}, config["age_mean"], config["age_std"])


def _check_columns(obs: pd.DataFrame) -> None:
    missing = [c for c in CATEGORICAL + NUMERIC if c not in obs.columns]
    if missing:
        raise KeyError(f"obs lacks the covariate columns {missing} (needed: {list(CATEGORICAL + NUMERIC)})")


@dataclass
class Split:
    """One split: standardised expression and its samples' annotations."""

    x: np.ndarray
    obs: pd.DataFrame

    def __len__(self) -> int:
        return self.x.shape[0]

    def take(self, index: np.ndarray) -> "Split":
        return Split(self.x[index], self.obs.iloc[index])


@dataclass
class Prepared:
    """A cohort ready for training: splits standardised with training statistics only.

    Attributes
    ----------
    train, valid, test
        Donor-disjoint splits of the GTEx samples.
    external
        Samples of the shifted (TCGA-like) cohorts, standardised like the rest; may be empty.
    genes
        Gene symbols (the columns).
    gene_index
        Positions of these genes among the cohort's genes (for the oracle).
    standardizer
        Training statistics used to standardise every split.
    """

    train: Split
    valid: Split
    test: Split
    external: Split
    genes: pd.Index
    gene_index: np.ndarray
    standardizer: Standardizer
    info: dict = field(default_factory=dict)


def prepare(adata: ad.AnnData, genes: Sequence[str] | None = None, seed: int = 0, resplit: bool = False) -> Prepared:
    """Split by donor and standardise every gene with training statistics.

    Parameters
    ----------
    adata
        Cohort with ``obs`` columns ``donor_id``, ``tissue``, ``sex``, ``age``, ``hardy`` and optionally ``split``
        and ``cohort``.
    genes
        Keep only these gene symbols (e.g. :func:`alzheimer_genes`); default all.
    seed
        Seed of the donor split when ``obs`` has no ``split`` column or ``resplit`` is set.
    resplit
        Ignore ``obs['split']`` and draw a new donor-grouped split.
    """
    obs = adata.obs
    for column in ("donor_id",) + CATEGORICAL + NUMERIC:
        if column not in obs.columns:
            raise KeyError(f"obs has no {column!r} column")
    gene_index = np.arange(adata.n_vars) if genes is None else select_genes(adata.var_names, genes)
    X = np.asarray(adata.X[:, gene_index], dtype=np.float32)
    if np.isnan(X).any():
        raise ValueError("the expression matrix holds NaN; impute or drop those entries before preparing")
    cohort = obs["cohort"].astype(str).to_numpy() if "cohort" in obs.columns else np.full(len(obs), GTEX)
    is_gtex = cohort == GTEX
    if "split" in obs.columns and not resplit:
        split = obs["split"].astype(str).to_numpy()
    else:
        assign = donor_split(obs.loc[is_gtex, "donor_id"].astype(str).to_numpy(), seed)
        split = np.where(is_gtex, obs["donor_id"].astype(str).map(assign).to_numpy(), "external")
    check_donor_split(obs["donor_id"].astype(str).to_numpy()[is_gtex], split[is_gtex])
    rows = {name: np.flatnonzero(split == name) for name in ("train", "valid", "test", "external")}
    for name in ("train", "valid", "test"):
        if len(rows[name]) == 0:
            raise ValueError(f"the {name} split is empty")
    empty = sorted(set(obs.loc[is_gtex, "tissue"].astype(str)) - set(obs["tissue"].astype(str).to_numpy()[rows["train"]]))
    if empty:
        raise ValueError(f"tissues with no training sample: {empty}; every tissue needs training data")
    std = Standardizer.fit(X[rows["train"]])
    splits = {name: Split(std.transform(X[r]), obs.iloc[r]) for name, r in rows.items()}
    return Prepared(splits["train"], splits["valid"], splits["test"], splits["external"],
                    adata.var_names[gene_index], gene_index, std,
                    info=dict(adata.uns.get("gaingtex", {})))


def check_donor_split(donors: np.ndarray, split: np.ndarray) -> None:
    """Raise if any donor appears in two splits."""
    frame = pd.DataFrame({"donor": donors, "split": split})
    n = frame.groupby("donor")["split"].nunique()
    leaked = n[n > 1].index.tolist()
    if leaked:
        raise ValueError(f"{len(leaked)} donors appear in more than one split (e.g. {leaked[:3]}); "
                         "splits must be grouped by donor")


def select_genes(var_names: Sequence[str], genes: Sequence[str]) -> np.ndarray:
    """Positions of ``genes`` among ``var_names``, with an error naming the absent ones."""
    lookup = {g: i for i, g in enumerate(var_names)}
    missing = [g for g in genes if g not in lookup]
    if missing:
        raise KeyError(f"{len(missing)} requested genes are not in the data, e.g. {missing[:5]}")
    if len(set(genes)) != len(genes):
        raise ValueError("the requested gene list has duplicates")
    return np.array([lookup[g] for g in genes])


def alzheimer_genes() -> list[str]:
    """The paper's 273 KEGG Alzheimer-pathway genes."""
    return list(reference.alzheimer_genes())


def extended_index(obs: pd.DataFrame, per_tissue: int | None = None) -> np.ndarray:
    """Row positions of the extended test set: each tissue's samples cycled to the same count.

    Parameters
    ----------
    obs
        The test split's annotations.
    per_tissue
        Rows per tissue; default the largest tissue's count (the paper's 342 on GTEx v8).
    """
    tissue = obs["tissue"].astype(str).to_numpy()
    groups = {t: np.flatnonzero(tissue == t) for t in pd.unique(tissue)}
    n = per_tissue or max(len(g) for g in groups.values())
    return np.concatenate([np.resize(groups[t], n) for t in sorted(groups)])
