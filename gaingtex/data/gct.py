"""GCT 1.2 files (the GTEx Portal's gene read-count and TPM matrices), read in chunks and written atomically.

A GCT 1.2 file is a ``#1.2`` line, a ``<rows> <columns>`` line, then a tab-separated table: ``Name`` (a versioned
Ensembl id), ``Description`` (the symbol) and one column per sample. The full GTEx v8 matrix is 56,200 genes ×
17,382 samples, so it is parsed a block of rows at a time into float32 and only the rows and columns asked for
are kept: it is never held whole, and never as float64.
"""

from __future__ import annotations

import gzip
import os
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .._io import atomic_path

CHUNK_CELLS = 4_000_000  # cells parsed at a time: ~230 rows of the 17,382-sample matrix, a few hundred MB at most
MAX_DECLARED = 100_000  # GENCODE v26 has 56,200 genes


class LoadWarning(UserWarning):
    """A real file is odd in a way the loader can handle; the message says what it did."""


def open_text(path: Path):
    """A text handle on ``path``, decompressing ``.gz``."""
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path)


@dataclass(frozen=True)
class GctHeader:
    """The first three lines of a GCT: declared shape and the sample columns."""

    rows: int
    columns: int
    samples: list[str]


def read_header(path: str | os.PathLike) -> GctHeader:
    """Read and check a GCT's header; a one-line ``ValueError`` naming the file when it is not GCT 1.2."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"expression file {path} does not exist")
    try:
        with open_text(path) as handle:
            version = handle.readline().rstrip("\r\n")
            shape = handle.readline().rstrip("\r\n").split()
            header = handle.readline().rstrip("\r\n").split("\t")
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise ValueError(f"{path}: cannot be read as a text GCT file ({type(err).__name__}: {err})") from None
    if version != "#1.2":
        raise ValueError(f"{path}: first line is {version[:40]!r}; a GCT 1.2 file starts with '#1.2'")
    if len(shape) < 2 or not all(s.isdigit() for s in shape[:2]):
        raise ValueError(f"{path}: second line is {' '.join(shape)[:40]!r}; expected '<rows> <columns>'")
    if header[:2] != ["Name", "Description"]:
        raise ValueError(f"{path}: the table's first columns are {header[:2]}; expected ['Name', 'Description']")
    samples = header[2:]
    dup = pd.Index(samples)[pd.Index(samples).duplicated()]
    if len(dup):
        raise ValueError(f"{path}: sample column {dup[0]!r} appears more than once")
    if not samples:
        raise ValueError(f"{path}: the table has no sample column")
    return GctHeader(int(shape[0]), int(shape[1]), samples)


@dataclass
class GctTable:
    """What :func:`read_gct` kept: ``values`` (kept genes × kept samples, float32), with their ids."""

    ids: np.ndarray
    descriptions: np.ndarray
    samples: list[str]
    values: np.ndarray


def read_gct(path: str | os.PathLike, samples: Sequence[str] | None = None,
             keep_rows: Callable[[np.ndarray], np.ndarray] | None = None, chunk_rows: int | None = None,
             progress: bool = False) -> GctTable:
    """Stream a GCT into float32, keeping the sample columns ``samples`` (default all, in file order) and the
    rows for which ``keep_rows(names)`` is true (default all).

    The declared shape is checked against the table: a disagreement (a subset file that kept the full file's
    header) is a :class:`LoadWarning` naming both counts, and the table is read as it is. A non-numeric cell is a
    ``ValueError`` naming its gene, sample and value; an empty cell is read as NaN.
    """
    path = Path(path)
    header = read_header(path)
    wanted = header.samples if samples is None else list(samples)
    absent = sorted(set(wanted) - set(header.samples))
    if absent:
        raise ValueError(f"{path}: {len(absent)} samples are not columns of the file, e.g. {absent[:3]}")
    order = {s: i for i, s in enumerate(header.samples)}
    wanted = sorted(wanted, key=order.get)
    if header.columns != len(header.samples):
        warnings.warn(f"{path}: the header declares {header.columns} sample columns but the table has "
                      f"{len(header.samples)}; reading the table as it is", LoadWarning, stacklevel=2)
    dtype = {"Name": str, "Description": str}
    chunk_rows = chunk_rows or max(20, CHUNK_CELLS // len(wanted))
    reader = pd.read_csv(path, sep="\t", skiprows=2, usecols=["Name", "Description", *wanted], dtype=dtype,
                         chunksize=chunk_rows, keep_default_na=False, na_values=[""], engine="c", low_memory=False)
    ids, descriptions, blocks, n_rows = [], [], [], 0
    # Every row kept: fill one float32 array of the declared size (no second copy when the blocks are joined).
    # (At most MAX_DECLARED rows: a damaged shape line must not claim the memory.)
    whole = (np.empty((min(header.rows, MAX_DECLARED), len(wanted)), dtype=np.float32) if keep_rows is None
             else None)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=header.rows, desc=f"reading {path.name}", unit="genes")
    try:
        for chunk in reader:
            n_rows += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
            names = chunk["Name"].to_numpy(dtype=object)
            keep = np.ones(len(chunk), dtype=bool) if keep_rows is None else np.asarray(keep_rows(names), dtype=bool)
            if not keep.any():
                continue
            block = numbers(chunk.loc[keep, wanted], names[keep], path)
            start = n_rows - len(chunk)
            if whole is not None and n_rows <= len(whole):
                whole[start:n_rows] = block
            else:
                if whole is not None:  # more rows than declared: keep what was filled, then go on in blocks
                    blocks, whole = [whole[:start]], None
                blocks.append(block)
            ids.append(names[keep])
            descriptions.append(chunk["Description"].to_numpy(dtype=object)[keep])
    except pd.errors.ParserError as err:
        raise ValueError(f"{path}: the table is malformed ({str(err).strip().splitlines()[-1]})") from None
    except (EOFError, OSError, zlib.error, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: the file is truncated or damaged after {n_rows} genes ({err})") from None
    finally:
        if bar is not None:
            bar.close()
    if n_rows != header.rows:
        warnings.warn(f"{path}: the header declares {header.rows} genes but the table has {n_rows}; reading the "
                      "table as it is", LoadWarning, stacklevel=2)
    if whole is not None:
        values = whole[:n_rows]
    else:
        values = np.concatenate(blocks) if blocks else np.empty((0, len(wanted)), dtype=np.float32)
    cat = (lambda parts: np.concatenate(parts) if parts else np.empty(0, dtype=object))
    return GctTable(cat(ids), cat(descriptions), wanted, values)


def numbers(part: pd.DataFrame, names: Sequence[str], path: Path, columns: str = "sample") -> np.ndarray:
    """A genes × ``columns`` block of a table as float32, or a ``ValueError`` naming the first non-numeric cell
    (its gene, its column and its value); empty cells are NaN."""
    try:
        return part.to_numpy(dtype=np.float32)
    except (ValueError, TypeError):
        for column in part.columns:
            values = pd.to_numeric(part[column], errors="coerce")
            bad = values.isna() & part[column].notna()
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise ValueError(f"{path}: gene {names[i]}, {columns} {column} holds {part[column].iloc[i]!r}; "
                                 "expected a number") from None
        raise


def write_gct(path: str | os.PathLike, ids: Sequence[str], descriptions: Sequence[str], samples: Sequence[str],
              values: np.ndarray, fmt: str = "%.6g") -> Path:
    """Write genes × samples ``values`` as GCT 1.2 (gzip when ``path`` ends in ``.gz``), atomically."""
    values = np.asarray(values)
    if values.shape != (len(ids), len(samples)):
        raise ValueError(f"values have shape {values.shape}; expected {len(ids)} genes × {len(samples)} samples")
    frame = pd.DataFrame(values, columns=list(samples))
    frame.insert(0, "Description", list(descriptions))
    frame.insert(0, "Name", list(ids))
    return write_gct_table(path, frame, fmt)


def write_gct_table(path: str | os.PathLike, table: pd.DataFrame, fmt: str | None = None) -> Path:
    """Write a table whose columns are ``Name``, ``Description`` and the samples as GCT 1.2 (gzip when ``path``
    ends in ``.gz``), atomically; numbers are written with ``fmt``, text cells as they are."""
    path = Path(path)
    if list(table.columns[:2]) != ["Name", "Description"]:
        raise ValueError(f"a GCT table starts with the columns Name, Description, not {list(table.columns[:2])}")
    with atomic_path(path, suffix=".gct.tmp") as tmp:
        opener = gzip.open(tmp, "wt", compresslevel=1) if path.suffix == ".gz" else open(tmp, "w")
        with opener as handle:
            handle.write(f"#1.2\n{len(table)}\t{table.shape[1] - 2}\n")
            table.to_csv(handle, sep="\t", index=False, float_format=fmt, na_rep="")
    return path
