"""gaingtex._parallel: tasks in threads, results in order, a task's own call inline."""

import threading

from gaingtex._parallel import run_parallel


def test_results_come_in_the_order_of_the_tasks():
    assert run_parallel([lambda i=i: i * i for i in range(50)]) == [i * i for i in range(50)]
    assert run_parallel([]) == [] and run_parallel([lambda: "one"]) == ["one"]


def test_a_task_that_runs_tasks_runs_them_inline():
    # on a machine with one core the pool is never started, so there is nothing to deadlock
    def outer(i):
        names = run_parallel([lambda: threading.current_thread().name for _ in range(3)])
        return i, len(set(names)) == 1 and names[0] == threading.current_thread().name

    done = run_parallel([lambda i=i: outer(i) for i in range(4)])
    assert done == [(i, True) for i in range(4)]
