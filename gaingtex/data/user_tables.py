"""A user's own expression file — CSV, TSV, GCT or .h5ad — read into the schema and written back in its own format.

- **CSV / TSV** (``.csv``, ``.tsv``, ``.txt``, optionally ``.gz``): one row per sample, the first column its id;
  the covariate columns ``tissue``, ``sex``, ``age`` and optionally ``donor_id`` and ``hardy``; every other column
  a gene, named by symbol or Ensembl id. Empty cells, ``NA`` and ``NaN`` in a gene column are missing.
- **GCT** (``.gct``, ``.gct.gz``): genes × samples; ``Name`` a symbol or an Ensembl id.
- **.h5ad**: a cohort in the schema.

Covariates may instead come from a side table (``--obs FILE``: a CSV or TSV with the sample id first); a GCT needs
one. Without ``donor_id`` each sample is its own donor; without ``hardy`` it is ``NA``; an age given as a GTEx
bracket (``60-69``) becomes its middle year. Each such decision is reported.

Writing back keeps the file's format, delimiter, column order and every observed cell's text as it was; only
missing cells are filled, and genes a model adds are appended as new columns (rows, in a GCT).

Before anything is imputed the file is checked (:mod:`.user_checks`): the delimiter, the header, the sample ids,
columns that are neither covariates nor genes (``extra_columns``: keep, drop or impute them as genes; otherwise an
error naming them), the ages (0–120 years) and the scale of the values: read counts or TPM are imputed on
log(1 + x) and written back as counts, never imputed as if they were log or standardised values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._io import atomic_path
from .._outputs import check_input
from . import reference, user_checks
from .gct import write_gct_table
from .gene_ids import strip_version
from .gtex_tables import parse_age
from .h5ad import read_h5ad, write_h5ad
from .schema import validate

COVARIATES = ("tissue", "sex", "age", "donor_id", "hardy")
REQUIRED = ("tissue", "sex", "age")
MISSING = ("", "NA", "NaN", "nan", "N/A")


def file_kind(path: str | os.PathLike) -> str:
    """``csv``, ``tsv``, ``gct`` or ``h5ad`` from a file name (``.gz`` allowed for text)."""
    name = Path(path).name.lower()
    name = name[:-3] if name.endswith(".gz") else name
    for suffix, kind in ((".csv", "csv"), (".tsv", "tsv"), (".txt", "tsv"), (".gct", "gct"), (".h5ad", "h5ad")):
        if name.endswith(suffix):
            return kind
    raise ValueError(f"{path}: cannot tell the format from the name; expected .csv, .tsv, .txt, .gct or .h5ad")


@dataclass
class UserTable:
    """A user's file as read: the cohort in the schema, and what writing it back needs."""

    path: Path
    kind: str
    adata: ad.AnnData
    raw: pd.DataFrame | None = None  # samples × columns as text (CSV / TSV) or genes × columns (GCT)
    gene_columns: list[str] = field(default_factory=list)  # the file's own names of the genes, in adata's order
    report: list[str] = field(default_factory=list)
    sep: str = ","  # the delimiter the file uses (and its output gets)
    scale: str = "standardised"  # counts: adata holds log(1 + x), and the output is written back as counts
    original: np.ndarray | None = None  # the values as given, when adata holds them transformed


def _text_table(path: Path, sep: str, skiprows: int = 0) -> pd.DataFrame:
    """Every cell as text, the header as the first row (so that a repeated name is seen, not renamed)."""
    name = {",": "CSV", "\t": "TSV", ";": "semicolon-separated"}.get(sep, "text")
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, header=None, skiprows=skiprows)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, EOFError, OSError) as err:
        raise ValueError(f"{path}: cannot be read as a {name} table ({type(err).__name__}: "
                         f"{str(err).strip().splitlines()[-1] if str(err).strip() else ''})") from None
    return frame


