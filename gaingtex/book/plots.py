"""The book's figures. Each function takes the DataFrames that :mod:`gaingtex.evaluation.studies` returns and gives back a
matplotlib ``Figure``; tissues are drawn in the official GTEx colours."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..data import reference
from ..evaluation.metrics import SMALL_TISSUE, tissue_sizes
from ..imputers.registry import colour, label


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


def spread_labels(ax, texts, points: np.ndarray, steps: int = 2000, pad: float = 2.0) -> None:
    """Move text labels until no two overlap and none covers a point: boxes measured in pixels, each overlapping
    pair pushed apart along the axis where they overlap least, a weak spring pulling each label back to its
    point. Each label is joined to its point by a thin line."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    size = np.array([[b.width + 2 * pad, b.height + 2 * pad] for b in boxes])
    anchor = ax.transData.transform(points)
    pos = anchor + np.array([0.0, size[:, 1].mean()])  # start just above each point
    dots = np.full((len(anchor), 2), 8.0)  # the points themselves, as small boxes
    every = np.vstack([size, dots])
    rng = np.random.default_rng(0)
    for _ in range(steps):
        centres = np.vstack([pos, anchor])
        d = pos[:, None, :] - centres[None, :, :]
        overlap = (size[:, None, :] + every[None, :, :]) / 2 - np.abs(d)
        hit = (overlap > 0).all(axis=-1)
        hit[np.arange(len(pos)), np.arange(len(pos))] = False
        if not hit.any():
            break
        hit &= rng.random(hit.shape) < 0.5  # move half of the pairs at a time, so that crowds do not oscillate
        axis = np.argmin(overlap, axis=-1)  # push along the smaller overlap
        sign = np.where(d == 0, rng.choice([-1.0, 1.0], size=d.shape), np.sign(d))
        push = np.zeros_like(d)
        for k in (0, 1):
            along = hit & (axis == k)
            push[..., k] = np.where(along, overlap[..., k] * sign[..., k] * 0.5, 0.0)
        pos += push.sum(axis=1) + 0.002 * (anchor - pos)
    inverse = ax.transData.inverted()
    for text, xy, point in zip(texts, inverse.transform(pos), points):
        text.set_position(xy)
        ax.plot([point[0], xy[0]], [point[1], xy[1]], lw=0.4, color="#999999", zorder=1)


def scatter_by_tissue(coords: np.ndarray, tissues, title: str, labels: bool = False, size: float = 3) -> plt.Figure:
    """2-D points coloured by tissue (GTEx colours); ``labels`` names each tissue near its points' median, the
    names moved apart so that none covers another (:func:`spread_labels`)."""
    colours = reference.tissue_colours()
    tissues = np.asarray(tissues).astype(str)
    fig, ax = plt.subplots(figsize=(9, 7.5) if labels else (7.5, 6.5))
    ax.scatter(coords[:, 0], coords[:, 1], s=size, c=[colours.get(t, "#888") for t in tissues], linewidths=0,
               zorder=2)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")
    ax.set_title(title)
    if labels:
        names = list(dict.fromkeys(tissues))
        anchors = np.array([np.median(coords[tissues == t], axis=0) for t in names])
        ax.margins(0.15)
        fig.tight_layout()
        texts = [ax.text(x, y, _label(t), fontsize=6.5, ha="center", va="center", color="#222222", zorder=3)
                 for t, (x, y) in zip(names, anchors)]
        spread_labels(ax, texts, anchors)
    else:
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


def _sizes(scores: pd.DataFrame) -> pd.Series | None:
    return tissue_sizes(scores) if "samples" in scores else None


