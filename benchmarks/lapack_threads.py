"""What threads buy a Gaussian's per-row factorisations: SciPy's LAPACK wrappers, which hold Python's lock, against
the same routines reached without it (``gaingtex.imputers._lapack``), on one and on every core, in one run.

    python -m benchmarks.lapack_threads [--out benchmarks/results/lapack-threads.json] [--rows 400]

Two measures. Per routine: the wall milliseconds per 1,000 × 1,000 factorisation (or triangular inverse) when one
thread, then one thread per core, does them back to back on one BLAS thread each (as ``_blocks.shared_rows``
does), and the same without the lock in single precision (``spotrf``, ``strtri``). End to end: a dense Gaussian's
conditional spread (``dense_spread``) of ``--rows`` rows at 2,000 genes, half missing, in double and in single
precision, against the same loop with SciPy's wrappers (the code before), on the same rows, with the largest
relative difference from it.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy.linalg.lapack import dpotrf, dtrtri
from threadpoolctl import threadpool_limits

from gaingtex.imputers._lapack import potrf, trtri
from gaingtex.imputers._blocks import shared_rows
from gaingtex.imputers.posterior import dense_spread, precision_of

from ._report import check_out, finish


def _spd(n: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.standard_normal((n, 2 * n))
    return a @ a.T / (2 * n) + 0.05 * np.eye(n)


def per_call(work, threads: int, calls: int) -> float:
    """Wall milliseconds per call of ``work`` when ``threads`` threads make ``calls`` calls each."""
    def run(_):
        for _ in range(calls):
            work()

    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        run(None)  # warm
        start = time.perf_counter()
        list(pool.map(run, range(threads)))
    return (time.perf_counter() - start) / (threads * calls) * 1e3


def scipy_spread(cov: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``dense_spread`` as it was: the same rows and arithmetic through SciPy's wrappers."""
    precision = precision_of(cov)
    out = np.zeros(mask.shape)

    def walk(rows):
        for i in rows:
            m = mask[i] == 0
            root = dpotrf(precision[np.ix_(m, m)], lower=1)[0]
            out[i, m] = np.sqrt(np.maximum((dtrtri(root, lower=1)[0] ** 2).sum(0), 0.0))

    shared_rows(len(mask), walk)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/lapack-threads.json"))
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args(argv)
    check_out(args.out)
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    cores = len(os.sched_getaffinity(0))
    block = _spd(1000, rng)
    factor = np.asfortranarray(np.tril(potrf(block, lower=True)[0]))
    block32, factor32 = block.astype(np.float32), factor.astype(np.float32)
    routines = {"potrf": (lambda: dpotrf(block, lower=1), lambda: potrf(block, lower=True),
                          lambda: potrf(block32, lower=True)),
                "trtri": (lambda: dtrtri(factor, lower=1), lambda: trtri(factor, lower=True),
                          lambda: trtri(factor32, lower=True))}
    rows = []
    for name, (theirs, ours, single) in routines.items():
        for route, work in (("scipy wrapper", theirs), ("without the lock", ours), ("single precision", single)):
            one, every = per_call(work, 1, args.calls), per_call(work, cores, args.calls)
            rows.append({"measure": f"{name} 1000 x 1000", "route": route, "ms_one_thread": one,
                         f"ms_{cores}_threads": every, "speedup": one / every})
    cov = _spd(2000, rng)
    mask = (rng.random((args.rows, 2000)) > 0.5).astype(np.float32)
    x = np.zeros(mask.shape)
    t0 = time.perf_counter()
    before = scipy_spread(cov, mask)
    seconds = time.perf_counter() - t0
    measure = f"dense_spread {args.rows} rows x 2000 genes"
    rows.append({"measure": measure, "route": "scipy wrapper", f"seconds_{cores}_threads": seconds})
    for route, single in (("without the lock", False), ("single precision", True)):
        t1 = time.perf_counter()
        after = dense_spread(np.zeros(2000), cov, x, mask, single=single)
        took = time.perf_counter() - t1
        rows.append({"measure": measure, "route": route, f"seconds_{cores}_threads": took,
                     "speedup": seconds / took, "identical": bool(np.array_equal(before, after)),
                     "max_relative_difference": float(np.max(np.abs(after - before) / np.maximum(before, 1e-300)))})
    table = "\n".join(f"{r['measure']:34s} {r['route']:17s} " + "  ".join(
        f"{k} {v:.3g}" for k, v in r.items() if k not in ("measure", "route")) for r in rows)
    return finish({"command": "python -m benchmarks.lapack_threads", "cores": cores}, rows, started, table,
                  args.out)


if __name__ == "__main__":
    raise SystemExit(main())