def _gene_table() -> pd.Series:
    return reference.protein_coding_genes().drop_duplicates("ensembl_gene_id").set_index("ensembl_gene_id")["symbol"]


def _known_gene(symbols: set[str]):
    """Whether a column name is a gene the tool knows: a shipped symbol, or any Ensembl gene id."""
    return lambda name: str(name).strip().startswith("ENSG") or str(name).strip() in symbols


def _gene_names(names: list[str], path: Path) -> list[str]:
    """Symbols for a file's gene names: an Ensembl id (versioned or not) becomes the shipped table's symbol."""
    table = _gene_table()
    out = []
    for name in names:
        text = str(name).strip()
        if text.startswith("ENSG"):
            stem = strip_version([text])[0][0]
            out.append(table.get(stem, stem))
        else:
            out.append(text)
    index = pd.Index(out)
    dup = index[index.duplicated()]
    if len(dup):
        first = [names[i] for i in np.flatnonzero(index == dup[0])]
        raise ValueError(f"{path}: gene {dup[0]!r} appears twice (as columns {first[0]!r} and {first[1]!r}: a symbol "
                         "or its Ensembl id); keep one of them")
    return out


def _values(raw: pd.DataFrame, path: Path, rows_are: str) -> np.ndarray:
    """Text cells as float32, missing as NaN; a ``ValueError`` naming the first cell that is not a number."""
    missing = raw.isin(MISSING)
    numbers = raw.mask(missing).apply(pd.to_numeric, errors="coerce")
    bad = numbers.isna() & ~missing
    if bad.to_numpy().any():
        i, j = np.argwhere(bad.to_numpy())[0]
        raise ValueError(f"{path}: {rows_are} {raw.index[i]}, column {raw.columns[j]} holds {raw.iat[i, j]!r}; "
                         "expected a number, or an empty cell / NA for a missing value")
    return numbers.to_numpy(dtype=np.float32)


def _obs(frame: pd.DataFrame, path: Path, report: list[str]) -> pd.DataFrame:
    """Covariates in the schema's form, with the decisions reported; ``frame``'s columns are the schema's names."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: no {missing[0]!r} column{user_checks.near_miss(missing[0], frame.columns)}; the "
                         f"covariates are {', '.join(REQUIRED)} (and optionally donor_id, hardy), as columns or in "
                         "a side table given with --obs")
    obs = pd.DataFrame(index=frame.index)
    obs["tissue"] = frame["tissue"].str.strip().to_numpy()
    obs["sex"] = frame["sex"].str.strip().str.lower().to_numpy()
    ages, brackets = [], 0
    for sample, value in frame["age"].items():
        try:
            age, bracket = parse_age(value)
        except ValueError as err:
            raise ValueError(f"{path}: sample {sample}, column 'age' holds {value!r}; {err}") from None
        ages.append(age)
        brackets += str(value).strip() == bracket
    obs["age"] = ages
    if brackets:
        report.append(f"{path}: {brackets} ages are ten-year brackets; each became its middle year (60-69 → 64.5)")
    if "donor_id" in frame.columns:
        obs["donor_id"] = frame["donor_id"].str.strip().to_numpy()
    else:
        obs["donor_id"] = frame.index.to_numpy()
        report.append(f"{path}: no donor_id column; each sample is taken as its own donor")
    obs["hardy"] = frame["hardy"].str.strip().to_numpy() if "hardy" in frame.columns else "NA"
    return obs


def _side_table(path: Path, samples: pd.Index, report: list[str]) -> pd.DataFrame:
    """The covariates of ``--obs``, one row per sample of the expression file, columns by the schema's names."""
    check_input(path, "--obs file")
    kind = "csv" if file_kind(path) == "csv" else "tsv"
    frame = user_checks.header(_text_table(path, user_checks.sniff(path, kind, report)), path, report)
    if frame.empty:
        raise ValueError(f"{path}: the table has a header but no rows")
    index = user_checks.sample_ids(frame.iloc[:, 0], frame.columns[0], path, COVARIATES, lambda name: False)
    frame = frame.set_axis(index)
    names = user_checks.covariate_names(frame.columns[1:], COVARIATES, path, report)
    frame = frame.rename(columns={v: k for k, v in names.items()})
    absent = samples[~samples.isin(frame.index)]
    if len(absent):
        raise ValueError(f"{path}: {len(absent)} samples of the expression file have no row, e.g. {absent[0]!r}")
    return frame.loc[samples]