def method_boxplot(scores: pd.DataFrame, title: str, by: str = "tissue") -> plt.Figure:
    """Per-tissue mean R² of every method, one box per method (each point a tissue; a tissue scored on fewer
    than ``SMALL_TISSUE`` samples is a red ring); ``by="gene"``: each point a gene's R², for scores pooled over
    tissues."""
    per_tissue = scores.groupby(["method", by], sort=False)["r2"].mean().reset_index().rename(columns={by: "tissue"})
    methods = list(dict.fromkeys(per_tissue["method"]))
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    data = [per_tissue.loc[per_tissue["method"] == m, "r2"].dropna().to_numpy() for m in methods]
    boxes = ax.boxplot(data, patch_artist=True, widths=0.6, showfliers=False)  # every tissue is a point
    for patch, m in zip(boxes["boxes"], methods):
        patch.set_facecolor(colour(m))
        patch.set_alpha(0.8)
    small = set(sizes[sizes < SMALL_TISSUE].index) if (sizes := _sizes(scores)) is not None else set()
    for i, m in enumerate(methods, start=1):
        part = per_tissue[(per_tissue["method"] == m) & per_tissue["r2"].notna()]
        flag = part["tissue"].isin(small).to_numpy()
        jitter = np.full(len(part), i) + np.random.default_rng(i).uniform(-0.12, 0.12, len(part))
        ax.scatter(jitter[~flag], part["r2"].to_numpy()[~flag], s=6, color="black", alpha=0.5, zorder=3)
        ax.scatter(jitter[flag], part["r2"].to_numpy()[flag], s=18, facecolors="none", edgecolors="#d62728",
                   zorder=4, label=f"tissue with < {SMALL_TISSUE} samples" if i == 1 and flag.any() else None)
    if small:
        ax.legend(loc="best", fontsize=8, frameon=False)
    ax.set_xticks(range(1, len(methods) + 1), methods)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel("mean R² per tissue" if by == "tissue" else f"R² per {by}")
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
    """One panel per shifted cohort, one above the other: R² (mean ± sd over masks) against the observed fraction,
    the cohort (solid) against its healthy GTEx tissue (dashed), one colour per method, one legend for all (Fig. 4)."""
    from matplotlib.lines import Line2D

    cohorts = list(dict.fromkeys(sweep["cohort"]))
    methods = list(dict.fromkeys(sweep["method"]))
    fig, axes = plt.subplots(len(cohorts), 1, figsize=(7.5, 2.8 * len(cohorts) + 0.8), sharex=True, sharey=True,
                             squeeze=False)
    for ax, cohort in zip(axes[:, 0], cohorts):
        part = sweep[sweep["cohort"] == cohort]
        stats = part.groupby(["data", "method", "observed"], sort=False)["r2"].agg(["mean", "std"]).reset_index()
        for (data, method), line in stats.groupby(["data", "method"], sort=False):
            dashed = data.startswith("GTEx")
            ax.errorbar(line["observed"], line["mean"], yerr=line["std"].fillna(0), capsize=2, marker=".",
                        ls="--" if dashed else "-", color=colour(method), alpha=0.7 if dashed else 1)
        ax.set_title(f"{cohort} against GTEx {_label(part['tissue'].iloc[0])}", fontsize=10)
        ax.set_ylabel("R² (masked entries)")
    axes[-1, 0].set_xlabel("observed fraction of genes")
    low = sweep.groupby(["data", "method", "observed"])["r2"].mean().min()
    axes[0, 0].set_ylim(max(low, -0.5) - 0.05, 1.0)  # a rare wild mean must not flatten every curve
    handles = [Line2D([], [], color=colour(m), lw=2, label=m) for m in methods]
    handles += [Line2D([], [], color="black", ls="-", label="shifted cohort"),
                Line2D([], [], color="black", ls="--", label="GTEx tissue")]
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 5), frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))
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


