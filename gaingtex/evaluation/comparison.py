"""The comparison of methods: every registered method × scenario × gene set × seed, on identical masks within a
seed, with fit and imputation times; slow methods under a time budget, reported as "> budget" with how far they
got rather than dropped.

One row per run keeps the benchmark schema ``{method, scenario, genes, seed, r2, rmse, oracle_r2, fit_seconds,
impute_seconds}`` (``method`` the registry name) plus ``status``, the settings a method chose and the calibration
measures of its conformal intervals (``coverage_90``, ``width_90``, ``crps``, … :data:`UNCERTAINTY`); :func:`summarise`
adds one row per method, scenario and gene set with the mean and sd over seeds.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..config import SCENARIOS, model_config, scheduled
from ..data import alzheimer_genes, panel_genes
from ..data.preprocessing import PANEL_SIZE
from ..imputers import get, label, names, spec
from ..imputers.base import BudgetExceeded
from ..imputers.registry import paper_best
from . import metrics
from .scenarios import scenario_data
from .calibration import add_oracle_ratios, method_measures
from .remembered import Remembered
from .scoring import fit_imputer, impute_masked, scores_of

GENE_SETS = ("all", "alzheimer", "panel")
NOT_TRAINED = "not trained"  # a deep model the caller chose not to train at this seed (the book's presets)
ROW = ("method", "scenario", "genes", "seed", "r2", "rmse", "oracle_r2", "fit_seconds", "impute_seconds")
# The calibration measures a row holds when the method's intervals could be calibrated (:mod:`.calibration`).
UNCERTAINTY = ("coverage_90", "coverage_90_worst_gene", "coverage_90_worst_tissue", "width_90", "crps",
               "width_90_vs_oracle", "crps_vs_oracle")

# A deep model for (method, scenario, gene set, seed), fitted on that scenario's data, or None to leave it out.
DeepModels = Callable[[str, str, str, int, object], object]


def gene_sets(adata, wanted: Iterable[str] = GENE_SETS) -> dict[str, list[str] | None]:
    """The gene sets of ``wanted`` that the cohort has: all genes, the 273 Alzheimer genes when present, and a
    59-gene panel (:func:`gaingtex.data.panel_genes`) when the cohort has more genes than that."""
    out = {}
    for name in wanted:
        if name not in GENE_SETS:
            raise ValueError(f"unknown gene set {name!r}: expected one of {', '.join(GENE_SETS)}")
        if name == "all":
            out[name] = None
        elif name == "alzheimer" and set(alzheimer_genes()) <= set(adata.var_names):
            out[name] = alzheimer_genes()
        elif name == "panel" and adata.n_vars > PANEL_SIZE:
            out[name] = panel_genes(adata.var_names)
    return out


def train_deep(preset: str, progress: bool = False, schedule: str = "authors") -> DeepModels:
    """Deep models trained afresh for each seed with the preset's configuration. Their validation searches are
    kept in one store, so that GAIN-GTEx and GAIN-MSE, trained one after the other, search once per seed, scenario
    and gene set (the models are the same as if each had searched). A ``schedule`` other than the preset's own
    (:data:`~gaingtex.config.DEEP_SCHEDULES`) changes the preset's configuration, sized to the data, and trains it
    without a search."""
    store = None

    def train(name, scenario, genes, seed, data):
        nonlocal store
        if store is None:
            from ..imputers.deep.search import SearchStore

            store = SearchStore(capacity=2)
        config = None
        if schedule != "authors":
            config = scheduled(model_config(preset, name, scenario, data.train.x.shape[1]), schedule)
        return get(name, scenario=scenario, preset=preset, seed=seed, progress=progress,
                   config=config).fit(**data.fit_args(), searches=store)

    return train


def settings(imputer) -> dict:
    """What a method chose on validation (factors, k, penalty, shrinkage) or did (epochs, throughput, pooled
    tissues), for the row."""
    out = dict(getattr(imputer, "chosen_", {}) or {})
    if getattr(imputer, "history_", None) is not None:
        steps = len(imputer.history_) * imputer.config.steps_per_epoch
        out.update(epochs=len(imputer.history_), best_epoch=imputer.best_epoch_, steps=steps,
                   hidden=f"{imputer.config.hidden_layers}x{imputer.config.hidden_units}",
                   batch_size=imputer.config.batch_size, precision=imputer.config.precision,
                   train_flops_per_second=imputer.training_flops() * steps / imputer.fit_seconds_)
    if getattr(imputer, "pooled_tissues_", None):
        out["pooled_tissues"] = len(imputer.pooled_tissues_)
    out.update(getattr(imputer, "info_", {}) or {})  # what a blend of methods (``auto``) chose and spent
    return out


def run_method(name: str, data, preset: str, seed: int, generator=None, budget: float | None = None,
               deep: DeepModels | None = None, genes: str = "all", params: dict | None = None,
               calibrated: bool = True, remember: bool = False, details: Callable | None = None
               ) -> tuple[dict, object]:
    """Fit one method (with ``params``) on a scenario and score it on the scenario's mask; returns its row
    (without the oracle's R²) and the fitted imputer (``None`` when it ran past its budget or was left out).
    ``calibrated``: the row also holds the calibration measures of its conformal intervals
    (:func:`~.calibration.method_measures`). ``remember``: the imputer returned keeps the imputations it made
    (:class:`~.remembered.Remembered`), for a blend that reuses it. ``details(row, detail)``: called with the row
    and its calibration's PIT histogram and per-tissue table (:func:`~.calibration.method_measures`)."""
    row = {"method": name, "scenario": data.scenario, "genes": genes, "seed": seed, "status": "ok"}
    t0 = time.perf_counter()
    try:
        if spec(name).trains:
            imputer = deep(name, data.scenario, genes, seed, data) if deep is not None else None
            if imputer is None:
                return {**row, "status": NOT_TRAINED}, None
            fit_seconds = float(getattr(imputer, "fit_seconds_", time.perf_counter() - t0))
        else:
            imputer = fit_imputer(get(name, scenario=data.scenario, preset=preset, seed=seed, generator=generator,
                                      budget=budget, **(params or {})), data)
            # ``auto`` reports its members' fit times (reused ones included) plus its blend's
            fit_seconds = float(getattr(imputer, "fit_seconds_", time.perf_counter() - t0))
        if remember:
            imputer = Remembered(imputer)
        x_hat, mask, impute_seconds = impute_masked(imputer, data.eval.x, data.eval_mask, data.eval.obs)
    except BudgetExceeded as stop:
        return {**row, "status": "> budget", "progress": stop.progress, "budget_seconds": stop.budget,
                "fit_seconds": time.perf_counter() - t0}, None
    summary = metrics.summarise(scores_of(data.eval.x, x_hat, mask, data.eval.obs, data.eval.genes, data.scope))
    counts = {k: summary[k] for k in ("tissues", "small_tissues") if k in summary}  # small ones: flagged in tables
    # the same imputation, with the method's calibrated intervals: coverage, width, CRPS
    uncertainty = method_measures(imputer, data, x_hat, mask, detail=details is not None) if calibrated else {}
    detail = uncertainty.pop("detail", None)
    if remember:
        imputer.stop_keeping()
    row = {**row, "r2": summary["r2"], "rmse": summary["rmse"], "fit_seconds": fit_seconds,
           "impute_seconds": impute_seconds, **counts, **uncertainty, **settings(imputer)}
    if detail is not None:
        details(row, detail)
    return row, imputer


def compare(adata, methods: Sequence[str] | None = None, seeds: Sequence[int] = (0, 1, 2),
            scenarios: Sequence[str] = SCENARIOS, genes: Iterable[str] = GENE_SETS, missing_rate: float = 0.5,
            preset: str = "book", generator=None, budget: float | None = 600.0, deep: DeepModels | None = None,
            source: str = "cohort", progress: bool = True, keep: Callable | None = None,
            reuse_choices: bool = True, done: Sequence[dict] = (), on_row: Callable | None = None,
            calibrated: bool = True, details: Callable | None = None) -> pd.DataFrame:
    """Every method on every scenario, gene set and seed; one row each (see the module's docstring).

    Each seed redraws the scenario's masks (stream ``"scenario"``) and seeds every method; within a seed all
    methods see the same masks. Methods that need a generator are left out without one; deep models come from
    ``deep`` (default: trained afresh, :func:`train_deep`). ``keep(row, imputer, data)`` is called after each
    run, for callers that want the fitted methods (the runtime study).

    To share work across seeds, what a method chose on validation at the first seed (its ``chosen_``: factors,
    k, penalty) is reused at the others when ``reuse_choices``, and a method that ran past its budget at the
    first seed is not run again (its later rows say so). ``auto``, which refits its members in place without its
    held-out entries, gives them what they chose at the first seed, too; inductive it blends the methods fitted at
    its own seed (a deep model trained at the first seed only is not one of them at the others).

    ``done`` holds rows of an interrupted run with the same settings (``gaingtex benchmark --resume``): they are
    kept as they are, with what they chose and whether they ran past the budget, and not run again.
    ``on_row(row)`` is called with every row, whatever its status, as soon as it is made. ``calibrated``: rows
    hold the calibration measures of each method's conformal intervals (:mod:`.calibration`), with the width
    and CRPS as ratios to the oracle's exact posterior where the oracle ran; ``details(row, detail)`` is given each
    calibrated row's PIT histogram and per-tissue table (notebook 09 shows them: :mod:`.studies.uncertainty`).
    """
    # a blend of methods (``auto``) runs after the methods it blends, and reuses them
    methods = sorted(names() if methods is None else methods, key=_reuses)
    deep = train_deep(preset, progress) if deep is None else deep
    sets = gene_sets(adata, genes)
    plan = [(seed, scenario, g) for seed in seeds for scenario in scenarios for g in sets]
    finished = {(int(r["seed"]), r["scenario"], r["genes"], r["method"]): {k: v for k, v in r.items()
                                                                          if k != "oracle_r2"} for r in done}
    rows, chosen, over = [], {}, {}
    bar = tqdm(total=sum(_runnable(m, s, generator) for _, s, _ in plan for m in methods), desc="comparison",
               disable=not progress)
    for seed, scenario, g in plan:
        data = scenario_data(adata, scenario, missing_rate, seed, sets[g], source=source)
        block, fitted = [], {}  # the methods fitted on this data, with their fit seconds, for ``auto``
        for name in methods:
            if not _runnable(name, scenario, generator):
                continue
            bar.set_postfix_str(f"seed {seed} {scenario} {g} {name}")
            key = (name, scenario, g)
            earlier = finished.get((seed, scenario, g, name))
            if earlier is not None:
                if earlier["status"] == "> budget":
                    over.setdefault(key, seed)
                elif earlier["status"] == "ok" and key not in chosen:
                    chosen[key] = {k: earlier[k] for k in spec(name).chooses if earlier.get(k) is not None}
                block.append(earlier)
                bar.update()
                continue
            if key in over:
                block.append({"method": name, "scenario": scenario, "genes": g, "seed": seed, "status": "> budget",
                              "progress": f"not rerun: past its budget at seed {over[key]}"})
                if on_row is not None:
                    on_row(block[-1])
                bar.update()
                continue
            params = dict(chosen.get(key) or {}) if reuse_choices else {}
            if _reuses(name):
                params["fitted"] = dict(fitted)
                if scenario == "inductive":
                    # inductive, a blend takes what this seed's run fitted, as it did at the first seed: reusing
                    # that seed's members would train a deep model left untrained here inside the blend's row
                    for choice in spec(name).chooses:
                        params.pop(choice, None)
                if reuse_choices:  # members auto refits itself (in place) keep what they chose at the first seed
                    params["member_params"] = {m: dict(chosen[(m, scenario, g)]) for m in fitted
                                               if chosen.get((m, scenario, g))}
            # auto blends the methods fitted here inductive, and asks them again for the imputations they made
            taken = _taken(name, scenario, methods)
            row, imputer = run_method(name, data, preset, seed, generator, budget, deep, g, params or None,
                                      calibrated, remember=taken and scenario == "inductive", details=details)
            if imputer is not None and row["status"] == "ok" and taken:
                fitted[name] = (imputer, row["fit_seconds"])
            if row["status"] == "> budget":
                over[key] = seed
            elif imputer is not None and key not in chosen:
                chosen[key] = dict(getattr(imputer, "chosen_", {}) or {})
            block.append(row)
            if keep is not None and imputer is not None:  # the imputer itself: a kept imputation is no timing
                keep(row, imputer.imputer if isinstance(imputer, Remembered) else imputer, data)
            if on_row is not None:
                on_row(row)
            bar.update()
        oracle = next((r["r2"] for r in block if r["method"] == "oracle" and r["status"] == "ok"), np.nan)
        rows += [{**r, "oracle_r2": oracle} for r in add_oracle_ratios(block)]
    bar.close()
    table = pd.DataFrame(rows)
    return table[[*ROW, *[c for c in table.columns if c not in ROW]]]


def _reuses(name: str) -> bool:
    """Whether a method takes the run's fitted methods (``fitted=``: a blend, ``auto``)."""
    return spec(name).blend


def _taken(name: str, scenario: str, methods: Sequence[str]) -> bool:
    """Whether a blend among ``methods`` reuses ``name`` fitted in ``scenario`` (its ``takes``): only those fits,
    and their imputations, are kept past their own rows."""
    return not _reuses(name) and any(spec(b).factory.takes(name, scenario) for b in methods if _reuses(b))


def _runnable(name: str, scenario: str, generator) -> bool:
    s = spec(name)
    return s.supports(scenario) and not (s.needs_generator and generator is None)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per method, scenario and gene set: mean and sd over seeds of R², RMSE and times, the seeds that
    finished of those run (``seeds`` of ``runs``), and R² as a fraction of the oracle's (``reference`` =
    ``"oracle"``) or, without an oracle, of the best method's in the same scenario and gene set. A deep model not
    trained at some seeds is "ok" over the seeds it was; one never trained for a gene set has no row."""
    out = []
    for (scenario, g), block in rows.groupby(["scenario", "genes"], sort=False):
        done = block[block["status"] == "ok"]
        means = done.groupby("method", sort=False)["r2"].mean()
        has_oracle = "oracle" in means.index
        reference = "oracle" if has_oracle else (means.idxmax() if len(means) else None)
        for method, runs in block.groupby("method", sort=False):
            ok = runs[runs["status"] == "ok"]
            failed = runs[~runs["status"].isin(["ok", NOT_TRAINED])]
            if not len(ok) and not len(failed):
                continue  # never trained for this gene set: nothing to report
            row = {"method": method, "scenario": scenario, "genes": g, "seeds": int(len(ok)), "runs": int(len(runs)),
                   "status": failed["status"].iloc[0] if len(failed) else "ok", "reference": reference}
            for column in ("r2", "rmse", "fit_seconds", "impute_seconds", *UNCERTAINTY):
                if column not in ok:
                    continue
                values = ok[column].astype(float)
                values = values.dropna() if column in UNCERTAINTY else values  # a method without intervals
                row[f"{column}_mean"] = float(values.mean()) if len(values) else np.nan
                row[f"{column}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else np.nan
            if reference is not None and len(ok):
                ref = done[done["method"] == reference].set_index("seed")["r2"]
                ref = ref.where(ref > 0)  # a ratio to a reference that explains nothing means nothing
                row["fraction"] = float((ok.set_index("seed")["r2"] / ref.reindex(ok["seed"])).mean())
            if "small_tissues" in ok and ok["small_tissues"].notna().any():
                row["small_tissues"] = int(ok["small_tissues"].max())
            if len(failed) and "progress" in failed:
                row["progress"] = "; ".join(failed["progress"].dropna().astype(str))
            out.append(row)
    return pd.DataFrame(out)


def ordering(summary: pd.DataFrame, genes: str = "all") -> dict[str, dict]:
    """Whether the paper's ordering holds, per scenario: the best learnt method (the oracle, the ceiling, is not
    learnt) and its R², the paper's best there (the registry's ``paper_best``: PMI inductive, GAIN-GTEx in place)
    with its R² and rank, whether it is the best (``holds``), the best linear-Gaussian reference (the registry's
    family ``"linear-gaussian"``), and how many learnt methods were ranked (``ranked``); a blend of methods
    (``auto``) is not ranked among the single methods, but given with its R² and fit seconds (``auto_r2``,
    ``auto_seconds``). Methods are named by label. :func:`gaingtex.book.pages.ordering_values` says it in a
    sentence."""
    out = {}
    blends = [n for n in names() if spec(n).blend]
    for scenario, block in summary[summary["genes"] == genes].groupby("scenario", sort=False):
        learnt = block[~block["method"].isin(names(role="ceiling")) & block["r2_mean"].notna()]
        blend = learnt[learnt["method"].isin(blends)]
        learnt = learnt[~learnt["method"].isin(blends)].sort_values("r2_mean", ascending=False)
        if not len(learnt):
            continue
        r2 = learnt.set_index("method")["r2_mean"]
        best, paper = r2.index[0], paper_best(scenario)
        family = set(names(family="linear-gaussian"))
        linear = [m for m in r2.index if m in family]
        values = {"best": label(best), "best_r2": float(r2.iloc[0])}
        if paper in r2:
            rank = int(list(r2.index).index(paper)) + 1
            values.update(paper=label(paper), paper_r2=float(r2[paper]), paper_rank=rank, holds=bool(best == paper))
        if linear:
            values.update(linear=label(linear[0]), linear_r2=float(r2[linear[0]]))
        if len(blend):
            values.update(auto_r2=float(blend["r2_mean"].iloc[0]),
                          auto_seconds=float(blend["fit_seconds_mean"].iloc[0]))
        out[scenario] = {**values, "ranked": len(r2)}
    return out
