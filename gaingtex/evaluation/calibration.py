"""How sure is an imputed value: the calibration measures of a method's predictive distribution on masked entries,
in the same scoring path as R² (:func:`gaingtex.evaluation.comparison.run_method` adds them to every row).

- ``coverage_90``: the share of hidden entries inside the nominal 90 % interval; ``coverage_90_worst_gene``: the
  mean coverage of the decile of genes with the lowest coverage; ``coverage_90_worst_tissue``: the lowest
  coverage of a tissue scored on at least :data:`~.metrics.MIN_SAMPLES` distinct samples;
- ``width_90``: the mean interval width (prepared scale: gene standard deviations);
- ``crps``: the mean continuous ranked probability score (``scoringrules``: ``crps_normal`` for a Gaussian
  method, the exact CRPS of the conformal residual distribution for the others);
- ``pit``: the histogram of the PIT values (flat when calibrated), not in rows.

With the oracle's exact posterior (:func:`exact_reference`, the embedded cohort's generating model) on the same
entries, the width and CRPS are also given as ratios to the ideal's. With a perfectly calibrated method and
``G`` genes of ``n`` entries each, the worst decile's coverage still sits about 1.75 sd of a gene's coverage
(sqrt(0.09/n) from the test entries, as much again from the gene's calibration) below 0.9: it is a noisy floor,
not a bias.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .._parallel import run_parallel
from ..imputers.base import BudgetExceeded
from ..imputers.conformal import calibrate, calibrate_holdout, own_spread
from ..imputers.predictive import Predictive, predictive
from . import metrics

LEVEL = 0.9
PIT_BINS = 10
WORST_SHARE = 0.1  # the decile of genes
MIN_GENE_ENTRIES = 10  # fewer scored entries: a gene's coverage is too coarse to rank


# Entries measured at once: a block of rows whose float64 temporaries stay near 100 MB, where the whole matrix's
# took most of a machine's memory at the paper's size (benchmarks/README.md, "The book on a GTEx download of the
# paper's size"). The measures are the same as in one piece, bit for bit.
BLOCK_ENTRIES = 1 << 22


def measures(pred: Predictive, y: np.ndarray, entries: np.ndarray, obs: pd.DataFrame, level: float = LEVEL,
             pit_bins: int | None = None, by_tissue: bool = False) -> dict:
    """Coverage (overall, worst gene decile, worst tissue), mean width and CRPS of ``pred`` at ``entries`` (a
    boolean matrix of the hidden entries whose truth ``y`` is known). ``pit_bins``: also the share of PIT values
    in each of that many equal bins of [0, 1] (``"pit"``, counted a block at a time: the values themselves
    would be 433 MB at the paper's size); ``by_tissue``: also every scored tissue's coverage, mean width and
    entries (``"tissues"``)."""
    entries = np.asarray(entries, dtype=bool)
    tag = f"{round(level * 100):d}"
    names, tissue = np.unique(obs["tissue"].astype(str).to_numpy(), return_inverse=True)
    step = max(1, BLOCK_ENTRIES // max(entries.shape[1], 1))

    def block(start: int) -> tuple:
        """One block of rows' sums by gene and by tissue, its widths, CRPS and PIT histogram."""
        rows = slice(start, start + step)
        part, e, truth, t = pred.rows(start, start + step), entries[rows], y[rows], tissue[rows]
        lo, hi = part.interval(level)
        inside = (truth >= lo) & (truth <= hi) & e
        per_row = e.sum(axis=1)
        width = (hi - lo)[e]
        c, p = part.crps_pit(truth, e)
        return (inside.sum(axis=0),
                np.bincount(t, weights=inside.sum(axis=1), minlength=len(names)).astype(np.int64),
                np.bincount(t, weights=per_row, minlength=len(names)).astype(np.int64),
                np.bincount(np.repeat(t, per_row), weights=width, minlength=len(names)), width, c,
                np.histogram(np.clip(p, 0.0, 1.0), bins=pit_bins, range=(0.0, 1.0))[0] if pit_bins else None)

    # Blocks on every core, summed in their order, so the measures are those of one thread bit for bit. The first
    # runs alone: it builds what the calibration computes on first use (its search keys and its cells' E|S − S'|),
    # which the others then share.
    starts = list(range(0, len(entries), step))
    parts = [block(s) for s in starts[:1]] + run_parallel([lambda s=s: block(s) for s in starts[1:]])
    covered_gene = np.zeros(entries.shape[1], dtype=np.int64)
    covered, scored, width_sum = (np.zeros(len(names), dtype=dtype) for dtype in (np.int64, np.int64, np.float64))
    pit = np.zeros(pit_bins or 0, dtype=np.int64)
    for by_gene, by_tissue_covered, by_tissue_scored, by_tissue_width, _, _, histogram in parts:
        covered_gene += by_gene
        covered += by_tissue_covered
        scored += by_tissue_scored
        width_sum += by_tissue_width
        if pit_bins:
            pit += histogram
    widths, crps = [part[4] for part in parts], [part[5] for part in parts]
    n_gene = entries.sum(axis=0)
    per_gene = np.where(n_gene >= MIN_GENE_ENTRIES, covered_gene / np.maximum(n_gene, 1), np.nan)
    ranked = np.sort(per_gene[~np.isnan(per_gene)])
    worst = ranked[: max(1, int(round(WORST_SHARE * len(ranked))))] if len(ranked) else ranked
    samples = pd.Series(obs.index).groupby(tissue).nunique().reindex(range(len(names)), fill_value=0).to_numpy()
    ranked_tissues = (scored > 0) & (samples >= metrics.MIN_SAMPLES)
    n = int(scored.sum())
    out = {f"coverage_{tag}": float(covered.sum() / n) if n else np.nan,
           f"width_{tag}": float(np.concatenate(widths).mean()), "crps": float(np.mean(np.concatenate(crps))),
           f"coverage_{tag}_worst_gene": float(worst.mean()) if len(worst) else np.nan,
           f"coverage_{tag}_worst_tissue": float(min(covered[ranked_tissues] / scored[ranked_tissues]))
           if ranked_tissues.any() else np.nan}
    if pit_bins:
        out["pit"] = (pit / max(int(pit.sum()), 1)).tolist()
    if by_tissue:
        kept = scored > 0
        out["tissues"] = pd.DataFrame({"tissue": names[kept], "coverage": covered[kept] / scored[kept],
                                       "width": width_sum[kept] / scored[kept], "entries": scored[kept]})
    return out


def exact_reference(oracle, x: np.ndarray, mask: np.ndarray, obs: pd.DataFrame, center: np.ndarray,
                    level: float = LEVEL, detail: bool = False) -> dict | None:
    """The oracle's exact Gaussian posterior, uncalibrated (it is the truth's conditional law): its measures on
    the hidden entries, each named ``exact_…``; ``None`` when the oracle has no spread (yet). ``detail``: also
    its PIT histogram and per-tissue table (``"pit"``, ``"tissues"``, as :func:`measures` gives them)."""
    if not own_spread(oracle):
        return None
    pred = predictive(oracle, None, x, mask, obs, center=center)
    entries = (mask == 0) & ~np.isnan(x)
    m = measures(pred, x, entries, obs, level, PIT_BINS if detail else None, by_tissue=detail)
    return {k if k in ("pit", "tissues") else f"exact_{k}": v for k, v in m.items()}


def scenario_predictive(imputer, data, x_hat: np.ndarray, mask: np.ndarray) -> Predictive:
    """A fitted method's calibrated predictive distribution on ``data.eval``, whose imputation ``x_hat`` (shown
    where ``mask > 0``) is reused. Inductive: calibrated on the validation donors, leaving as many entries shown as
    ``mask`` shows. In place: on the scenario's held-out training entries (``data.held``), imputed in ``x_hat``
    itself. (A deep model's own calibration, made at training time for a user's files, is not used: it hid half
    of each validation row, whatever the scenario.)"""
    x, obs = data.eval.x, data.eval.obs
    if data.held is None:
        return donors_predictive(imputer, data, x_hat, mask)
    # the spread of the one imputation both calibrate and predict with, computed once (a Gaussian's costs minutes)
    sigma = imputer.spread(np.where(mask > 0, x, np.nan).astype(np.float32), mask, obs) if own_spread(imputer) else None
    cal = calibrate_holdout(imputer, x, mask, obs, data.held, data.held_values, x_hat, sigma=sigma)
    return predictive(imputer, cal, x, mask, obs, center=x_hat, sigma=sigma)


def donors_predictive(imputer, data, x_hat: np.ndarray, mask: np.ndarray) -> Predictive:
    """As :func:`scenario_predictive`, calibrated on the validation donors whatever the scenario (in place, the
    calibration it replaces: ``benchmarks/calibration.py`` compares the two)."""
    x = data.eval.x
    known = ~np.isnan(x)
    cal = calibrate(imputer, data.valid, data.valid_mask, seed=data.seed,
                    shown=float(mask[known].sum() / max(known.sum(), 1)))
    return predictive(imputer, cal, x, mask, data.eval.obs, center=x_hat)


def method_measures(imputer, data, x_hat: np.ndarray, mask: np.ndarray, level: float = LEVEL,
                    detail: bool = False) -> dict:
    """The calibration measures of a fitted method in a scenario (:func:`scenario_predictive`), measured on the
    entries ``mask`` hides in ``data.eval``. Empty when the calibration cannot be made (no validation samples, or
    the method ran past its budget on them). ``detail``: also, under ``"detail"``, the PIT histogram and the
    per-tissue table of the calibrated distribution (``"conformal"``) and, for the oracle, of its exact posterior
    (``"exact"``): what notebook 09 shows, made once with the rows (:mod:`.studies.uncertainty`)."""
    t0 = time.perf_counter()
    x = data.eval.x
    try:
        pred = scenario_predictive(imputer, data, x_hat, mask)
    except (BudgetExceeded, ValueError):
        return {}
    entries = (mask == 0) & ~np.isnan(x)
    out = measures(pred, x, entries, data.eval.obs, level, PIT_BINS if detail else None, by_tissue=detail)
    if detail:
        out["detail"] = {"conformal": {k: out.pop(k) for k in ("pit", "tissues")}}
    if getattr(imputer, "name", None) == "oracle":
        exact = exact_reference(imputer, x, mask, data.eval.obs, x_hat, level, detail) or {}
        if detail and exact:
            out["detail"]["exact"] = {k: exact.pop(k) for k in ("pit", "tissues")}
        out.update(exact)
    return {**out, "calibration_seconds": time.perf_counter() - t0}


RATIOS = ("width_90", "crps")


def add_oracle_ratios(block: list[dict]) -> list[dict]:
    """Each row of one seed, scenario and gene set with its width and CRPS as ratios to the oracle's exact
    posterior's on the same entries (``width_90_vs_oracle``, ``crps_vs_oracle``), when the oracle is there."""
    oracle = next((r for r in block if r.get("method") == "oracle" and "exact_crps" in r), None)
    if oracle is None:
        return block
    ideal = {"width_90": oracle["exact_width_90"], "crps": oracle["exact_crps"]}
    return [{**r, **{f"{k}_vs_oracle": r[k] / ideal[k] for k in RATIOS if k in r and ideal[k] > 0}} for r in block]
