"""Time one training step of PMI and GAIN-GTEx, built and compiled as the package's training run builds them, with
and without XLA (``jit_compile``), in float32 and in bfloat16 (``ModelConfig.precision``: Keras'
``mixed_bfloat16`` on every layer of the networks), and with XLA for the optimisers' update alone (``xla-adam``,
the package's default on a CPU), against this machine's matrix-multiply rate measured in the same run; with
``--r2 PRESET``, also train each model as the preset does in both precisions and score R².

    python -m benchmarks.precision [--out benchmarks/results/precision.json] [--genes 2000 12557] [--steps 10]
                                   [--batch 256] [--r2 book [--seed 0]]

Each case is the ``book`` preset's inductive configuration of the model for that many genes
(:func:`gaingtex.config.model_config`: PMI 1 × 1,024 and GAIN-GTEx 4 × 320 at 2,000 genes, 1 × 2,566 and
4 × 2,009 at 12,557), at its batch size unless ``--batch`` is given. A step is Keras' own ``train_function`` (what
``fit`` calls) on one fixed batch; ``ms`` is the median of ``--steps`` steps after two of tracing and warm-up. The
FLOPs are the package's count (:meth:`DeepImputer.training_flops`); ``of_matmul`` sets the achieved rate against
the float32 2048² matrix-multiply rate of :func:`~gaingtex.imputers.deep.throughput.matmul_throughput` (the
comparison's ``matmul_fraction``), ``of_shaped`` against a (batch × genes) @ (genes × units) product in the row's
own precision and compilation; ``speedup`` is the float32 graph step's time (the optimisers' update left to the
graph) over the row's, and
``first_step_seconds`` the first call's (tracing, and XLA's compilation). The seconds are comparable only within
one run on an otherwise idle machine.

Every setting starts from the same weights. ``forward_error`` is the relative (Frobenius) difference of its
imputation of one batch, half of it hidden, from float32's before training (run eagerly, so XLA rows repeat their
precision's): the precision's own error, free of random draws. The losses are not comparable across settings: XLA
draws other dropout and pseudo-masks, and a bfloat16 Dropout others again. R² needs full training runs.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from gaingtex.config import model_config
from gaingtex.imputers.deep._keras import keras, ops
from gaingtex.imputers.deep.backend import use_threads
from gaingtex.imputers.deep.imputer import DeepImputer
from gaingtex.imputers.deep.throughput import matmul_throughput
from gaingtex.imputers.deep.training import build_model

from ._report import check_out, finish
from .train_step import VOCABULARY

# (label, ModelConfig.precision, XLA for the whole step, XLA for the optimisers' update alone: the package's
# default on a CPU, :meth:`~gaingtex.imputers.deep._backend_tf.Steps._hold_optimizers`)
SETTINGS = [("f32", "float32", False, False), ("f32+xla", "float32", True, False),
            ("bf16", "bfloat16", False, False), ("bf16+xla", "bfloat16", True, False),
            ("f32+xla-adam", "float32", False, True), ("bf16+xla-adam", "bfloat16", False, True)]
WARMUP = 2


def make_batch(genes: int, size: int, rng: np.random.Generator) -> dict:
    """A training batch as the run's stream yields it: standardised values, a complete mask, covariate codes."""
    return {"x": tf.constant(rng.standard_normal((size, genes)).astype(np.float32)),
            "mask": tf.ones((size, genes), tf.float32),  # inductive training data are complete
            "cat": tf.constant(np.stack([rng.integers(0, v, size) for v in VOCABULARY], 1).astype(np.int32)),
            "num": tf.constant(rng.standard_normal((size, 1)).astype(np.float32))}


def train_steps(model: keras.Model, batch: dict, steps: int) -> tuple[list[float], list[float]]:
    """Seconds and loss of each of ``WARMUP + steps`` calls of Keras' ``train_function`` on ``batch``."""
    model.make_train_function()
    stream = iter(tf.data.Dataset.from_tensors(batch).repeat())
    seconds, losses = [], []
    for _ in range(WARMUP + steps):
        t0 = time.perf_counter()
        logs = model.train_function(stream)
        losses.append(float(logs["loss"]))  # waits for the step
        seconds.append(time.perf_counter() - t0)
    return seconds, losses


def shaped_matmul(m: int, k: int, n: int, dtype: str, jit: bool, repeats: int = 20) -> float:
    """FLOP/s of an (m × k) @ (k × n) product in ``dtype`` inside a ``tf.function`` (XLA-compiled with ``jit``), the
    median of ``repeats`` calls: what a Dense layer of the model could reach in the same setting."""
    a = tf.cast(tf.random.stateless_normal((m, k), (1, 2)), dtype)
    b = tf.cast(tf.random.stateless_normal((k, n), (3, 4)), dtype)
    product = tf.function(tf.matmul, jit_compile=jit)
    product(a, b).numpy()
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        product(a, b).numpy()
        seconds.append(time.perf_counter() - t0)
    return 2 * m * k * n / statistics.median(seconds)


