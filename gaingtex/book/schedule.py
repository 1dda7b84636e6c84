"""The book's steps on the machine's cores: steps that may share the machine (the trainings, and the short
notebooks that only read their models) run side by side, each held to its own share of the cores; every other
step runs alone, on all of them.

Why: a training alone keeps two cores only partly busy, and two side by side finish well before two one after the
other (benchmarks/README.md, "Steps side by side"). Held, so that no step starts more threads than the cores it
has: two trainings left free to spread over every core finished about as soon, but a notebook's BLAS threads wait
for each other by spinning, which costs most when they outnumber the cores. A training's weights do not depend on
how many cores it had (the same section), so a step held to one core gives what it gives alone.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Callable, Sequence

# The variables that size the thread pools of the libraries a step loads (OpenMP, OpenBLAS, MKL, TensorFlow), set
# in a held step's process before any of them starts, beside the processor affinity they also read.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS")


def cores() -> list[int]:
    """The processors this process may run on."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def default_jobs() -> int:
    """Steps side by side by default: two where there are two cores or more (each then has half), else one."""
    return min(2, len(cores()))


def core_shares(jobs: int) -> list[tuple[int, ...]]:
    """The processors split into ``jobs`` shares of (nearly) equal size, at most one share per processor."""
    mine = cores()
    jobs = max(1, min(int(jobs), len(mine)))
    return [tuple(mine[i::jobs]) for i in range(jobs)]


def hold(share: Sequence[int]) -> None:
    """Hold this process, and every process it starts (a notebook's kernel), to the processors of ``share``."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(share))
    for name in THREAD_VARIABLES:
        os.environ[name] = str(len(share))


def _held(share, task, args):
    hold(share)
    t0 = time.perf_counter()
    task(*args)
    return time.perf_counter() - t0


def run_steps(steps: Sequence, task: Callable, args: Callable, jobs: int, started: Callable,
              finished: Callable) -> None:
    """Run every step of ``steps`` (in their order, each once the steps it comes ``after`` have finished, of those
    among ``steps``): with ``jobs`` > 1, the steps that ``share`` several at a time, each in its own process held
    to a share of the cores; every other step alone, in this process.

    ``task(*args(step))`` runs a step and must be a module-level function (it is sent to another process);
    ``args(step)`` is asked when the step starts, after the ones before it finished. ``started(step)`` and
    ``finished(step, seconds)`` report each step. When a step fails, the steps running beside it finish, no new
    one starts, and its error is raised."""

    def alone(step) -> None:
        started(step)
        t0 = time.perf_counter()
        task(*args(step))
        finished(step, time.perf_counter() - t0)

    shares = core_shares(jobs)
    if len(shares) < 2:
        for step in steps:
            alone(step)
        return
    pending = list(steps)
    known = {s.output for s in steps}
    done: set[str] = set()
    running: dict[Future, tuple] = {}
    free = list(shares)
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing of this process's state
    with ProcessPoolExecutor(len(shares), mp_context=context, max_tasks_per_child=1) as pool:
        try:
            while pending or running:
                ready = [s for s in pending if all(a in done or a not in known for a in s.after)]
                for step in [s for s in ready if s.shares][:len(free)]:
                    share = free.pop(0)
                    started(step)
                    running[pool.submit(_held, share, task, args(step))] = (step, share)
                    pending.remove(step)
                if not running and ready:  # a step that runs alone, once nothing runs beside it
                    alone(ready[0])
                    done.add(ready[0].output)
                    pending.remove(ready[0])
                    continue
                if not running:
                    raise RuntimeError(f"steps wait on each other: {', '.join(s.output for s in pending)}")
                for future in wait(running, return_when=FIRST_COMPLETED).done:
                    step, share = running.pop(future)
                    free.append(share)
                    finished(step, future.result())
                    done.add(step.output)
        except BaseException:
            for future in running:
                future.cancel()
            raise
