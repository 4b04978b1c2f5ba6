"""Late fusion: one model per modality, combined at the level of predictions."""

import warnings
from collections import defaultdict
from numbers import Integral

import numpy as np
from scipy.special import logit
from sklearn.base import ClassifierMixin, RegressorMixin, clone, is_classifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import check_cv
from sklearn.utils import Bunch, assert_all_finite, get_tags
from sklearn.utils.metadata_routing import (
    UNUSED,
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    check_is_fitted,
    column_or_1d,
    has_fit_parameter,
)

from ..exceptions import PolymodalWarning
from ..utils._missing import (
    rows_without_modality,
    warn_predicted_rows_without_modality,
)
from ..utils._sklearn_compat import (
    HasMethods,
    StrOptions,
    _BaseComposition,
    _check_method_params,
    _check_sample_weight,
    _fit_context,
    _raise_for_params,
    _routing_enabled,
)
from ..utils.validation import check_target_present, validate_blocks
from ._weights import check_weights

__all__ = ["LateFusionClassifier", "LateFusionRegressor", "StackingFusionClassifier"]

#: Floor applied to probabilities before logarithms, so that one modality's
#: zero does not make a product or a log-odds infinite.
_PROBA_FLOOR = 1e-12

_PREFIX = "estimators__"

_CALIBRATION_ADVICE = (
    "wrap it in sklearn.calibration.CalibratedClassifierCV (for example "
    "CalibratedClassifierCV(SVC(), ensemble=False)); SVC(probability=True) is "
    "deprecated in scikit-learn 1.9"
)


