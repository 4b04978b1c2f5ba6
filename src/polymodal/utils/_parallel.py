"""Warnings of parallel tasks, issued in the calling process."""

import warnings


class RecordingWarnings:
    """``func``, returning its result and the warnings it raised, not showing them.

    A warning raised in a worker process (``n_jobs > 1``, a dask cluster)
    would be printed there, in Python's default format, and never reach the
    calling process's filters, ``pytest.warns`` or the command line's one-line
    format. A task wrapped in this records its warnings instead, and
    :func:`reissue_warnings` issues them in the calling process, so that they
    are the same whatever ``n_jobs`` and the backend. Every occurrence is
    recorded (the filter is "always" here, so that a worker that already showed
    a warning in an earlier task records it again); the calling process's
    filters decide what is shown.
    """

    def __init__(self, func):
        self.func = func

    def __call__(self, *args, **kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = self.func(*args, **kwargs)
        return result, [record.message for record in caught]


def reissue_warnings(per_task, stacklevel):
    """Warn, in this process, what the tasks recorded: in task order, once each.

    ``per_task`` holds the warnings of each task (the second item of what a
    :class:`RecordingWarnings` task returns). Each (category, message) is
    issued once, where the first task raised it; ``stacklevel`` counts from
    the caller of this function.
    """
    seen = set()
    for caught in per_task:
        for warning in caught:
            key = (type(warning), str(warning))
            if key in seen:
                continue
            seen.add(key)
            warnings.warn(warning, stacklevel=stacklevel + 1)
