"""The benchmark behind ``gaingtex benchmark``: every deep model in both scenarios against the oracle and the
per-tissue mean on identical masks, the cohort's calibration figures, and training throughput.

Beside the oracle, which is *given* the generating parameters, a factor-analysis imputer *learns* them from the
same training data as the deep models: its row shows how close to the oracle the right model family itself gets
from GTEx-sized data, which is the yardstick for the deep models' distance from the oracle."""

from __future__ import annotations

import os
import platform
import time

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import __version__
from ..data import reference
from ..data.embedded import factor_model, make_cohort
from ..imputers import get, names, spec
from .masks import missing_mask, stream
from .metrics import masked_scores, summarize
from .scenarios import ScenarioData, scenario_data
from .scoring import build_methods, evaluate, fit_imputer, score_imputer
from .studies import blood_surrogate_r2, shifted_cohorts


def deep_runs() -> list[tuple[str, str]]:
    """Every registered method that trains (the deep models), in every scenario it supports."""
    return [(n, s) for n in names() if spec(n).trains for s in spec(n).scenarios]


def matmul_throughput(n: int = 2048, repeats: int = 10) -> float:
    """Dense float32 matrix-multiply throughput of this machine through TensorFlow, in FLOP/s (best of 3)."""
    from ..imputers.deep._keras import tf

    a = tf.random.normal((n, n), seed=1)
    b = tf.random.normal((n, n), seed=2)
    tf.matmul(a, b).numpy()  # warm-up
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeats):
            c = tf.matmul(a, b)
        c.numpy()
        best = max(best, 2 * n ** 3 * repeats / (time.perf_counter() - t0))
    return best


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
    mean = fit_imputer(get("mean"), data)
    out = {"oracle_r2": summarize(scores)["r2"],
           "oracle_r2_per_tissue": {k: float(v) for k, v in per_tissue.dropna().items()},
           "mean_r2": summarize(score_imputer(mean, data.eval.x, data.eval_mask, data.eval.obs, by=data.scope)[0])["r2"]}
    missing_rate = data.missing_rate
    rng = stream(data.seed, "calibration")
    for which in ("same_group", "other_group"):
        swapped = data.eval.obs.assign(tissue=swap_tissues(data.eval.obs, which == "same_group", rng))
        hidden = np.where(data.eval_mask > 0, data.eval.x, np.nan)
        x_hat = oracle.transform(hidden, data.eval_mask, swapped)
        out[f"oracle_r2_{which}_tissue"] = summarize(masked_scores(
            data.eval.x, x_hat, data.eval_mask, data.eval.obs["tissue"].to_numpy(), samples=data.eval.obs.index))["r2"]
    blood = blood_surrogate_r2(prepared, missing_rate, rng)
    if blood is not None:
        out["blood_surrogate_r2"] = blood
    shifted = {}
    healthy_oracle = get("oracle", generator=generator, healthy_tissue=True).fit(prepared.train)
    cohorts = shifted_cohorts(prepared) if len(prepared.external) else {}
    for name, (tissue, part, _) in cohorts.items():
        m = missing_mask(*part.x.shape, missing_rate, rng)
        own = summarize(score_imputer(oracle, part.x, m, part.obs, by="all")[0])["r2"]
        healthy = summarize(score_imputer(healthy_oracle, part.x, m, part.obs, by="all")[0])["r2"]
        shifted[name] = {"tissue": tissue, "tissue_oracle_r2_on_tissue": float(per_tissue.get(tissue, np.nan)),
                         "tissue_oracle_r2": healthy, "own_oracle_r2": own}
    out["shifted"] = shifted
    return out