class _ModalityEnsemble(_BaseComposition):
    """One estimator per modality, fitted on the rows where it is present.

    The estimator of a modality is the entry of ``estimators`` that names it,
    otherwise a clone of ``estimator`` (or of the default estimator). Nested
    parameters read ``estimators__<modality>__<parameter>``: the prefix keeps
    modality names apart from the constructor's own parameters (a modality may
    well be called ``"weights"``).
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "estimators": [list, None],
        "cv": ["cv_object"],
        "n_jobs": [Integral, None],
    }

    # fit's sample_weight and groups are routed to the estimators and the
    # splitter that request them, not consumed by the ensemble itself.
    __metadata_request__fit = {"sample_weight": UNUSED, "groups": UNUSED}

    # -- parameters ---------------------------------------------------------
    def _entries(self):
        """``estimators`` as a list of (name, estimator), or [] if malformed."""
        try:
            return [(name, est) for name, est in self.estimators or []]
        except (TypeError, ValueError):
            return []

    def get_params(self, deep=True):
        """Get parameters, including ``estimators__<modality>__<param>`` ones.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of ``estimator`` and of each entry of
            ``estimators``.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        out = super().get_params(deep=deep)
        if not deep:
            return out
        for name, est in self._entries():
            out[f"{_PREFIX}{name}"] = est
            if hasattr(est, "get_params"):
                for key, value in est.get_params(deep=True).items():
                    out[f"{_PREFIX}{name}__{key}"] = value
        return out

    def set_params(self, **params):
        """Set parameters, including ``estimators__<modality>__<param>`` ones.

        ``estimators__<modality>=estimator`` replaces that modality's entry of
        ``estimators``; ``estimators__<modality>__<param>=value`` sets a
        parameter of it.

        Parameters
        ----------
        **params : dict
            Parameters to set.

        Returns
        -------
        self : estimator instance
        """
        if "estimators" in params:
            self.estimators = params.pop("estimators")
        names = [name for name, _ in self._entries()]
        nested = defaultdict(dict)
        for key in [key for key in params if key.startswith(_PREFIX)]:
            name, _, sub_key = key[len(_PREFIX) :].partition("__")
            if name not in names:
                raise ValueError(
                    f"Invalid parameter {key!r} for {type(self).__name__}: "
                    f"estimators has no entry for modality {name!r} (its entries: "
                    f"{names}). Add one with estimators=[({name!r}, estimator)]; "
                    "modalities without an entry use a clone of estimator "
                    "(parameters estimator__<param>)."
                )
            value = params.pop(key)
            if sub_key:
                nested[name][sub_key] = value
            else:
                self._replace_estimator("estimators", name, value)
        for name, sub_params in nested.items():
            dict(self._entries())[name].set_params(**sub_params)
        return super().set_params(**params)

    # -- configuration ------------------------------------------------------
    def _template(self):
        return self._default_estimator() if self.estimator is None else self.estimator

    def _modality_estimators(self, names):
        """The unfitted estimator of each modality, after checking ``estimators``."""
        entries = []
        for entry in self.estimators or []:
            if not isinstance(entry, tuple | list) or len(entry) != 2:
                raise ValueError(
                    "estimators is a list of (modality, estimator) pairs; got "
                    f"{entry!r}."
                )
            entries.append(tuple(entry))
        explicit = dict(entries)
        if len(explicit) != len(entries):
            raise ValueError(
                "estimators names a modality more than once: "
                f"{[name for name, _ in entries]}."
            )
        unknown = [name for name in explicit if name not in names]
        if unknown:
            raise ValueError(
                f"estimators names modalities {unknown} that the blocks do not "
                f"hold; the modalities are {list(names)}."
            )
        given = [("estimator", self._template())] + [
            (f"estimators[{name!r}]", est) for name, est in explicit.items()
        ]
        for where, est in given:
            if isinstance(est, type):
                raise TypeError(
                    f"{where} is the class {est.__name__}; pass an instance, "
                    f"{est.__name__}()."
                )
        for name, est in explicit.items():
            if not hasattr(est, "fit"):
                raise TypeError(
                    f"Modality {name!r}: {est!r} (type {type(est).__name__}) is not "
                    "an estimator; it needs fit."
                )
        return {name: explicit.get(name, self._template()) for name in names}

    def _route_fit_params(self, blocks, fit_params, *, sample_weight, groups):
        """Split fit's metadata among the modality estimators and the inner CV.

        Without metadata routing, ``sample_weight`` goes to every estimator's
        ``fit`` and ``groups`` to the inner cross-validation; with routing,
        each consumer receives what it requested.
        """
        fit_params = dict(fit_params)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, blocks)
            fit_params["sample_weight"] = sample_weight
        if groups is not None:
            fit_params["groups"] = groups
        explicit = {name for name, _ in self._entries()}
        if _routing_enabled():
            routed = process_routing(self, "fit", **fit_params)
            return Bunch(
                sample_weight=sample_weight,
                modality={
                    name: (
                        routed[f"{_PREFIX}{name}"].fit
                        if name in explicit
                        else routed.estimator.fit
                    )
                    for name in blocks.names
                },
                split=routed.get("splitter", Bunch(split={})).split,
                final=routed.get("final_estimator", Bunch(fit={})).fit,
            )
        _raise_for_params(fit_params, self, "fit", allow={"sample_weight", "groups"})
        weight_params = (
            {} if sample_weight is None else {"sample_weight": sample_weight}
        )
        return Bunch(
            sample_weight=sample_weight,
            modality=dict.fromkeys(blocks.names, weight_params),
            split={} if groups is None else {"groups": groups},
            final=weight_params,
        )

    def _check_sample_weight_support(self, estimators, routed):
        """Without routing, every estimator receives ``sample_weight``: check it can."""
        if routed.sample_weight is None or _routing_enabled():
            return
        for what, est in estimators.items():
            if not has_fit_parameter(est, "sample_weight"):
                raise TypeError(
                    f"{what}: {type(est).__name__}.fit does not accept sample_weight."
                )

    # -- fitting ------------------------------------------------------------
    def _fit_modalities(self, blocks, targets, routed, estimators, methods=None):
        """Fit each modality's estimator on its present rows.

        With ``methods`` (modality -> method name), also return each
        modality's out-of-fold outputs of that method over its present rows,
        from the inner cross-validation: ``{name: [(test_rows, output,
        classes), ...]}``.
        """
        tasks, layout = [], []
        fixed_splits = (
            [(np.asarray(train), np.asarray(test)) for train, test in self.cv]
            if methods is not None and _is_fixed_splits(self.cv)
            else None
        )
        for name in blocks.names:
            rows = np.flatnonzero(blocks.masks[name])
            X_m = _present_rows(blocks, name, rows)
            y_m = targets[name]
            params = _check_method_params(
                blocks[name], routed.modality[name], indices=rows
            )
            tasks.append(
                delayed(_fit_task)(clone(estimators[name]), X_m, y_m, params, name)
            )
            layout.append((name, None))
            if methods is None:
                continue
            split_params = _check_method_params(
                blocks[name], routed.split, indices=rows
            )
            splits = (
                self._inner_splits(name, X_m, y_m, split_params)
                if fixed_splits is None
                else _restrict_splits(fixed_splits, rows, len(blocks))
            )
            _check_partition(name, splits, len(y_m))
            for split in splits:
                tasks.append(
                    delayed(_fit_task)(
                        clone(estimators[name]),
                        X_m,
                        y_m,
                        params,
                        name,
                        split=split,
                        method=methods[name],
                    )
                )
                layout.append((name, split[1]))
        results = Parallel(n_jobs=self.n_jobs)(tasks)
        fitted, out_of_fold = {}, defaultdict(list)
        for (name, test), result in zip(layout, results, strict=True):
            if test is None:
                fitted[name] = result
            else:
                out_of_fold[name].append((test, *result))
        self.estimators_ = [(name, fitted[name]) for name in blocks.names]
        self.named_estimators_ = Bunch(**fitted)
        return out_of_fold

    def _inner_splits(self, name, X_m, y_m, split_params):
        cv = check_cv(self.cv, y_m, classifier=is_classifier(self))
        try:
            return list(cv.split(X_m, y_m, **split_params))
        except ValueError as exc:
            exc.add_note(
                f"polymodal: raised while splitting the {len(y_m)} present rows of "
                f"modality {name!r} for the inner cross-validation."
            )
            raise

    def _fixed_weights(self, names):
        """The weights given (1 for a modality not named), before any fitting."""
        # A refit with fixed weights must not keep scores from a learned fit.
        self.__dict__.pop("modality_scores_", None)
        given = check_weights(self.weights, names)
        weights = {name: given.get(name, 1.0) for name in names}
        if not any(weights.values()):
            raise ValueError(
                f"Every modality has weight 0 ({weights}); at least one weight "
                "must be positive."
            )
        return weights

    def _learned_weights(self, scores, chance):
        """Weights proportional to each modality's inner-CV skill above chance."""
        self.modality_scores_ = scores
        skill = {name: max(score - chance, 0.0) for name, score in scores.items()}
        total = sum(skill.values())
        if total == 0:
            warnings.warn(
                "Learned weights: no modality scored above chance in the inner "
                f"cross-validation (scores {scores}); the modalities are "
                "weighted equally.",
                PolymodalWarning,
                stacklevel=4,
            )
            return dict.fromkeys(scores, 1.0 / len(scores))
        return {name: value / total for name, value in skill.items()}

    def _row_weights(self, blocks):
        """Weights of the present modalities, normalised per row.

        Returns the (n_samples, n_modalities) weights and the rows where no
        modality of positive weight is present (their weights are all 0).
        """
        weights = np.column_stack(
            [blocks.masks[name] * self.weights_[name] for name in blocks.names]
        ).astype(np.float64)
        totals = weights.sum(axis=1)
        empty = totals == 0
        weights[~empty] /= totals[~empty, None]
        return weights, empty

    def _modality_output(self, blocks, name, method):
        """A fitted estimator's ``method`` output on its modality's present rows.

        Returns the present rows, the output (None when no row is present) and
        the estimator.
        """
        estimator = self.named_estimators_[name]
        rows = np.flatnonzero(blocks.masks[name])
        if not rows.size:
            return rows, None, estimator
        X_m = _present_rows(blocks, name, rows)
        return rows, getattr(estimator, method)(X_m), estimator

    # -- metadata routing and tags ------------------------------------------
    def get_metadata_routing(self):
        """Route ``fit`` metadata to the modality estimators and the inner CV.

        ``estimator`` (the template every modality without an entry in
        ``estimators`` clones) and each entry of ``estimators`` receive what
        their ``fit`` requested; the inner cross-validation's splitter receives
        what its ``split`` requested (``groups`` for a group splitter).

        Returns
        -------
        routing : MetadataRouter
        """
        # The self request carries score's sample_weight, which a Pipeline
        # passes on when it scores.
        router = MetadataRouter(owner=self).add_self_request(self)
        fit = MethodMapping().add(caller="fit", callee="fit")
        router.add(estimator=self._template(), method_mapping=fit)
        for name, est in self._entries():
            router.add(**{f"{_PREFIX}{name}": est}, method_mapping=fit)
        if not _is_fixed_splits(self.cv):
            router.add(
                splitter=check_cv(self.cv),
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
        return router

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        estimators = [self._template(), *(est for _, est in self._entries())]
        try:
            tags.input_tags.sparse = all(
                get_tags(est).input_tags.sparse for est in estimators
            )
        except (TypeError, ValueError, AttributeError):
            # Malformed estimators are reported by fit, not by tags.
            tags.input_tags.sparse = False
        return tags


def _is_fixed_splits(cv):
    """Whether ``cv`` is an iterable of (train, test) splits over all rows."""
    return not (cv is None or isinstance(cv, Integral) or hasattr(cv, "split"))


def _restrict_splits(splits, rows, n_samples):
    """Splits over all rows, restricted to ``rows`` and renumbered within them."""
    position = np.full(n_samples, -1)
    position[rows] = np.arange(rows.size)
    restricted = []
    for train, test in splits:
        train, test = position[train], position[test]
        if (test >= 0).any():
            restricted.append((train[train >= 0], test[test >= 0]))
    return restricted


def _check_partition(name, splits, n_rows):
    tested = np.sort(np.concatenate([test for _, test in splits] or [[]]))
    if not np.array_equal(tested, np.arange(n_rows)):
        raise ValueError(
            f"The inner cross-validation of modality {name!r} must put each of its "
            "present rows in exactly one test fold, as KFold does; the given cv "
            "does not."
        )


def _by_modality(estimators):
    return {f"Modality {name!r}": est for name, est in estimators.items()}


def _present_rows(blocks, name, rows):
    block = blocks[name]
    return block if rows.size == block.shape[0] else block[rows]


def _fit_task(estimator, X, y, params, name, split=None, method=None):
    """Fit on all rows, or on a split's train rows and output ``method`` on its test rows."""
    try:
        if split is None:
            return estimator.fit(X, y, **params)
        train, test = split
        estimator.fit(
            X[train], y[train], **_check_method_params(X, params, indices=train)
        )
        return getattr(estimator, method)(X[test]), getattr(estimator, "classes_", None)
    except Exception as exc:
        stage = "fit" if split is None else "the inner cross-validation"
        exc.add_note(
            f"polymodal: raised by the estimator of modality {name!r} "
            f"({type(estimator).__name__}) during {stage}."
        )
        raise


def _check_target(estimator, y, n_samples, **kwargs):
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y "
            "is None."
        )
    check_target_present(estimator, y)
    y = column_or_1d(y, warn=True, **kwargs)
    if y.shape[0] != n_samples:
        raise ValueError(
            f"X has {n_samples} rows but y has {y.shape[0]}; they must describe "
            "the same samples."
        )
    return y


