"""How tightly the brain tissues cluster in a learnt tissue embedding (paper Fig. 3), against random embeddings,
what the embedded cohort's design plants there, and the seeded UMAP used for maps."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ...data import reference
from ...data.masks import stream


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
    rng = stream(seed, "embedding-null")
    return pd.DataFrame([cluster_scores(rng.standard_normal(embedding.shape), labels, k) for _ in range(n)])


def umap_2d(x: np.ndarray, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
            pca: int | None = 50) -> np.ndarray:
    """A seeded 2-D UMAP of the rows of ``x`` (after PCA to ``pca`` components when ``x`` is wider).

    The neighbour graph is exact, from scikit-learn, and handed to UMAP: on the PCA's 50 dimensions that is quick
    for the book cohort's 15,201 samples, where UMAP's own approximate search (pynndescent) first compiles itself.
    A first call in a fresh process is much faster this way than with that search (benchmarks/README.md, "Notebook
    01's map")."""
    import umap
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    if pca is not None and x.shape[1] > pca and x.shape[0] > pca:
        x = PCA(pca, random_state=seed).fit_transform(x)
    k = min(n_neighbors, len(x) - 1)
    distances, indices = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(x)  # each row its own first neighbour
    reducer = umap.UMAP(n_neighbors=k, min_dist=min_dist, random_state=seed, n_jobs=1,
                        precomputed_knn=(indices, distances, None))
    with warnings.catch_warnings():  # that the map cannot place new rows (``transform``), which nothing asks of it
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        return reducer.fit_transform(x)


def permutation_p(observed: dict[str, float], null: pd.DataFrame) -> dict[str, float]:
    """One-sided p-value of each observed score against its null distribution, ``(#{null ≥ observed} + 1) /
    (n + 1)``: never 0, as a finite null cannot show."""
    return {k: float((np.sum(null[k] >= v) + 1) / (len(null) + 1)) for k, v in observed.items()}


def purity_check(embedding: np.ndarray, labels: np.ndarray, n: int = 500, seed: int = 0, k: int = 3,
                 level: float = 0.01) -> dict[str, float | bool]:
    """Whether the brain tissues cluster beyond chance in ``embedding``: its ``k``-NN purity against ``n`` random
    embeddings of the same shape (:func:`embedding_null`, notebook 07's reference). ``beats_null`` is true when the
    permutation p-value is at most ``level``, so a random embedding passes with probability at most ``level``.
    Returns the purity, the null's mean and ``1 - level`` quantile, the p-value, ``level`` and ``beats_null``."""
    observed = cluster_scores(embedding, labels, k)
    null = embedding_null(embedding, labels, n, seed, k)
    p = permutation_p(observed, null)["knn_purity"]
    return {"knn_purity": observed["knn_purity"], "silhouette": observed["silhouette"],
            "null_mean": float(null["knn_purity"].mean()),
            "null_quantile": float(null["knn_purity"].quantile(1 - level)), "p": p, "level": level,
            "beats_null": bool(p <= level)}


def design_embedding(model, tissues) -> np.ndarray:
    """The embedded cohort's own description of each tissue: the amplitudes of its generating model's latent
    factors in that tissue (``model`` a :class:`~gaingtex.data.embedded.factor_model.FactorModel`), tissues ×
    factors, in the order of ``tissues``. Tissues of one group share that group's factors and no other tissue has
    them, so the brain tissues cluster here by construction: scored as an embedding it says how much of a learnt
    cluster the cohort's design hands the model (on real data there is no such matrix)."""
    units = list(model.units)
    missing = [t for t in tissues if t not in units]
    if missing:
        raise ValueError(f"tissue {missing[0]!r} is not a unit of the cohort's generating model")
    return np.asarray(model.amplitude)[[units.index(t) for t in tissues]]
