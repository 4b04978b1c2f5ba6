"""A minimal image featurizer: downsample each image and flatten its pixels."""

import functools
import numbers
import os

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._io import read_image_file


class DownsampledPixels(TransformerMixin, BaseEstimator):
    """Downsample each image to ``size`` x ``size`` pixels and flatten it.

    The simple array featurizer that the built-in cohort
    (:func:`polymodal.datasets.make_patients`) uses for its ``ct`` column until the
    image transformers of :mod:`polymodal.image` exist: each image is shrunk by area
    averaging and flattened into ``size * size`` features. Follow it with a
    :class:`~sklearn.decomposition.PCA` to get a compact representation.

    Parameters
    ----------
    size : int, default=8
        Side of the downsampled image; the output has ``size * size`` columns.

    Attributes
    ----------
    n_features_in_ : int
        Always 1: the input is one column of images.

    See Also
    --------
    polymodal.datasets.make_patients : The synthetic cohort whose ``ct`` column this
        featurizer reads.

    Notes
    -----
    The input is one column: a pandas Series, a list, a 1-D object array, or a
    one-column DataFrame or 2-D object array. Each cell holds either

    - a 2-D array (one grayscale image; singleton axes such as a leading channel axis
      are dropped), or
    - the path of an image file. Files ending in ``.dcm`` or ``.dicom`` are read with
      pydicom, applying ``RescaleSlope`` and ``RescaleIntercept`` (so CT values come
      back in Hounsfield units); any other file is read with Pillow, converted to
      8-bit grayscale unless it already has one channel, and keeps its stored values
      (0-255 for an 8-bit PNG or JPEG). Reading files needs the ``image`` extra.

    Output pixel ``(i, j)`` is the mean of the input over the rectangle that it
    covers, each input pixel weighted by its overlap with that rectangle. When the
    image side is a multiple of ``size`` this is a plain block average; images
    smaller than ``size`` are enlarged by replicating pixels.

    An absent image (``None``, NaN) is an error, as is a file that cannot be read:
    :class:`polymodal.MultimodalUnion` passes only the rows where a modality is
    present. Error messages name the row by its index label for pandas input and
    by its position otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal.image._pixels import DownsampledPixels
    >>> images = [np.arange(1024.0).reshape(32, 32), np.ones((16, 16))]
    >>> pixels = DownsampledPixels(size=4).fit_transform(images)
    >>> pixels.shape
    (2, 16)
    >>> pixels[1, :4]
    array([1., 1., 1., 1.])
    """

    def __init__(self, size=8):
        self.size = size

    def fit(self, X, y=None):
        """Check the parameters and the input column.

        Parameters
        ----------
        X : array-like of shape (n_samples,)
            A column of 2-D arrays or image file paths.
        y : None
            Ignored.

        Returns
        -------
        self : DownsampledPixels
            The fitted featurizer.
        """
        self._validate_size()
        labels, _ = _as_cells(X)
        if len(labels) == 0:
            raise ValueError(
                "Found array with 0 sample(s) while a minimum of 1 is required "
                "by DownsampledPixels."
            )
        self.n_features_in_ = 1
        return self

    def transform(self, X):
        """Downsample and flatten every image of the column.

        Parameters
        ----------
        X : array-like of shape (n_samples,)
            A column of 2-D arrays or image file paths.

        Returns
        -------
        pixels : ndarray of shape (n_samples, size * size), dtype float64
            Row ``r`` holds image ``r`` downsampled, in row-major order.
        """
        check_is_fitted(self)
        self._validate_size()
        labels, cells = _as_cells(X)
        pixels = np.empty((len(cells), self.size * self.size), dtype=np.float64)
        for position, (label, cell) in enumerate(zip(labels, cells)):
            image = _load_image(cell, label)
            row_weights = _area_weights(image.shape[0], self.size)
            column_weights = _area_weights(image.shape[1], self.size)
            pixels[position] = (row_weights @ image @ column_weights.T).ravel()
        return pixels

    def get_feature_names_out(self, input_features=None):
        """Name the output columns ``pixel_0``, ``pixel_1``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored; the names depend on ``size`` only.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``size * size`` names, in the order of the output columns.
        """
        check_is_fitted(self)
        return np.asarray(
            [f"pixel_{index}" for index in range(self.size * self.size)], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def _validate_size(self):
        if (
            not isinstance(self.size, numbers.Integral)
            or isinstance(self.size, bool)
            or self.size < 1
        ):
            raise ValueError(
                f"The 'size' parameter of DownsampledPixels must be an int >= 1; "
                f"got {self.size!r}."
            )


def _as_cells(X):
    """Return the row labels and the cells of a one-column input.

    Row labels are the index of a pandas input and positions otherwise, so that
    error messages point at the row the user knows.
    """
    if isinstance(X, (str, bytes, os.PathLike)):
        raise TypeError(
            "DownsampledPixels takes a column of images (a Series, list or 1-D "
            f"array); got a single {type(X).__name__}. Wrap it in a list."
        )
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(
                "DownsampledPixels takes one column of images; got a DataFrame with "
                f"{X.shape[1]} columns."
            )
        X = X.iloc[:, 0]
    if isinstance(X, pd.Series):
        return list(X.index), list(X)
    if isinstance(X, np.ndarray):
        if X.dtype != object or X.ndim > 2 or (X.ndim == 2 and X.shape[1] != 1):
            raise ValueError(
                "DownsampledPixels takes a 1-D column whose cells are 2-D arrays or "
                f"image paths; got an array of shape {X.shape} and dtype {X.dtype}. "
                "Put each image in one cell of an object array or a list."
            )
        cells = list(X.ravel())
    else:
        cells = list(X)
    return list(range(len(cells))), cells


def _load_image(cell, label):
    """Return one cell as a 2-D float64 array, reading it from disk if it is a path."""
    if isinstance(cell, (str, os.PathLike)):
        image = read_image_file(cell, label)
    elif isinstance(cell, (np.ndarray, list, tuple)):
        try:
            image = np.asarray(cell, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"Row {label} holds an array that is not numeric: {exc}"
            ) from exc
    elif pd.api.types.is_scalar(cell) and pd.isna(cell):
        raise ValueError(
            f"Row {label} holds no image ({cell!r}). DownsampledPixels needs an image "
            "in every row; drop absent rows or let MultimodalUnion do it."
        )
    else:
        raise TypeError(
            f"Row {label} holds a {type(cell).__name__}; DownsampledPixels expects a "
            "2-D array or the path of an image file."
        )
    image = np.squeeze(image)
    if image.ndim != 2 or 0 in image.shape:
        raise ValueError(
            f"Row {label} holds an image of shape {image.shape}; DownsampledPixels "
            "expects one 2-D grayscale image per row."
        )
    return image


# Images of one cohort share their shape, so the few weight matrices are cached.
@functools.lru_cache(maxsize=64)
def _area_weights(n_in, n_out):
    """Matrix of shape (n_out, n_in) that averages n_in pixels into n_out bins.

    Entry ``(i, k)`` is the overlap of input pixel ``[k, k + 1)`` with output bin
    ``i`` (``[i, i + 1) * n_in / n_out``), normalised so that each row sums to one.
    The cached array is shared between calls and must not be modified.
    """
    edges = np.linspace(0.0, n_in, n_out + 1)
    pixel_starts = np.arange(n_in)
    overlap = np.minimum(edges[1:, None], pixel_starts + 1.0) - np.maximum(
        edges[:-1, None], pixel_starts
    )
    overlap = np.clip(overlap, 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)
