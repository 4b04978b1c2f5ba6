"""Which types :func:`polymodal.io.load` trusts, and the error when a file needs more.

The trusted types are, by the name skops writes (``module.Name``, where the
class or function is defined):

- every public estimator, from the one registry
  (:func:`polymodal.utils._registry.public_estimators`), so a new estimator is
  trusted as soon as its package exports it;
- io's own records (:mod:`polymodal.io._members`), from their classes;
- ``_POLYMODAL_HELPERS``: what polymodal's estimators keep inside them, by
  name (some live in modules that import torch, which loading a model
  without torch state must not need); ``tests/test_io.py`` checks that each
  name is where the object is defined;
- ``_LIBRARY_TYPES``: types of other libraries, each with its reason.
"""

import functools

from ..utils._registry import class_path, public_estimators
from . import _members

__all__ = ["UntrustedModelError", "allowed_types", "trusted_types"]

_POLYMODAL_HELPERS = (
    # A fitted projection of one modality inside Average/Product/TensorFusion.
    "polymodal.fusion._aggregate._BlockProjection",
    # ClinicalTextVectorizer's analyzer, a function of polymodal.
    "polymodal.text._negation.analyze",
    # The tabular recipe's step that makes None a missing value for the imputer.
    "polymodal._recipes.none_as_nan",
    # The command line's wrapper that codes labels 0 to n - 1 for xgboost,
    # and its step that gives HistGradientBoosting dense features.
    "polymodal._recipes.EncodedLabelsClassifier",
    "polymodal._recipes.to_dense",
    # The network modules that the deep estimators' skorch nets rebuild.
    "polymodal.deep._mlp_module.MLPModule",
    "polymodal.deep._network.FusionNetwork",
)
_RECORDS = (
    # The placeholders of torch state, filled from the archive's torch/ files.
    _members.SkorchNetRecord,
    _members.TorchStateRecord,
    # The placeholders of an xgboost booster and a nearest-neighbour tree.
    _members.XGBoostRecord,
    _members.NeighborsTreeRecord,
    # Builds, as unpickling does, an object of a class that skops audited.
    _members.Rebuilt,
)
_LIBRARY_TYPES = (
    # A partial of a trusted function; skops audits the function itself.
    "functools.partial",
    "sklearn.utils._bunch.Bunch",
    # Column selection by dtype or name pattern, as the --config recipes use.
    "sklearn.compose._column_transformer.make_column_selector",
    # CalibratedClassifierCV's fitted parts: plain objects that skops builds
    # from their attributes, as it builds the public estimators.
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    # Trusted because load checks their node indices (polymodal.io's docstring).
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "numpy.dtype",
    "scipy.sparse._csr.csr_matrix",
    "scipy.sparse._csc.csc_matrix",
    "scipy.sparse._coo.coo_matrix",
    "scipy.sparse._csr.csr_array",
    "scipy.sparse._csc.csc_array",
    "scipy.sparse._coo.coo_array",
    # Their boosters are stored apart, as checked JSON (polymodal.io's docstring).
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
    # The losses and optimizers of the deep estimators' skorch nets: only
    # their classes are stored, and the weights come as tensors.
    "torch.nn.modules.loss.CrossEntropyLoss",
    "torch.nn.modules.loss.MSELoss",
    "torch.optim.adam.Adam",
    "torch.optim.adamw.AdamW",
    "torch.optim.sgd.SGD",
)


@functools.cache
def trusted_types():
    """The names of :data:`polymodal.io.TRUSTED_TYPES`, as a tuple.

    It imports every public package (not torch), so it is computed when
    first needed.
    """
    estimators = sorted({class_path(cls) for _, cls in public_estimators()})
    records = [class_path(cls) for cls in _RECORDS]
    return (*estimators, *_POLYMODAL_HELPERS, *records, *_LIBRARY_TYPES)


def allowed_types(named, trusted):
    """The set of names that skops may build from a file that names ``named``.

    ``trusted`` is the caller's: a list of names to trust on top of
    :func:`trusted_types`, None, or True to trust whatever the file names.
    """
    if trusted is True:
        return set(named)
    return set(trusted_types()) | set(trusted or ())


class UntrustedModelError(ValueError):
    """A model file that :func:`load` opens only when the caller trusts it.

    Attributes
    ----------
    reason : str
        Why the file needs trust, in one sentence.
    untrusted_types : list of str
        The types the file holds beyond :data:`TRUSTED_TYPES` and the
        ``trusted`` argument; empty for a pickle, which can hold anything, and
        for a tree that fails the checks of its indices.
    """

    def __init__(self, message, *, reason, untrusted_types=()):
        super().__init__(message)
        self.reason = reason
        self.untrusted_types = list(untrusted_types)


# Its public name: tracebacks and the API reference show polymodal.io's.
UntrustedModelError.__module__ = "polymodal.io"
