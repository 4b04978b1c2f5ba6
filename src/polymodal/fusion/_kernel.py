"""Kernel fusion: a weighted sum of per-modality kernels, exact or approximated."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import ClassNamePrefixFeaturesOutMixin
from sklearn.metrics.pairwise import (
    cosine_similarity,
    euclidean_distances,
    linear_kernel,
    rbf_kernel,
)
from sklearn.preprocessing import normalize
from sklearn.utils import check_random_state
from sklearn.utils.extmath import row_norms, safe_sparse_dot
from sklearn.utils.multiclass import type_of_target

from ..exceptions import PolymodalWarning
from ..utils._chunks import chunk_rows
from ..utils._missing import warn_fused_rows_without_modality
from ..utils._sklearn_compat import Interval, StrOptions, _fit_context
from ..utils._subset import ModalitySubsetMixin
from ._base import _BlockFusion
from ._weights import check_weights

__all__ = ["KernelFusion", "NystroemKernelFusion"]

_KERNELS = {"rbf": rbf_kernel, "linear": linear_kernel, "cosine": cosine_similarity}

#: Kernel entries computed at a time, per chunk of rows: 32 MiB of float64.
_CHUNK_ELEMENTS = 1 << 22
#: Nyström output entries written at a time: 4 MiB of float64.
_NYSTROEM_CHUNK_ELEMENTS = 1 << 19


class KernelFusion(
    ModalitySubsetMixin,
    ClassNamePrefixFeaturesOutMixin,
    _BlockFusion,
):
    """Multiple-kernel fusion: one kernel per modality, summed with weights.

    Each modality :math:`m` gets its own kernel :math:`K_m` (RBF, linear,
    cosine or a callable) computed on its own features. With :math:`p_{im}
    \\in \\{0, 1\\}` the presence of modality :math:`m` in row :math:`i` and
    :math:`w_m \\ge 0` its weight, the fused kernel between rows :math:`i` and
    :math:`j` is

    .. math::

        K_{ij} = \\frac{\\sum_m w_m\\, p_{im}\\, p_{jm}\\, K_m(x_{im}, x_{jm})}
                      {\\sqrt{W_i\\, W_j}},
        \\qquad W_i = \\sum_m w_m\\, p_{im},

    that is :math:`K = D\\, (\\sum_m w_m P_m K_m P_m)\\, D` with :math:`P_m` the
    diagonal presence mask of modality :math:`m` and :math:`D_{ii} =
    W_i^{-1/2}`. Each :math:`P_m K_m P_m` is positive semi-definite (a
    congruence of a PSD kernel), so is their non-negative sum, and so is its
    congruence by :math:`D`: the fused training kernel is a valid kernel for
    :class:`~sklearn.svm.SVC`. When every modality is present in both rows
    this is the weighted mean :math:`\\sum_m w_m K_m / \\sum_m w_m`; for
    normalised kernels such as RBF and cosine, :math:`K_{ii} = 1` whatever
    modalities row :math:`i` has.

    ``transform`` returns the kernel between the given rows and the training
    rows, :math:`K_{ij} = \\sum_m w_m p_{im} p'_{jm} K_m(x_{im}, x'_{jm}) /
    \\sqrt{W_i W'_j}`, with :math:`p, W` from the given rows and :math:`p', W'`
    from the training rows: ``fit_transform`` gives the square training kernel
    for ``SVC(kernel="precomputed").fit`` and ``transform`` the rectangular one
    for ``predict``. The estimator keeps the present training rows of every
    modality, as any precomputed-kernel method must.

    **Cost.** The kernel is exact: time grows as :math:`n\\, n_{train}\\, d`
    and memory as :math:`n\\, n_{train}`. Each modality's kernel is computed a
    chunk of rows at a time and added into the fused matrix in place, so
    that besides the output at most one matrix of that size is held (the
    training kernel of one modality with ``weights="align"``, or the matrix
    a kernel callable returns); the chunks hold about 4 million entries
    (32 MiB). At 8,000 training rows the output alone takes 0.5 GiB, at
    32,000 rows 8 GiB. For larger cohorts use
    :class:`NystroemKernelFusion`, which approximates this kernel by
    features for a linear head at a cost linear in :math:`n`.

    **Absent modalities.** A pair of rows is compared only on the modalities
    present in both, and the weights are re-normalised per row through
    :math:`W_i`. A row in which no modality of positive weight is present has
    an all-zero kernel row, with a
    :class:`~polymodal.exceptions.MissingModalityWarning` naming it by the
    input's index labels: the fusion cannot choose the head's output, whose
    prediction for such a row rests on no observed data (a final-step fusion
    such as :class:`~polymodal.fusion.LateFusionClassifier` predicts the
    training prior instead). ``fit_transform`` warns about training rows alike.

    **Weights.** ``None`` weighs every modality 1; a dict sets them (modalities
    not named get 1). ``"align"`` uses centred kernel alignment with the
    target (Cortes, Mohri and Rostamizadeh, 2012): on the training rows where
    modality :math:`m` is present,

    .. math::

        w_m \\propto \\max\\left(0,\\;
            \\frac{\\langle K^c_m, T^c \\rangle_F}
                  {\\lVert K^c_m \\rVert_F\\, \\lVert T^c \\rVert_F}\\right),
        \\qquad T = Y Y^\\top,

    where :math:`A^c = H A H` is the centred matrix (:math:`H = I - \\frac1n
    11^\\top`) and :math:`Y` one-hot encodes class labels, or holds the
    targets of a regression; which one :func:`~sklearn.utils.multiclass.type_of_target`
    decides (integer-valued targets count as classes). When no modality aligns positively the weights
    fall back to equal, with a warning. ``weights_`` holds the weights
    normalised to sum to 1 (the fused kernel does not depend on their scale).

    Parameters
    ----------
    kernels : {"rbf", "linear", "cosine"} or dict, default="rbf"
        The kernel of every modality, or a dict ``{modality: kernel}`` whose
        values are one of those names or a callable ``kernel(A, B)`` returning
        the ``(len(A), len(B))`` kernel matrix between two blocks (for example
        :func:`sklearn.metrics.pairwise.laplacian_kernel`); it must be positive
        semi-definite for the fused kernel to be. Modalities not named get
        ``"rbf"``.
    weights : dict of str to float, "align" or None, default=None
        Weight per modality, see above.
    gamma : float or dict of str to float, default=None
        Bandwidth of the RBF kernels, :math:`K(x, x') = \\exp(-\\gamma \\lVert x
        - x' \\rVert^2)`: one value for every RBF modality, or a dict per
        modality. A modality without a value gets ``1 / n_features`` of its
        block, as in :func:`~sklearn.metrics.pairwise.rbf_kernel`. Ignored by
        other kernels.

    Attributes
    ----------
    kernels_ : dict of str to str or callable
        The kernel used for each modality.
    gammas_ : dict of str to float
        The bandwidth of each RBF modality.
    weights_ : dict of str to float
        Weight per modality, normalised to sum to 1.
    alignments_ : dict of str to float
        Centred alignment of each modality's kernel with the target; only with
        ``weights="align"``.
    fit_blocks_ : dict of str to {ndarray, sparse matrix}
        The training rows where each modality is present.
    fit_masks_ : dict of str to ndarray of bool
        The presence masks of the training rows.
    fit_row_weights_ : ndarray of shape (n_train_samples,)
        :math:`W'_j`, the weight of the modalities present in each training
        row.
    n_features_in_ : int
        Total number of input features over the modalities.
    modality_names_in_ : ndarray of str
        Modality names seen during fit.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame (one modality named ``"x"``).

    See Also
    --------
    sklearn.svm.SVC : Takes the fused kernel with ``kernel="precomputed"``.
    NystroemKernelFusion : Approximates the fused kernel by features, for
        large cohorts.
    polymodal.fusion.ConcatFusion : Early fusion for heads that need features.

    Notes
    -----
    The output has one column per training row, named
    ``kernelfusion0, kernelfusion1, ...``. It feeds heads that take a
    precomputed kernel (the scikit-learn tag ``input_tags.pairwise``), such as
    ``SVC(kernel="precomputed")`` or ``KernelRidge(kernel="precomputed")``.
    KernelFusion itself consumes features, not a kernel, so its own
    ``pairwise`` tag is False: cross-validation splits its input by rows only.
    To calibrate an SVC on the fused kernel use
    ``CalibratedClassifierCV(..., ensemble=False)``.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal import ModalityBlocks
    >>> from polymodal.fusion import KernelFusion
    >>> blocks = ModalityBlocks(
    ...     {"clinical": np.array([[1.0], [2.0], [np.nan]]),
    ...      "dna": np.array([[1.0], [np.nan], [3.0]])},
    ...     masks={"clinical": [True, True, False], "dna": [True, False, True]},
    ... )
    >>> fusion = KernelFusion(kernels="linear", weights={"clinical": 1, "dna": 3})
    >>> fusion.fit_transform(blocks).round(3)
    array([[1.   , 1.   , 2.598],
           [1.   , 4.   , 0.   ],
           [2.598, 0.   , 9.   ]])
    >>> fusion.weights_
    {'clinical': 0.25, 'dna': 0.75}
    """

    _parameter_constraints = {
        "kernels": [StrOptions(set(_KERNELS)), dict],
        "weights": [dict, StrOptions({"align"}), None],
        "gamma": [Interval(Real, 0, None, closed="neither"), dict, None],
    }

    _modality_keyed_params = ("weights", "kernels", "gamma")

    def __init__(self, kernels="rbf", *, weights=None, gamma=None):
        self.kernels = kernels
        self.weights = weights
        self.gamma = gamma

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit, and return the fused kernel between the training rows.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            The blocks; a plain array is one modality.
        y : array-like of shape (n_samples,) or (n_samples, n_targets), default=None
            The target; needed only by ``weights="align"``.

        Returns
        -------
        K : ndarray of shape (n_samples, n_samples)
            The fused training kernel, positive semi-definite.
        """
        blocks = self._validate_blocks(X, reset=True)
        fused = np.zeros((len(blocks), len(blocks)))
        return self._transform(blocks, fused, self._fit(blocks, y, fused))

    def _transform(self, blocks, fused=None, scale=None):
        """The fused kernel between the rows of ``blocks`` and the training rows.

        ``fit_transform`` hands on the square matrix to fill: the training
        kernel is then computed on the stored training rows themselves, so that
        a row's distance to itself is exactly 0. A ``scale`` says that ``_fit``
        has already added each modality's kernel times ``scale * weight``.
        """
        training = fused is not None
        if fused is None:
            fused = np.zeros((len(blocks), len(self.fit_row_weights_)))
        if scale is None:
            scale = 1.0
            for name, weight in self.weights_.items():
                if weight > 0:
                    rows = None if training else blocks[name][blocks.masks[name]]
                    self._add_kernel(fused, name, weight, blocks.masks[name], rows)
        return self._normalise(fused, blocks, scale)

    @property
    def _n_features_out(self):
        return len(self.fit_row_weights_)

    def _fit(self, blocks, y, fused=None):
        """Learn the kernels and weights; return the scale of what is in ``fused``.

        With ``weights="align"`` each modality's training kernel is computed
        for its alignment; when ``fit_transform`` passes ``fused``, the kernel
        is added into it there, times its (not yet normalised) alignment, so
        that it is computed once. The return value is then the sum of the
        positive alignments, by which ``fused`` exceeds the kernel's numerator;
        None when ``fused`` holds nothing yet.
        """
        self.kernels_ = _check_kernels(self.kernels, blocks.names)
        self.gammas_ = _check_gammas(self.gamma, self.kernels_, blocks)
        self.fit_blocks_ = {
            name: block[blocks.masks[name]] for name, block in blocks.items()
        }
        self.fit_masks_ = {name: blocks.masks[name].copy() for name in blocks.names}
        scale = None
        if self.weights == "align":
            target = _target_matrix(y, len(blocks))
            self.alignments_ = {}
            for name in blocks.names:
                # One modality's kernel at a time, beside the fused matrix.
                matrix = self._training_kernel(name)
                alignment = _centered_alignment(matrix, target[blocks.masks[name]])
                self.alignments_[name] = alignment
                if fused is not None and alignment > 0:
                    self._add_kernel(
                        fused, name, alignment, blocks.masks[name], matrix=matrix
                    )
                del matrix
            weights = _aligned_weights(self.alignments_, type(self).__name__)
            positive = [value for value in self.alignments_.values() if value > 0]
            if fused is not None and positive:
                scale = sum(weights.values())
        else:
            if hasattr(self, "alignments_"):
                del self.alignments_
            weights = _given_weights(self.weights, blocks.names)
        total = sum(weights.values())
        self.weights_ = {name: weight / total for name, weight in weights.items()}
        self.fit_row_weights_ = _row_weights(self.weights_, blocks.masks)
        return scale

    def _training_kernel(self, name):
        """Modality ``name``'s kernel between its stored training rows."""
        n_rows = self.fit_blocks_[name].shape[0]
        matrix = None
        for start, values in self._kernel_chunks(name, None):
            if values.shape[0] == n_rows:
                return values
            if matrix is None:
                matrix = np.empty((n_rows, n_rows), dtype=values.dtype)
            matrix[start : start + values.shape[0]] = values
        return np.zeros((n_rows, n_rows)) if matrix is None else matrix

    def _add_kernel(self, fused, name, weight, row_mask, rows=None, matrix=None):
        """Add ``weight`` times modality ``name``'s kernel into ``fused``, in place.

        The kernel's rows are ``rows`` (the present rows of the fused rows
        ``row_mask``) or, when None, the stored training rows; its columns are
        the training rows where the modality is present. It is computed and
        added a chunk of rows at a time, unless ``matrix`` holds it already
        (and is then scaled in place).
        """
        positions = np.flatnonzero(row_mask)
        every_row = len(positions) == fused.shape[0]
        columns = self.fit_masks_[name]
        every_column = bool(columns.all())
        columns = np.flatnonzero(columns)
        if matrix is None:
            chunks = self._kernel_chunks(name, rows)
        else:
            step = chunk_rows(matrix.shape[1], _CHUNK_ELEMENTS)
            chunks = (
                (start, matrix[start : start + step])
                for start in range(0, matrix.shape[0], step)
            )
        for start, values in chunks:
            stop = start + values.shape[0]
            values *= weight
            if every_row and every_column:
                fused[start:stop] += values
            elif every_column:
                fused[positions[start:stop]] += values
            else:
                fused[np.ix_(positions[start:stop], columns)] += values

    def _kernel_chunks(self, name, rows):
        """Modality ``name``'s kernel with its training rows, in chunks of rows.

        Yields ``(start, values)``: the kernel between ``rows[start:stop]`` and
        the training rows, a fresh array the caller may scale in place. With
        ``rows=None`` the rows are the stored training rows, whose distance to
        themselves is set to exactly 0, as scikit-learn does for one array
        given twice. The built-in kernels are computed in chunks of about
        ``_CHUNK_ELEMENTS`` entries, with scikit-learn's own functions; a
        callable is called once on all the rows.
        """
        kernel = self.kernels_[name]
        train = self.fit_blocks_[name]
        square = rows is None
        rows = train if square else rows
        n_rows, n_train = rows.shape[0], train.shape[0]
        if n_rows == 0 or n_train == 0:
            return
        if callable(kernel):
            yield 0, _kernel_matrix(kernel, None, rows, train, name)
            return
        norms = None
        if kernel == "rbf" and train.dtype == np.float64:
            norms = row_norms(train, squared=True)
        elif kernel == "cosine":
            train = normalize(train, copy=True)
            if square:
                rows = train
        step = chunk_rows(n_train, _CHUNK_ELEMENTS)
        for start in range(0, n_rows, step):
            chunk = rows[start : start + step]
            if kernel == "rbf":
                values = euclidean_distances(
                    chunk,
                    train,
                    squared=True,
                    X_norm_squared=(
                        norms[start : start + step]
                        if square and norms is not None
                        else None
                    ),
                    Y_norm_squared=norms,
                )
                if square:
                    inside = np.arange(chunk.shape[0])
                    values[inside, start + inside] = 0.0
                values *= -self.gammas_[name]
                np.exp(values, out=values)
            else:
                if kernel == "cosine" and not square:
                    chunk = normalize(chunk, copy=True)
                values = safe_sparse_dot(chunk, train.T, dense_output=True)
            yield start, values

    def _normalise(self, fused, blocks, scale):
        """Scale ``fused`` in place by D on the left and D' on the right."""
        row_weights = _row_weights(self.weights_, blocks.masks)
        warn_fused_rows_without_modality(
            self,
            blocks,
            "an all-zero kernel row",
            empty=row_weights == 0,
            which="of positive weight present",
            stacklevel=4,
        )
        left = _inverse_sqrt(row_weights)
        if scale != 1.0:
            left /= scale
        fused *= left[:, None]
        fused *= _inverse_sqrt(self.fit_row_weights_)[None, :]
        return fused

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # The input is features, not a precomputed kernel: the kernel is the
        # output, for heads whose own pairwise tag is True.
        tags.input_tags.pairwise = False
        return tags


