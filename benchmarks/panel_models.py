"""The deep models on the embedded 59-gene panel, before and after they adapt to the data.

    .venv/bin/python -m benchmarks.panel_models --out benchmarks/results/panel-models.json

"before" trains each deep model with the preset's configuration as it was tuned on the 2,000-gene cohort (the
paper's GAIN objective, fixed widths, the preset's epochs, no search); "after" with the preset as a user gets it now
(widths sized to the gene count, learning rate, width, dropout and GAIN's objective chosen on validation, more epochs
for fewer genes: gaingtex.config.epoch_growth); "after, 1× epochs" as "after" with the preset's own epochs, which
measures what the longer schedule buys. The linear references and
the oracle are fitted once. Both scenarios, one seed, 50 % missing; every method sees the same masks. Prints a table
and writes JSON: one row per method, scenario and variant with R², fit seconds, epochs, the best epoch, the hidden
blocks and the setting the search chose.
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext
from pathlib import Path
from unittest.mock import patch

from ._report import check_out, machine, write

DEEP = ("pmi", "gain", "gain-mse")
REFERENCES = ("factor-analysis", "gaussian", "oracle")
SAME_EPOCHS = "after, 1× epochs"
VARIANTS = ("before", SAME_EPOCHS, "after")


def one_times_epochs():
    """The preset's own epochs whatever the gene count, for the length of a ``with`` block. The package has no
    parameter for this (a user always gets :func:`gaingtex.config.epoch_growth`), so the growth's cap is set to 1."""
    from gaingtex import config

    return patch.object(config, "EPOCH_GROWTH", 1.0)


def run(preset: str, seed: int, methods: tuple[str, ...] = REFERENCES + DEEP,
        scenarios: tuple[str, ...] = ("inductive", "inplace")) -> list[dict]:
    from tqdm.auto import tqdm

    from gaingtex.config import model_config
    from gaingtex.data.embedded.cohort import factor_model, make_cohort
    from gaingtex.data.preprocessing import panel_genes
    from gaingtex.evaluation.scenarios import scenario_data
    from gaingtex.evaluation.scoring import evaluate
    from gaingtex.imputers import get

    adata = make_cohort(preset, seed=seed)
    genes = panel_genes(adata.var_names)
    jobs = [(s, m, v) for s in scenarios for m in methods for v in (VARIANTS if m in DEEP else ("",))]
    rows, data = [], {}
    for scenario, name, variant in tqdm(jobs, desc="panel", unit="model"):
        if scenario not in data:
            data[scenario] = scenario_data(adata, scenario, 0.5, seed, genes)
        options = {"config": model_config(preset, name, scenario)} if variant == "before" else {}
        imputer = get(name, scenario=scenario, preset=preset, seed=seed, generator=factor_model(adata), **options)
        epochs = one_times_epochs() if variant == SAME_EPOCHS else nullcontext()
        t0 = time.perf_counter()
        with epochs:
            imputer.fit(**data[scenario].fit_args())
        row = {"method": name, "scenario": scenario, "variant": variant, "genes": len(genes),
               "fit_seconds": time.perf_counter() - t0,
               "r2": float(evaluate({name: imputer}, data[scenario])["r2"].iloc[0])}
        if getattr(imputer, "history_", None) is not None:
            c = imputer.config
            row.update(epochs=len(imputer.history_), best_epoch=imputer.best_epoch_,
                       hidden=f"{c.hidden_layers}x{c.hidden_units}", learning_rate=c.learning_rate,
                       dropout=c.dropout, objective=c.reconstruct if name != "pmi" else None,
                       chosen=imputer.chosen_.get("search"),
                       final_val_loss=float(imputer.history_["val_loss"].iloc[-1]),
                       best_val_loss=float(imputer.history_["val_loss"].min()))
        elif getattr(imputer, "chosen_", None):
            row.update({k: v for k, v in imputer.chosen_.items() if isinstance(v, (int, float, str))})
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| method | scenario | variant | R² | epochs (best) | hidden | chosen | fit s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        epochs = f"{r['epochs']} ({r['best_epoch']})" if "epochs" in r else ""
        lines.append(f"| {r['method']} | {r['scenario']} | {r['variant']} | {r['r2']:.3f} | {epochs} | "
                     f"{r.get('hidden', '')} | {r.get('chosen') or ''} | {r['fit_seconds']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="book")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", default=list(REFERENCES + DEEP),
                        help="registry names (default: the references and the deep models)")
    parser.add_argument("--scenarios", nargs="+", choices=("inductive", "inplace"), default=["inductive", "inplace"])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    check_out(args.out)
    t0 = time.perf_counter()
    rows = run(args.preset, args.seed, tuple(args.methods), tuple(args.scenarios))
    result = {"preset": args.preset, "seed": args.seed, "missing_rate": 0.5, "panel_genes": rows[0]["genes"],
              "machine": machine(), "wall_seconds": time.perf_counter() - t0, "results": rows}
    print(table(rows))
    write(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
