"""Aggregate fusion: project every modality to a common width, then combine.

AverageFusion averages, ProductFusion multiplies element-wise and TensorFusion
takes the outer product of the projected modalities. All three share one
per-modality step, :class:`_BlockProjection`: a projection fitted on the rows
where the modality is present, followed by standardisation.
"""

import warnings
from math import prod
from numbers import Integral

import numpy as np
from scipy import sparse
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    clone,
)
from sklearn.cross_decomposition import PLSRegression
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import check_cv
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelBinarizer, StandardScaler
from sklearn.random_projection import GaussianRandomProjection
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from ..exceptions import PolymodalWarning
from ..utils._missing import (
    rows_without_modality,
    warn_fused_rows_without_modality,
)
from ..utils._sklearn_compat import (
    HasMethods,
    Interval,
    StrOptions,
    _check_feature_names_in,
    _fit_context,
)
from ..utils._sparse import as_dense
from ..utils._subset import ModalitySubsetMixin
from ._base import _BlockFusion
from ._weights import fixed_weights, one_vs_rest_auc, skill_weights

__all__ = ["AverageFusion", "ProductFusion", "TensorFusion"]

_CLASSIFICATION_TARGETS = ("binary", "multiclass")


def _is_classification(y):
    return type_of_target(y) in _CLASSIFICATION_TARGETS


class _BlockProjection(TransformerMixin, BaseEstimator):
    """Project one modality's present rows to ``n_components`` and standardise.

    A block at most ``n_components`` wide is used as it is: projecting it to
    its own width would only rotate it. Otherwise it is projected with PCA
    (TruncatedSVD, which does not centre, for a sparse block), PLS regression
    on the target, or a Gaussian random projection. Each output component is
    then standardised to mean 0 and standard deviation 1 over the fitted rows
    (a constant component stays 0).

    PLS components are signed so that each covaries positively with the first
    column of the encoded target (the positive class of a binary target, the
    target itself for regression), so that the same component of different
    modalities points the same way before they are averaged or multiplied.
    PLS needs dense input: a sparse block is densified, its present rows only.
    """

    def __init__(
        self, modality="x", n_components=2, projection="pca", random_state=None
    ):
        self.modality = modality
        self.n_components = n_components
        self.projection = projection
        self.random_state = random_state

    def fit(self, X, y=None):
        n_rows, width = X.shape
        if self.n_components > n_rows:
            raise ValueError(
                f"n_components={self.n_components} is more than the {n_rows} "
                f"present training rows of modality {self.modality!r} "
                f"(n_samples = {n_rows}); lower n_components or give that "
                "modality more rows."
            )
        self.signs_ = np.ones(min(width, self.n_components))
        if width <= self.n_components:
            self.projector_ = None
            projected = as_dense(X)
        elif self.projection == "pls" and self._pls_rank_ok(X):
            target = self._encode_target(y)
            dense = as_dense(X)
            self.projector_ = PLSRegression(n_components=self.n_components)
            projected = self.projector_.fit(dense, target).transform(dense)
            covariance = (projected - projected.mean(axis=0)).T @ (
                target[:, 0] - target[:, 0].mean()
            )
            self.signs_ = np.where(covariance < 0, -1.0, 1.0)
        else:
            self.projector_ = self._unsupervised_projector(sparse.issparse(X))
            projected = as_dense(self.projector_.fit_transform(X))
        self.scaler_ = StandardScaler().fit(projected * self.signs_)
        return self

    def _pls_rank_ok(self, X):
        """Whether PLS can find n_components; fewer directions give NaN weights."""
        dense = as_dense(X)
        rank = np.linalg.matrix_rank(dense - dense.mean(axis=0))
        if rank >= self.n_components:
            return True
        warnings.warn(
            f"Modality {self.modality!r} has rank {rank} over its present "
            f"training rows, less than n_components={self.n_components}: PLS "
            "cannot find that many components, so it is projected with PCA.",
            PolymodalWarning,
            stacklevel=5,
        )
        return False

    def transform(self, X):
        if self.projector_ is None:
            projected = X
        elif isinstance(self.projector_, PLSRegression):
            projected = self.projector_.transform(as_dense(X))
        else:
            projected = self.projector_.transform(X)
        return self.scaler_.transform(as_dense(projected) * self.signs_)

    def _unsupervised_projector(self, is_sparse):
        if self.projection == "random":
            return GaussianRandomProjection(
                n_components=self.n_components, random_state=self.random_state
            )
        if is_sparse:
            return TruncatedSVD(
                n_components=self.n_components, random_state=self.random_state
            )
        return PCA(n_components=self.n_components, random_state=self.random_state)

    def _encode_target(self, y):
        classification = _is_classification(y)
        target = _encoded_target(y)
        if np.ptp(target, axis=0).max() == 0:
            held = "only 1 class" if classification else "a single value"
            raise ValueError(
                f"projection='pls' needs a target that varies over the present "
                f"training rows of modality {self.modality!r}; it holds {held} "
                "there. Use projection='pca' or 'random'."
            )
        return target


