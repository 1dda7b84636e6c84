"""Blend weights for several imputations of the same entries, per gene and per tissue group, chosen by
cross-fitting on held-out entries (the validation donors' pseudo-masked entries, :mod:`.auto`).

Every candidate is a weighted least-squares fit, so everything works on sufficient statistics per (half, tissue
group, gene): the Gram matrix of the members' predictions ``Σ w p pᵀ``, ``Σ w p y``, ``Σ w y²`` and the entry
count. An entry's weight makes the loss the scored quantity: R² is averaged over genes within a tissue, then over
tissues, so a gene's share of the score is ``Σ_t SSE_t / SST_t``; each entry is weighted by ``1 / (n_t v_t)``
(:func:`entry_weights`).

The candidates (:func:`policies`), simplest first:

- ``overall member``: the one member with the lowest loss over every gene;
- ``overall blend``: one set of non-negative weights summing to one for every gene (a simplex-constrained least
  squares, solved as NNLS with a heavy row for the sum);
- ``member``: each gene's own best member;
- ``blend κ``: such weights per gene, pulled toward the overall blend with strength ``κ``;
- ``stack κ``: the same without the sum constraint (Breiman's stacked regression: it may also shrink toward 0, the
  training mean of the prepared scale);
- ``group blend κ``: simplex weights per gene and tissue group where the group has :data:`MIN_GROUP` entries of
  the gene, pulled toward the gene's ``blend κ`` (which a smaller group takes).

Each is fitted on one half of the donors and scored on the other, both ways; the one with the lowest loss over
all genes is refitted on both halves. A gene falls back to its own best member where that member beat the chosen
policy in both directions (:func:`choose`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

SINGLE = ("overall member", "member")  # the policies that use one member: the fallback
# How strongly per-gene (and per-group) weights are pulled toward the overall blend (the group's toward its gene's),
# in units of the cell's own data (:func:`shrunk`); the cross-fitting picks one.
KAPPAS = (0.1, 1.0, 10.0)
# A tissue group gets its own weights for a gene when the fitting half holds this many of its entries: with about
# ten members, fewer entries than a few per weight overfit (the cross-fitting then rejects them anyway, at a cost).
MIN_GROUP = 60
# A gene falls back to its best member only where that member's loss is this much lower than the policy's in both
# halves: choosing among members per gene is noisy, and on the smoke cohort a fallback on any win cost 0.004 R².
FALLBACK_MARGIN = 0.05
MIN_GENE = 10  # fewer entries of a gene in all: it keeps the policy (too little to justify a fallback)
MIN_TISSUE = 5  # a tissue's entries count as at least this many in its weight, as the scoring skips smaller ones
VAR_FLOOR = 0.05  # a tissue's variance of a gene is at least this share of the gene's (a near-constant tissue)
RIDGE = 1e-9  # relative: members that predict the same (mean and median) leave the Gram matrix singular
SUM_ROW = 1e3  # weight of the sum-to-one row against the scale of the Gram matrix


def entry_weights(y: np.ndarray, observed: np.ndarray, scored: np.ndarray, tissue: np.ndarray) -> np.ndarray:
    """``1 / (max(n_t, MIN_TISSUE) v_t)`` for every scored entry of gene ``j`` in tissue ``t`` (0 elsewhere):
    ``n_t`` its scored entries, ``v_t`` the variance of its observed values in the tissue (the gene's over every
    tissue where the tissue has fewer than three, and at least :data:`VAR_FLOOR` of it)."""
    y = np.where(observed > 0, y, 0.0).astype(np.float64)
    obs = (observed > 0).astype(np.float64)
    n_all = np.maximum(obs.sum(0), 1.0)
    mean_all = y.sum(0) / n_all
    var_all = np.maximum((obs * (y - mean_all) ** 2).sum(0) / n_all, 1e-6)
    out = np.zeros(y.shape, dtype=np.float64)
    for t in np.unique(tissue):
        rows = tissue == t
        o, v = obs[rows], y[rows]
        n = o.sum(0)
        mean = v.sum(0) / np.maximum(n, 1.0)
        var = np.where(n >= 3, (o * (v - mean) ** 2).sum(0) / np.maximum(n, 1.0), var_all)
        var = np.maximum(var, VAR_FLOOR * var_all)
        count = np.maximum(scored[rows].sum(0), MIN_TISSUE)
        out[rows] = scored[rows] / (count * var)
    return out


@dataclass
class Stats:
    """Weighted least-squares statistics per cell and gene: ``gram (C, J, M, M)``, ``cross (C, J, M)``,
    ``total (C, J)``, ``count (C, J)``."""

    gram: np.ndarray
    cross: np.ndarray
    total: np.ndarray
    count: np.ndarray

    def sum(self, axis: int) -> "Stats":
        return Stats(*(a.sum(axis) for a in (self.gram, self.cross, self.total, self.count)))

    def __add__(self, other: "Stats") -> "Stats":
        return Stats(self.gram + other.gram, self.cross + other.cross, self.total + other.total,
                     self.count + other.count)

    def __getitem__(self, key) -> "Stats":
        return Stats(self.gram[key], self.cross[key], self.total[key], self.count[key])


def statistics(pred: np.ndarray, y: np.ndarray, weight: np.ndarray, cell: np.ndarray, cells: int) -> Stats:
    """The statistics of predictions ``pred (M, R, J)`` of ``y (R, J)`` with entry weights ``weight`` (0 where not
    scored), summed per ``cell`` of each row (``0 … cells − 1``)."""
    M, R, J = pred.shape
    onehot = np.zeros((cells, R))
    onehot[cell, np.arange(R)] = 1.0  # sums over the rows of each cell are one matrix product
    w = np.asarray(weight, dtype=np.float64)
    p = [np.where(w > 0, pred[m], 0.0).astype(np.float64) for m in range(M)]
    yw = np.where(w > 0, y, 0.0).astype(np.float64) * w
    gram = np.empty((cells, J, M, M))
    for m in range(M):
        pw = p[m] * w
        for n in range(m, M):
            gram[:, :, m, n] = gram[:, :, n, m] = onehot @ (pw * p[n])
    cross = np.stack([onehot @ (yw * p[m]) for m in range(M)], axis=-1)
    total = onehot @ (yw * np.where(w > 0, y, 0.0))
    count = onehot @ (w > 0).astype(np.float64)
    return Stats(gram, cross, total, count)


def loss(weights: np.ndarray, s: Stats) -> np.ndarray:
    """``Σ w (y − pᵀ a)²`` for weights ``a (..., M)`` broadcast against the statistics."""
    quad = np.einsum("...m,...mn,...n->...", weights, s.gram, weights)
    return quad - 2.0 * np.einsum("...m,...m->...", weights, s.cross) + s.total


def solve(gram: np.ndarray, cross: np.ndarray, simplex: bool) -> np.ndarray:
    """Non-negative weights minimising ``aᵀ G a − 2 aᵀ b`` (summing to one with ``simplex``), by NNLS on a
    Cholesky factor of ``G``."""
    M = len(cross)
    scale = float(np.trace(gram)) / M
    if not np.isfinite(scale) or scale <= 0:
        return np.full(M, 1.0 / M)
    L = np.linalg.cholesky(gram + RIDGE * scale * np.eye(M) + 1e-300 * np.eye(M))
    A, d = L.T, np.linalg.solve(L, cross)  # |A a − d|² = aᵀ G a − 2 aᵀ b + const
    if simplex:
        rho = SUM_ROW * np.sqrt(scale)
        A, d = np.vstack([A, np.full((1, M), rho)]), np.append(d, rho)
    a = nnls(A, d, maxiter=50 * M)[0]
    if simplex:
        a = a / a.sum() if a.sum() > 0 else np.full(M, 1.0 / M)
    return a


def one_hot(best: np.ndarray, M: int) -> np.ndarray:
    return np.eye(M)[best]


def shrunk(s: Stats, toward: np.ndarray, kappa: float, simplex: bool) -> np.ndarray:
    """Per cell, the weights of :func:`solve` with a ridge ``λ |a − a₀|²`` toward ``toward (…, M)``; ``λ = κ`` ×
    the cell's mean member energy ``tr(G) / M``, so that ``κ`` is the prior's worth against the cell's own data
    whatever the cell's size."""
    shape, M = s.cross.shape[:-1], s.cross.shape[-1]
    gram, cross = s.gram.reshape(-1, M, M), s.cross.reshape(-1, M)
    a0 = np.broadcast_to(toward, (*shape, M)).reshape(-1, M)
    out = np.empty_like(cross)
    for c in range(len(cross)):
        lam = kappa * float(np.trace(gram[c])) / M
        out[c] = solve(gram[c] + lam * np.eye(M), cross[c] + lam * a0[c], simplex)
    return out.reshape(*shape, M)


