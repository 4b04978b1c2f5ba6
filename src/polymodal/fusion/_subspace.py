"""Subspace fusion: embed every modality in a shared (canonical) subspace."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn.base import ClassNamePrefixFeaturesOutMixin
from sklearn.cross_decomposition import CCA, PLSCanonical
from sklearn.utils.extmath import svd_flip

from ..exceptions import PolymodalWarning
from ..utils._missing import warn_fused_rows_without_modality
from ..utils._sklearn_compat import Interval, StrOptions
from ..utils._sparse import as_dense
from ._base import _BlockFusion

__all__ = ["SubspaceFusion"]

# Relative size below which a component's spread is numerical noise, not signal.
_RANK_TOLERANCE = np.sqrt(np.finfo(np.float64).eps)


class SubspaceFusion(ClassNamePrefixFeaturesOutMixin, _BlockFusion):
    """Shared-subspace fusion: CCA, PLS or generalised CCA over the modalities.

    Every modality :math:`m` gets a linear map :math:`W_m` into one
    :math:`k`-dimensional space in which the modalities agree, and a row is
    embedded by averaging the maps of the modalities it has:

    .. math::

        z_i = \\frac{1}{|S_i|} \\sum_{m \\in S_i}
              \\frac{x_{im} - \\mu_m}{\\sigma_m}\\, W_m,

    where :math:`S_i` is the set of modalities present in row :math:`i` and
    :math:`\\mu_m, \\sigma_m` are the column means and standard deviations of
    the block over its fit rows (:math:`\\sigma_m = 1` with ``scale=False``).
    The maps come from:

    - **Two modalities, method="cca"**: canonical correlation analysis
      (:class:`~sklearn.cross_decomposition.CCA`) fitted on the rows where
      both modalities are present. :math:`W_1, W_2` are its ``x_rotations_``
      and ``y_rotations_``, each column divided by the standard deviation of
      its scores, so every canonical variate has unit variance, as in the
      textbook definition: a row with one modality is embedded by its own
      canonical variates, which for well-correlated modalities are close to
      the average over both.
    - **Two modalities, method="pls"**: the same with
      :class:`~sklearn.cross_decomposition.PLSCanonical`, which maximises
      covariance rather than correlation.
    - **Three or more modalities (method="cca" or "gcca"), or two with
      method="gcca"**: MAXVAR generalised CCA with per-modality row masks
      (van de Velden and Takane, 2012). With :math:`Z_m` the standardised
      block on its present rows, :math:`E_m` the matrix that places those
      rows among the fit rows (the rows where any modality is present),
      :math:`C = \\sum_m E_m E_m^\\top` the diagonal count of modalities per
      row and the ridge hat matrices :math:`H_m = Z_m (Z_m^\\top Z_m + \\lambda
      n_m I)^{-1} Z_m^\\top` (:math:`\\lambda` = ``reg``, :math:`n_m` the
      number of present rows), the shared coordinates :math:`G` maximise
      :math:`\\operatorname{tr}(G^\\top \\sum_m E_m H_m E_m^\\top G)` subject to
      :math:`G^\\top C G = I`: :math:`G = C^{-1/2} V`, with :math:`V` the top
      :math:`k` eigenvectors of :math:`C^{-1/2} (\\sum_m E_m H_m E_m^\\top)
      C^{-1/2}`, rescaled so that each column has unit :math:`C`-weighted
      variance. Each :math:`W_m = (Z_m^\\top Z_m + \\lambda n_m I)^{-1}
      Z_m^\\top E_m^\\top G` is the ridge regression of the shared coordinates
      on the modality, so a row is embedded by each present modality's
      estimate of its coordinates. Every row with at least one modality takes
      part in the fit. No :math:`n \\times n` matrix is formed: with the thin
      SVD :math:`Z_m = U_m S_m V_m^\\top`, each :math:`H_m = U_m D_m
      U_m^\\top` with :math:`D_m = S_m^2 (S_m^2 + \\lambda n_m I)^{-1}`, so
      the eigenvectors are the leading left singular vectors of the
      :math:`n \\times \\sum_m r_m` matrix :math:`[C^{-1/2} E_m U_m
      D_m^{1/2}]_m` (:math:`r_m` the rank of block :math:`m`): the cost is
      :math:`O(n (\\sum_m d_m)^2)` time and :math:`O(n \\sum_m d_m)` memory
      for :math:`n` fit rows. The sign of each component is fixed by making
      the entry of :math:`G` of largest magnitude positive; components beyond
      the rank of all blocks together have zero maps. Without ridge and with
      two complete modalities this spans the CCA subspace.
    - **One modality** (a plain 2-D array): the shared subspace of one block is
      its principal subspace, so :math:`W` holds the top :math:`k` principal
      axes of the standardised block, scaled so that each component has unit
      variance (whitened PCA), whatever ``method`` says.

    **Absent modalities.** CCA and PLS fit on the rows where both modalities
    are present; generalised CCA uses every row through its row masks.
    ``transform`` averages over the modalities present in each row; a row with
    none is embedded as zeros, with a
    :class:`~polymodal.exceptions.MissingModalityWarning` naming it by the
    input's index labels: the fusion cannot choose the head's output, whose
    prediction for such a row rests on no observed data (a final-step fusion
    such as :class:`~polymodal.fusion.LateFusionClassifier` predicts the
    training prior instead). ``fit_transform`` warns about training rows alike.

    **Number of components.** CCA and PLS find at most as many pairs of
    components as the narrower block has columns, PCA as many as the block,
    generalised CCA as many as all blocks together; beyond that the output is
    zero-padded to ``n_components`` columns, with a warning naming the block.
    The fit needs at least ``n_components + 1`` rows.

    **Sparse blocks** (TF-IDF, k-mer counts) are densified, present rows only;
    reduce a very wide vocabulary first (``max_features``, or
    :class:`~sklearn.decomposition.TruncatedSVD`).

    Parameters
    ----------
    n_components : int, default=2
        Dimension of the shared subspace (the number of output columns).
    method : {"cca", "pls", "gcca"}, default="cca"
        How the subspace is found, see above. ``"pls"`` needs exactly two
        modalities.
    reg : float, default=0.1
        Ridge :math:`\\lambda` of generalised CCA, relative to the number of
        rows; with ``scale=True`` a fraction of each feature's unit variance.
        It keeps blocks with more columns than rows from fitting any direction
        perfectly.
    scale : bool, default=True
        Divide each column by its standard deviation over the fit rows.
    max_iter : int, default=500
        Maximum number of power-method iterations per component of CCA and
        PLS.
    tol : float, default=1e-6
        Convergence tolerance of that power method.

    Attributes
    ----------
    method_ : {"cca", "pls", "gcca", "pca"}
        The method used: ``"pca"`` for one modality, ``"gcca"`` for three or
        more.
    means_ : dict of str to ndarray
        Column means of each block over its fit rows.
    scales_ : dict of str to ndarray
        Column standard deviations (ones with ``scale=False``).
    projections_ : dict of str to ndarray of shape (n_features_m, n_components)
        :math:`W_m` for each modality; zero-padded columns are zero.
    n_features_in_ : int
        Total number of input features over the modalities.
    modality_names_in_ : ndarray of str
        Modality names seen during fit.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame (one modality named ``"x"``).

    See Also
    --------
    sklearn.cross_decomposition.CCA : Two-block CCA, used for two modalities.
    polymodal.fusion.KernelFusion : Fusion by a combined kernel.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal import ModalityBlocks
    >>> from polymodal.fusion import SubspaceFusion
    >>> rng = np.random.default_rng(0)
    >>> shared = rng.normal(size=(50, 1))
    >>> clinical = shared @ [[1.0, -1.0]] + 0.1 * rng.normal(size=(50, 2))
    >>> note = shared @ [[2.0, 0.5, 1.0]] + 0.1 * rng.normal(size=(50, 3))
    >>> note[:5] = np.nan
    >>> blocks = ModalityBlocks(
    ...     {"clinical": clinical, "note": note},
    ...     masks={"note": np.arange(50) >= 5},
    ... )
    >>> fusion = SubspaceFusion(n_components=1).fit(blocks)
    >>> embedding = fusion.transform(blocks)
    >>> embedding.shape
    (50, 1)
    >>> bool(abs(np.corrcoef(embedding[:, 0], shared[:, 0])[0, 1]) > 0.99)
    True
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "method": [StrOptions({"cca", "pls", "gcca"})],
        "reg": [Interval(Real, 0, None, closed="left")],
        "scale": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=2,
        *,
        method="cca",
        reg=0.1,
        scale=True,
        max_iter=500,
        tol=1e-6,
    ):
        self.n_components = n_components
        self.method = method
        self.reg = reg
        self.scale = scale
        self.max_iter = max_iter
        self.tol = tol

    def _fit(self, blocks, y):
        names = list(blocks.names)
        self.method_ = self._resolve_method(names)
        masks = np.column_stack([blocks.masks[name] for name in names])
        fit_rows = masks.any(axis=1) if self.method_ == "gcca" else masks.all(axis=1)
        self._check_enough_rows(names, int(fit_rows.sum()))

        standardized = {}
        self.means_, self.scales_ = {}, {}
        for name in names:
            rows = as_dense(blocks[name][fit_rows & blocks.masks[name]])
            self.means_[name] = rows.mean(axis=0)
            self.scales_[name] = (
                _column_scales(rows) if self.scale else np.ones(rows.shape[1])
            )
            standardized[name] = (rows - self.means_[name]) / self.scales_[name]

        widths = {name: block.shape[1] for name, block in standardized.items()}
        if self.method_ == "gcca":
            n_found = self._n_found(sum(widths.values()), names)
            row_masks = {name: blocks.masks[name][fit_rows] for name in names}
            projections = _maxvar_gcca(standardized, row_masks, n_found, self.reg)
        else:
            narrowest = min(widths, key=widths.get)
            n_found = self._n_found(widths[narrowest], [narrowest])
            if self.method_ == "pca":
                projections = {
                    names[0]: _principal_axes(standardized[names[0]], n_found)
                }
            else:
                projections = self._two_block(standardized, names, n_found)
            projections = {
                name: _unit_variance(standardized[name], projection)
                for name, projection in projections.items()
            }
        self.projections_ = {
            name: np.pad(projection, ((0, 0), (0, self.n_components - n_found)))
            for name, projection in projections.items()
        }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _transform(self, blocks):
        total = np.zeros((len(blocks), self._n_features_out))
        counts = np.zeros(len(blocks))
        for name, projection in self.projections_.items():
            rows = blocks.masks[name]
            standardized = (
                as_dense(blocks[name][rows]) - self.means_[name]
            ) / self.scales_[name]
            total[rows] += standardized @ projection
            counts[rows] += 1
        warn_fused_rows_without_modality(
            self, blocks, "the zero embedding", empty=counts == 0, stacklevel=3
        )
        return total / np.maximum(counts, 1)[:, None]

    @property
    def _n_features_out(self):
        return next(iter(self.projections_.values())).shape[1]

    def _resolve_method(self, names):
        if len(names) == 1:
            return "pca"
        if len(names) == 2:
            return self.method
        if self.method == "pls":
            raise ValueError(
                f"method='pls' finds a subspace shared by two modalities; got "
                f"{len(names)}: {names}. Use method='gcca' (generalised CCA) for "
                "more."
            )
        return "gcca"

    def _check_enough_rows(self, names, n_rows):
        needed = self.n_components + 1
        if n_rows >= needed:
            return
        if self.method_ == "gcca":
            where = f"where any of the modalities {names} is present"
        else:
            where = f"where the modalities {names} are all present"
        raise ValueError(
            f"SubspaceFusion(method={self.method_!r}) is fitted on the rows {where}; "
            f"n_components={self.n_components} needs at least {needed} such "
            f"samples, got {n_rows} sample{'' if n_rows == 1 else 's'}. Lower "
            "n_components, or drop a modality that is rarely present."
        )

    def _n_found(self, bound, limiting):
        """Components the method can find: ``n_components`` capped by ``bound``."""
        if bound >= self.n_components:
            return self.n_components
        features = f"{bound} feature{'' if bound == 1 else 's'}"
        what = (
            f"Modality {limiting[0]!r} has {features}"
            if len(limiting) == 1
            else f"The modalities {limiting} have {features} together"
        )
        warnings.warn(
            f"{what}, fewer than n_components={self.n_components}; SubspaceFusion("
            f"method={self.method_!r}) finds {bound} component"
            f"{'' if bound == 1 else 's'} and zero-pads the rest of the output.",
            PolymodalWarning,
            stacklevel=4,
        )
        return bound

    def _two_block(self, standardized, names, n_components):
        solver = CCA if self.method_ == "cca" else PLSCanonical
        # A block of lower rank than its width (a constant or collinear
        # column) has fewer directions: the solver's extra components would be
        # NaN, so they are zero-padded, as those beyond a block's width are.
        ranks = {name: int(np.linalg.matrix_rank(standardized[name])) for name in names}
        n_fit = int(min(n_components, *ranks.values()))
        if n_fit < n_components:
            warnings.warn(
                f"The modalities {names} have ranks {list(ranks.values())} on "
                f"their fit rows; SubspaceFusion(method={self.method_!r}) finds "
                f"{n_fit} of {n_components} components and zero-pads the rest.",
                PolymodalWarning,
                stacklevel=4,
            )
        if n_fit == 0:
            return {
                name: np.zeros((standardized[name].shape[1], n_components))
                for name in names
            }
        # The blocks are standardised already, as the model is applied by hand
        # to one block at a time in transform.
        model = solver(
            n_components=n_fit, scale=False, max_iter=self.max_iter, tol=self.tol
        ).fit(standardized[names[0]], standardized[names[1]])
        pad = ((0, 0), (0, n_components - n_fit))
        return {
            names[0]: np.pad(model.x_rotations_, pad),
            names[1]: np.pad(model.y_rotations_, pad),
        }


