"""The calibration table: every quick method's conformal 90 % intervals on the embedded cohort, inductive and in
place, against the oracle's exact posterior (issue 27).

    nice -n 10 .venv/bin/python -m benchmarks.calibration --preset teach --out OUT.json

One row per method, scenario and gene set (all genes; ``--genes all panel`` adds the 59-gene panel), from the
comparison's own scoring path (:func:`gaingtex.evaluation.comparison.compare`, one seed): coverage of the 90 %
interval overall, in the worst gene decile and the worst tissue, the mean width and CRPS, and both as ratios to the
oracle's exact posterior on the same entries.

In place, each row also holds what validation donors would have given the same fitted method
(``*_validation_donors``): its intervals calibrated on pseudo-masked entries of new samples, as inductive, instead
of on the training entries held out of its fit. The gap between the two is why in place is calibrated on held-out
entries (:func:`gaingtex.imputers.conformal.holdout`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from benchmarks._report import check_out, finish
from gaingtex.evaluation.comparison import GENE_SETS

METHODS = ("mean", "gaussian", "factor-analysis", "oracle", "knn", "softimpute")
COLUMNS = ("coverage_90", "coverage_90_worst_gene", "coverage_90_worst_tissue", "width_90", "width_90_vs_oracle",
           "crps", "crps_vs_oracle", "r2", "fit_seconds", "impute_seconds", "calibration_seconds")
DONORS = ("coverage_90", "coverage_90_worst_gene", "coverage_90_worst_tissue")


def by_validation_donors(row: dict, imputer, data) -> None:
    """An in-place row's coverage had the method been calibrated on the validation donors (added to ``row``)."""
    import numpy as np

    from gaingtex.evaluation.calibration import donors_predictive, measures
    from gaingtex.evaluation.scoring import impute_masked

    if data.held is None or row.get("status") != "ok" or row.get("method") == "oracle":
        return
    x, obs = data.eval.x, data.eval.obs
    x_hat, mask, _ = impute_masked(imputer, x, data.eval_mask, obs)
    m = measures(donors_predictive(imputer, data, x_hat, mask), x, (mask == 0) & ~np.isnan(x), obs)
    row.update({f"{k}_validation_donors": m[k] for k in DONORS})


def run(preset: str, seed: int, methods, budget: float, genes=("all",)) -> list[dict]:
    from gaingtex.data.embedded import factor_model, make_cohort
    from gaingtex.evaluation.comparison import compare

    adata = make_cohort(preset, seed)
    rows = compare(adata, list(methods), seeds=(seed,), genes=list(genes), preset=preset, generator=factor_model(adata),
                   budget=budget, progress=False, keep=by_validation_donors)
    donors = [f"{k}_validation_donors" for k in DONORS]
    keep = ["method", "scenario", "genes", "status", *[c for c in (*COLUMNS, *donors) if c in rows]]
    return [{k: v for k, v in r.items() if not (isinstance(v, float) and v != v)}
            for r in rows[keep].to_dict(orient="records")]


def table(rows: list[dict]) -> str:
    frame = pd.DataFrame(rows)
    shown = ["genes", "scenario", "method", *[c for c in (*COLUMNS[:7], "coverage_90_validation_donors") if c in frame]]
    return frame[shown].to_string(index=False, float_format=lambda v: f"{v:.3f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="teach")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--genes", nargs="+", default=["all"], choices=GENE_SETS,
                        help="gene sets: all, alzheimer (the 273 Alzheimer-pathway genes), panel (the 59-gene panel)")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per method's fit and imputation")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    check_out(args.out)
    t0 = time.perf_counter()
    rows = run(args.preset, args.seed, args.methods, args.budget, args.genes)
    return finish({"preset": args.preset, "seed": args.seed, "missing_rate": 0.5, "level": 0.9, "genes": args.genes},
                  rows, t0, table(rows), args.out)


if __name__ == "__main__":
    raise SystemExit(main())
