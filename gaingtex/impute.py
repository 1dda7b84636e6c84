"""``gaingtex impute``: fill every missing (NaN) entry of a user's cohort.

- With a registered method (in place): the method trains on the cohort's observed entries — a donor-grouped
  tenth-or-so of the donors held out for validation (early stopping, factor counts) — and then imputes every sample.
- With a trained inductive model (``--model M.keras``): the model's genes are aligned by symbol, the genes it knows
  that the file lacks are added (all missing), and every missing entry of its genes is imputed from the observed
  ones; genes the model does not know are left as they are.

Observed values come back bit for bit.

With ``interval`` (a level such as 0.9) the result also holds each cell's bounds, ``layers["lower"]`` and
``layers["upper"]``, from the method's split conformal calibration (:mod:`gaingtex.imputers.conformal`). In place,
the samples the method was fitted on are calibrated on a tenth of some of their observed entries, held out of the
fit and of the imputation (so asking for intervals changes the imputation slightly), and the held-out validation
donors on pseudo-masked entries of their own; with a model, on the calibration saved with it at training time.
With ``draws`` (M) it holds M completed data sets, ``layers["draw_1"]`` … Observed cells have zero width and every
draw keeps them.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from . import __version__
from .data import Split, Standardizer, reference, validate
from .data.masks import stream
from .imputers import registry
from .imputers.conformal import calibrate, calibrate_holdout, holdout, own_spread
from .imputers.mondrian import check_level
from .imputers.predictive import predictive
from .imputers.registry import label

VALID_SHARE = 0.15


def validation_donors(obs, seed: int) -> np.ndarray:
    """A donor-grouped validation subset (stream ``"user"``); donors of a tissue that would otherwise have no
    training sample stay in training."""
    donors = obs["donor_id"].astype(str).to_numpy()
    tissue = obs["tissue"].astype(str).to_numpy()
    unique = np.unique(donors)
    if len(unique) < 3:
        return np.zeros(len(obs), dtype=bool)
    chosen = set(stream(seed, "user").choice(unique, size=max(1, int(round(VALID_SHARE * len(unique)))),
                                             replace=False))
    valid = np.isin(donors, list(chosen))
    orphan = set(tissue[valid]) - set(tissue[~valid])
    if orphan:
        valid &= ~np.isin(donors, np.unique(donors[np.isin(tissue, list(orphan))]))
    return valid


def check_uncertainty(interval: float | None, draws: int | None) -> None:
    """Refuse a level outside (0, 1) or a count of draws below 1, before any long work."""
    if interval is not None:
        check_level(interval, f"--interval {interval}: the level")
    if draws is not None and (int(draws) != draws or draws < 1):
        raise ValueError(f"--draws {draws}: the number of completed data sets must be a whole number of at least 1")


def uncertainty_layers(imputer, parts, z: np.ndarray, observed: np.ndarray, obs: pd.DataFrame,
                       center: np.ndarray, to_user, interval: float | None, draws: int | None,
                       seed: int) -> dict[str, np.ndarray]:
    """The bounds at ``interval`` and ``draws`` completed matrices of ``z`` (prepared scale, missing where
    ``observed`` is 0) in the user's scale (``to_user``: the inverse of the standardiser, observed cells given
    back exactly). ``parts``: ``(rows, calibration)`` pairs, the rows (``None``: all) that each calibration
    covers. A method with its own joint draws (the linear-Gaussian family) gives them, recalibrated; others get
    calibration residuals resampled per entry."""
    mask = observed.astype(np.float32)
    lower, upper = (np.array(center, dtype=np.float32) for _ in range(2)) if interval is not None else (None, None)
    completed = np.repeat(np.asarray(center, dtype=np.float32)[None], int(draws), axis=0) if draws else None
    rng = stream(seed, "conformal", 1)
    for rows, calibration in parts:
        rows = np.arange(len(z)) if rows is None else np.asarray(rows)
        if not len(rows):
            continue
        zr, mr, obs_r = z[rows], mask[rows], obs.iloc[rows]
        pred = predictive(imputer, calibration, zr, mr, obs_r, center=np.asarray(center)[rows])
        if interval is not None:
            lower[rows], upper[rows] = pred.interval(interval)
        if draws:
            own = (imputer.draw(np.where(mr > 0, zr, np.nan), mr, obs_r, int(draws), rng) if own_spread(imputer)
                   else None)
            completed[:, rows] = pred.draws(int(draws), rng, own)
    out = {} if interval is None else {"lower": to_user(lower), "upper": to_user(upper)}
    for m in range(int(draws or 0)):
        out[f"draw_{m + 1}"] = to_user(completed[m])
    return out


def _record_uncertainty(info: dict, interval: float | None, draws: int | None, parts) -> None:
    if interval is not None:
        info["interval"] = float(interval)
    if draws:
        info["draws"] = int(draws)
    if interval is not None or draws:
        info["calibration"] = {name: {"entries": int(len(c.scores)), "scaled": c.scaled, "cells": c.resolved()}
                               for name, c in parts.items()}


def choices(imputer) -> dict:
    """What the method chose on validation (factors, neighbours, shrinkage; ``auto``'s members, weights and
    seconds), as the scalars an .h5ad's ``uns`` can hold."""
    found = {**(getattr(imputer, "chosen_", None) or {}), **(getattr(imputer, "info_", None) or {})}
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in found.items()
            if isinstance(v, (str, bool, int, float, np.generic))}


