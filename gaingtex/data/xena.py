"""UCSC Xena GDC-hub TCGA files → an external cohort in the schema (``gaingtex xena``).

- ``TCGA-<CODE>.htseq_fpkm.tsv``: ``Ensembl_ID`` (versioned) then one column per sample barcode
  (``TCGA-05-4244-01A``); values are already log2(FPKM + 1), so no second log is taken.
- ``<CODE>_clinicalMatrix``: ``sampleID`` (``TCGA-05-4244-01``, the barcode without its vial letter), ``gender``
  (``MALE``/``FEMALE``), ``age_at_initial_pathologic_diagnosis`` (years) and ``sample_type``.

The cohort keeps the reference cohort's genes in its order (matched by Ensembl id): a gene the file lacks is NaN,
never zero, and is reported. Each gene is standardised over the cohort's own samples (mean 0, sd 1 on observed
values), so that it sits on the scale of the per-tissue inverse-normal GTEx values; the means and sds are kept in
``var``. ``cohort`` is the project code, ``tissue`` the matched GTEx tissue, ``split`` ``external``.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from . import reference
from .gct import numbers, open_text
from .gene_ids import strip_version
from .schema import validate

# The paper's pairs (TCGA project ↔ healthy GTEx tissue).
TISSUE_OF = {"LAML": "Whole_Blood", "BRCA": "Breast_Mammary_Tissue", "LUAD": "Lung"}
CLINICAL_COLUMNS = ("sampleID", "gender", "age_at_initial_pathologic_diagnosis")
BARCODE = re.compile(r"^(TCGA-[A-Z0-9]{2}-[A-Z0-9]{4})-(\d{2})[A-Z]?$")
PRIMARY_CODES = ("01", "03", "09")  # primary solid tumour; primary blood-derived cancer, peripheral blood / marrow
GTEX_AGES = (20, 79)
LOG_MAX = 30.0  # log2(FPKM + 1) above this would be an FPKM of 10⁹: the file was not logged


def project_code(path: Path) -> str | None:
    """``TCGA-BRCA.htseq_fpkm.tsv`` → ``BRCA``."""
    match = re.match(r"^TCGA-([A-Z0-9]+)\.", path.name)
    return match.group(1) if match else None


def read_xena(expression: str | os.PathLike, clinical: str | os.PathLike, reference_cohort: ad.AnnData,
              tissue: str | None = None, code: str | None = None, sample_types: str = "primary") -> ad.AnnData:
    """Read a Xena FPKM table and its clinical matrix into an external cohort with ``reference_cohort``'s genes.

    Parameters
    ----------
    expression, clinical
        The two Xena files.
    reference_cohort
        The GTEx cohort whose genes (``var['ensembl_id']``) the output keeps, in its order.
    tissue
        The matched GTEx tissue id; default from the project code (LAML, BRCA, LUAD).
    code
        The TCGA project code; default from the file name (``TCGA-BRCA.htseq_fpkm.tsv``).
    sample_types
        ``primary`` (primary tumours: barcode types 01, 03 and 09) or ``all``.
    """
    expression, clinical = Path(expression), Path(clinical)
    from .._outputs import check_input

    for path, what in ((expression, "expression"), (clinical, "clinical")):
        check_input(path, f"{what} file")
    code = code or project_code(expression)
    if not code:
        raise ValueError(f"{expression}: cannot tell the TCGA project from the file name; pass --code")
    tissue = tissue or TISSUE_OF.get(code)
    if tissue is None:
        raise ValueError(f"no GTEx tissue is known for TCGA-{code}; pass --tissue (e.g. {', '.join(TISSUE_OF.values())})")
    if tissue not in reference.tissues(in_paper_only=False).index:
        from .schema import suggest

        raise ValueError(f"--tissue {tissue!r} is not a GTEx v8 tissue id"
                         f"{suggest(tissue, reference.tissues(in_paper_only=False).index)}")
    if sample_types not in ("primary", "all"):
        raise ValueError(f"sample types must be 'primary' or 'all', got {sample_types!r}")
    report: list[str] = []
    values, barcodes = _read_expression(expression, reference_cohort, report)
    obs, usable = _clinical(clinical, barcodes, expression, report)
    values, obs = values[usable], obs[usable]
    primary = obs["type_code"].isin(PRIMARY_CODES).to_numpy()
    if sample_types == "primary":
        if not primary.any():
            raise ValueError(f"{expression}: no primary-tumour sample (barcode types {', '.join(PRIMARY_CODES)}); "
                             "use --sample-types all")
        if (~primary).any():
            report.append(f"kept the {int(primary.sum())} primary-tumour samples; left out {int((~primary).sum())} "
                          "others (normal tissue, metastases, recurrences)")
        values, obs = values[primary], obs[primary]
    ages = obs["age"].to_numpy()
    outside = (ages < GTEX_AGES[0]) | (ages > GTEX_AGES[1])
    if outside.any():
        report.append(f"{int(outside.sum())} samples are aged outside GTEx's {GTEX_AGES[0]}–{GTEX_AGES[1]} (from "
                      f"{ages.min():g} to {ages.max():g}); they are kept, and the models extrapolate in age")
    with warnings.catch_warnings():  # a gene the file lacks has no mean: it stays NaN, and was reported
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, axis=0)
        sd = np.nanstd(values, axis=0, ddof=1) if len(values) > 1 else np.ones(values.shape[1])
    sd = np.where((sd > 0) & np.isfinite(sd), sd, 1.0)
    var = reference_cohort.var[["ensembl_id", "chromosome"]].copy()
    var["xena_mean"], var["xena_sd"] = mean.astype(np.float32), sd.astype(np.float32)
    obs = obs.drop(columns="type_code").assign(tissue=tissue, cohort=code, split="external", hardy="NA")
    meta = {"kind": "xena", "project": code, "tissue": tissue, "sources": [str(expression), str(clinical)],
            "report": report}
    adata = ad.AnnData(X=((values - mean) / sd).astype(np.float32), obs=obs, var=var, uns={"gaingtex": meta})
    return validate(adata, str(expression))


def _read_expression(path: Path, reference_cohort, report) -> tuple[np.ndarray, list[str]]:
    """Samples × the reference's genes, NaN for the genes the file lacks."""
    try:
        with open_text(path) as handle:
            frame = pd.read_csv(handle, sep="\t", index_col=0, low_memory=False)
    except (OSError, UnicodeDecodeError, EOFError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"{path}: cannot be read as a tab-separated table ({type(err).__name__})") from None
    if frame.index.name != "Ensembl_ID":
        raise ValueError(f"{path}: the first column is {frame.index.name!r}; a Xena htseq_fpkm table starts with "
                         "'Ensembl_ID'")
    bad = [b for b in frame.columns if not BARCODE.match(str(b))]
    if bad:
        raise ValueError(f"{path}: column {bad[0]!r} is not a TCGA sample barcode such as TCGA-05-4244-01A")
    stem, par_y = strip_version(frame.index)
    frame = frame[~par_y]
    stem = stem[~par_y]
    dup = pd.Index(stem)[pd.Index(stem).duplicated()]
    if len(dup):
        raise ValueError(f"{path}: Ensembl id {dup[0]} appears more than once")
    numeric = pd.DataFrame(numbers(frame, frame.index, path), index=stem, columns=frame.columns)
    top = np.nanmax(numeric.to_numpy()) if numeric.size else 0.0
    if top > LOG_MAX or np.nanmin(numeric.to_numpy()) < 0:
        raise ValueError(f"{path}: values range to {top:g} (and down to {np.nanmin(numeric.to_numpy()):g}); "
                         "expected log2(FPKM + 1), between 0 and about 20")
    if numeric.size:
        _check_single_log(top, path)
    ids = reference_cohort.var["ensembl_id"].astype(str).to_numpy()
    found = np.isin(ids, numeric.index)
    if not found.any():
        raise ValueError(f"{path}: none of the reference cohort's {len(ids)} genes is in the file")
    if (~found).any():
        names = reference_cohort.var_names[~found]
        report.append(f"{int((~found).sum())} of the reference cohort's {len(ids)} genes are not in {path.name}; "
                      f"they are missing (NaN) in every sample, e.g. {list(names[:5])}")
    values = numeric.reindex(ids).to_numpy(dtype=np.float32).T
    return values, [str(c) for c in frame.columns]