def policies(s: Stats) -> dict[str, np.ndarray]:
    """Every candidate's weights, fitted on statistics ``s`` whose cells are tissue groups: ``{name: (G, J, M)}``,
    simplest first."""
    G, J, M = s.cross.shape
    gene = s.sum(0)
    overall = gene.sum(0)
    member_loss = np.diagonal(gene.gram, axis1=-2, axis2=-1) - 2.0 * gene.cross
    overall_loss = np.diagonal(overall.gram) - 2.0 * overall.cross
    blend = solve(overall.gram, overall.cross, True)
    out = {"overall member": one_hot(np.argmin(overall_loss), M), "overall blend": blend,
           "member": one_hot(np.argmin(member_loss, axis=-1), M)}
    grouped = s.count >= MIN_GROUP
    for kappa in KAPPAS:
        per_gene = shrunk(gene, blend, kappa, True)
        out[f"blend κ={kappa:g}"] = per_gene
        out[f"stack κ={kappa:g}"] = shrunk(gene, blend, kappa, False)
        group = np.broadcast_to(per_gene, (G, J, M)).copy()
        if grouped.any():
            group[grouped] = shrunk(s[grouped], np.broadcast_to(per_gene, (G, J, M))[grouped], kappa, True)
        out[f"group blend κ={kappa:g}"] = group
    return {k: np.broadcast_to(v, (G, J, M)) for k, v in out.items()}


