"""Saving and loading: the model file's layout and the policy of what loads.

:func:`save` stores an estimator in skops' format, or as a pickle when skops
cannot; :func:`load` reads it back, rewriting the names of classes that moved
(:mod:`~polymodal.io._former_locations`), refusing types outside the trusted
ones (:mod:`~polymodal.io._trust`) and pickles unless the caller trusts the
file, and checking every tree (:mod:`~polymodal.io._load_checks`) before it
returns the model. The file's layout is described in :mod:`polymodal.io`.
"""

import io
import json
import os
import shutil
import tempfile
import warnings
import zipfile
from numbers import Integral
from pathlib import Path

import joblib

from ..exceptions import PolymodalWarning, VersionMismatchWarning
from ..utils._files import write_atomic
from ..utils._messages import one_line
from ..utils._sklearn_compat import validate_params
from ..utils._versions import differing_versions, installed_versions
from . import _load_checks
from ._archive import rename_types, reproducible_skops, skops_io, write_members
from ._former_locations import current_name
from ._members import MemberReader, MemberWriter
from ._trust import UntrustedModelError, allowed_types

__all__ = ["load", "save"]

_FORMAT = "polymodal-model"
# Format 1 was a joblib pickle of {"format", "format_version", "versions",
# "estimator"}; format 2 is the zip archive described in polymodal.io.
_FORMAT_VERSION = 2
_RECORD = "polymodal.json"
_SKOPS_MEMBER = "estimator.skops"
_JOBLIB_MEMBER = "estimator.joblib"
# A model file stays private to its owner, as it always has been.
_MODEL_FILE_MODE = 0o600


def _write_archive(target, record, folder, members, compress):
    """Write the zip archive to ``target`` (an open binary file)."""
    members = {_RECORD: json.dumps(record, indent=2).encode(), **members}
    # The folder is absent when the estimator holds no torch state.
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            members[path.relative_to(folder).as_posix()] = path.read_bytes()
    write_members(target, members, compress)


