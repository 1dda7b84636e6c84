"""Runtime: imputation time and peak memory of the deep models against the standard methods on the same rows,
and how each method's time grows with genes and samples (``gaingtex benchmark --scaling``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..config import model_config
from ..data.masks import missing_mask, stream
from ..imputers import get, names, spec
from ..imputers.base import BudgetExceeded

DEEP = ("pmi", "gain")
STANDARD = ("knn", "mice", "gaussian")
RUNTIME_METHODS = DEEP + STANDARD

# The paper's MissForest timing (paper.md): 2,000 samples × 12,557 genes in about 25,655 s.
PAPER_MISSFOREST = {"genes": 12557, "samples": 2000, "seconds": 25655.0}


def peak_rss_mb() -> float | None:
    """This process's peak resident memory so far (Linux ``VmHWM``), in MiB; ``None`` elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def reset_peak() -> bool:
    """Reset the peak to the current resident memory (Linux ``clear_refs`` 5); False where that is refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def imputation_memory(imputer, data) -> float | None:
    """Memory (MiB) that one imputation of the scenario's matrix adds to the process at its peak, TensorFlow's
    allocations included; ``None`` where the operating system cannot reset the peak."""
    hidden = np.where(data.eval_mask > 0, data.eval.x, np.nan).astype(np.float32)
    if not reset_peak():
        return None
    before = peak_rss_mb()
    imputer.transform(hidden, data.eval_mask, data.eval.obs)
    after = peak_rss_mb()
    return None if before is None or after is None else max(after - before, 0.0)


def runtime_ratios(rows: pd.DataFrame, memory: dict | None = None, eval_rows: int | None = None) -> dict:
    """Imputation time of each standard method over each deep model's on the same rows (the inductive extended
    test set, all genes), measured in one run: the mean over seeds of the per-seed ratios."""
    done = rows[(rows["scenario"] == "inductive") & (rows["genes"] == "all") & (rows["status"] == "ok")]
    seconds = done.pivot_table(index="seed", columns="method", values="impute_seconds")
    out = {"ratios": {}, "memory_mb": dict(memory or {})}
    for deep in DEEP:
        for other in STANDARD:
            if deep in seconds and other in seconds:
                pair = seconds[[deep, other]].dropna()
                if len(pair):
                    out["ratios"][f"{other}/{deep}"] = {
                        "deep": deep, "method": other, "ratio": float((pair[other] / pair[deep]).mean()),
                        "seconds": float(pair[other].mean()), "deep_seconds": float(pair[deep].mean()),
                        "rows": eval_rows, "seeds": int(len(pair))}
    return out


def scaling(adata, methods: Sequence[str] | None = None, gene_counts: Sequence[int] = (300, 1000, 3000, 12557),
            sample_fractions: Sequence[float] = (0.125, 0.25, 0.5, 1.0), missing_rate: float = 0.5,
            preset: str = "book", seed: int = 0, budget: float = 300.0, test_rows: int = 1000,
            progress: bool = True) -> pd.DataFrame:
    """Fit and imputation time of each method against the number of genes (all training samples) and of training
    samples (a fraction of each tissue's; ``gene_counts[1]`` genes), inductive, on ``test_rows`` test samples with
    ``missing_rate`` hidden.

    A method that runs past ``budget`` seconds at one size is reported as "> budget" there and not run at
    larger sizes. The samples axis's point with every sample is the genes axis's point at its gene count: its rows
    are copied, not run a second time. Deep models train two short epochs (a fifth of the preset's) and their fit
    time is projected to the preset's whole schedule at the second epoch's rate (``projected`` is True;
    :func:`_projected_fit`).
    """
    from .scenarios import scenario_data

    methods = [m for m in (names("inductive") if methods is None else methods)
               if not spec(m).needs_generator and not spec(m).needs_blood and (methods or not spec(m).blend)]
    full = scenario_data(adata, "inductive", missing_rate, seed)
    gene_counts = [g for g in gene_counts if g <= adata.n_vars] or [adata.n_vars]
    points = [("genes", g, 1.0) for g in gene_counts]
    points += [("samples", min(gene_counts[1:2] or gene_counts), f) for f in sample_fractions]
    rows, stopped = [], set()
    rng = stream(seed, "scaling")
    test = np.sort(rng.choice(len(full.prepared.test), min(test_rows, len(full.prepared.test)), replace=False))
    for axis, n_genes, fraction in tqdm(points, desc="scaling", disable=not progress):
        genes = np.unique(np.linspace(0, adata.n_vars - 1, n_genes).round().astype(int))
        train = _columns(full.prepared.train.take(_per_tissue(full.prepared.train.obs, fraction, rng)), genes)
        valid = _columns(full.prepared.valid, genes)
        ev = _columns(full.prepared.test.take(test), genes)
        mask = missing_mask(*ev.x.shape, missing_rate, rng)
        if axis == "samples" and fraction == 1.0:  # the genes axis's point at the same gene count
            rows += [{**r, "axis": "samples"} for r in rows if r["axis"] == "genes" and r["genes"] == len(genes)]
            continue
        for name in methods:
            row = {"axis": axis, "method": name, "genes": len(genes), "samples": len(train), "test_rows": len(ev)}
            if (axis, name) in stopped:
                rows.append({**row, "status": "skipped (> budget at a smaller size)"})
                continue
            rows.append({**row, **_time_method(name, train, valid, ev, mask, preset, seed, budget)})
            if rows[-1]["status"] != "ok":
                stopped.add((axis, name))
    return pd.DataFrame(rows)


def _per_tissue(obs: pd.DataFrame, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A ``fraction`` of each tissue's samples (at least two), so that every tissue stays represented."""
    tissue = obs["tissue"].astype(str).to_numpy()
    keep = []
    for t in np.unique(tissue):
        rows = np.flatnonzero(tissue == t)
        keep.append(rng.choice(rows, min(len(rows), max(2, int(round(fraction * len(rows))))), replace=False))
    return np.sort(np.concatenate(keep))


def _columns(split, genes):
    from dataclasses import replace

    return replace(split, x=split.x[:, genes], genes=None if split.genes is None else split.genes[genes],
                   scale=None if split.scale is None else split.scale.subset(genes))


def _time_method(name, train, valid, ev, mask, preset, seed, budget) -> dict:
    params = {"scenario": "inductive", "preset": preset, "seed": seed, "budget": budget}
    schedule = None
    if spec(name).trains:  # two short epochs: the first traces the graphs, the second gives the rate of a step
        schedule = model_config(preset, name, "inductive", train.x.shape[1])
        params["config"] = schedule.replace(max_epochs=2, patience=2, steps_per_epoch=_timed_steps(schedule))
    t0 = time.perf_counter()
    try:
        imputer = get(name, **params).fit(train, valid)
        fit_seconds = time.perf_counter() - t0
        if fit_seconds > budget:
            raise BudgetExceeded(name, budget, 1, 1, "fits")
        hidden = np.where(mask > 0, ev.x, np.nan)
        t1 = time.perf_counter()
        imputer.transform(hidden, mask, ev.obs)
        impute_seconds = time.perf_counter() - t1
    except BudgetExceeded as stop:
        return {"status": "> budget", "progress": stop.progress, "budget_seconds": budget}
    if schedule is not None:
        fit_seconds = _projected_fit(fit_seconds, imputer.history_, schedule)
    return {"status": "ok", "fit_seconds": fit_seconds, "impute_seconds": impute_seconds,
            "projected": schedule is not None}


def _timed_steps(schedule) -> int:
    """Steps of each of the two epochs that time a deep model: a fifth of the schedule's epoch (at least five)."""
    return min(schedule.steps_per_epoch, max(5, schedule.steps_per_epoch // 5))


def _projected_fit(seconds: float, history: pd.DataFrame, schedule) -> float:
    """The fit time of the whole ``schedule`` from a fit of two epochs of :func:`_timed_steps` steps that took
    ``seconds``: the steps left, at the second epoch's rate. An upper bound: the second epoch's validation pass is
    spread over fewer steps than in the schedule's epochs, and early stopping may end the schedule sooner."""
    steps = _timed_steps(schedule)
    rate = float(history["seconds"].iloc[-1]) / steps
    return seconds + rate * max(schedule.max_epochs * schedule.steps_per_epoch - len(history) * steps, 0)


def format_scaling(table: pd.DataFrame) -> str:
    """A plain-text table of a scaling run: seconds (fit + impute) per method and size."""
    table = table.assign(seconds=table.get("fit_seconds", np.nan) + table.get("impute_seconds", np.nan))
    cells = table.assign(cell=[f"{s:.1f}" if st == "ok" else (">budget" if st == "> budget" else "—")
                               for s, st in zip(table["seconds"], table["status"])])
    parts = []
    for axis, block in cells.groupby("axis", sort=False):
        size = "genes" if axis == "genes" else "samples"
        wide = block.pivot(index="method", columns=size, values="cell")
        parts.append(f"fit + impute seconds against {size}:\n{wide.to_string()}")
    return "\n\n".join(parts)
