"""Per-modality weights, shared by the fusion estimators: given or learned."""

import warnings
from numbers import Real

import numpy as np
from sklearn.metrics import roc_auc_score

from ..exceptions import PolymodalWarning

__all__ = ["check_weights", "fixed_weights", "one_vs_rest_auc", "skill_weights"]


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


def fixed_weights(weights, modality_names):
    """The given weights, 1 for a modality not named; not all of them 0.

    Parameters
    ----------
    weights : dict of str to float or None
        As for :func:`check_weights`.
    modality_names : sequence of str
        The modalities the blocks hold.

    Returns
    -------
    dict of str to float
        One weight per modality.
    """
    given = check_weights(weights, modality_names)
    fixed = {name: given.get(name, 1.0) for name in modality_names}
    if not any(fixed.values()):
        raise ValueError(
            f"Every modality has weight 0 ({fixed}); give at least one modality "
            "a positive weight."
        )
    return fixed


def skill_weights(scores, chance, *, stacklevel=2):
    """Weights proportional to each modality's inner-CV score above chance.

    An undefined score (NaN: every held-out fold too small to score) counts
    as chance. When no modality scores above chance, the modalities weigh
    the same, with a warning.

    Parameters
    ----------
    scores : dict of str to float
        Each modality's mean inner cross-validated score.
    chance : float
        The score of a model without skill (0.5 for ROC AUC, 0 for R²).
    stacklevel : int, default=2
        As in :func:`warnings.warn`, counted from the caller.

    Returns
    -------
    dict of str to float
        Weights that sum to 1.

    Examples
    --------
    >>> from polymodal.fusion._weights import skill_weights
    >>> skill_weights({"ct": 0.8, "note": 0.6}, chance=0.5)
    {'ct': 0.75, 'note': 0.25}
    """
    skill = {
        name: max(score - chance, 0.0) if np.isfinite(score) else 0.0
        for name, score in scores.items()
    }
    total = sum(skill.values())
    if total == 0:
        warnings.warn(
            "Learned weights: no modality scored above chance in the inner "
            f"cross-validation (scores {scores}); the modalities are weighted "
            "equally.",
            PolymodalWarning,
            stacklevel=stacklevel + 1,
        )
        return dict.fromkeys(scores, 1.0 / len(scores))
    return {name: value / total for name, value in skill.items()}


def one_vs_rest_auc(y, proba, sample_weight):
    """Macro ROC AUC over the classes with positive and negative weight.

    Where no class has both (all weight on one class), the AUC is undefined
    and the modality scores chance, 0.5.
    """
    weight = np.ones(len(y)) if sample_weight is None else sample_weight
    scores = []
    for k in range(proba.shape[1]):
        positive = y == k
        if weight[positive].sum() > 0 and weight[~positive].sum() > 0:
            scores.append(roc_auc_score(positive, proba[:, k], sample_weight=weight))
    return float(np.mean(scores)) if scores else 0.5