def measure(kind: str, genes: int, batch_size: int | None, steps: int, matmul: float, rng) -> list[dict]:
    """The rows of one case, one per setting of :data:`SETTINGS`, from the same initial weights and batch."""
    config = model_config("book", kind, "inductive", n_genes=genes)
    config = config if batch_size is None else config.replace(batch_size=batch_size)
    batch = make_batch(genes, config.batch_size, rng)
    probe = {**batch, "mask": ops.cast(keras.random.uniform(batch["x"].shape, seed=1) < 0.5, "float32"),
             "noise": keras.random.normal(batch["x"].shape, seed=2)}  # half hidden; GAIN's noise fixed
    flops = reference = None
    rows = []
    for label, precision, jit, fused in SETTINGS:
        keras.utils.set_random_seed(0)  # as TrainingRun.build: the same weights in every setting
        model = build_model(kind, "inductive", config.replace(precision=precision), genes, VOCABULARY, 0,
                            jit_compile=jit)
        if not fused:
            model.fused_updates.clear()  # the graph's own update, as before the package compiled it
        elif not model.fused_updates:
            raise SystemExit("error: this backend or device does not compile the optimisers' update alone")
        if flops is None:
            imputer = DeepImputer(kind, "inductive", config)
            imputer.model_ = model  # training_flops counts the fitted model's kernels
            flops = imputer.training_flops()
        imputed = ops.convert_to_numpy(model(probe, training=False)).astype(np.float64)
        reference = imputed if reference is None else reference
        seconds, losses = train_steps(model, batch, steps)
        used_jit = bool(model.jit_compile)  # Keras turns XLA off for a model it deems unable
        del model
        gc.collect()  # before the next setting's: at 12,557 genes a GAIN-GTEx with its Adam state takes some 3 GB
        ms = 1000 * statistics.median(seconds[WARMUP:])
        shaped = shaped_matmul(config.batch_size, genes, config.hidden_units, precision, jit)
        rate = flops / (ms / 1000)
        rows.append({"model": kind, "genes": genes, "hidden": f"{config.hidden_layers}x{config.hidden_units}",
                     "batch": config.batch_size, "setting": label, "precision": precision, "jit_compile": jit,
                     "jit_used": used_jit, "xla_optimizer": fused, "first_step_seconds": seconds[0], "ms": ms,
                     "ms_min": 1000 * min(seconds[WARMUP:]), "speedup": (rows[0]["ms"] if rows else ms) / ms,
                     "flops": flops, "gflops": rate / 1e9, "of_matmul": rate / matmul,
                     "shaped_matmul_gflops": shaped / 1e9, "of_shaped": rate / shaped,
                     "forward_error": float(np.linalg.norm(imputed - reference) / np.linalg.norm(reference)),
                     "loss_first": losses[0], "loss_last": losses[-1]})
        print(line(rows[-1]), flush=True)
    return rows


def fitted_r2(kinds: list[str], preset: str, seeds: list[int], scenario: str = "inductive",
              genes: str = "all") -> list[dict]:
    """Each model trained as the preset trains it (its validation search included) on the preset's embedded
    cohort, for each seed (masks and model), in float32 and in bfloat16: R² on the scenario's masked entries, fit
    seconds, epochs. ``genes``: ``"all"``, or ``"panel"`` (the 59-gene panel, where the comparison trains for more
    epochs). The issue's bar for adopting bfloat16: R² within 0.005 of float32's, and faster; over several seeds
    the difference is set beside float32's own spread from seed to seed."""
    from gaingtex.config import preset_base, search_config
    from gaingtex.data import panel_genes
    from gaingtex.data.embedded import make_cohort
    from gaingtex.evaluation import metrics
    from gaingtex.evaluation.scenarios import scenario_data
    from gaingtex.evaluation.scoring import score_imputer
    from gaingtex.imputers import get

    cohort = make_cohort(preset, seed=0)
    chosen = panel_genes(list(cohort.var_names)) if genes == "panel" else None
    rows = []
    for seed in seeds:
        data = scenario_data(cohort, scenario, 0.5, seed=seed, genes=chosen)
        for kind in kinds:
            base, _ = preset_base(preset, kind, scenario, data.train.x.shape[1])
            for precision in ("float32", "bfloat16"):
                imputer = get(kind, scenario=scenario, preset=preset, seed=seed, config=base.replace(
                    precision=precision), search=search_config(preset)).fit(**data.fit_args())
                scores, _ = score_imputer(imputer, data.eval.x, data.eval_mask, data.eval.obs, data.eval.genes,
                                          data.scope)
                rows.append({"model": kind, "scenario": scenario, "genes": genes, "seed": seed,
                             "precision": precision, "r2": metrics.summarise(scores)["r2"],
                             "fit_seconds": imputer.fit_seconds_, "epochs": len(imputer.history_),
                             "search": imputer.chosen_.get("search")})
                print(f"{kind:5} seed {seed} {precision:9} R² {rows[-1]['r2']:.4f}  fit "
                      f"{rows[-1]['fit_seconds']:7.1f} s  {rows[-1]['epochs']} epochs  ({rows[-1]['search']})",
                      flush=True)
                del imputer
                gc.collect()
    return rows


