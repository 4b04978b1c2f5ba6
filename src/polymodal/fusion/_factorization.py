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
from ..utils._chunks import chunk_rows
from ..utils._missing import warn_fused_rows_without_modality
from ..utils._sklearn_compat import Interval
from ._base import _BlockFusion

__all__ = ["FactorizationFusion"]

# Relative eigenvalue below which a Gram matrix counts as singular.
_GAUGE_TOLERANCE = 1e-10
# LAPACK's Cholesky solve, called directly: a chunk's solve is a few
# microseconds of work, less than scipy.linalg.cho_solve's checks around it.
_POTRS = linalg.lapack.dpotrs
#: Standardised entries per chunk of rows, 1 MiB of float64: a chunk stays in
#: cache from an iteration's factor solve to its loading sums, so that each
#: iteration reads the blocks from memory once.
_CHUNK_ELEMENTS = 1 << 17


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

    **Cost.** ``fit`` copies each block's present rows once, standardised, in
    an order that puts rows of the same presence pattern together; each
    iteration then reads that copy once, a chunk of rows at a time, solving
    the chunk's factors and adding them to the loading step's sums while the
    chunk is in cache. Time and memory grow in step with the rows (time slope
    0.99-1.01 over 128,000 to 1,024,000 rows in ``benchmarks/scale.py``,
    1.04-1.08 in fresh processes, which also pay for touching new memory).
    :meth:`transform` standardises and solves a chunk of rows at a time, with
    no copy of the blocks.

    **Sparse blocks** are accepted. ``fit`` densifies each block's present
    rows, so a wide sparse block costs ``n_present × width`` floats of memory;
    reduce it in the modality's pipeline (for example with
    :class:`~sklearn.decomposition.TruncatedSVD`) when that is too much.
    :meth:`transform` densifies a chunk of rows at a time.

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
        order, runs = _pattern_runs(
            [blocks.masks[name] for name in blocks.names], self.n_features_in_
        )
        standardized, squared_norms = self._standardized_copy(blocks, order, runs)

        rng = check_random_state(self.random_state)
        loadings = [
            rng.standard_normal((block.shape[1], self.n_factors))
            * self.block_weights_[name]
            for name, block in zip(blocks.names, standardized, strict=True)
        ]
        loadings, offsets, self.objective_, self.n_iter_ = _alternate(
            standardized,
            runs,
            squared_norms,
            loadings,
            self.alpha,
            self.max_iter,
            self.tol,
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

    def _standardized_copy(self, blocks, order, runs):
        """Each block's present rows in ``order``, standardised and weighted.

        Sets ``intercept_``, ``scale_`` and ``block_weights_`` from the column
        means and standard deviations over the present rows, merged chunk by
        chunk (Chan, Golub and LeVeque's pairwise update), so that the copy is
        the one pass over the input. Rows of a block's absent patterns are
        left unwritten: no step reads them. Also returns each standardised
        block's squared norm.
        """
        copies, means, scales, squared_norms = [], [], [], []
        self.block_weights_ = {}
        for index, (name, block) in enumerate(blocks.items()):
            width = block.shape[1]
            copy = np.empty((len(order), width))
            count, mean, squares = 0, np.zeros(width), np.zeros(width)
            for start, stop in _spans_with(runs, index):
                chunk = copy[start:stop]
                chunk[...] = _dense_rows(block, order[start:stop])
                chunk_mean = chunk.mean(axis=0)
                chunk_squares = np.square(chunk - chunk_mean).sum(axis=0)
                total = count + (stop - start)
                delta = chunk_mean - mean
                mean += delta * ((stop - start) / total)
                squares += chunk_squares + np.square(delta) * (
                    count * (stop - start) / total
                )
                count = total
            scale = np.sqrt(squares / count)
            scale[scale == 0] = 1.0
            weight = 1.0 / np.sqrt(width)
            for start, stop in _spans_with(runs, index):
                copy[start:stop] -= mean
                copy[start:stop] *= weight / scale
            copies.append(copy)
            means.append(mean)
            scales.append(scale)
            squared_norms.append(float(np.sum(squares / np.square(scale))) / width)
            self.block_weights_[name] = weight
        self.intercept_ = np.concatenate(means)
        self.scale_ = np.concatenate(scales)
        return copies, squared_norms

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
            filled = _dense_rows(block, np.arange(len(blocks)))
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

    def _infer_factors(self, blocks, given, stacklevel):
        masks = [blocks.masks[name] for name in blocks.names]
        warn_fused_rows_without_modality(
            self,
            blocks,
            given,
            empty=~np.logical_or.reduce(masks),
            stacklevel=stacklevel,
        )
        order, runs = _pattern_runs(masks, self.n_features_in_)
        columns = self._column_slices()
        loadings = [self.components_[:, block_columns].T for block_columns in columns]
        weights = [self.block_weights_[name] for name in blocks.names]
        values = [block for _, block in blocks.items()]
        factors = np.zeros((len(blocks), self.n_factors))
        for (present, spans), cholesky in zip(
            runs, _pattern_choleskys(loadings, runs, self.alpha), strict=True
        ):
            for start, stop in spans:
                rows = order[start:stop]
                chunks = []
                for index in present:
                    chunk = _dense_rows(values[index], rows)
                    chunk -= self.intercept_[columns[index]]
                    chunk *= weights[index] / self.scale_[columns[index]]
                    chunks.append(chunk)
                factors[rows] = _solve_chunk(
                    chunks, [loadings[index] for index in present], cholesky
                )
        return factors

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _dense_rows(block, rows):
    """The rows ``rows`` of a block, as a new dense float64 array."""
    taken = block[rows]
    if sparse.issparse(taken):
        return taken.toarray().astype(np.float64, copy=False)
    return np.asarray(taken, dtype=np.float64)


def _pattern_runs(masks, n_columns):
    """The rows with a modality, grouped by presence pattern, and their chunks.

    Returns ``order``, the indices of those rows with each pattern's rows
    together, and one ``(present, spans)`` per pattern: the indices of its
    present modalities, and ``(start, stop)`` bounds into ``order`` of
    chunks of about ``_CHUNK_ELEMENTS`` entries over the ``n_columns``
    columns. Within a chunk every block is either present in each row or
    absent in each, so no step needs a mask.
    """
    step = chunk_rows(n_columns, _CHUNK_ELEMENTS)
    groups = _presence_groups(masks)
    runs, start = [], 0
    for pattern, rows in groups:
        stop = start + len(rows)
        spans = [(s, min(s + step, stop)) for s in range(start, stop, step)]
        runs.append((tuple(int(m) for m in np.flatnonzero(pattern)), spans))
        start = stop
    if not groups:
        return np.zeros(0, dtype=np.intp), runs
    return np.concatenate([rows for _, rows in groups]), runs


def _spans_with(runs, index):
    """The chunk bounds of the patterns in which modality ``index`` is present."""
    return [span for present, spans in runs if index in present for span in spans]


def _alternate(standardized, runs, squared_norms, loadings, alpha, max_iter, tol):
    """Alternating ridge least squares from the given initial loadings."""
    offsets = [np.zeros(block.shape[1]) for block in standardized]
    objective = np.inf
    for n_iter in range(1, max_iter + 1):
        grams, crosses, factor_gram = _factor_step(
            standardized, runs, loadings, offsets, alpha
        )
        loadings, offsets, residual = _solve_loadings(
            grams, crosses, squared_norms, alpha
        )
        transform, loadings = _balance(factor_gram, loadings)
        previous = objective
        penalty = np.einsum("ij,ij->", transform, factor_gram @ transform) + sum(
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


def _factor_step(standardized, runs, loadings, offsets, alpha):
    """Every row's factors, summed into the loading step's Gram matrices.

    One pass over the blocks: each chunk of rows gets its factors :math:`U`
    by :func:`_solve_chunk`, and, while the chunk is still in cache, adds
    :math:`[U, 1]^\\top [U, 1]` to the Gram matrix and :math:`[U, 1]^\\top
    B_m` to the cross-products of each block :math:`m` present in it. The
    factors themselves are not kept: the rebalancing needs only
    :math:`U^\\top U`, also returned.
    """
    n_factors = loadings[0].shape[1]
    grams = np.zeros((len(loadings), n_factors + 1, n_factors + 1))
    crosses = [np.zeros((n_factors + 1, v.shape[0])) for v in loadings]
    total_gram = np.zeros((n_factors + 1, n_factors + 1))
    projections = [offset @ v for offset, v in zip(offsets, loadings, strict=True)]
    for (present, spans), cholesky in zip(
        runs, _pattern_choleskys(loadings, runs, alpha), strict=True
    ):
        shift = sum(projections[m] for m in present)
        pattern_gram = np.zeros((n_factors + 1, n_factors + 1))
        for start, stop in spans:
            chunks = [standardized[m][start:stop] for m in present]
            design = np.ones((stop - start, n_factors + 1))
            design[:, :n_factors] = _solve_chunk(
                chunks, [loadings[m] for m in present], cholesky, shift
            )
            pattern_gram += design.T @ design
            for m, chunk in zip(present, chunks, strict=True):
                crosses[m] += design.T @ chunk
        for m in present:
            grams[m] += pattern_gram
        total_gram += pattern_gram
    return grams, crosses, total_gram[:n_factors, :n_factors]


def _pattern_choleskys(loadings, runs, alpha):
    """Lower Cholesky factor of each pattern's factor-step matrix, in one call.

    The matrix of a pattern is alpha I + sum of V_m^T V_m over its present
    blocks m; all patterns' matrices are formed from the blocks' Gram
    matrices at once and factored as one stack, so that the many small
    patterns of a cohort with several modalities cost no call each.
    """
    n_factors = loadings[0].shape[1]
    presence = np.zeros((len(runs), len(loadings)))
    for index, (present, _) in enumerate(runs):
        presence[index, list(present)] = 1.0
    grams = np.stack([v.T @ v for v in loadings])
    matrices = np.einsum("pm,mij->pij", presence, grams)
    matrices += alpha * np.eye(n_factors)
    return np.linalg.cholesky(matrices)


def _solve_chunk(chunks, loadings, cholesky, shift=0.0):
    """Ridge solve of the factors of rows sharing a presence pattern.

    ``chunks`` holds those rows of each present block, standardised,
    ``loadings`` the blocks' loadings and ``cholesky`` the pattern's factor
    from :func:`_pattern_choleskys`; ``shift`` is the sum of the offsets'
    projections, subtracted from the right-hand side.
    """
    rhs = chunks[0] @ loadings[0]
    for chunk, v in zip(chunks[1:], loadings[1:], strict=True):
        rhs += chunk @ v
    rhs -= shift
    solution, _ = _POTRS(cholesky, rhs.T, lower=True, overwrite_b=True)
    return solution.T


def _balance(factor_gram, loadings):
    """The gauge transform of the factors that balances them with the loadings.

    Every :math:`u_i^\\top v_j` is unchanged by :math:`U \\to U A`,
    :math:`V \\to V A^{-\\top}` for an invertible :math:`A`, and so is the
    data term of the objective; the penalty :math:`\\lVert U A\\rVert^2 +
    \\lVert V A^{-\\top}\\rVert^2` is least for :math:`A = P^{-1/2}
    R^{1/4}`, with :math:`P = U^\\top U` (``factor_gram``), :math:`Q =
    V^\\top V` and :math:`R = P^{1/2} Q P^{1/2}`, where both hold the same
    Gram matrix :math:`(A^\\top P A = A^{-1} Q A^{-\\top} = R^{1/2})`.
    Alternating least squares moves towards that balance only slowly, the
    more slowly the larger the singular values of the data are against
    ``alpha`` (so the more rows), which made the number of iterations grow
    with the number of rows. Returns :math:`A` and the loadings
    :math:`V A^{-\\top}`; the next factor step recomputes the factors from
    those loadings, so only the penalty needs :math:`U A`. A rank-deficient
    :math:`U` or :math:`V` is returned unchanged, with :math:`A = I`.
    """
    identity = np.eye(factor_gram.shape[0])
    stacked = np.vstack(loadings)
    root_p, inverse_root_p = _roots(factor_gram)
    if root_p is None:
        return identity, loadings
    values, vectors = linalg.eigh(root_p @ (stacked.T @ stacked) @ root_p)
    if values.min() <= values.max() * _GAUGE_TOLERANCE:
        return identity, loadings
    quarter = (vectors * values**0.25) @ vectors.T
    inverse_quarter = (vectors * values**-0.25) @ vectors.T
    inverse_transpose = root_p @ inverse_quarter
    return inverse_root_p @ quarter, [v @ inverse_transpose for v in loadings]


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


def _solve_loadings(grams, crosses, squared_norms, alpha):
    """Ridge solve of every block's loadings and offsets over its present rows.

    The design of block m is [U_m, 1] over its present rows: ``grams`` holds
    each block's Gram matrix [U_m, 1]^T [U_m, 1] and ``crosses`` its
    cross-products [U_m, 1]^T B_m, from :func:`_factor_step`. The offsets are
    the unpenalised intercepts of the per-column regressions. Also returns the
    residual sum of squares over the present rows, ||B||^2 - 2 <C, W> +
    <W, G W> (``squared_norms`` holds each block's ||B||^2): no n-row
    residual is formed. Rebalancing leaves it unchanged, as it leaves every
    product u_i^T v_j unchanged.
    """
    n_factors = grams.shape[1] - 1
    penalty = np.diag(np.r_[np.full(n_factors, alpha), 0.0])
    loadings, offsets, residual = [], [], 0.0
    for gram, cross, squared_norm in zip(grams, crosses, squared_norms, strict=True):
        solution = linalg.solve(gram + penalty, cross, assume_a="pos")
        residual += (
            squared_norm
            - 2.0 * np.einsum("ij,ij->", cross, solution)
            + np.einsum("ij,ij->", solution, gram @ solution)
        )
        loadings.append(solution[:n_factors].T)
        offsets.append(solution[n_factors])
    return loadings, offsets, max(float(residual), 0.0)
