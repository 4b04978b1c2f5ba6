"""The model without information that scores define chance against."""

from sklearn.base import is_classifier
from sklearn.dummy import DummyClassifier, DummyRegressor

__all__ = ["chance_estimator"]


def chance_estimator(estimator):
    """The no-modality model: the training prior (classifier) or mean (regressor).

    Parameters
    ----------
    estimator : estimator
        The model whose chance level is wanted; only its kind matters.

    Returns
    -------
    DummyClassifier or DummyRegressor
        Unfitted; its scores on held-out folds are the chance level of any
        metric (0.5 for ROC AUC, the majority share for accuracy, 0 for R²).
    """
    if is_classifier(estimator):
        return DummyClassifier(strategy="prior")
    return DummyRegressor(strategy="mean")
