"""Tasks of parallel runs: their warnings, and joblib calls nested in them."""

import warnings
from contextlib import nullcontext

from joblib import parallel_config
from joblib.parallel import get_active_backend
from sklearn.utils.parallel import Parallel, delayed

__all__ = ["WorkerTask", "parallel_tasks", "reissue_warnings", "task"]


def task(func, *args, **kwargs):
    """One task of :func:`parallel_tasks`: ``func(*args, **kwargs)``."""
    return func, args, kwargs


def parallel_tasks(n_jobs, tasks, *, stacklevel, shared=()):
    """The results of ``tasks`` (from :func:`task`), each run as a :class:`WorkerTask`.

    The tasks' warnings are issued in this process afterwards, in task order
    and once per category and message (:func:`reissue_warnings`), pointing
    ``stacklevel`` frames up from the caller of this function (1: that
    caller's line).

    ``shared`` lists arguments that every task takes (the table, the target,
    precomputed blocks). On a dask cluster they are sent to every worker once,
    before the tasks: joblib's dask backend would otherwise place each on one
    worker, and the scheduler, to avoid moving it, would run most tasks there
    while the other workers wait.
    """
    shared = [argument for argument in shared if argument is not None]
    backend, _ = get_active_backend()
    if shared and _is_dask(backend):
        context = parallel_config(
            backend="dask",
            scatter=shared,
            client=backend.client,
            wait_for_workers_timeout=backend.wait_for_workers_timeout,
            **backend.submit_kwargs,
        )
    else:
        context = nullcontext()
    with context:
        results = Parallel(n_jobs=n_jobs)(
            delayed(WorkerTask(func))(*args, **kwargs) for func, args, kwargs in tasks
        )
    reissue_warnings((caught for _, caught in results), stacklevel=stacklevel + 1)
    return [result for result, _ in results]


class WorkerTask:
    """``func`` as a task of a parallel run, returning its result and its warnings.

    Two things differ in a worker from the calling process, and this wrapper
    makes them not matter:

    - **Warnings.** A warning raised in a worker process (``n_jobs > 1``, a
      dask cluster) would be printed there, in Python's default format, and
      never reach the calling process's filters, ``pytest.warns`` or the
      command line's one-line format. The task records its warnings instead,
      and :func:`reissue_warnings` issues them in the calling process, so that
      they are the same whatever ``n_jobs`` and the backend. Every occurrence
      is recorded (the filter is "always" here, so that a worker that already
      showed a warning in an earlier task records it again); the calling
      process's filters decide what is shown.
    - **Nested joblib calls.** joblib's dask backend runs each task under
      ``parallel_config(backend="dask")``, and that backend takes every core
      of the cluster whatever ``n_jobs`` says: a random forest's trees, or the
      union's modalities, inside a fold would each be sent back to the cluster
      as tasks, which made a 2-worker cluster slower than one process. Under
      the dask backend the task runs its nested calls on threads of its own
      worker, with the ``n_jobs`` they ask for, as joblib's process backends
      (loky) do for a first level of nesting.
    """

    def __init__(self, func):
        self.func = func

    def __call__(self, *args, **kwargs):
        backend, _ = get_active_backend()
        nested = (
            parallel_config(backend="threading") if _is_dask(backend) else nullcontext()
        )
        with warnings.catch_warnings(record=True) as caught, nested:
            warnings.simplefilter("always")
            result = self.func(*args, **kwargs)
        return result, [record.message for record in caught]


def _is_dask(backend):
    # Named, not imported: joblib's dask backend lives in a private module.
    return type(backend).__name__ == "DaskDistributedBackend"


def reissue_warnings(per_task, stacklevel):
    """Warn, in this process, what the tasks recorded: in task order, once each.

    ``per_task`` holds the warnings of each task (the second item of what a
    :class:`WorkerTask` returns). Each (category, message) is issued once,
    where the first task raised it; ``stacklevel`` counts from the caller of
    this function.
    """
    seen = set()
    for caught in per_task:
        for warning in caught:
            key = (type(warning), str(warning))
            if key in seen:
                continue
            seen.add(key)
            warnings.warn(warning, stacklevel=stacklevel + 1)
