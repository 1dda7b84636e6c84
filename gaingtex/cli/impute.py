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
    p.add_argument("--preset", choices=PRESETS, default="book", help="model sizes for the deep methods")
    p.add_argument("--seed", type=seed, default=0, help="random seed (default: 0)")
    p.set_defaults(func=run)


def run(args) -> None:
    from ..data.user_tables import file_kind, read_user_file, write_like
    from ..impute import impute_cohort, impute_with_model

    inputs = [args.input, args.obs, args.model]
    check_output(args.output, "", inputs)
    if file_kind(args.output) != file_kind(args.input):
        raise ValueError(f"the output {args.output} must have the input's format ({file_kind(args.input)}), like "
                         f"{args.input}")
    table = read_user_file(args.input, args.obs)
    print_report(table.report)
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
