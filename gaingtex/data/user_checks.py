"""The checks a user's own table passes before anything is imputed, each naming the real cause: the delimiter, the
header (a sample-id column, empty and repeated headers, covariates in another case), the sample ids, columns that
are neither covariates nor genes, and the scale of the values (read counts or TPM, log, standardised).

Each function either returns what was decided (with a sentence appended to ``report``) or raises a one-line
``ValueError`` that names the file, the column or the value.
"""

from __future__ import annotations

import difflib
import gzip
from pathlib import Path

import numpy as np
import pandas as pd

SEPARATORS = {",": "commas", "\t": "tabs", ";": "semicolons"}
SCALES = ("counts", "log", "standardised")
EXTRA = ("keep", "drop", "genes")
# Non-negative values above this are on a linear scale: log2 of a count never gets near it (2⁵⁰ reads), and an
# inverse-normal or z-scored value stays within a few units of zero.
LINEAR_ABOVE = 50.0


def first_line(path: Path) -> str:
    """The first line of a text file (``.gz`` allowed); a ``ValueError`` naming the file when it cannot be read."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            return handle.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise ValueError(f"{path}: cannot be read as a text table ({type(err).__name__}: {err})") from None


def sniff(path: Path, kind: str, report: list[str]) -> str:
    """The delimiter of a CSV / TSV, from its header line: the one the extension implies unless another one
    clearly separates the header, which is then used (and named in a note)."""
    expected = "," if kind == "csv" else "\t"
    line = first_line(path)
    counts = {sep: line.count(sep) for sep in SEPARATORS}
    best = max(counts, key=counts.get)
    if counts[best] == 0 or counts[expected] >= counts[best]:
        return expected
    suffix = Path(path.name[:-3] if path.name.lower().endswith(".gz") else path.name).suffix
    report.append(f"{path}: its columns are separated by {SEPARATORS[best]}, not by {SEPARATORS[expected]} as "
                  f"its {suffix} name says; it was read with {SEPARATORS[best]}, and the output is written with "
                  "them too")
    return best


def header(frame: pd.DataFrame, path: Path, report: list[str], first_is_id: bool = True) -> pd.DataFrame:
    """A table read without a header (``header=None``) with its first row as the column names, as written (a
    repeated name is not renamed ``X.1``): columns with neither a header nor a value are dropped with a note; a
    header that is empty over values, or repeated, is an error."""
    names = ["" if pd.isna(c) else str(c).strip() for c in frame.iloc[0]]
    body = frame.iloc[1:].fillna("").reset_index(drop=True)
    body.columns = range(body.shape[1])
    empty = [j for j, name in enumerate(names) if name == "" and (j > 0 or not first_is_id)]
    blank = [j for j in empty if (body[j].str.strip() == "").all()]
    if blank:
        report.append(f"{path}: left out {len(blank)} column{'s' if len(blank) > 1 else ''} with neither a header "
                      "nor a value (a delimiter at the end of each line?)")
    for j in empty:
        if j not in blank:
            value = body[j][body[j].str.strip() != ""].iloc[0]
            raise ValueError(f"{path}: column {j + 1} holds values (e.g. {value!r}) but has no header; name it")
    keep = [j for j in range(len(names)) if j not in blank]
    body = body[keep]
    body.columns = [names[j] for j in keep]
    seen: dict[str, int] = {}
    for j, name in zip(keep, body.columns):
        if name in seen and name != "":
            raise ValueError(f"{path}: column {name!r} appears twice (columns {seen[name] + 1} and {j + 1}); each "
                             "gene or covariate needs exactly one column")
        seen[name] = j
    return body


def sample_ids(ids: pd.Series, first_name: str, path: Path, covariates, known_gene) -> pd.Index:
    """The first column as sample ids: refused when it is a covariate or a gene (the file has no id column), when
    a sample has no id or when an id repeats."""
    lowered = first_name.strip().lower()
    if lowered in covariates or known_gene(first_name):
        what = "a covariate" if lowered in covariates else "a gene"
        raise ValueError(f"{path}: the first column, {first_name!r}, is {what}; the first column must hold the "
                         "sample ids (add one, e.g. sample_1, sample_2, …)")
    ids = ids.str.strip()
    empty = np.flatnonzero((ids == "").to_numpy())
    if len(empty):
        raise ValueError(f"{path}: line {empty[0] + 2} has no sample id (its first column is empty); every sample "
                         "needs a unique id")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ValueError(f"{path}: sample {dup.iloc[0]!r} appears twice; sample ids must be unique")
    return pd.Index(ids)


def covariate_names(columns, covariates, path: Path, report: list[str]) -> dict[str, str]:
    """The file's covariate headers by the schema's names: ``Tissue`` or ``AGE`` is read as ``tissue`` or
    ``age`` (with a note)."""
    found, renamed = {}, []
    for column in columns:
        lowered = column.strip().lower()
        if lowered in covariates and lowered not in found:
            found[lowered] = column
            if column != lowered:
                renamed.append(f"{column!r} as {lowered!r}")
    if renamed:
        report.append(f"{path}: read the column{'s' if len(renamed) > 1 else ''} {', '.join(renamed)}")
    return found


def near_miss(name: str, columns) -> str:
    """`` (did you mean 'Tissues'?)`` for a header close to a wanted column, else an empty string."""
    lowered = {str(c).strip().lower(): c for c in columns}
    match = difflib.get_close_matches(name, list(lowered), n=1, cutoff=0.7)
    return f" (did you mean {lowered[match[0]]!r}?)" if match else ""


def extra_columns(columns: list[str], known_gene, choice: str | None, path: Path, report: list[str]) -> list[str]:
    """The columns (other than the sample id and the covariates) that are not genes the tool knows: with
    ``choice`` ``keep`` or ``drop`` they are returned (to be carried through or left out, never imputed), with
    ``genes`` none is (all are imputed as genes); without a choice they are an error that names them."""
    unknown = [c for c in columns if not known_gene(c)]
    if not unknown or choice == "genes":
        if unknown:
            report.append(f"{path}: {len(unknown)} columns are not known protein-coding genes (e.g. "
                          f"{unknown[:3]}); they are imputed as genes, as --extra-columns genes asks")
        return []
    shown = ", ".join(repr(c) for c in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
    if choice is None:
        raise ValueError(f"{path}: {len(unknown)} column{'s are' if len(unknown) > 1 else ' is'} neither a "
                         f"covariate nor a known gene symbol or Ensembl id: {shown}; say what to do with "
                         "--extra-columns keep (carry them through, not imputed), drop (leave them out of the "
                         "output) or genes (impute them as genes)")
    report.append(f"{path}: {'kept' if choice == 'keep' else 'left out'} {len(unknown)} columns that are not "
                  f"genes ({shown}){', as they are, not imputed' if choice == 'keep' else ''} (--extra-columns "
                  f"{choice})")
    return unknown


def scale(X: np.ndarray, declared: str | None, path: Path, report: list[str]) -> str:
    """The values' scale, ``counts`` (read counts or TPM: imputed on log(1 + x)), ``log`` or ``standardised``:
    decided from the values, or ``declared`` (``--scale``) when the values allow it. Counts are never imputed as
    if they were log or standardised values."""
    if declared is not None and declared not in SCALES:
        raise ValueError(f"--scale {declared!r}: expected one of {', '.join(SCALES)}")
    seen = X[~np.isnan(X)]
    if not seen.size:
        return declared or "log"
    low, high = float(seen.min()), float(seen.max())
    whole = float(np.mean(seen == np.round(seen)))
    linear = low >= 0 and high > LINEAR_ABOVE
    values = f"the values range from {low:g} to {high:g}" + (", all whole numbers" if whole == 1 else "")
    if declared == "counts" and low < 0:
        raise ValueError(f"{path}: --scale counts, but {values}; read counts and TPM are never negative")
    if declared in ("log", "standardised") and linear:
        raise ValueError(f"{path}: --scale {declared}, but {values}: read counts or TPM, not {declared} values (a "
                         f"log2 value of {high:g} would be 2^{high:g} reads); pass --scale counts, or leave --scale "
                         "out")
    if declared is not None:
        return declared
    if linear:
        report.append(f"{path}: {values}: read counts or TPM, not log or standardised values; they are imputed "
                      "as log(1 + x) and the filled cells are written back as counts (--scale says otherwise)")
        return "counts"
    return "log" if low >= 0 else "standardised"


def to_counts(filled: np.ndarray, original: np.ndarray | None) -> np.ndarray:
    """Imputed log(1 + x) values back on the counts' scale (never below zero); the observed values are the
    ``original`` ones, bit for bit."""
    out = np.expm1(np.maximum(np.asarray(filled, dtype=np.float64), 0.0)).astype(np.float32)
    if original is not None:
        own = out[:, : original.shape[1]]
        out[:, : original.shape[1]] = np.where(np.isnan(original), own, original)
    return out
