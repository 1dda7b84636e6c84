"""Preparation: training-only standardisation of observed entries, covariate encoding, splits as arrays, the
extended test set and gene subsets."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import anndata as ad
import numpy as np
import pandas as pd

from . import reference
from .schema import SPLITS, SchemaWarning, is_gtex, validate
from .splits import check_donor_split, donor_split

CATEGORICAL = ("tissue", "sex", "hardy")
NUMERIC = ("age",)


BLOCK_ENTRIES = 1 << 20  # entries per block of the standardiser's float64 work (8 MB per temporary)


@dataclass(frozen=True)
class Standardizer:
    """Per-gene mean and standard deviation, estimated on the training split only."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, mask: np.ndarray | None = None, names: Sequence[str] | None = None,
            rows: np.ndarray | None = None) -> "Standardizer":
        """Estimate from ``x`` (only its ``rows`` when given); with a mask, from observed entries only (NaN entries
        never count).

        The sums are float64, taken over blocks of genes: a float64 copy of a whole cohort (15,201 × 12,557) would
        be 1.5 GB, several at once. Each gene's sums run over the same values in the same order as over the whole
        matrix, so the result does not depend on the blocks."""
        x = np.asarray(x)
        mask = None if mask is None else np.asarray(mask)
        index = slice(None) if rows is None else np.asarray(rows)
        genes = x.shape[1]
        mean, var, n = (np.empty(genes) for _ in range(3))
        step = max(1, BLOCK_ENTRIES // max(len(x) if rows is None else len(index), 1))
        for start in range(0, genes, step):
            cols = slice(start, start + step)
            xb = x[index, cols]
            w = ~np.isnan(xb) if mask is None else (mask[index, cols] > 0) & ~np.isnan(xb)
            w = w.astype(np.float64)
            xv = np.where(w > 0, xb, 0.0).astype(np.float64)
            n[cols] = w.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):  # a gene with < 2 values is refused below
                mean[cols] = xv.sum(axis=0) / n[cols]
                var[cols] = (w * (xv - mean[cols]) ** 2).sum(axis=0) / (n[cols] - 1)
        if (n < 2).any():
            few = np.flatnonzero(n < 2)
            named = [names[i] for i in few[:3]] if names is not None else list(few[:3])
            raise ValueError(f"{len(few)} genes have fewer than 2 observed training values (e.g. {named}); "
                             "cannot standardise them")
        std = np.sqrt(var)
        std[std == 0] = 1.0
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def transform(self, x: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """``(x − mean) / std`` as float32 (of ``x[rows]`` when given, without copying the rest), computed in
        place: one output array, no temporaries the size of ``x``."""
        x = np.asarray(x)
        if rows is None:
            z = x - self.mean
            z /= self.std
            return z.astype(np.float32, copy=False)
        rows = np.asarray(rows)
        z = np.empty((len(rows), x.shape[1]), dtype=np.float32)
        step = max(1, BLOCK_ENTRIES // max(x.shape[1], 1))
        for start in range(0, len(rows), step):
            z[start:start + step] = self.transform(x[rows[start:start + step]])
        return z

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
            missing = obs[column].isna().to_numpy()
            if missing.any():
                raise ValueError(f"obs column {column!r} is missing for {int(missing.sum())} samples (e.g. "
                                 f"{obs.index[missing][0]}); every sample needs a value")
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
    """One split: standardised expression (NaN where missing) and its samples' annotations.

    Attributes
    ----------
    x
        ``(samples, genes)`` float32 in the standardised scale; NaN marks a missing entry.
    obs
        The samples' annotations.
    genes
        Gene symbols of the columns (``None`` for an anonymous matrix).
    scale
        The :class:`Standardizer` that put ``x`` in this scale (``None`` when unknown).
    """

    x: np.ndarray
    obs: pd.DataFrame
    genes: pd.Index | None = None
    scale: Standardizer | None = None

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def mask(self) -> np.ndarray:
        """0/1 float32 mask of the observed (non-NaN) entries."""
        return (~np.isnan(self.x)).astype(np.float32)

    def take(self, index: np.ndarray) -> "Split":
        return Split(self.x[index], self.obs.iloc[index], self.genes, self.scale)

    def with_values(self, x: np.ndarray) -> "Split":
        """The same samples, genes and scale with other values (e.g. the true values of hidden entries)."""
        return Split(np.asarray(x, dtype=np.float32), self.obs, self.genes, self.scale)


@dataclass
class Prepared:
    """A cohort ready for training: splits standardised with statistics of the observed training entries only.

    Attributes
    ----------
    train, valid, test
        Donor-disjoint splits of the GTEx samples.
    external
        Samples of the shifted (TCGA-like) cohorts, standardised like the rest; may be empty.
    genes
        Gene symbols (the columns).
    gene_index
        Positions of these genes among the cohort's genes.
    standardizer
        Training statistics used to standardise every split.
    rows
        Positions of each split's samples among the cohort's samples.
    info
        The cohort's ``uns["gaingtex"]``, plus ``split_seed`` when the donor split was drawn here.
    """

    train: Split
    valid: Split
    test: Split
    external: Split
    genes: pd.Index
    gene_index: np.ndarray
    standardizer: Standardizer
    rows: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict = field(default_factory=dict)


def split_labels(adata: ad.AnnData, seed: int = 0, resplit: bool = False) -> tuple[np.ndarray, bool]:
    """Each sample's split: ``obs["split"]`` when present (and not ``resplit``), else a donor-grouped split of the
    GTEx samples drawn with ``seed`` (shifted cohorts are ``external``). Returns the labels and whether they were
    drawn here."""
    obs = adata.obs
    gtex = is_gtex(obs)
    if "split" in obs.columns and not resplit:
        return obs["split"].astype(str).to_numpy(), False
    assign = donor_split(obs.loc[gtex, "donor_id"].astype(str).to_numpy(), seed)
    return np.where(gtex, obs["donor_id"].astype(str).map(assign).to_numpy(), "external"), True


def prepare(adata: ad.AnnData, genes: Sequence[str] | None = None, seed: int = 0, resplit: bool = False,
            source: str = "cohort", validated: bool = False) -> Prepared:
    """Validate, split by donor and standardise every gene with statistics of its observed training entries.

    Parameters
    ----------
    adata
        Cohort in the schema of :mod:`gaingtex.data.schema`; NaN entries are missing and stay NaN.
    genes
        Keep only these gene symbols (e.g. :func:`alzheimer_genes`); default all.
    seed
        Seed of the donor split when ``obs`` has no ``split`` column or ``resplit`` is set; the split is recorded
        in every split's ``obs["split"]`` and the seed in ``info["split_seed"]``.
    resplit
        Ignore ``obs['split']`` and draw a new donor-grouped split.
    source
        The cohort's name in error messages (its file name).
    validated
        ``adata`` has passed :func:`~gaingtex.data.schema.validate` already and has since only lost values to a
        mask (a scenario's), which may leave a sample with nothing observed: skip the check.
    """
    if not validated:
        adata = validate(adata, source)
    obs = adata.obs
    gene_index = np.arange(adata.n_vars) if genes is None else select_genes(adata.var_names, genes)
    X = np.asarray(adata.X[:, gene_index], dtype=np.float32)
    split, drawn = split_labels(adata, seed, resplit)
    gtex = is_gtex(obs)
    check_donor_split(obs["donor_id"].to_numpy()[gtex], split[gtex])
    rows = {name: np.flatnonzero(split == name) for name in SPLITS}
    for name in ("train", "valid", "test"):
        if len(rows[name]) == 0:
            raise ValueError(f"{source}: the {name} split is empty")
    tissue = obs["tissue"].astype(str).to_numpy()
    empty = sorted(set(tissue[gtex]) - set(tissue[rows["train"]]))
    if empty:
        raise ValueError(f"{source}: tissues with no training sample: {empty}; every tissue needs training data")
    names = adata.var_names[gene_index]
    std = Standardizer.fit(X[rows["train"]], names=names)
    splits = {name: Split(std.transform(X[r]), obs.iloc[r].assign(split=pd.Categorical(split[r], categories=SPLITS)),
                          names, std) for name, r in rows.items()}
    _check_range(splits, source)
    info = dict(adata.uns.get("gaingtex", {}))
    if drawn:
        info["split_seed"] = int(seed)
    return Prepared(splits["train"], splits["valid"], splits["test"], splits["external"], names, gene_index, std,
                    rows, info)


FAR = 50.0  # standardised values beyond ±FAR training standard deviations are warned about


def _check_range(splits: dict, source: str) -> None:
    """Warn about values far outside the standardised range (a gene in other units, a typo such as 1e30):
    they pass the schema but dominate every squared error."""
    for name, split in splits.items():
        with np.errstate(invalid="ignore"):
            far = np.abs(split.x) > FAR
        if far.any():
            i, j = np.argwhere(far)[0]
            raw = split.x[i, j] * split.scale.std[j] + split.scale.mean[j] if split.scale is not None else split.x[i, j]
            warnings.warn(f"{source}: {int(far.sum())} {name} values lie more than {FAR:g} training standard "
                          f"deviations from their gene's training mean, first {raw:.4g} at sample {split.obs.index[i]}, "
                          f"gene {split.genes[j]}; check that every value is on the same (log or normalised) scale",
                          SchemaWarning, stacklevel=3)


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


PANEL_SIZE = 59  # the size of the real GTEx v8 panel on which a per-tissue Gaussian beat PMI (59 genes × 15,201)


def panel_genes(var_names: Sequence[str], n: int = PANEL_SIZE) -> list[str]:
    """A small gene panel of a cohort: ``n`` genes evenly spaced along its gene order (so, in the embedded cohort,
    spread over its co-expression modules), the size of a real targeted panel."""
    if len(var_names) < n:
        raise ValueError(f"a {n}-gene panel needs at least {n} genes; the cohort has {len(var_names)}")
    index = np.unique(np.linspace(0, len(var_names) - 1, n).round().astype(int))
    return [str(var_names[i]) for i in index]


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
