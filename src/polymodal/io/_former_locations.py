"""Where classes used to live: the table that keeps old model files loading.

A model file names each class and function it holds by where it was defined
when the file was saved: ``module.Name``, as skops writes it (the class's
``__module__`` and name). When a class moves to another module, or a module is
renamed, files saved before the move name a place that no longer holds it,
and the current name is the one :data:`polymodal.io.TRUSTED_TYPES` trusts.
:func:`polymodal.io.load` therefore rewrites every name of a file's skops
schema through :data:`FORMER_LOCATIONS` before anything reads it: before the
trust check, which then judges the current name, and before skops imports
anything. A file saved before the move loads, without ``trusted=``, exactly
as before. The rewrite maps a name only to where one of polymodal's own
objects lives now, so it trusts nothing that was not trusted.

The rule
--------
Whoever moves or renames a class or function that a model file can hold (a
public estimator, a fitted helper an estimator keeps, a function a
transformer stores, one of :mod:`polymodal.io._members`' records) adds, in the
same commit, one line to :data:`FORMER_LOCATIONS`::

    "old.module.Name": "import.path.Name",

- The key is the name that files saved before the move hold: the old
  ``module.Name`` where the object was defined (``class_path`` of
  :mod:`polymodal.utils._registry`), not a path it was re-exported from.
- The value is a path from which the object imports now. For a public
  estimator, use its public path (``polymodal.fusion.StackingFusionClassifier``):
  later moves then need no change to the line. :func:`current_name` imports it
  and writes where the object is defined now.
- Lines are never removed: files saved by any earlier version keep naming the
  old place. When an object moves again, add its newest former place as a key
  too, and update any value that was a private path.
- A key that still names where the object is defined (the move not landed
  yet) is harmless: nothing is rewritten.

``tests/test_io.py`` checks that every value imports and names an object
that :func:`polymodal.io.load` trusts, and loads a file whose schema names a
former location; ``tests/test_saved_models.py`` loads model files committed
before classes moved.
"""

import importlib

from ..utils._registry import class_path

__all__ = ["FORMER_LOCATIONS", "current_name", "resolve"]

#: ``{"former.module.Name": "import.path.Name"}``; see the module's rule.
FORMER_LOCATIONS = {
    # io.py became the polymodal.io package; its records of what skops must
    # not store moved to polymodal.io._members.
    "polymodal.io._SkorchNetRecord": "polymodal.io._members.SkorchNetRecord",
    "polymodal.io._TorchStateRecord": "polymodal.io._members.TorchStateRecord",
    "polymodal.io._XGBoostRecord": "polymodal.io._members.XGBoostRecord",
    "polymodal.io._NeighborsTreeRecord": "polymodal.io._members.NeighborsTreeRecord",
    "polymodal.io._Rebuilt": "polymodal.io._members.Rebuilt",
    # _config.py, the command line's recipes, was named like scikit-learn's
    # global-configuration module.
    "polymodal._config.EncodedLabelsClassifier": (
        "polymodal._recipes.EncodedLabelsClassifier"
    ),
    "polymodal._config.none_as_nan": "polymodal._recipes.none_as_nan",
    "polymodal._config.to_dense": "polymodal._recipes.to_dense",
    # fusion/_late.py was split by estimator family.
    "polymodal.fusion._late.StackingFusionClassifier": (
        "polymodal.fusion.StackingFusionClassifier"
    ),
    # union.py became the polymodal.union package.
    "polymodal.union.MultimodalUnion": "polymodal.MultimodalUnion",
}


def resolve(path):
    """The object that ``import.path.Name`` names.

    Examples
    --------
    >>> resolve("polymodal.fusion.ConcatFusion").__name__
    'ConcatFusion'
    """
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def current_name(name):
    """Where the object that a file names ``name`` is defined now.

    ``name`` itself unless :data:`FORMER_LOCATIONS` lists it.

    Examples
    --------
    >>> current_name("polymodal.io._Rebuilt")
    'polymodal.io._members.Rebuilt'
    >>> current_name("sklearn.pipeline.Pipeline")
    'sklearn.pipeline.Pipeline'
    """
    target = FORMER_LOCATIONS.get(name)
    return name if target is None else class_path(resolve(target))
