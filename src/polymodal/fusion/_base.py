"""What the fusion transformers share: fit and transform around per-class hooks."""

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..utils._output import labelled_output
from ..utils._sklearn_compat import _fit_context
from ..utils.validation import validate_blocks

__all__ = []


class _BlockFusion(TransformerMixin, BaseEstimator):
    """Base of the transformers that fuse modality blocks into one output.

    ``fit`` and ``transform`` are written once, here, on two hooks of each
    subclass:

    - ``_fit(blocks, y)`` learns from the validated blocks (and the target,
      for a fusion that uses one);
    - ``_transform(blocks)`` fuses validated blocks with the modalities seen
      in fit.

    ``transform`` hands its rows' index labels on to pandas output. A subclass
    whose blocks may hold NaN in present rows sets ``_allow_nan``.
    """

    _allow_nan = False

    def _validate_blocks(self, X, *, reset):
        return validate_blocks(self, X, reset=reset, allow_nan=self._allow_nan)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the fusion: learn from the blocks what ``transform`` needs.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            The blocks; a plain array is one modality.
        y : array-like of shape (n_samples,), default=None
            The target, used by the fusions and options that the class
            description names; ignored by the others.

        Returns
        -------
        self : object
            The fitted fusion.
        """
        self._fit(self._validate_blocks(X, reset=True), y)
        return self

    def transform(self, X):
        """Fuse the modalities of each row.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            Blocks with the modalities seen in fit; a plain array is one
            modality.

        Returns
        -------
        X_fused : {ndarray, sparse matrix} of shape (n_samples, n_features_out)
            The fused features, as the class description says; a DataFrame
            indexed by the rows' labels under pandas output.
        """
        check_is_fitted(self)
        blocks = self._validate_blocks(X, reset=False)
        return labelled_output(self, self._transform(blocks), blocks)
