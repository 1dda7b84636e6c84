"""The README's comparison tables: R² of every method on all genes and on the 59-gene panel, in both scenarios,
printed as Markdown from a book-build record (benchmarks/results/book-build*.json, written by
:mod:`benchmarks.book_build`).

    .venv/bin/python -m benchmarks.comparison_table benchmarks/results/book-build.json

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record", type=Path, help="a book-build record, e.g. benchmarks/results/book-build.json")
    args = parser.parse_args(argv)
    print(table(json.loads(args.record.read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
