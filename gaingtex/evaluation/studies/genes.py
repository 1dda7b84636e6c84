"""Per-gene rankings of the Alzheimer's pathway (paper Fig. 5), gene families, and the paper's named genes."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ...data import reference
from ...data.embedded import NAMED_MODULES

# Genes the paper names: among its worst imputed, and imputed better in brain (Fig. 5 and its text).
PAPER_LAST_GENES = ("CALML5", "TUBA3D", "ATP2A1", "WNT3", "TNF")
PAPER_BRAIN_GENES = ("APOE", "KIF5C", "GRIN2C")
# The families the paper finds best imputed.
CORE_FAMILIES = ("respiratory chain", "proteasome")
SIGNALLING_FAMILY = "WNT / FZD / CALML"


def gene_ranking(scores: pd.DataFrame, n: int = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per gene: mean R² over all tissues, over the brain tissues and over the others; returns the whole ranking
    (best first) and the ``n`` best and ``n`` worst genes stacked with a ``rank_group`` column."""
    group = reference.tissues()["group"]
    brain = scores["tissue"].map(group).eq("brain")
    per_gene = pd.DataFrame({
        "r2": scores.groupby("gene")["r2"].mean(),
        "r2_brain": scores[brain].groupby("gene")["r2"].mean(),
        "r2_other": scores[~brain].groupby("gene")["r2"].mean(),
    }).sort_values("r2", ascending=False).rename_axis("gene").reset_index()
    per_gene["rank"] = np.arange(1, len(per_gene) + 1)
    ends = pd.concat([per_gene.head(n).assign(rank_group=f"top {n}"),
                      per_gene.tail(n).assign(rank_group=f"last {n}")], ignore_index=True)
    return per_gene, ends


FAMILY_LABELS = {"respiratory_chain": "respiratory chain", "proteasome": "proteasome", "ribosome": "ribosome",
                 "wnt_calcium_signalling": "WNT / FZD / CALML"}


def family(symbol: str) -> str:
    """The named gene family of a symbol, by the same patterns the embedded cohort builds its modules from
    (:data:`gaingtex.data.embedded.NAMED_MODULES`; the WNT / FZD / CALML family also holds DVL and LRP5/6), labelled as
    the paper's Alzheimer figure names them; ``other`` for the rest."""
    for module, pattern, _ in NAMED_MODULES:
        if re.match(pattern, symbol):
            return FAMILY_LABELS[module]
    return "other"


def family_table(ranking: pd.DataFrame, n: int = 30) -> pd.DataFrame:
    """How many of the ``n`` best and ``n`` worst genes of a ranking fall in each family."""
    top, last = ranking.head(n), ranking.tail(n)
    table = (top["family"].value_counts().rename(f"top {n}").to_frame()
             .join(last["family"].value_counts().rename(f"last {n}"), how="outer").fillna(0).astype(int))
    return table.rename_axis("family")


def named_genes(ranking: pd.DataFrame) -> pd.DataFrame:
    """Where the paper's named genes fall in a ranking (those present; rank 1 is best)."""
    named = [g for g in PAPER_LAST_GENES + PAPER_BRAIN_GENES if g in set(ranking["gene"])]
    table = ranking.set_index("gene").loc[named, ["rank", "r2", "r2_brain", "r2_other", "family"]]
    table.insert(0, "paper says", ["among the last" if g in PAPER_LAST_GENES else "higher in brain" for g in named])
    return table


def ranking_values(ranking: pd.DataFrame, n: int = 30) -> dict[str, float]:
    """Values for the book's prose: the share of core families among the best ``n``, of the signalling family among
    the worst ``n``, and the median rank of the paper's worst genes."""
    named = ranking.set_index("gene")["rank"].reindex(list(PAPER_LAST_GENES)).dropna()
    return {"alz_top_core_share": float(ranking.head(n)["family"].isin(CORE_FAMILIES).mean()),
            "alz_last_signalling_share": float(ranking.tail(n)["family"].eq(SIGNALLING_FAMILY).mean()),
            "alz_paper_last_median_rank": float(named.median()) if len(named) else float("nan")}