def _check_single_log(top: float, path: Path) -> None:
    """Refuse values logged twice: log2(x + 1) of values that are themselves at most ``LOG_MAX`` stays below
    log2(LOG_MAX + 1), while the most expressed genes of any transcriptome reach 10 to 20 once logged."""
    ceiling = float(np.log2(LOG_MAX + 1))
    if top < ceiling:
        raise ValueError(f"{path}: the largest value is {top:.3g}, below {ceiling:.2g}: log2(FPKM + 1) of the most "
                         "expressed genes reaches 10 to 20, so these values look logged twice; give the file with "
                         "log2(FPKM + 1) as Xena ships it")


def _clinical(path: Path, barcodes: list[str], expression: Path, report) -> tuple[pd.DataFrame, np.ndarray]:
    """Donor, sex, age and barcode type of each sample, matched on ``sampleID``, and which samples have them."""
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"{path}: not a tab-separated clinical matrix ({type(err).__name__})") from None
    missing = [c for c in CLINICAL_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: the clinical matrix has no {missing[0]!r} column (needed: "
                         f"{', '.join(CLINICAL_COLUMNS)})")
    frame = frame.drop_duplicates("sampleID").set_index("sampleID")
    parts = [BARCODE.match(b) for b in barcodes]
    sample_ids = [f"{m.group(1)}-{m.group(2)}" for m in parts]
    known = np.isin(sample_ids, frame.index)
    if not known.any():
        raise ValueError(f"{path}: none of the {len(barcodes)} samples of {expression.name} is in the clinical matrix "
                         f"(e.g. {sample_ids[0]})")
    info = frame.reindex(sample_ids)
    sex = info["gender"].str.strip().str.lower()
    age = pd.to_numeric(info["age_at_initial_pathologic_diagnosis"], errors="coerce")
    usable = known & sex.isin(["female", "male"]).to_numpy() & age.notna().to_numpy()
    if (~usable).any():
        report.append(f"left out {int((~usable).sum())} samples without a clinical row, a gender or an age at "
                      f"diagnosis, e.g. {barcodes[int(np.flatnonzero(~usable)[0])]}")
    if not usable.any():
        raise ValueError(f"{path}: no sample has both a gender and an age at diagnosis")
    obs = pd.DataFrame({"donor_id": [m.group(1) for m in parts], "sex": sex.to_numpy(), "age": age.to_numpy(),
                        "type_code": [m.group(2) for m in parts]}, index=barcodes)
    return obs, usable
