"""GCT 1.2 files (the GTEx Portal's gene read-count and TPM matrices), read in blocks and written atomically.

A GCT 1.2 file is a ``#1.2`` line, a ``<rows> <columns>`` line, then a tab-separated table: ``Name`` (a versioned
Ensembl id), ``Description`` (the symbol) and one column per sample. The full GTEx v8 matrix is 56,200 genes ×
17,382 samples, so it is parsed a block of text at a time (``pyarrow.csv``, on every core, while a second thread
decompresses the next block) straight into one preallocated float32 array of the rows and columns asked for: it
is never held whole as text or as a table, and never as float64. ``.gz`` files are decompressed by ISA-L
(``isal``, the maintained binding that xopen and cutadapt use), about twice as fast as zlib.
"""

from __future__ import annotations

import gzip
import io
import os
import queue
import threading
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
from isal import igzip, isal_zlib

from .._io import atomic_path

# Text parsed at a time: a few dozen rows of the 17,382-sample matrix. What the reader holds beyond the matrix
# grows with the piece (pieces in flight, their one-value-a-line copies, pyarrow's buffers), so pieces are kept
# small; pyarrow still parses each in parallel blocks.
PIECE_BYTES = 1 << 21
ARROW_BLOCK = 1 << 20  # pyarrow's unit of parallel parsing within a piece
MAX_DECLARED = 100_000  # GENCODE v26 has 56,200 genes


class LoadWarning(UserWarning):
    """A real file is odd in a way the loader can handle; the message says what it did."""


def open_text(path: Path):
    """A text handle on ``path``, decompressing ``.gz``."""
    return igzip.open(path, "rt") if path.suffix == ".gz" else open(path)


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
    except (OSError, UnicodeDecodeError, EOFError, isal_zlib.error) as err:
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
    """What :func:`read_gct` kept: ``values`` (kept genes × kept samples, float32), with their ids.

    ``values`` is the transpose of a C-ordered samples × genes array (``values.T`` is that array, not a copy):
    the cohort is samples × genes, and each tissue's samples are then whole rows."""

    ids: np.ndarray
    descriptions: np.ndarray
    samples: list[str]
    values: np.ndarray