def read_user_file(path: str | os.PathLike, obs: str | os.PathLike | None = None, scale: str | None = None,
                   extra_columns: str | None = None, for_model: bool = False) -> UserTable:
    """Read a user's file (and side table of covariates) into the schema; see the module's docstring.

    ``scale``: ``counts``, ``log`` or ``standardised`` (default: decided from the values); ``extra_columns``:
    ``keep``, ``drop`` or ``genes`` for columns that are neither covariates nor known genes (default: an error
    naming them); ``for_model``: the file goes to a trained model, which fills genes that have no observed value
    at all, so such genes are allowed."""
    path = check_input(path)
    kind = file_kind(path)
    if extra_columns is not None and extra_columns not in user_checks.EXTRA:
        raise ValueError(f"--extra-columns {extra_columns!r}: expected one of {', '.join(user_checks.EXTRA)}")
    report: list[str] = []
    if kind == "h5ad":
        if obs is not None:
            raise ValueError("--obs is for text files; an .h5ad holds its covariates in obs")
        adata = read_h5ad(path, empty_genes=for_model)
        how = user_checks.scale(np.asarray(adata.X, dtype=np.float32), scale, path, report)
        table = UserTable(path, kind, adata, report=report, scale=how)
        return _on_scale(table, for_model)
    if kind == "gct":
        if obs is None:
            raise ValueError(f"{path}: a GCT holds no covariates; give them with --obs (tissue, sex, age, …)")
        raw = user_checks.header(_text_table(path, "\t", skiprows=2), path, report, first_is_id=False)
        if list(raw.columns[:2]) != ["Name", "Description"]:
            raise ValueError(f"{path}: the table's first columns are {list(raw.columns[:2])}; expected ['Name', "
                             "'Description'] (GCT 1.2)")
        if raw.empty or raw.shape[1] < 3:
            raise ValueError(f"{path}: the GCT has no {'gene row' if raw.empty else 'sample column'}")
        raw = raw.set_index(raw["Name"].str.strip().to_numpy()).rename_axis(None)
        gene_columns = list(raw["Name"])
        samples = pd.Index(raw.columns[2:])
        X = _values(raw[samples], path, "gene").T
        covariates = _side_table(Path(obs), samples, report)
        sep = "\t"
    else:
        sep = user_checks.sniff(path, kind, report)
        raw = user_checks.header(_text_table(path, sep), path, report)
        if raw.empty:
            raise ValueError(f"{path}: the table has a header but no sample rows")
        symbols = set(reference.protein_coding_genes()["symbol"])
        known = _known_gene(symbols)
        samples = user_checks.sample_ids(raw.iloc[:, 0], raw.columns[0], path, COVARIATES, known)
        raw = raw.set_axis(samples.astype(str))
        names = user_checks.covariate_names(raw.columns[1:], COVARIATES, path, report)
        others = [c for c in raw.columns[1:] if c not in set(names.values())]
        absent = [c for c in REQUIRED if c not in names]
        if obs is None and absent:  # before the other columns: a misspelt covariate is not an unknown gene
            raise ValueError(f"{path}: no {absent[0]!r} column{user_checks.near_miss(absent[0], others)}; the "
                             f"covariates are {', '.join(REQUIRED)} (and optionally donor_id, hardy), as columns or "
                             "in a side table given with --obs")
        extra = user_checks.extra_columns(others, known, extra_columns, path, report)
        if extra_columns == "drop":
            raw = raw.drop(columns=extra)
        gene_columns = [c for c in others if c not in set(extra)]
        if not gene_columns:
            raise ValueError(f"{path}: no gene column besides the sample id and covariates (its columns: "
                             f"{list(raw.columns[:6])}{', …' if raw.shape[1] > 6 else ''})")
        covariates = (_side_table(Path(obs), samples, report) if obs is not None
                      else raw.rename(columns={v: k for k, v in names.items()}))
        X = _values(raw[gene_columns], path, "sample")
    symbols = _gene_names(gene_columns, path)
    how = user_checks.scale(X, scale, path, report)
    original = X if how == "counts" else None
    X = np.log1p(X) if how == "counts" else X
    adata = ad.AnnData(X=X, obs=_obs(covariates, Path(obs) if obs else path, report).set_axis(samples.astype(str)),
                       var=pd.DataFrame(index=pd.Index(symbols, name="symbol")))
    adata = validate(adata, str(path), empty_genes=for_model)
    return UserTable(path, kind, adata, raw, gene_columns, report, sep, how, original)


