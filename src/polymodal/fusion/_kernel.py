"""Kernel fusion: a weighted sum of per-modality kernels, for precomputed-kernel heads."""

import warnings
from numbers import Real

import numpy as np
from scipy import sparse
from sklearn.base import ClassNamePrefixFeaturesOutMixin
from sklearn.metrics.pairwise import cosine_similarity, linear_kernel, rbf_kernel
from sklearn.utils.multiclass import type_of_target

from ..exceptions import PolymodalWarning
from ..utils._missing import warn_fused_rows_without_modality
from ..utils._sklearn_compat import Interval, StrOptions, _fit_context
from ..utils._subset import ModalitySubsetMixin
from ._base import _BlockFusion
from ._weights import check_weights

__all__ = ["KernelFusion"]

_KERNELS = {"rbf": rbf_kernel, "linear": linear_kernel, "cosine": cosine_similarity}


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
        return self._transform(blocks, self._fit(blocks, y))

    def _transform(self, blocks, train_kernels=None):
        """The fused kernel between the rows of ``blocks`` and the training rows.

        ``fit_transform`` hands on the training kernels ``_fit`` computed; the
        others it computes on the stored training rows themselves, so that a
        row's distance to itself is exactly 0.
        """
        kernels = {} if train_kernels is None else train_kernels
        for name, weight in self.weights_.items():
            if weight > 0 and name not in kernels:
                rows = (
                    blocks[name][blocks.masks[name]]
                    if train_kernels is None
                    else self.fit_blocks_[name]
                )
                kernels[name] = self._modality_kernel(name, rows)
        return self._combine(kernels, blocks)

    @property
    def _n_features_out(self):
        return len(self.fit_row_weights_)

    def _fit(self, blocks, y):
        self.kernels_ = _check_kernels(self.kernels, blocks.names)
        self.gammas_ = _check_gammas(self.gamma, self.kernels_, blocks)
        self.fit_blocks_ = {
            name: block[blocks.masks[name]] for name, block in blocks.items()
        }
        self.fit_masks_ = {name: blocks.masks[name].copy() for name in blocks.names}
        train_kernels = {}
        if self.weights == "align":
            train_kernels = {
                name: self._modality_kernel(name, self.fit_blocks_[name])
                for name in blocks.names
            }
            self.alignments_ = _target_alignments(train_kernels, blocks, y)
            weights = {
                name: max(alignment, 0.0)
                for name, alignment in self.alignments_.items()
            }
            if not any(weights.values()):
                warnings.warn(
                    "No modality's kernel aligns positively with the target "
                    f"(alignments {self.alignments_}); KernelFusion falls back to "
                    "equal weights.",
                    PolymodalWarning,
                    stacklevel=3,
                )
                weights = dict.fromkeys(blocks.names, 1.0)
        else:
            if hasattr(self, "alignments_"):
                del self.alignments_
            weights = dict.fromkeys(blocks.names, 1.0) | check_weights(
                self.weights, blocks.names
            )
            if not any(weights.values()):
                raise ValueError(
                    f"weights={self.weights!r} gives every modality a weight of 0; "
                    "at least one modality needs a positive weight."
                )
        total = sum(weights.values())
        self.weights_ = {name: weight / total for name, weight in weights.items()}
        self.fit_row_weights_ = _row_weights(self.weights_, blocks.masks)
        return train_kernels

    def _modality_kernel(self, name, rows):
        """Kernel between ``rows`` (present rows) and modality ``name``'s training rows."""
        kernel = self.kernels_[name]
        train = self.fit_blocks_[name]
        if rows.shape[0] == 0:
            return np.zeros((0, train.shape[0]))
        if kernel == "rbf":
            matrix = rbf_kernel(rows, train, gamma=self.gammas_[name])
        elif isinstance(kernel, str):
            matrix = _KERNELS[kernel](rows, train)
        else:
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
                    f"The kernel callable of modality {name!r} returned NaN or "
                    "infinite values."
                )
        return matrix

    def _combine(self, kernels, blocks):
        masks = blocks.masks
        fused = np.zeros((len(blocks), len(self.fit_row_weights_)))
        for name, matrix in kernels.items():
            weight = self.weights_[name]
            if weight > 0:
                rows = np.flatnonzero(masks[name])
                columns = np.flatnonzero(self.fit_masks_[name])
                fused[np.ix_(rows, columns)] += weight * matrix
        row_weights = _row_weights(self.weights_, masks)
        warn_fused_rows_without_modality(
            self,
            blocks,
            "an all-zero kernel row",
            empty=row_weights == 0,
            which="of positive weight present",
            stacklevel=4,
        )
        fused *= _inverse_sqrt(row_weights)[:, None]
        fused *= _inverse_sqrt(self.fit_row_weights_)[None, :]
        return fused

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # The input is features, not a precomputed kernel: the kernel is the
        # output, for heads whose own pairwise tag is True.
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


def _row_weights(weights, masks):
    return sum(
        weight * masks[name].astype(np.float64) for name, weight in weights.items()
    )


def _inverse_sqrt(row_weights):
    safe = np.where(row_weights > 0, row_weights, 1.0)
    return np.where(row_weights > 0, 1.0 / np.sqrt(safe), 0.0)


def _target_alignments(train_kernels, blocks, y):
    if y is None:
        raise ValueError(
            "weights='align' aligns each modality's kernel with the target; pass y "
            "to fit."
        )
    target = _target_matrix(y)
    if target.shape[0] != len(blocks):
        raise ValueError(
            f"y has {target.shape[0]} rows but the blocks have {len(blocks)}."
        )
    return {
        name: _centered_alignment(kernel, target[blocks.masks[name]])
        for name, kernel in train_kernels.items()
    }


def _target_matrix(y):
    """Y such that Y Y^T is the target kernel: one-hot labels, or the targets."""
    y = np.asarray(y)
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
    """<HKH, HYY^TH>_F / (||HKH||_F ||HYY^TH||_F), 0 when either is constant."""
    centered = (
        kernel
        - kernel.mean(axis=0, keepdims=True)
        - kernel.mean(axis=1, keepdims=True)
        + kernel.mean()
    )
    target = target - target.mean(axis=0)
    kernel_norm = np.linalg.norm(centered)
    target_norm = np.linalg.norm(target.T @ target)
    if kernel_norm == 0 or target_norm == 0:
        return 0.0
    inner = np.sum(target * (centered @ target))
    return float(inner / (kernel_norm * target_norm))