def _encoded_target(y):
    """The target as float columns: one-hot classes (one column for two), or y."""
    if _is_classification(y):
        return LabelBinarizer().fit_transform(y).astype(np.float64)
    return np.asarray(y, dtype=np.float64).reshape(len(y), -1)


def _signs_towards(values, reference):
    """+1 or -1 per column of ``values``: the sign of its covariance with ``reference``.

    ``reference`` is one column for all of them, or one column each. A column
    without covariance (constant, or no rows) keeps +1.
    """
    if reference.ndim == 1:
        reference = reference[:, None]
    covariance = np.sum(
        (values - values.mean(axis=0)) * (reference - reference.mean(axis=0)), axis=0
    )
    return np.where(covariance < 0, -1.0, 1.0)


def _requires_y_message(estimator, option):
    return (
        f"{type(estimator).__name__} with {option} requires y to be passed, but "
        "the target y is None."
    )


class _ProjectedFusion(_BlockFusion):
    """Shared fit and transform of the fusions built on :class:`_BlockProjection`.

    Subclasses set ``_padding`` (the value that fills the components a narrow
    block lacks, or None to leave it narrow) and implement ``_combine``.
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "projection": [StrOptions({"pca", "pls", "random"})],
        "sign_alignment": [StrOptions({"auto", "target", "reference"}), None],
        "random_state": ["random_state"],
    }
    _padding = 0.0
    _padding_note = "zero-padded to the common width"
    # The values of parameters added with sign alignment that reproduce what a
    # fusion saved before then computed.
    _params_before_alignment = {}

    def _fit(self, blocks, y):
        """Fit one projection per modality on its present rows, and their signs."""
        if y is None and self.projection == "pls":
            raise ValueError(_requires_y_message(self, "projection='pls'"))
        if y is None and self.sign_alignment == "target":
            raise ValueError(_requires_y_message(self, "sign_alignment='target'"))
        y = None if y is None else np.asarray(y)
        if y is not None and len(y) != len(blocks):
            raise ValueError(
                f"X has {len(blocks)} rows but y has {len(y)}; they must describe "
                "the same samples."
            )
        widths = {name: block.shape[1] for name, block in blocks.items()}
        self._check_widths(widths)
        rng = check_random_state(self.random_state)
        self.projections_ = {}
        for name, block in blocks.items():
            if widths[name] < self.n_components:
                warnings.warn(
                    f"Modality {name!r} has {widths[name]} features, fewer than "
                    f"n_components={self.n_components}: it is used whole, "
                    f"{self._padding_note}.",
                    PolymodalWarning,
                    stacklevel=4,
                )
            mask = blocks.masks[name]
            self.projections_[name] = _BlockProjection(
                modality=name,
                n_components=self.n_components,
                projection=self.projection,
                random_state=rng.randint(np.iinfo(np.int32).max),
            ).fit(block[mask], None if y is None else y[mask])
        self.component_signs_ = self._aligned_signs(blocks, y)

    def _aligned_signs(self, blocks, y):
        """The sign of every modality's components, chosen on the training rows.

        ``"target"``: each component covaries non-negatively with the first
        column of the encoded target. ``"reference"``: component k of each
        modality covaries non-negatively with component k of the reference
        modality (the one present in most rows, the first of them on a tie)
        over the rows where both are present. None: the projection's own signs.
        """
        rule = self.sign_alignment
        if rule == "auto":
            rule = "reference" if y is None else "target"
        components = {}
        for name, block in blocks.items():
            mask = blocks.masks[name]
            values = np.zeros(
                (len(blocks), self.projections_[name].scaler_.n_features_in_)
            )
            values[mask] = self.projections_[name].transform(block[mask])
            components[name] = values
        if rule is None:
            return {name: np.ones(v.shape[1]) for name, v in components.items()}
        if rule == "target":
            target = _encoded_target(y)[:, 0]
            return {
                name: _signs_towards(
                    values[blocks.masks[name]], target[blocks.masks[name]]
                )
                for name, values in components.items()
            }
        reference = max(blocks.names, key=lambda name: blocks.masks[name].sum())
        signs = {}
        for name, values in components.items():
            both = blocks.masks[name] & blocks.masks[reference]
            shared = min(values.shape[1], components[reference].shape[1])
            signs[name] = np.ones(values.shape[1])
            if name != reference:
                signs[name][:shared] = _signs_towards(
                    values[both, :shared], components[reference][both, :shared]
                )
        return signs

    def _check_widths(self, widths):
        """Hook for a subclass to reject the modality widths before fitting."""

    def _transform(self, blocks):
        return self._combine(self._standardised(blocks), blocks)

    def _standardised(self, blocks):
        """Each modality's standardised components; absent rows hold 0."""
        components = {}
        for name, block in blocks.items():
            mask = blocks.masks[name]
            projection = self.projections_[name]
            width = projection.scaler_.n_features_in_
            values = np.zeros((len(blocks), width))
            if mask.any():
                values[mask] = (
                    projection.transform(block[mask]) * (self.component_signs_[name])
                )
            if self._padding is not None and width < self.n_components:
                fill = np.full((len(blocks), self.n_components - width), self._padding)
                values = np.hstack([values, fill])
            components[name] = values
        return components

    def _warn_empty_rows(self, blocks, empty, given, which="present"):
        warn_fused_rows_without_modality(
            self, blocks, given, empty=empty, which=which, stacklevel=6
        )

    def __setstate__(self, state):
        # A fusion saved before signs were aligned keeps its projections' own
        # signs, and the parameters it had then, so that it predicts as it did.
        if "sign_alignment" not in state:
            state = {**self._params_before_alignment, **state, "sign_alignment": None}
            if "projections_" in state:
                state["component_signs_"] = {
                    name: np.ones(projection.scaler_.n_features_in_)
                    for name, projection in state["projections_"].items()
                }
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.required = self.projection == "pls"
        return tags


