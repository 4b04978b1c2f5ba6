"""Cross-validation folds as polymodal chooses them for an int ``cv``."""

from numbers import Integral

from sklearn.model_selection import (
    GroupKFold,
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
)

__all__ = ["shuffled_splitter"]


def shuffled_splitter(cv, *, classifier, groups, random_state):
    """The splitter for ``cv``: an int becomes shuffled folds.

    The folds are stratified for classifiers and grouped when ``groups`` is
    given, so that a patient's rows never sit on both sides of a split; any
    other ``cv`` (a splitter, an iterable of splits) is returned as it is.

    Parameters
    ----------
    cv : int, cross-validation generator or iterable
        The number of folds, or what the caller was given.
    classifier : bool
        Whether the estimator is a classifier.
    groups : array-like or None
        Group labels, such as patient IDs.
    random_state : int, RandomState instance or None
        Seeds the shuffling.

    Returns
    -------
    splitter or ``cv`` unchanged

    Examples
    --------
    >>> from polymodal.utils._splits import shuffled_splitter
    >>> shuffled_splitter(5, classifier=True, groups=None, random_state=0)
    StratifiedKFold(n_splits=5, random_state=0, shuffle=True)
    """
    if not isinstance(cv, Integral) or isinstance(cv, bool):
        return cv
    if groups is not None:
        splitter = StratifiedGroupKFold if classifier else GroupKFold
    else:
        splitter = StratifiedKFold if classifier else KFold
    return splitter(cv, shuffle=True, random_state=random_state)
