"""The multiple-imputation study: an age effect tested on imputed data, single imputation against Rubin's rules,
over many replicates of the embedded cohort's generating model (issue 27, item 3).

    nice -n 10 .venv/bin/python -m benchmarks.multiple_imputation --preset book --replicates 200 --draws 10 \\
        --out benchmarks/results/multiple-imputation.json
    nice -n 10 .venv/bin/python -m benchmarks.multiple_imputation --preset book --replicates 200 --draws 5 \\
        --scenario inplace --methods oracle gaussian+covariates knn mean \\
        --out benchmarks/results/multiple-imputation-inplace.json

Per approach (complete truth, complete cases, single imputation, multiple imputation), method and tested gene
(one with the largest age effect, one whose age effect is zeroed): the 95 % interval's coverage of the true
effect with its Monte Carlo standard error, the share called significant (false-positive rate for the null
gene, power for the other), the mean interval width, the bias, the estimates' sd across replicates against the
mean standard error, and Rubin's λ (the share of the variance due to the missing entries).
(:mod:`gaingtex.evaluation.studies.multiple_imputation` describes the design.)"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from benchmarks._report import check_out, machine, write

SHOWN = ("replicates", "coverage", "coverage_se", "significant", "width", "bias", "sd", "se", "missing_share")


def run(preset: str, seed: int, replicates: int, methods, draws: int, missing_rate: float, sizes: dict,
        scenario: str = "inductive"):
    from gaingtex.data.embedded import make_cohort
    from gaingtex.evaluation.studies import multiple_imputation as mi

    cohort = make_cohort(preset, seed)
    rows = mi.run(cohort, replicates=replicates, methods=methods, draws=draws, missing_rate=missing_rate, seed=seed,
                  progress=sys.stderr.isatty(), scenario=scenario, **sizes)
    summary = mi.summarise(rows)
    summary["coverage_se"] = [mi.coverage_se(c, n) for c, n in zip(summary["coverage"], summary["replicates"])]
    return rows, summary


def table(summary: pd.DataFrame) -> str:
    frame = summary.copy()
    frame["method"] = frame["method"].replace("", "—")
    return frame[["gene", "approach", "method", *SHOWN]].to_string(index=False, float_format=lambda v: f"{v:.3f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="book")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--draws", type=int, default=10, help="imputations M per replicate")
    parser.add_argument("--methods", nargs="+", default=None, help="default: the study's (oracle, gaussian, "
                        "gaussian+covariates, knn, mean)")
    parser.add_argument("--missing-rate", type=float, default=0.5)
    parser.add_argument("--scenario", choices=("inductive", "inplace"), default="inductive",
                        help="fit each method on a complete reference sample, or on the study's own holes")
    parser.add_argument("--genes", type=int, default=40, help="the panel's genes")
    parser.add_argument("--reference", type=int, default=400, help="reference (training) samples")
    parser.add_argument("--calibration", type=int, default=200, help="calibration samples")
    parser.add_argument("--study", type=int, default=200, help="study samples, analysed")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    check_out(args.out)
    from gaingtex.evaluation.studies import multiple_imputation as mi

    methods = tuple(args.methods or mi.METHODS)
    sizes = {"n_genes": args.genes, "n_reference": args.reference, "n_calibration": args.calibration,
             "n_study": args.study}
    t0 = time.perf_counter()
    rows, summary = run(args.preset, args.seed, args.replicates, methods, args.draws, args.missing_rate, sizes,
                        args.scenario)
    command = "python -m benchmarks.multiple_imputation " + " ".join(sys.argv[1:] if argv is None else argv)
    result = {"command": command, "preset": args.preset, "seed": args.seed, "scenario": args.scenario,
              "replicates": args.replicates,
              "draws": args.draws, "missing_rate": args.missing_rate, "methods": list(methods),
              "design": {k: (v if not isinstance(v, dict) else dict(v)) for k, v in rows.attrs.items()},
              "machine": machine(), "wall_seconds": time.perf_counter() - t0,
              "summary": summary.to_dict(orient="records")}
    print(table(summary))
    write(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