def _scenario_panels(summary: pd.DataFrame):
    """A figure with one titled panel per scenario of a summary, tall enough for its methods; returns it and the
    ``(axes, rows of that scenario)`` pairs."""
    scenarios = list(dict.fromkeys(summary["scenario"]))
    height = 0.3 * summary.groupby("scenario").size().max() + 1.2
    fig, axes = plt.subplots(1, len(scenarios), figsize=(10, height), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        ax.set_title(scenario.replace("inplace", "in place"))
    return fig, [(ax, summary[summary["scenario"] == s]) for ax, s in zip(axes[0], scenarios)]


def comparison_bars(summary: pd.DataFrame, genes: str = "all", title: str = "R² over seeds") -> plt.Figure:
    """Mean R² (bars) and its sd over seeds (whiskers) of every method, one panel per scenario, best first; a
    method that ran past its budget is listed with "> budget" instead of a bar."""
    fig, panels = _scenario_panels(summary[summary["genes"] == genes])
    for ax, block in panels:
        block = block.sort_values("r2_mean", na_position="first")
        names = [label(m) for m in block["method"]]
        means = block["r2_mean"].fillna(0.0).clip(lower=-0.2)
        ax.barh(names, means, xerr=block["r2_sd"].fillna(0.0), color=[colour(m) for m in block["method"]],
                error_kw={"lw": 1})
        for y, (m, status) in enumerate(zip(block["r2_mean"], block["status"])):
            if pd.isna(m):
                ax.text(0.01, y, status, va="center", fontsize=8)
            elif m < -0.2:
                ax.text(-0.19, y, f"{m:.2f}", va="center", fontsize=8, color="white")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlim(-0.2, 1.0)
        ax.set_xlabel("R² on hidden entries (mean ± sd over seeds)")
        ax.tick_params(axis="y", labelsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def time_bars(summary: pd.DataFrame, genes: str = "all", title: str = "Fit and imputation time") -> plt.Figure:
    """Fit and imputation seconds of every method (log scale), one panel per scenario."""
    fig, panels = _scenario_panels(summary[(summary["genes"] == genes) & summary["r2_mean"].notna()])
    for ax, block in panels:
        block = block.sort_values("fit_seconds_mean")
        y = np.arange(len(block))
        ax.barh(y + 0.2, block["fit_seconds_mean"].clip(lower=1e-3), height=0.4, color="#4c72b0", label="fit")
        ax.barh(y - 0.2, block["impute_seconds_mean"].clip(lower=1e-3), height=0.4, color="#dd8452",
                label="impute")
        ax.set_yticks(y, [label(m) for m in block["method"]], fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("seconds (mean over seeds)")
    panels[0][0].legend(frameon=False, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def scaling_curves(table: pd.DataFrame, paper: dict | None = None) -> plt.Figure:
    """Fit + imputation seconds against genes and against training samples, log-log, one line per method; a
    cross marks where a method ran past its budget, and the paper's MissForest timing is a star."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, axis in zip(axes, ("genes", "samples")):
        block = table[table["axis"] == axis]
        for method, runs in block.groupby("method", sort=False):
            ok = runs[runs["status"] == "ok"]
            seconds = ok["fit_seconds"] + ok["impute_seconds"]
            line, = ax.plot(ok[axis], seconds, marker="o", ms=3, color=colour(method), label=label(method))
            over = runs[runs["status"] == "> budget"]
            if len(over):
                ax.scatter(over[axis], over["budget_seconds"], marker="x", color=line.get_color(), zorder=3)
        if paper and axis == "genes":
            ax.scatter([paper["genes"]], [paper["seconds"]], marker="*", s=120, color=colour("missforest"),
                       label=f"MissForest, paper ({paper['samples']:,} samples)", zorder=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(axis)
        ax.set_ylabel("fit + impute seconds")
    handles, labels = axes[1].get_legend_handles_labels()
    extra = [(h, t) for h, t in zip(*axes[0].get_legend_handles_labels()) if t not in labels]
    axes[1].legend(handles + [h for h, _ in extra], labels + [t for _, t in extra], frameon=False, fontsize=7,
                   bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.suptitle("Time against problem size (× : past the budget)")
    fig.tight_layout()
    return fig