def impute_cohort(adata: ad.AnnData, method: str, preset: str = "book", seed: int = 0, source: str = "input",
                  progress: bool = False, interval: float | None = None, draws: int | None = None,
                  budget: float | None = None) -> ad.AnnData:
    """A copy of ``adata`` with every NaN filled by ``method`` (in place), recording what was done in
    ``uns["gaingtex_impute"]``; with ``interval`` and ``draws``, the bounds and completed data sets as layers.
    ``budget``: seconds the method may take to fit and to impute (each), for the methods that keep a clock; one
    whose rate projects past it stops early with :class:`~gaingtex.imputers.base.BudgetExceeded`."""
    check_uncertainty(interval, draws)
    spec = registry.spec(method)
    if not spec.supports("inplace"):
        raise ValueError(f"method {spec.name!r} cannot fill a cohort in place (it supports {', '.join(spec.scenarios)})")
    adata = validate(adata, source)
    X = np.asarray(adata.X, dtype=np.float32)
    observed = ~np.isnan(X)
    generator = None
    if spec.needs_generator:
        from .data.embedded import factor_model

        generator = factor_model(adata)
    valid = validation_donors(adata.obs, seed)
    if (interval is not None or draws) and not valid.any():
        raise ValueError(f"{source}: --interval and --draws are calibrated on held-out donors, and the file has "
                         f"{adata.obs['donor_id'].nunique()} donors (at least 3 are needed)")
    # Memory: at the paper's size (15,201 × 12,557, 0.76 GB as float32) every whole-matrix copy counts, so the
    # splits are standardised straight from X, the full standardised matrix exists only while it is imputed, and
    # the result is written over the method's output. The values are those of the plain expressions.
    train_rows, held_rows = np.flatnonzero(~valid), np.flatnonzero(valid)
    scale = Standardizer.fit(X, names=adata.var_names, rows=train_rows)
    train, held = (Split(scale.transform(X, rows), adata.obs.iloc[rows], adata.var_names, scale)
                   for rows in (train_rows, held_rows))
    imputer = registry.get(spec.name, scenario="inplace", preset=preset, seed=seed, generator=generator,
                           progress=progress, budget=budget)
    uncertain = interval is not None or bool(draws)
    shown = observed
    if uncertain:  # the training rows' calibration entries, held out of the fit and of the imputation
        held_out = holdout(~np.isnan(train.x), seed)
        train.x[held_out] = np.nan
        shown = observed.copy()
        shown[train_rows] &= ~held_out
    imputer.fit(train, held if len(held) else None)
    del train  # the imputer keeps what it needs
    if not uncertain:
        del held
    Z = scale.transform(X)
    center = imputer.transform(Z, shown, adata.obs)  # a 0/1 mask as bool: every method checks it to float32
    layers, calibrations = {}, {}
    if uncertain:
        # the rows the method was fitted on, by their held-out entries; the validation donors', new to it, by
        # pseudo-masked entries of their own (conformal.holdout says why the two differ)
        i, j = np.nonzero(held_out)
        calibrations["held-out entries"] = calibrate_holdout(
            imputer, Z[train_rows], shown[train_rows], adata.obs.iloc[train_rows], held_out,
            Z[train_rows[i], j], np.asarray(center)[train_rows])
        calibrations["held-out donors"] = calibrate(imputer, held, seed=seed, shown=float(observed.mean()))
        layers = uncertainty_layers(imputer, [(train_rows, calibrations["held-out entries"]),
                                              (held_rows, calibrations["held-out donors"])],
                                    Z, shown, adata.obs, center,
                                    lambda z: np.where(observed, X, scale.inverse(z)).astype(np.float32),
                                    interval, draws, seed)
    del Z
    # out = where(observed, X, center · std + mean), computed over center itself (the layers are new arrays)
    center = np.asarray(center)
    if not center.flags.writeable:
        center = center.copy()
    center *= scale.std
    center += scale.mean
    np.copyto(center, X, where=observed)
    out = center.astype(np.float32, copy=False)
    result = ad.AnnData(X=out, obs=adata.obs.copy(), var=adata.var.copy(), uns=dict(adata.uns), layers=layers)
    result.uns["gaingtex_impute"] = {"method": spec.name, "preset": preset, "seed": int(seed),
                                     "filled_fraction": float(1.0 - observed.mean()),
                                     "filled_entries": int((~observed).sum()), "validation_samples": int(valid.sum()),
                                     "version": __version__, "chosen": choices(imputer)}
    _record_uncertainty(result.uns["gaingtex_impute"], interval, draws, calibrations)
    return result


