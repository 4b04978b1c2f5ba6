"""ColumnTransformer rebuilt from MultimodalUnion and ConcatFusion.

scikit-learn's own test file for ColumnTransformer runs against these two names
(see ``test_column_transformer_parity.py``), so that the promise "MultimodalUnion
behaves like ColumnTransformer" is measured by the strongest external test there
is. The adapter is deliberately thin, so that every failure it lets through
belongs to polymodal, not to the adapter:

- ``fit``, ``fit_transform`` and ``transform`` run the union, then a
  :class:`~polymodal.fusion.ConcatFusion` that only concatenates: no presence
  indicators, no block scaling, no imputation. The fusion receives the union's
  blocks as a Pipeline of the two would hand them on (``fit`` runs the union's
  ``fit_transform``, as ColumnTransformer's own ``fit`` does).
- Parameters are the union's, plus ``sparse_threshold``, which in polymodal
  belongs to the fusion step.
- Every other attribute (``transformers_``, ``named_transformers_``,
  ``output_indices_``, ``feature_names_in_``, ``get_feature_names_out``,
  ``_sk_visual_block_``, ``get_metadata_routing``, ...) is the union's own.
- ``set_output`` configures both steps; the output container is whatever the
  fusion step returns.
"""

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from polymodal import MultimodalUnion, make_multimodal_union
from polymodal.fusion import ConcatFusion

# The ConcatFusion settings under which it only concatenates the blocks.
CONCATENATE_ONLY = {
    "weights": None,
    "scale_blocks": False,
    "impute": "none",
    "indicators": False,
}

# Private attributes that the union answers; other private names stay the
# adapter's own (scikit-learn's machinery looks some of them up on it).
_DELEGATED_PRIVATE = frozenset({"_sk_visual_block_"})


class ColumnTransformer(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """MultimodalUnion followed by a concatenate-only ConcatFusion.

    Parameters
    ----------
    transformers : list of tuples
        As in :class:`~polymodal.MultimodalUnion`.
    sparse_threshold : float, default=0.3
        Passed to :class:`~polymodal.fusion.ConcatFusion`.
    **union_params : dict
        The other parameters of :class:`~polymodal.MultimodalUnion`.
    """

    def __init__(self, transformers, *, sparse_threshold=0.3, **union_params):
        self._union = MultimodalUnion(transformers, **union_params)
        self._fusion = ConcatFusion(
            sparse_threshold=sparse_threshold, **CONCATENATE_ONLY
        )

    # -- parameters: the union's, plus the fusion's sparse_threshold ---------
    def get_params(self, deep=True):
        return {
            **self._union.get_params(deep=deep),
            "sparse_threshold": self._fusion.sparse_threshold,
        }

    def set_params(self, **params):
        if "sparse_threshold" in params:
            self._fusion.set_params(sparse_threshold=params.pop("sparse_threshold"))
        self._union.set_params(**params)
        return self

    @property
    def sparse_threshold(self):
        return self._fusion.sparse_threshold

    # -- the two steps ---------------------------------------------------------
    def fit(self, X, y=None, **params):
        self._fusion.fit(self._union.fit_transform(X, y, **params))
        return self

    def fit_transform(self, X, y=None, **params):
        return self._fusion.fit_transform(self._union.fit_transform(X, y, **params))

    def transform(self, X, **params):
        return self._fusion.transform(self._union.transform(X, **params))

    def set_output(self, *, transform=None):
        self._union.set_output(transform=transform)
        self._fusion.set_output(transform=transform)
        return self

    @property
    def sparse_output_(self):
        return self._fusion.sparse_output_

    # -- everything else is the union's ------------------------------------------
    def get_feature_names_out(self, input_features=None):
        return self._union.get_feature_names_out(input_features)

    def get_metadata_routing(self):
        return self._union.get_metadata_routing()

    def __getitem__(self, key):
        return self._union[key]

    def __sklearn_is_fitted__(self):
        try:
            check_is_fitted(self._union)
        except Exception:
            return False
        return True

    def __sklearn_tags__(self):
        return self._union.__sklearn_tags__()

    def __getattr__(self, name):
        # Only reached when normal lookup fails. "_union" itself must not
        # recurse (while unpickling, before __dict__ is restored).
        if name in ("_union", "_fusion") or (
            name.startswith("_") and name not in _DELEGATED_PRIVATE
        ):
            raise AttributeError(name)
        return getattr(self._union, name)


def make_column_transformer(*transformers, sparse_threshold=0.3, **union_params):
    """:func:`~polymodal.make_multimodal_union`, wrapped in the adapter."""
    union = make_multimodal_union(*transformers, **union_params)
    params = union.get_params(deep=False)
    return ColumnTransformer(
        params.pop("transformers"), sparse_threshold=sparse_threshold, **params
    )
