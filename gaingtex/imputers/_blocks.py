"""``transform`` over blocks of rows: :func:`~.base.check_inputs` and :func:`~.base.keep_observed` make several
temporaries of their input's size, 0.76 GB each at 15,201 × 12,557; a method whose samples are imputed
independently of each other can check and blend a block at a time, with the same values."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
from threadpoolctl import ThreadpoolController

from .base import check_inputs, keep_observed


_CONTROLLER: ThreadpoolController | None = None


def one_blas_thread():
    """A context in which BLAS runs on one thread, as ``threadpoolctl.threadpool_limits(1, user_api="blas")``, through
    one controller made at the first call: ``threadpool_limits`` searches the process for its libraries anew at
    every call, and a book build makes thousands (one per tissue of each Gaussian's call, per block, per draw). The
    BLAS libraries are numpy's and SciPy's, loaded before this module."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def in_row_blocks(x, mask, obs, n_genes: int | None, step: int,
                  predict: Callable[[np.ndarray, np.ndarray, object, int], np.ndarray], threads: int = 1,
                  check: Callable[[int], None] | None = None) -> np.ndarray:
    """``keep_observed(x0, m, predict(x0, m, obs_block, start))`` for each block of ``step`` rows starting at
    ``start``, where ``x0, m = check_inputs(...)`` of the block; every check of :func:`check_inputs` applies, with
    its message about the whole matrix (its sample numbers).

    ``threads`` blocks at a time are predicted by as many threads, each with BLAS on one thread (for a
    ``predict`` that lets go of Python's lock for much of its work; the values are the same); ``check(start)``
    is called before each group, in this thread (a :class:`~.base.Clock`'s, whose checks must come in order)."""
    x = np.asarray(x)
    if x.ndim != 2 or len(x) == 0 or len(obs) != len(x) or (mask is not None and np.shape(mask) != x.shape):
        x0, m = check_inputs(x, mask, obs, n_genes)  # raises, or an empty request: nothing to predict
        return keep_observed(x0, m, x0)
    out = np.empty(x.shape, dtype=np.float32)
    step = max(1, int(step))

    def one(start: int) -> None:
        r = slice(start, start + step)
        try:
            x0, m = check_inputs(x[r], None if mask is None else mask[r], obs.iloc[r], n_genes)
        except ValueError:
            check_inputs(x, mask, obs, n_genes)  # the whole matrix's message
            raise
        out[r] = keep_observed(x0, m, predict(x0, m, obs.iloc[r], start))

    starts = list(range(0, len(x), step))
    threads = max(1, min(int(threads), len(starts)))
    if threads == 1:
        for start in starts:
            if check is not None:
                check(start)
            one(start)
        return out
    with one_blas_thread(), ThreadPoolExecutor(threads) as pool:
        for g in range(0, len(starts), threads):
            if check is not None:
                check(starts[g])
            list(pool.map(one, starts[g: g + threads]))
    return out


def shared_rows(n: int, walk: Callable[[np.ndarray], None], clock=None, per_thread: int = 64,
                progress: Callable[[int], None] | None = None) -> None:
    """``walk(rows)`` over all ``n`` rows, in blocks of ``per_thread`` rows per core, each block shared among one
    thread per core, each with BLAS on one thread; ``clock`` (:class:`~.base.Clock`) is checked between blocks, in
    this thread, and ``progress(rows done)`` called after each. For work that lets go of Python's lock (LAPACK through
    :mod:`._lapack`, scikit-learn's coordinate descent); ``walk`` must write only to its own rows, so the values
    are those of one thread."""
    cores = max(1, min(len(os.sched_getaffinity(0)), n))
    block = per_thread * cores
    with one_blas_thread(), ThreadPoolExecutor(cores) as pool:
        for start in range(0, n, block):
            if clock is not None:
                clock.check(start, n, "samples", uniform=True)
            stop = min(start + block, n)
            list(pool.map(walk, np.array_split(np.arange(start, stop), cores)))
            if progress is not None:
                progress(stop - start)