class NystroemKernelFusion(
    ModalitySubsetMixin,
    ClassNamePrefixFeaturesOutMixin,
    _BlockFusion,
):
    """Kernel fusion for large cohorts: features whose inner products approximate it.

    The approximate counterpart of :class:`KernelFusion`. Each modality's
    kernel :math:`K_m` is approximated by the Nyström method (Williams and
    Seeger, 2001), as in :class:`sklearn.kernel_approximation.Nystroem`:
    :math:`c_m` landmark rows :math:`L_m` are drawn at random among the
    training rows where the modality is present, and

    .. math::

        \\phi_m(x) = K_m(x, L_m)\\, K_m(L_m, L_m)^{-1/2},
        \\qquad \\phi_m(x)^\\top \\phi_m(x') \\approx K_m(x, x').

    The fused features of row :math:`i` concatenate the modalities' features,
    each times :math:`\\sqrt{w_m}\\, p_{im}` and the whole row times
    :math:`W_i^{-1/2}`, with :math:`p_{im}`, :math:`w_m` and :math:`W_i =
    \\sum_m w_m p_{im}` as in :class:`KernelFusion`:

    .. math::

        z_i = W_i^{-1/2} \\left[\\sqrt{w_1}\\, p_{i1}\\, \\phi_1(x_{i1}), \\dots,
              \\sqrt{w_M}\\, p_{iM}\\, \\phi_M(x_{iM})\\right],

    so that :math:`z_i^\\top z_j = \\sum_m w_m p_{im} p_{jm}\\, \\phi_m(x_{im})^\\top
    \\phi_m(x_{jm}) / \\sqrt{W_i W_j} \\approx K_{ij}`, KernelFusion's fused
    kernel: :math:`Z Z^\\top \\approx D (\\sum_m w_m P_m K_m P_m) D`. The
    approximation is exact on the landmarks, and for every row when a
    modality has no more present training rows than ``n_components`` (then
    every present row is a landmark).

    **Output.** Features, not a kernel: ``transform`` returns :math:`Z`, of
    shape ``(n_samples, sum_m c_m)``, for heads that take features, above all
    linear ones (``LogisticRegression``, ``LinearSVC``, ``RidgeClassifier``,
    ``SGDClassifier``), which then fit the model that a kernel head fits on
    :math:`Z Z^\\top`. Like KernelFusion its own ``pairwise`` tag is False;
    unlike KernelFusion, its output is not a precomputed kernel, so it does
    not pair with ``SVC(kernel="precomputed")``. That is why it is a class of
    its own rather than an option of KernelFusion: the step's output, its
    width and the heads it pairs with all change.

    **Which to use.** :class:`KernelFusion` is exact, but builds the
    :math:`n \\times n_{train}` kernel: time grows as :math:`n^2 d` and memory
    as :math:`8 n^2` bytes (two such matrices at most at once), about 0.5 GiB
    at 8,000 rows and 8 GiB at 32,000, before the kernel head's own cost
    (an SVC's fit grows as :math:`n^2` to :math:`n^3`). Use it up to a few
    thousand rows, or when the head must be a kernel machine. This class
    costs :math:`O(n\\, c\\, (c + d))` time and :math:`O(n\\, c)` memory with
    :math:`c` landmarks per modality, keeps only the landmarks rather than
    every training row, and feeds heads that scale linearly: use it above
    about 10,000 rows, with ``n_components`` of a few hundred (the error of
    the approximation falls as ``n_components`` grows;
    ``benchmarks/results/kernel_scale.md`` measures it against the exact
    kernel).

    **Absent modalities.** A row's features of an absent modality are 0, so
    a pair of rows is compared only on the modalities present in both, with
    the per-row re-normalisation of KernelFusion. A row in which no modality
    of positive weight is present gets all-zero features, with a
    :class:`~polymodal.exceptions.MissingModalityWarning`.

    **Weights.** As in KernelFusion. With ``"align"``, each modality's
    centred alignment with the target is that of its approximate kernel
    :math:`\\Phi_m \\Phi_m^\\top`, computed from the features in
    :math:`O(n\\, c^2)` without forming the kernel.

    Parameters
    ----------
    kernels : {"rbf", "linear", "cosine"} or dict, default="rbf"
        The kernel of every modality, or a dict ``{modality: kernel}``, as in
        :class:`KernelFusion` (a callable ``kernel(A, B)`` returns the kernel
        matrix between two blocks).
    weights : dict of str to float, "align" or None, default=None
        Weight per modality, as in :class:`KernelFusion`.
    gamma : float or dict of str to float, default=None
        Bandwidth of the RBF kernels, as in :class:`KernelFusion`.
    n_components : int, default=100
        Landmarks per modality, :math:`c_m`; a modality with fewer present
        training rows uses them all.
    random_state : int, RandomState instance or None, default=None
        Draws the landmarks, one modality after the other. Pass an int for
        reproducible output.

    Attributes
    ----------
    kernels_ : dict of str to str or callable
        The kernel used for each modality.
    gammas_ : dict of str to float
        The bandwidth of each RBF modality.
    weights_ : dict of str to float
        Weight per modality, normalised to sum to 1.
    alignments_ : dict of str to float
        Centred alignment of each modality's approximate kernel with the
        target; only with ``weights="align"``.
    components_ : dict of str to {ndarray, sparse matrix}
        The landmark rows of each modality.
    component_indices_ : dict of str to ndarray of int
        The landmarks' positions among the training rows in which the
        modality is present.
    normalizations_ : dict of str to ndarray of shape (c_m, c_m)
        :math:`K_m(L_m, L_m)^{-1/2}`, transposed, for each modality.
    n_features_in_ : int
        Total number of input features over the modalities.
    modality_names_in_ : ndarray of str
        Modality names seen during fit.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame (one modality named ``"x"``).

    See Also
    --------
    KernelFusion : The exact fused kernel, for precomputed-kernel heads.
    sklearn.kernel_approximation.Nystroem : The same map for one block.

    Notes
    -----
    The output columns, named ``nystroemkernelfusion0, ...``, are the
    modalities' features in modality order. For one modality, weight 1 and
    rows all present, the output equals that of
    ``sklearn.kernel_approximation.Nystroem`` with the same kernel,
    ``n_components`` and ``random_state``.

    References
    ----------
    Williams, C. K. I. and Seeger, M. (2001). Using the Nyström method to
    speed up kernel machines. *Advances in Neural Information Processing
    Systems* 13, 682–688.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal import ModalityBlocks
    >>> from polymodal.fusion import KernelFusion, NystroemKernelFusion
    >>> rng = np.random.default_rng(0)
    >>> lab, gene = rng.normal(size=(200, 3)), rng.normal(size=(200, 10))
    >>> present = rng.random(200) < 0.7
    >>> gene[~present] = np.nan
    >>> blocks = ModalityBlocks({"lab": lab, "gene": gene},
    ...                         masks={"gene": present})
    >>> fusion = NystroemKernelFusion(n_components=50, random_state=0)
    >>> Z = fusion.fit_transform(blocks)
    >>> Z.shape
    (200, 100)
    >>> K = KernelFusion().fit_transform(blocks)
    >>> error = np.linalg.norm(Z @ Z.T - K) / np.linalg.norm(K)
    >>> bool(error < 0.1)
    True
    """

    _parameter_constraints = {
        "kernels": [StrOptions(set(_KERNELS)), dict],
        "weights": [dict, StrOptions({"align"}), None],
        "gamma": [Interval(Real, 0, None, closed="neither"), dict, None],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    _modality_keyed_params = ("weights", "kernels", "gamma")

    def __init__(
        self,
        kernels="rbf",
        *,
        weights=None,
        gamma=None,
        n_components=100,
        random_state=None,
    ):
        self.kernels = kernels
        self.weights = weights
        self.gamma = gamma
        self.n_components = n_components
        self.random_state = random_state

    @property
    def _n_features_out(self):
        return sum(len(indices) for indices in self.component_indices_.values())

    def _fit(self, blocks, y):
        self.kernels_ = _check_kernels(self.kernels, blocks.names)
        self.gammas_ = _check_gammas(self.gamma, self.kernels_, blocks)
        random_state = check_random_state(self.random_state)
        self.components_, self.component_indices_, self.normalizations_ = {}, {}, {}
        for name, block in blocks.items():
            present = np.flatnonzero(blocks.masks[name])
            indices = random_state.permutation(len(present))[: self.n_components]
            landmarks = block[present[indices]]
            # The landmarks given twice, so that their distance to themselves
            # is exactly 0, as in scikit-learn's Nystroem.
            basis = self._kernel(name, landmarks, landmarks)
            left, values, right = np.linalg.svd(basis)
            values = np.maximum(values, 1e-12)
            self.components_[name] = landmarks
            self.component_indices_[name] = indices
            self.normalizations_[name] = (left / np.sqrt(values)) @ right
        if self.weights == "align":
            target = _target_matrix(y, len(blocks))
            self.alignments_ = {
                name: _feature_alignment(
                    self._modality_features(name, block[blocks.masks[name]]),
                    target[blocks.masks[name]],
                )
                for name, block in blocks.items()
            }
            weights = _aligned_weights(self.alignments_, type(self).__name__)
        else:
            if hasattr(self, "alignments_"):
                del self.alignments_
            weights = _given_weights(self.weights, blocks.names)
        total = sum(weights.values())
        self.weights_ = {name: weight / total for name, weight in weights.items()}
        return self

    def _kernel(self, name, rows, landmarks):
        return _kernel_matrix(
            self.kernels_[name], self.gammas_.get(name), rows, landmarks, name
        )

    def _modality_features(self, name, rows):
        """:math:`\\\\phi_m` of the present ``rows`` of modality ``name``."""
        landmarks = self.components_[name]
        if rows.shape[0] == 0 or landmarks.shape[0] == 0:
            return np.zeros((rows.shape[0], landmarks.shape[0]))
        return self._kernel(name, rows, landmarks) @ self.normalizations_[name].T

    def _transform(self, blocks):
        masks = blocks.masks
        row_weights = _row_weights(self.weights_, masks)
        warn_fused_rows_without_modality(
            self,
            blocks,
            "all-zero features",
            empty=row_weights == 0,
            which="of positive weight present",
            stacklevel=3,
        )
        scale = _inverse_sqrt(row_weights)
        columns, start = {}, 0
        for name, weight in self.weights_.items():
            stop = start + len(self.component_indices_[name])
            if weight > 0:
                columns[name] = (slice(start, stop), np.sqrt(weight))
            start = stop
        fused = np.empty((len(blocks), self._n_features_out))
        # A chunk of rows at a time, every modality's columns of it written
        # into a zeroed, cache-sized stretch of the output: the output is
        # written once, front to back, and no n-row temporary is formed.
        step = chunk_rows(self._n_features_out, _NYSTROEM_CHUNK_ELEMENTS)
        for first in range(0, len(blocks), step):
            chunk = fused[first : first + step]
            chunk[...] = 0.0
            for name, (where, factor) in columns.items():
                present = np.flatnonzero(masks[name][first : first + step])
                if present.size:
                    rows = first + present
                    features = self._modality_features(name, blocks[name][rows])
                    features *= (factor * scale[rows])[:, None]
                    chunk[present, where] = features
        return fused

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.pairwise = False
        return tags


def _check_kernels(kernels, modality_names):
    if isinstance(kernels, str):
        return dict.fromkeys(modality_names, kernels)
    unknown = [name for name in kernels if name not in modality_names]
    if unknown:
        raise ValueError(
            f"kernels names modalities {unknown} that the blocks do not hold; the "
            f"modalities are {list(modality_names)}."
        )
    for name, kernel in kernels.items():
        if not callable(kernel) and kernel not in _KERNELS:
            raise ValueError(
                f"Unknown kernel {kernel!r} for modality {name!r}; use one of "
                f"{sorted(_KERNELS)} or a callable kernel(A, B)."
            )
    return {name: kernels.get(name, "rbf") for name in modality_names}


def _check_gammas(gamma, kernels, blocks):
    if isinstance(gamma, dict):
        unknown = [name for name in gamma if name not in blocks.names]
        if unknown:
            raise ValueError(
                f"gamma names modalities {unknown} that the blocks do not hold; "
                f"the modalities are {list(blocks.names)}."
            )
        for name, value in gamma.items():
            if not isinstance(value, Real) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"The gamma of modality {name!r} must be a number > 0; got "
                    f"{value!r}."
                )
    gammas = {}
    for name, kernel in kernels.items():
        if kernel != "rbf":
            continue
        value = gamma.get(name) if isinstance(gamma, dict) else gamma
        gammas[name] = (
            float(value) if value is not None else 1.0 / blocks[name].shape[1]
        )
    return gammas


