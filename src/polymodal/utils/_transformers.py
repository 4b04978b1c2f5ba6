"""What the modality transformers share: fit, fit_transform and transform."""

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._sklearn_compat import _fit_context

__all__ = ["ImageBlockMixin", "ModalityTransformer"]


class ModalityTransformer(TransformerMixin, BaseEstimator):
    """Base of the transformers that turn one modality's values into features.

    ``fit``, ``fit_transform`` and ``transform`` are written once, here, on
    three hooks of each subclass:

    - ``_fit(X)`` learns from ``X`` and returns what it read from it, in the
      form ``_read`` returns;
    - ``_read(X)`` reads and checks ``X`` for a fitted transformer;
    - ``_output(read)`` turns what was read into the output (by default the
      read itself, for a transformer whose reading gives the features).

    ``fit_transform`` hands what ``_fit`` read to ``_output``, so that the
    input is read (decoded, counted, tokenised, validated) once, not twice.

    ``_learns_from_rows`` is False in a subclass (or, when it depends on the
    parameters, a property of the instance) whose ``fit`` reads nothing from
    the rows but their shape and validity, and whose output for a row does
    not depend on the other rows. :class:`~polymodal.MultimodalUnion` with
    ``batch_size`` may then fit it on one batch and stream the rest, and
    :func:`~polymodal.model_selection.compare_fusions`,
    :func:`~polymodal.inspection.modality_importance` and
    :func:`~polymodal.inspection.missing_modality_curve` compute its output
    once for all rows and slice it per fold instead of refitting it there.
    A pipeline qualifies through its leading steps that declare it.

    This is polymodal's declaration rather than scikit-learn's
    ``requires_fit=False`` tag on purpose. That tag says the estimator may be
    used without ``fit`` at all: ``check_is_fitted`` then passes on an
    unfitted instance and the common checks stop testing the not-fitted
    error. These transformers do need ``fit`` (it validates the parameters
    and the input and records ``n_features_in_``, the output width, the image
    shape and feature names that ``transform`` checks against), so they keep
    scikit-learn's fitted semantics; what they promise is narrower: fitting
    on any rows gives the same transformer, so fitting on all rows is the
    same as fitting on each fold's.
    """

    _learns_from_rows = True

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and the input, and learn what the output needs.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, C, H, W)
            One modality's values, one per sample: a column of sequences,
            notes, SMILES strings, or image paths or arrays, or a block of
            images for the steps that follow
            :class:`~polymodal.image.ImageLoader`. The class description says
            which this transformer takes.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        self._fit(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit and return the output for ``X``, reading ``X`` only once.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, C, H, W)
            One modality's values, one per sample, as for :meth:`fit`.
        y : None
            Ignored.

        Returns
        -------
        output : ndarray or sparse matrix with n_samples rows
            What :meth:`transform` returns for ``X``.
        """
        return self._output(self._fit(X))

    def transform(self, X):
        """Return the output for each sample of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, C, H, W)
            One modality's values, one per sample, as for :meth:`fit`.

        Returns
        -------
        output : ndarray or sparse matrix with n_samples rows
            One row per sample, as the class description says: features, an
            encoding, or a block of images.
        """
        check_is_fitted(self)
        return self._output(self._read(X))

    def _check_n_samples(self, n_samples):
        """A ValueError, in scikit-learn's words, when ``fit`` gets no sample."""
        if n_samples == 0:
            raise ValueError(
                "Found array with 0 sample(s) (shape=(0,)) while a minimum of 1 is "
                f"required by {type(self).__name__}."
            )

    def _output(self, read):
        return read


class ImageBlockMixin:
    """Tags of a transformer that takes an (n, C, H, W) block of images.

    An N-D block, not a 2-D table: scikit-learn's numeric-table checks do not
    apply, as for the string-column transformers.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags
