"""Gene identity for real files: versioned Ensembl ids → unversioned ids → unique symbols.

GTEx v8 (GENCODE v26) and the Xena GDC hub write versioned ids such as ``ENSG00000227232.5``; v26 also repeats
the pseudo-autosomal genes of chromosome Y as ``ENSG00000182378.14_PAR_Y``. Symbols come from the shipped Ensembl
112 table (:func:`gaingtex.data.reference.protein_coding_genes`), so that a gene is called the same in every file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import reference

_ENSEMBL = re.compile(r"^(ENSG\d{11})(\.\d+)?(_PAR_Y)?$")


def strip_version(ids) -> tuple[np.ndarray, np.ndarray]:
    """Unversioned Ensembl ids and whether each row is a chromosome-Y pseudo-autosomal copy (``_PAR_Y``).

    Raises ``ValueError`` naming the first id that is not a human Ensembl gene id."""
    ids = np.asarray(ids, dtype=object)
    stem = np.empty(len(ids), dtype=object)
    par_y = np.zeros(len(ids), dtype=bool)
    for i, value in enumerate(ids):
        match = _ENSEMBL.match(str(value))
        if match is None:
            raise ValueError(f"gene id {value!r} (row {i + 1}) is not an Ensembl gene id such as ENSG00000227232.5")
        stem[i], par_y[i] = match.group(1), match.group(3) is not None
    return stem, par_y


@dataclass
class GeneMap:
    """Which rows of a file become which genes of the cohort.

    Attributes
    ----------
    rows
        Row positions in the file, in the cohort's gene order.
    var
        The cohort's ``var``: index the unique symbols, ``ensembl_id`` (unversioned), ``chromosome``,
        ``gencode_id`` (the file's versioned id).
    decisions
        One sentence per decision taken (rows dropped, duplicates resolved), for the load report.
    """

    rows: np.ndarray
    var: pd.DataFrame
    decisions: list[str] = field(default_factory=list)


def read_gene_list(path: str | Path) -> list[str]:
    """Symbols or Ensembl ids, one per line (``#`` comments and blank lines skipped)."""
    from .._outputs import check_input

    path = check_input(path, "gene list")
    genes = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    genes = [g for g in genes if g]
    if not genes:
        raise ValueError(f"gene list {path} names no gene")
    return genes


def map_genes(ids, descriptions=None, genes: str | list[str] = "protein-coding", source: str = "file") -> GeneMap:
    """Map a file's versioned Ensembl ids to the cohort's unique gene symbols.

    Parameters
    ----------
    ids
        The file's gene ids (``Name`` of a GCT, ``gene_id`` of a BED, ``Ensembl_ID`` of a Xena table).
    descriptions
        The file's own symbols (a GCT's ``Description``), used for genes outside the shipped table.
    genes
        ``"protein-coding"``: the genes of the shipped Ensembl table; ``"all"``: every gene, named by the table
        where it knows the id, else by ``descriptions``, else by the id; or a list of symbols or Ensembl ids.
    source
        The file's name, for messages.

    Decisions, each reported: ``_PAR_Y`` copies are dropped (their chromosome-X gene is kept); rows of a gene the
    table does not know are dropped under ``"protein-coding"``; when two ids would share a symbol, the id the table
    gives that symbol keeps it, and each other id is named ``SYMBOL_ENSG…`` so that no gene is lost or confused.
    Duplicate ids are an error.
    """
    stem, par_y = strip_version(ids)
    versioned = np.asarray(ids, dtype=object)
    dup = pd.Index(versioned).duplicated()
    if dup.any():
        raise ValueError(f"{source}: gene id {versioned[dup][0]!r} appears more than once")
    dup = pd.Index(stem[~par_y]).duplicated()
    if dup.any():
        raise ValueError(f"{source}: Ensembl id {stem[~par_y][dup][0]} appears with two versions")
    table = reference.protein_coding_genes()
    by_id = table.drop_duplicates("ensembl_gene_id").set_index("ensembl_gene_id")
    canonical = table.drop_duplicates("symbol").set_index("symbol")["ensembl_gene_id"]
    decisions = []
    if par_y.any():
        decisions.append(f"{source}: dropped {int(par_y.sum())} chromosome-Y pseudo-autosomal copies (_PAR_Y); "
                         "their chromosome-X rows are kept")
    known = isin_strings(stem, by_id.index) & ~par_y
    keep = ~par_y
    if isinstance(genes, str) and genes == "protein-coding":
        if (~known & keep).any():
            decisions.append(f"{source}: dropped {int((~known & keep).sum())} genes that are not in the shipped "
                             "protein-coding table (Ensembl 112)")
        keep = known
    elif not isinstance(genes, str):
        keep = _requested(genes, stem, descriptions, by_id, canonical, keep, source, decisions)
    elif genes != "all":
        raise ValueError(f"genes must be 'protein-coding', 'all' or a list of genes, got {genes!r}")
    rows = np.flatnonzero(keep)
    if len(rows) == 0:
        raise ValueError(f"{source}: no gene is left after selecting {genes if isinstance(genes, str) else 'the list'}")
    symbols = []
    for i in rows:
        if stem[i] in by_id.index:
            symbols.append(by_id.at[stem[i], "symbol"])
        elif descriptions is not None and str(descriptions[i]).strip():
            symbols.append(str(descriptions[i]).strip())
        else:
            symbols.append(stem[i])
    symbols = np.array(symbols, dtype=object)
    renamed = 0
    for symbol in pd.Index(symbols)[pd.Index(symbols).duplicated(keep=False)].unique():
        at = np.flatnonzero(symbols == symbol)
        owner = canonical.get(symbol)
        winner = next((i for i in at if stem[rows[i]] == owner), at[0])
        for i in at:
            if i != winner:
                symbols[i] = f"{symbol}_{stem[rows[i]]}"
                renamed += 1
    if renamed:
        decisions.append(f"{source}: {renamed} ids shared a symbol with another id; the id that the Ensembl table "
                         "gives the symbol keeps it (else the first in the file) and each other is named SYMBOL_ENSG…")
    var = pd.DataFrame({"ensembl_id": stem[rows].astype(str),
                        "chromosome": by_id["contig"].reindex(stem[rows]).fillna("").to_numpy(),
                        "gencode_id": versioned[rows].astype(str)},
                       index=pd.Index(symbols.astype(str), name="symbol"))
    return GeneMap(rows, var, decisions)


def isin_strings(values, wanted) -> np.ndarray:
    """``np.isin`` for strings, by hashing: ``np.isin`` sorts object arrays, which is slow for strings."""
    return pd.Index(values).isin(wanted)


def _requested(genes, stem, descriptions, by_id, canonical, keep, source, decisions) -> np.ndarray:
    """Rows of a list of symbols or Ensembl ids, in the file's order; an error when none is found."""
    wanted = [str(g).split(".")[0] if str(g).startswith("ENSG") else str(g) for g in genes]
    ids = {canonical.get(g, g) for g in wanted}
    if descriptions is not None:
        names = np.array([str(d).strip() for d in descriptions], dtype=object)
        by_description = isin_strings(names, wanted) & ~isin_strings(stem, by_id.index)
    else:
        by_description = np.zeros(len(stem), dtype=bool)
    chosen = (isin_strings(stem, list(ids)) | by_description) & keep
    found = set(stem[chosen]) | (set(names[by_description]) if descriptions is not None else set())
    absent = [g for g in wanted if canonical.get(g, g) not in found and g not in found]
    if len(absent) == len(wanted):
        raise ValueError(f"{source}: none of the {len(wanted)} requested genes is in the file (e.g. {absent[:3]})")
    if absent:
        decisions.append(f"{source}: {len(absent)} of {len(wanted)} requested genes are not in the file, e.g. "
                         f"{absent[:5]}")
    return chosen
