"""The cohort schema: the one AnnData layout every source (embedded or real) produces and every step reads.

- ``X``: samples × genes, float32, **NaN means missing** (sparse input is made dense).
- ``obs`` (index: unique sample ids): ``donor_id``, ``tissue`` (a GTEx v8 tissue id), ``sex`` (``female`` /
  ``male``), ``age`` (years, numeric), ``hardy`` (Hardy death scale ``0``–``4`` or ``NA``); optionally ``split``
  (``train`` / ``valid`` / ``test`` / ``external``), ``cohort`` (``GTEx`` or a shifted cohort's name) and
  ``age_bracket`` (``20-29`` … ``70-79``).
- ``var`` (index: unique gene symbols): ``ensembl_id`` and ``chromosome`` (filled from the shipped Ensembl table
  when absent; empty for a symbol it does not know).
- ``uns["generator"]``: the generating model, for embedded cohorts only (``uns["gaingtex"]["kind"] ==
  "embedded"``).

:func:`validate` checks all of it and raises :class:`SchemaError` with one line that names the source, the
column and the offending value.
"""

from __future__ import annotations

import difflib
import warnings

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse

from . import reference
from .splits import check_donor_split

SEXES = ("female", "male")
HARDY_LEVELS = ("0", "1", "2", "3", "4", "NA")
AGE_BRACKETS = ("20-29", "30-39", "40-49", "50-59", "60-69", "70-79")
SPLITS = ("train", "valid", "test", "external")
GTEX = "GTEx"
REQUIRED_OBS = ("donor_id", "tissue", "sex", "age", "hardy")
OPTIONAL_OBS = ("split", "cohort", "age_bracket")
VAR_COLUMNS = ("ensembl_id", "chromosome")


MAX_AGE, OLD_AGE = 120, 100  # years: above MAX_AGE an error (months?), above OLD_AGE a warning
LARGEST = 1e9  # |value| above this is an error: no log-scale or normalised expression comes near it


class SchemaError(ValueError):
    """A cohort does not follow the schema; the message names the source, the column and the value."""


class SchemaWarning(UserWarning):
    """A cohort was accepted after a conversion the message names (e.g. age brackets to years)."""


def _first(values: np.ndarray, bad: np.ndarray, index: pd.Index) -> str:
    i = int(np.flatnonzero(bad)[0])
    more = int(bad.sum()) - 1
    return f"{values[i]!r} (sample {index[i]}{f', and {more} more' if more else ''})"


def _categorical(obs: pd.DataFrame, column: str, allowed: tuple[str, ...], source: str,
                 normalise=None, present_only: bool = False) -> None:
    """Check a categorical column and store it with the allowed values as categories (in their order; only the
    values present when ``present_only``)."""
    values = obs[column].astype(object).to_numpy()
    if normalise is not None:
        values = np.array([normalise(v) for v in values], dtype=object)
    text = np.array([str(v) for v in values], dtype=object)
    bad = ~np.isin(text, allowed)
    if bad.any():
        expected = ", ".join(allowed) if len(allowed) <= 8 else f"{len(allowed)} values such as {', '.join(allowed[:3])}"
        empty = pd.isna(obs[column].to_numpy()) & bad
        if empty.any():  # a missing value, not an unknown one
            more = int(empty.sum()) - 1
            raise SchemaError(f"{source}: obs column {column!r} is missing (empty) for sample "
                              f"{obs.index[np.flatnonzero(empty)[0]]}{f', and {more} more' if more else ''}; every "
                              f"sample needs one of {expected}")
        raise SchemaError(f"{source}: obs column {column!r} holds {_first(values, bad, obs.index)}; expected one of "
                          f"{expected}{suggest(text[bad][0], allowed)}")
    categories = [a for a in allowed if a in set(text)] if present_only else list(allowed)
    obs[column] = pd.Categorical(text, categories=categories)


def suggest(value: str, allowed) -> str:
    """`` (did you mean 'Whole_Blood'?)`` for a value that differs from an allowed one in case, spacing or a few
    letters, else an empty string."""
    key = lambda text: str(text).strip().lower().replace(" ", "_").replace("-", "_")  # noqa: E731
    folded = {key(a): a for a in allowed}
    match = folded.get(key(value)) or next(iter(difflib.get_close_matches(key(value), list(folded), n=1,
                                                                        cutoff=0.8)), None)
    if match is None:
        return ""
    return f" (did you mean {folded.get(match, match)!r}?)"


