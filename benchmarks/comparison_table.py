"""The README's comparison tables, printed as Markdown: from a book-build record (benchmarks/results/book-build*.json,
written by :mod:`benchmarks.book_build`), R² of every method on all genes and on the 59-gene panel, in both
scenarios; from a ``gaingtex benchmark`` record (e.g. benchmarks/results/paper-comparison.json), every method's R²,
RMSE, fraction of the oracle's R², seconds and the memory one imputation added, per scenario, at the first seed.

    .venv/bin/python -m benchmarks.comparison_table benchmarks/results/book-build.json
    .venv/bin/python -m benchmarks.comparison_table benchmarks/results/paper-comparison.json

A method is listed by its label, in order of its mean R² over the cells it has; "—" marks a scenario or gene set the
method does not support, "> budget" one it did not finish within the preset's budget.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COLUMNS = (("all/inductive", "inductive, all genes"), ("panel/inductive", "inductive, panel"),
           ("all/inplace", "in place, all genes"), ("panel/inplace", "in place, panel"))


def table(record: dict) -> str:
    """A Markdown table of a book-build record's ``r2``: a row per method, a column per gene set and scenario."""
    from gaingtex.imputers import label

    r2 = record["r2"]
    methods = list(dict.fromkeys(m for key, _ in COLUMNS for m in r2.get(key, {})))

    def mean(method):
        values = [r2[key][method] for key, _ in COLUMNS if isinstance(r2.get(key, {}).get(method), float)]
        return sum(values) / len(values) if values else float("-inf")

    def cell(key, method):
        value = r2.get(key, {}).get(method)
        return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| method | " + " | ".join(header for _, header in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for method in sorted(methods, key=mean, reverse=True):
        lines.append(f"| {label(method)} | " + " | ".join(cell(key, method) for key, _ in COLUMNS) + " |")
    return "\n".join(lines)


def benchmark_table(record: dict) -> str:
    """A Markdown table of a ``gaingtex benchmark`` record: a row per method and scenario (all genes, first seed),
    best first; a method stopped at its budget shows its projection."""
    from gaingtex.book.tables import budget_status
    from gaingtex.imputers import label

    memory = record.get("runtime", {}).get("memory_mb", {})
    rows = [r for r in record["results"] if r["genes"] == "all" and r["seed"] == record["seed"]]
    rows.sort(key=lambda r: (r["scenario"], -(r.get("r2") if r.get("r2") is not None else float("-inf"))))

    def num(value, digits):
        return "—" if value is None else f"{value:,.{digits}f}"

    lines = ["| method | scenario | R² | RMSE | × oracle | fit s | impute s | imputation memory MiB | status |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {label(r['method'])} | {r['scenario'].replace('inplace', 'in place')} | {num(r.get('r2'), 3)} "
                     f"| {num(r.get('rmse'), 3)} | {num(r.get('r2_vs_oracle'), 2)} | {num(r.get('fit_seconds'), 0)} "
                     f"| {num(r.get('impute_seconds'), 1)} | {num(memory.get(r['method']), 0)} "
                     f"| {budget_status(r['status'], r.get('progress'))} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record", type=Path, help="a book-build record (benchmarks/results/book-build.json) or a "
                        "gaingtex benchmark record (benchmarks/results/paper-comparison.json)")
    args = parser.parse_args(argv)
    record = json.loads(args.record.read_text())
    print(benchmark_table(record) if "results" in record else table(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