def _kernel_matrix(kernel, gamma, rows, train, name):
    """Kernel ``kernel`` between the blocks ``rows`` and ``train``, checked."""
    if rows.shape[0] == 0:
        return np.zeros((0, train.shape[0]))
    if kernel == "rbf":
        return rbf_kernel(rows, train, gamma=gamma)
    if isinstance(kernel, str):
        return _KERNELS[kernel](rows, train)
    matrix = kernel(rows, train)
    matrix = (
        matrix.toarray()
        if sparse.issparse(matrix)
        else np.asarray(matrix, dtype=np.float64)
    )
    expected = (rows.shape[0], train.shape[0])
    if matrix.shape != expected:
        raise ValueError(
            f"The kernel callable of modality {name!r} returned shape "
            f"{matrix.shape}; expected {expected} (rows of its first "
            "argument by rows of its second)."
        )
    if not np.isfinite(matrix).all():
        raise ValueError(
            f"The kernel callable of modality {name!r} returned NaN or infinite values."
        )
    return matrix


def _given_weights(given, modality_names):
    """The weights of ``weights=None`` or a dict: 1 for modalities not named."""
    weights = dict.fromkeys(modality_names, 1.0) | check_weights(given, modality_names)
    if not any(weights.values()):
        raise ValueError(
            f"weights={given!r} gives every modality a weight of 0; "
            "at least one modality needs a positive weight."
        )
    return weights


