"""Time one training step of PMI and GAIN-GTEx with the first layer as the package builds it (a Dense layer on the
data and one on the covariates' embedding, summed) against one Dense layer on their concatenation, the layout
before; both in one run, on the same batch.

    python -m benchmarks.train_step [--out benchmarks/results/train-step.json] [--steps 40]

The two layouts compute the same function (``tests/test_models.py``). On the concatenation, training also forms
the gradient with respect to the data, for the sake of the embedding's few columns. The step is compiled with
``tf.function``, so this times the TensorFlow backend.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from gaingtex.imputers.deep.backend import use_threads
from gaingtex.imputers.deep.models import GAIN, PMI

from ._report import check_out, machine, write

VOCABULARY = [49, 2, 5]  # tissues, sexes, Hardy scale values: the cohort's covariates
CASES = [("pmi", 2000, 1, 1024), ("pmi", 2000, 2, 1024), ("gain", 2000, 4, 320), ("pmi", 59, 1, 1024),
         ("gain", 59, 4, 320)]


def concatenated(n_in: int, n_out: int, layers: int, units: int, dropout: float, name: str) -> keras.Sequential:
    """The network with its first Dense layer on one concatenated input (the layout before)."""
    blocks: list = [keras.Input((n_in,))]
    for i in range(layers):
        blocks += [keras.layers.Dense(units, name=f"{name}_dense_{i}"), keras.layers.BatchNormalization(),
                   keras.layers.ReLU(), keras.layers.Dropout(dropout)]
    return keras.Sequential(blocks + [keras.layers.Dense(n_out, name=f"{name}_out")], name=name)


class ConcatenatedPMI(PMI):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.net = concatenated(2 * self.n_genes + self.embed.output_dim, self.n_genes, self.hidden_layers,
                                self.hidden_units, self.dropout, "imputer")

    def _predict(self, x, mask, data, training):
        h = ops.concatenate([x * mask, mask, self.embed(data["cat"], data["num"])], axis=-1)
        return self.net(h, training=training)


class ConcatenatedGAIN(GAIN):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.net = concatenated(3 * self.n_genes + self.embed.output_dim, self.n_genes, self.hidden_layers,
                                self.hidden_units, self.dropout, "generator")
        self.disc = concatenated(2 * self.n_genes + self.disc_embed.output_dim, self.n_genes, self.hidden_layers,
                                 self.hidden_units, self.dropout, "discriminator")

    def _predict(self, x, mask, data, training, noise=None):
        noise = keras.random.normal(ops.shape(x), seed=self.seed_generator) if noise is None else noise
        h = ops.concatenate([x * mask, mask, noise * (1.0 - mask), self.embed(data["cat"], data["num"])], axis=-1)
        return self.net(h, training=training)

    def _discriminate(self, imputed, hint, data, training):
        h = ops.concatenate([imputed, hint, self.disc_embed(data["cat"], data["num"])], axis=-1)
        return self.disc(h, training=training)


def step_ms(model: keras.Model, batch: dict, steps: int) -> float:
    """Milliseconds per compiled training step on one batch, after two steps of tracing and warm-up."""
    step = tf.function(model.train_step)
    for _ in range(2):
        step(batch)["loss"].numpy()
    t0 = time.perf_counter()
    for _ in range(steps):
        out = step(batch)
    out["loss"].numpy()
    return (time.perf_counter() - t0) / steps * 1000


def build(kind: str, layout: str, genes: int, layers: int, units: int) -> keras.Model:
    keras.utils.set_random_seed(0)
    common = dict(n_genes=genes, vocab_sizes=VOCABULARY, n_numeric=1, hidden_layers=layers, hidden_units=units,
                  dropout=0.2, batchnorm=True, seed=0)
    if kind == "pmi":
        model = (PMI if layout == "split" else ConcatenatedPMI)(**common)
        model.compile(keras.optimizers.Adam(1e-3))
    else:
        model = (GAIN if layout == "split" else ConcatenatedGAIN)(adversarial=True, **common)
        model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    return model


def run(cases: list[tuple[str, int, int, int]], steps: int, batch_size: int) -> list[dict]:
    """One row per case ``(model, genes, layers, units)``: milliseconds per step in each layout, and their ratio."""
    rng = np.random.default_rng(0)
    rows = []
    for kind, genes, layers, units in cases:
        batch = {"x": tf.constant(rng.standard_normal((batch_size, genes)).astype(np.float32)),
                 "mask": tf.constant((rng.random((batch_size, genes)) < 0.5).astype(np.float32)),
                 "cat": tf.constant(np.stack([rng.integers(0, v, batch_size) for v in VOCABULARY], 1)
                                    .astype(np.int32)),
                 "num": tf.constant(rng.standard_normal((batch_size, 1)).astype(np.float32))}
        times = {layout: step_ms(build(kind, layout, genes, layers, units), batch, steps)
                 for layout in ("concatenated", "split")}
        rows.append({"model": kind, "genes": genes, "hidden": f"{layers}x{units}", "batch": batch_size,
                     "concatenated_ms": times["concatenated"], "split_ms": times["split"],
                     "ratio": times["concatenated"] / times["split"]})
        print(f"{kind:5} {genes:5} genes {layers}x{units:<5} concatenated {times['concatenated']:7.1f} ms   "
              f"split {times['split']:7.1f} ms   {rows[-1]['ratio']:.2f}x", flush=True)
    return rows


def case(text: str) -> tuple[str, int, int, int]:
    """``MODEL:GENESxLAYERSxUNITS``, e.g. ``pmi:2000x1x1024``."""
    try:
        kind, sizes = text.split(":")
        genes, layers, units = (int(p) for p in sizes.split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"case {text!r}: expected MODEL:GENESxLAYERSxUNITS, e.g. pmi:2000x1x1024")
    if kind not in ("pmi", "gain") or min(genes, layers, units) < 1:
        raise argparse.ArgumentTypeError(f"case {text!r}: the model is pmi or gain, the sizes positive")
    return kind, genes, layers, units


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/train-step.json"))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--cases", nargs="+", type=case, default=CASES, metavar="MODEL:GENESxLAYERSxUNITS",
                        help="the networks to time (default: the book's sizes on 2,000 genes and on the panel)")
    args = parser.parse_args(argv)
    check_out(args.out)
    use_threads()  # every core, before any TensorFlow work
    rows = run(args.cases, args.steps, args.batch)
    result = {"command": "python -m benchmarks.train_step", "steps": args.steps, "rows": rows,
              "machine": machine(), "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU"}
    write(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
