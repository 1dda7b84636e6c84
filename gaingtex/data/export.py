"""A cohort written out in the public file formats (GTEx v8 Portal and eQTL files, UCSC Xena TCGA tables), so that
the loaders can be tried, taught and tested end to end without the real downloads.

- :func:`write_gtex_files`: the phenotype table, a sample table (the v8 paper's or the Portal's) and the
  expression as eQTL BED files, a GCT of read counts or a GCT of TPM.
- :func:`write_xena_files`: a ``TCGA-<CODE>.htseq_fpkm.tsv`` and its ``<CODE>_clinicalMatrix``.

Read counts are made from a cohort's (log-scale) values as ``round(f · 1000 · exp(x / 2))``, with a per-sample
library-size factor ``f`` drawn between 0.5 and 2: TMM has a library size to remove, and the inverse-normal
transform gets back the values' ranks within a tissue. TPM are the same without rounding or ``f``.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._io import atomic_path
from . import reference
from .gct import write_gct
from .schema import is_gtex

EXPRESSION_KINDS = ("bed", "counts", "tpm")
SAMPLE_TABLES = ("paper", "portal")
PHENOTYPES = "GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt"
PORTAL_SAMPLES = "GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt"
PAPER_SAMPLES = "GTEx_Analysis_v8_RNAseq_samples.txt"
COUNTS_GCT = "GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_reads.gct.gz"
TPM_GCT = "GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_tpm.gct.gz"


def _tsv(frame: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False)
    return path


def _gencode(var: pd.DataFrame) -> np.ndarray:
    """Versioned ids as GENCODE writes them (a made-up version ``.1``); a gene without an id cannot be written."""
    ids = var["ensembl_id"].astype(str).to_numpy()
    if (ids == "").any():
        raise ValueError(f"gene {var.index[ids == ''][0]} has no Ensembl id; GTEx files name genes by Ensembl id")
    return np.array([f"{i}.1" for i in ids], dtype=object)


def write_gtex_files(adata: ad.AnnData, folder: str | os.PathLike, expression: str = "bed",
                     samples: str = "paper", seed: int = 0) -> dict[str, Path | list[Path]]:
    """Write the GTEx samples of a complete cohort as GTEx v8 files in ``folder``; returns their paths by role
    (``expression`` is a list of eQTL files or one GCT, then ``samples`` and ``phenotypes``)."""
    if expression not in EXPRESSION_KINDS:
        raise ValueError(f"expression must be one of {', '.join(EXPRESSION_KINDS)}, got {expression!r}")
    if samples not in SAMPLE_TABLES:
        raise ValueError(f"samples must be one of {', '.join(SAMPLE_TABLES)}, got {samples!r}")
    folder = Path(folder)
    gtex = adata[is_gtex(adata.obs)]
    X = np.asarray(gtex.X, dtype=np.float64)
    if np.isnan(X).any():
        raise ValueError("GTEx files hold complete matrices; the cohort has missing values")
    obs = gtex.obs
    out: dict[str, Path | list[Path]] = {"phenotypes": _tsv(_phenotypes(obs), folder / PHENOTYPES)}
    tissues = reference.tissues(in_paper_only=False)
    if samples == "paper":
        table = pd.DataFrame({"sample_id": obs.index, "donor_id": obs["donor_id"].astype(str).to_numpy(),
                              "has_genotype": "True", "tissue_id": obs["tissue"].astype(str).to_numpy()})
        out["samples"] = _tsv(table, folder / PAPER_SAMPLES)
    else:
        detail = tissues["tissue_site_detail"].reindex(obs["tissue"].astype(str)).to_numpy()
        site = tissues["tissue_site"].reindex(obs["tissue"].astype(str)).to_numpy()
        table = pd.DataFrame({"SAMPID": obs.index, "SMATSSCR": "", "SMCENTER": "B1", "SMTS": site, "SMTSD": detail,
                              "SMAFRZE": "RNASEQ"})
        out["samples"] = _tsv(table, folder / PORTAL_SAMPLES)
    ids = _gencode(gtex.var)
    symbols = gtex.var_names.to_numpy()
    if expression == "bed":
        out["expression"] = [_bed(gtex, X, ids, t, folder) for t in pd.unique(obs["tissue"].astype(str))]
        return out
    rng = np.random.default_rng(seed)
    level = np.exp(X / 2) * 1000.0
    if expression == "counts":
        values = np.round(level * rng.uniform(0.5, 2.0, size=(len(X), 1)))
        out["expression"] = write_gct(folder / COUNTS_GCT, ids, symbols, obs.index, values.T, fmt="%d")
    else:
        out["expression"] = write_gct(folder / TPM_GCT, ids, symbols, obs.index,
                                      (level / level.sum(axis=1, keepdims=True) * 1e6).T, fmt="%.6g")
    return out


def _phenotypes(obs: pd.DataFrame) -> pd.DataFrame:
    donors = obs.drop_duplicates("donor_id")
    if "age_bracket" in donors.columns:
        age = donors["age_bracket"].astype(str).to_numpy()
    else:
        decade = (donors["age"].to_numpy(dtype=float) // 10 * 10).astype(int)
        age = np.array([f"{d}-{d + 9}" for d in decade], dtype=object)
    hardy = donors["hardy"].astype(str).replace("NA", "").to_numpy()
    return pd.DataFrame({"SUBJID": donors["donor_id"].astype(str).to_numpy(),
                         "SEX": np.where(donors["sex"].astype(str) == "male", 1, 2), "AGE": age, "DTHHRDY": hardy})


def _bed(gtex: ad.AnnData, X: np.ndarray, ids: np.ndarray, tissue: str, folder: Path) -> Path:
    rows = np.flatnonzero(gtex.obs["tissue"].astype(str).to_numpy() == tissue)
    chromosome = gtex.var["chromosome"].astype(str).replace("", "1").to_numpy()
    start = np.arange(len(ids)) * 1000 + 10_000
    frame = pd.DataFrame({"#chr": [f"chr{c}" for c in chromosome], "start": start, "end": start + 1,
                          "gene_id": ids})
    values = pd.DataFrame(X[rows].T, columns=gtex.obs["donor_id"].astype(str).to_numpy()[rows])
    frame = pd.concat([frame, values], axis=1)
    path = folder / f"{tissue}.v8.normalized_expression.bed.gz"
    with atomic_path(path, suffix=".bed.tmp") as tmp:
        with gzip.open(tmp, "wt", compresslevel=1) as handle:
            frame.to_csv(handle, sep="\t", index=False, float_format="%.6g")
    return path


def write_xena_files(adata: ad.AnnData, folder: str | os.PathLike, code: str,
                     normal_fraction: float = 0.1, seed: int = 0) -> dict[str, Path]:
    """Write samples of a cohort as a Xena GDC-hub pair for TCGA project ``code``: values become
    log2(FPKM + 1) = x + 4 clipped at 0, barcodes ``TCGA-SS-NNNN-01A`` (``-11A``, solid tissue normal, for a
    fraction of them; the two-digit site ``SS`` follows from ``code``, so two projects' barcodes differ, as real
    ones do), and the clinical matrix takes the samples' sex and age."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    X = np.clip(np.asarray(adata.X, dtype=np.float64) + 4.0, 0.0, None)
    n = adata.n_obs
    normal = rng.random(n) < normal_fraction
    site = sum(map(ord, code)) % 90 + 10
    donors = [f"TCGA-{site:02d}-{i:04d}" for i in range(n)]
    types = np.where(normal, "11", "01")
    barcodes = [f"{d}-{t}A" for d, t in zip(donors, types)]
    frame = pd.DataFrame(X.T, columns=barcodes)
    frame.insert(0, "Ensembl_ID", _gencode(adata.var))
    expression = folder / f"TCGA-{code}.htseq_fpkm.tsv"
    with atomic_path(expression) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    clinical = pd.DataFrame({"sampleID": [f"{d}-{t}" for d, t in zip(donors, types)],
                             "gender": adata.obs["sex"].astype(str).str.upper().to_numpy(),
                             "age_at_initial_pathologic_diagnosis": np.round(adata.obs["age"].to_numpy()).astype(int),
                             "sample_type": np.where(normal, "Solid Tissue Normal", "Primary Tumor")})
    return {"expression": expression, "clinical": _tsv(clinical, folder / f"{code}_clinicalMatrix")}
