"""Torch helpers shared by the image embedder, the sentence embedder and the deep heads."""

from contextlib import contextmanager

import numpy as np
from sklearn.utils import check_random_state

from ._optional import import_optional

__all__ = ["import_torch", "resolve_device", "torch_seed", "torch_seeded"]


def import_torch(needed_for):
    """Import torch, or raise an ImportError naming the ``deep`` extra."""
    return import_optional("torch", extra="deep", needed_for=needed_for)


def resolve_device(device, needed_for):
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``… into a ``torch.device``.

    ``"auto"`` picks CUDA when torch sees a GPU and the CPU otherwise. A CUDA
    device on a machine without one is a ValueError naming the estimator,
    not torch's own error deep inside the first forward pass.
    """
    torch = import_torch(needed_for)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"{needed_for}: device={device!r} is not a torch device; use 'auto', "
            "'cpu' or 'cuda'."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{needed_for}: device={device!r} asks for CUDA, but torch sees no GPU "
            "on this machine; use device='auto' or 'cpu'."
        )
    return resolved


def torch_seed(random_state):
    """A torch seed drawn from an int, a RandomState or None (fresh entropy)."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextmanager
def torch_seeded(seed, needed_for):
    """Run a block under torch's global RNG seeded with ``seed``, then restore it.

    Module constructors draw their initial weights from torch's global
    generator; forking it keeps the user's own random state untouched.
    """
    torch = import_torch(needed_for)
    # Seeding also seeds CUDA, so CUDA's state is forked (and restored) too.
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