def _aligned_weights(alignments, fusion_name):
    """The positive part of the alignments; equal weights, with a warning, if none."""
    weights = {name: max(alignment, 0.0) for name, alignment in alignments.items()}
    if not any(weights.values()):
        warnings.warn(
            "No modality's kernel aligns positively with the target "
            f"(alignments {alignments}); {fusion_name} falls back to "
            "equal weights.",
            PolymodalWarning,
            stacklevel=4,
        )
        weights = dict.fromkeys(alignments, 1.0)
    return weights


def _row_weights(weights, masks):
    return sum(
        weight * masks[name].astype(np.float64) for name, weight in weights.items()
    )


def _inverse_sqrt(row_weights):
    safe = np.where(row_weights > 0, row_weights, 1.0)
    return np.where(row_weights > 0, 1.0 / np.sqrt(safe), 0.0)


def _target_matrix(y, n_rows):
    """Y such that Y Y^T is the target kernel: one-hot labels, or the targets."""
    if y is None:
        raise ValueError(
            "weights='align' aligns each modality's kernel with the target; pass y "
            "to fit."
        )
    y = np.asarray(y)
    if y.shape[0] != n_rows:
        raise ValueError(f"y has {y.shape[0]} rows but the blocks have {n_rows}.")
    columns = y.reshape(y.shape[0], -1)
    if type_of_target(y) in ("binary", "multiclass", "multiclass-multioutput"):
        return np.hstack(
            [
                (column[:, None] == np.unique(column)).astype(np.float64)
                for column in columns.T
            ]
        )
    try:
        target = columns.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            "weights='align' needs class labels or numeric targets; got y of dtype "
            f"{y.dtype}."
        ) from None
    if not np.isfinite(target).all():
        raise ValueError("weights='align' needs a target without NaN or infinity.")
    return target


