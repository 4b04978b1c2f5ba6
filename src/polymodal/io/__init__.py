"""Saving and loading fitted models without trusting pickles.

A model file written by :func:`save` is a zip archive:

``polymodal.json``
    The format, the way the estimator is stored (``"skops"`` or
    ``"joblib"``) and the versions of polymodal and the libraries it was
    fitted under.
``estimator.skops``
    The estimator in skops' format, which names every type it holds and
    builds nothing that the loader has not trusted. Torch state (a skorch
    net, a network's weights) is replaced there by a placeholder and stored
    beside it:
``torch/<n>/``
    A skorch net's ``save_params`` files (``params.pt``, ``optimizer.pt``,
    ``criterion.pt``, ``history.json``) or a ``state_dict`` of tensors
    (``tensors.pt``), read back with ``torch.load(..., weights_only=True)``,
    which loads tensors only.
``xgboost/<n>/model.json``
    An xgboost booster, in xgboost's own JSON model format; :func:`load`
    checks its trees (see :mod:`polymodal.io._load_checks`) before xgboost
    reads it.
``estimator.joblib``
    Instead of ``estimator.skops``, when skops cannot store the estimator (a
    user's own torch module as a parameter, say): a joblib pickle, which
    :func:`load` opens only when the caller trusts the file.

The search trees of nearest-neighbour models (``KDTree``, ``BallTree``) are
not stored: a placeholder holds the data and parameters they were built from,
and :func:`load` builds them again, as ``fit`` did.

Why the tree models load without trust
--------------------------------------
scikit-learn's decision trees (``sklearn.tree._tree.Tree``: every decision
tree, random forest, extra trees and gradient boosting model) and
HistGradientBoosting's ``TreePredictor`` are in :data:`TRUSTED_TYPES`,
although skops leaves them out of its defaults. skops' loader for ``Tree``
(``TreeNode`` in ``skops/io/_sklearn.py``) names the class itself, never the
file, and rebuilds it from numbers and arrays through ``Tree.__setstate__``;
a ``TreePredictor`` is a plain object given its arrays: loading either runs
no code from the file. skops' one reason for leaving them out
(``skops.io.exceptions.UNTRUSTED_TYPE_REASONS``) is that their node arrays
hold indices that scikit-learn's compiled prediction code follows without
bounds checks, so a crafted file could make ``predict`` read or write
outside memory. :func:`load` removes that reason: before it returns a model,
it checks every child and feature index of every tree against the arrays and
the rows they reach (:func:`polymodal.io._load_checks.check_loaded`) and refuses
a file that fails. xgboost's ``Booster`` has the same weakness (a crafted
model crashes ``predict``) and is not trusted as a type: its model is stored
as JSON and checked the same way before xgboost reads it.

Classes that moved
------------------
A model file names every class it holds by the module that defined it when
the file was saved. When a class moves, :func:`load` reads the old name as
the new one through one table (:mod:`polymodal.io._former_locations`, whose
docstring gives the rule for adding to it), so files saved before the move
load without trust.
"""

# One job per module:
#   _persistence       save and load: the file's layout and what loads.
#   _trust             TRUSTED_TYPES (public estimators from the registry of
#                      polymodal.utils._registry) and UntrustedModelError.
#   _former_locations  the table of classes' former locations, and its rule.
#   _members           the torch, skorch, xgboost and neighbours-tree state kept
#                      beside skops' part, and the records standing in for it.
#   _archive           reproducible zip archives; skops' archive rewritten.
#   _load_checks       the checks of every tree's indices: the condition under
#                      which the tree types are trusted, so part of the loading
#                      policy; nothing outside polymodal.io uses them.
from ._persistence import load, save
from ._trust import UntrustedModelError, trusted_types

# TRUSTED_TYPES comes from the module __getattr__ below.
__all__ = ["TRUSTED_TYPES", "UntrustedModelError", "load", "save"]


def __getattr__(name):
    # TRUSTED_TYPES imports every public package; only loading needs it.
    if name == "TRUSTED_TYPES":
        return trusted_types()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
