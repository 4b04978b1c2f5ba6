"""Rows with no modality present: which they are, and the one warning about them.

DESIGN.md's rule: such a row predicts the training prior (classifiers) or
mean (regressors) and emits a :class:`~polymodal.exceptions.MissingModalityWarning`
naming the rows by the input's index labels, whichever step fuses. A
final-step fusion (late fusion, stacking, deep fusion) predicts the fallback
itself; a transformer fusion cannot choose what the head predicts, so it
only warns. Every fusion step words that warning through the two functions
here, so the messages agree.
"""

import numpy as np

from .validation import warn_rows_without_modality

__all__ = [
    "rows_without_modality",
    "warn_fused_rows_without_modality",
    "warn_predicted_rows_without_modality",
]

_FINAL_STEPS = (
    "LateFusionClassifier/Regressor, StackingFusionClassifier or "
    "DeepFusionClassifier/Regressor"
)


def rows_without_modality(blocks, weights=None):
    """True for each row in which no modality (of positive weight) is present.

    Parameters
    ----------
    blocks : ModalityBlocks
        The blocks; their masks say what is present.
    weights : dict of str to float, default=None
        Modality weights; a modality of weight 0 does not count as present.
        None counts every modality.

    Returns
    -------
    ndarray of bool of shape (n_samples,)
    """
    present = np.zeros(len(blocks), dtype=bool)
    for name in blocks.names:
        if weights is None or weights.get(name, 1.0) > 0:
            present |= np.asarray(blocks.masks[name], dtype=bool)
    return ~present


def warn_fused_rows_without_modality(
    fusion, blocks, given, *, empty=None, which="present", stacklevel=2
):
    """A transformer fusion's warning about rows with no modality present.

    The fusion cannot choose the head's prediction for those rows, which then
    rests on no observed data: the message says what the fusion gave them
    and which final-step fusions predict the training prior or mean instead.

    Parameters
    ----------
    fusion : estimator instance
        The fusion transformer, named in the message.
    blocks : ModalityBlocks
        The blocks being fused; their ``index`` names the rows.
    given : str
        What the fusion outputs for those rows ("the training means of every
        block").
    empty, which, stacklevel
        As in :func:`warn_predicted_rows_without_modality`.
    """
    _warn_blocks(
        blocks,
        f"{type(fusion).__name__} gives them {given}, so the head's predictions "
        "for them rest on no observed data; as the last step, "
        f"{_FINAL_STEPS} predict the training prior or mean for such rows "
        "instead",
        empty,
        which,
        stacklevel + 1,
    )


def warn_predicted_rows_without_modality(
    blocks, fallback, *, empty=None, which="present", stacklevel=2
):
    """A final-step fusion's warning that rows get the training prior or mean.

    Parameters
    ----------
    blocks : ModalityBlocks
        The blocks predicted on; their ``index`` names the rows.
    fallback : str
        What those rows are predicted ("training class prior").
    empty : ndarray of bool, default=None
        The rows to name; None means :func:`rows_without_modality`.
    which : str, default="present"
        Which modalities count, for the message.
    stacklevel : int, default=2
        As in :func:`warnings.warn`, counted from the caller.
    """
    _warn_blocks(
        blocks, f"they are predicted the {fallback}", empty, which, stacklevel + 1
    )


def _warn_blocks(blocks, consequence, empty, which, stacklevel):
    """Name the rows of ``blocks`` without a modality and what befalls them."""
    if empty is None:
        empty = rows_without_modality(blocks)
    warn_rows_without_modality(
        empty,
        consequence,
        which=which,
        index=blocks.index,
        stacklevel=stacklevel + 1,
    )