HEADER = (f"{'model':5} {'genes':>6} {'hidden':>7} {'setting':>13} {'first s':>7} {'ms/step':>8} {'speedup':>7} "
          f"{'GFLOP':>6} {'GFLOP/s':>7} {'of mm':>5} {'shaped':>7} {'of sh':>5} {'fwd err':>7} {'loss':>7}")


def line(r: dict) -> str:
    return (f"{r['model']:5} {r['genes']:6} {r['hidden']:>7} {r['setting']:>13} {r['first_step_seconds']:7.1f} "
            f"{r['ms']:8.1f} {r['speedup']:7.2f} {r['flops'] / 1e9:6.2f} {r['gflops']:7.1f} {r['of_matmul']:5.2f} "
            f"{r['shaped_matmul_gflops']:7.1f} {r['of_shaped']:5.2f} {r['forward_error']:7.1e} {r['loss_last']:7.4f}")


def summary(rows: list[dict]) -> str:
    """Per case, the fastest setting: what adopting it would buy."""
    cases = {}
    for r in rows:
        cases.setdefault((r["model"], r["genes"], r["hidden"]), []).append(r)
    lines = []
    for (kind, genes, hidden), settings in cases.items():
        best = min(settings, key=lambda r: r["ms"])
        lines.append(f"{kind} {genes} genes {hidden}: fastest {best['setting']}, {best['speedup']:.2f}x float32's "
                     f"{settings[0]['ms']:.1f} ms, {best['of_matmul']:.2f} of the matmul rate "
                     f"(float32 {settings[0]['of_matmul']:.2f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/precision.json"))
    parser.add_argument("--genes", type=int, nargs="+", default=[2000, 12557])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per setting, after two of warm-up")
    parser.add_argument("--batch", type=int, default=None, help="default: the book preset's (256)")
    parser.add_argument("--r2", metavar="PRESET", default=None,
                        help="also train each model as PRESET does (e.g. book), in float32 and bfloat16, and score R²")
    parser.add_argument("--seed", type=int, nargs="+", default=[0], help="mask and model seeds of --r2")
    parser.add_argument("--r2-models", nargs="+", default=["pmi", "gain"], choices=["pmi", "gain", "gain-mse"])
    parser.add_argument("--r2-scenario", default="inductive", choices=["inductive", "inplace"])
    parser.add_argument("--r2-genes", default="all", choices=["all", "panel"])
    args = parser.parse_args(argv)
    check_out(args.out)
    if min(args.genes) < 2 or args.steps < 1 or (args.batch is not None and args.batch < 1):
        raise SystemExit("error: --genes must be at least 2, --steps and --batch at least 1")
    started = time.perf_counter()
    use_threads()  # every core, before any TensorFlow work
    matmul = matmul_throughput()
    print(f"float32 matmul 2048²: {matmul / 1e9:.1f} GFLOP/s   TF_ENABLE_ONEDNN_OPTS="
          f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset (on)')}\n{HEADER}", flush=True)
    rng = np.random.default_rng(0)
    rows = [r for genes in args.genes for kind in ("pmi", "gain")
            for r in measure(kind, genes, args.batch, args.steps, rng=rng, matmul=matmul)]
    command = "python -m benchmarks.precision --genes " + " ".join(map(str, args.genes)) + f" --steps {args.steps}"
    command += "" if args.batch is None else f" --batch {args.batch}"
    if args.r2 is not None:
        command += (f" --r2 {args.r2} --seed {' '.join(map(str, args.seed))} --r2-models {' '.join(args.r2_models)}"
                    f" --r2-scenario {args.r2_scenario} --r2-genes {args.r2_genes}")
    fields = {"command": command, "steps": args.steps, "warmup": WARMUP, "matmul_gflops": matmul / 1e9,
              "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS"), "tensorflow": tf.__version__,
              "keras": keras.__version__, "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU"}
    if args.r2 is not None:
        fields["r2"] = fitted_r2(args.r2_models, args.r2, args.seed, args.r2_scenario, args.r2_genes)
    return finish(fields, rows, started, summary(rows), args.out)


if __name__ == "__main__":
    raise SystemExit(main())
