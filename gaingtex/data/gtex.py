"""GTEx v8 files → a cohort in the schema (``gaingtex gtex``).

Expression comes either as the eQTL pipeline's per-tissue ``<Tissue>.v8.normalized_expression.bed.gz`` files
(``#chr start end gene_id`` then one column per donor; already normalised, merged on the genes present in every
tissue) or as a GCT 1.2 matrix of read counts or TPM (one column per sample; normalised here per tissue, see
:mod:`gaingtex.data.normalise`). Samples and donors are annotated from the public tables of
:mod:`gaingtex.data.gtex_tables`. Every decision the loader takes (files, samples or genes left out, duplicates
resolved, ages converted) is a sentence in ``uns["gaingtex"]["report"]``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import anndata as ad
import numpy as np
import pandas as pd

from . import reference
from .gct import numbers, open_text, read_gct, read_header
from .gene_ids import GeneMap, isin_strings, map_genes, strip_version
from .gtex_tables import read_phenotypes, read_samples
from .normalise import METHODS, inverse_normal, inverse_normal_rows, row_chunks, tissue_scaling
from .._outputs import check_input
from .._parallel import run_parallel
from .schema import GTEX, suggest, validate

BED_NAME = re.compile(r"^(?P<tissue>.+)\.v8\.normalized_expression\.bed(\.gz)?$")
BED_COLUMNS = ("#chr", "start", "end", "gene_id")
MIN_SAMPLES = 10


def tissue_set(tissues: str | Sequence[str]) -> list[str]:
    """``paper`` (the paper's 49), ``all`` (GTEx v8's 54) or tissue ids (a list, or one comma-separated string)."""
    table = reference.tissues(in_paper_only=False)
    if isinstance(tissues, str) and tissues in ("paper", "all"):
        return list(reference.tissues(in_paper_only=tissues == "paper").index)
    names = tissues.split(",") if isinstance(tissues, str) else list(tissues)
    names = [t.strip() for t in names if t.strip()]
    unknown = [t for t in names if t not in table.index]
    if unknown:
        raise ValueError(f"--tissues names {unknown[0]!r}, which is not a GTEx v8 tissue id"
                         f"{suggest(unknown[0], table.index) or f' (e.g. {table.index[0]})'}; expected paper, all or "
                         "comma-separated ids")
    return names


def read_gtex(expression: Sequence[str | os.PathLike], samples: str | os.PathLike, phenotypes: str | os.PathLike,
              tissues: str | Sequence[str] = "paper", genotyped_only: bool = False,
              genes: str | list[str] = "protein-coding", normalise: str | None = None,
              min_samples: int = MIN_SAMPLES, progress: bool = False) -> ad.AnnData:
    """Read GTEx v8 expression files and annotation tables into a validated cohort.

    Parameters
    ----------
    expression
        Per-tissue eQTL BED files, or one GCT (read counts or TPM).
    samples, phenotypes
        The sample table and the subject phenotype table (:mod:`gaingtex.data.gtex_tables`).
    tissues
        ``paper``, ``all`` or a list of tissue ids.
    genotyped_only
        Keep only samples of donors with genotypes: needs the v8 paper's sample table, or eQTL files (whose donors
        all have genotypes).
    genes
        ``protein-coding``, ``all`` or a list of symbols or Ensembl ids (:func:`gaingtex.data.gene_ids.map_genes`).
    normalise
        ``tmm-int``, ``int`` or ``none``; default ``none`` for eQTL files and ``tmm-int`` for a GCT.
    min_samples
        Tissues with fewer samples after filtering are left out (and reported).
    """
    paths = [Path(p) for p in expression]
    if not paths:
        raise ValueError("--expression needs at least one file")
    for path in paths:
        check_input(path, "expression file")
    beds = [bool(BED_NAME.match(p.name)) for p in paths]
    if any(beds) and not all(beds):
        raise ValueError(f"--expression mixes eQTL BED files and others ({paths[beds.index(False)]}); give either "
                         "the <Tissue>.v8.normalized_expression.bed.gz files or one GCT")
    if not all(beds) and len(paths) > 1:
        raise ValueError(f"--expression takes one GCT file, got {len(paths)}")
    normalise = normalise or ("none" if beds[0] else "tmm-int")
    if normalise not in METHODS:
        raise ValueError(f"--normalise {normalise!r}: expected one of {', '.join(METHODS)}")
    if min_samples < 1:
        raise ValueError(f"--min-samples must be at least 1, got {min_samples}")
    wanted = tissue_set(tissues)
    report: list[str] = []  # every decision taken, in order
    sample_table, lines = read_samples(samples)
    report.extend(lines)
    donors, lines = read_phenotypes(phenotypes)
    report.extend(lines)
    if genotyped_only and not beds[0] and sample_table["has_genotype"].isna().all():
        raise ValueError(f"--genotyped-only needs the v8 paper's sample table (with has_genotype) or eQTL files; "
                         f"{samples} is the Portal's sample attributes")
    if beds[0]:
        if normalise == "tmm-int":
            raise ValueError("the eQTL BED files are already normalised values, not read counts: use --normalise "
                             "none (the default for them) or int")
        values, obs, gene_map = _read_beds(paths, sample_table, wanted, genes, report, progress)
    else:
        values, obs, gene_map = _read_gct(paths[0], sample_table, wanted, genes, normalise, genotyped_only, report,
                                          progress)
        check_counts(values, obs.index, normalise, paths[0])
    obs = _annotate(obs.assign(row=np.arange(len(obs))), donors, report)
    obs = obs[obs["keep"].to_numpy(dtype=bool)].drop(columns="keep")  # the matrix is not copied: rows index it
    explicit = not (isinstance(tissues, str) and tissues in ("paper", "all"))
    values, obs, var = _per_tissue(values, obs, gene_map, normalise, min_samples, wanted, explicit, report,
                                   progress)
    meta = {"kind": "gtex", "normalize": normalise,  # the stored key keeps its spelling: older files read alike
            "genes": genes if isinstance(genes, str) else "list",
            "sources": [str(p) for p in paths], "report": report}
    adata = ad.AnnData(X=values, obs=obs, var=var, uns={"gaingtex": meta})
    return validate(adata, str(paths[0]) if len(paths) == 1 else f"{len(paths)} eQTL files")


def _read_beds(paths, sample_table, wanted, genes, report, progress):
    """eQTL files of the wanted tissues, merged on the genes every one of them has."""
    frames = {}
    skipped = []
    for path in _bar(paths, progress, "reading eQTL files", "files"):
        tissue = BED_NAME.match(path.name).group("tissue")
        if tissue not in reference.tissues(in_paper_only=False).index:
            raise ValueError(f"{path}: the file name names tissue {tissue!r}, which is not a GTEx v8 tissue id")
        if tissue not in wanted:
            skipped.append(tissue)
            continue
        if tissue in frames:
            raise ValueError(f"{path}: a second file for tissue {tissue}")
        frames[tissue] = _read_bed(path)
    if skipped:
        report.append(f"left out {len(skipped)} eQTL files of tissues outside --tissues, e.g. {skipped[:3]}")
    if not frames:
        raise ValueError("no eQTL file is of a tissue in --tissues")
    common = set.intersection(*(set(f.index) for f in frames.values()))
    every = set.union(*(set(f.index) for f in frames.values()))
    if len(every) > len(common):
        report.append(f"merged {len(frames)} tissues on the {len(common)} genes present in every one; left out "
                   f"{len(every) - len(common)} genes missing from some")
    order = [g for g in next(iter(frames.values())).index if g in common]
    gene_map = map_genes(order, genes=genes, source="eQTL files")
    report.extend(gene_map.decisions)
    ids = [order[i] for i in gene_map.rows]
    blocks, obs = [], []
    lookup = sample_table.reset_index().rename(columns={"index": "sample_id"})
    for tissue, frame in frames.items():
        donors = list(frame.columns)
        rows = lookup[(lookup["tissue"] == tissue) & lookup["donor_id"].isin(donors)]
        if rows["has_genotype"].notna().any():
            rows = rows[rows["has_genotype"].astype(bool)]
        dup = rows["donor_id"][rows["donor_id"].duplicated()]
        if len(dup):
            raise ValueError(f"the sample table has two {tissue} samples of donor {dup.iloc[0]}; cannot tell which "
                             "is the eQTL file's")
        sample_of = dict(zip(rows["donor_id"], rows["sample_id"]))
        absent = [d for d in donors if d not in sample_of]
        if absent:
            raise ValueError(f"{tissue}: donor {absent[0]} of the eQTL file has no {tissue} sample in the sample "
                             f"table ({len(absent)} such donors)")
        blocks.append(frame.loc[ids].to_numpy(dtype=np.float32).T)
        obs.append(pd.DataFrame({"donor_id": donors, "tissue": tissue, "keep": True},
                                index=[sample_of[d] for d in donors]))
    return np.concatenate(blocks), pd.concat(obs), GeneMap(np.arange(len(ids)), gene_map.var, gene_map.decisions)


def _read_bed(path: Path) -> pd.DataFrame:
    """One eQTL file as genes (versioned ids) × donors."""
    try:
        with open_text(path) as handle:
            frame = pd.read_csv(handle, sep="\t", dtype={"#chr": str, "gene_id": str}, low_memory=False)
    except (OSError, UnicodeDecodeError, EOFError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"{path}: cannot be read as a tab-separated BED file ({type(err).__name__})") from None
    if tuple(frame.columns[:4]) != BED_COLUMNS:
        raise ValueError(f"{path}: the first columns are {list(frame.columns[:4])}; an eQTL expression file starts "
                         f"with {list(BED_COLUMNS)}")
    donors = frame.columns[4:]
    if not len(donors):
        raise ValueError(f"{path}: no donor column")
    bad = [d for d in donors if not str(d).startswith("GTEX-") or "." in str(d)]
    if bad:
        raise ValueError(f"{path}: column {bad[0]!r} is not a donor id such as GTEX-1117F (a repeated column?)")
    strip_version(frame["gene_id"])  # a one-line error for a row that is not a gene id
    dup = frame["gene_id"][frame["gene_id"].duplicated()]
    if len(dup):
        raise ValueError(f"{path}: gene id {dup.iloc[0]!r} appears more than once")
    ids = frame["gene_id"].to_numpy()
    return pd.DataFrame(numbers(frame.iloc[:, 4:], ids, path, "donor"), index=ids, columns=donors)


def _read_gct(path, sample_table, wanted, genes, normalise, genotyped_only, report, progress):
    """A GCT's samples of the wanted tissues (and donors), with the rows that normalisation needs."""
    header = read_header(path)
    known = [s for s in header.samples if s in sample_table.index]
    if len(known) < len(header.samples):
        unknown = [s for s in header.samples if s not in sample_table.index]
        if not known:
            raise ValueError(f"{path}: none of its {len(header.samples)} samples is in the sample table (e.g. "
                             f"{unknown[0]})")
        report.append(f"{path}: left out {len(unknown)} samples that are not in the sample table, e.g. {unknown[:2]}")
    table = sample_table.loc[known]
    chosen = table["tissue"].isin(wanted).to_numpy()
    if genotyped_only:
        chosen &= table["has_genotype"].fillna(False).astype(bool).to_numpy()
    if not chosen.any():
        raise ValueError(f"{path}: no sample is of a tissue in --tissues"
                         f"{' with a genotyped donor' if genotyped_only else ''}")
    columns = list(table.index[chosen])
    if normalise == "tmm-int":  # TMM uses every gene of the file, as the GTEx pipeline does
        keep_rows = None
    elif isinstance(genes, str) and genes == "protein-coding":
        coding = set(reference.protein_coding_genes()["ensembl_gene_id"])
        keep_rows = lambda names: isin_strings(strip_version(names)[0], coding)  # noqa: E731
    else:
        keep_rows = None
    gct = read_gct(path, columns, keep_rows=keep_rows, progress=progress)
    gene_map = map_genes(gct.ids, gct.descriptions, genes=genes, source=str(path))
    report.extend(gene_map.decisions)
    values = gct.values.T  # samples × genes, C-ordered: the reader's own array, not a copy
    if normalise != "tmm-int":  # only the mapped genes are needed
        values = values[:, gene_map.rows]
        gene_map = GeneMap(np.arange(len(gene_map.rows)), gene_map.var, gene_map.decisions)
    obs = table.loc[gct.samples, ["donor_id", "tissue"]].assign(keep=True)
    return values, obs, gene_map


