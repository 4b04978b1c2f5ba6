"""The one registry of polymodal's public estimators.

A public estimator is a subclass of :class:`~sklearn.base.BaseEstimator`
named in the ``__all__`` of one of :data:`PUBLIC_PACKAGES`; its public path is
that package's name and the class's (``polymodal.fusion.ConcatFusion``). Nothing
else lists them. Derived from this registry are:

- :func:`polymodal.utils.all_estimators`, one instance of each, ready for
  scikit-learn's checks;
- the estimator part of :data:`polymodal.io.TRUSTED_TYPES`, named where each
  class is defined (:func:`class_path`: ``__module__`` and ``__qualname__``,
  the names skops writes into a model file);
- ``tests/test_registry.py``, which checks that ``docs/api/index.rst`` lists
  every public estimator under its public path, and nothing that is not
  public.

So a new estimator needs one line in its package's ``__init__.py``. Moving a
class to another module changes the name that new model files hold: files
written before the move still name the old module, and
:mod:`polymodal.io._former_locations` is where that old name is recorded.
"""

import functools
import importlib

from sklearn.base import BaseEstimator

__all__ = ["PUBLIC_PACKAGES", "class_path", "public_estimators"]

#: The packages whose ``__all__`` names the public estimators, in the order
#: of the API reference.
PUBLIC_PACKAGES = (
    "polymodal",
    "polymodal.fusion",
    "polymodal.image",
    "polymodal.text",
    "polymodal.sequence",
    "polymodal.molecule",
    "polymodal.deep",
    "polymodal.compose",
)


def class_path(cls):
    """Where a class or function is defined: ``module.qualname``.

    It is the name skops stores for an object of the class, and so the name
    :mod:`polymodal.io` trusts.

    Examples
    --------
    >>> from polymodal.fusion import ConcatFusion
    >>> class_path(ConcatFusion)
    'polymodal.fusion._early.ConcatFusion'
    """
    return f"{cls.__module__}.{cls.__qualname__}"


def _import_package(name):
    """The package, or None when an optional library it needs is missing."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        # A missing third-party library leaves out that package's estimators,
        # which no model file could then hold; a broken polymodal module
        # is a bug and raises.
        if (error.name or "").partition(".")[0] == "polymodal":
            raise
        return None


@functools.cache
def public_estimators():
    """Every public estimator, as ``(public path, class)`` pairs.

    In the order of :data:`PUBLIC_PACKAGES`, then of each package's
    ``__all__``. A package that cannot be imported because an optional
    library is missing contributes nothing (today every package imports
    without its optional libraries: they are imported when fitting).

    Returns
    -------
    tuple of (str, type)

    Examples
    --------
    >>> from polymodal.utils._registry import public_estimators
    >>> dict(public_estimators())["polymodal.fusion.ConcatFusion"].__name__
    'ConcatFusion'
    """
    found = []
    for package_name in PUBLIC_PACKAGES:
        package = _import_package(package_name)
        if package is None:
            continue
        for name in package.__all__:
            obj = getattr(package, name)
            if isinstance(obj, type) and issubclass(obj, BaseEstimator):
                found.append((f"{package_name}.{name}", obj))
    return tuple(found)