def read_gct(path: str | os.PathLike, samples: Sequence[str] | None = None,
             keep_rows: Callable[[np.ndarray], np.ndarray] | None = None, chunk_rows: int | None = None,
             progress: bool = False) -> GctTable:
    """Stream a GCT into float32, keeping the sample columns ``samples`` (default all, in file order) and the
    rows for which ``keep_rows(names)`` is true (default all); ``chunk_rows`` parses that many rows at a time
    (default: blocks of about :data:`PIECE_BYTES` of text).

    The declared shape is checked against the table: a disagreement (a subset file that kept the full file's
    header) is a :class:`LoadWarning` naming both counts, and the table is read as it is. A non-numeric cell is a
    ``ValueError`` naming its gene, sample and value; an empty cell is read as NaN.
    """
    from pyarrow.lib import ArrowException

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
    parse = _parser(["Name", "Description", *header.samples], wanted)
    # Every row kept: fill one samples × genes float32 array of the declared size, a block of columns at a time
    # (at most MAX_DECLARED genes: a damaged shape line must not claim the memory). Rows chosen by ``keep_rows``
    # are collected in blocks, since how many there will be is not known ahead.
    whole = (np.empty((len(wanted), min(header.rows, MAX_DECLARED)), dtype=np.float32) if keep_rows is None
             else None)
    ids, descriptions, blocks, n_rows, filled = [], [], [], 0, 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=header.rows, desc=f"reading {path.name}", unit="genes")
    pieces = _pieces(path, chunk_rows)
    try:
        for piece in pieces:
            try:
                parsed = parse(piece)
            except (ArrowException, UnicodeDecodeError) as err:
                parsed, reason = None, err
            else:
                reason = "a line does not have one cell per column"
            if parsed is None:
                _diagnose(piece, ["Name", "Description", *header.samples], wanted, path, n_rows, reason)
            names, symbols, block = parsed
            n_rows += len(names)
            if bar is not None:
                bar.update(len(names))
            if keep_rows is not None:
                keep = np.asarray(keep_rows(names), dtype=bool)
                names, symbols, block = names[keep], symbols[keep], block[keep]
            if not len(names):
                continue
            if whole is not None and filled + len(names) <= whole.shape[1]:
                whole[:, filled:filled + len(names)] = block.T
            else:
                if whole is not None:  # more rows than declared: keep what was filled, then go on in blocks
                    blocks, whole = [whole[:, :filled]], None
                blocks.append(np.ascontiguousarray(block.T))
            filled += len(names)
            ids.append(names)
            descriptions.append(symbols)
    except (EOFError, OSError, zlib.error, isal_zlib.error, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: the file is truncated or damaged after {n_rows} genes ({err})") from None
    finally:
        pieces.close()
        if bar is not None:
            bar.close()
    if n_rows != header.rows:
        warnings.warn(f"{path}: the header declares {header.rows} genes but the table has {n_rows}; reading the "
                      "table as it is", LoadWarning, stacklevel=2)
    if whole is not None:
        # fewer rows than declared: a compact copy, so that the unused columns do not stay claimed
        values = whole if filled == whole.shape[1] else np.ascontiguousarray(whole[:, :filled])
    else:
        values = np.concatenate(blocks, axis=1) if blocks else np.empty((len(wanted), 0), dtype=np.float32)
    cat = (lambda parts: np.concatenate(parts) if parts else np.empty(0, dtype=object))
    return GctTable(cat(ids), cat(descriptions), wanted, values.T)


def _parser(columns: list[str], wanted: list[str]):
    """A function from a piece of the table's text to ``(names, descriptions, genes × wanted float32)``, or
    ``None`` when a line does not have one cell per column (for :func:`_diagnose` to word)."""
    import pyarrow as pa
    from pyarrow import csv

    n_samples = len(columns) - 2
    index = {s: i for i, s in enumerate(columns[2:])}
    chosen = None if len(wanted) == n_samples else np.array([index[s] for s in wanted])
    # The numbers are parsed as one column, a value a line: pyarrow's per-column work on a table 17,382 columns
    # wide would cost more than the parsing itself. Empty lines are empty cells (NaN).
    read = csv.ReadOptions(column_names=["value"], use_threads=True, block_size=ARROW_BLOCK)
    split = csv.ParseOptions(delimiter="\x1f", quote_char=False, ignore_empty_lines=False)
    convert = csv.ConvertOptions(column_types={"value": pa.float32()}, null_values=[""])

    def parse(piece: bytes):
        names, symbols, parts = [], [], []
        view = memoryview(piece)
        start = 0
        while start < len(piece):
            end = piece.find(b"\n", start)
            end = len(piece) if end < 0 else end
            stop = end - 1 if end > start and piece[end - 1] == 13 else end  # a Windows line end
            if stop > start:  # a blank line is skipped, as pandas does
                first = piece.find(b"\t", start, stop)
                second = piece.find(b"\t", first + 1, stop) if first >= 0 else -1
                if second < 0 or piece.count(b"\t", second + 1, stop) != n_samples - 1:
                    return None
                names.append(piece[start:first].decode())
                symbols.append(piece[first + 1:second].decode() or np.nan)  # as pandas read an empty one
                parts.append(view[second + 1:stop])
            start = end + 1
        if not names:
            return np.empty(0, dtype=object), np.empty(0, dtype=object), np.empty((0, len(wanted)), np.float32)
        parts.append(b"")  # a last line end, so that a last empty cell is a line too
        text = bytearray(b"\n").join(parts)
        codes = np.frombuffer(text, dtype=np.uint8)
        np.add(codes, codes == 9, out=codes, casting="unsafe")  # each tab (9) becomes a line end (10)
        cells = csv.read_csv(pa.BufferReader(text), read_options=read, parse_options=split,
                             convert_options=convert).column(0)
        block = cells.to_numpy().reshape(len(names), n_samples)
        return (np.array(names, dtype=object), np.array(symbols, dtype=object),
                block if chosen is None else block[:, chosen])

    return parse


def _pieces(path: Path, lines: int | None) -> Iterator[bytes]:
    """The table's text after the three header lines, in pieces that end at a line end: ``lines`` lines each, or
    about :data:`PIECE_BYTES`. A second thread reads and decompresses the next piece while this one is parsed
    (ISA-L lets go of the interpreter while it works). Decompression errors come out of the iteration."""
    handoff: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            with (igzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as handle:
                for _ in range(3):
                    handle.readline()
                rest = b""
                while True:
                    if lines:
                        data = b"".join(handle.readline() for _ in range(lines))
                    else:
                        data = rest + handle.read(PIECE_BYTES)
                    if not data or data == rest:
                        break
                    cut = len(data) if lines else data.rfind(b"\n") + 1
                    rest = b"" if lines else data[cut:]
                    if cut and not put(data[:cut]):
                        return
                if rest.strip() and not put(rest):  # a last line without its line end
                    return
            put(None)
        except BaseException as err:  # handed to the reading thread, which raises it
            put(err)

    worker = threading.Thread(target=produce, name="gct-decompress", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _diagnose(piece: bytes, columns: list[str], wanted: list[str], path: Path, before: int, err):
    """Raise the one-line ``ValueError`` for a piece that pyarrow refused: the cell that is not a number (gene,
    sample, value), or the malformed line as pandas words it, or pyarrow's own message."""
    try:
        frame = pd.read_csv(io.BytesIO(piece), sep="\t", header=None, names=columns,
                            usecols=["Name", "Description", *wanted], dtype=str, keep_default_na=False,
                            na_values=[""], engine="c", low_memory=False)
    except pd.errors.ParserError as parse_err:
        raise ValueError(f"{path}: the table is malformed ({str(parse_err).strip().splitlines()[-1]})") from None
    except UnicodeDecodeError as decode_err:
        raise ValueError(f"{path}: the file is truncated or damaged after {before} genes ({decode_err})") from None
    numbers(frame[wanted], frame["Name"].to_numpy(dtype=object), path)
    raise ValueError(f"{path}: the table is malformed ({str(err).strip().splitlines()[0][:200]})") from None


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
