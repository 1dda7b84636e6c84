"""How tightly the brain tissues cluster in the deep models' tissue embeddings (paper Fig. 3, notebook 07).

    .venv/bin/python -m benchmarks.purity --preset teach --out benchmarks/results/purity-teach.json

Each model (default GAIN-GTEx and PMI) is trained inductive on the preset's embedded cohort at the seed, once per
variant: ``preset`` trains as the book does (the preset as a user gets it, its validation search included);
``NAME:key=value,...`` trains the preset's configuration sized to the genes with those fields changed and no search
(``NAME:`` alone: the preset's configuration as the search starts from it). Per model and variant the JSON holds
notebook 07's scores: the brain tissues' 3-nearest-neighbour purity and silhouette, the mean and 99th percentile
of the purity over 500 random embeddings and the permutation p-value; the same purity with the embedding's rows
shuffled (what a model that learnt nothing of the tissues would score); the inductive R² on the masked entries;
epochs, best epoch, the configuration trained and the search's choice; and the purity after every epoch of the
final training (``trajectory``: epoch, purity, validation loss). Once per run, the cohort design's own score: the
same purity for each tissue's latent-factor amplitudes in the generating model
(:func:`gaingtex.evaluation.studies.embeddings.design_embedding`), where brain tissues share the brain group's
factors by construction. Prints a table.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from unittest.mock import patch

import numpy as np

from ._report import check_out, machine, write

N_RANDOM = 500
LEVEL = 0.01


def parse_variant(text: str) -> tuple[str, dict | None]:
    """``"preset"`` → ``("preset", None)`` (the search runs); ``"name:k=v,k=v"`` → ``(name, {k: v})`` (no search);
    a key that is not a :class:`~gaingtex.config.ModelConfig` field is refused."""
    from gaingtex.config import ModelConfig

    if text == "preset":
        return text, None
    name, sep, rest = text.partition(":")
    if not sep or not name:
        raise SystemExit(f"error: variant {text!r}: expected 'preset' or NAME:key=value,...")
    changes = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"error: variant {text!r}: {item!r} is not key=value")
        changes[key.strip()] = value.strip()
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    for key in changes:
        if key not in fields:
            raise SystemExit(f"error: {key!r} is not a ModelConfig field ({', '.join(sorted(fields))})")
    return name, changes


def configured(preset: str, model: str, n_genes: int, changes: dict):
    """The preset's configuration for ``n_genes`` genes with ``changes`` (strings cast to each field's type)."""
    from gaingtex.config import model_config

    base = model_config(preset, model, "inductive", n_genes)
    typed = {}
    for key, value in changes.items():
        current = getattr(base, key)
        typed[key] = value if isinstance(current, str) else (value.lower() == "true" if isinstance(current, bool)
                                                             else type(current)(value))
    return base.replace(**typed)


def recording():
    """A patch of the training run's epochs that keeps every model's tissue embedding after each epoch:
    ``(patch, kept)`` with ``kept[id(model)]`` a list of ``(epoch, embedding, val_loss)``."""
    import keras

    from gaingtex.imputers.deep.training import TrainingRun

    kept: dict[int, list] = {}

    class Keep(keras.callbacks.Callback):
        def __init__(self, model):
            super().__init__()
            self.target = model

        def on_epoch_end(self, epoch, logs=None):
            kept.setdefault(id(self.target), []).append(
                (int(epoch) + 1, np.array(self.target.tissue_embedding()), float((logs or {}).get("val_loss", np.nan))))

    original = TrainingRun.fit_epochs

    def fit_epochs(self, model, config, done, until, callbacks, verbose=0):
        return original(self, model, config, done, until, list(callbacks) + [Keep(model)], verbose)

    return patch.object(TrainingRun, "fit_epochs", fit_epochs), kept


def run(preset: str, seed: int, models: tuple[str, ...], variants: tuple[str, ...], n_random: int = N_RANDOM) -> dict:
    from gaingtex.data.embedded.cohort import factor_model, make_cohort
    from gaingtex.evaluation.scenarios import scenario_data
    from gaingtex.evaluation.scoring import evaluate
    from gaingtex.evaluation.studies.embeddings import brain_labels, cluster_scores, design_embedding, purity_check
    from gaingtex.imputers import get
    from gaingtex.imputers.deep.backend import use_threads

    def scores(embedding, labels):
        return purity_check(embedding, labels, n_random, seed, level=LEVEL)

    use_threads()
    adata = make_cohort(preset, seed=seed)
    data = scenario_data(adata, "inductive", 0.5, seed)
    rows, design = [], None
    for model in models:
        for variant in variants:
            name, changes = parse_variant(variant)
            options = {} if changes is None else {"config": configured(preset, model, adata.n_vars, changes)}
            imputer = get(model, scenario="inductive", preset=preset, seed=seed, **options)
            recorder, kept = recording()
            t0 = time.perf_counter()
            with recorder:
                imputer.fit(**data.fit_args())
            seconds = time.perf_counter() - t0
            embedding = imputer.tissue_embedding()
            labels = brain_labels(embedding.index)
            if design is None:
                design = scores(design_embedding(factor_model(adata), list(embedding.index)), labels)
            shuffled = np.random.default_rng(seed).permutation(embedding.to_numpy())
            c = imputer.config
            rows.append({
                "model": model, "variant": name, "changes": changes, **scores(embedding.to_numpy(), labels),
                "shuffled_purity": cluster_scores(shuffled, labels)["knn_purity"],
                "r2": float(evaluate({model: imputer}, data)["r2"].iloc[0]), "fit_seconds": seconds,
                "epochs": len(imputer.history_), "best_epoch": imputer.best_epoch_,
                "hidden": f"{c.hidden_layers}x{c.hidden_units}", "learning_rate": c.learning_rate,
                "dropout": c.dropout, "objective": c.reconstruct if model != "pmi" else None,
                "steps": c.max_epochs * c.steps_per_epoch, "chosen": getattr(imputer, "chosen_", {}).get("search"),
                "config": dict(c.__dict__),
                "trajectory": [(e, round(cluster_scores(x, labels)["knn_purity"], 4), round(v, 5))
                               for e, x, v in kept.get(id(imputer.model_), [])]})
            print(table([rows[-1]]).splitlines()[-1], flush=True)
    return {"design": design, "results": rows}


def table(rows: list[dict], design: dict | None = None) -> str:
    lines = ["| model | variant | 3-NN purity | p | null mean / 99 % | shuffled | silhouette | R² | epochs (best) | "
             "hidden | objective | chosen | fit s |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['variant']} | {r['knn_purity']:.2f} | {r['p']:.3f} | "
                     f"{r['null_mean']:.2f} / {r['null_quantile']:.2f} | {r['shuffled_purity']:.2f} | "
                     f"{r['silhouette']:.2f} | {r['r2']:.3f} | {r['epochs']} ({r['best_epoch']}) | {r['hidden']} | "
                     f"{r['objective'] or ''} | {r['chosen'] or ''} | {r['fit_seconds']:.0f} |")
    if design is not None:
        lines.append(f"| cohort design (factor amplitudes) | | {design['knn_purity']:.2f} | {design['p']:.3f} | "
                     f"{design['null_mean']:.2f} / {design['null_quantile']:.2f} | | {design['silhouette']:.2f} | "
                     "| | | | | |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="teach")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=["gain", "pmi"], help="deep models' registry names")
    parser.add_argument("--variants", nargs="+", default=["preset"],
                        help="'preset' (as the book trains, search included) or NAME:key=value,... (no search)")
    parser.add_argument("--random", type=int, default=N_RANDOM, help="random embeddings in the null")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    check_out(args.out)
    for variant in args.variants:
        parse_variant(variant)
    t0 = time.perf_counter()
    result = run(args.preset, args.seed, tuple(args.models), tuple(args.variants), args.random)
    print(table(result["results"], result["design"]))
    write({"preset": args.preset, "seed": args.seed, "missing_rate": 0.5, "random_embeddings": args.random,
           "level": LEVEL, "machine": machine(), "wall_seconds": time.perf_counter() - t0, **result}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
