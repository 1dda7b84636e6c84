"""Result tables as a reader sees them: human headers, aligned numbers and ``mean ± sd`` cells, on a page (a styled
table) or in a terminal (plain text). The numbers come from :mod:`gaingtex.evaluation`; nothing here computes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..evaluation.metrics import MIN_SAMPLES, SMALL_TISSUE
from ..imputers.registry import label

# Human column headers of a summary table (:func:`gaingtex.evaluation.scoring.summary_table`).
HEADERS = {"method": "method", "r2": "R²", "rmse": "RMSE", "r2_sd_tissues": "sd over tissues",
           "r2_vs_reference": "× reference", "impute_seconds": "impute s", "fit_seconds": "fit s",
           "tissues": "tissues", "small_tissues": f"of them < {SMALL_TISSUE} samples",
           "unscored_tissues": f"unscored (< {MIN_SAMPLES} samples)"}


def display_table(table: pd.DataFrame, precision: int = 3):
    """A summary table as a page shows it: human headers, aligned numbers, no index."""
    reference = table.attrs.get("reference")
    shown = table.rename(columns={**HEADERS, **({"r2_vs_reference": f"× {reference}"} if reference else {})})
    numeric = [c for c in shown.columns if c != "method"]
    return (shown.style.format(precision=precision, subset=numeric, na_rep="—").hide(axis="index")
            .set_properties(subset=numeric, **{"text-align": "right"})
            .set_properties(subset=["method"], **{"text-align": "left"})
            .set_table_styles([{"selector": "th, td", "props": "padding: 0.15em 0.9em;"},
                               {"selector": "th", "props": "text-align: right;"},
                               {"selector": "th.col_heading.col0", "props": "text-align: left;"}]))


def plus_minus(mean: float, sd: float) -> str:
    """``0.612 ± 0.004`` (or ``—`` for a method that did not finish)."""
    if pd.isna(mean):
        return "—"
    return f"{mean:.3f}" if pd.isna(sd) else f"{mean:.3f} ± {sd:.3f}"


def display_summary(summary: pd.DataFrame, genes: str = "all"):
    """The comparison (:func:`gaingtex.evaluation.comparison.summarise`) as a page shows it: one row per method
    and scenario, best first, with human headers; a method stopped at its budget reads "> budget (projected N s)"
    and shows no numbers it did not measure."""
    block = _with_columns(summary[summary["genes"] == genes].copy())
    block["order"] = block["r2_mean"].fillna(-np.inf)
    block = block.sort_values(["scenario", "order"], ascending=[True, False])
    reference = block["reference"].dropna()
    ratio = "× oracle" if len(reference) and (reference == "oracle").all() else "× best"
    table = pd.DataFrame({
        "method": block["method"].map(label).to_numpy(),
        "scenario": block["scenario"].str.replace("inplace", "in place").to_numpy(),
        "R²": [plus_minus(m, s) for m, s in zip(block["r2_mean"], block["r2_sd"])],
        "RMSE": [plus_minus(m, s) for m, s in zip(block["rmse_mean"], block["rmse_sd"])],
        ratio: [number(v, 3) for v in block["fraction"]],
        "fit s": [number(v, 1) for v in block["fit_seconds_mean"]],
        "impute s": [number(v, 2) for v in block["impute_seconds_mean"]],
        "seeds": (block["seeds"].astype(str) + " of " + block["runs"].astype(str)).to_numpy(),
        "status": flag_small(statuses(block), block["small_tissues"])})
    return display_table(table).set_properties(subset=["status"], **{"white-space": "nowrap"})


def number(value, digits: int) -> str:
    """A measured number, or ``—`` where nothing was measured (a method stopped at its budget)."""
    return "—" if pd.isna(value) else f"{value:.{digits}f}"


def budget_status(status: str, progress) -> str:
    """A status as every table shows it: a stopped method's with what it projected or how far it got, e.g.
    ``> budget (projected 41 s)`` or ``> budget (3 of 49 tissues)``."""
    if not isinstance(progress, str) or not progress.strip():
        return status
    first = progress.split(";")[0]
    projected = [p.strip() for p in first.split(",") if p.strip().startswith("projected")]
    return f"{status} ({projected[0] if projected else first.strip()})"


def statuses(summary: pd.DataFrame) -> list[str]:
    """Each row's status, budget-stopped rows with their projection (:func:`budget_status`)."""
    progress = summary["progress"] if "progress" in summary else pd.Series(None, index=summary.index, dtype=object)
    return [budget_status(s, p) for s, p in zip(summary["status"], progress)]


