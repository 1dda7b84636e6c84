"""What a book page needs beyond a figure: named values glued for the prose, and the sentences built from them."""

from __future__ import annotations

from typing import Mapping

import pandas as pd


def glue_values(values: Mapping[str, object]) -> None:
    """Glue every value under its name (myst-nb ``glue``, not displayed), for ``{glue:text}`` in the prose."""
    from myst_nb import glue

    for name, value in values.items():
        glue(name, value, display=False)


def glue_markdown(values: Mapping[str, str]) -> None:
    """Glue Markdown paragraphs (not displayed), for the ``{glue:md}`` directive with ``:format: myst``."""
    from IPython.display import Markdown
    from myst_nb import glue

    for name, text in values.items():
        glue(name, Markdown(text), display=False)


# The values the narrative pages (book/paper_and_companion.md) read from a notebook that may not run on a cohort,
# as preformatted text: the notebook glues them from its results, its stand-in page as NOT_IN_BUILD.
PAPER_ROWS = {
    "05_tcga": ("paper_tcga_laml", "paper_tcga_brca", "paper_tcga_luad"),
    "06_alzheimer": ("paper_alz_r2", "paper_alz_top", "paper_alz_seconds"),
    "07_embeddings": ("paper_emb_purity",),
}
NOT_IN_BUILD = "not in this build"


def verdict(values: dict) -> str:
    """One plain sentence on whether the paper's ordering holds in a scenario, from that scenario's values of
    :func:`gaingtex.evaluation.comparison.ordering`."""
    sentence = f"{values['best']} is the best learnt method (R² {values['best_r2']:.3f})"
    if "paper" in values:
        sentence += (", as in the paper" if values["holds"] else
                     f"; the paper's best, {values['paper']}, ranks {values['paper_rank']} of {values['ranked']} "
                     f"(R² {values['paper_r2']:.3f})")
        if "linear" in values and values["linear"] != values["paper"]:
            gap = values["paper_r2"] - values["linear_r2"]
            sentence += (f". {values['paper']} {'beats' if gap >= 0 else 'trails'} the best linear reference, "
                         f"{values['linear']}, by {abs(gap):.3f}")
    if "auto_r2" in values:
        margin = values["auto_r2"] - values["best_r2"]
        sentence += (f". The blend of the quick methods, auto, reaches R² {values['auto_r2']:.3f} ({margin:+.3f} "
                     f"against {values['best']}), for {values['auto_seconds']:.0f} s of fitting (its members' and its "
                     "blend's)")
    return sentence + "."


def ordering_values(summary: pd.DataFrame, genes: str = "all") -> dict[str, object]:
    """The comparison's ordering (:func:`gaingtex.evaluation.comparison.ordering`) as named values for the prose:
    ``<scenario>_<value>``, with the sentence as ``<scenario>_verdict``."""
    from ..evaluation.comparison import ordering

    return {f"{scenario}_{k}": v for scenario, values in ordering(summary, genes).items()
            for k, v in {**values, "verdict": verdict(values)}.items()}


SEARCH_HEADERS = {"candidate": "setting", "hidden": "hidden blocks", "learning_rate": "learning rate",
                  "dropout": "dropout", "objective": "GAIN objective", "epochs": "epochs",
                  "val_loss": "validation loss", "seconds": "seconds", "chosen": "chosen"}


def search_table(search: pd.DataFrame):
    """A model's validation search (``DeepImputer.search_``) as a page shows it: one row per setting tried, the
    chosen one marked."""
    shown = search[[c for c in SEARCH_HEADERS if c in search.columns]].assign(
        chosen=search["chosen"].map({True: "✓", False: ""}))
    shown = shown.rename(columns=SEARCH_HEADERS)
    return (shown.style.format({"learning rate": "{:.2g}", "dropout": "{:g}", "validation loss": "{:.4f}",
                                "seconds": "{:.0f}"}).hide(axis="index"))