def _column_scales(rows):
    if rows.shape[0] < 2:
        return np.ones(rows.shape[1])
    scales = rows.std(axis=0, ddof=1)
    scales[scales == 0] = 1.0
    return scales


def _unit_variance(standardized, projection):
    """Rescale ``projection`` so each of its scores has unit variance."""
    spread = (standardized @ projection).std(axis=0, ddof=1)
    informative = spread > spread.max(initial=0.0) * _RANK_TOLERANCE
    return projection / np.where(informative, spread, 1.0)


def _principal_axes(standardized, n_components):
    _, _, components = linalg.svd(standardized, full_matrices=False)
    _, components = svd_flip(None, components, u_based_decision=False)
    return components[:n_components].T


def _maxvar_gcca(standardized, row_masks, n_components, reg):
    """MAXVAR generalised CCA from each modality's thin SVD, without n x n arrays.

    With :math:`Z_m = U_m S_m V_m^\\top` and :math:`D_m = S_m^2 (S_m^2 +
    \\lambda n_m I)^{-1}`, the matrix of the eigenproblem factors as
    :math:`C^{-1/2} (\\sum_m E_m H_m E_m^\\top) C^{-1/2} = B B^\\top` with
    :math:`B = [C^{-1/2} E_m U_m D_m^{1/2}]_m`, of shape
    ``(n_rows, sum of the ranks)``; its top eigenvectors are the leading left
    singular vectors of :math:`B`. The cost is :math:`O(n (\\sum_m r_m)^2)`
    time and :math:`O(n \\sum_m r_m)` memory.

    Sign rule: each column of the shared coordinates :math:`G` is turned so
    that its entry of largest magnitude (the first such row on ties) is
    positive. Components beyond the rank of :math:`B` span no direction of any
    block and get zero maps.
    """
    n_rows = len(next(iter(row_masks.values())))
    counts = np.zeros(n_rows)
    ridges = {}
    for name, block in standardized.items():
        rows = row_masks[name]
        ridges[name] = _Ridge(block, reg * int(rows.sum()))
        counts[rows] += 1
    inverse_sqrt = 1.0 / np.sqrt(counts)
    widths = [ridge.singular.size for ridge in ridges.values()]
    factor = np.zeros((n_rows, sum(widths)))
    stop = 0
    for (name, ridge), width in zip(ridges.items(), widths, strict=True):
        rows = row_masks[name]
        factor[rows, stop : stop + width] = ridge.left * np.sqrt(ridge.shrink())
        stop += width
    factor *= inverse_sqrt[:, None]
    vectors, singular, _ = linalg.svd(factor, full_matrices=False)
    del factor
    n_found = min(n_components, singular.size)
    # Directions of zero variance in B are noise: the dense eigenproblem would
    # give them arbitrary null vectors, whose ridge maps are zero.
    n_found = min(
        n_found,
        int(np.sum(singular > singular.max(initial=0.0) * _RANK_TOLERANCE)),
    )
    shared = np.zeros((n_rows, n_components))
    shared[:, :n_found] = (
        vectors[:, :n_found] * inverse_sqrt[:, None] * np.sqrt(counts.sum())
    )
    largest = np.argmax(np.abs(shared), axis=0)
    signs = np.sign(shared[largest, np.arange(n_components)])
    shared *= np.where(signs == 0, 1.0, signs)
    return {
        name: ridge.coefficients(shared[row_masks[name]])
        for name, ridge in ridges.items()
    }


class _Ridge:
    """Ridge regression on a fixed design, through its thin SVD.

    The SVD serves blocks wider or narrower than they are tall alike, and
    ``alpha=0`` (the pseudo-inverse, dropping null directions).
    """

    def __init__(self, design, alpha):
        left, singular, right = linalg.svd(design, full_matrices=False)
        keep = (
            singular
            > singular.max(initial=0.0) * max(design.shape) * np.finfo(np.float64).eps
        )
        self.left, self.singular, self.right = (
            left[:, keep],
            singular[keep],
            right[keep],
        )
        self.alpha = alpha

    def shrink(self):
        """Eigenvalues of the hat matrix, one per kept singular direction."""
        return self.singular**2 / (self.singular**2 + self.alpha)

    def coefficients(self, targets):
        gain = self.singular / (self.singular**2 + self.alpha)
        return self.right.T @ (gain[:, None] * (self.left.T @ targets))
