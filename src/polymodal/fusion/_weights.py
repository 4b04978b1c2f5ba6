"""Validation of per-modality weights, shared by the fusion estimators."""

from numbers import Real

import numpy as np

__all__ = ["check_weights"]


def check_weights(weights, modality_names):
    """Return ``weights`` as a dict of floats after checking it.

    Parameters
    ----------
    weights : dict of str to float or None
        Weight per modality; None means every modality weighs 1.
    modality_names : sequence of str
        The modalities the blocks hold.

    Returns
    -------
    dict of str to float
        Only the modalities named in ``weights``.
    """
    if weights is None:
        return {}
    unknown = [name for name in weights if name not in modality_names]
    if unknown:
        raise ValueError(
            f"weights names modalities {unknown} that the blocks do not hold; the "
            f"modalities are {list(modality_names)}."
        )
    checked = {}
    for name, weight in weights.items():
        if (
            not isinstance(weight, Real)
            or isinstance(weight, bool)
            or not np.isfinite(weight)
            or weight < 0
        ):
            raise ValueError(
                f"The weight of modality {name!r} must be a finite number >= 0; "
                f"got {weight!r}."
            )
        checked[name] = float(weight)
    return checked
