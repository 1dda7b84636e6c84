"""A user's own expression file — CSV, TSV, GCT or .h5ad — read into the schema and written back in its own format.

- **CSV / TSV** (``.csv``, ``.tsv``, ``.txt``, optionally ``.gz``): one row per sample, the first column its id;
  the covariate columns ``tissue``, ``sex``, ``age`` and optionally ``donor_id`` and ``hardy``; every other column
  a gene, named by symbol or Ensembl id. Empty cells, ``NA`` and ``NaN`` in a gene column are missing.
- **GCT** (``.gct``, ``.gct.gz``): genes × samples; ``Name`` a symbol or an Ensembl id.
- **.h5ad**: a cohort in the schema.

Covariates may instead come from a side table (``--obs FILE``: a CSV or TSV with the sample id first); a GCT needs
one. Without ``donor_id`` each sample is its own donor; without ``hardy`` it is ``NA``; an age given as a GTEx
bracket (``60-69``) becomes its middle year. Each such decision is reported.

Writing back keeps the file's format, column order and every observed cell's text as it was; only missing cells
are filled, and genes a model adds are appended as new columns (rows, in a GCT).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._io import atomic_path
from . import reference
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


def _text_table(path: Path, kind: str, skiprows: int = 0) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep="," if kind == "csv" else "\t", dtype=str, keep_default_na=False,
                           skiprows=skiprows)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, EOFError, OSError) as err:
        raise ValueError(f"{path}: cannot be read as a {kind.upper()} table ({type(err).__name__}: "
                         f"{str(err).strip().splitlines()[-1] if str(err).strip() else ''})") from None


def _gene_names(names: list[str], path: Path) -> list[str]:
    """Symbols for a file's gene names: an Ensembl id (versioned or not) becomes the shipped table's symbol."""
    table = reference.protein_coding_genes().drop_duplicates("ensembl_gene_id").set_index("ensembl_gene_id")
    out = []
    for name in names:
        text = str(name).strip()
        if text.startswith("ENSG"):
            stem = strip_version([text])[0][0]
            out.append(table["symbol"].get(stem, stem))
        else:
            out.append(text)
    dup = pd.Index(out)[pd.Index(out).duplicated()]
    if len(dup):
        raise ValueError(f"{path}: gene {dup[0]!r} appears twice (as a symbol or through its Ensembl id)")
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
    """Covariates in the schema's form, with the decisions reported."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: no {missing[0]!r} column; the covariates are {', '.join(REQUIRED)} (and optionally "
                         "donor_id, hardy), as columns or in a side table given with --obs")
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


def _side_table(path: Path, samples: pd.Index) -> pd.DataFrame:
    frame = _text_table(path, "csv" if file_kind(path) == "csv" else "tsv")
    frame = frame.set_index(frame.columns[0])
    dup = frame.index[frame.index.duplicated()]
    if len(dup):
        raise ValueError(f"{path}: sample {dup[0]!r} appears twice")
    absent = samples[~samples.isin(frame.index)]
    if len(absent):
        raise ValueError(f"{path}: {len(absent)} samples of the expression file have no row, e.g. {absent[0]!r}")
    return frame.loc[samples]


def read_user_file(path: str | os.PathLike, obs: str | os.PathLike | None = None) -> UserTable:
    """Read a user's file (and side table of covariates) into the schema; see the module's docstring."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file {path} does not exist")
    kind = file_kind(path)
    if kind == "h5ad":
        if obs is not None:
            raise ValueError("--obs is for text files; an .h5ad holds its covariates in obs")
        return UserTable(path, kind, read_h5ad(path))
    report: list[str] = []
    if kind == "gct":
        if obs is None:
            raise ValueError(f"{path}: a GCT holds no covariates; give them with --obs (tissue, sex, age, …)")
        raw = _text_table(path, "tsv", skiprows=2)
        if list(raw.columns[:2]) != ["Name", "Description"]:
            raise ValueError(f"{path}: the table's first columns are {list(raw.columns[:2])}; expected ['Name', "
                             "'Description'] (GCT 1.2)")
        raw = raw.set_index("Name", drop=False)
        gene_columns = list(raw.index)
        samples = pd.Index(raw.columns[2:])
        X = _values(raw[samples], path, "gene").T
        covariates = _side_table(Path(obs), samples)
    else:
        raw = _text_table(path, kind)
        raw = raw.set_index(raw.columns[0], drop=False)
        samples = pd.Index(raw.index)
        covariates = _side_table(Path(obs), samples) if obs is not None else raw
        skip = {raw.columns[0], *(COVARIATES if obs is None else ())}
        gene_columns = [c for c in raw.columns if c not in skip]
        if not gene_columns:
            raise ValueError(f"{path}: no gene column besides the sample id and covariates")
        X = _values(raw[gene_columns], path, "sample")
    dup = samples[samples.duplicated()]
    if len(dup):
        raise ValueError(f"{path}: sample {dup[0]!r} appears twice")
    symbols = _gene_names(gene_columns, path)
    adata = ad.AnnData(X=X, obs=_obs(covariates, Path(obs) if obs else path, report).set_axis(samples.astype(str)),
                       var=pd.DataFrame(index=pd.Index(symbols, name="symbol")))
    return UserTable(path, kind, validate(adata, str(path)), raw, gene_columns, report)


def write_like(table: UserTable, result: ad.AnnData, path: str | os.PathLike) -> Path:
    """Write ``result`` (the table's samples; its genes first, then any added) in the table's format, atomically:
    observed cells keep their text, filled cells and added genes are written with 7 significant digits."""
    path = Path(path)
    if file_kind(path) != table.kind:
        raise ValueError(f"the output {path} must be a {table.kind} file like the input {table.path}")
    if table.kind == "h5ad":
        return write_h5ad(result, path)
    n_own = len(table.gene_columns)
    if list(result.var_names[:n_own]) != list(table.adata.var_names):
        raise ValueError("the result's first genes are not the input's, in its order")
    added = list(result.var_names[n_own:])
    X = np.asarray(result.X)
    formatted = pd.DataFrame(X, columns=list(table.gene_columns) + added).map(lambda v: f"{v:.7g}")
    if table.kind == "gct":
        own = table.raw.iloc[:, 2:].T.reset_index(drop=True)  # samples × genes, as text
        own.columns = table.gene_columns
        filled = own.where(~own.isin(MISSING), formatted[table.gene_columns])
        body = pd.concat([table.raw.iloc[:, :2].reset_index(drop=True),
                          filled.T.reset_index(drop=True).set_axis(table.raw.columns[2:], axis=1)], axis=1)
        extra = pd.DataFrame({"Name": added, "Description": added})
        extra = pd.concat([extra, formatted[added].T.reset_index(drop=True).set_axis(table.raw.columns[2:], axis=1)],
                          axis=1)
        return write_gct_table(path, pd.concat([body, extra], ignore_index=True))
    raw = table.raw.reset_index(drop=True)
    own = raw[table.gene_columns]
    out = raw.copy()
    out[table.gene_columns] = own.where(~own.isin(MISSING), formatted[table.gene_columns])
    out = pd.concat([out, formatted[added]], axis=1)
    with atomic_path(path, suffix=".tmp") as tmp:
        out.to_csv(tmp, sep="," if table.kind == "csv" else "\t", index=False,
                   compression="gzip" if path.suffix == ".gz" else None)
    return path
