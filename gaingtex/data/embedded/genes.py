"""The embedded cohort's genes: real protein-coding symbols (the Alzheimer pathway, Y-linked and named families
first) and their co-expression modules."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ...config import CohortConfig
from .. import reference

Y_GENES = ("RPS4Y1", "DDX3Y", "UTY", "KDM5D", "EIF1AY", "ZFY", "USP9Y", "NLGN4Y", "TXLNGY", "PCDH11Y")
# Named gene families: (module name, symbol pattern, kind). Strong modules are tightly co-expressed and well
# predicted; weak ones are loosely co-expressed and poorly predicted, as in the paper's Alzheimer figure.
NAMED_MODULES: tuple[tuple[str, str, str], ...] = (
    ("respiratory_chain", r"^(NDUF[ABCSV]\d+|COX[4-8][A-C]?\d?|UQCR\w*|SDH[A-D]|ATP5\w+)$", "strong"),
    ("proteasome", r"^PSM[A-G]\d+$", "strong"),
    ("ribosome", r"^RP[LS]\d+[A-Z]?\d*$", "strong"),
    ("wnt_calcium_signalling", r"^(WNT\d+\w*|FZD\d+|CALML\d+|DVL\d|LRP[56])$", "weak"),
)
# Mean predictability (fraction of a gene's variance the model explains) of each tissue group: a design choice


def choose_genes(n_genes: int, rng: np.random.Generator) -> pd.DataFrame:
    """Real protein-coding genes: the Alzheimer pathway, Y-linked and named families first, then random others."""
    table = reference.protein_coding_genes().drop_duplicates("symbol").set_index("symbol")
    ad_genes = list(reference.alzheimer_genes())
    missing = sorted(set(ad_genes) - set(table.index))
    if missing:
        raise ValueError(f"Alzheimer genes not in the protein-coding list: {missing}")
    required = list(dict.fromkeys(ad_genes + [g for g in Y_GENES if g in table.index]))
    if n_genes < len(required):
        raise ValueError(f"n_genes={n_genes} is below the {len(required)} genes every cohort includes")
    others = np.array(sorted(set(table.index) - set(required)))
    family = np.array([any(re.match(p, s) for _, p, _ in NAMED_MODULES) for s in others])
    n_rest = n_genes - len(required)
    # Families are taken with priority (up to a third of the remaining genes) so that modules are visible.
    fam = rng.permutation(others[family])[: min(family.sum(), n_rest // 3)]
    rest = rng.permutation(others[~family])[: n_rest - len(fam)]
    symbols = sorted(required + list(fam) + list(rest))
    genes = pd.DataFrame(
        {"ensembl_id": table.loc[symbols, "ensembl_gene_id"].to_numpy(), "chromosome": table.loc[symbols, "contig"]},
        index=pd.Index(symbols, name="symbol"),
    )
    genes["alzheimer"] = genes.index.isin(ad_genes)
    return genes


def assign_modules(genes: pd.DataFrame, cfg: CohortConfig, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Module of every gene (named families, ``chrY``, then generic ``module_NN``) and each module's kind."""
    module = np.empty(len(genes), dtype=object)
    kinds: dict[str, str] = {}
    for i, (sym, chrom) in enumerate(zip(genes.index, genes["chromosome"])):
        if chrom == "Y":
            module[i] = "chrY"
            kinds["chrY"] = "sex"
            continue
        for name, pattern, kind in NAMED_MODULES:
            if re.match(pattern, sym):
                module[i] = name
                kinds[name] = kind
                break
    free = np.flatnonzero(module == None)  # noqa: E711 (object array)
    n_generic = max(4, int(round(len(free) / cfg.genes_per_module)))
    labels = rng.integers(0, n_generic, size=len(free))
    for j in range(n_generic):
        kinds[f"module_{j:03d}"] = "normal"
    module[free] = [f"module_{j:03d}" for j in labels]
    return module.astype(str), kinds

