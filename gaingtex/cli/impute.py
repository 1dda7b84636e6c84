"""``gaingtex impute``: fill every missing entry of a user's file with a method trained on it, or with a trained
inductive model."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from .._outputs import beside, check_output, write_or_rescue
from ..config import PRESETS
from .shared import load_model, print_report, seed


def level(text: str) -> float:
    """An interval's level: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give a level such as 0.9") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a level between 0 and 1 (exclusive); e.g. 0.9 for 90 %")
    return value


def count(text: str) -> int:
    """A number of completed data sets: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of data sets") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: at least 1 completed data set")
    return value


def companions(interval, draws) -> list[str]:
    """The layers written beside a text output: ``lower`` and ``upper``, then ``draw_1`` … ``draw_M``."""
    return [*(["lower", "upper"] if interval is not None else []), *(f"draw_{m}" for m in range(1, (draws or 0) + 1))]


def add_parser(sub) -> None:
    from ..imputers import names

    p = sub.add_parser("impute", help="fill every missing entry of a file (CSV, TSV, GCT or .h5ad) with a method "
                       "trained on it, or with a trained inductive model")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--method", choices=names("inplace"), help="a method, trained on the file's observed entries")
    how.add_argument("--model", type=Path, help="an inductive .keras model written by `gaingtex train`")
    p.add_argument("--input", type=Path, required=True,
                   help="the incomplete file: .csv/.tsv (samples × genes plus tissue, sex, age columns), .gct or "
                   ".h5ad; empty cells, NA or NaN are missing")
    p.add_argument("--obs", type=Path, help="a CSV/TSV of covariates by sample id (tissue, sex, age, donor_id, "
                   "hardy), for a GCT or a table without them")
    p.add_argument("--output", type=Path, required=True, help="the completed file, in the input's format (never "
                   "the input)")
    p.add_argument("--scale", choices=["counts", "log", "standardised"],
                   help="what the values are (default: decided from them): read counts or TPM are imputed on "
                   "log(1 + x) and written back as counts")
    p.add_argument("--extra-columns", choices=["keep", "drop", "genes"],
                   help="columns that are neither covariates nor known genes (e.g. RIN): keep them as they are, "
                   "drop them from the output, or impute them as genes (default: refuse, naming them)")
    p.add_argument("--preset", choices=PRESETS, default="book", help="model sizes for the deep methods")
    p.add_argument("--seed", type=seed, default=0, help="random seed (default: 0)")
    p.add_argument("--interval", type=level, metavar="LEVEL", help="also write each cell's conformal interval at "
                   "this level (e.g. 0.9): layers lower and upper of an .h5ad, or OUT.lower.csv and OUT.upper.csv "
                   "beside a text output; observed cells have zero width")
    p.add_argument("--draws", type=count, metavar="M", help="also write M completed data sets for multiple "
                   "imputation: layers draw_1 … draw_M of an .h5ad, or OUT.draw_1.csv … beside a text output")
    p.add_argument("--budget", type=float, metavar="SECONDS",
                   help="stop a method that would take longer than this to fit, or to impute (each), as soon as "
                   "its rate so far projects past it, saying how long it would need; nothing is written then. "
                   f"Methods that keep a clock: {', '.join(clocked())} (default: no limit)")
    p.set_defaults(func=run)


def clocked() -> list[str]:
    """The in-place methods that take a time budget (their constructor has ``budget``)."""
    import inspect

    from ..imputers import names, registry

    return [n for n in names("inplace") if "budget" in inspect.signature(registry.spec(n).factory).parameters]


def run(args) -> None:
    import warnings

    from ..data.schema import SchemaWarning
    from ..data.user_tables import file_kind, read_user_file, write_like
    from ..impute import impute_cohort, impute_with_model
    from ..imputers.base import BudgetExceeded

    budget = getattr(args, "budget", None)
    if budget is not None and not (math.isfinite(budget) and budget > 0):
        raise ValueError(f"--budget must be a positive, finite number of seconds, got {budget:g}")
    if budget is not None and args.model is not None:
        raise ValueError("--budget applies to a method trained on the file (--method); a trained --model only "
                         "imputes")
    inputs = [args.input, args.obs, args.model]
    check_output(args.output, "", inputs)
    if file_kind(args.output) != file_kind(args.input):
        raise ValueError(f"the output {args.output} must have the input's format ({file_kind(args.input)}), like "
                         f"{args.input}")
    interval, draws = getattr(args, "interval", None), getattr(args, "draws", None)
    extra = [] if file_kind(args.output) == "h5ad" else companions(interval, draws)
    for name in extra:  # before any long work: none of them may be an input, all must be writable
        check_output(beside(args.output, name), "", inputs)
    args.on_interrupt = lambda: f"nothing was written ({args.output} is as it was; {args.input} is never changed)"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SchemaWarning)
        table = read_user_file(args.input, args.obs, scale=args.scale, extra_columns=args.extra_columns,
                               for_model=args.model is not None)
    for w in caught:  # the schema's notes are the reader's notes; any other warning is shown as usual
        if not issubclass(w.category, SchemaWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    print_report([str(w.message) for w in caught if issubclass(w.category, SchemaWarning)] + table.report)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)  # the cohort is validated again: its notes are printed
        if args.model is not None:
            model = load_model(args.model)
            result = impute_with_model(table.adata, model, source=str(args.input), interval=interval, draws=draws)
            print_report(result.uns["gaingtex_impute"]["report"])
            how = f"the model {args.model}"
        else:
            try:
                result = impute_cohort(table.adata, args.method, args.preset, args.seed or 0, source=str(args.input),
                                       progress=True, interval=interval, draws=draws, budget=budget)
            except BudgetExceeded as err:
                raise ValueError(f"{err}; nothing was written ({args.input} is never changed): give a larger "
                                 "--budget, or choose a faster method") from None
            how = args.method
    written = [args.output]
    if table.kind == "h5ad":
        if table.scale == "counts":  # the layers go back to counts as X does; observed cells are the given values
            from ..data.user_checks import to_counts

            for name in list(result.layers):
                result.layers[name] = to_counts(result.layers[name], table.original)
    write_or_rescue(lambda path: write_like(table, result, path), args.output)
    for name in extra:
        import anndata as ad

        part = ad.AnnData(X=result.layers[name], obs=result.obs, var=result.var)
        target = beside(args.output, name)
        write_or_rescue(lambda path, part=part: write_like(table, part, path), target)
        written.append(target)
    info = result.uns["gaingtex_impute"]
    more = "" if len(written) == 1 else f" and {len(written) - 1} more beside it ({', '.join(extra)})"
    layers = f" with layers {', '.join(result.layers)}" if table.kind == "h5ad" and len(result.layers) else ""
    print(f"filled {info['filled_entries']:,} entries ({info['filled_fraction']:.1%}) of {args.input} with {how}; "
          f"wrote {args.output}{layers}{more}")