def _hardy(value):
    """Hardy scale values as GTEx writes them (0–4, floats such as 3.0, empty for unknown) to the schema's."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return "NA"
    if isinstance(value, (int, np.integer, float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return value


def _matrix(adata: ad.AnnData, source: str, gtex: np.ndarray, empty_genes: bool = False) -> np.ndarray:
    """``X`` as dense float32, checked: finite, every sample with an observed value, and (unless
    ``empty_genes``) every gene observed in some GTEx sample (an external cohort may lack a gene entirely: its
    loader reports it)."""
    X = adata.X
    if X is None:
        raise SchemaError(f"{source}: the AnnData has no expression matrix X")
    if scipy.sparse.issparse(X) or hasattr(X, "to_memory"):
        X = _dense(X)
    X = np.asarray(X)
    if X.ndim != 2 or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise SchemaError(f"{source}: X must be a numeric samples × genes matrix, got dtype {X.dtype}")
    X = X.astype(np.float32, copy=False)
    # One pass over blocks of rows, whose temporaries stay in the cache: a GTEx matrix is gigabytes.
    beyond = 0
    gene_seen = np.zeros(X.shape[1], dtype=bool)
    sample_empty = np.zeros(X.shape[0], dtype=bool)
    for start in range(0, X.shape[0], CHECK_ROWS):
        block = X[start: start + CHECK_ROWS]
        beyond += int(np.count_nonzero(np.abs(block) > LARGEST))  # ±inf too; NaN is not
        observed = ~np.isnan(block)
        sample_empty[start: start + CHECK_ROWS] = ~observed.any(axis=1)
        gene_seen |= observed[gtex[start: start + CHECK_ROWS]].any(axis=0)
    if beyond:
        _beyond(X, adata, source)
    for empty, names, what in ((None if empty_genes or not gtex.any() else ~gene_seen, adata.var_names, "gene"),
                               (sample_empty, adata.obs_names, "sample")):
        if empty is not None and empty.any():
            raise SchemaError(f"{source}: {int(empty.sum())} {what}s have no observed value, e.g. "
                              f"{list(names[empty][:3])}; drop them before imputing")
    return X


CHECK_ROWS = 256


def _beyond(X: np.ndarray, adata: ad.AnnData, source: str) -> None:
    """The error for values no expression reaches: infinite ones first, then those beyond ±``LARGEST``."""
    inf = np.isinf(X)
    if inf.any():
        i, j = np.argwhere(inf)[0]
        raise SchemaError(f"{source}: X holds {int(inf.sum())} infinite values, first {X[i, j]} at sample "
                          f"{adata.obs_names[i]}, gene {adata.var_names[j]}; use NaN for a missing value")
    huge = np.abs(X) > LARGEST
    i, j = np.argwhere(huge)[0]
    raise SchemaError(f"{source}: X holds {int(huge.sum())} values beyond ±{LARGEST:.0e}, first {X[i, j]:.3g} at "
                      f"sample {adata.obs_names[i]}, gene {adata.var_names[j]}; expression on a log or "
                      "normalised scale never reaches that (their squares overflow float32)")


def _dense(X, rows: int = 4096) -> np.ndarray:
    """A sparse (or backed) matrix as dense float32, a block of rows at a time: scanpy writes sparse matrices, and
    an entry absent from one is a 0, not a missing value."""
    out = np.empty(X.shape, dtype=np.float32)
    for start in range(0, X.shape[0], rows):
        block = X[start: start + rows]
        out[start: start + rows] = block.toarray() if scipy.sparse.issparse(block) else np.asarray(block)
    return out


def _ages(obs: pd.DataFrame, source: str) -> None:
    """``age`` in years: numbers as they are; GTEx brackets (``60-69``) become their middle year, with the bracket
    kept in ``age_bracket`` and a warning; anything else is an error naming the sample."""
    raw = obs["age"]
    age = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    text = raw.astype(str).str.strip().to_numpy()
    bracket = np.isin(text, AGE_BRACKETS)
    if bracket.any():
        low = np.array([int(t[:2]) if b else 0 for t, b in zip(text, bracket)])
        age = np.where(bracket, low + 4.5, age)
        if "age_bracket" not in obs.columns and bracket.all():
            obs["age_bracket"] = text
        warnings.warn(f"{source}: {int(bracket.sum())} ages are ten-year brackets (e.g. {text[bracket][0]!r}); each "
                      "became its middle year (60-69 → 64.5)", SchemaWarning, stacklevel=3)
    bad = np.isnan(age)
    if bad.any():
        raise SchemaError(f"{source}: obs column 'age' holds {_first(raw.to_numpy(), bad, obs.index)}; "
                          "expected a number of years or a bracket such as 60-69")
    bad = (age < 0) | (age > MAX_AGE)
    if bad.any():
        raise SchemaError(f"{source}: obs column 'age' holds {_first(raw.to_numpy(), bad, obs.index)}; an age is 0 to "
                          f"{MAX_AGE} years (were these months?)")
    if (age > OLD_AGE).any():
        warnings.warn(f"{source}: {int((age > OLD_AGE).sum())} samples are aged over {OLD_AGE} (the oldest "
                      f"{age.max():g}); check that the ages are in years", SchemaWarning, stacklevel=3)
    obs["age"] = age


def validate(adata: ad.AnnData, source: str = "cohort", empty_genes: bool = False) -> ad.AnnData:
    """Check ``adata`` against the schema and return it with normalised dtypes (categories, float32 ``X``).

    Parameters
    ----------
    adata
        The cohort.
    source
        What to call it in error messages: usually its file name.
    empty_genes
        Allow genes with no observed value (a trained model fills them); otherwise they are an error.

    Raises
    ------
    SchemaError
        On a missing column, an unknown tissue, sex, Hardy value, split or age bracket, a non-numeric or missing
        age, duplicate sample ids or gene symbols, an infinite value, a gene or sample with nothing observed,
        a donor in two splits, or a generating model in a cohort that is not embedded.
    """
    if not isinstance(adata, ad.AnnData):
        raise SchemaError(f"{source}: expected an AnnData, got {type(adata).__name__}")
    obs = adata.obs.copy()
    missing = [c for c in REQUIRED_OBS if c not in obs.columns]
    if missing:
        raise SchemaError(f"{source}: obs has no {missing[0]!r} column (the schema needs {', '.join(REQUIRED_OBS)})")
    for names, what, where in ((adata.obs_names, "sample ids", "obs"), (adata.var_names, "gene symbols", "var")):
        dup = names[names.duplicated()]
        if len(dup):
            raise SchemaError(f"{source}: {len(dup)} duplicate {what} in the {where} index, e.g. {list(dup[:3])}")
    donors = obs["donor_id"].astype(object).to_numpy()
    bad = pd.isna(donors) | (np.array([str(d) for d in donors]) == "")
    if bad.any():
        raise SchemaError(f"{source}: obs column 'donor_id' is empty for sample {obs.index[np.flatnonzero(bad)[0]]}")
    obs["donor_id"] = np.array([str(d) for d in donors], dtype=object)
    _categorical(obs, "tissue", tuple(reference.tissues(in_paper_only=False).index), source, present_only=True)
    _categorical(obs, "sex", SEXES, source)
    _categorical(obs, "hardy", HARDY_LEVELS, source, normalise=_hardy)
    _ages(obs, source)
    if "split" in obs.columns:
        _categorical(obs, "split", SPLITS, source)
    if "age_bracket" in obs.columns:
        _categorical(obs, "age_bracket", AGE_BRACKETS, source)
    if "cohort" in obs.columns:
        cohort = obs["cohort"].astype(object).to_numpy()
        bad = pd.isna(cohort)
        if bad.any():
            raise SchemaError(f"{source}: obs column 'cohort' is empty for sample {obs.index[np.flatnonzero(bad)[0]]}")
        obs["cohort"] = pd.Categorical([str(c) for c in cohort])
    if "split" in obs.columns:
        gtex = is_gtex(obs)
        try:
            check_donor_split(obs["donor_id"].to_numpy()[gtex], obs["split"].astype(str).to_numpy()[gtex])
        except ValueError as err:
            raise SchemaError(f"{source}: {err}") from None
    var = adata.var.copy()
    table = reference.protein_coding_genes().drop_duplicates("symbol").set_index("symbol")
    for column, ref in zip(VAR_COLUMNS, ("ensembl_gene_id", "contig")):
        if column not in var.columns:
            var[column] = table[ref].reindex(var.index).fillna("").to_numpy()
    uns = dict(adata.uns)
    kind = uns.get("gaingtex", {}).get("kind")
    if "generator" in uns and kind != "embedded":
        raise SchemaError(f"{source}: uns['generator'] is only for embedded cohorts (uns['gaingtex']['kind'] is "
                          f"{kind!r}, expected 'embedded')")
    X = _matrix(adata, source, is_gtex(obs), empty_genes)
    return ad.AnnData(X=X, obs=obs, var=var, uns=uns)


def is_gtex(obs: pd.DataFrame) -> np.ndarray:
    """Which samples belong to the GTEx (or the user's own) cohort, as opposed to a shifted external cohort."""
    if "cohort" not in obs.columns:
        return np.ones(len(obs), dtype=bool)
    return obs["cohort"].astype(str).to_numpy() == GTEX

