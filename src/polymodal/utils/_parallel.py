"""Tasks of parallel runs: their warnings, and joblib calls nested in them."""

import pickle
import sys
import warnings
from contextlib import nullcontext

import numpy as np
from joblib import parallel_config
from joblib.parallel import get_active_backend
from sklearn.utils.parallel import Parallel, delayed

__all__ = [
    "AlignedOnArrival",
    "WorkerTask",
    "parallel_tasks",
    "reissue_warnings",
    "task",
    "worker_calls",
]


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
    while the other workers wait. There every argument travels in an
    :class:`AlignedOnArrival`, so that the tasks compute what they compute in
    one process.
    """
    backend, _ = get_active_backend()
    # On dask, one wrapper per shared argument: joblib's scatter finds a
    # scattered argument in the tasks by identity.
    wrappers = (
        {
            id(argument): AlignedOnArrival.of(argument)
            for argument in shared
            if argument is not None
        }
        if _is_dask(backend)
        else {}
    )
    context = nullcontext()
    if wrappers:
        context = parallel_config(
            backend="dask",
            scatter=list(wrappers.values()),
            client=backend.client,
            wait_for_workers_timeout=backend.wait_for_workers_timeout,
            **backend.submit_kwargs,
        )
    with context:
        results = Parallel(n_jobs=n_jobs)(worker_calls(tasks, wrappers))
    reissue_warnings((caught for _, caught in results), stacklevel=stacklevel + 1)
    return [AlignedOnArrival.unwrap(result) for result, _ in results]


def worker_calls(tasks, wrappers=None):
    """``tasks`` (from :func:`task`) as joblib calls of :class:`WorkerTask`.

    Under the dask backend every argument travels in an
    :class:`AlignedOnArrival` (``wrappers`` maps the ``id`` of an argument to
    the wrapper it must travel in); elsewhere the arguments go as they are.
    What the calls return is ``(result, warnings)`` per task; pass the result
    through :meth:`AlignedOnArrival.unwrap`.
    """
    backend, _ = get_active_backend()
    if _is_dask(backend):
        wrappers = wrappers or {}
        tasks = [
            (
                func,
                tuple(_wrapped(argument, wrappers) for argument in args),
                {key: _wrapped(value, wrappers) for key, value in kwargs.items()},
            )
            for func, args, kwargs in tasks
        ]
    return [delayed(WorkerTask(func))(*args, **kwargs) for func, args, kwargs in tasks]


def _wrapped(argument, wrappers):
    return wrappers.get(id(argument)) or AlignedOnArrival.of(argument)


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
        args = [AlignedOnArrival.unwrap(argument) for argument in args]
        kwargs = {key: AlignedOnArrival.unwrap(value) for key, value in kwargs.items()}
        backend, _ = get_active_backend()
        nested = (
            parallel_config(backend="threading") if _is_dask(backend) else nullcontext()
        )
        with warnings.catch_warnings(record=True) as caught, nested:
            warnings.simplefilter("always")
            result = self.func(*args, **kwargs)
        if _is_dask(backend):
            # The way back lands at any byte offset too. A WorkerTask called
            # inside another runs under the threading backend set above, so
            # only the outermost result is wrapped.
            result = AlignedOnArrival(result)
        return result, [record.message for record in caught]


class AlignedOnArrival:
    """An argument sent to dask workers with its arrays' memory realigned there.

    A dask cluster sends an argument's array buffers as frames of a message,
    which land in the worker at any byte offset (joblib's dask backend scatters
    every argument that is not a plain value): an array of float64 can start
    at an address that is not a multiple of 8. NumPy sums and multiplies such
    an array through other loops than an aligned one, whose rounding differs
    in the last bits, so a task on a worker could compute other results than
    the same task in one process. Wrapped in this class, the argument is
    pickled with its buffers apart, and on arrival each buffer is copied to a
    64-byte boundary before the argument is rebuilt around it; the same holds
    for what a :class:`WorkerTask` returns. 64, not 8: OpenBLAS's AVX-512
    ``dasum``, which LAPACK calls, also rounds by the address modulo 64.
    """

    def __init__(self, value):
        self.value = value

    @classmethod
    def of(cls, value):
        """``value`` wrapped, unless it is a plain value that carries no array."""
        if value is None or isinstance(value, str | bytes | int | float | bool | cls):
            return value
        return cls(value)

    def __sizeof__(self):
        # What dask weighs to schedule and to spill: the value's bytes.
        return object.__sizeof__(self) + sys.getsizeof(self.value)

    @staticmethod
    def unwrap(value):
        return value.value if isinstance(value, AlignedOnArrival) else value

    def __reduce__(self):
        buffers = []
        payload = pickle.dumps(self.value, protocol=5, buffer_callback=buffers.append)
        # As byte arrays: travelling apart where the transport pickles with
        # protocol 5, in line where it does not.
        raw = [np.frombuffer(buffer.raw(), dtype=np.uint8) for buffer in buffers]
        return _rebuild_aligned, (payload, raw)


def _rebuild_aligned(payload, buffers):
    """An :class:`AlignedOnArrival` rebuilt, its buffers copied to 64-byte starts.

    Still wrapped: a worker may pass what it holds on to another worker, or to
    the client, and it must be realigned there too. :class:`WorkerTask`
    unwraps its arguments, and the callers the results.
    """
    aligned = []
    for buffer in buffers:
        source = np.frombuffer(buffer, dtype=np.uint8)
        spare = np.empty(source.size + 64, dtype=np.uint8)
        start = -spare.ctypes.data % 64
        copy = spare[start : start + source.size]
        copy[...] = source
        aligned.append(copy)
    return AlignedOnArrival(pickle.loads(payload, buffers=aligned))


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
