"""``gaingtex evaluate``: score a saved model against the per-tissue mean and the oracle."""

from __future__ import annotations

from pathlib import Path

from .._outputs import check_output, write_or_rescue
from .shared import add_common, cohort_of, load_model, model_genes


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="score a saved model against the per-tissue mean and the oracle")
    add_common(p)
    p.add_argument("--model", type=Path, required=True, help="a .keras file written by `gaingtex train`")
    p.add_argument("--out", type=Path, help="optional JSON output")
    p.set_defaults(func=run)


def run(args) -> None:
    import pandas as pd

    from ..data.embedded import factor_model
    from ..evaluation.scenarios import check_trained_masks, scenario_data
    from ..evaluation.scoring import build_methods, evaluate
    from ..fingerprint import cohort_fingerprint
    from ..imputers import label

    if args.out:
        check_output(args.out, ".json", [args.cohort, args.model])
    adata, genes = cohort_of(args)
    imputer = load_model(args.model)
    genes = model_genes(imputer, adata, genes, args.model)
    origin = imputer.provenance_.origin
    fingerprint = cohort_fingerprint(adata)
    hashes = imputer.hashes()
    print(f"model {args.model}: weights {hashes['weights']}, training inputs {hashes['inputs']}; cohort "
          f"{fingerprint} (trained on {origin.cohort_fingerprint or 'unknown'})")
    if imputer.scenario == "inplace" and origin.cohort_fingerprint not in (None, fingerprint):
        raise ValueError(f"{args.model} was trained in place on another cohort (fingerprint "
                         f"{origin.cohort_fingerprint}, this one is {fingerprint}); an in-place model is scored on "
                         "its own cohort's hidden entries")
    if imputer.scenario == "inplace":  # scored on the mask it trained with, unless told otherwise (then refused)
        rate = origin.missing_rate or 0.5 if args.missing_rate is None else args.missing_rate
        seed = origin.mask_seed or 0 if args.seed is None else args.seed
        check_trained_masks(imputer, rate, seed)
    else:
        rate = 0.5 if args.missing_rate is None else args.missing_rate
        seed = args.seed or 0
    data = scenario_data(adata, imputer.scenario, rate, seed, genes, source=str(args.cohort or "cohort"))
    generator = factor_model(adata) if "generator" in adata.uns else None
    methods = {label(imputer.name): imputer, **build_methods(["mean", "oracle"], data, args.preset, generator)}
    table = evaluate(methods, data)
    table.insert(1, "scenario", imputer.scenario)
    with pd.option_context("display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))
    if args.out:
        from .._io import write_json

        write_or_rescue(lambda path: write_json({"missing_rate": rate, "seed": seed,
                                        "results": table.to_dict(orient="records")}, path), args.out)
        print(f"wrote {args.out}")
