"""The paper's evaluations as functions that return DataFrames: per-tissue scores, R² against the missing rate,
the shifted (TCGA-like) cohorts against the observed fraction, per-gene rankings, and how tightly the brain
tissues cluster in a tissue embedding. The notebooks call these and plot what they return."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import reference
from .cohort import GTEX, NAMED_MODULES, SHIFTED_COHORTS
from .data import Prepared, Split, extended_index
from .imputers import BloodSurrogate
from .masks import missing_mask
from .metrics import score_imputer, score_methods, summarize, summarize_methods
from .workflow import ScenarioData, scoring_scope


def scores_by_method(imputers: dict, data: ScenarioData, genes=None) -> pd.DataFrame:
    """Per method, tissue and gene: R², RMSE and the number of masked entries (a long table).

    Every method imputes the same matrix with the same mask (``data.eval``, ``data.eval_mask``).
    """
    return score_methods(imputers, data.eval.x, data.eval_mask, data.eval.obs, genes, by=data.scope)


def summary_table(scores: pd.DataFrame, reference_method: str = "oracle") -> pd.DataFrame:
    """One row per method: mean R² and RMSE (genes within tissue, then tissues), and R² as a fraction of
    ``reference_method``'s."""
    table = summarize_methods(scores)
    if reference_method in set(table["method"]):
        ref = float(table.loc[table["method"] == reference_method, "r2"].iloc[0])
        table["r2_vs_oracle"] = table["r2"] / ref
    return table


def blood_surrogate_r2(prepared: Prepared, missing_rate: float, rng: np.random.Generator | int) -> float | None:
    """R² of the blood surrogate on the test samples whose donor also gave Whole Blood (pooled over tissues,
    50 %-style MCAR mask); ``None`` when no test donor has both."""
    blood = BloodSurrogate(prepared.test).fit(prepared.train)
    covered = prepared.test.take(np.flatnonzero(blood.covers(prepared.test.obs)))
    if not len(covered):
        return None
    mask = missing_mask(*covered.x.shape, missing_rate, np.random.default_rng(rng))
    return summarize(score_imputer(blood, covered.x, mask, covered.obs, by="all")[0])["r2"]


def missing_rate_sweep(imputers: dict, prepared: Prepared, rates=(0.1, 0.3, 0.5, 0.7, 0.9), seed: int = 0,
                       per_tissue: int | None = None) -> pd.DataFrame:
    """R² of every method on the extended test set at several missing rates (the same mask for all methods at
    each rate). ``per_tissue`` caps the rows per tissue to keep the sweep quick."""
    ext = prepared.test.take(extended_index(prepared.test.obs, per_tissue))
    by = scoring_scope(prepared.test.obs["tissue"].astype(str).value_counts())
    rows = []
    for i, rate in enumerate(tqdm(rates, desc="missing rates", leave=False)):
        mask = missing_mask(*ext.x.shape, rate, np.random.default_rng([seed, 11, i]))
        for name, imputer in imputers.items():
            scores, seconds = score_imputer(imputer, ext.x, mask, ext.obs, by=by)
            rows.append({"method": name, "missing_rate": rate, **summarize(scores), "impute_seconds": seconds})
    return pd.DataFrame(rows)


def shifted_cohorts(prepared: Prepared) -> dict[str, tuple[str, Split, Split]]:
    """Each shifted cohort with its healthy tissue's name and that tissue's GTEx test samples, cycled (as in
    the extended test set) to the shifted cohort's size so that both sides are scored on as many entries."""
    out = {}
    ext, test = prepared.external, prepared.test
    for name, tissue, _ in SHIFTED_COHORTS:
        part = ext.take(np.flatnonzero(ext.obs["cohort"].astype(str).to_numpy() == name)) if len(ext) else ext
        rows = np.flatnonzero(test.obs["tissue"].astype(str).to_numpy() == tissue)
        if len(part) and len(rows):
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
            rng = np.random.default_rng([seed, 13, ci, label == cohort])
            mask = missing_mask(*split.x.shape, 1.0 - fraction, rng)
            for name, imputer in imputers.items():
                scores, _ = score_imputer(imputer, split.x, mask, split.obs, by="all", min_entries=min_entries)
                rows.append({"cohort": cohort, "tissue": tissue, "data": label, "method": name,
                             "observed": float(fraction), "mask": k, "r2": summarize(scores)["r2"]})
    return pd.DataFrame(rows)


