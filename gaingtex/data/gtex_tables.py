"""The GTEx v8 annotation tables: which tissue and donor each sample is, and each donor's sex, age and Hardy scale.

Samples, either of two public tables:

- the Portal's ``GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt``: ``SAMPID`` and ``SMTSD`` (the detailed
  tissue name, e.g. ``Adipose - Subcutaneous``, mapped to a tissue id through the shipped tissue table); the donor is
  the first two dash-separated fields of ``SAMPID``; where ``SMAFRZE`` is present only ``RNASEQ`` samples (those in
  the v8 release) are kept;
- the v8 paper's ``GTEx_Analysis_v8_RNAseq_samples.txt`` (broadinstitute/gtex-v8): ``sample_id donor_id
  has_genotype tissue_id``.

Donors: the open-access ``GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt``: ``SUBJID``, ``SEX`` (1 male,
2 female), ``AGE`` (a ten-year bracket such as ``60-69``) and ``DTHHRDY`` (Hardy scale 0–4, empty when unknown).
A bracket becomes the number in its middle (``60-69`` → 64.5) and is kept in ``age_bracket``; a numeric age (as in
the access-controlled dbGaP file) is kept as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from . import reference
from .schema import AGE_BRACKETS, MAX_AGE

PORTAL_COLUMNS = ("SAMPID", "SMTSD")
PAPER_COLUMNS = ("sample_id", "donor_id", "has_genotype", "tissue_id")
PHENOTYPE_COLUMNS = ("SUBJID", "SEX", "AGE", "DTHHRDY")
SEX_CODES = {"1": "male", "2": "female"}


def _table(path: str | os.PathLike, what: str) -> pd.DataFrame:
    from .._outputs import check_input

    path = check_input(path, f"{what} table")
    try:
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"{path}: not a tab-separated {what} table ({type(err).__name__})") from None


def donor_of(sample_ids) -> np.ndarray:
    """GTEx donor ids from sample ids: ``GTEX-1117F-0226-SM-5GZZ7`` → ``GTEX-1117F``."""
    out = []
    for sample in sample_ids:
        parts = str(sample).split("-")
        if len(parts) < 2 or not parts[1]:
            raise ValueError(f"sample id {sample!r} does not start with a GTEx donor id such as GTEX-1117F")
        out.append("-".join(parts[:2]))
    return np.array(out, dtype=object)


def read_samples(path: str | os.PathLike) -> tuple[pd.DataFrame, list[str]]:
    """The sample table as ``(frame indexed by sample id with donor_id, tissue, has_genotype, decisions)``;
    ``has_genotype`` is NaN when the table does not say (the Portal's)."""
    frame = _table(path, "sample")
    decisions: list[str] = []
    details = reference.tissues(in_paper_only=False)
    if set(PAPER_COLUMNS) <= set(frame.columns):
        out = pd.DataFrame({"donor_id": frame["donor_id"].to_numpy(), "tissue": frame["tissue_id"].to_numpy()},
                           index=frame["sample_id"].to_numpy())
        flags = frame["has_genotype"].str.strip().str.lower()
        bad = ~flags.isin(["true", "false"])
        if bad.any():
            raise ValueError(f"{path}: column 'has_genotype' holds {frame['has_genotype'][bad].iloc[0]!r} (sample "
                             f"{frame['sample_id'][bad].iloc[0]}); expected True or False")
        out["has_genotype"] = (flags == "true").to_numpy()
        unknown = ~out["tissue"].isin(details.index)
        if unknown.any():
            raise ValueError(f"{path}: column 'tissue_id' holds {out['tissue'][unknown].iloc[0]!r} (sample "
                             f"{out.index[unknown][0]}), which is not a GTEx v8 tissue id")
    elif set(PORTAL_COLUMNS) <= set(frame.columns):
        if "SMAFRZE" in frame.columns:
            release = frame["SMAFRZE"] == "RNASEQ"
            if (~release).any():
                decisions.append(f"{path}: kept the {int(release.sum())} samples of the v8 RNA-seq release "
                                 f"(SMAFRZE = RNASEQ), left out {int((~release).sum())} others")
            frame = frame[release]
        lookup = pd.Series(details.index, index=details["tissue_site_detail"])
        unknown = ~frame["SMTSD"].isin(lookup.index)
        if unknown.any():
            raise ValueError(f"{path}: column 'SMTSD' holds {frame['SMTSD'][unknown].iloc[0]!r} (sample "
                             f"{frame['SAMPID'][unknown].iloc[0]}), which is not a GTEx v8 tissue name such as "
                             f"{lookup.index[0]!r}")
        out = pd.DataFrame({"donor_id": donor_of(frame["SAMPID"]), "tissue": lookup.reindex(frame["SMTSD"]).to_numpy(),
                            "has_genotype": np.nan}, index=frame["SAMPID"].to_numpy())
    else:
        raise ValueError(f"{path}: a sample table needs the columns {', '.join(PORTAL_COLUMNS)} (Portal sample "
                         f"attributes) or {', '.join(PAPER_COLUMNS)} (the v8 paper's sample table); it has "
                         f"{', '.join(frame.columns[:6])}")
    dup = out.index[out.index.duplicated()]
    if len(dup):
        raise ValueError(f"{path}: sample id {dup[0]!r} appears more than once")
    out.index.name = None
    return out, decisions


def parse_age(value) -> tuple[float, str | None]:
    """An age as GTEx writes it, in years, and its ten-year bracket: a bracket such as ``60-69`` becomes its
    middle (64.5); a number stays as it is (its bracket is ``None`` outside 20–79). ``ValueError`` otherwise."""
    text = str(value).strip()
    if text in AGE_BRACKETS:
        low, high = (int(v) for v in text.split("-"))
        return (low + high) / 2, text
    try:
        age = float(text)
    except ValueError:
        age = np.nan
    if not np.isfinite(age) or age <= 0:
        raise ValueError(f"expected a bracket such as 60-69 ({', '.join(AGE_BRACKETS)}) or a positive number of "
                         "years")
    if age > MAX_AGE:
        raise ValueError(f"an age is at most {MAX_AGE} years (were these months?)")
    bracket = next((b for b in AGE_BRACKETS if int(b[:2]) <= age < int(b[:2]) + 10), None)
    return age, bracket


def _age(value: str, donor: str, path) -> tuple[float, str | None]:
    try:
        return parse_age(value)
    except ValueError as err:
        raise ValueError(f"{path}: donor {donor} has AGE {value!r}; {err}") from None


def _hardy(value: str, donor: str, path) -> str:
    text = value.strip()
    if text in ("", "NA", "nan"):
        return "NA"
    try:
        number = float(text)
    except ValueError:
        number = np.nan
    if number in (0, 1, 2, 3, 4):
        return str(int(number))
    raise ValueError(f"{path}: donor {donor} has DTHHRDY {value!r}; expected 0–4 or empty")


def read_phenotypes(path: str | os.PathLike) -> tuple[pd.DataFrame, list[str]]:
    """The subject phenotypes as ``(frame indexed by donor with sex, age, age_bracket, hardy, decisions)``."""
    frame = _table(path, "phenotype")
    missing = [c for c in PHENOTYPE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: the phenotype table has no {missing[0]!r} column (expected "
                         f"{', '.join(PHENOTYPE_COLUMNS)}, as in GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt)")
    dup = frame["SUBJID"][frame["SUBJID"].duplicated()]
    if len(dup):
        raise ValueError(f"{path}: donor {dup.iloc[0]!r} appears more than once")
    sex = frame["SEX"].str.strip().map(SEX_CODES)
    if sex.isna().any():
        i = int(np.flatnonzero(sex.isna())[0])
        raise ValueError(f"{path}: donor {frame['SUBJID'].iloc[i]} has SEX {frame['SEX'].iloc[i]!r}; expected 1 "
                         "(male) or 2 (female)")
    ages = [_age(a, d, path) for a, d in zip(frame["AGE"], frame["SUBJID"])]
    hardy = [_hardy(h, d, path) for h, d in zip(frame["DTHHRDY"], frame["SUBJID"])]
    out = pd.DataFrame({"sex": sex.to_numpy(), "age": [a for a, _ in ages], "age_bracket": [b for _, b in ages],
                        "hardy": hardy}, index=frame["SUBJID"].to_numpy())
    decisions = []
    brackets = frame["AGE"].str.strip().isin(AGE_BRACKETS)
    if brackets.any():
        decisions.append(f"{path}: {int(brackets.sum())} ages are ten-year brackets; each became the middle of "
                         "its bracket (60-69 → 64.5), and the bracket is kept in obs['age_bracket']")
    if out["age_bracket"].isna().any():
        decisions.append(f"{path}: {int(out['age_bracket'].isna().sum())} ages fall outside 20–79, so the cohort "
                         "has no age_bracket column")
        out = out.drop(columns="age_bracket")
    empty = int((out["hardy"] == "NA").sum())
    if empty:
        decisions.append(f"{path}: {empty} donors have no Hardy scale value; their hardy is 'NA'")
    return out, decisions