def impute_with_model(adata: ad.AnnData, model, source: str = "input", interval: float | None = None,
                      draws: int | None = None) -> ad.AnnData:
    """A copy of ``adata`` whose missing entries of ``model``'s genes are imputed by the trained inductive
    ``model`` (a :class:`~gaingtex.imputers.deep.trainer.DeepImputer`), with the model's genes that ``adata`` lacks
    appended; the decisions are listed in ``uns["gaingtex_impute"]["report"]``. ``interval`` and ``draws`` need
    the calibration the model saved at training time (``calibration_``)."""
    check_uncertainty(interval, draws)
    if model.scenario != "inductive":
        raise ValueError(f"{label(model.name)} was trained in place, on its own cohort's samples; --model needs an "
                         "inductive model (gaingtex train --scenario inductive)")
    if getattr(model, "genes_", None) is None or getattr(model, "scale_", None) is None:
        raise ValueError(f"{label(model.name)}: the model file records no gene symbols or standardisation (written "
                         "by an older gaingtex); retrain it with this version")
    calibration = getattr(model, "calibration_", None)
    if (interval is not None or draws) and calibration is None:
        raise ValueError(f"{label(model.name)}: the model file holds no calibration (it was trained by an earlier "
                         "gaingtex), so it has no intervals or draws; retrain it with this version")
    adata = validate(adata, source, empty_genes=True)  # the model fills a gene with no observed value, too
    if adata.n_obs == 0:
        raise ValueError(f"{source}: no sample to impute")
    genes = list(model.genes_)
    own = list(adata.var_names)
    shared = [g for g in genes if g in set(own)]
    if not shared:
        raise ValueError(f"{source}: none of the model's {len(genes)} genes is in the file (the model's first: "
                         f"{genes[:3]})")
    lacking = [g for g in genes if g not in set(own)]
    unknown = [g for g in own if g not in set(genes)]
    report = []
    if lacking:
        report.append(f"{len(lacking)} of the model's {len(genes)} genes are not in {source}; they are added and "
                      f"imputed, e.g. {lacking[:3]}")
    if unknown:
        report.append(f"{len(unknown)} genes of {source} are not the model's; they are left as they are, e.g. "
                      f"{unknown[:3]}")
    X = np.asarray(adata.X, dtype=np.float32)
    column = {g: i for i, g in enumerate(own)}
    xm = np.full((adata.n_obs, len(genes)), np.nan, dtype=np.float32)
    for j, g in enumerate(genes):
        if g in column:
            xm[:, j] = X[:, column[g]]
    observed = ~np.isnan(xm)
    blind = ~observed.any(axis=1)
    if blind.any():
        report.append(f"{int(blind.sum())} samples have none of the model's genes observed; they are imputed from "
                      "their covariates alone")
    scale = model.scale_
    check_model_scale(scale.transform(xm), observed, label(model.name), source)
    z = scale.transform(xm)
    center = model.transform(z, observed.astype(np.float32), adata.obs)
    at = {g: j for j, g in enumerate(genes)}

    def placed(values: np.ndarray) -> np.ndarray:
        """A matrix of the model's genes (prepared scale) in the file's layout, the added genes last; observed
        cells and the file's other genes as they were."""
        on_model = np.where(observed, xm, scale.inverse(values)).astype(np.float32)
        out = X.copy()
        for g in shared:
            out[:, column[g]] = on_model[:, at[g]]
        return np.concatenate([out, on_model[:, [at[g] for g in lacking]]], axis=1)

    out = placed(center)
    layers = ({} if interval is None and not draws else
              uncertainty_layers(model, [(None, calibration)], np.where(observed, z, 0.0), observed, adata.obs,
                                 center, placed, interval, draws, int(model.seed)))
    table = reference.protein_coding_genes().drop_duplicates("symbol").set_index("symbol")
    extra = pd.DataFrame({"ensembl_id": table["ensembl_gene_id"].reindex(lacking).fillna("").to_numpy(),
                          "chromosome": table["contig"].reindex(lacking).fillna("").to_numpy()},
                         index=pd.Index(lacking, name=adata.var.index.name))
    var = _append_genes(adata.var, extra)
    result = ad.AnnData(X=out, obs=adata.obs.copy(), var=var, uns=dict(adata.uns), layers=layers)
    entries = int(np.isnan(X[:, [column[g] for g in shared]]).sum()) + len(lacking) * adata.n_obs
    result.uns["gaingtex_impute"] = {"method": label(model.name), "model": "inductive", "seed": int(model.seed),
                                     "filled_entries": entries, "filled_fraction": entries / out.size,
                                     "added_genes": len(lacking), "report": report, "version": __version__}
    _record_uncertainty(result.uns["gaingtex_impute"], interval, draws, {"validation donors": calibration})
    return result


