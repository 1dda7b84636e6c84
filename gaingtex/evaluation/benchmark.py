"""The benchmark behind ``gaingtex benchmark``: the comparison of every registered method (:mod:`.comparison`)
over several seeds, the embedded cohort's calibration figures, training throughput and the runtime study.

Beside the oracle, which is *given* the generating parameters, a factor-analysis imputer *learns* them from the
same training data as the deep models: its row shows how close to the oracle the right model family itself gets
from GTEx-sized data, which is the yardstick for the deep models' distance from the oracle."""

from __future__ import annotations

import time
import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from .. import __version__
from .._io import write_json
from ..config import SCENARIOS
from ..data import reference
from ..data.embedded import factor_model, make_cohort
from ..data.masks import missing_mask, stream
from ..imputers import get
from ..provenance import machine
from . import metrics
from .comparison import compare, summarise, train_deep
from .metrics import masked_scores
from .runtime import RUNTIME_METHODS, imputation_memory, runtime_ratios
from .scenarios import ScenarioData, scenario_data
from .scoring import fit_imputer, score_imputer
from .studies import blood_surrogate_r2, shifted_cohorts


def swap_tissues(obs: pd.DataFrame, same_group: bool, rng: np.random.Generator) -> pd.Categorical:
    """Give each sample another tissue of the same group (or of another group): the oracle of a wrong tissue
    measures how much tissue identity is worth, and so how hard the oracle is to approach."""
    groups = reference.tissues()["group"]
    tissue = obs["tissue"].astype(str).to_numpy()
    new = []
    for t in tissue:
        pool = [u for u in groups.index if u != t and (groups[u] == groups[t]) == same_group]
        new.append(rng.choice(pool) if pool else t)
    return pd.Categorical(new, categories=obs["tissue"].cat.categories)


def calibration(adata, data: ScenarioData) -> dict:
    """The cohort's calibration figures at the missing rate of the inductive scenario ``data``: the oracle's R²
    (overall and per tissue) on the extended test set, the per-tissue mean, the oracle told a wrong tissue, the
    blood surrogate, and the shifted cohorts against their tissue."""
    generator = factor_model(adata)
    prepared = data.prepared
    oracle = fit_imputer(get("oracle", generator=generator), data)
    scores, _ = score_imputer(oracle, data.eval.x, data.eval_mask, data.eval.obs, by=data.scope)
    per_tissue = scores.groupby("tissue")["r2"].mean()
    sizes = metrics.tissue_sizes(scores)
    mean = fit_imputer(get("mean"), data)
    out = {"oracle_r2": metrics.summarise(scores)["r2"],
           "oracle_r2_per_tissue": {k: float(v) for k, v in per_tissue.dropna().items()},
           "small_tissues": {k: int(n) for k, n in sizes.items() if n < metrics.SMALL_TISSUE},
           "mean_r2": metrics.summarise(score_imputer(mean, data.eval.x, data.eval_mask, data.eval.obs,
                                                      by=data.scope)[0])["r2"]}
    missing_rate = data.missing_rate
    rng = stream(data.seed, "calibration")
    for which in ("same_group", "other_group"):
        swapped = data.eval.obs.assign(tissue=swap_tissues(data.eval.obs, which == "same_group", rng))
        hidden = np.where(data.eval_mask > 0, data.eval.x, np.nan)
        x_hat = oracle.transform(hidden, data.eval_mask, swapped)
        out[f"oracle_r2_{which}_tissue"] = metrics.summarise(masked_scores(
            data.eval.x, x_hat, data.eval_mask, data.eval.obs["tissue"].to_numpy(), samples=data.eval.obs.index))["r2"]
    blood = blood_surrogate_r2(prepared, missing_rate, rng)
    if blood is not None:
        out["blood_surrogate_r2"] = blood
    shifted = {}
    healthy_oracle = get("oracle", generator=generator, healthy_tissue=True).fit(prepared.train)
    cohorts = shifted_cohorts(prepared) if len(prepared.external) else {}
    for name, (tissue, part, _) in cohorts.items():
        m = missing_mask(*part.x.shape, missing_rate, rng)
        own = metrics.summarise(score_imputer(oracle, part.x, m, part.obs, by="all")[0])["r2"]
        healthy = metrics.summarise(score_imputer(healthy_oracle, part.x, m, part.obs, by="all")[0])["r2"]
        shifted[name] = {"tissue": tissue, "tissue_oracle_r2_on_tissue": float(per_tissue.get(tissue, np.nan)),
                         "tissue_oracle_r2": healthy, "own_oracle_r2": own}
    out["shifted"] = shifted
    return out


