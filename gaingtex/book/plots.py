"""The book's figures. Each function takes the DataFrames that :mod:`gaingtex.studies` returns and gives back a
matplotlib ``Figure``; tissues are drawn in the official GTEx colours."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..data import reference
from ..imputers.registry import colour


def _label(tissue: str) -> str:
    return tissue.replace("_", " ")


def _finish(fig: plt.Figure, ax, xlabel: str, ylabel: str, title: str) -> plt.Figure:
    """Axis labels, title, a frameless legend and a tight layout."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def tissue_counts(counts: pd.Series, title: str = "Samples per tissue") -> plt.Figure:
    """Horizontal bars of samples per tissue, in GTEx colours, largest first."""
    colours = reference.tissue_colours()
    counts = counts.sort_values()
    fig, ax = plt.subplots(figsize=(7, 0.18 * len(counts) + 1))
    ax.barh([_label(t) for t in counts.index], counts.to_numpy(), color=[colours.get(t, "#888") for t in counts.index])
    ax.set_xlabel("samples")
    ax.set_title(title)
    ax.tick_params(axis="y", labelsize=7)
    ax.margins(y=0.01)
    fig.tight_layout()
    return fig


def histogram(values, bins, xlabel: str, title: str, reference_mean: float | None = None) -> plt.Figure:
    """A plain histogram, with the real cohort's mean as a dashed line when given."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist(values, bins=bins, color="#4c72b0", edgecolor="white")
    ax.axvline(np.mean(values), color="black", lw=1, label=f"mean {np.mean(values):.1f}")
    if reference_mean is not None:
        ax.axvline(reference_mean, color="#d62728", ls="--", lw=1, label=f"GTEx v8 mean {reference_mean:.1f}")
    return _finish(fig, ax, xlabel, "count", title)


def scatter_by_tissue(coords: np.ndarray, tissues, title: str, labels: bool = False, size: float = 3) -> plt.Figure:
    """2-D points coloured by tissue (GTEx colours); ``labels`` writes each tissue's name at its points' median."""
    colours = reference.tissue_colours()
    tissues = np.asarray(tissues).astype(str)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    ax.scatter(coords[:, 0], coords[:, 1], s=size, c=[colours.get(t, "#888") for t in tissues], linewidths=0)
    if labels:
        for t in np.unique(tissues):
            x, y = np.median(coords[tissues == t], axis=0)
            ax.annotate(_label(t), (x, y), fontsize=6, ha="center", va="bottom", xytext=(0, 3),
                        textcoords="offset points")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def similarity_heatmap(similarity: pd.DataFrame, title: str) -> plt.Figure:
    """A tissues × tissues similarity matrix, tissues in the given order, tick labels in GTEx colours."""
    colours = reference.tissue_colours()
    fig, ax = plt.subplots(figsize=(8.5, 7.5))
    image = ax.imshow(similarity.to_numpy(), cmap="magma", vmin=0, vmax=1)
    labels = [_label(t) for t in similarity.index]
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
    ax.set_yticks(range(len(labels)), labels, fontsize=6)
    for ticks in (ax.get_xticklabels(), ax.get_yticklabels()):
        for tick, tissue in zip(ticks, similarity.index):
            tick.set_color(colours.get(tissue, "black"))
    fig.colorbar(image, ax=ax, shrink=0.8, label="similarity of gene–gene correlations")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def learning_curves(history: pd.DataFrame, best_epoch: int | None, title: str) -> plt.Figure:
    """Training and validation loss per epoch, with the restored (best) epoch marked."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(history["epoch"], history["loss"], label="training loss", color="#4c72b0")
    if "val_loss" in history:
        ax.plot(history["epoch"], history["val_loss"], label="validation loss (imputation MSE)", color="#dd8452")
    if best_epoch:
        ax.axvline(best_epoch, color="black", ls=":", lw=1, label=f"best epoch {best_epoch}")
    return _finish(fig, ax, "epoch", "loss", title)


def tissue_boxplot(scores: pd.DataFrame, train_counts: pd.Series, title: str) -> plt.Figure:
    """Per-tissue boxes of per-gene R², tissues ordered by median, boxes coloured by training samples (Fig. 2)."""
    scores = scores.dropna(subset=["r2"])
    order = scores.groupby("tissue")["r2"].median().sort_values().index
    norm = plt.Normalize(train_counts.min(), train_counts.max())
    cmap = plt.get_cmap("viridis")
    fig, ax = plt.subplots(figsize=(11, 4.5))
    data = [scores.loc[scores["tissue"] == t, "r2"].to_numpy() for t in order]
    boxes = ax.boxplot(data, patch_artist=True, showfliers=False, widths=0.7)
    for patch, t in zip(boxes["boxes"], order):
        patch.set_facecolor(cmap(norm(train_counts.get(t, np.nan))))
    for median in boxes["medians"]:
        median.set_color("black")
    ax.set_xticks(range(1, len(order) + 1), [_label(t) for t in order], rotation=90, fontsize=7)
    ax.set_ylabel("R² per gene (masked entries)")
    ax.set_title(title)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="training samples", pad=0.01)
    fig.tight_layout()
    return fig


