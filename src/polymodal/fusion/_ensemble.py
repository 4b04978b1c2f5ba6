"""The shared base of the per-modality ensembles: late fusion and stacking.

One estimator per modality, each fitted on the rows where its modality is
present, as scikit-learn's ``ensemble/_base.py`` serves voting and stacking.
"""

from collections import defaultdict
from numbers import Integral

import numpy as np
from scipy.special import logit
from sklearn.base import ClassifierMixin, clone, is_classifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv
from sklearn.utils import Bunch, get_tags
from sklearn.utils.metadata_routing import (
    UNUSED,
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_is_fitted,
    column_or_1d,
    has_fit_parameter,
)

from ..utils._missing import (
    warn_predicted_rows_without_modality,
)
from ..utils._parallel import parallel_tasks, task
from ..utils._sklearn_compat import (
    HasMethods,
    _BaseComposition,
    _check_method_params,
    _check_sample_weight,
    _raise_for_params,
    _routing_enabled,
)
from ..utils._subset import ModalitySubsetMixin
from ..utils.validation import check_target_present, validate_blocks
from ._weights import fixed_weights, skill_weights

__all__ = []

#: Floor applied to probabilities before logarithms, so that one modality's
#: zero does not make a product or a log-odds infinite.
_PROBA_FLOOR = 1e-12

_PREFIX = "estimators__"

_CALIBRATION_ADVICE = (
    "wrap it in sklearn.calibration.CalibratedClassifierCV (for example "
    "CalibratedClassifierCV(SVC(), ensemble=False)); SVC(probability=True) is "
    "deprecated in scikit-learn 1.9"
)


class _ModalityEnsemble(ModalitySubsetMixin, _BaseComposition):
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

    _modality_keyed_params = ("weights",)

    def modality_subset_params(self, modalities):
        """The parameters that make this ensemble use only ``modalities``.

        Entries of ``weights`` and of ``estimators`` that name another
        modality are left out.

        Parameters
        ----------
        modalities : iterable of str
            The modalities kept.

        Returns
        -------
        params : dict
            For :meth:`set_params`; empty when nothing changes.
        """
        keep = set(modalities)
        params = super().modality_subset_params(keep)
        entries = self._entries()
        if any(name not in keep for name, _ in entries):
            params["estimators"] = [(n, est) for n, est in entries if n in keep]
        return params

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
                task(_fit_task, clone(estimators[name]), X_m, y_m, params, name)
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
                    task(
                        _fit_task,
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
        results = parallel_tasks(self.n_jobs, tasks, stacklevel=1)
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
        return fixed_weights(self.weights, names)

    def _learned_weights(self, scores, chance):
        """Weights proportional to each modality's inner-CV skill above chance."""
        self.modality_scores_ = scores
        return skill_weights(scores, chance, stacklevel=4)

    # -- prediction ---------------------------------------------------------
    def predict(self, X):
        """Predict each row from the modalities present in it.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            Blocks with the modalities seen in fit.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            A classifier's class of highest fused probability (the class
            description says how ties break), or a regressor's fused
            prediction. Rows with no modality present get the prediction of
            the training class prior, or the training mean.
        """
        check_is_fitted(self)
        return self._predict(validate_blocks(self, X, reset=False))

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


def log_odds(proba, floor=_PROBA_FLOOR):
    """Probabilities as log-odds: shape (n,) for two classes, else (n, n_classes).

    Two classes: :math:`\\log(p_1 / p_0)`. More: the centred log-probabilities
    :math:`\\log p_k - \\frac{1}{K}\\sum_j \\log p_j`, the multinomial logits up to
    a constant. Probabilities are clipped to ``[floor, 1 - floor]`` first.
    """
    proba = np.clip(proba, floor, 1 - floor)
    if proba.shape[1] == 2:
        return logit(proba[:, 1])
    log_proba = np.log(proba)
    return log_proba - log_proba.mean(axis=1, keepdims=True)


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

    def _fallback(self, proba, blocks, empty, which="present", stacklevel=3):
        """Give the training class prior to the ``empty`` rows, and warn."""
        warn_predicted_rows_without_modality(
            blocks,
            "training class prior",
            empty=empty,
            which=which,
            stacklevel=stacklevel,
        )
        proba[empty] = self.class_prior_
        return proba

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
        check_is_fitted(self)
        return self._predict_proba(validate_blocks(self, X, reset=False))

    def _predict(self, blocks):
        return self.classes_[np.argmax(self._predict_proba(blocks), axis=1)]

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
        return log_odds(self.predict_proba(X))