_WEIGHTED_PRESENT = "present (or only modalities of weight 0)"


def _one_vs_rest_auc(y, proba, sample_weight):
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


class _ProbabilisticFusionClassifier(ClassifierMixin, _ModalityEnsemble):
    """Shared by the late-fusion and stacking classifiers: labels, classes, outputs."""

    @staticmethod
    def _default_estimator():
        return LogisticRegression()

    def _encode_target(self, blocks, y, routed):
        """Set ``classes_``, ``class_prior_`` and ``modality_classes_``.

        Returns the label indices into ``classes_`` and, per modality, the
        indices into that modality's own classes for its present rows: each
        modality's estimator learns 0..K_m-1, which every classifier accepts
        (XGBoost included) even when a modality's rows lack a class.
        """
        check_classification_targets(y)
        self.classes_, y_encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data, but the data contains only one class: {self.classes_.tolist()[0]!r}."
            )
        counts = np.bincount(
            y_encoded, weights=routed.sample_weight, minlength=len(self.classes_)
        )
        self.class_prior_ = counts / counts.sum()
        self.modality_classes_ = {}
        self._class_index = {}
        targets = {}
        for name in blocks.names:
            present = y_encoded[blocks.masks[name]]
            index, targets[name] = np.unique(present, return_inverse=True)
            if len(index) < 2:
                raise ValueError(
                    f"Modality {name!r} has only one class "
                    f"({self.classes_[index].tolist()[0]!r}) in its {len(present)} present "
                    "training rows; its classifier needs at least 2 classes. Drop "
                    "the modality, or stratify the folds on the label and on its "
                    "presence."
                )
            self._class_index[name] = index
            self.modality_classes_[name] = self.classes_[index]
        return y_encoded, targets

    def _global_proba(self, name, proba, estimator_classes):
        """A modality's probabilities, one column per class of ``classes_``."""
        aligned = np.zeros((proba.shape[0], len(self.classes_)))
        local = np.asarray(estimator_classes, dtype=np.intp)
        aligned[:, self._class_index[name][local]] = proba
        return aligned

    def _check_has_proba(self, what, estimator, alternative=""):
        if not hasattr(estimator, "predict_proba"):
            raise ValueError(
                f"{what}: {type(estimator).__name__} has no predict_proba, which "
                f"{type(self).__name__} needs. To use it, "
                f"{_CALIBRATION_ADVICE}{alternative}."
            )

    def _fallback(self, proba, blocks, empty, which="present"):
        """Give the training class prior to the ``empty`` rows, and warn."""
        warn_predicted_rows_without_modality(
            blocks, "training class prior", empty=empty, which=which, stacklevel=3
        )
        proba[empty] = self.class_prior_
        return proba

    def predict(self, X):
        """Predict the class of each row.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            Blocks with the modalities seen in fit.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The class of highest fused probability.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def decision_function(self, X):
        """Log-odds of the fused probabilities.

        For two classes, :math:`\\operatorname{logit}(P_{i1})`, the log-odds of
        ``classes_[1]``; for more, :math:`\\log P_{ik}` centred over the classes
        of each row. Probabilities are clipped to :math:`[10^{-12},
        1 - 10^{-12}]`, so the values are finite; for two classes they rank
        rows exactly as ``predict_proba(X)[:, 1]`` does, and the argmax over
        classes is the class of highest probability.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            Blocks with the modalities seen in fit.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        proba = np.clip(self.predict_proba(X), _PROBA_FLOOR, 1 - _PROBA_FLOOR)
        if proba.shape[1] == 2:
            return logit(proba[:, 1])
        log_proba = np.log(proba)
        return log_proba - log_proba.mean(axis=1, keepdims=True)


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
                scores[name] = _one_vs_rest_auc(
                    y_encoded[mask], proba, None if weight is None else weight[mask]
                )
            weights = self._learned_weights(scores, chance=0.5)
        self.weights_ = weights
        return self

    def _fuse(self, X):
        """The fused probabilities and, for ties of votes, the weighted mean."""
        check_is_fitted(self)
        blocks = validate_blocks(self, X, reset=False)
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

    def predict_proba(self, X):
        """Fused class probabilities of each row.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            Blocks with the modalities seen in fit.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows with no modality present
            hold ``class_prior_``.
        """
        return self._fuse(X)[0]

    def predict(self, X):
        """Predict the class of each row.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            Blocks with the modalities seen in fit.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The class of highest fused probability; with ``combine="vote"``,
            the class with most votes, ties broken by the weighted mean
            probability.
        """
        fused, mean = self._fuse(X)
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

    def predict(self, X):
        """Weighted mean of the present modalities' predictions.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            Blocks with the modalities seen in fit.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Rows with no modality present hold ``target_mean_``.
        """
        check_is_fitted(self)
        blocks = validate_blocks(self, X, reset=False)
        row_weights, empty = self._row_weights(blocks)
        predicted = np.zeros(len(blocks))
        for m, name in enumerate(blocks.names):
            rows, output, _ = self._modality_output(blocks, name, "predict")
            if output is not None:
                predicted[rows] += row_weights[rows, m] * np.ravel(output)
        warn_predicted_rows_without_modality(
            blocks, "training mean", empty=empty, which=_WEIGHTED_PRESENT
        )
        predicted[empty] = self.target_mean_
        return predicted