def _annotate(obs: pd.DataFrame, donors: pd.DataFrame, report: list[str]) -> pd.DataFrame:
    """Each sample's sex, age and Hardy scale from its donor; samples of donors absent from the table are marked
    to be left out (and counted)."""
    known = obs["donor_id"].isin(donors.index).to_numpy()
    if not known.any():
        raise ValueError(f"no sample's donor is in the phenotype table (e.g. {obs['donor_id'].iloc[0]})")
    if (~known).any():
        report.append(f"left out {int((~known).sum())} samples whose donor is not in the phenotype table, e.g. "
                   f"{obs.index[~known][0]} (donor {obs['donor_id'][~known].iloc[0]})")
    obs = obs.assign(keep=obs["keep"].to_numpy() & known)
    info = donors.reindex(obs["donor_id"].to_numpy())
    for column in info.columns:
        obs[column] = info[column].to_numpy()
    obs["cohort"] = GTEX
    return obs


def _bar(items, progress: bool, desc: str, unit: str, total: int | None = None):
    """A progress bar over ``items`` (or, with ``items=None``, one updated by hand up to ``total``); without
    ``progress``, ``items`` as they are."""
    if not progress:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit=unit, leave=False, total=total)


def _per_tissue(values, obs, gene_map, normalise, min_samples, wanted, explicit, report, progress=False):
    """Normalise each tissue (when asked), keep the genes that pass in every tissue, leave out tiny tissues.

    A tissue named in an explicit ``--tissues`` list that has no sample is an error; of ``paper`` or ``all``, the
    absent tissues are reported."""
    tissue = obs["tissue"].astype(str).to_numpy()
    position = obs.pop("row").to_numpy()  # each sample's row of ``values``
    counts = pd.Series(tissue).value_counts()
    absent = [t for t in wanted if t not in counts.index]
    if absent and explicit:
        raise ValueError(f"tissue {absent[0]} of --tissues has no sample left in the files (after the sample and "
                         "donor filters)")
    if absent:
        report.append(f"{len(absent)} of the {len(wanted)} tissues have no sample in the files, e.g. {absent[:3]}")
    small = sorted(t for t, n in counts.items() if n < min_samples)
    if small:
        report.append(f"left out {len(small)} tissues with fewer than {min_samples} samples: "
                   + ", ".join(f"{t} ({counts[t]})" for t in small))
    present = [t for t in wanted if t in counts.index and t not in small]
    # Largest tissue first: the pool's threads then finish together instead of one waiting on a last large one.
    present.sort(key=lambda t: -counts[t])
    if not present:
        raise ValueError(f"no tissue has {min_samples} or more samples after filtering (--min-samples)")
    rows = isin_strings(tissue, present)
    passing = np.ones(len(gene_map.rows), dtype=bool)
    libraries = {}
    if normalise != "none":
        # First the thresholds (and TMM's library sizes) of every tissue, so that the inverse-normal transform
        # is then computed only for the genes that pass in all of them; tissues in parallel, each on one core
        # (fewer, larger tasks than splitting every tissue's samples across the cores).
        bar = _bar(None, progress, f"normalising ({normalise})", "tissues", total=len(present))

        def scale(t):
            scaled = tissue_scaling(values[position[tissue == t]], normalise)
            if bar is not None:
                bar.update()
            return scaled

        for t, (keep, libraries[t]) in zip(present, run_parallel([lambda t=t: scale(t) for t in present])):
            passing &= keep[gene_map.rows]
        if bar is not None:
            bar.close()
        if not passing.any():
            raise ValueError("no gene passes the expression thresholds (≥ 6 reads, or TPM ≥ 0.1, in ≥ 20 % of "
                             "samples) in every tissue")
        if (~passing).any():
            report.append(f"kept the {int(passing.sum())} genes that pass GTEx's expression thresholds in every tissue; "
                       f"left out {int((~passing).sum())}")
    genes = np.asarray(gene_map.rows)[passing]
    out = _compact(values, position[rows], genes)
    if normalise != "none":
        # Then, in the cohort's own matrix, each tissue's inverse-normal transform over its counts, tissues in
        # parallel.
        kept = tissue[rows]
        run_parallel([lambda t=t: _inverse_normal_into(out, np.flatnonzero(kept == t), libraries[t])
                      for t in present])
    return out, obs[rows], gene_map.var[passing]


