"""Tasks run through parallel_tasks compute what they compute in one process."""

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config

from polymodal.utils._parallel import parallel_tasks, task


def _sums(frame, values, matrix, scale=1.0):
    """Results whose last bits depend on the arrays' memory alignment."""
    return (
        float(np.sum(values)) * scale,
        (matrix.T @ matrix).tobytes(),
        frame.to_numpy().T @ frame.to_numpy(),
        [array.ctypes.data % 64 for array in (values, matrix)],
        values[1:] * scale,
    )


@pytest.fixture(scope="module", params=[True, False], ids=["processes", "threads"])
def dask_client(request):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=request.param,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_dask_workers_get_aligned_arrays_and_compute_the_serial_results(dask_client):
    # A dask cluster sends scattered arrays as frames that land at any byte
    # offset; numpy sums and multiplies an array that is not 8-byte aligned
    # through other loops, with other rounding, and a fit that stops at a
    # tolerance turns that last bit into a different score.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(3000, 4)), columns=list("abcd"))
    values = rng.normal(size=20_001)
    matrix = rng.normal(size=(500, 7))
    tasks = [task(_sums, frame, values, matrix, scale=s) for s in (1.0, 2.0)]
    serial = parallel_tasks(1, tasks, stacklevel=1, shared=[frame, values])
    with parallel_config(backend="dask"):
        on_cluster = parallel_tasks(-1, tasks, stacklevel=1, shared=[frame, values])
    for one, other in zip(serial, on_cluster, strict=True):
        assert one[0] == other[0]
        assert one[1] == other[1]
        np.testing.assert_array_equal(one[2], other[2])
        if dask_client.cluster.processes:
            assert other[3] == [0, 0]
        # What comes back is aligned too, and is the value, not a wrapper.
        assert isinstance(other[4], np.ndarray)
        assert other[4].ctypes.data % 8 == 0
        np.testing.assert_array_equal(one[4], other[4])