class StackingFusionClassifier(_ProbabilisticFusionClassifier):
    """Stacking over modalities: a meta-learner combines per-modality predictions.

    Each modality's classifier is cross-validated on its present training
    rows; its out-of-fold outputs (``stack_method``), plus one presence
    indicator per modality, are the features of a meta-learner
    (``final_estimator``) trained on all rows. The base classifiers are then
    refitted on all their present rows for prediction. For row :math:`i`,

    .. math::

        z_i = [\\, g_1(i), \\dots, g_M(i),\\; p_{i1}, \\dots, p_{iM} \\,],
        \\qquad P_i = h(z_i),

    where :math:`g_m(i)` is modality :math:`m`'s output (out-of-fold during
    ``fit``), :math:`p_{im}` its presence and :math:`h` the meta-learner. With
    ``stack_method="predict_proba"``, :math:`g_m(i)` is the probability of
    ``classes_[1]`` for two classes, otherwise one probability per class of
    ``classes_``; with ``"decision_function"``, the raw decision values
    (useful for SVMs, whose calibration the meta-learner then learns).

    **No leakage.** The meta-learner never sees a base classifier's output on
    a row that classifier was trained on: during ``fit`` every :math:`g_m(i)`
    comes from a fold that held row :math:`i` out, so a base classifier that
    memorises its training rows gains no weight.

    **Absent modalities.** Where modality :math:`m` is absent, :math:`g_m(i)`
    is filled with the training class prior (for probabilities) or with the
    mean out-of-fold decision value of its present rows (for decision values),
    and :math:`p_{im} = 0` lets the meta-learner tell "absent" from "typical".
    A row with no modality present is predicted the training class prior
    (not the meta-learner's output on all-prior features), with a
    :class:`~polymodal.exceptions.MissingModalityWarning` naming the rows by
    the input's index labels.

    Parameters
    ----------
    estimator : classifier, default=None
        Cloned for every modality without an entry in ``estimators``. None
        means :class:`~sklearn.linear_model.LogisticRegression`.
    estimators : list of (str, classifier) tuples, default=None
        Per-modality classifiers; their parameters are
        ``estimators__<modality>__<param>``.
    final_estimator : classifier, default=None
        The meta-learner; it needs ``predict_proba``. None means
        :class:`~sklearn.linear_model.LogisticRegression`.
    cv : int, cross-validation splitter or iterable, default=5
        The cross-validation that produces the out-of-fold outputs, run on
        each modality's present rows: a number of stratified folds (None: 5),
        a splitter such as :class:`~sklearn.model_selection.GroupKFold` (it
        receives ``groups``), or (train, test) index arrays over all rows, of
        which each modality keeps its present rows. A shuffling splitter
        should carry its own ``random_state``; the default folds are not
        shuffled, so the estimator is deterministic.
    stack_method : {"predict_proba", "decision_function", "auto"}, \
            default="predict_proba"
        The base classifiers' output the meta-learner sees; "auto" takes
        ``predict_proba`` where a classifier has it, ``decision_function``
        otherwise.
    n_jobs : int, default=None
        Number of fits (modalities and folds) run in parallel.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    class_prior_ : ndarray of shape (n_classes,)
        Training class frequencies (weighted by ``sample_weight``).
    estimators_ : list of (str, estimator) tuples
        Each modality's classifier refitted on all its present rows, trained on
        the indices of its labels in ``modality_classes_[name]``.
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The same, by modality name.
    modality_classes_ : dict of str to ndarray
        The classes present in each modality's training rows.
    stack_method_ : dict of str to str
        The method used for each modality.
    fill_values_ : dict of str to ndarray
        The meta-features written where a modality is absent.
    final_estimator_ : estimator
        The fitted meta-learner; it predicts indices into ``classes_``.
    meta_feature_names_ : ndarray of str
        Names of the meta-learner's input columns: ``<modality>__proba_<class>``
        or ``<modality>__decision[_<class>]``, then ``presence__<modality>``.
    n_features_in_ : int
        Total number of input features over the modalities.
    modality_names_in_ : ndarray of str
        Modality names seen during fit.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame (one modality, ``"x"``).

    See Also
    --------
    LateFusionClassifier : Combines the modalities by a fixed rule.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal import ModalityBlocks
    >>> from polymodal.fusion import StackingFusionClassifier
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1], 30)
    >>> note = y[:, None] + rng.normal(size=(60, 3))
    >>> note[::5] = np.nan
    >>> blocks = ModalityBlocks(
    ...     {"clinical": y[:, None] + rng.normal(size=(60, 2)), "note": note},
    ...     masks={"note": ~np.isnan(note[:, 0])},
    ... )
    >>> clf = StackingFusionClassifier(cv=3).fit(blocks, y)
    >>> clf.meta_feature_names_
    array(['clinical__proba_1', 'note__proba_1', 'presence__clinical',
           'presence__note'], dtype=object)
    >>> clf.predict_proba(blocks).shape
    (60, 2)
    """

    _parameter_constraints = {
        **_ModalityEnsemble._parameter_constraints,
        "final_estimator": [HasMethods(["fit"]), None],
        "stack_method": [StrOptions({"predict_proba", "decision_function", "auto"})],
    }

    def __init__(
        self,
        estimator=None,
        *,
        estimators=None,
        final_estimator=None,
        cv=5,
        stack_method="predict_proba",
        n_jobs=None,
    ):
        self.estimator = estimator
        self.estimators = estimators
        self.final_estimator = final_estimator
        self.cv = cv
        self.stack_method = stack_method
        self.n_jobs = n_jobs

    def _final_template(self):
        return (
            LogisticRegression()
            if self.final_estimator is None
            else self.final_estimator
        )

    def _resolve_stack_method(self, name, estimator):
        method = self.stack_method
        if method == "auto":
            method = (
                "predict_proba"
                if hasattr(estimator, "predict_proba")
                else "decision_function"
            )
        if method == "predict_proba":
            self._check_has_proba(
                f"Modality {name!r}",
                estimator,
                "; or stack its decision values with stack_method='decision_function'",
            )
        elif not hasattr(estimator, "decision_function"):
            raise ValueError(
                f"Modality {name!r}: {type(estimator).__name__} has no "
                "decision_function; use stack_method='predict_proba'."
            )
        return method

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, sample_weight=None, groups=None, **fit_params):
        """Fit the base classifiers, their out-of-fold outputs and the meta-learner.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            The blocks; a plain array is one modality named ``"x"``.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights for the base classifiers (sliced to each modality's
            present rows) and for the meta-learner. With metadata routing
            enabled, an estimator receives them only if it requested them.
        groups : array-like of shape (n_samples,), default=None
            Group labels (for example patient ids) for the cross-validation
            that produces the out-of-fold outputs.
        **fit_params : dict
            Other metadata, for the estimators or the splitter that request it
            (needs ``sklearn.set_config(enable_metadata_routing=True)``).

        Returns
        -------
        self : StackingFusionClassifier
        """
        blocks = validate_blocks(self, X, reset=True)
        y = _check_target(self, y, len(blocks))
        estimators = self._modality_estimators(blocks.names)
        self.stack_method_ = {
            name: self._resolve_stack_method(name, est)
            for name, est in estimators.items()
        }
        final_estimator = clone(self._final_template())
        self._check_has_proba("final_estimator", final_estimator)
        routed = self._route_fit_params(
            blocks, fit_params, sample_weight=sample_weight, groups=groups
        )
        self._check_sample_weight_support(
            {**_by_modality(estimators), "final_estimator": final_estimator}, routed
        )
        y_encoded, targets = self._encode_target(blocks, y, routed)
        out_of_fold = self._fit_modalities(
            blocks, targets, routed, estimators, methods=self.stack_method_
        )
        outputs, self.fill_values_ = {}, {}
        for name in blocks.names:
            rows = np.flatnonzero(blocks.masks[name])
            width = self._stack_width(name)
            values = np.zeros((rows.size, width))
            for test, output, classes in out_of_fold[name]:
                values[test] = self._stack_features(name, output, classes)
            outputs[name] = (rows, values)
            if self.stack_method_[name] != "predict_proba":
                self.fill_values_[name] = values.mean(axis=0)
            elif len(self.classes_) == 2:
                self.fill_values_[name] = self.class_prior_[1:]
            else:
                self.fill_values_[name] = self.class_prior_
        self.meta_feature_names_ = self._meta_feature_names(blocks.names)
        self.final_estimator_ = final_estimator.fit(
            self._meta_features(blocks, outputs), y_encoded, **routed.final
        )
        return self

    def _stack_width(self, name):
        if self.stack_method_[name] == "predict_proba":
            return 1 if len(self.classes_) == 2 else len(self.classes_)
        n_local = len(self.modality_classes_[name])
        return 1 if n_local == 2 else n_local

    def _stack_features(self, name, output, estimator_classes):
        """One modality's meta-features from its estimator's output."""
        n_local = len(self.modality_classes_[name])
        if self.stack_method_[name] == "predict_proba":
            proba = self._global_proba(name, output, estimator_classes)
            return proba[:, 1:] if len(self.classes_) == 2 else proba
        if len(estimator_classes) != n_local:
            raise ValueError(
                f"Modality {name!r}: a training fold of the cross-validation lacks "
                f"some of its {n_local} classes, so its decision values have "
                "another shape; use fewer folds or stack_method='predict_proba'."
            )
        return np.reshape(output, (np.shape(output)[0], -1))

    def _meta_feature_names(self, names):
        columns = []
        for name in names:
            if self.stack_method_[name] == "predict_proba":
                classes = (
                    self.classes_[1:] if len(self.classes_) == 2 else self.classes_
                )
                columns += [f"{name}__proba_{label}" for label in classes]
            elif self._stack_width(name) == 1:
                columns.append(f"{name}__decision")
            else:
                columns += [
                    f"{name}__decision_{label}"
                    for label in self.modality_classes_[name]
                ]
        columns += [f"presence__{name}" for name in names]
        return np.asarray(columns, dtype=object)

    def _meta_features(self, blocks, outputs):
        parts = []
        for name in blocks.names:
            part = np.tile(self.fill_values_[name], (len(blocks), 1))
            if name in outputs:
                rows, values = outputs[name]
                part[rows] = values
            parts.append(part)
        parts.append(
            np.column_stack([blocks.masks[name] for name in blocks.names]).astype(
                np.float64
            )
        )
        return np.hstack(parts)

    def predict_proba(self, X):
        """Class probabilities from the meta-learner.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            Blocks with the modalities seen in fit.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows with no modality present
            hold ``class_prior_``.
        """
        check_is_fitted(self)
        blocks = validate_blocks(self, X, reset=False)
        outputs = {}
        for name in blocks.names:
            rows, output, estimator = self._modality_output(
                blocks, name, self.stack_method_[name]
            )
            if output is not None:
                features = self._stack_features(name, output, estimator.classes_)
                outputs[name] = (rows, features)
        meta = self._meta_features(blocks, outputs)
        proba = np.zeros((len(blocks), len(self.classes_)))
        proba[:, np.asarray(self.final_estimator_.classes_, dtype=np.intp)] = (
            self.final_estimator_.predict_proba(meta)
        )
        return self._fallback(proba, blocks, rows_without_modality(blocks))

    def get_metadata_routing(self):
        """Route ``fit`` metadata to the estimators, the CV and the meta-learner.

        Returns
        -------
        routing : MetadataRouter
        """
        router = super().get_metadata_routing()
        router.add(
            final_estimator=self._final_template(),
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )
        return router