# The median |z| of values on their model's own scale is about 0.67 (a standard normal's); values several
# standard deviations away on the median are on another scale (log or counts against standardised).
SCALE_TOLERANCE = 3.0


def check_model_scale(z: np.ndarray, observed: np.ndarray, name: str, source: str) -> None:
    """Refuse values on another scale than the model's training data (standardised by the model's own gene means
    and sds, the median observed value would sit several sds away), which it would impute into nonsense."""
    seen = np.abs(z[observed])
    if seen.size and float(np.median(seen)) > SCALE_TOLERANCE:
        raise ValueError(f"{source}: its values are on another scale than the data {name} was trained on (on the "
                         f"model's scale the median value sits {float(np.median(seen)):.1f} sds from the gene's "
                         "mean, where about 0.7 is expected); give values normalised as the training cohort was "
                         "(e.g. through gaingtex gtex), or impute with --method, which learns the file's own scale")


def _append_genes(var: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """``var`` with the rows of ``extra`` appended; the added genes' other annotations are missing (``<NA>`` for a
    flag or number, an empty string for text), never invented."""
    if extra.empty:
        return var.copy()
    out = var.copy()
    for column in out.columns.difference(extra.columns):
        kind = out[column].dtype
        if pd.api.types.is_bool_dtype(kind):
            out[column] = out[column].astype("boolean")
        elif pd.api.types.is_numeric_dtype(kind):
            out[column] = out[column].astype("Float64")
        else:
            extra[column] = ""
    return pd.concat([out, extra.astype({c: str for c in extra.columns})])
