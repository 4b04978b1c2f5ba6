"""Mini-batches fetched whole: the data loading of the deep estimators' training.

skorch's default ``DataLoader`` asks its ``Dataset`` for one row at a time and
stacks the rows into tensors: about 5% of an epoch of the built-in cohort's
fusion network goes to that (``benchmarks/deep.py``). Here the sampler hands out whole mini-batches of row indices and
the dataset indexes every array once per batch, as a hand-written torch loop
does. The rows and their order are the ones skorch's default loader gives,
drawn from the same generator, so a seeded model does not change.

This module imports torch and skorch; the estimators import it when they fit.
"""

from collections.abc import Mapping

import numpy as np
import torch
from scipy import sparse
from skorch.dataset import Dataset
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

__all__ = ["BatchDataset", "batch_loader"]


class BatchDataset(Dataset):
    """skorch's ``Dataset``, indexed by a mini-batch of row indices at once.

    ``dataset[rows]`` with a sequence of row indices returns ``(X, y)`` for
    those rows, in that order: NumPy arrays and sparse matrices indexed with
    a NumPy index, tensors with a tensor index, a dict (skorch's
    ``SliceDict``) key by key, and a sparse batch made dense. It holds ``X``
    and ``y`` as skorch's ``Dataset`` does, so skorch's validation split and
    scoring callbacks read them as usual.
    """

    def __getitem__(self, rows):
        rows = np.asarray(rows, dtype=np.intp)
        index = torch.from_numpy(rows)
        return _take(self.X, rows, index), _take(self.y, rows, index)


def _take(data, rows, index):
    if data is None:
        # A placeholder per row, like skorch's for a missing target.
        return torch.zeros(len(rows))
    if isinstance(data, Mapping):
        return {key: _take(value, rows, index) for key, value in data.items()}
    if isinstance(data, torch.Tensor):
        return data.index_select(0, index.to(data.device))
    if sparse.issparse(data):
        return data[rows].toarray()
    return data[rows]


def batch_loader(
    dataset, *, batch_size, shuffle=False, drop_last=False, generator=None, **kwargs
):
    """A ``DataLoader`` whose every item is one whole mini-batch of ``dataset``.

    Takes what skorch passes to its ``iterator_train`` and ``iterator_valid``.
    The row order is that of ``DataLoader(dataset, batch_size, shuffle,
    drop_last, generator)``: the same samplers, drawing from ``generator``
    the same numbers. ``dataset`` is a :class:`BatchDataset`, or a
    ``torch.utils.data.Subset`` of one (skorch's validation split), which
    passes a list of rows on to it. The ``DataLoader`` itself gets
    ``batch_size=None``, so it collates nothing: it only turns NumPy arrays
    into tensors.
    """
    rows = (
        RandomSampler(dataset, generator=generator)
        if shuffle
        else SequentialSampler(dataset)
    )
    return DataLoader(
        dataset,
        batch_size=None,
        sampler=BatchSampler(rows, batch_size, drop_last),
        generator=generator,
        **kwargs,
    )
