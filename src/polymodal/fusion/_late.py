"""Late fusion: one model per modality, combined at the level of predictions."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.utils import assert_all_finite

from ..utils._missing import (
    warn_predicted_rows_without_modality,
)
from ..utils._sklearn_compat import (
    StrOptions,
    _fit_context,
)
from ..utils.validation import validate_blocks
from ._ensemble import (
    _PROBA_FLOOR,
    _WEIGHTED_PRESENT,
    _by_modality,
    _check_target,
    _ModalityEnsemble,
    _ProbabilisticFusionClassifier,
)
from ._weights import one_vs_rest_auc

__all__ = ["LateFusionClassifier", "LateFusionRegressor"]


class LateFusionClassifier(_ProbabilisticFusionClassifier):
    """Late fusion: one classifier per modality, probabilities combined per row.

    A clone of ``estimator`` (or the entry of ``estimators`` that names the
    modality) is fitted on each modality's present training rows. For row
    :math:`i`, with :math:`p_{im} \\in \\{0, 1\\}` the presence of modality
    :math:`m`, :math:`w_m \\ge 0` its weight and :math:`P_m(i)` its predicted
    class probabilities (one column per class of ``classes_``, zero for a
    class its training rows lacked), the weights are re-normalised over the
    modalities present in that row,

    .. math::

        \\hat w_{im} = \\frac{w_m p_{im}}{\\sum_{m'} w_{m'} p_{im'}},

    and ``combine`` fuses the probabilities:

    - ``"mean"`` and ``"weighted"``: :math:`P_i = \\sum_m \\hat w_{im} P_m(i)`,
      the weighted arithmetic mean; ``"weighted"`` learns the weights when
      ``weights`` is None (as ``weights="learn"``), so that a grid over
      ``combine`` compares equal with learned weights.
    - ``"product"``: the normalised weighted geometric mean,
      :math:`P_{ik} \\propto \\prod_m \\max(P_{mk}(i), \\epsilon)^{\\hat w_{im}}`
      with :math:`\\epsilon = 10^{-12}`, so one modality's zero does not
      annihilate a class outright.
    - ``"vote"``: the weighted share of votes,
      :math:`P_{ik} = \\sum_m \\hat w_{im} [\\arg\\max_{k'} P_{mk'}(i) = k]`;
      :meth:`predict` breaks exact ties by the weighted mean probability.
    - ``"max"``: :math:`P_{ik} \\propto \\max_{m: \\hat w_{im} > 0} P_{mk}(i)`;
      the weights only decide which modalities take part.

    :meth:`predict` returns the class of highest :math:`P_i`;
    :meth:`decision_function` returns its log-odds.

    **Absent modalities.** A modality absent in a row does not take part in
    that row's combination (the weights of the present ones are re-normalised),
    so a patient without a note is predicted from the other modalities only. A
    row with no modality present (or only modalities of weight 0) is predicted
    the training class prior :math:`\\pi`, with a
    :class:`~polymodal.exceptions.MissingModalityWarning` naming the rows by
    the input's index labels.

    **Learned weights.** With ``weights="learn"``, each modality's estimator is
    cross-validated on its present training rows (``cv`` folds, which respect
    ``groups``); its score :math:`s_m` is the ROC AUC of the out-of-fold
    probabilities (one-vs-rest, macro-averaged over classes), and
    :math:`w_m \\propto \\max(s_m - 0.5, 0)`, normalised to sum to 1. A modality
    no better than chance thus gets weight 0; if none beats chance, the
    weights are equal, with a warning. The AUC scores how the probabilities
    rank the rows, so a weak modality whose calibrated probabilities rank
    them no better than chance (as a sigmoid-calibrated SVM can) drops out.

    Parameters
    ----------
    estimator : classifier, default=None
        Cloned for every modality without an entry in ``estimators``. It
        needs ``predict_proba``: wrap an SVM in
        :class:`~sklearn.calibration.CalibratedClassifierCV`
        (``SVC(probability=True)`` is deprecated in scikit-learn 1.9). None
        means :class:`~sklearn.linear_model.LogisticRegression`.
    estimators : list of (str, classifier) tuples, default=None
        Per-modality classifiers, e.g. ``[("note", LogisticRegression(C=10))]``;
        each is cloned before fitting. Their parameters are
        ``estimators__<modality>__<param>``, so a search can tune them.
    combine : {"mean", "weighted", "product", "vote", "max"}, default="mean"
        How the present modalities' probabilities are fused (see above).
    weights : None, dict of str to float, or "learn", default=None
        None weighs every modality 1 (except ``combine="weighted"``, which
        learns them); a dict gives a weight >= 0 per modality (modalities not
        named weigh 1; naming a modality the blocks do not hold is an error);
        "learn" learns them (see above).
    cv : int, cross-validation splitter or iterable, default=5
        The inner cross-validation of learned weights, run on each modality's
        present rows: a number of stratified folds (None: 5), a splitter such
        as :class:`~sklearn.model_selection.GroupKFold`, or (train, test)
        index arrays over all rows, of which each modality keeps its present
        rows.
    n_jobs : int, default=None
        Number of fits (modalities and inner folds) run in parallel.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    class_prior_ : ndarray of shape (n_classes,)
        Training class frequencies (weighted by ``sample_weight``), predicted
        for rows with no modality present.
    estimators_ : list of (str, estimator) tuples
        Each modality's fitted classifier, in modality order. It was trained on
        the indices of its labels in ``modality_classes_[name]``.
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The same, by modality name.
    modality_classes_ : dict of str to ndarray
        The classes present in each modality's training rows.
    weights_ : dict of str to float
        The weight of each modality (learned weights sum to 1).
    modality_scores_ : dict of str to float
        Each modality's inner cross-validated ROC AUC; only when the weights
        are learned.
    n_features_in_ : int
        Total number of input features over the modalities.
    modality_names_in_ : ndarray of str
        Modality names seen during fit.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame (one modality, ``"x"``).

    See Also
    --------
    StackingFusionClassifier : Learns how to combine the modalities.
    polymodal.fusion.ConcatFusion : Early fusion for any head.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal import ModalityBlocks
    >>> from polymodal.fusion import LateFusionClassifier
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1], 20)
    >>> note = y[:, None] + rng.normal(size=(40, 3))
    >>> note[::4] = np.nan
    >>> blocks = ModalityBlocks(
    ...     {"clinical": y[:, None] + rng.normal(size=(40, 2)), "note": note},
    ...     masks={"note": ~np.isnan(note[:, 0])},
    ... )
    >>> clf = LateFusionClassifier(combine="mean").fit(blocks, y)
    >>> clf.predict_proba(blocks).shape
    (40, 2)
    >>> float(clf.score(blocks, y)) > 0.8
    True
    """

    _parameter_constraints = {
        **_ModalityEnsemble._parameter_constraints,
        "combine": [StrOptions({"mean", "weighted", "product", "vote", "max"})],
        "weights": [dict, StrOptions({"learn"}), None],
    }

    def __init__(
        self,
        estimator=None,
        *,
        estimators=None,
        combine="mean",
        weights=None,
        cv=5,
        n_jobs=None,
    ):
        self.estimator = estimator
        self.estimators = estimators
        self.combine = combine
        self.weights = weights
        self.cv = cv
        self.n_jobs = n_jobs

    def _learns_weights(self):
        return self.weights == "learn" or (
            self.weights is None and self.combine == "weighted"
        )

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, sample_weight=None, groups=None, **fit_params):
        """Fit one classifier per modality on its present rows.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            The blocks; a plain array is one modality named ``"x"``.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, sliced to each modality's present rows. With
            metadata routing enabled, an estimator receives them only if it
            requested them.
        groups : array-like of shape (n_samples,), default=None
            Group labels (for example patient ids) for the inner
            cross-validation of learned weights; ignored otherwise.
        **fit_params : dict
            Other metadata, for the estimators or the splitter that request it
            (needs ``sklearn.set_config(enable_metadata_routing=True)``).

        Returns
        -------
        self : LateFusionClassifier
        """
        blocks = validate_blocks(self, X, reset=True)
        y = _check_target(self, y, len(blocks))
        estimators = self._modality_estimators(blocks.names)
        for name, est in estimators.items():
            self._check_has_proba(f"Modality {name!r}", est)
        learn = self._learns_weights()
        weights = None if learn else self._fixed_weights(blocks.names)
        routed = self._route_fit_params(
            blocks, fit_params, sample_weight=sample_weight, groups=groups
        )
        self._check_sample_weight_support(_by_modality(estimators), routed)
        y_encoded, targets = self._encode_target(blocks, y, routed)
        out_of_fold = self._fit_modalities(
            blocks,
            targets,
            routed,
            estimators,
            methods=dict.fromkeys(blocks.names, "predict_proba") if learn else None,
        )
        if learn:
            scores = {}
            for name in blocks.names:
                mask = blocks.masks[name]
                proba = np.zeros((mask.sum(), len(self.classes_)))
                for test, output, classes in out_of_fold[name]:
                    proba[test] = self._global_proba(name, output, classes)
                weight = routed.sample_weight
                scores[name] = one_vs_rest_auc(
                    y_encoded[mask], proba, None if weight is None else weight[mask]
                )
            weights = self._learned_weights(scores, chance=0.5)
        self.weights_ = weights
        return self

    def _fuse(self, blocks):
        """The fused probabilities and, for ties of votes, the weighted mean."""
        row_weights, empty = self._row_weights(blocks)
        probas = np.zeros((len(blocks.names), len(blocks), len(self.classes_)))
        for m, name in enumerate(blocks.names):
            rows, proba, estimator = self._modality_output(
                blocks, name, "predict_proba"
            )
            if proba is not None:
                probas[m, rows] = self._global_proba(name, proba, estimator.classes_)
        weights = row_weights.T[:, :, None]
        mean = (weights * probas).sum(axis=0)
        if self.combine in ("mean", "weighted"):
            fused = mean
        elif self.combine == "product":
            log_fused = (weights * np.log(np.maximum(probas, _PROBA_FLOOR))).sum(axis=0)
            fused = np.exp(log_fused - log_fused.max(axis=1, keepdims=True))
        elif self.combine == "vote":
            votes = np.eye(len(self.classes_))[probas.argmax(axis=2)]
            fused = (weights * votes).sum(axis=0)
        else:
            fused = np.where(weights > 0, probas, 0.0).max(axis=0)
        totals = fused.sum(axis=1, keepdims=True)
        fused = np.divide(fused, totals, out=np.zeros_like(fused), where=totals > 0)
        return self._fallback(fused, blocks, empty, _WEIGHTED_PRESENT), mean

    def _predict_proba(self, blocks):
        return self._fuse(blocks)[0]

    def _predict(self, blocks):
        fused, mean = self._fuse(blocks)
        if self.combine == "vote":
            tied = np.isclose(fused, fused.max(axis=1, keepdims=True))
            fused = np.where(tied, mean, -np.inf)
        return self.classes_[np.argmax(fused, axis=1)]


class LateFusionRegressor(RegressorMixin, _ModalityEnsemble):
    """Late fusion for regression: the weighted mean of per-modality predictions.

    A clone of ``estimator`` (or the entry of ``estimators`` that names the
    modality) is fitted on each modality's present training rows; for row
    :math:`i`,

    .. math::

        \\hat y_i = \\sum_m \\hat w_{im} f_m(x_{im}), \\qquad
        \\hat w_{im} = \\frac{w_m p_{im}}{\\sum_{m'} w_{m'} p_{im'}},

    with :math:`f_m` modality :math:`m`'s fitted regressor, :math:`p_{im}`
    its presence in row :math:`i` and :math:`w_m \\ge 0` its weight.

    **Absent modalities.** An absent modality does not take part in the row's
    mean (the weights of the present ones are re-normalised). A row with no
    modality present (or only modalities of weight 0) is predicted the
    training mean of ``y``, with a
    :class:`~polymodal.exceptions.MissingModalityWarning` naming the rows by
    the input's index labels.

    **Learned weights.** With ``weights="learn"``, each modality's estimator is
    cross-validated on its present training rows (``cv`` folds, which respect
    ``groups``); with :math:`R^2_m` the coefficient of determination of its
    out-of-fold predictions, :math:`w_m \\propto \\max(R^2_m, 0)`, normalised to
    sum to 1 (0 for a modality no better than predicting the mean); if no
    modality beats the mean, the weights are equal, with a warning.

    Parameters
    ----------
    estimator : regressor, default=None
        Cloned for every modality without an entry in ``estimators``. None
        means :class:`~sklearn.linear_model.Ridge`.
    estimators : list of (str, regressor) tuples, default=None
        Per-modality regressors; their parameters are
        ``estimators__<modality>__<param>``.
    weights : None, dict of str to float, or "learn", default=None
        None weighs every modality 1; a dict gives a weight >= 0 per modality
        (modalities not named weigh 1; naming a modality the blocks do not hold
        is an error); "learn" learns them (see above).
    cv : int, cross-validation splitter or iterable, default=5
        The inner cross-validation of ``weights="learn"``, run on each
        modality's present rows: a number of folds (None: 5), a splitter such
        as :class:`~sklearn.model_selection.GroupKFold`, or (train, test)
        index arrays over all rows, of which each modality keeps its present
        rows.
    n_jobs : int, default=None
        Number of fits (modalities and inner folds) run in parallel.

    Attributes
    ----------
    target_mean_ : float
        Training mean of ``y`` (weighted by ``sample_weight``), predicted for
        rows with no modality present.
    estimators_ : list of (str, estimator) tuples
        Each modality's fitted regressor, in modality order.
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The same, by modality name.
    weights_ : dict of str to float
        The weight of each modality (learned weights sum to 1).
    modality_scores_ : dict of str to float
        Each modality's inner cross-validated :math:`R^2`; only with
        ``weights="learn"``.
    n_features_in_ : int
        Total number of input features over the modalities.
    modality_names_in_ : ndarray of str
        Modality names seen during fit.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame (one modality, ``"x"``).

    See Also
    --------
    LateFusionClassifier : The same for classification.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal import ModalityBlocks
    >>> from polymodal.fusion import LateFusionRegressor
    >>> blocks = ModalityBlocks(
    ...     {"a": np.array([[0.0], [1.0], [2.0], [3.0]]),
    ...      "b": np.array([[0.0], [2.0], [np.nan], [6.0]])},
    ...     masks={"b": [True, True, False, True]},
    ... )
    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> reg = LateFusionRegressor(weights={"a": 3.0, "b": 1.0}).fit(blocks, y)
    >>> reg.predict(blocks).round(2)
    array([0.2 , 1.07, 1.92, 2.79])
    """

    _parameter_constraints = {
        **_ModalityEnsemble._parameter_constraints,
        "weights": [dict, StrOptions({"learn"}), None],
    }

    def __init__(
        self, estimator=None, *, estimators=None, weights=None, cv=5, n_jobs=None
    ):
        self.estimator = estimator
        self.estimators = estimators
        self.weights = weights
        self.cv = cv
        self.n_jobs = n_jobs

    @staticmethod
    def _default_estimator():
        return Ridge()

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, sample_weight=None, groups=None, **fit_params):
        """Fit one regressor per modality on its present rows.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            The blocks; a plain array is one modality named ``"x"``.
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, sliced to each modality's present rows. With
            metadata routing enabled, an estimator receives them only if it
            requested them.
        groups : array-like of shape (n_samples,), default=None
            Group labels (for example patient ids) for the inner
            cross-validation of learned weights; ignored otherwise.
        **fit_params : dict
            Other metadata, for the estimators or the splitter that request it
            (needs ``sklearn.set_config(enable_metadata_routing=True)``).

        Returns
        -------
        self : LateFusionRegressor
        """
        blocks = validate_blocks(self, X, reset=True)
        y = _check_target(self, y, len(blocks), dtype=np.float64)
        assert_all_finite(y, input_name="y")
        estimators = self._modality_estimators(blocks.names)
        learn = self.weights == "learn"
        weights = None if learn else self._fixed_weights(blocks.names)
        routed = self._route_fit_params(
            blocks, fit_params, sample_weight=sample_weight, groups=groups
        )
        self._check_sample_weight_support(_by_modality(estimators), routed)
        self.target_mean_ = float(np.average(y, weights=routed.sample_weight))
        targets = {name: y[blocks.masks[name]] for name in blocks.names}
        out_of_fold = self._fit_modalities(
            blocks,
            targets,
            routed,
            estimators,
            methods=dict.fromkeys(blocks.names, "predict") if learn else None,
        )
        if learn:
            scores = {}
            for name in blocks.names:
                mask = blocks.masks[name]
                predicted = np.zeros(mask.sum())
                for test, output, _ in out_of_fold[name]:
                    predicted[test] = np.ravel(output)
                weight = routed.sample_weight
                scores[name] = float(
                    r2_score(
                        targets[name],
                        predicted,
                        sample_weight=None if weight is None else weight[mask],
                    )
                )
            weights = self._learned_weights(scores, chance=0.0)
        self.weights_ = weights
        return self

    def _predict(self, blocks):
        row_weights, empty = self._row_weights(blocks)
        predicted = np.zeros(len(blocks))
        for m, name in enumerate(blocks.names):
            rows, output, _ = self._modality_output(blocks, name, "predict")
            if output is not None:
                predicted[rows] += row_weights[rows, m] * np.ravel(output)
        warn_predicted_rows_without_modality(
            blocks,
            "training mean",
            empty=empty,
            which=_WEIGHTED_PRESENT,
            stacklevel=3,
        )
        predicted[empty] = self.target_mean_
        return predicted