def _inverse_normal_into(values: np.ndarray, rows: np.ndarray, library: np.ndarray | None) -> None:
    """Replace ``values[rows]`` (the samples of one tissue) by the inverse-normal transform of each gene (column),
    of counts per million of ``library`` when it is given; a block of genes at a time."""
    x = values[rows]
    for genes in row_chunks(x.shape[1], len(rows)):
        # Genes × samples in float64 straight from the block (the same division and product, element by element,
        # as ``block / library × 10⁶``): the transform ranks rows, so no transposed copy is made afterwards.
        block = np.empty((genes.stop - genes.start, len(rows)), dtype=np.float64)
        if library is None:
            block[...] = x[:, genes].T
        else:
            np.divide(x[:, genes].T, library, out=block)
            block *= 1e6
        if np.isnan(block).any():  # missing values (``int`` on a GCT with empty cells): ranked among the seen
            x[:, genes] = inverse_normal(block.T)
        else:
            x[:, genes] = inverse_normal_rows(block).T
    values[rows] = x


def _compact(values: np.ndarray, rows: np.ndarray, genes: np.ndarray) -> np.ndarray:
    """``values[rows][:, genes]`` for increasing ``rows``. A C-ordered, writable ``values`` (the loader's own
    matrix, no longer needed as it was) is compacted within its own memory, row after row, so that the cohort
    never needs a second matrix; a row is only written over rows already moved. The result is copied out only
    when it is under half that memory, which the copy then gives back."""
    n, k = len(rows), len(genes)
    if not (values.flags.c_contiguous and values.flags.writeable and np.all(np.diff(rows) > 0)):
        return values[np.ix_(rows, genes)]
    if n == len(values) and k == values.shape[1] and np.array_equal(genes, np.arange(k)):
        return values
    flat = values.reshape(-1)
    step = max(1, COMPACT_CELLS // max(1, k))
    for i in range(0, n, step):
        # The right side is a copy, taken before the write, of rows at or after row i; the write ends before the
        # first row still to be read (rows[j] ≥ j, and a row of values is at least as wide as one of the result).
        block = values[np.ix_(rows[i:i + step], genes)]
        flat[i * k:i * k + block.size] = block.reshape(-1)
    out = flat[:n * k].reshape(n, k)
    return out.copy() if 2 * out.nbytes < values.nbytes else out


COMPACT_CELLS = 1 << 18  # float32 cells :func:`_compact` moves at a time (a megabyte)
LINEAR_ABOVE = 50.0  # a non-negative value above this is a count or a TPM, never a normalised value


def check_counts(values: np.ndarray, samples, normalise: str, path, rows: int = 512) -> None:
    """A GCT's read counts or TPM, checked under every normalisation: none is negative, counts are whole numbers
    (a few fractions among them mean a damaged or mixed file), and they are not kept as they are (``none``) as
    if they were normalised values. Read a block of samples at a time, blocks on every core: a whole GTEx matrix
    is gigabytes."""

    def check(start):
        # in the matrix's own float32: a view, and every test below gives what it gives in float64 (rounding a
        # float32 to a whole number is exact)
        block = np.asarray(values[start: start + rows])
        below = block < 0
        seen = np.isfinite(block) & (block != 0)
        odd = seen & (block != np.round(block))

        def first(hit):
            if not hit.any():
                return None
            i, j = np.argwhere(hit)[0]
            return block[i, j], samples[start + i]

        return (int(below.sum()), int(odd.sum()), int(seen.sum()), first(below), first(odd),
                float(block[seen].max()) if seen.any() else -np.inf)

    # blocks of samples on every core, their counts summed and the first offender of each kind kept in file order
    parts = run_parallel([lambda start=start: check(start) for start in range(0, len(values), rows)])
    negative, fractions, nonzero = (sum(p[k] for p in parts) for k in range(3))
    first_negative, first_fraction = (next((p[k] for p in parts if p[k] is not None), None) for k in (3, 4))
    top = max((p[5] for p in parts), default=-np.inf)
    if negative:
        raise ValueError(f"{path}: {negative} values are negative, e.g. {first_negative[0]:g} in sample "
                         f"{first_negative[1]}; read counts and TPM never are (under any --normalise)")
    if 0 < fractions <= 0.01 * nonzero:
        raise ValueError(f"{path}: the values are whole read counts except {fractions}, e.g. {first_fraction[0]:g} "
                         f"in sample {first_fraction[1]}; counts are whole numbers (a damaged file, or counts mixed "
                         "with TPM?)")
    if normalise == "none" and top > LINEAR_ABOVE:
        raise ValueError(f"{path}: the values reach {top:g}: read counts or TPM, which --normalise none would keep "
                         "as if they were normalised; use --normalise tmm-int (counts) or int (TPM)")
