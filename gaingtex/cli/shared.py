"""What several commands share: the seed and cohort options, reading the cohort, loading a saved model, checking a
model's genes, a benchmark's method list and resume file, and the notes a reader prints."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import PRESETS

SEED_MAX = 2**32 - 1  # what numpy's and TensorFlow's generators take


def seed(text: str) -> int:
    """A seed as every command takes it: a whole number from 0 to 2³²−1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"{value} is outside 0 … {SEED_MAX} (2³²−1)")
    return value


def check_budget(budget: float | None) -> None:
    """A time budget is a positive, finite number of seconds (or none given: the preset's)."""
    import math

    if budget is not None and not (math.isfinite(budget) and budget > 0):
        raise ValueError(f"--budget must be a positive, finite number of seconds, got {budget:g}")


def add_common(p: argparse.ArgumentParser, cohort: bool = True) -> None:
    """The options of the commands that work on a cohort: its preset, seed, file, genes and missing rate."""
    p.add_argument("--preset", choices=PRESETS, default="book", help="size preset (default: book)")
    p.add_argument("--seed", type=seed, help="random seed (default: 0; an in-place model's own mask seed)")
    if cohort:
        p.add_argument("--cohort", type=Path, help="cohort .h5ad (default: generate the preset's embedded cohort)")
        p.add_argument("--genes", choices=["all", "alzheimer"], default="all",
                       help="all genes, or the 273 Alzheimer-pathway genes")
    p.add_argument("--missing-rate", type=float,
                   help="fraction of entries hidden (default 0.5; an in-place model's own rate)")


def print_report(lines) -> None:
    for line in lines:
        print(f"note: {line}")


def cohort_of(args):
    """The cohort of ``--cohort`` (else the preset's embedded one) and the genes of ``--genes`` (``None``: all)."""
    from ..data import alzheimer_genes, read_h5ad
    from ..data.embedded import make_cohort

    adata = read_h5ad(args.cohort) if args.cohort else make_cohort(args.preset, args.seed or 0)
    return adata, (alzheimer_genes() if args.genes == "alzheimer" else None)


def load_model(path: Path):
    """A saved model of any saveable method, as its own class."""
    from ..imputers.registry import load

    return load(path)


def model_genes(imputer, adata, genes, path) -> list[str] | None:
    """The genes to score a model on, in the model's order, matched by symbol; an error names the genes the
    cohort lacks. Models that record no genes (older files) are checked by count."""
    wanted = getattr(imputer, "genes_", None)
    if wanted is None:
        n_genes = adata.n_vars if genes is None else len(genes)
        if imputer.n_genes != n_genes:
            raise ValueError(f"{path} was trained on {imputer.n_genes} genes, the cohort has {n_genes} (use the "
                             "same --genes as for training)")
        return genes
    lacking = [g for g in wanted if g not in set(adata.var_names)]
    if lacking:
        raise ValueError(f"the cohort lacks {len(lacking)} of the {len(wanted)} genes {path} was trained on, e.g. "
                         f"{lacking[:5]}; score it on a cohort with its genes (or impute them: gaingtex impute "
                         "--model)")
    if genes is not None and list(genes) != list(wanted):
        raise ValueError(f"{path} was trained on {len(wanted)} genes, not the {len(genes)} of --genes; use the same "
                         "--genes as for training")
    return list(wanted)


def method_list(given: list[str] | None) -> list[str] | None:
    """Registry names, checked (a label such as ``PMI`` is accepted)."""
    from ..imputers import spec

    return None if not given else [spec(name).name for name in given]


def read_resume(path: Path) -> dict:
    """A benchmark JSON (partial or whole) to resume from."""
    import json

    from .._outputs import check_input

    check_input(path, "--resume")
    try:
        resume = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"--resume {path} is not a benchmark JSON ({err})") from None
    if not isinstance(resume, dict):
        raise ValueError(f"--resume {path} is not a benchmark JSON (it holds no record)")
    return resume