class HealthyOracle:
    """The oracle of the healthy GTEx tissue: told that every sample, shifted or not, is from that tissue.

    It is the best that any model trained on GTEx alone can do; on a shifted cohort it is wrong by construction.
    """

    name = "oracle (healthy tissue)"

    def __init__(self, oracle):
        self.oracle = oracle

    def transform(self, x: np.ndarray, mask: np.ndarray, obs: pd.DataFrame) -> np.ndarray:
        healthy = obs.assign(cohort=GTEX) if "cohort" in obs else obs
        return self.oracle.transform(x, mask, healthy)


def gene_ranking(scores: pd.DataFrame, n: int = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per gene: mean R² over all tissues, over the brain tissues and over the others; returns the whole ranking
    (best first) and the ``n`` best and ``n`` worst genes stacked with a ``rank_group`` column."""
    group = reference.tissues()["group"]
    brain = scores["tissue"].map(group).eq("brain")
    per_gene = pd.DataFrame({
        "r2": scores.groupby("gene")["r2"].mean(),
        "r2_brain": scores[brain].groupby("gene")["r2"].mean(),
        "r2_other": scores[~brain].groupby("gene")["r2"].mean(),
    }).sort_values("r2", ascending=False).rename_axis("gene").reset_index()
    per_gene["rank"] = np.arange(1, len(per_gene) + 1)
    ends = pd.concat([per_gene.head(n).assign(rank_group=f"top {n}"),
                      per_gene.tail(n).assign(rank_group=f"last {n}")], ignore_index=True)
    return per_gene, ends


FAMILY_LABELS = {"respiratory_chain": "respiratory chain", "proteasome": "proteasome", "ribosome": "ribosome",
                 "wnt_calcium_signalling": "WNT / FZD / CALML"}


def family(symbol: str) -> str:
    """The named gene family of a symbol, by the same patterns the embedded cohort builds its modules from
    (:data:`gaingtex.cohort.NAMED_MODULES`; the WNT / FZD / CALML family also holds DVL and LRP5/6), labelled as
    the paper's Alzheimer figure names them; ``other`` for the rest."""
    for module, pattern, _ in NAMED_MODULES:
        if re.match(pattern, symbol):
            return FAMILY_LABELS[module]
    return "other"


# -------------------------------------------------------------------------------------------- tissue embeddings

def brain_labels(tissues) -> np.ndarray:
    """True for the 13 brain tissues."""
    group = reference.tissues()["group"]
    return np.asarray([group.get(t) == "brain" for t in tissues])


def cluster_scores(embedding: np.ndarray, labels: np.ndarray, k: int = 3) -> dict[str, float]:
    """How tightly the ``labels == True`` rows cluster: their mean silhouette (brain vs the rest, Euclidean) and
    their ``k``-nearest-neighbour purity (the fraction of each brain tissue's ``k`` nearest tissues that are
    brain, averaged)."""
    from sklearn.metrics import silhouette_samples
    from sklearn.neighbors import NearestNeighbors

    labels = np.asarray(labels, dtype=bool)
    if labels.sum() < 2 or (~labels).sum() < 1:
        raise ValueError("cluster scores need at least two brain tissues and one other tissue")
    silhouette = silhouette_samples(embedding, labels.astype(int))[labels].mean()
    nn = NearestNeighbors(n_neighbors=k + 1).fit(embedding)
    _, idx = nn.kneighbors(embedding[labels])
    purity = labels[idx[:, 1:]].mean()
    return {"silhouette": float(silhouette), "knn_purity": float(purity)}


def embedding_null(embedding: np.ndarray, labels: np.ndarray, n: int = 500, seed: int = 0, k: int = 3) -> pd.DataFrame:
    """Cluster scores of ``n`` random embeddings of the same shape (independent standard normal entries): what
    the scores look like when the embedding carries no tissue information."""
    rng = np.random.default_rng([seed, 17])
    return pd.DataFrame([cluster_scores(rng.standard_normal(embedding.shape), labels, k) for _ in range(n)])


def umap_2d(x: np.ndarray, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
            pca: int | None = 50) -> np.ndarray:
    """A seeded 2-D UMAP of the rows of ``x`` (after PCA to ``pca`` components when ``x`` is wider)."""
    import umap
    from sklearn.decomposition import PCA

    if pca is not None and x.shape[1] > pca and x.shape[0] > pca:
        x = PCA(pca, random_state=seed).fit_transform(x)
    reducer = umap.UMAP(n_neighbors=min(n_neighbors, len(x) - 1), min_dist=min_dist, random_state=seed,
                        n_jobs=1)
    return reducer.fit_transform(x)


# ------------------------------------------------------------------------------------------------------ cohort

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
    rng = np.random.default_rng([seed, 19])
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