def run_benchmark(preset: str = "book", seed: int = 0, missing_rate: float = 0.5, runs=None,
                  progress: bool = True) -> dict:
    """Generate the cohort, train every model of ``runs`` (default :func:`deep_runs`), and score all methods on
    identical masks."""
    from ..imputers.deep.distribute import accelerator, use_threads

    use_threads()
    runs = deep_runs() if runs is None else runs
    t_start = time.perf_counter()
    adata = make_cohort(preset, seed)
    generator = factor_model(adata)
    scenarios = {s: scenario_data(adata, s, missing_rate, seed) for s in dict.fromkeys(s for _, s in runs)}
    inductive = scenarios.get("inductive") or scenario_data(adata, "inductive", missing_rate, seed)
    prepared = inductive.prepared
    gtex = adata.obs["cohort"] == "GTEx"
    result = {"preset": preset, "seed": seed, "missing_rate": missing_rate, "gaingtex": __version__,
              "device": accelerator(), "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
              "cohort": {"samples": int(gtex.sum()), "genes": int(adata.n_vars),
                         "donors": int(adata.obs.loc[gtex, "donor_id"].nunique()),
                         "train": len(prepared.train), "valid": len(prepared.valid), "test": len(prepared.test)}}
    flops = matmul_throughput()
    result["matmul_flops"] = flops
    result["calibration"] = calibration(adata, inductive)
    rows = []
    oracle_r2 = {}
    for scenario, data in scenarios.items():
        base = evaluate(build_methods(["oracle", "mean"], data, preset, generator), data)
        oracle_r2[scenario] = float(base.loc[base["method"] == "oracle", "r2"].iloc[0])
        for _, r in base.iterrows():
            rows.append({"method": r["method"], "scenario": scenario, "r2": r["r2"], "rmse": r["rmse"],
                         "oracle_r2": oracle_r2[scenario], "fit_seconds": 0.0,
                         "impute_seconds": r["impute_seconds"]})
        rows.append(_reference_row(data, seed, oracle_r2[scenario], progress))
    bar = tqdm(runs, desc="benchmark", disable=not progress)
    for model, scenario in bar:
        bar.set_postfix_str(f"{model} {scenario}")
        data = scenarios[scenario]
        imputer = get(model, scenario=scenario, preset=preset, seed=seed, progress=progress)
        imputer.fit(**data.fit_args())
        r = evaluate({imputer.name: imputer}, data).iloc[0]
        train_flops = imputer.training_flops() * imputer.steps_ / imputer.fit_seconds_
        rows.append({"method": imputer.name, "scenario": scenario, "r2": r["r2"], "rmse": r["rmse"],
                     "oracle_r2": oracle_r2[scenario], "fit_seconds": imputer.fit_seconds_,
                     "impute_seconds": r["impute_seconds"], "epochs": len(imputer.history_),
                     "best_epoch": imputer.best_epoch_, "steps": imputer.steps_,
                     "train_flops_per_second": train_flops, "matmul_fraction": train_flops / flops,
                     "hidden": f"{imputer.config.hidden_layers}x{imputer.config.hidden_units}"})
    for row in rows:
        row["r2_vs_oracle"] = row["r2"] / row["oracle_r2"]
    result["results"] = rows
    result["wall_seconds"] = time.perf_counter() - t_start
    return result


def _reference_row(data, seed: int, oracle_r2: float, progress: bool) -> dict:
    """Fit and score the factor-analysis imputer (the learnable reference) on one scenario."""
    imputer = get("factor-analysis", seed=seed, progress=progress)
    t0 = time.perf_counter()
    imputer.fit(**data.fit_args())
    fit_seconds = time.perf_counter() - t0
    r = evaluate({imputer.name: imputer}, data).iloc[0]
    return {"method": imputer.name, "scenario": data.scenario, "r2": r["r2"], "rmse": r["rmse"],
            "oracle_r2": oracle_r2, "fit_seconds": fit_seconds, "impute_seconds": r["impute_seconds"],
            "n_factors": imputer.n_factors_, "validation_mse": imputer.validation_.to_dict()}


def format_table(result: dict) -> str:
    """A plain-text table of a benchmark result."""
    df = pd.DataFrame(result["results"])
    cols = ["method", "scenario", "r2", "oracle_r2", "r2_vs_oracle", "rmse", "fit_seconds", "impute_seconds"]
    if "matmul_fraction" in df:
        cols += ["epochs", "matmul_fraction"]
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 160):
        table = df[cols].to_string(index=False)
    cal = result["calibration"]
    lines = [f"preset={result['preset']} seed={result['seed']} missing_rate={result['missing_rate']} "
             f"device={result['device']} matmul={result['matmul_flops'] / 1e9:.1f} GFLOP/s "
             f"wall={result['wall_seconds']:.0f}s", table,
             f"calibration: oracle R² {cal['oracle_r2']:.3f} (tissues {min(cal['oracle_r2_per_tissue'].values()):.2f}"
             f"–{max(cal['oracle_r2_per_tissue'].values()):.2f}), per-tissue mean {cal['mean_r2']:.3f}, "
             f"blood surrogate {cal.get('blood_surrogate_r2', float('nan')):.3f}; oracle told another tissue: "
             f"same group {cal['oracle_r2_same_group_tissue']:.3f}, other group {cal['oracle_r2_other_group_tissue']:.3f}"]
    for name, s in cal["shifted"].items():
        lines.append(f"  {name}: tissue oracle {s['tissue_oracle_r2']:.3f} (on {s['tissue']}: "
                     f"{s['tissue_oracle_r2_on_tissue']:.3f}), own oracle {s['own_oracle_r2']:.3f}")
    return "\n".join(lines)
