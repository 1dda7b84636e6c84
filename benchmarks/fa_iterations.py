"""How many EM iterations factor analysis needs: R², the factor count it chooses and its fit time, per iteration cap.

    .venv/bin/python -m benchmarks.fa_iterations --max-iter 20 50 --out benchmarks/results/fa-iterations.json

Factor analysis in place on every gene of the preset's embedded cohort (the costliest fit of the book's
comparison; `--genes panel`: its 59-gene panel), one seed, 50 % missing; each cap sees the same masks and tries the
same factor counts. Prints a table and writes JSON: one row per cap with R², the chosen count, the fit seconds, and
the seconds and validation error of each factor count the search fitted.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ._report import check_out, finish


def run(preset: str, seed: int, caps: list[int], scenario: str, gene_set: str) -> list[dict]:
    from gaingtex.data.embedded.cohort import make_cohort
    from gaingtex.data.preprocessing import panel_genes
    from gaingtex.evaluation.scenarios import scenario_data
    from gaingtex.evaluation.scoring import evaluate

    cohort = make_cohort(preset, seed=seed)
    genes = panel_genes(cohort.var_names) if gene_set == "panel" else None
    data = scenario_data(cohort, scenario, 0.5, seed, genes)
    timed, rows = _timed_class(), []
    for cap in caps:
        imputer = timed(max_iter=cap, seed=seed)
        t0 = time.perf_counter()
        imputer.fit(**data.fit_args())
        fit_seconds = time.perf_counter() - t0
        r2 = float(evaluate({"factor-analysis": imputer}, data)["r2"].iloc[0])
        rows.append({"max_iter": cap, "scenario": scenario, "gene_set": gene_set, "genes": int(imputer.n_genes),
                     "r2": r2, "n_factors": int(imputer.n_factors_), "fit_seconds": fit_seconds,
                     "by_factors": [{"n_factors": int(k), "seconds": s,
                                     "validation_mse": float(imputer.validation_.get(k, float("nan")))}
                                    for k, s in imputer.seconds_.items()]})
        print(f"max_iter {cap}: R² {r2:.4f}, {imputer.n_factors_} factors, {fit_seconds:.0f} s", flush=True)
    return rows


def _timed_class():
    from gaingtex.imputers import FactorAnalysisImputer

    class Timed(FactorAnalysisImputer):
        """Factor analysis that records how long each factor count's models took to fit."""

        def _fit_models(self, x, mask, keys, k, moments=None, clock=None):
            t0 = time.perf_counter()
            models = super()._fit_models(x, mask, keys, k, moments, clock)
            self.seconds_ = {**getattr(self, "seconds_", {}), k: time.perf_counter() - t0}
            return models

    return Timed


def table(rows: list[dict]) -> str:
    counts = sorted({f["n_factors"] for r in rows for f in r["by_factors"]})
    lines = ["| EM iterations | R² | factors chosen | fit s | " + " | ".join(f"{k} factors, s" for k in counts) + " |",
             "|---" * (4 + len(counts)) + "|"]
    for r in rows:
        seconds = {f["n_factors"]: f["seconds"] for f in r["by_factors"]}
        cells = [f"{seconds[k]:.1f}" if k in seconds else "" for k in counts]
        lines.append(f"| {r['max_iter']} | {r['r2']:.4f} | {r['n_factors']} | {r['fit_seconds']:.0f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="book")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario", default="inplace", choices=("inplace", "inductive"))
    parser.add_argument("--genes", default="all", choices=("all", "panel"), help="every gene or the 59-gene panel")
    parser.add_argument("--max-iter", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    check_out(args.out)
    if any(cap < 1 for cap in args.max_iter):
        raise SystemExit(f"error: --max-iter takes positive integers, got {args.max_iter}")
    t0 = time.perf_counter()
    rows = run(args.preset, args.seed, args.max_iter, args.scenario, args.genes)
    return finish({"preset": args.preset, "seed": args.seed, "missing_rate": 0.5}, rows, t0, table(rows), args.out)


if __name__ == "__main__":
    raise SystemExit(main())