class AverageFusion(
    ModalitySubsetMixin, ClassNamePrefixFeaturesOutMixin, _ProjectedFusion
):
    """Average the projected modalities present in each row.

    Every modality :math:`m` is projected to ``n_components`` dimensions and
    standardised (see *Projection*), giving :math:`z_{im}` for row :math:`i`.
    The fused row is the weighted mean over the modalities present in it:

    .. math::

        z_i = \\frac{\\sum_m w_m\\, p_{im}\\, z_{im}}{\\sum_m w_m\\, p_{im}}

    with :math:`p_{im} \\in \\{0, 1\\}` the presence of modality :math:`m` in
    row :math:`i` and :math:`w_m \\ge 0` its weight.

    **Absent modalities.** They drop out of both sums, so the weights are
    re-normalised per row over the modalities present. A row with no modality
    present (or only modalities of weight 0) gets the zero vector, the training
    mean of every standardised component, and a
    :class:`~polymodal.exceptions.MissingModalityWarning` naming the rows by
    the input's index labels: the fusion cannot choose the head's output, whose
    prediction for such a row rests on no observed data (a final-step fusion
    such as :class:`~polymodal.fusion.LateFusionClassifier` predicts the
    training prior instead). ``fit_transform`` warns about training rows alike.

    **Projection.** Per modality, on the training rows where it is present:
    ``"pca"`` (for a sparse block :class:`~sklearn.decomposition.TruncatedSVD`,
    which does not centre the data, so that it stays sparse),
    ``"pls"`` (:class:`~sklearn.cross_decomposition.PLSRegression` on the
    target, one-hot encoded for classification; each component is signed to
    covary positively with the first encoded target column, so that the
    modalities agree in sign; a sparse block is densified for it), or
    ``"random"`` (a seeded Gaussian random projection). Each component is
    then standardised to mean 0 and standard deviation 1 over those rows. A
    block at most ``n_components`` wide is used as it is (only standardised);
    a narrower one is zero-padded to ``n_components``, with a
    :class:`~polymodal.exceptions.PolymodalWarning` naming it.
    ``n_components`` larger than a modality's number of present training rows
    is an error.

    **Sign alignment.** A projection's components have arbitrary signs: the
    first principal component of one modality may grow with the risk while
    that of another falls with it, and their average would cancel the signal.
    Every component is therefore multiplied by a sign
    :math:`s_{mk} \\in \\{-1, 1\\}` chosen at fit and stored in
    ``component_signs_``, so that ``transform`` needs no target:

    - ``"target"``: :math:`s_{mk} = \\operatorname{sign}\\operatorname{Cov}(z_{mk},
      t)` over the modality's present training rows, with :math:`t` the first
      column of the encoded target (the positive class of a binary target, the
      first class of a multiclass one, the target itself for regression);
    - ``"reference"``: :math:`s_{mk} = \\operatorname{sign}\\operatorname{Cov}(
      z_{mk}, z_{rk})` over the training rows where both :math:`m` and the
      reference modality :math:`r` are present; :math:`r` is the modality
      present in most training rows (the first of them on a tie) and keeps
      its signs, as do components beyond its width;
    - ``"auto"``: ``"target"`` when ``fit`` receives y (as in a
      :class:`~sklearn.pipeline.Pipeline`), ``"reference"`` otherwise;
    - None: the projection's own signs (PLS components are already signed to
      the target).

    A zero covariance keeps the sign +1.

    **Learned weights.** With ``weights="learn"``, each modality's weight is
    its cross-validated skill: the projection and a linear model
    (:class:`~sklearn.linear_model.LogisticRegression` for a classification
    target, :class:`~sklearn.linear_model.Ridge` otherwise) are fitted on the
    training folds of the modality's present rows and scored on the held-out
    fold. A classifier's score :math:`s_m` is the ROC AUC of its out-of-fold
    probabilities pooled over the folds (the macro one-vs-rest average for
    more than two classes), which rewards a modality that ranks the patients
    well even when few of them cross a 0.5 threshold; its chance level is
    :math:`c = 0.5`. A regressor's is the mean :math:`R^2` over the folds,
    with :math:`c = 0` (predicting the mean). The weights are
    :math:`w_m = \\max(s_m - c, 0) / \\sum_j \\max(s_j - c, 0)`, so a
    modality no better than chance gets weight 0; if none beats chance, the
    weights are equal, with a warning. The folds respect ``groups`` (pass it to
    ``fit``; inside a pipeline, enable metadata routing and call
    ``set_fit_request(groups=True)``).

    Parameters
    ----------
    n_components : int, default=8
        The common width every modality is projected to.
    weights : None, dict of str to float, or "learn", default=None
        None weighs every modality 1; a dict gives a weight >= 0 per modality
        (modalities not named weigh 1; naming a modality the blocks do not
        hold is an error); "learn" learns them (see above), which needs y.
    projection : {"pca", "pls", "random"}, default="pca"
        How each block is projected; "pls" needs y.
    sign_alignment : {"auto", "target", "reference"} or None, default="auto"
        How the signs of the components are chosen (see *Sign alignment*);
        "target" needs y.
    cv : int or cross-validation splitter, default=5
        The inner cross-validation of ``weights="learn"``: a number of folds
        (stratified for a classification target) or a splitter such as
        :class:`~sklearn.model_selection.GroupKFold`. Each modality is split
        over its own present rows, so an iterable of fixed splits does not
        apply.
    random_state : int, RandomState instance or None, default=None
        Seeds the projections (PCA solvers, random projections).

    Attributes
    ----------
    weights_ : dict of str to float
        The weight of each modality (for ``weights="learn"``, the learned
        weights, which sum to 1).
    modality_scores_ : dict of str to float
        The inner cross-validated score of each modality (ROC AUC or
        :math:`R^2`); only with ``weights="learn"``.
    component_signs_ : dict of str to ndarray
        The sign, +1 or -1, each modality's components are multiplied by.
    projections_ : dict of str to estimator
        Each modality's fitted projection: its ``projector_`` is the fitted
        PCA, TruncatedSVD, PLSRegression or GaussianRandomProjection (None for a
        block used as it is) and its ``scaler_`` the standardisation.
    n_features_in_ : int
        Total number of input features over the modalities.
    modality_names_in_ : ndarray of str
        Modality names seen during fit.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame (one modality, ``"x"``).

    See Also
    --------
    ProductFusion : Element-wise product of the same projected blocks.
    TensorFusion : Outer product of the projected blocks.
    ConcatFusion : Concatenation, for heads that weigh features themselves.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal import ModalityBlocks
    >>> from polymodal.fusion import AverageFusion
    >>> blocks = ModalityBlocks(
    ...     {"ct": np.array([[2.0], [4.0], [2.0], [4.0]]),
    ...      "note": np.array([[1.0], [3.0], [np.nan], [3.0]])},
    ...     masks={"note": [True, True, False, True]},
    ... )
    >>> fusion = AverageFusion(n_components=1, weights={"ct": 3.0}).fit(blocks)
    >>> fusion.transform(blocks).round(3).ravel()
    array([-1.104,  0.927, -1.   ,  0.927])
    >>> fusion.get_feature_names_out()
    array(['averagefusion0'], dtype=object)
    """

    _parameter_constraints = {
        **_ProjectedFusion._parameter_constraints,
        "weights": [dict, StrOptions({"learn"}), None],
        "cv": [
            Interval(Integral, 2, None, closed="left"),
            HasMethods(["split", "get_n_splits"]),
        ],
    }

    _modality_keyed_params = ("weights",)

    def __init__(
        self,
        n_components=8,
        *,
        weights=None,
        projection="pca",
        sign_alignment="auto",
        cv=5,
        random_state=None,
    ):
        self.n_components = n_components
        self.weights = weights
        self.projection = projection
        self.sign_alignment = sign_alignment
        self.cv = cv
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, groups=None):
        """Fit the projections and, for ``weights="learn"``, the weights.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            The blocks; a plain array is one modality.
        y : array-like of shape (n_samples,), default=None
            The target; needed for ``projection="pls"``,
            ``weights="learn"`` and ``sign_alignment="target"``, and used by
            ``sign_alignment="auto"``.
        groups : array-like of shape (n_samples,), default=None
            Group labels for the inner cross-validation of
            ``weights="learn"`` (for example patient ids); ignored otherwise.

        Returns
        -------
        self : AverageFusion
        """
        if self.weights == "learn" and y is None:
            raise ValueError(_requires_y_message(self, "weights='learn'"))
        blocks = self._validate_blocks(X, reset=True)
        self._fit(blocks, y)
        if self.weights == "learn":
            self.weights_ = self._learn_weights(blocks, np.asarray(y), groups)
        else:
            self.weights_ = fixed_weights(self.weights, blocks.names)
        self._n_features_out = self.n_components
        return self

    def _learn_weights(self, blocks, y, groups):
        groups = None if groups is None else np.asarray(groups)
        if groups is not None and len(groups) != len(blocks):
            raise ValueError(
                f"X has {len(blocks)} rows but groups has {len(groups)}; they must "
                "describe the same samples."
            )
        classification = _is_classification(y)
        self.modality_scores_ = {}
        for name, block in blocks.items():
            mask = blocks.masks[name]
            try:
                self.modality_scores_[name] = _cross_validated_score(
                    clone(self.projections_[name]),
                    block[mask],
                    y[mask],
                    None if groups is None else groups[mask],
                    self.cv,
                    classification,
                )
            except ValueError as error:
                raise ValueError(
                    f"weights='learn': the inner cross-validation of modality "
                    f"{name!r} over its {mask.sum()} present training rows "
                    f"failed: {error}"
                ) from error
        return skill_weights(
            self.modality_scores_, chance=0.5 if classification else 0.0, stacklevel=3
        )

    def _combine(self, components, blocks):
        total = np.zeros((len(blocks), self.n_components))
        weight = np.zeros(len(blocks))
        for name, values in components.items():
            present_weight = self.weights_[name] * blocks.masks[name]
            total += present_weight[:, None] * values
            weight += present_weight
        empty = weight == 0
        self._warn_empty_rows(
            blocks,
            empty,
            "the zero vector (the training mean of every component)",
            which="present (or only modalities of weight 0)",
        )
        total[~empty] /= weight[~empty, None]
        return total

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = tags.target_tags.required or self.weights == "learn"
        return tags


