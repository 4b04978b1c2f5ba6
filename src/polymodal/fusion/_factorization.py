"""Factorization fusion: a masked low-rank model of all modalities at once."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy import linalg, sparse
from sklearn.base import ClassNamePrefixFeaturesOutMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._blocks import ModalityBlocks
from ..utils._missing import warn_fused_rows_without_modality
from ..utils._sklearn_compat import Interval
from ._base import _BlockFusion

__all__ = ["FactorizationFusion"]

# Relative eigenvalue below which a Gram matrix counts as singular.
_GAUGE_TOLERANCE = 1e-10


class FactorizationFusion(ClassNamePrefixFeaturesOutMixin, _BlockFusion):
    """Collaborative-filtering fusion: each row's factors in a shared low-rank model.

    The blocks are stacked into one patient × feature matrix :math:`X` of shape
    ``(n_samples, n_features_in_)`` in which a row's cells are observed where its
    modality is present, and whole blocks are missing where it is absent, as
    in matrix completion for recommender systems. Each column :math:`j` of
    modality :math:`m` (width :math:`d_m`) is centred by an intercept
    :math:`\\mu_j`, scaled by its standard deviation :math:`\\sigma_j` over the
    observed entries, and weighted by :math:`1/\\sqrt{d_m}`:

    .. math::

        z_{ij} = \\frac{x_{ij} - \\mu_j}{\\sigma_j \\sqrt{d_m}},

    so every block has unit total variance and a wide block (5,000 TF-IDF
    columns) weighs as much as a narrow one (three lab values). This fixed
    weight stands in for MOFA's learned per-group noise precision: it needs
    no extra model and keeps the fit an ordinary least-squares problem.

    With :math:`p_{im} \\in \\{0, 1\\}` the presence of modality :math:`m` in
    row :math:`i`, the fit minimises, over the observed cells only,

    .. math::

        L(U, V, \\mu) = \\sum_{i, j \\,:\\, p_{i m(j)} = 1}
                  (z_{ij} - u_i^\\top v_j)^2
                  + \\alpha \\left(\\sum_i \\lVert u_i \\rVert^2
                  + \\sum_j \\lVert v_j \\rVert^2\\right)

    by alternating ridge least squares from random loadings seeded by
    ``random_state``. Each step solves its half exactly:

    .. math::

        u_i = \\Bigl(\\alpha I + \\sum_m p_{im} V_m^\\top V_m\\Bigr)^{-1}
              \\sum_m p_{im} V_m^\\top z_{im}, \\qquad
        V_m = Z_m^\\top U_m \\bigl(U_m^\\top U_m + \\alpha I\\bigr)^{-1},

    where :math:`V_m` holds the loadings of modality :math:`m`'s columns and
    :math:`U_m`, :math:`Z_m` the rows where it is present. The loading step
    fits the intercepts :math:`\\mu_j` together with :math:`V_m`, unpenalised
    (each column's ridge regression on :math:`[U_m, 1]`), starting from the
    observed column means. Refitting them matters: each block is observed on
    different rows, so its own column means are offset by a different average
    of the factors, and keeping them would leave an error of order
    :math:`1/\\sqrt{n}` in completed blocks.
    After each loading step the factors and loadings are rebalanced,
    :math:`U \\to U A`, :math:`V \\to V A^{-\\top}` with the :math:`A` that
    minimises the penalty: every product :math:`u_i^\\top v_j`, and so the
    data term, is unchanged, and :math:`U^\\top U = V^\\top V` afterwards, as
    at any minimum of :math:`L`. Plain alternation reaches that balance at a
    rate set by ``alpha`` against the singular values of the data, which grow
    with the number of rows, so it needed more iterations the more rows there
    were; with the rebalancing, and ``n_factors`` at the rank of the data's
    signal, the count stays at 6-8 from 4,000 to 256,000 rows (40 of 42
    fits on six synthetic cohorts; the other two took 28).
    Iterations stop when the relative change of :math:`L` falls to ``tol``,
    or after ``max_iter`` with a :class:`~sklearn.exceptions.ConvergenceWarning`.
    Factors beyond the signal's rank fit noise, whose directions grow more
    alike as rows are added, and alternation settles among them slowly: with
    three factors too many, the count rose from 13 to 22 on average over
    the same rows and cohorts. A smaller
    ``n_factors`` fits faster and loses nothing but noise.

    Values inside present rows must be finite.

    **Output.** :meth:`transform` re-infers each row's factor vector
    :math:`u_i` with the loadings fixed (the first update above), and returns
    it: ``n_factors`` columns for any head. ``fit_transform`` is
    ``fit(X).transform(X)``, so it equals re-inferring the training rows.

    **Absent modalities.** They simply contribute no term to :math:`u_i`: a
    row's factors come from the modalities it has. A row with no modality
    present gets the prior mean :math:`u_i = 0`, with a
    :class:`~polymodal.exceptions.MissingModalityWarning` naming the rows by
    the input's index labels: the fusion cannot choose the head's output, whose
    prediction for such a row rests on no observed data (a final-step fusion
    such as :class:`~polymodal.fusion.LateFusionClassifier` predicts the
    training prior instead). In ``fit`` such a row adds nothing to the
    loadings, and ``fit_transform`` warns about it alike.
    :meth:`complete` fills an absent block with its reconstruction
    :math:`\\hat x_{ij} = \\mu_j + \\sigma_j \\sqrt{d_m}\\, u_i^\\top v_j`, which
    is :math:`\\mu_j` for a row with no modality present.

    **Sparse blocks** are accepted and densified one block at a time, so a
    wide sparse block costs ``n_samples × width`` floats of memory; reduce it
    in the modality's pipeline (for example with
    :class:`~sklearn.decomposition.TruncatedSVD`) when that is too much.

    Parameters
    ----------
    n_factors : int, default=8
        Number of latent factors, the width of the output. At most
        ``min(n_samples, n_features_in_)``.
    alpha : float, default=1.0
        Ridge penalty on the factors and the loadings. It must be positive,
        which keeps every solve well posed, also for a row whose present
        blocks hold fewer columns than ``n_factors``. Larger values shrink the
        factors and the reconstruction towards the intercepts; the shrinkage
        is relative to the singular values of the data, which grow with the
        number of rows, so a few hundred rows recover low-rank structure more
        closely with a smaller value such as 0.1.
    max_iter : int, default=100
        Maximum number of alternating iterations (one factor and one loading
        update each).
    tol : float, default=1e-4
        Stop when the relative change of the objective is at most ``tol``.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial loadings. Pass an int for reproducible output.

    Attributes
    ----------
    components_ : ndarray of shape (n_factors, `n_features_in_`)
        The loadings :math:`V^\\top`, in the standardised, block-weighted
        space, columns in the modality order of ``modality_names_in_``.
    intercept_ : ndarray of shape (`n_features_in_`,)
        Column intercepts :math:`\\mu_j` on the original scale.
    scale_ : ndarray of shape (`n_features_in_`,)
        Column standard deviations :math:`\\sigma_j` over the training rows
        where each column's modality is present (1 for a constant column).
    block_weights_ : dict of str to float
        :math:`1/\\sqrt{d_m}` per modality.
    n_iter_ : int
        Number of iterations run.
    objective_ : float
        The objective :math:`L` at the last iteration.
    n_features_in_ : int
        Total number of input features over the modalities.
    modality_names_in_ : ndarray of str
        Modality names seen during fit.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame (a plain table is one modality
        named ``"x"``).

    See Also
    --------
    polymodal.fusion.ConcatFusion : Early fusion that imputes absent blocks by
        their mean.
    sklearn.decomposition.NMF : A factorization of one complete matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal import ModalityBlocks
    >>> from polymodal.fusion import FactorizationFusion
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.normal(size=(40, 2))
    >>> clinical = factors @ rng.normal(size=(2, 3))
    >>> note = factors @ rng.normal(size=(2, 4))
    >>> note[:10] = np.nan
    >>> blocks = ModalityBlocks(
    ...     {"clinical": clinical, "note": note},
    ...     masks={"note": np.arange(40) >= 10},
    ... )
    >>> fusion = FactorizationFusion(n_factors=2, alpha=0.1, random_state=0)
    >>> fusion.fit_transform(blocks).shape
    (40, 2)
    >>> fusion.get_feature_names_out()
    array(['factorizationfusion0', 'factorizationfusion1'], dtype=object)
    >>> completed = fusion.complete(blocks)
    >>> bool(completed.masks["note"].all()), bool(np.isnan(completed["note"]).any())
    (True, False)
    """

    _parameter_constraints = {
        "n_factors": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self, n_factors=8, *, alpha=1.0, max_iter=100, tol=1e-4, random_state=None
    ):
        self.n_factors = n_factors
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _fit(self, blocks, y):
        n_samples = len(blocks)
        limit = min(n_samples, self.n_features_in_)
        if self.n_factors > limit:
            raise ValueError(
                f"n_factors={self.n_factors} must be at most min(n_samples, "
                f"n_features) = {limit} (n_samples = {n_samples}, n_features = "
                f"{self.n_features_in_} over the modalities "
                f"{list(self.modality_names_in_)})."
            )
        masks = [blocks.masks[name] for name in blocks.names]
        dense = [_dense_copy(block) for _, block in blocks.items()]
        means, scales = [], []
        self.block_weights_ = {}
        for name, block, mask in zip(blocks.names, dense, masks, strict=True):
            present = block[mask]
            scale = present.std(axis=0)
            scale[scale == 0] = 1.0
            means.append(present.mean(axis=0))
            scales.append(scale)
            self.block_weights_[name] = 1.0 / np.sqrt(block.shape[1])
        self.intercept_ = np.concatenate(means)
        self.scale_ = np.concatenate(scales)
        standardized = self._standardize(dense, masks)

        rng = check_random_state(self.random_state)
        loadings = [
            rng.standard_normal((block.shape[1], self.n_factors))
            * self.block_weights_[name]
            for name, block in zip(blocks.names, standardized, strict=True)
        ]
        loadings, offsets, self.objective_, self.n_iter_ = _alternate(
            standardized, masks, loadings, self.alpha, self.max_iter, self.tol
        )
        # Folding the fitted offsets into the intercepts lets transform
        # standardise with intercept_ alone.
        self.intercept_ += self.scale_ * np.concatenate(
            [
                offset / self.block_weights_[name]
                for name, offset in zip(blocks.names, offsets, strict=True)
            ]
        )
        self.components_ = np.vstack(loadings).T

    def _transform(self, blocks):
        return self._infer_factors(blocks, "the prior mean 0 as factors", stacklevel=4)

    def complete(self, X):
        """Fill every absent block row with its reconstruction.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            Blocks with the modalities seen in fit.

        Returns
        -------
        completed : ModalityBlocks
            Dense float64 blocks with the same feature names, every mask True:
            present rows hold their values as given, absent rows the
            reconstruction :math:`\\mu_j + \\sigma_j \\sqrt{d_m}\\, u_i^\\top v_j`
            on the original scale (the intercepts for a row with no modality
            present).
        """
        check_is_fitted(self)
        blocks = self._validate_blocks(X, reset=False)
        factors = self._infer_factors(
            blocks, "the column means (intercept_) in every block", stacklevel=3
        )
        completed = {}
        for (name, block), columns in zip(
            blocks.items(), self._column_slices(), strict=True
        ):
            filled = _dense_copy(block)
            absent = ~blocks.masks[name]
            reconstruction = factors[absent] @ self.components_[:, columns]
            filled[absent] = (
                reconstruction / self.block_weights_[name] * self.scale_[columns]
                + self.intercept_[columns]
            )
            completed[name] = filled
        return ModalityBlocks(
            completed, feature_names=dict(blocks.feature_names), index=blocks.index
        )

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def _column_slices(self):
        widths = [shape[0] for shape in self._modality_shapes_in.values()]
        stops = np.cumsum(widths)
        return [
            slice(int(stop - width), int(stop))
            for width, stop in zip(widths, stops, strict=True)
        ]

    def _standardize(self, dense, masks):
        """Standardise and weight the blocks in place; absent rows become 0."""
        for name, block, mask, columns in zip(
            self.modality_names_in_, dense, masks, self._column_slices(), strict=True
        ):
            block -= self.intercept_[columns]
            block *= self.block_weights_[name] / self.scale_[columns]
            block[~mask] = 0.0
        return dense

    def _infer_factors(self, blocks, given, stacklevel):
        masks = [blocks.masks[name] for name in blocks.names]
        standardized = self._standardize(
            [_dense_copy(block) for _, block in blocks.items()], masks
        )
        loadings = [self.components_[:, columns].T for columns in self._column_slices()]
        warn_fused_rows_without_modality(
            self,
            blocks,
            given,
            empty=~np.logical_or.reduce(masks),
            stacklevel=stacklevel,
        )
        return _solve_factors(standardized, masks, loadings, self.alpha)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _dense_copy(block):
    if sparse.issparse(block):
        return block.toarray().astype(np.float64, copy=False)
    return np.array(block, dtype=np.float64)


def _alternate(standardized, masks, loadings, alpha, max_iter, tol):
    """Alternating ridge least squares from the given initial loadings."""
    offsets = [np.zeros(block.shape[1]) for block in standardized]
    groups = _presence_groups(masks)
    squared_norms = [
        float(np.einsum("ij,ij->", block, block)) for block in standardized
    ]
    objective = np.inf
    for n_iter in range(1, max_iter + 1):
        factors = _solve_factors(standardized, masks, loadings, alpha, offsets, groups)
        loadings, offsets, residual = _solve_loadings(
            standardized, masks, factors, alpha, squared_norms
        )
        factors, loadings = _balance(factors, loadings)
        previous = objective
        penalty = np.einsum("ij,ij->", factors, factors) + sum(
            np.einsum("ij,ij->", v, v) for v in loadings
        )
        objective = residual + alpha * float(penalty)
        change = abs(previous - objective) / objective if objective else 0.0
        if change <= tol:
            return loadings, offsets, float(objective), n_iter
    warnings.warn(
        f"FactorizationFusion did not converge in max_iter={max_iter} "
        f"iterations (relative change of the objective {change:.2e} > "
        f"tol={tol}); increase max_iter or tol.",
        ConvergenceWarning,
        stacklevel=5,
    )
    return loadings, offsets, float(objective), max_iter


def _balance(factors, loadings):
    """The factors and loadings with the same products and the least penalty.

    Every :math:`u_i^\\top v_j` is unchanged by :math:`U \\to U A`,
    :math:`V \\to V A^{-\\top}` for an invertible :math:`A`, and so is the
    data term of the objective; the penalty :math:`\\lVert U A\\rVert^2 +
    \\lVert V A^{-\\top}\\rVert^2` is least for :math:`A = P^{-1/2}
    R^{1/4}`, with :math:`P = U^\\top U`, :math:`Q = V^\\top V` and
    :math:`R = P^{1/2} Q P^{1/2}`, where both hold the same Gram matrix
    :math:`(A^\\top P A = A^{-1} Q A^{-\\top} = R^{1/2})`. Alternating
    least squares moves towards that balance only slowly, the more slowly the
    larger the singular values of the data are against ``alpha`` (so the
    more rows), which made the number of iterations grow with the number of
    rows. A rank-deficient :math:`U` or :math:`V` is returned unchanged.
    """
    stacked = np.vstack(loadings)
    root_p, inverse_root_p = _roots(factors.T @ factors)
    if root_p is None:
        return factors, loadings
    values, vectors = linalg.eigh(root_p @ (stacked.T @ stacked) @ root_p)
    if values.min() <= values.max() * _GAUGE_TOLERANCE:
        return factors, loadings
    quarter = (vectors * values**0.25) @ vectors.T
    inverse_quarter = (vectors * values**-0.25) @ vectors.T
    transform = inverse_root_p @ quarter
    inverse_transpose = root_p @ inverse_quarter
    return factors @ transform, [v @ inverse_transpose for v in loadings]


def _roots(gram):
    """Square root and inverse square root of a positive definite matrix."""
    values, vectors = linalg.eigh(gram)
    if values.min() <= values.max() * _GAUGE_TOLERANCE:
        return None, None
    return (vectors * np.sqrt(values)) @ vectors.T, (
        vectors / np.sqrt(values)
    ) @ vectors.T


def _presence_groups(masks):
    """The presence patterns of the rows, and the rows of each.

    Found once per fit: rows sharing a pattern share one Gram matrix in
    :func:`_solve_factors`. With up to 20 modalities a pattern is coded as
    the bits of an integer; while there are at most 64 patterns, the rows of
    each are found in one pass over the codes, without sorting the rows.
    """
    stacked = np.column_stack(masks)
    n_modalities = stacked.shape[1]
    if n_modalities <= 20:
        bits = 1 << np.arange(n_modalities)
        codes = stacked.astype(np.int64) @ bits
        used = np.flatnonzero(np.bincount(codes))
        patterns = (used[:, None] & bits) > 0
        if len(used) <= 64:
            rows = [np.flatnonzero(codes == code) for code in used]
            return [(p, r) for p, r in zip(patterns, rows, strict=True) if p.any()]
        pattern_of_row = np.searchsorted(used, codes)
    else:
        patterns, pattern_of_row = np.unique(stacked, axis=0, return_inverse=True)
        pattern_of_row = pattern_of_row.reshape(-1)
    order = np.argsort(pattern_of_row, kind="stable")
    rows = np.split(order, np.cumsum(np.bincount(pattern_of_row))[:-1])
    return [(p, r) for p, r in zip(patterns, rows, strict=True) if p.any()]


def _solve_factors(standardized, masks, loadings, alpha, offsets=None, groups=None):
    """Ridge solve of every row's factors over its present blocks.

    Rows sharing a presence pattern (``groups``, from :func:`_presence_groups`)
    share one Gram matrix, so there is one Cholesky solve per pattern, not per
    row. Absent rows of the standardised blocks are 0, and a pattern
    subtracts the offsets of its present blocks only, so absent blocks add
    nothing to the right-hand side. A row with no modality present keeps the
    factors 0.
    """
    n_factors = loadings[0].shape[1]
    rhs = sum(block @ v for block, v in zip(standardized, loadings, strict=True))
    shifts = (
        [offset @ v for offset, v in zip(offsets, loadings, strict=True)]
        if offsets is not None
        else [np.zeros(n_factors)] * len(loadings)
    )
    grams = [v.T @ v for v in loadings]
    if groups is None:
        groups = _presence_groups(masks)
    factors = np.zeros((len(rhs), n_factors))
    for pattern, rows in groups:
        present = np.flatnonzero(pattern)
        pattern_gram = alpha * np.eye(n_factors) + sum(grams[m] for m in present)
        pattern_rhs = rhs[rows] - sum(shifts[m] for m in present)
        factors[rows] = linalg.solve(pattern_gram, pattern_rhs.T, assume_a="pos").T
    return factors


def _solve_loadings(standardized, masks, factors, alpha, squared_norms):
    """Ridge solve of every block's loadings and offsets over its present rows.

    The design of block m is [U_m, 1]: the offsets are the unpenalised
    intercepts of the per-column regressions. Also returns the residual sum of
    squares over the present rows, ||B||^2 - 2 <C, W> + <W, G W> with the
    Gram matrix G and cross-products C that the solve forms anyway
    (``squared_norms`` holds each block's ||B||^2): no n-row residual is
    formed. Rebalancing leaves it unchanged, as it leaves every product
    u_i^T v_j unchanged.
    """
    n_factors = factors.shape[1]
    penalty = np.diag(np.r_[np.full(n_factors, alpha), 0.0])
    loadings, offsets, residual = [], [], 0.0
    # Absent rows of a standardised block are 0, so [U, 1]^T B needs no mask.
    design = np.column_stack([factors, np.ones(len(factors))])
    for block, mask, squared_norm in zip(
        standardized, masks, squared_norms, strict=True
    ):
        gram = (design * mask[:, None]).T @ design
        cross = design.T @ block
        solution = linalg.solve(gram + penalty, cross, assume_a="pos")
        residual += (
            squared_norm
            - 2.0 * np.einsum("ij,ij->", cross, solution)
            + np.einsum("ij,ij->", solution, gram @ solution)
        )
        loadings.append(solution[:n_factors].T)
        offsets.append(solution[n_factors])
    return loadings, offsets, max(float(residual), 0.0)
