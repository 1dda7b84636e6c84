"""Shipped public facts: GTEx v8 tissues, donor summary, gene lists (see ``data/README.md`` for provenance)."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd


def data_dir() -> Path:
    """Folder holding the shipped facts (``gaingtex/_data`` in a wheel, ``data/`` in a source checkout)."""
    here = Path(__file__).resolve().parents[1]  # the gaingtex package
    for candidate in (here / "_data", here.parent / "data"):
        if (candidate / "gtex_v8_tissues.tsv").is_file():
            return candidate
    raise FileNotFoundError(
        f"gaingtex's shipped data folder is missing: looked in {here / '_data'} and {here.parent / 'data'}"
    )


def _read_tsv(name: str, **kwargs) -> pd.DataFrame:
    """Read a shipped table, skipping its leading ``#`` comment lines (colours such as ``#FF6600`` stay)."""
    path = data_dir() / name
    with open(path) as handle:
        skip = 0
        for line in handle:
            if not line.startswith("#"):
                break
            skip += 1
    return pd.read_csv(path, sep="\t", skiprows=skip, **kwargs)


@functools.cache
def tissues(in_paper_only: bool = True) -> pd.DataFrame:
    """GTEx v8 tissue table indexed by ``tissue_id`` with colour, counts, donor sex and our tissue group.

    Parameters
    ----------
    in_paper_only
        Keep only the paper's 49 tissues (≥ 70 genotyped samples).
    """
    table = _read_tsv("gtex_v8_tissues.tsv", dtype={"eqtl_samples": int, "rnaseq_samples": int})
    if in_paper_only:
        table = table[table["in_paper"] == "yes"]
    groups = _read_tsv("tissue_groups.tsv").set_index("tissue_id")["group"]
    table = table.set_index("tissue_id")
    table["group"] = groups.reindex(table.index)
    return table.copy()


@functools.cache
def donor_summary() -> pd.DataFrame:
    """Donor-level counts of the 838-donor eQTL cohort (sections: sex, age_bracket, hardy_scale, tissues_per_donor)."""
    return _read_tsv("gtex_v8_eqtl_donors_summary.tsv", dtype={"value": str, "donors": int}, keep_default_na=False)


@functools.cache
def protein_coding_genes() -> pd.DataFrame:
    """19,434 Ensembl 112 protein-coding genes: ``ensembl_gene_id``, ``symbol``, ``contig``."""
    return _read_tsv("protein_coding_genes_ensembl112.tsv", dtype=str)


@functools.cache
def alzheimer_genes() -> tuple[str, ...]:
    """The paper's 273 KEGG hsa05010 (Alzheimer disease) gene symbols."""
    text = (data_dir() / "kegg_hsa05010_alzheimer_paper273.txt").read_text()
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def tissue_colours() -> dict[str, str]:
    """Official GTEx colour (hex) of each of the 49 tissues."""
    return tissues()["colour_hex"].to_dict()
