"""The JAX adapter of :mod:`.backend`: NumPy batches, one replica (data parallelism is ``keras.distribution``'s),
and a training step that is a pure function of the model's state. Imported only when Keras runs on JAX.

Keras' JAX trainer jit-compiles ``train_step(state, data)``: ``state`` holds the values of the trainable,
non-trainable (batch-norm statistics, random-generator states), optimiser and metric variables, and the step must
return their new values instead of assigning them. The models' steps are written statefully, once for every
backend; here they run inside a ``keras.StatelessScope`` holding the state, which records every assignment
(weights, optimiser moments, seed states, metrics) so that the new state can be read back out of it. Gradients come
from ``jax.value_and_grad`` over a loss recomputed in an inner scope where the weights being trained are the
function's arguments.
"""

from __future__ import annotations

import contextlib

import jax
import numpy as np

from ._keras import keras


class _OneReplica:
    """What stands for a ``tf.distribute`` strategy here: one replica, and nothing to enter."""

    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()


def default_strategy():
    return _OneReplica()


def accelerator() -> str:
    return "GPU" if any(d.platform in ("gpu", "cuda", "rocm") for d in jax.devices()) else "CPU"


def use_threads(n: int | None = None) -> None:
    return None  # XLA sizes its CPU thread pool when JAX starts; nothing can change it afterwards


def default_jit() -> bool:
    return True


class BatchSource:
    """The rows in a fresh NumPy permutation (from ``seed``) on every pass, passes joined without end."""

    def __init__(self, arrays: dict[str, np.ndarray], seed: int):
        self.arrays = {k: np.asarray(v) for k, v in arrays.items()}
        self.n = len(next(iter(self.arrays.values())))
        self.seed = seed

    def stream(self, batch_size: int, skip: int):
        return _batches(self.arrays, self.n, min(batch_size, self.n), self.seed, skip)


def _batches(arrays, n, size, seed, skip):
    rng = np.random.default_rng(seed)
    passes, start = divmod(skip * size, n)
    for _ in range(passes):  # the passes skipped whole still draw their permutation: the same order follows
        rng.permutation(n)
    order = rng.permutation(n)[start:]
    while True:
        while len(order) < size:
            order = np.concatenate([order, rng.permutation(n)])
        take, order = order[:size], order[size:]
        yield ({k: v[take] for k, v in arrays.items()},)  # Keras takes a generator's batches as (inputs,)


class _Batches(keras.utils.PyDataset):
    """Fixed batches, in order, that ``fit`` reads afresh on every epoch."""

    def __init__(self, arrays: dict[str, np.ndarray], batch_size: int):
        super().__init__()
        self.arrays = {k: np.asarray(v) for k, v in arrays.items()}
        self.n = len(next(iter(self.arrays.values())))
        self.batch_size = batch_size

    def __len__(self):
        return -(-self.n // self.batch_size)

    def __getitem__(self, i):
        part = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return ({k: v[part] for k, v in self.arrays.items()},)


def validation_batches(arrays: dict[str, np.ndarray], batch_size: int):
    return _Batches(arrays, batch_size)


def _inputs(data):
    """A batch as the models read it: the dict of inputs (Keras hands a step ``(inputs,)`` here)."""
    return data[0] if isinstance(data, (tuple, list)) else data


def _stateless(groups, state, step):
    """Run ``step()`` with each variable of ``groups`` holding its value in ``state``; returns its result and the
    variables' values afterwards, grouped as ``state`` is."""
    mapping = [(v, value) for variables, values in zip(groups, state) for v, value in zip(variables, values)]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = step()
    return logs, tuple([scope.get_current_value(v) for v in variables] for variables in groups)


class _Optimisers:
    """Several optimisers seen as one by Keras' JAX trainer, which threads ``model.optimizer.variables`` (and no
    others) through its compiled step: GAIN-GTEx's generator and discriminator optimisers. Each still updates only
    its own weights."""

    def __init__(self, parts):
        self.parts = parts  # [(optimizer, the weights it updates)]

    @property
    def built(self):
        return all(optimizer.built for optimizer, _ in self.parts)

    def build(self, variables):
        for optimizer, weights in self.parts:
            optimizer.build(list(weights))

    @property
    def variables(self):
        return [v for optimizer, _ in self.parts for v in optimizer.variables]


class Steps:
    """``train_step(state, data)`` and ``test_step(state, data)`` for Keras' JAX trainer, around the models'
    stateful ``_train`` and ``_test``."""

    def train_step(self, state, data):
        groups = (self.trainable_variables, self.non_trainable_variables, self.optimizer.variables,
                  self.metrics_variables)
        return _stateless(groups, state, lambda: self._train(_inputs(data)))

    def test_step(self, state, data):
        groups = (self.trainable_variables, self.non_trainable_variables, self.metrics_variables)
        return _stateless(groups, state, lambda: self._test(_inputs(data)))

    def _descend(self, optimizer, weights, objective):
        """One step of ``optimizer`` on ``weights`` down ``objective()`` (``(loss, extras)``): returns both.

        Runs inside :meth:`train_step`'s scope. The objective is recomputed in an inner scope where ``weights`` are
        the differentiated arguments and every other model variable holds its current value; what the objective
        assigned there (batch-norm statistics, dropout's seed states) is carried back to the outer scope."""
        targets = {id(w) for w in weights}
        others = [v for v in self.trainable_variables + self.non_trainable_variables if id(v) not in targets]
        current = [v.value for v in others]  # in train_step's scope: the values the step has reached

        def loss_of(values):
            with keras.StatelessScope(state_mapping=list(zip(weights, values)) + list(zip(others, current))) as scope:
                loss, extras = objective()
            return loss, (extras, [scope.get_current_value(v) for v in others])

        (loss, (extras, updated)), grads = jax.value_and_grad(loss_of, has_aux=True)([w.value for w in weights])
        for v, value in zip(others, updated):
            v.assign(value)
        optimizer.apply_gradients(zip(grads, weights))
        return loss, extras

    def _hold_optimizers(self, parts):
        """Build each optimiser of ``parts`` (``[(optimizer, weights)]``, the compiled one first) on the weights it
        updates, and make ``model.optimizer`` (what the trainer threads through its step) cover them all.

        Built now, each has the variables its first step builds on TensorFlow, in the same order (so a checkpoint
        has one layout); left unbuilt, the trainer would build the compiled one on every trainable variable."""
        for optimizer, weights in parts:
            optimizer.build(list(weights))
        if len(parts) > 1:
            self.optimizer = _Optimisers(parts)
