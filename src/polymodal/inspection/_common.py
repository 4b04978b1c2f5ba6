"""What the inspection tools share: the pipeline's modalities, folds, refits."""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import (
    check_cv,
)
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_consistent_length

from ..union import REMAINDER, MultimodalUnion
from ..union._row_independent import fit_pipeline, row_independent_steps
from ..utils._sklearn_compat import _safe_indexing
from ..utils._splits import shuffled_splitter
from ..utils._table import dict_to_frame


def check_multimodal_pipeline(estimator, caller):
    """Return the name of the union step, after checking the pipeline's shape.

    Parameters
    ----------
    estimator : Pipeline
        A pipeline whose first step is a MultimodalUnion.
    caller : str
        The public function's name, for error messages.

    Returns
    -------
    union_name : str
    """
    is_pipeline = isinstance(estimator, Pipeline) and bool(estimator.steps)
    if not is_pipeline or not isinstance(estimator.steps[0][1], MultimodalUnion):
        got = (
            f"a Pipeline whose first step is a {type(estimator.steps[0][1]).__name__}"
            if is_pipeline
            else f"a {type(estimator).__name__}"
        )
        raise TypeError(
            f"{caller} takes a Pipeline whose first step is a MultimodalUnion, such "
            "as Pipeline([('union', MultimodalUnion(...)), ('fusion', "
            f"ConcatFusion()), ('head', LogisticRegression())]); got {got}."
        )
    return estimator.steps[0][0]


def check_positive_int(name, value):
    """Raise unless ``value`` is an int >= 1 (bools excluded)."""
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an int >= 1; got {value!r}.")


def check_data(X, y, groups):
    """X with a dict made a DataFrame (splitters count a dict's keys as rows), y an array."""
    if isinstance(X, dict):
        X = dict_to_frame(X)
    check_consistent_length(X, y, groups)
    return X, np.asarray(y)


def make_splits(estimator, X, y, cv, groups, random_state):
    """The (train, test) folds, shared by every refit of one inspection.

    An int ``cv`` gives shuffled folds, stratified for classifiers and grouped
    when ``groups`` is given, as :func:`~polymodal.model_selection.compare_fusions`
    does, so that a patient's rows never sit on both sides of a split.
    """
    classifier = is_classifier(estimator)
    if isinstance(cv, Integral):
        seed = random_state.randint(np.iinfo(np.int32).max)
        cv = shuffled_splitter(
            cv, classifier=classifier, groups=groups, random_state=seed
        )
    cv = check_cv(cv, y, classifier=classifier)
    return list(cv.split(X, y, groups))


def check_single_scoring(estimator, scoring, caller):
    """A scorer for one metric: each importance is a difference of one score."""
    if isinstance(scoring, list | tuple | set | dict):
        raise ValueError(
            f"{caller} takes one metric (a string, a callable or None); got "
            f"{scoring!r}. Call it once per metric."
        )
    return check_scoring(estimator, scoring=scoring)


def scoring_label(scoring):
    """How plots and frames name the metric."""
    return scoring if isinstance(scoring, str) else "score"


def subset_pipeline(estimator, union_name, modalities, keep):
    """An unfitted clone of ``estimator`` that uses only the modalities ``keep``.

    The other modalities are set to "drop" in the union, and the entries that
    name them are removed from the later steps' per-modality parameters, which
    would otherwise name modalities the blocks do not hold: each step declares
    them through ``modality_subset_params`` (see
    :class:`~polymodal.utils._subset.ModalitySubsetMixin`).
    """
    pipe = clone(estimator)
    dropped = set(modalities) - set(keep)
    if not dropped:
        return pipe
    params = {
        f"{union_name}__{'remainder' if name == REMAINDER else name}": "drop"
        for name in dropped
    }
    kept = [name for name in modalities if name in set(keep)]
    for step_name, step in pipe.steps[1:]:
        if hasattr(step, "modality_subset_params"):
            for key, value in step.modality_subset_params(kept).items():
                params[f"{step_name}__{key}"] = value
    return pipe.set_params(**params)


