"""``auto`` against the best single method of the same run: cohort × scenario × gene set × seed.

    .venv/bin/python -m benchmarks.auto --cohort teach --genes all panel --out benchmarks/results/auto-teach.json
    .venv/bin/python -m benchmarks.auto --cohort book --genes panel --out benchmarks/results/auto-book-panel.json
    .venv/bin/python -m benchmarks.auto --cohort book --genes all panel --out benchmarks/results/auto-book.json

One comparison run (:func:`gaingtex.evaluation.comparison.compare`, the comparison's own code path, without the
interval calibration) of every method that does not train by gradient descent, the oracle (the ceiling, never a
"best single method") and ``auto``, which reuses the members the run fitted (inductive) or fits them itself
without its held-out training entries (in place). The deep models are left out: on this CPU they cost minutes to
hours, and they were behind the best linear-Gaussian method in every cell measured (book-comparison.json,
teach-comparison.json). Prints a table and writes JSON: the rows, and per cell the best single method and its R²,
``auto``'s R², the margin, ``auto``'s members, its fit time and the sum of its members' fit times.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from ._report import check_out, machine, write

DONE_MARGIN = 0.002  # the bar: auto ≥ best single method − 0.002 R² in every cell


def methods() -> list[str]:
    from gaingtex.imputers import names, spec

    return [n for n in names() if not spec(n).trains and not spec(n).needs_blood]


def cells(rows: list[dict]) -> list[dict]:
    """Per (scenario, genes, seed): the best single method (not the oracle, not auto) and auto."""
    out = []
    keys = sorted({(r["scenario"], r["genes"], int(r["seed"])) for r in rows})
    for scenario, genes, seed in keys:
        block = [r for r in rows if (r["scenario"], r["genes"], int(r["seed"])) == (scenario, genes, seed)
                 and r.get("status") == "ok"]
        single = [r for r in block if r["method"] not in ("auto", "oracle")]
        auto = next((r for r in block if r["method"] == "auto"), None)
        if not single or auto is None:
            continue
        best = max(single, key=lambda r: r["r2"])
        members = str(auto.get("members", "")).split(",")
        member_fit = sum(r["fit_seconds"] for r in single if r["method"] in members)
        out.append({"scenario": scenario, "genes": genes, "seed": seed, "best": best["method"],
                    "best_r2": best["r2"], "auto_r2": auto["r2"], "margin": auto["r2"] - best["r2"],
                    "members": auto.get("members"), "policy": auto.get("auto_policy"),
                    "fallback": auto.get("auto_fallback"), "weights": auto.get("auto_weights"),
                    "auto_fit_seconds": auto["fit_seconds"], "blend_seconds": auto.get("auto_blend_seconds"),
                    "members_fit_seconds_in_run": member_fit, "auto_impute_seconds": auto["impute_seconds"],
                    "meets_bar": bool(auto["r2"] >= best["r2"] - DONE_MARGIN)})
    return out


def table(summary: list[dict], cohort: str) -> str:
    head = (f"{'cohort':7s} {'scenario':9s} {'genes':5s} {'seed':>4s}  {'best single':16s} {'R²':>7s}  {'auto R²':>7s} "
            f"{'margin':>7s}  {'auto fit s':>10s} {'members s':>9s}  policy / weights")
    lines = [head, "-" * len(head)]
    for c in summary:
        lines.append(f"{cohort:7s} {c['scenario']:9s} {c['genes']:5s} {c['seed']:4d}  {c['best']:16s} "
                     f"{c['best_r2']:7.4f}  {c['auto_r2']:7.4f} {c['margin']:+7.4f}  {c['auto_fit_seconds']:10.1f} "
                     f"{c['members_fit_seconds_in_run']:9.1f}  {c['policy']}: {c['weights']}")
    worst = min((c["margin"] for c in summary), default=math.nan)
    lines.append(f"worst margin {worst:+.4f}; cells at or above best − {DONE_MARGIN}: "
                 f"{sum(c['meets_bar'] for c in summary)} of {len(summary)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cohort", default="teach", help="embedded cohort preset (smoke, teach, book)")
    parser.add_argument("--genes", nargs="+", default=["all", "panel"], help="gene sets: all, panel, alzheimer")
    parser.add_argument("--scenarios", nargs="+", default=["inductive", "inplace"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds per method (default: the preset's comparison budget)")
    parser.add_argument("--methods", nargs="+", default=None, help="single methods (default: all that do not train)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or Path(f"benchmarks/results/auto-{args.cohort}.json")
    check_out(out)

    from gaingtex.evaluation.presets import comparison_config
    from gaingtex.data.embedded import factor_model, make_cohort
    from gaingtex.evaluation.comparison import compare

    adata = make_cohort(args.cohort, seed=0)
    budget = comparison_config(args.cohort).budget if args.budget is None else args.budget
    chosen = [m for m in (args.methods or methods()) if m != "auto"] + ["auto"]
    t0 = time.perf_counter()
    rows = compare(adata, chosen, seeds=args.seeds, scenarios=args.scenarios, genes=args.genes,
                   preset=args.cohort, generator=factor_model(adata), budget=budget, progress=False,
                   calibrated=False, on_row=lambda r: print(f"  {r['scenario']} {r['genes']} {r['seed']} "
                                                           f"{r['method']}: {r.get('r2', float('nan')):.4f} "
                                                           f"({r['status']}, fit {r.get('fit_seconds', 0):.1f} s)",
                                                           flush=True))
    records = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
               for r in rows.to_dict("records")]
    summary = cells(records)
    print(table(summary, args.cohort))
    result = {"cohort": args.cohort, "genes": args.genes, "scenarios": args.scenarios, "seeds": args.seeds,
              "budget": budget, "methods": chosen, "machine": machine(), "done_margin": DONE_MARGIN,
              "wall_seconds": time.perf_counter() - t0, "cells": summary, "rows": records}
    write(result, out)
    return result


if __name__ == "__main__":
    main()
