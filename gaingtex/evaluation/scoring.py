"""One scoring path, from a scenario's masks to a long table of scores, behind ``evaluate``, the notebooks and the
benchmark: fit the methods (:func:`build_methods`), impute the same masked matrix with each
(:func:`score_methods`) and summarise (:func:`summary_table`); :mod:`gaingtex.book.tables` presents."""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
import pandas as pd

from ..data.masks import check_mask
from ..imputers import registry
from .metrics import MIN_ENTRIES, masked_scores, summarise

def fit_imputer(imputer, data):
    """Fit ``imputer`` on a scenario's training data unless it is fitted already; a method that needs the
    imputed donors' blood (the blood surrogate) gets ``data.blood``."""
    if getattr(imputer, "n_genes", None) is not None:
        return imputer
    extra = {"blood": data.blood} if registry.spec(imputer.name).needs_blood else {}
    return imputer.fit(**data.fit_args(), **extra)


def build_methods(names, data, preset: str = "book", generator=None, progress: bool = False) -> dict:
    """Registered methods by name, built for ``data``'s scenario and seed and fitted; keyed by their labels.

    Methods that do not support the scenario, or need a generator when there is none, are left out."""
    methods = {}
    for name in names:
        spec = registry.spec(name)
        if not spec.supports(data.scenario) or (spec.needs_generator and generator is None):
            continue
        imputer = registry.get(name, scenario=data.scenario, preset=preset, seed=data.seed, generator=generator,
                               progress=progress)
        methods[spec.label] = fit_imputer(imputer, data)
    return methods


def impute_masked(imputer, x: np.ndarray, mask: np.ndarray, obs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, float]:
    """Impute ``x`` with ``mask``'s hidden entries NaN (no imputer can read them); entries NaN in ``x`` are given
    as missing too. Returns the imputation, the mask it was given and the wall time in seconds."""
    mask = check_mask(mask, x.shape) * ~np.isnan(x)  # an unknown value (a gene a TCGA file lacks) is missing too
    hidden = np.where(mask > 0, x, np.nan).astype(np.float32)
    t0 = time.perf_counter()
    x_hat = imputer.transform(hidden, mask, obs)
    return x_hat, mask, time.perf_counter() - t0


def score_imputer(imputer, x: np.ndarray, mask: np.ndarray, obs: pd.DataFrame, genes=None,
                  by: Literal["tissue", "all"] = "tissue",
                  min_entries: int = MIN_ENTRIES) -> tuple[pd.DataFrame, float]:
    """Impute ``x`` with ``mask`` (:func:`impute_masked`) and score the hidden entries; entries NaN in ``x`` are
    never scored. ``by="all"`` pools every tissue into one group. Returns per-tissue, per-gene scores and the
    imputation wall time in seconds."""
    x_hat, mask, seconds = impute_masked(imputer, x, mask, obs)
    return scores_of(x, x_hat, mask, obs, genes, by, min_entries), seconds


def scores_of(x, x_hat, mask, obs, genes=None, by: Literal["tissue", "all"] = "tissue", min_entries: int = MIN_ENTRIES):
    """Per-tissue (or pooled, ``by="all"``), per-gene scores of an imputation on the entries ``mask`` hides."""
    groups = obs["tissue"].to_numpy() if by == "tissue" else np.full(len(obs), "all")
    return masked_scores(x, x_hat, mask, groups, genes, samples=obs.index.to_numpy(), min_entries=min_entries)


def score_methods(imputers: dict, data, genes=None) -> pd.DataFrame:
    """Every method on the scenario's matrix with the *same* mask: per method, tissue and gene, R², RMSE and the
    number of masked entries (a long table with ``method`` and ``impute_seconds``)."""
    genes = data.eval.genes if genes is None else genes
    frames = []
    for name, imputer in imputers.items():
        fit_imputer(imputer, data)
        scores, seconds = score_imputer(imputer, data.eval.x, data.eval_mask, data.eval.obs, genes, data.scope)
        frames.append(scores.assign(method=name, impute_seconds=seconds))
    return pd.concat(frames, ignore_index=True)


def reference_method(table: pd.DataFrame) -> str:
    """The label a summary table's ratios are taken against: the oracle when it is there, else the best-scoring
    learnt reference (the registry's role ``"reference"``) present, else the best method."""
    present = table.set_index("method")["r2"]
    if "oracle" in present.index:
        return "oracle"
    learnt = [registry.label(n) for n in registry.names(role="reference") if registry.label(n) in present.index]
    candidates = present[learnt] if learnt else present
    return str(candidates.idxmax())


def summary_table(scores: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """One row per method: R² and RMSE (mean over genes within a tissue, then over tissues), the sd of R² over
    tissues, impute seconds, and R² as a fraction of the reference's (``r2_vs_reference``, NaN when the reference's
    R² is not positive; the reference is
    :func:`reference_method`'s choice unless named, and is kept in ``table.attrs["reference"]``)."""
    table = pd.DataFrame([{"method": m, **summarise(s), "impute_seconds": float(s["impute_seconds"].iloc[0])}
                          for m, s in scores.groupby("method", sort=False)])
    reference = reference_method(table) if reference is None else reference
    if reference not in set(table["method"]):
        raise ValueError(f"reference method {reference!r} is not among the scored methods {list(table['method'])}")
    ref_r2 = float(table.loc[table["method"] == reference, "r2"].iloc[0])
    # a reference that explains nothing (R² ≤ 0, e.g. on a tiny tissue) gives no meaningful ratio: none is shown
    table["r2_vs_reference"] = table["r2"] / ref_r2 if ref_r2 > 0 else np.nan
    table.attrs["reference"] = reference
    return table


def evaluate(imputers: dict, data, genes=None) -> pd.DataFrame:
    """Fit what is unfitted, score every method on the scenario's mask; one row per method."""
    return summary_table(score_methods(imputers, data, genes))


def glue_key(method_label: str) -> str:
    """The registry name of a method, as a glue key part: ``GAIN-GTEx`` → ``gain``, ``per-tissue mean`` →
    ``mean``."""
    try:
        return registry.spec(method_label).name.replace("-", "_")
    except ValueError:
        return method_label.lower().replace(" ", "_").replace("-", "_").replace("(", "").replace(")", "")


def summary_values(table: pd.DataFrame, prefix: str) -> dict[str, object]:
    """Named values of a summary table for the book's prose: ``<prefix>_<method>_<column>`` for R², RMSE,
    impute seconds and the fraction of the reference (``…_ratio``), and the reference itself:
    ``<prefix>_reference`` (its label, e.g. ``oracle``), ``<prefix>_reference_r2``."""
    out: dict[str, object] = {}
    for _, row in table.iterrows():
        key = glue_key(row["method"])
        for column in ("r2", "rmse", "r2_sd_tissues", "impute_seconds", "r2_vs_reference"):
            if column in row and pd.notna(row[column]):
                out[f"{prefix}_{key}_{'ratio' if column == 'r2_vs_reference' else column}"] = float(row[column])
    reference = table.attrs.get("reference")
    if reference is not None:
        out[f"{prefix}_reference"] = "the oracle" if reference == "oracle" else reference
        out[f"{prefix}_reference_r2"] = float(table.loc[table["method"] == reference, "r2"].iloc[0])
    return out