def _cross_validated_score(projection, X, y, groups, cv, classification):
    """Held-out skill of projection + linear model on one modality.

    Classification: the ROC AUC (one-vs-rest macro average for more than two
    classes) of the out-of-fold probabilities pooled over the folds, which
    scores the ranking, not a 0.5 threshold. Regression: the mean R² over the
    folds (a one-row fold, whose R² is undefined, is left out).
    """
    model = LogisticRegression(max_iter=1000) if classification else Ridge(alpha=1.0)
    pipeline = make_pipeline(projection, model)
    splitter = check_cv(cv, y, classifier=classification)
    if classification:
        classes, encoded = np.unique(y, return_inverse=True)
        proba = np.zeros((len(y), len(classes)))
        for train, test in splitter.split(X, y, groups):
            pipeline.fit(X[train], encoded[train])
            proba[np.ix_(test, pipeline.classes_)] = pipeline.predict_proba(X[test])
        return one_vs_rest_auc(encoded, proba, None)
    scores = []
    for train, test in splitter.split(X, y, groups):
        pipeline.fit(X[train], y[train])
        scores.append(r2_score(y[test], pipeline.predict(X[test])))
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores[np.isfinite(scores)]
    return float(scores.mean()) if scores.size else float("nan")


class ProductFusion(ClassNamePrefixFeaturesOutMixin, _ProjectedFusion):
    """Element-wise (Hadamard) product of the projected modalities, with main effects.

    Every modality :math:`m` is projected to ``n_components`` dimensions,
    standardised and sign-aligned, as in :class:`AverageFusion`, giving
    :math:`z_{im}`. With ``main_effects=True`` (the default) the fused row
    holds every modality's components and their product, component by
    component (one modality alone is its own product, output once):

    .. math::

        z_i = [\\, z_{i1}, \\dots, z_{iM},\\; z_{i1} \\odot \\dots \\odot z_{iM} \\,]

    of width :math:`(M + 1) \\times` ``n_components``. The product carries
    interactions that an average cannot (a component is large only when it is
    large in every modality); the main effects keep what each modality says
    alone, which is most of the signal when the modalities act additively,
    and which a product alone loses: a linear head on
    :math:`z_{i1} \\odot z_{i2}` cannot fit :math:`y = z_1 + z_2`. With
    ``main_effects=False`` the output is the product alone, of width
    ``n_components``.

    **Absent modalities.** With main effects, an absent modality's components
    are 0 (their training mean) and so is every product it takes part in: the
    fusion of the mean-imputed modalities. With ``main_effects=False``, an
    absent modality contributes the multiplicative identity 1 instead, so the
    product runs over the present modalities only. A row with no modality
    present gets the zero vector (the training mean of the standardised
    components) and a :class:`~polymodal.exceptions.MissingModalityWarning`
    naming the rows by the input's index labels: the fusion cannot choose the
    head's output, whose prediction for such a row rests on no observed data
    (a final-step fusion such as
    :class:`~polymodal.fusion.LateFusionClassifier` predicts the training
    prior instead). ``fit_transform`` warns about training rows alike.

    **Projection and signs.** As in :class:`AverageFusion`: ``"pca"``
    (TruncatedSVD for a sparse block, without centring), ``"pls"`` or
    ``"random"``, fitted on the modality's present training rows, then
    standardised and multiplied by ``component_signs_`` (*Sign alignment*
    there). A block at most ``n_components`` wide is used as it is; a narrower
    one is padded with ones in the product (the identity, so that it leaves
    the other modalities' extra components intact; zeros would erase them)
    and with zeros among the main effects, with a
    :class:`~polymodal.exceptions.PolymodalWarning`. ``n_components`` larger
    than a modality's number of present training rows is an error.

    Parameters
    ----------
    n_components : int, default=8
        The common width every modality is projected to.
    main_effects : bool, default=True
        Output each modality's components before their product; False outputs
        the product alone.
    projection : {"pca", "pls", "random"}, default="pca"
        How each block is projected; "pls" needs y.
    sign_alignment : {"auto", "target", "reference"} or None, default="auto"
        How the signs of the components are chosen (see
        :class:`AverageFusion`); "target" needs y.
    random_state : int, RandomState instance or None, default=None
        Seeds the projections.

    Attributes
    ----------
    projections_ : dict of str to estimator
        Each modality's fitted projection (see :class:`AverageFusion`).
    component_signs_ : dict of str to ndarray
        The sign, +1 or -1, each modality's components are multiplied by.
    n_features_in_ : int
        Total number of input features over the modalities.
    modality_names_in_ : ndarray of str
        Modality names seen during fit.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame (one modality, ``"x"``).

    See Also
    --------
    AverageFusion : Weighted mean of the same projected blocks.
    TensorFusion : All products of the components, not only matching ones.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal import ModalityBlocks
    >>> from polymodal.fusion import ProductFusion
    >>> blocks = ModalityBlocks(
    ...     {"ct": np.array([[2.0], [4.0], [2.0], [4.0]]),
    ...      "note": np.array([[1.0], [3.0], [np.nan], [5.0]])},
    ...     masks={"note": [True, True, False, True]},
    ... )
    >>> fusion = ProductFusion(n_components=1).fit(blocks)
    >>> fusion.get_feature_names_out()
    array(['ct0', 'note0', 'ct0*note0'], dtype=object)
    >>> fusion.transform(blocks).round(3)
    array([[-1.   , -1.225,  1.225],
           [ 1.   ,  0.   ,  0.   ],
           [-1.   ,  0.   ,  0.   ],
           [ 1.   ,  1.225,  1.225]])
    """

    _parameter_constraints = {
        **_ProjectedFusion._parameter_constraints,
        "main_effects": ["boolean"],
    }
    _padding = 1.0
    _padding_note = "padded with ones (the identity of the product)"
    _params_before_alignment = {"main_effects": False}

    def __init__(
        self,
        n_components=8,
        *,
        main_effects=True,
        projection="pca",
        sign_alignment="auto",
        random_state=None,
    ):
        self.n_components = n_components
        self.main_effects = main_effects
        self.projection = projection
        self.sign_alignment = sign_alignment
        self.random_state = random_state

    @property
    def _n_features_out(self):
        return len(self._factors()) * self.n_components

    def _factors(self):
        """The modalities of each output group; one modality has no product."""
        names = list(self.projections_)
        if not self.main_effects:
            return [names]
        return [[name] for name in names] + ([names] if len(names) > 1 else [])

    def _combine(self, components, blocks):
        empty = rows_without_modality(blocks)
        self._warn_empty_rows(
            blocks, empty, "the zero vector (the training mean of every component)"
        )
        product = np.ones((len(blocks), self.n_components))
        for name, values in components.items():
            mask = blocks.masks[name]
            if self.main_effects:
                product[~mask] = 0.0
            product[mask] *= values[mask]
        product[empty] = 0.0
        if not self.main_effects:
            return product
        main = []
        for name, values in components.items():
            main_effect = values.copy()
            main_effect[:, self.projections_[name].scaler_.n_features_in_ :] = 0.0
            main.append(main_effect)
        return np.hstack(main + [product] * (len(main) > 1))

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Only checked against the input seen in fit.

        Returns
        -------
        feature_names_out : ndarray of str
            With ``main_effects=True``, each modality's components
            (``"ct0"``) then their products (``"ct0*note0"``); otherwise
            ``"productfusion0"``, ``"productfusion1"``, ...
        """
        if not self.main_effects:
            return super().get_feature_names_out(input_features)
        check_is_fitted(self)
        _check_feature_names_in(self, input_features, generate_names=False)
        return np.asarray(
            [
                "*".join(f"{name}{k}" for name in factor)
                for factor in self._factors()
                for k in range(self.n_components)
            ],
            dtype=object,
        )


class TensorFusion(_ProjectedFusion):
    """Tensor fusion (TFN): the flattened outer product of ``[1, z_m]``.

    Every modality :math:`m` is projected to ``n_components`` dimensions and
    standardised, as in :class:`AverageFusion`, giving :math:`z_{im}`. The
    fused row is

    .. math::

        z_i = \\operatorname{vec}\\Big(\\bigotimes_{m=1}^{M}
              \\begin{bmatrix} 1 \\\\ z_{im} \\end{bmatrix}\\Big)

    of length :math:`\\prod_m (d_m + 1)` with :math:`d_m` the modality's
    width (``n_components``, or less for a narrower block). The leading 1 of
    each factor keeps every lower-order term: the output holds the constant 1,
    each modality's components alone, and every product of components of two,
    three, ... modalities, so a linear head on it models all cross-modal
    interactions (Zadeh et al., 2017, *Tensor Fusion Network*). The first
    modality varies slowest. Feature names read as the product they hold:
    ``"1"``, ``"ct0"``, ``"ct0*note2"``.

    **Absent modalities.** An absent modality's factor is :math:`[1, 0, \\dots,
    0]`: only its constant term survives, so its terms vanish and the products
    of the present modalities remain. A row with no modality present is
    :math:`[1, 0, \\dots, 0]`, the fusion of the training mean, and emits a
    :class:`~polymodal.exceptions.MissingModalityWarning` naming the rows by
    the input's index labels: the fusion cannot choose the head's output, whose
    prediction for such a row rests on no observed data (a final-step fusion
    such as :class:`~polymodal.fusion.LateFusionClassifier` predicts the
    training prior instead). ``fit_transform`` warns about training rows alike.

    **Size.** The output width grows as a product over modalities: 4
    modalities of 8 components give 6,561 features. A width above
    ``max_features`` is an error at fit, naming the width and the modalities;
    lower ``n_components``, or fuse fewer modalities.

    **Projection and signs.** As in :class:`AverageFusion`, fitted on each
    modality's present training rows, then standardised and multiplied by
    ``component_signs_``. A linear head on the tensor is indifferent to the
    signs (a flipped component flips its terms' coefficients); a tree's or a
    kernel's splits are not, so the signs are aligned all the same. A block
    narrower than
    ``n_components`` is used whole and contributes its own width (the outer
    product needs no common width), with a
    :class:`~polymodal.exceptions.PolymodalWarning`. ``n_components`` larger
    than a modality's number of present training rows is an error.

    Parameters
    ----------
    n_components : int, default=4
        The width every modality is projected to.
    max_features : int, default=10000
        The largest output width accepted.
    projection : {"pca", "pls", "random"}, default="pca"
        How each block is projected; "pls" needs y.
    sign_alignment : {"auto", "target", "reference"} or None, default="auto"
        How the signs of the components are chosen (see
        :class:`AverageFusion`); "target" needs y.
    random_state : int, RandomState instance or None, default=None
        Seeds the projections.

    Attributes
    ----------
    projections_ : dict of str to estimator
        Each modality's fitted projection (see :class:`AverageFusion`).
    component_signs_ : dict of str to ndarray
        The sign, +1 or -1, each modality's components are multiplied by.
    n_features_in_ : int
        Total number of input features over the modalities.
    modality_names_in_ : ndarray of str
        Modality names seen during fit.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame (one modality, ``"x"``).

    See Also
    --------
    ProductFusion : Only the matching components' products, at a fixed width.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal import ModalityBlocks
    >>> from polymodal.fusion import TensorFusion
    >>> blocks = ModalityBlocks(
    ...     {"ct": np.array([[2.0], [4.0], [4.0], [2.0]]),
    ...      "note": np.array([[1.0], [3.0], [np.nan], [5.0]])},
    ...     masks={"note": [True, True, False, True]},
    ... )
    >>> fusion = TensorFusion(n_components=1).fit(blocks)
    >>> fusion.get_feature_names_out()
    array(['1', 'note0', 'ct0', 'ct0*note0'], dtype=object)
    >>> fusion.transform(blocks).round(3)
    array([[ 1.   , -1.225, -1.   ,  1.225],
           [ 1.   ,  0.   ,  1.   ,  0.   ],
           [ 1.   ,  0.   ,  1.   ,  0.   ],
           [ 1.   ,  1.225, -1.   , -1.225]])
    """

    _parameter_constraints = {
        **_ProjectedFusion._parameter_constraints,
        "max_features": [Interval(Integral, 1, None, closed="left")],
    }
    _padding = None
    _padding_note = "contributing fewer components to the outer product"

    def __init__(
        self,
        n_components=4,
        *,
        max_features=10000,
        projection="pca",
        sign_alignment="auto",
        random_state=None,
    ):
        self.n_components = n_components
        self.max_features = max_features
        self.projection = projection
        self.sign_alignment = sign_alignment
        self.random_state = random_state

    def _check_widths(self, widths):
        factors = {
            name: min(width, self.n_components) + 1 for name, width in widths.items()
        }
        size = prod(factors.values())
        if size > self.max_features:
            described = ", ".join(f"{name!r}: {n}" for name, n in factors.items())
            raise ValueError(
                f"TensorFusion would output {size} features, the product of the "
                f"factor sizes (components + 1) of the modalities ({described}), "
                f"more than max_features={self.max_features}. Lower n_components "
                f"(now {self.n_components}), fuse fewer modalities, or raise "
                "max_features."
            )

    def _combine(self, components, blocks):
        fused = np.ones((len(blocks), 1))
        for values in components.values():
            factor = np.hstack([np.ones((len(blocks), 1)), values])
            fused = (fused[:, :, None] * factor[:, None, :]).reshape(len(blocks), -1)
        empty = rows_without_modality(blocks)
        self._warn_empty_rows(
            blocks, empty, "[1, 0, ..., 0], the fusion of the training mean"
        )
        return fused

    def get_feature_names_out(self, input_features=None):
        """Names of the tensor products, such as ``"ct0*note2"``.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Only checked against the input seen in fit; the names come from
            the modalities and their components.

        Returns
        -------
        feature_names_out : ndarray of str
            ``"1"`` for the constant, otherwise the factors of each product
            joined by ``"*"``, each factor being a modality name followed by a
            component index.
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features, generate_names=False)
        names = [()]
        for name, projection in self.projections_.items():
            width = projection.scaler_.n_features_in_
            factors = [None, *(f"{name}{k}" for k in range(width))]
            names = [(*prefix, f) for prefix in names for f in factors]
        return np.asarray(
            ["*".join(f for f in factors if f) or "1" for factors in names],
            dtype=object,
        )
