"""Pandas output of the fusion steps, indexed by the patients' row labels."""

import pandas as pd
from scipy import sparse

from ._sklearn_compat import _get_output_config

__all__ = ["labelled_output"]


def labelled_output(estimator, output, blocks):
    """``output`` as a DataFrame indexed by ``blocks.index`` under pandas output.

    scikit-learn's output wrapper copies the index only from a pandas input;
    blocks are not one, so a fusion step hands its rows' labels on itself.
    The wrapper then names the columns. Anything else is returned as is.

    Parameters
    ----------
    estimator : estimator instance
        The fusion step whose ``set_output`` configuration decides.
    output : ndarray or sparse matrix
        What ``transform`` computed, one row per row of ``blocks``.
    blocks : ModalityBlocks
        The validated input.

    Returns
    -------
    ndarray, sparse matrix or DataFrame
    """
    if sparse.issparse(output):
        return output
    if _get_output_config("transform", estimator)["dense"] != "pandas":
        return output
    return pd.DataFrame(output, index=blocks.index)
