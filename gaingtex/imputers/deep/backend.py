"""Everything a training run needs that differs between Keras backends, and nothing else.

TensorFlow (the default) and JAX are supported (:mod:`._keras` chooses). Each has one small adapter module,
imported here only when it is the running backend: :mod:`._backend_tf` (``tf.distribute``, ``tf.data``,
``GradientTape``) and :mod:`._backend_jax` (one device or ``keras.distribution``, NumPy batches,
``jax.value_and_grad`` under a ``StatelessScope``). The models, losses and training run are written once, against
this module.
"""

from __future__ import annotations

import numpy as np

from ._keras import keras

_NAME = keras.backend.backend()
if _NAME == "tensorflow":
    from . import _backend_tf as _impl
else:
    from . import _backend_jax as _impl

# The mixin giving a model ``train_step``/``test_step`` for this backend around its backend-neutral ``_train`` and
# ``_test``, and ``_descend`` (one gradient step of an optimiser on a loss); see :mod:`.models`.
Steps = _impl.Steps


def backend_name() -> str:
    """The running Keras backend: ``"tensorflow"`` or ``"jax"``."""
    return _NAME


def default_strategy():
    """What models are built and trained under: an object with ``num_replicas_in_sync`` and ``scope()``.

    TensorFlow: a ``MirroredStrategy`` over every visible GPU when there are two or more, else TensorFlow's
    default strategy (one device). JAX: one replica; data parallelism there is ``keras.distribution``'s, which
    splits the global batch itself, so the training code needs no replica arithmetic."""
    return _impl.default_strategy()


def accelerator() -> str:
    """``'GPU'`` when the backend sees one, else ``'CPU'``."""
    return _impl.accelerator()


def use_threads(n: int | None = None) -> None:
    """Use ``n`` CPU threads (default: every core this process may run on) where the backend allows setting it after start-up
    (TensorFlow, before any TensorFlow work); JAX fixes its thread pools when it starts, so there it does nothing."""
    _impl.use_threads(n)


def default_jit() -> bool:
    """Whether to XLA-compile the training step by default. TensorFlow: only on a GPU (on a small CPU its
    compiled step was slower than graph mode). JAX: always, since without ``jit`` it dispatches op by op."""
    return _impl.default_jit()


class BatchSource:
    """Training batches drawn from ``arrays`` (equal-length NumPy arrays by name) in an order seeded by ``seed``.

    The rows are shuffled afresh on every pass and the passes run on without end, so a batch may straddle two
    passes; :meth:`stream` is a fresh stream, the same for the same ``seed`` every time it is called.
    """

    def __init__(self, arrays: dict[str, np.ndarray], seed: int):
        lengths = {len(v) for v in arrays.values()}
        if len(lengths) != 1:
            raise ValueError(f"BatchSource needs arrays of one length, got lengths {sorted(lengths)}")
        self.n = lengths.pop()
        self.seed = int(seed)
        self._source = _impl.BatchSource(arrays, self.seed)

    def stream(self, batch_size: int, skip: int = 0):
        """An endless stream of batches of ``min(batch_size, n)`` rows (dicts of the arrays' names), starting
        ``skip`` batches in: what ``keras.Model.fit(x=..., steps_per_epoch=...)`` takes."""
        if batch_size < 1 or skip < 0:
            raise ValueError(f"batch_size must be >= 1 and skip >= 0, got {batch_size} and {skip}")
        return self._source.stream(int(batch_size), int(skip))


def validation_batches(arrays: dict[str, np.ndarray], batch_size: int):
    """``arrays`` in order, in batches of ``batch_size`` rows (the last one shorter): what
    ``keras.Model.fit(validation_data=...)`` and ``evaluate`` take, read afresh on every epoch."""
    return _impl.validation_batches(arrays, int(batch_size))