@validate_params(
    {
        # Any estimator that skops or joblib can store; compress is checked in
        # the body, whose message says what it must be.
        "estimator": "no_validation",
        "path": [str, os.PathLike],
        "compress": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def save(estimator, path, *, compress=3):
    """Save a fitted estimator, with the versions it was fitted under.

    The file is a zip archive that holds the estimator in skops' format,
    which :func:`load` reads without running code from the file, and the
    versions of polymodal, scikit-learn, numpy, scipy, torch, skorch and
    xgboost (None where not installed). The torch state of skorch nets and
    networks is stored as tensors beside it (skorch's ``save_params`` files).
    An estimator that skops cannot store goes into the archive as a joblib
    pickle instead, which :func:`load` opens only with ``trusted=True``.

    The file is written to a temporary file in the same folder and moved
    into place once complete, so an interrupted save leaves any previous
    file at ``path`` as it was.

    Parameters
    ----------
    estimator : estimator instance
        Usually a fitted :class:`~sklearn.pipeline.Pipeline`.
    path : str or path-like
        Where to write the file; parent folders are created.
    compress : int from 0 to 9, default=3
        zlib compression level of the archive's members; 0 stores them
        uncompressed.

    Returns
    -------
    path : pathlib.Path
        The path written.

    Warns
    -----
    PolymodalWarning
        When skops cannot store the estimator, which is then pickled.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.linear_model import LogisticRegression
    >>> from polymodal import io
    >>> model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    >>> path = io.save(model, pathlib.Path(tempfile.mkdtemp()) / "model.skops")
    >>> io.load(path).predict([[0.9]])
    array([1])
    """
    if not (isinstance(compress, Integral) and 0 <= compress <= 9):
        raise ValueError(f"compress must be an integer from 0 to 9; got {compress!r}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "versions": installed_versions(),
    }
    with tempfile.TemporaryDirectory() as folder:
        member_files = Path(folder) / "member_files"
        try:
            data = reproducible_skops(
                skops_io().dumps(MemberWriter(member_files).replace(estimator)),
                compress,
            )
        # skops raises several types for objects it cannot store.
        except Exception as error:
            warnings.warn(
                f"skops cannot store this estimator ({one_line(error)}); {path} "
                "holds it as a pickle, which polymodal.io.load opens only with "
                "trusted=True.",
                PolymodalWarning,
                # The caller, above save and its argument check.
                stacklevel=3,
            )
            # Torch files written before the failure would be dead weight.
            shutil.rmtree(member_files, ignore_errors=True)
            record["storage"] = "joblib"
            buffer = io.BytesIO()
            joblib.dump(estimator, buffer)
            members = {_JOBLIB_MEMBER: buffer.getvalue()}
        else:
            record["storage"] = "skops"
            members = {_SKOPS_MEMBER: data}
        write_atomic(
            path,
            lambda target: _write_archive(
                target, record, member_files, members, compress
            ),
            mode=_MODEL_FILE_MODE,
        )
    return path


def _warn_if_versions_differ(path, saved_versions, stacklevel):
    differing = differing_versions(saved_versions, installed_versions())
    if differing:
        described = ", ".join(
            f"{package} {saved} (now {now})"
            for package, (saved, now) in differing.items()
        )
        warnings.warn(
            f"{path} was saved under {described}; predictions may differ or "
            "loading may fail. Refit the model under the current versions if in doubt.",
            VersionMismatchWarning,
            stacklevel=stacklevel,
        )


def _pickle_refused(path, what):
    reason = f"{path} is {what}, and loading a pickle runs code from the file"
    return UntrustedModelError(
        f"{reason}; pass trusted=True only if you trust its source.",
        reason=reason,
    )


def _load_pickle(path):
    """A joblib file: polymodal's format 1, or any other pickle."""
    loaded = joblib.load(path)
    if isinstance(loaded, dict) and loaded.get("format") == _FORMAT:
        _warn_if_versions_differ(path, loaded.get("versions", {}), stacklevel=5)
        return loaded["estimator"]
    return loaded


@validate_params(
    {
        "path": [str, os.PathLike],
        # False trusts nothing beyond TRUSTED_TYPES, as None does.
        "trusted": [list, tuple, set, frozenset, bool, None],
    },
    prefer_skip_nested_validation=True,
)
def load(path, *, trusted=None):
    """Load an estimator written by :func:`save`.

    A file in skops' format loads when every type it holds is one of
    skops' defaults (builtins, numpy, scipy and scikit-learn estimators), one
    of :data:`TRUSTED_TYPES`, or one that ``trusted`` names. Those are:

    - every public estimator of polymodal (those of
      :func:`polymodal.utils.all_estimators`), polymodal's fitted helpers, and
      the torch network modules of :mod:`polymodal.deep`;
    - ``functools.partial``, ``numpy.dtype``, scikit-learn's ``Bunch`` and
      ``make_column_selector``, scipy's sparse matrices and arrays;
    - scikit-learn's decision tree (``sklearn.tree._tree.Tree``, inside every
      tree, forest and gradient boosting model) and HistGradientBoosting's
      ``TreePredictor``, whose node indices are checked before the model is
      returned (:mod:`polymodal.io` says why), and the fitted parts of
      ``CalibratedClassifierCV``;
    - xgboost's ``XGBClassifier`` and ``XGBRegressor``; their boosters are
      stored as xgboost's JSON model, checked the same way;
    - torch's ``CrossEntropyLoss`` and ``MSELoss`` and the ``Adam``,
      ``AdamW`` and ``SGD`` optimizers, whose classes alone are stored.

    skorch nets (``NeuralNetClassifier`` and ``NeuralNetRegressor``, the
    deep estimators' ``net_``) are never trusted as skops types, since a
    skorch net unpickles its own state: they are rebuilt from their
    parameters, and their weights read from ``save_params`` files with
    ``torch.load(..., weights_only=True)``, which loads tensors only.

    A file saved before one of polymodal's classes moved to another module
    names its former module; such names are read as the class's current one,
    so the file loads as it did.

    A file that holds other types raises :class:`UntrustedModelError`,
    naming them; check where they come from, then pass their names as
    ``trusted``. A pickle (the joblib part of a file that skops could not
    store, a file of polymodal's first format, or a plain :func:`joblib.dump`)
    can run any code when it loads, so it loads only with ``trusted=True``.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    trusted : list of str, True or None, default=None
        Type names to trust on top of :data:`TRUSTED_TYPES`, as
        :func:`skops.io.get_untrusted_types` gives them; or True to trust
        the file whatever it holds, pickles included.

    Returns
    -------
    estimator : estimator instance

    Raises
    ------
    UntrustedModelError
        When the file holds untrusted types, holds a tree whose indices fail
        the checks (or that the checks do not cover) and ``trusted`` is not
        True, or is a pickle and ``trusted`` is not True.
    ValueError
        When the file is not a model file, or was written by a newer
        polymodal.

    Warns
    -----
    VersionMismatchWarning
        When the file was written under other package versions.

    See Also
    --------
    save : Write a model file.

    Examples
    --------
    >>> import tempfile, pathlib, joblib
    >>> from sklearn.linear_model import LogisticRegression
    >>> from polymodal import io
    >>> model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> io.load(io.save(model, folder / "model.skops")).predict([[0.9]])
    array([1])

    A pickle loads only when the caller trusts it:

    >>> _ = joblib.dump(model, folder / "model.joblib")
    >>> io.load(folder / "model.joblib")
    Traceback (most recent call last):
    ...
    polymodal.io.UntrustedModelError: ... pass trusted=True only if you trust its source.
    >>> io.load(folder / "model.joblib", trusted=True).predict([[0.9]])
    array([1])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist or is not a file.")
    if not zipfile.is_zipfile(path):
        if trusted is not True:
            raise _pickle_refused(path, "not in polymodal's safe format (a pickle?)")
        return _load_pickle(path)
    with zipfile.ZipFile(path) as archive:
        try:
            record = json.loads(archive.read(_RECORD))
        except (KeyError, ValueError):
            record = None
        if not isinstance(record, dict) or record.get("format") != _FORMAT:
            raise ValueError(
                f"{path} is not a polymodal model file (written by polymodal.io.save)."
            )
        if record.get("format_version", 0) > _FORMAT_VERSION:
            raise ValueError(
                f"{path} was written by a newer polymodal (format version "
                f"{record['format_version']}); upgrade polymodal to load it."
            )
        if record.get("storage") == "skops":
            estimator = _load_skops(path, archive, trusted)
        elif trusted is True:
            estimator = joblib.load(io.BytesIO(archive.read(_JOBLIB_MEMBER)))
        else:
            raise _pickle_refused(
                path,
                "a pickle inside a polymodal model file (skops could not store it)",
            )
    _warn_if_versions_differ(path, record.get("versions", {}), stacklevel=4)
    return estimator


def _load_skops(path, archive, trusted):
    # Classes that moved are judged, and built, by where they live now.
    data = rename_types(archive.read(_SKOPS_MEMBER), current_name)
    named = set(skops_io().get_untrusted_types(data=data))
    allowed = allowed_types(named, trusted)
    untrusted = sorted(named - allowed)
    if untrusted:
        reason = (
            f"{path} holds types that polymodal does not trust: {', '.join(untrusted)}"
        )
        raise UntrustedModelError(
            f"{reason}. If you trust where they come from, pass trusted={untrusted!r}.",
            reason=reason,
            untrusted_types=untrusted,
        )
    estimator = skops_io().loads(data, trusted=sorted(allowed))
    try:
        estimator = MemberReader(archive).restore(estimator)
        if trusted is not True:
            # What makes the tree types of TRUSTED_TYPES safe to use.
            _load_checks.check_loaded(estimator)
    except _load_checks.UncheckedModelError as error:
        reason = f"{path} holds a model that polymodal cannot check: {error.reason}"
        raise UntrustedModelError(
            f"{reason}. Pass trusted=True only if you trust where it comes from.",
            reason=reason,
        ) from None
    return estimator
