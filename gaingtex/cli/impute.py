"""``gaingtex impute``: fill every missing entry of a user's file with a method trained on it, or with a trained
inductive model."""

from __future__ import annotations

from pathlib import Path

from .._outputs import check_output, write_or_rescue
from ..config import PRESETS
from .shared import load_model, print_report, seed


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
    p.set_defaults(func=run)


def run(args) -> None:
    import warnings

    from ..data.schema import SchemaWarning
    from ..data.user_tables import file_kind, read_user_file, write_like
    from ..impute import impute_cohort, impute_with_model

    inputs = [args.input, args.obs, args.model]
    check_output(args.output, "", inputs)
    if file_kind(args.output) != file_kind(args.input):
        raise ValueError(f"the output {args.output} must have the input's format ({file_kind(args.input)}), like "
                         f"{args.input}")
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
            result = impute_with_model(table.adata, load_model(args.model), source=str(args.input))
            print_report(result.uns["gaingtex_impute"]["report"])
            how = f"the model {args.model}"
        else:
            result = impute_cohort(table.adata, args.method, args.preset, args.seed or 0, source=str(args.input),
                                   progress=True)
            how = args.method
    write_or_rescue(lambda path: write_like(table, result, path), args.output)
    info = result.uns["gaingtex_impute"]
    print(f"filled {info['filled_entries']:,} entries ({info['filled_fraction']:.1%}) of {args.input} with {how}; "
          f"wrote {args.output}")