def _on_scale(table: UserTable, for_model: bool) -> UserTable:
    """An .h5ad of counts holds log(1 + x) while it is imputed; the given values are kept for writing back."""
    if table.scale == "counts":
        table.original = np.asarray(table.adata.X, dtype=np.float32)
        table.adata = table.adata.copy()
        table.adata.X = np.log1p(table.original)
        table.adata = validate(table.adata, str(table.path), empty_genes=for_model)
    return table


def write_like(table: UserTable, result: ad.AnnData, path: str | os.PathLike) -> Path:
    """Write ``result`` (the table's samples; its genes first, then any added) in the table's format, atomically:
    observed cells keep their text, filled cells and added genes are written with 7 significant digits (as counts
    again when the file held counts); a cell nothing could fill stays as it was."""
    path = Path(path)
    if file_kind(path) != table.kind:
        raise ValueError(f"the output {path} must be a {table.kind} file like the input {table.path}")
    X = np.asarray(result.X)
    if table.scale == "counts":
        X = user_checks.to_counts(X, table.original)
    if table.kind == "h5ad":
        if table.scale == "counts":
            result = result.copy()
            result.X = X
        return write_h5ad(result, path)
    n_own = len(table.gene_columns)
    if list(result.var_names[:n_own]) != list(table.adata.var_names):
        raise ValueError("the result's first genes are not the input's, in its order")
    added = list(result.var_names[n_own:])
    formatted = pd.DataFrame(X, columns=list(table.gene_columns) + added).map(
        lambda v: "" if np.isnan(v) else f"{v:.7g}")
    if table.kind == "gct":
        own = table.raw.iloc[:, 2:].T.reset_index(drop=True)  # samples × genes, as text
        own.columns = table.gene_columns
        filled = own.where(~own.isin(MISSING) | (formatted[table.gene_columns] == ""), formatted[table.gene_columns])
        body = pd.concat([table.raw.iloc[:, :2].reset_index(drop=True),
                          filled.T.reset_index(drop=True).set_axis(table.raw.columns[2:], axis=1)], axis=1)
        extra = pd.DataFrame({"Name": added, "Description": added})
        extra = pd.concat([extra, formatted[added].T.reset_index(drop=True).set_axis(table.raw.columns[2:], axis=1)],
                          axis=1)
        return write_gct_table(path, pd.concat([body, extra], ignore_index=True))
    raw = table.raw.reset_index(drop=True)
    own = raw[table.gene_columns]
    out = raw.copy()
    out[table.gene_columns] = own.where(~own.isin(MISSING) | (formatted[table.gene_columns] == ""),
                                        formatted[table.gene_columns])
    out = pd.concat([out, formatted[added]], axis=1)
    with atomic_path(path, suffix=".tmp") as tmp:
        out.to_csv(tmp, sep=table.sep, index=False, compression="gzip" if path.suffix == ".gz" else None)
    return path