def run_benchmark(preset: str = "book", seed: int = 0, missing_rate: float = 0.5, seeds: Sequence[int] | None = None,
                  methods: Sequence[str] | None = None, genes: Sequence[str] = ("all", "alzheimer", "panel"),
                  budget: float | None = 600.0, adata=None, source: str = "cohort", progress: bool = True,
                  deep_seeds: int | None = None, partial=None, resume: dict | None = None,
                  scenarios: Sequence[str] = SCENARIOS, deep_schedule: str = "authors",
                  intervals: bool = True) -> dict:
    """The comparison of every method (default: every registered one) over ``seeds`` (default: ``seed`` to
    ``seed + 2``) on the preset's embedded cohort or on ``adata``, with the embedded cohort's calibration figures
    and the deep models' training throughput. The deep models are trained at the first ``deep_seeds`` seeds
    (default: all of them); at the others their rows say "not trained"; ``deep_schedule`` names their schedule
    (:data:`~gaingtex.config.DEEP_SCHEDULES`; default: the preset's own). Only ``scenarios`` are compared.
    ``intervals=False`` leaves out the calibration of each method's intervals (at the paper's size it costs minutes
    a method: benchmarks/README.md, "The comparison at the paper's size"). With ``partial`` (a path), every row and
    memory measurement is also written there as the run goes, so that an interrupted run keeps what it finished;
    ``resume`` is such a partial result (of the same settings, :func:`check_resume`), whose rows are kept and not
    run again."""
    from ..imputers.deep.backend import accelerator, use_threads
    from ..imputers.deep.throughput import matmul_throughput

    if budget is not None and not (np.isfinite(budget) and budget > 0):
        raise ValueError(f"the time budget must be a positive, finite number of seconds, got {budget:g}")
    use_threads()
    t_start = time.perf_counter()
    seeds = [seed, seed + 1, seed + 2] if seeds is None else [int(s) for s in seeds]
    adata = make_cohort(preset, seed) if adata is None else adata
    generator = factor_model(adata) if "generator" in adata.uns else None
    inductive = scenario_data(adata, "inductive", missing_rate, seeds[0], source=source)
    prepared = inductive.prepared
    gtex = adata.obs["cohort"] == "GTEx" if "cohort" in adata.obs else np.ones(adata.n_obs, bool)
    result = {"preset": preset, "seed": seeds[0], "seeds": seeds, "missing_rate": missing_rate, "budget": budget,
              "cohort_source": source, "scenarios": list(scenarios),
              "deep_schedule": deep_schedule, "intervals": intervals,
              "gaingtex": __version__, "device": accelerator(),
              "machine": machine(),
              "cohort": {"samples": int(gtex.sum()), "genes": int(adata.n_vars),
                         "donors": int(adata.obs.loc[gtex, "donor_id"].nunique()),
                         "train": len(prepared.train), "valid": len(prepared.valid), "test": len(prepared.test)}}
    trained = set(seeds if deep_seeds is None else seeds[:deep_seeds])
    result["deep_seeds"] = sorted(trained)
    if resume is not None:  # before any long work
        check_resume(resume, result)
        result["resumed"] = [*resume.get("resumed", []), {"rows": len(resume["results"]),
                                                          "wall_seconds": resume.get("wall_seconds")}]
    flops = matmul_throughput()
    result["matmul_flops"] = flops
    if generator is not None:
        result["calibration"] = calibration(adata, inductive)
    fresh = train_deep(preset, progress, deep_schedule)
    memory = dict(resume.get("memory", {})) if resume else {}
    finished = list(resume["results"]) if resume else []

    def on_row(row):
        nonlocal partial
        finished.append(row)
        if partial is not None:
            try:
                write_json({**result, "partial": True, "memory": memory, "results": finished,
                            "wall_seconds": time.perf_counter() - t_start}, partial)
            except OSError as err:  # a full disk: the run goes on (its result is what matters), unresumable
                warnings.warn(f"could not write {partial} ({err.strerror or err}); the run goes on without "
                              "keeping its finished rows there", stacklevel=2)
                partial = None

    def deep(name, scenario, genes, seed, data):
        return fresh(name, scenario, genes, seed, data) if seed in trained else None

    rows = compare(adata, methods, seeds, scenarios=scenarios, genes=genes, missing_rate=missing_rate,
                   preset=preset, generator=generator, budget=budget, source=source, progress=progress, deep=deep,
                   done=list(resume["results"]) if resume else (), on_row=on_row,
                   keep=lambda row, imputer, data: _measure(memory, row, imputer, data, seeds[0]),
                   calibrated=intervals)
    rows["r2_vs_oracle"] = rows["r2"] / rows["oracle_r2"].where(rows["oracle_r2"] > 0)  # no ratio to R² ≤ 0
    if "train_flops_per_second" in rows:
        rows["matmul_fraction"] = rows["train_flops_per_second"] / flops
    result["results"] = _records(rows)
    result["summary"] = _records(summarise(rows))
    result["runtime"] = runtime_ratios(rows, memory, len(inductive.eval))
    result["wall_seconds"] = time.perf_counter() - t_start
    return result


def _records(table: pd.DataFrame) -> list[dict]:
    """JSON rows without NaN cells (a field a method does not have is absent, not NaN)."""
    return [{k: v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))}
            for row in table.to_dict(orient="records")]


RESUME_KEYS = ("preset", "seeds", "missing_rate", "budget", "cohort_source", "scenarios", "deep_schedule", "gaingtex",
               "cohort", "deep_seeds")


def check_resume(resume: dict, result: dict) -> None:
    """Refuse to resume from a run with other settings (preset, seeds, rate, budget, cohort, version)."""
    if "results" not in resume:
        raise ValueError("--resume: the file holds no benchmark rows (results)")
    for key in RESUME_KEYS:
        if key in resume and resume[key] != result.get(key):
            raise ValueError(f"--resume: the earlier run has {key} {resume[key]!r}, this one {result.get(key)!r}; "
                             "resume with the same settings")


def _measure(memory: dict, row: dict, imputer, data, seed: int) -> None:
    """Peak memory of one imputation of the extended test set, for the runtime study's methods (first seed)."""
    if row["seed"] == seed and row["scenario"] == "inductive" and row["genes"] == "all" and \
            row["method"] in RUNTIME_METHODS:
        memory[row["method"]] = imputation_memory(imputer, data)