def _centered_alignment(kernel, target):
    """<HKH, HYY^TH>_F / (||HKH||_F ||HYY^TH||_F), 0 when either is constant.

    HKH is formed a chunk of rows at a time, so that no second matrix of the
    kernel's size is needed.
    """
    column_means = kernel.mean(axis=0, keepdims=True)
    row_means = kernel.mean(axis=1, keepdims=True)
    mean = kernel.mean()
    target = target - target.mean(axis=0)
    target_norm = np.linalg.norm(target.T @ target)
    squares = inner = 0.0
    step = chunk_rows(kernel.shape[1], _CHUNK_ELEMENTS)
    for start in range(0, kernel.shape[0], step):
        stop = start + step
        centered = kernel[start:stop] - column_means - row_means[start:stop] + mean
        squares += float(np.sum(centered * centered))
        inner += float(np.sum(target[start:stop] * (centered @ target)))
    kernel_norm = np.sqrt(squares)
    if kernel_norm == 0 or target_norm == 0:
        return 0.0
    return float(inner / (kernel_norm * target_norm))


def _feature_alignment(features, target):
    """The centred alignment of the kernel ``features @ features.T``, from features.

    With :math:`\\Phi_c` and :math:`Y_c` the column-centred features and
    target, :math:`\\langle H \\Phi \\Phi^\\top H, Y_c Y_c^\\top \\rangle_F =
    \\lVert \\Phi_c^\\top Y_c \\rVert_F^2` and :math:`\\lVert H \\Phi
    \\Phi^\\top H \\rVert_F = \\lVert \\Phi_c^\\top \\Phi_c \\rVert_F`.
    """
    features = features - features.mean(axis=0)
    target = target - target.mean(axis=0)
    kernel_norm = np.linalg.norm(features.T @ features)
    target_norm = np.linalg.norm(target.T @ target)
    if kernel_norm == 0 or target_norm == 0:
        return 0.0
    inner = np.sum((features.T @ target) ** 2)
    return float(inner / (kernel_norm * target_norm))