def flag_small(status, small: pd.Series) -> list[str]:
    """Each status with the number of small tissues (fewer than ``SMALL_TISSUE`` samples) the R² averages over:
    a tissue that small makes R² noisy (even the oracle's can be negative), so every table says so."""
    return [f"{st}, {int(n)} tissue{'s' if n > 1 else ''} < {SMALL_TISSUE} samples" if pd.notna(n) and n else st
            for st, n in zip(status, small)]


# Columns a summary may lack: ``_records`` leaves out NaN cells, so with one seed no row has an sd.
OPTIONAL = ("r2_mean", "r2_sd", "rmse_mean", "rmse_sd", "fraction", "small_tissues", "fit_seconds_mean",
            "impute_seconds_mean")


def _with_columns(summary: pd.DataFrame) -> pd.DataFrame:
    for column in OPTIONAL:
        if column not in summary:
            summary[column] = np.nan
    return summary


def format_table(result: dict) -> str:
    """A plain-text table of a benchmark result (:func:`gaingtex.evaluation.benchmark.run_benchmark`): mean ± sd
    over seeds, then the calibration figures."""
    summary = _with_columns(pd.DataFrame(result["summary"]))
    shown = pd.DataFrame({
        "method": summary["method"], "scenario": summary["scenario"], "genes": summary["genes"],
        "seeds": summary["seeds"].astype(str) + "/" + summary["runs"].astype(str),
        "R²": [plus_minus(m, s) for m, s in zip(summary["r2_mean"], summary["r2_sd"])],
        "RMSE": [plus_minus(m, s) for m, s in zip(summary["rmse_mean"], summary["rmse_sd"])],
        "× ref": [number(v, 3) for v in summary["fraction"]],
        "fit s": [number(v, 1) for v in summary["fit_seconds_mean"]],
        "impute s": [number(v, 2) for v in summary["impute_seconds_mean"]],
        "status": flag_small(statuses(summary), summary["small_tissues"])})
    with pd.option_context("display.width", 200, "display.max_colwidth", 40):
        table = shown.to_string(index=False)
    lines = [f"preset={result['preset']} seeds={result['seeds']} missing_rate={result['missing_rate']} "
             f"device={result['device']} matmul={result['matmul_flops'] / 1e9:.1f} GFLOP/s "
             f"wall={result['wall_seconds']:.0f}s", table]
    for name, r in result.get("runtime", {}).get("ratios", {}).items():
        lines.append(f"imputation time of {r['method']} / {r['deep']}: {r['ratio']:.2f} ({r['seconds']:.2f} s vs "
                     f"{r['deep_seconds']:.2f} s on {r['rows']} rows)")
    cal = result.get("calibration")
    if cal is None:
        return "\n".join(lines + ["no generating model: no oracle, no calibration"])
    lines.append(
        f"calibration: oracle R² {cal['oracle_r2']:.3f} (tissues {min(cal['oracle_r2_per_tissue'].values()):.2f}"
        f"–{max(cal['oracle_r2_per_tissue'].values()):.2f}), per-tissue mean {cal['mean_r2']:.3f}, "
        f"blood surrogate {cal.get('blood_surrogate_r2', float('nan')):.3f}; oracle told another tissue: "
        f"same group {cal['oracle_r2_same_group_tissue']:.3f}, other group {cal['oracle_r2_other_group_tissue']:.3f}")
    if cal.get("small_tissues"):
        lines.append(f"  tissues with fewer than {SMALL_TISSUE} samples (R² unreliable, ratios to them not shown): "
                     + ", ".join(f"{t} ({n})" for t, n in cal["small_tissues"].items()))
    for name, s in cal["shifted"].items():
        lines.append(f"  {name}: tissue oracle {s['tissue_oracle_r2']:.3f} (on {s['tissue']}: "
                     f"{s['tissue_oracle_r2_on_tissue']:.3f}), own oracle {s['own_oracle_r2']:.3f}")
    return "\n".join(lines)
