"""What this machine's Keras backend can compute: the yardstick a training run's FLOP rate is set against."""

from __future__ import annotations

import time

from ._keras import keras


def matmul_throughput(n: int = 2048, repeats: int = 10) -> float:
    """Dense float32 matrix-multiply throughput through the Keras backend, in FLOP/s (best of 3)."""
    ops = keras.ops
    a = keras.random.normal((n, n), seed=1)
    b = keras.random.normal((n, n), seed=2)
    ops.convert_to_numpy(ops.matmul(a, b))  # warm-up (and compilation, where the backend compiles)
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeats):
            c = ops.matmul(a, b)
        ops.convert_to_numpy(c)  # waits for the backends that dispatch asynchronously (JAX, a GPU)
        best = max(best, 2 * n ** 3 * repeats / (time.perf_counter() - t0))
    return best
