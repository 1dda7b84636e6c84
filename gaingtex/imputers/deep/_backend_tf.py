"""The TensorFlow adapter of :mod:`.backend`: ``tf.distribute`` strategies, ``tf.data`` pipelines and a training
step differentiated with ``GradientTape``. Imported only when Keras runs on TensorFlow."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

# Grappler's dependency optimiser is off for every graph this process builds. With it on, GAIN-GTEx's training
# differed in the last bits of its losses between runs of the same process on a busy machine, the differing runs
# at random; without it, every run gives the same losses, and PMI's and GAIN-MSE's are those they were
# (benchmarks/README.md, "The same training every run").
tf.config.optimizer.set_experimental_options({"dependency_optimization": False})


def default_strategy():
    """``MirroredStrategy`` over every visible GPU when there are two or more, else TensorFlow's default strategy
    (one device: the GPU when there is one, the CPU otherwise)."""
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([g.name for g in gpus])
    return tf.distribute.get_strategy()


def accelerator() -> str:
    return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"


def use_threads(n: int | None = None) -> None:
    # the processors this process may use, not the machine's: a book step held to one core must not start two
    n = n or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()) or 1
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(n, 2))
    except RuntimeError:
        pass  # already initialised


def default_jit() -> bool:
    return accelerator() == "GPU"


def replica_scaled(loss):
    """The loss one replica differentiates: divided by the replicas in sync, so that the gradients summed across
    them (what a ``tf.distribute`` optimiser does) are the global batch's mean."""
    return loss / tf.distribute.get_strategy().num_replicas_in_sync


class BatchSource:
    """The rows' order comes from ``tf.data``'s seeded shuffle over the whole set, reshuffled on every pass: the
    order every committed result was trained on, so it must not change."""

    def __init__(self, arrays: dict[str, np.ndarray], seed: int):
        self.n = len(next(iter(arrays.values())))
        self.seed = seed
        self.tensors = {k: tf.constant(v) for k, v in arrays.items()}  # once: every stream gathers from them

    def stream(self, batch_size: int, skip: int):
        tensors, n = self.tensors, self.n
        index = tf.data.Dataset.range(n).shuffle(n, seed=self.seed, reshuffle_each_iteration=True).repeat()
        return (index.batch(min(batch_size, n), drop_remainder=True)
                .map(lambda i: {k: tf.gather(v, i) for k, v in tensors.items()}).prefetch(2).skip(skip))


def validation_batches(arrays: dict[str, np.ndarray], batch_size: int):
    return tf.data.Dataset.from_tensor_slices(arrays).batch(batch_size)


class Steps:
    """Keras' TensorFlow trainer calls ``train_step(data)`` and ``test_step(data)`` (traced by ``tf.function``)
    and lets them update variables in place."""

    def train_step(self, data):
        return self._train(data)

    def test_step(self, data):
        return self._test(data)

    def _descend(self, optimizer, weights, objective):
        """One step of ``optimizer`` on ``weights`` down ``objective()`` (``(loss, extras)``): returns both."""
        with tf.GradientTape() as tape:
            loss, extras = objective()
            scaled = replica_scaled(loss)
        grads = tape.gradient(scaled, weights)
        update = self.fused_updates.get(id(optimizer)) if hasattr(self, "fused_updates") else None
        if update is None:
            optimizer.apply_gradients(zip(grads, weights))
        else:
            update(grads)
        return loss, extras

    def _hold_optimizers(self, parts):
        """``model.optimizer`` stays the compiled one (the first of ``parts``); the others keep their variables
        themselves and update them in place.

        On a CPU and one replica, when the step itself is not XLA-compiled, each optimiser's update is, alone: XLA
        fuses Adam's elementwise passes over every weight, which made every step measured faster
        (benchmarks/README.md, "Precision and XLA"). The whole step compiled is slower there: XLA draws the models'
        random masks with another algorithm, far slower on this CPU. The optimisers are built first, on the weights
        each updates, so that no variable is created inside the compiled update.
        ``fused_updates`` maps each optimiser to its compiled update (empty: the graph's own; the benchmark empties
        it to time that)."""
        self.fused_updates = {}
        # under several replicas the update aggregates their gradients, which a nested compiled function cannot
        if self.jit_compile or accelerator() != "CPU" or tf.distribute.get_strategy().num_replicas_in_sync > 1:
            return
        for optimizer, weights in parts:
            weights = list(weights)
            optimizer.build(weights)
            self.fused_updates[id(optimizer)] = _compiled_update(optimizer, weights)


def _compiled_update(optimizer, weights: list):
    """``optimizer``'s update of ``weights`` from their gradients, XLA-compiled. The two are closed over: as
    arguments, ``tf.function`` would trace the variables' values into its signature."""
    return tf.function(lambda grads: optimizer.apply_gradients(zip(grads, weights)), jit_compile=True)
