"""Which ``tf.distribute`` strategy the deep models train under."""

from __future__ import annotations

from ._keras import tf


def default_strategy():
    """``MirroredStrategy`` over every visible GPU when there are two or more, else TensorFlow's default strategy
    (one device: the GPU when there is one, the CPU otherwise)."""
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([g.name for g in gpus])
    return tf.distribute.get_strategy()


def accelerator() -> str:
    """``'GPU'`` when TensorFlow sees one, else ``'CPU'``."""
    return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"


def use_threads(n: int | None = None) -> None:
    """Use ``n`` CPU threads in TensorFlow (default: all cores). Call before any TensorFlow work."""
    import os

    n = n or os.cpu_count() or 1
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(n, 2))
    except RuntimeError:
        pass  # already initialised