def shared_steps(estimator, union_name, X, *, n_jobs=None):
    """The union's steps that learn nothing from rows, run once on all of X.

    See :func:`polymodal.union._row_independent.row_independent_steps`:
    each fold's refit slices their output instead of computing it again, and
    fits only the steps that learn from rows, which gives the same fitted
    pipeline. None when no modality qualifies. ``n_jobs`` chunks of rows are
    computed in parallel.
    """
    return row_independent_steps(estimator.named_steps[union_name], X, n_jobs=n_jobs)


def fit_fold(estimator, X, y, train, test, shared=None):
    """A clone fitted on the training rows, and the test rows' ``X`` and ``y``.

    ``shared`` (from :func:`shared_steps` on the same ``X``) spares the refit
    the union's row-independent steps.
    """
    fitted = fit_pipeline(
        clone(estimator), _safe_indexing(X, train), y[train], shared, train
    )
    return fitted, _safe_indexing(X, test), y[test]


def fit_and_score(estimator, X, y, train, test, scorer, shared=None):
    """Fit a clone on the training rows and score it on the test rows.

    With ``shared``, the test rows' row-independent blocks are sliced from it
    too, and the fitted steps after the union are scored on the blocks.
    """
    fitted, X_test, y_test = fit_fold(estimator, X, y, train, test, shared)
    if shared is None:
        return float(scorer(fitted, X_test, y_test))
    blocks = shared.transform(fitted.steps[0][1], X_test, test)
    return float(scorer(fitted[1:], blocks, y_test))


def modality_columns(estimator, union_name, X, caller):
    """The modalities the union produces from X, with their input columns.

    Parameters
    ----------
    estimator : Pipeline
        A pipeline whose first step is a MultimodalUnion.
    union_name : str
        The name of that step.
    X : DataFrame or 2-D array
        The patient table.
    caller : str
        The public function's name, for error messages.

    Returns
    -------
    dict of str to ndarray of int
        Input column positions of each modality, in the union's order
        (``"remainder"`` last), for the modalities that are not set to "drop"
        and select at least one column: those the union turns into blocks.
    """
    columns = estimator.named_steps[union_name].modality_columns(X)
    if not columns:
        raise ValueError(
            f"{caller}: the union produces no modality (each one is set to "
            "'drop' or selects no column); there is nothing to inspect."
        )
    return columns


def permute_rows(X, columns, order):
    """A copy of X where ``columns`` take their values from the rows ``order``.

    Whole rows of the modality move together, so its presence pattern moves
    with its values.
    """
    if isinstance(X, pd.DataFrame):
        X = X.copy()
        for position in columns:
            column = X.iloc[:, position]
            X.isetitem(position, column.iloc[order].set_axis(X.index))
        return X
    X = _as_2d_array(X).copy()
    X[:, columns] = X[order][:, columns]
    return X


def remove_cells(X, columns, rows):
    """A copy of X where ``columns`` are missing in ``rows``.

    Object columns get None and the others their dtype's missing value (NaN
    for floats and pandas' ``str`` columns; integer columns become float): the
    values MultimodalUnion reads as missing.
    """
    hit = np.zeros(X.shape[0], dtype=bool)
    hit[rows] = True
    if isinstance(X, pd.DataFrame):
        X = X.copy()
        for position in columns:
            column = X.iloc[:, position]
            if column.dtype == object:
                column = column.copy()
                column.iloc[rows] = None
            else:
                column = column.mask(hit)
            X.isetitem(position, column)
        return X
    X = _as_2d_array(X)
    X = X.astype(object if X.dtype == object else np.result_type(X.dtype, np.float64))
    X[np.ix_(rows, columns)] = None if X.dtype == object else np.nan
    return X


def _as_2d_array(X):
    if not isinstance(X, np.ndarray) or X.ndim != 2:
        raise TypeError(
            "Permuting or removing a modality's cells needs X as a DataFrame, a "
            f"dict of columns or a 2-D numpy array; got {type(X).__name__}."
        )
    return X