@dataclass
class Blend:
    """The chosen weights: ``table (G + 1, J, M)`` (the last row: a group not seen on validation, which takes the
    gene's own weights); the policy chosen for every gene (``policy``), the genes that fell back to their best
    member (``fallback``), and each policy's cross-fitted loss over all genes (``oof``)."""

    table: np.ndarray
    policy: str
    fell_back: np.ndarray
    oof: dict

    def fallback(self) -> float:
        """The share of genes that took a single member."""
        return 1.0 if self.policy in SINGLE else float(self.fell_back.mean())

    def gain(self) -> float:
        """The cross-fitted loss of the chosen policy relative to the overall best member's (negative: better)."""
        best = self.oof["overall member"]
        return float(self.oof[self.policy] / best - 1.0) if best > 0 else 0.0


def choose(halves: Stats) -> Blend:
    """The cross-fitted choice on statistics with cells ``half * G + group`` (two halves of the donors).

    One policy for all genes, the one with the lowest cross-fitted loss summed over genes: choosing per gene among
    noisy losses overfits (on the smoke cohort it lost 0.01 R² to the overall blend it could have taken). Then
    each gene falls back to its own best member where that member's loss is lower than the policy's in both
    directions of the cross-fitting, by :data:`FALLBACK_MARGIN`."""
    C, J, M = halves.cross.shape
    G = C // 2
    parts = [halves[h * G:(h + 1) * G] for h in range(2)]
    per_gene: dict[str, list[np.ndarray]] = {}
    for f in range(2):
        for name, w in policies(parts[f]).items():
            per_gene.setdefault(name, []).append(loss(w, parts[1 - f]).sum(0))  # (J,) on the other half
    oof = {name: float(sum(v).sum()) for name, v in per_gene.items()}
    policy = min(oof, key=oof.get)  # dicts keep order: the first of equal losses is the simpler
    both = parts[0] + parts[1]
    final = policies(both)
    table = np.concatenate([final[policy], final[gene_level(policy)][:1]], axis=0)
    fell_back = np.zeros(J, dtype=bool)
    if policy not in SINGLE:
        fell_back = np.all([m < (1.0 - FALLBACK_MARGIN) * p for m, p in zip(per_gene["member"], per_gene[policy])],
                           axis=0)
    fell_back &= both.sum(0).count >= MIN_GENE
    table[:, fell_back] = final["member"][:1, fell_back]
    return Blend(table, policy, fell_back, oof)


def gene_level(policy: str) -> str:
    """The policy whose weights a tissue group unseen on validation takes."""
    return policy.replace("group blend", "blend")
