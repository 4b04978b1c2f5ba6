"""Saving and loading fitted models with the versions they were built with."""

import importlib.metadata
import warnings
from pathlib import Path

import joblib

from .exceptions import PolymodalWarning

__all__ = ["load", "save"]

_FORMAT = "polymodal-model"
_FORMAT_VERSION = 1
_RECORDED_PACKAGES = ("polymodal", "scikit-learn", "numpy", "torch")


def _installed_versions():
    versions = {}
    for package in _RECORDED_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def save(estimator, path, *, compress=3):
    """Save a fitted estimator with the package versions it was fitted under.

    The file is a joblib pickle of a small record: the estimator and the
    versions of polymodal, scikit-learn, numpy and torch (None when not
    installed). :func:`load` warns when they differ from the running ones,
    since a pickle is only guaranteed to load under the versions that wrote it.

    Parameters
    ----------
    estimator : estimator instance
        Usually a fitted :class:`~sklearn.pipeline.Pipeline`.
    path : str or path-like
        Where to write the file; parent folders are created.
    compress : int, default=3
        joblib compression level.

    Returns
    -------
    path : pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.linear_model import LogisticRegression
    >>> from polymodal import io
    >>> model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    >>> path = io.save(model, pathlib.Path(tempfile.mkdtemp()) / "model.joblib")
    >>> io.load(path).predict([[0.9]])
    array([1])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "versions": _installed_versions(),
        "estimator": estimator,
    }
    joblib.dump(record, path, compress=compress)
    return path


def load(path):
    """Load an estimator written by :func:`save`.

    Only load files from sources you trust: like any pickle, the file can run
    code when it is loaded.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.

    Returns
    -------
    estimator : estimator instance

    Warns
    -----
    PolymodalWarning
        When the file was written under other package versions.
    """
    record = joblib.load(path)
    if not isinstance(record, dict) or record.get("format") != _FORMAT:
        raise ValueError(
            f"{path} is not a polymodal model file (written by polymodal.io.save); "
            "load a plain joblib file with joblib.load."
        )
    if record.get("format_version", 0) > _FORMAT_VERSION:
        raise ValueError(
            f"{path} was written by a newer polymodal (format version "
            f"{record['format_version']}); upgrade polymodal to load it."
        )
    current = _installed_versions()
    differing = {
        package: (saved, current.get(package))
        for package, saved in record["versions"].items()
        if saved is not None and saved != current.get(package)
    }
    if differing:
        described = ", ".join(
            f"{package} {saved} (now {now})"
            for package, (saved, now) in differing.items()
        )
        warnings.warn(
            f"{path} was saved under {described}; predictions may differ or "
            "loading may fail. Refit the model under the current versions if in doubt.",
            PolymodalWarning,
            stacklevel=2,
        )
    return record["estimator"]
