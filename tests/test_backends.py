"""The deep models on Keras' JAX backend as well as TensorFlow (the default).

The backend is fixed when Keras is imported, so the JAX side always runs in a fresh process: this file run as a
script (``python tests/test_backends.py <job> ...``)."""

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax")

HERE = Path(__file__).resolve()
KINDS = ("pmi", "gain", "gain-mse")


def run_on(backend: str, *args: str, timeout: int = 600) -> str:
    """Run this file as a script under ``backend``; its standard output."""
    env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, str(HERE), *args], capture_output=True, text=True, env=env,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


# ------------------------------------------------------------------------- one training step, two backends
# Each backend draws other random numbers, so the steps are compared with the draws replaced by fixed arrays (the
# same on both) and the same initial weights: what is left is the step's mechanics, which must agree up to
# floating-point rounding — the gradients, both optimisers' updates, the batch-norm statistics and the metrics.

def fixed_draws(keras):
    """Stand-ins for ``keras.random.uniform``/``normal``: arrays fixed by the shape alone."""
    def draw(kind, shape, low, high):
        rng = np.random.default_rng(zlib.crc32(repr((kind, tuple(int(s) for s in shape))).encode()))
        values = rng.uniform(low, high, shape) if kind == "uniform" else rng.standard_normal(shape)
        return keras.ops.convert_to_tensor(values.astype(np.float32))

    def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        return draw("uniform", shape, minval, maxval)

    def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return draw("normal", shape, 0.0, 1.0)

    return uniform, normal


def tiny_data(n=96, genes=24):
    rng = np.random.default_rng(7)
    return {"x": rng.standard_normal((n, genes)).astype(np.float32),
            "mask": (rng.random((n, genes)) < 0.7).astype(np.float32),
            "cat": np.stack([rng.integers(0, 5, n), rng.integers(0, 2, n), rng.integers(0, 3, n)], 1).astype(np.int32),
            "num": rng.standard_normal((n, 1)).astype(np.float32),
            "eval_mask": (rng.random((n, genes)) < 0.5).astype(np.float32),
            "noise": rng.standard_normal((n, genes)).astype(np.float32)}


def train_fixed(kind: str, initial: list | None):
    """A tiny model of ``kind`` trained three epochs on fixed batches with fixed draws (momentum SGD, so that the
    optimisers' own variables matter); its initial and final variables, optimiser variables and history."""
    from gaingtex.imputers.deep._keras import keras
    from gaingtex.imputers.deep.backend import backend_name, validation_batches
    from gaingtex.imputers.deep.checkpoint import optimizer_variables
    from gaingtex.imputers.deep.models import GAIN, PMI

    keras.random.uniform, keras.random.normal = fixed_draws(keras)
    data = tiny_data()
    common = dict(n_genes=24, vocab_sizes=[5, 2, 3], hidden_units=16, dropout=0.0, seed=0)
    model = (PMI(alpha=0.3, beta=0.7, **common) if kind == "pmi" else
             GAIN(adversarial=kind == "gain", draw_masks=kind == "gain", keep_low=0.3, keep_high=0.7, **common))
    sgd = [keras.optimizers.SGD(0.05, momentum=0.9) for _ in range(2)]
    model.compile(*(sgd if kind == "gain" else sgd[:1]), jit_compile=backend_name() == "jax")
    if initial is not None:
        model.set_weights(initial)
    start = [keras.ops.convert_to_numpy(w) for w in model.weights]
    if backend_name() == "tensorflow":  # whole batches, in order, with the static shapes the fixed draws need
        import tensorflow as tf

        train = tf.data.Dataset.from_tensor_slices(data).batch(32, drop_remainder=True)
    else:
        train = validation_batches(data, 32)
    history = model.fit(train, validation_data=validation_batches(data, 32), epochs=3, verbose=0, shuffle=False)
    optimisers = [keras.ops.convert_to_numpy(v).astype(np.float64) for opt, _ in optimizer_variables(model)
                  for v in opt.variables]
    return start, [keras.ops.convert_to_numpy(w) for w in model.weights], optimisers, history.history


def steps_job(kind: str, initial: str, out: str) -> None:
    with np.load(initial) as f:
        weights = [f[k] for k in sorted(f.files, key=int)]
    _, final, optimisers, history = train_fixed(kind, weights)
    np.savez(out, **{f"w{i}": w for i, w in enumerate(final)}, **{f"o{i}": v for i, v in enumerate(optimisers)})
    print(json.dumps(history))


@pytest.mark.parametrize("kind", KINDS)
def test_training_step_is_the_same_on_jax(kind, tmp_path, monkeypatch):
    from gaingtex.imputers.deep.backend import backend_name
    from gaingtex.imputers.deep._keras import keras

    if backend_name() != "tensorflow":
        pytest.skip("the reference side runs on TensorFlow")
    monkeypatch.setattr(keras.random, "uniform", keras.random.uniform)  # train_fixed replaces them: put back
    monkeypatch.setattr(keras.random, "normal", keras.random.normal)
    start, final, optimisers, history = train_fixed(kind, None)
    np.savez(tmp_path / "start.npz", **{str(i): w for i, w in enumerate(start)})
    jax_history = json.loads(run_on("jax", "steps", kind, str(tmp_path / "start.npz"),
                                    str(tmp_path / "jax.npz")).strip().splitlines()[-1])
    with np.load(tmp_path / "jax.npz") as f:
        jax_final = [f[f"w{i}"] for i in range(len(final))]
        jax_optimisers = [f[f"o{i}"] for i in range(len(optimisers))]
    assert len([k for k in np.load(tmp_path / "jax.npz").files if k.startswith("w")]) == len(final)
    assert [o.shape for o in jax_optimisers] == [o.shape for o in optimisers]  # one checkpoint layout for both
    # float32 kernels of two libraries round differently; nine steps keep the difference near 1e-6
    for ours, theirs in zip(final, jax_final):
        np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=1e-5)
    for ours, theirs in zip(optimisers, jax_optimisers):
        np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=1e-5)
    assert set(jax_history) == set(history)
    for key in history:
        np.testing.assert_allclose(jax_history[key], history[key], rtol=1e-4)


if __name__ == "__main__":
    job, *arguments = sys.argv[1:]
    {"steps": steps_job}[job](*arguments)
