"""Tasks on every core this process may use, in threads: for numpy work, which lets go of Python's lock in its
loops, sorts and searches (the loader's normalisation, the calibration measures of a comparison's rows)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

_POOL: ThreadPoolExecutor | None = None
_POOL_NAME = "gaingtex-pool"


def run_parallel(tasks: Sequence[Callable[[], object]]) -> list:
    """Run the tasks on every core this process may use, results in order. Called from one of those tasks, it runs
    inline: a pool thread must not wait on its own pool."""
    global _POOL
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if len(tasks) <= 1 or cores <= 1 or threading.current_thread().name.startswith(_POOL_NAME):
        return [task() for task in tasks]
    if _POOL is None:  # one pool for the process: starting threads for each call costs more than the work
        _POOL = ThreadPoolExecutor(cores, thread_name_prefix=_POOL_NAME)
    return list(_POOL.map(lambda task: task(), tasks))