def method_boxplot(scores: pd.DataFrame, title: str) -> plt.Figure:
    """Per-tissue mean R² of every method, one box per method (each point a tissue)."""
    per_tissue = scores.groupby(["method", "tissue"], sort=False)["r2"].mean().reset_index()
    methods = list(dict.fromkeys(per_tissue["method"]))
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    data = [per_tissue.loc[per_tissue["method"] == m, "r2"].dropna().to_numpy() for m in methods]
    boxes = ax.boxplot(data, patch_artist=True, widths=0.6)
    for patch, m in zip(boxes["boxes"], methods):
        patch.set_facecolor(colour(m))
        patch.set_alpha(0.8)
    for i, d in enumerate(data, start=1):
        ax.scatter(np.full(len(d), i) + np.random.default_rng(i).uniform(-0.12, 0.12, len(d)), d, s=6,
                   color="black", alpha=0.5, zorder=3)
    ax.set_xticks(range(1, len(methods) + 1), methods)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel("mean R² per tissue")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def rate_curves(sweep: pd.DataFrame, title: str = "R² against the missing rate") -> plt.Figure:
    """Mean R² of every method against the missing rate."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for method, part in sweep.groupby("method", sort=False):
        ax.plot(part["missing_rate"], part["r2"], marker="o", label=method, color=colour(method),
                ls="--" if method == "oracle" else "-")
    return _finish(fig, ax, "missing rate", "mean R² (masked entries)", title)


def fraction_curves(sweep: pd.DataFrame) -> plt.Figure:
    """One panel per shifted cohort: R² (mean ± sd over masks) against the observed fraction, the cohort
    (solid) against its healthy GTEx tissue (dashed), one colour per method (Fig. 4)."""
    cohorts = list(dict.fromkeys(sweep["cohort"]))
    fig, axes = plt.subplots(1, len(cohorts), figsize=(4.2 * len(cohorts), 3.8), sharey=True, squeeze=False)
    for ax, cohort in zip(axes[0], cohorts):
        part = sweep[sweep["cohort"] == cohort]
        stats = part.groupby(["data", "method", "observed"], sort=False)["r2"].agg(["mean", "std"]).reset_index()
        for (data, method), line in stats.groupby(["data", "method"], sort=False):
            dashed = data.startswith("GTEx")
            ax.errorbar(line["observed"], line["mean"], yerr=line["std"].fillna(0), capsize=2, marker=".",
                        ls="--" if dashed else "-", color=colour(method), alpha=0.7 if dashed else 1,
                        label=f"{method}, {data}")
        ax.set_title(f"{cohort} vs GTEx {_label(part['tissue'].iloc[0])}", fontsize=9)
        ax.set_xlabel("observed fraction")
        ax.legend(frameon=False, fontsize=6)
    axes[0, 0].set_ylabel("R² (masked entries)")
    low = sweep.groupby(["data", "method", "observed"])["r2"].mean().min()
    axes[0, 0].set_ylim(max(low, -0.5) - 0.05, 1.0)  # a rare wild mean must not flatten every curve
    fig.tight_layout()
    return fig


def gene_bars(ends: pd.DataFrame, title: str) -> plt.Figure:
    """The best and worst genes: mean R² in brain tissues against other tissues (Fig. 5)."""
    groups = list(dict.fromkeys(ends["rank_group"]))
    fig, axes = plt.subplots(1, len(groups), figsize=(11, 0.16 * ends.groupby("rank_group").size().max() + 1.5),
                             squeeze=False)
    for ax, group in zip(axes[0], groups):
        part = ends[ends["rank_group"] == group].iloc[::-1]
        y = np.arange(len(part))
        ax.barh(y - 0.2, part["r2_brain"], height=0.4, color="#eeee00", edgecolor="#999900", label="brain tissues")
        ax.barh(y + 0.2, part["r2_other"], height=0.4, color="#4c72b0", label="other tissues")
        ax.set_yticks(y, part["gene"], fontsize=7)
        ax.set_xlabel("mean R²")
        ax.set_title(f"{group} genes")
        ax.axvline(0, color="grey", lw=0.8)
    axes[0, 0].legend(frameon=False, fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def null_histogram(null: pd.DataFrame, observed: dict, title: str) -> plt.Figure:
    """The random-embedding distribution of each cluster score with the learnt embedding's value marked."""
    fig, axes = plt.subplots(1, len(observed), figsize=(4.2 * len(observed), 3.2), squeeze=False)
    for ax, (name, value) in zip(axes[0], observed.items()):
        ax.hist(null[name], bins=30, color="#bbbbbb", edgecolor="white", label="random embeddings")
        ax.axvline(value, color="#d62728", lw=2, label="learnt embedding")
        ax.set_xlabel(name.replace("_", " "))
        ax.legend(frameon=False, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
