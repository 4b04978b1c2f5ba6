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
    checks its trees (see :mod:`polymodal._load_checks`) before xgboost
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
the rows they reach (:func:`polymodal._load_checks.check_loaded`) and refuses
a file that fails. xgboost's ``Booster`` has the same weakness (a crafted
model crashes ``predict``) and is not trusted as a type: its model is stored
as JSON and checked the same way before xgboost reads it.
"""

import functools
import importlib
import importlib.metadata
import inspect
import io as _bytes_io
import json
import os
import shutil
import tempfile
import warnings
import zipfile
from numbers import Integral
from pathlib import Path

import joblib
from sklearn.base import BaseEstimator

from . import _load_checks
from .exceptions import PolymodalWarning, VersionMismatchWarning

# TRUSTED_TYPES comes from the module __getattr__ below.
__all__ = ["TRUSTED_TYPES", "UntrustedModelError", "load", "save"]  # noqa: F822

_FORMAT = "polymodal-model"
# Format 1 was a joblib pickle of {"format", "format_version", "versions",
# "estimator"}; format 2 is the zip archive described above.
_FORMAT_VERSION = 2
_RECORD = "polymodal.json"
_ARCHIVE_DATE = (1980, 1, 1, 0, 0, 0)
_SKOPS_MEMBER = "estimator.skops"


def _skops_io():
    # skops.io imports most of scikit-learn (seconds); only saving and loading
    # need it, not every process that imports polymodal.
    return importlib.import_module("skops.io")


_JOBLIB_MEMBER = "estimator.joblib"
#: Recorded name -> the distributions that provide it.
_RECORDED_PACKAGES = {
    "polymodal": ("polymodal",),
    "scikit-learn": ("scikit-learn",),
    "numpy": ("numpy",),
    "scipy": ("scipy",),
    "torch": ("torch",),
    "skorch": ("skorch",),
    # The CPU-only wheel installs the same xgboost package.
    "xgboost": ("xgboost", "xgboost-cpu"),
}

_POLYMODAL_HELPERS = (
    # A fitted projection of one modality inside Average/Product/TensorFusion.
    "polymodal.fusion._aggregate._BlockProjection",
    # ClinicalTextVectorizer's analyzer, a function of polymodal.
    "polymodal.text._negation.analyze",
    # The tabular recipe's step that makes None a missing value for the imputer.
    "polymodal._config.none_as_nan",
    # The command line's wrapper that codes labels 0 to n - 1 for xgboost,
    # and its step that gives HistGradientBoosting dense features.
    "polymodal._config.EncodedLabelsClassifier",
    "polymodal._config.to_dense",
    # The placeholders of torch state, filled from the archive's torch/ files.
    "polymodal.io._SkorchNetRecord",
    "polymodal.io._TorchStateRecord",
    # The placeholders of an xgboost booster and a nearest-neighbour tree.
    "polymodal.io._XGBoostRecord",
    "polymodal.io._NeighborsTreeRecord",
    # Builds, as unpickling does, an object of a class that skops audited.
    "polymodal.io._Rebuilt",
    # The network modules that the deep estimators' skorch nets rebuild.
    "polymodal.deep._mlp_module.MLPModule",
    "polymodal.deep._network.FusionNetwork",
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
    # Trusted because load checks their node indices (module docstring).
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "numpy.dtype",
    "scipy.sparse._csr.csr_matrix",
    "scipy.sparse._csc.csc_matrix",
    "scipy.sparse._coo.coo_matrix",
    "scipy.sparse._csr.csr_array",
    "scipy.sparse._csc.csc_array",
    "scipy.sparse._coo.coo_array",
    # Their boosters are stored apart, as checked JSON (module docstring).
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
def _trusted_types():
    # The public estimators come from the one inventory that the common
    # checks and the persistence tests use, so a new one is trusted at once.
    from .utils import all_estimators

    estimators = tuple(
        sorted({_type_name(estimator) for estimator in all_estimators()})
    )
    return estimators + _POLYMODAL_HELPERS + _LIBRARY_TYPES


def __getattr__(name):
    # TRUSTED_TYPES imports every subpackage; only loading needs it.
    if name == "TRUSTED_TYPES":
        return _trusted_types()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The skorch nets stored through their parameter files, by name. Never trusted
#: as skops types: unpickling is how a skorch net restores its own state.
_SKORCH_NETS = (
    "skorch.classifier.NeuralNetClassifier",
    "skorch.regressor.NeuralNetRegressor",
)


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


class _NeedsPickle(Exception):
    """The estimator holds state that the safe format cannot store."""


class _SkorchNetRecord:
    """Stands in for a fitted skorch net inside the skops part of the archive.

    ``net_class`` (a name of ``_SKORCH_NETS``) and ``params`` rebuild the
    net, its training-only parameters left out; those named in
    ``tensor_params`` were tensors, kept as arrays. ``member`` is the folder
    of its ``save_params`` files; ``attributes`` are the fitted attributes
    that ``save_params`` does not write.
    """

    def __init__(self, net_class, params, tensor_params, attributes, member):
        self.net_class = net_class
        self.params = params
        self.tensor_params = tensor_params
        self.attributes = attributes
        self.member = member


class _TorchStateRecord:
    """Stands in for a ``{name: tensor}`` dict; ``member`` holds the tensors."""

    def __init__(self, member):
        self.member = member


class _XGBoostRecord:
    """Stands in for an xgboost ``Booster``; ``member`` holds its JSON model.

    ``nthread`` is the number of threads the booster was set to use, which
    the JSON model does not record.
    """

    def __init__(self, member, nthread):
        self.member = member
        self.nthread = nthread


class _NeighborsTreeRecord:
    """Stands in for the ``KDTree`` or ``BallTree`` of a neighbours model.

    ``kind`` names the class; ``data``, ``leaf_size``, ``metric`` and
    ``metric_params`` are what the model's ``fit`` built the tree from, and
    build it again at load.
    """

    def __init__(self, kind, data, leaf_size, metric, metric_params):
        self.kind = kind
        self.data = data
        self.leaf_size = leaf_size
        self.metric = metric
        self.metric_params = metric_params


class _Rebuilt:
    """An object whose pickling state held torch state, with it replaced.

    At load it becomes ``cls.__new__(cls)`` given ``state`` through
    ``__setstate__``, as unpickling does, once the torch state is read back.
    """

    def __init__(self, cls, state):
        self.cls = cls
        self.state = state


_XGBOOST_BOOSTER = "xgboost.core.Booster"
_XGBOOST_MEMBER = "model.json"
#: The search trees of scikit-learn's neighbours models, built again at load.
_NEIGHBORS_TREES = {
    "sklearn.neighbors._kd_tree.KDTree": "KDTree",
    "sklearn.neighbors._ball_tree.BallTree": "BallTree",
}

# A classifier's classes, learned in fit: the one fitted attribute of a skorch
# net beyond what save_params writes.
_NET_ATTRIBUTES = ("classes_inferred_",)

# skorch parameters that only training reads: data-loader generators hold
# torch RNG state, callbacks and splits are objects of their own.
_TRAINING_ONLY = ("callbacks", "train_split")


def _installed_versions():
    versions = {}
    for package, distributions in _RECORDED_PACKAGES.items():
        versions[package] = None
        for distribution in distributions:
            try:
                versions[package] = importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                continue
            break
    return versions


def _type_name(obj):
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _is_skorch_net(obj):
    return _type_name(obj) in _SKORCH_NETS


def _is_tensor_dict(obj):
    return (
        isinstance(obj, dict)
        and bool(obj)
        and all(type(value).__module__.startswith("torch") for value in obj.values())
        and all(hasattr(value, "detach") for value in obj.values())
    )


class _MemberWriter:
    """Replaces what skops must not store by records, writing it to a folder.

    Torch state and xgboost boosters go to files of their own; the search
    trees of neighbours models are left out, to be built again at load.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.count = {}
        self.memo = {}

    def _new_member(self, kind="torch"):
        number = self.count.get(kind, 0)
        self.count[kind] = number + 1
        member = f"{kind}/{number}"
        (self.folder / member).mkdir(parents=True)
        return member

    def _xgboost_record(self, booster):
        member = self._new_member("xgboost")
        (self.folder / member / _XGBOOST_MEMBER).write_bytes(booster.save_raw("json"))
        config = json.loads(booster.save_config())
        nthread = config.get("learner", {}).get("generic_param", {}).get("nthread")
        return _XGBoostRecord(member, None if nthread is None else int(nthread))

    @staticmethod
    def _neighbors_record(state):
        """A record of a neighbours model's search tree, or None."""
        kind = _NEIGHBORS_TREES.get(_type_name(state.get("_tree")))
        needed = (
            "_fit_X",
            "leaf_size",
            "effective_metric_",
            "effective_metric_params_",
        )
        if kind is None or not all(name in state for name in needed):
            return None
        return _NeighborsTreeRecord(
            kind,
            state["_fit_X"],
            state["leaf_size"],
            state["effective_metric_"],
            state["effective_metric_params_"],
        )

    def _net_record(self, net):
        import torch

        member = self._new_member()
        files = self.folder / member
        net.save_params(
            f_params=files / "params.pt",
            f_optimizer=files / "optimizer.pt",
            f_criterion=files / "criterion.pt",
            f_history=files / "history.json",
        )
        # NeuralNetClassifier passes most parameters on to NeuralNet's __init__.
        defaults = {}
        for cls in reversed(type(net).__mro__):
            if "__init__" in vars(cls):
                defaults.update(inspect.signature(cls.__init__).parameters)
        params, tensor_params = {}, []
        for name, value in net.get_params(deep=False).items():
            if (
                name.startswith("_")
                or name in _TRAINING_ONLY
                or name.endswith("__generator")
            ):
                continue
            default = (
                defaults[name].default if name in defaults else inspect.Parameter.empty
            )
            if value is default or (isinstance(value, str) and value == default):
                continue
            if isinstance(value, torch.Tensor):
                value = value.detach().cpu().numpy()
                tensor_params.append(name)
            elif isinstance(value, torch.nn.Module):
                raise _NeedsPickle(
                    f"a skorch net has the torch module parameter {name}"
                )
            params[name] = value
        # The weights are read back onto the CPU, like polymodal's pickles.
        params["device"] = "cpu"
        attributes = {
            name: getattr(net, name) for name in _NET_ATTRIBUTES if hasattr(net, name)
        }
        return _SkorchNetRecord(
            _type_name(net), params, tensor_params, attributes, member
        )

    def _tensor_record(self, tensors):
        import torch

        member = self._new_member()
        state = {name: value.detach().cpu() for name, value in tensors.items()}
        torch.save(state, self.folder / member / "tensors.pt")
        return _TorchStateRecord(member)

    def replace(self, obj):
        """``obj``, or a copy of it whose torch state is replaced by records."""
        # The memo keeps ``obj`` alive, so that its id names no other object.
        if id(obj) not in self.memo:
            self.memo[id(obj)] = (obj, self._replace(obj))
        return self.memo[id(obj)][1]

    def _replace(self, obj):
        if _is_skorch_net(obj):
            return self._net_record(obj)
        if _is_tensor_dict(obj):
            return self._tensor_record(obj)
        if _type_name(obj) == _XGBOOST_BOOSTER:
            return self._xgboost_record(obj)
        if type(obj).__module__.partition(".")[0] in ("torch", "skorch"):
            raise _NeedsPickle(
                f"it holds a {_type_name(obj)}, which is neither a skorch net of "
                "polymodal's nor a dict of tensors"
            )
        if isinstance(obj, list | tuple):
            items = [self.replace(item) for item in obj]
            if all(new is old for new, old in zip(items, obj, strict=True)):
                return obj
            if isinstance(obj, list):
                return items
            return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
        if isinstance(obj, dict):
            items = {name: self.replace(value) for name, value in obj.items()}
            if all(items[name] is value for name, value in obj.items()):
                return obj
            copy = type(obj).__new__(type(obj))
            copy.update(items)
            return copy
        if isinstance(obj, BaseEstimator):
            state = obj.__getstate__()
            replaced = self.replace(dict(state))
            record = self._neighbors_record(state)
            if record is not None:
                replaced = {**replaced, "_tree": record}
            if all(replaced[name] is value for name, value in state.items()):
                return obj
            cls = type(obj)
            if (
                cls.__getstate__ is BaseEstimator.__getstate__
                and cls.__setstate__ is BaseEstimator.__setstate__
            ):
                # skops stores and audits the copy as the class itself; the
                # records among its attributes are swapped back after loading.
                copy = cls.__new__(cls)
                copy.__dict__.update(replaced)
                return copy
            # Pickling code of the class's own would read the records as state.
            return _Rebuilt(cls, replaced)
        return obj


class _MemberReader:
    """Puts what the records stand for back in their place."""

    def __init__(self, archive):
        self.archive = archive
        self.memo = {}

    def _read(self, member):
        return _bytes_io.BytesIO(self.archive.read(member))

    def _net(self, record):
        import torch

        from .utils._torch import torch_seeded

        params = dict(record.params)
        for name in record.tensor_params:
            params[name] = torch.as_tensor(params[name])
        # skorch's own default; a file must not be able to ask for unpickling.
        params["torch_load_kwargs"] = {"weights_only": True}
        if record.net_class not in _SKORCH_NETS:
            raise ValueError(
                f"the model file names an unknown skorch net {record.net_class!r}."
            )
        module_name, _, class_name = record.net_class.rpartition(".")
        net_class = getattr(importlib.import_module(module_name), class_name)
        net = net_class(**params)
        # Building the modules draws initial weights, which the saved ones
        # replace; a forked generator keeps the user's torch RNG untouched.
        with torch_seeded(0, class_name):
            net.initialize()
        with tempfile.TemporaryDirectory() as folder:
            paths = {}
            for name in ("params.pt", "optimizer.pt", "criterion.pt", "history.json"):
                paths[name] = Path(folder) / name
                paths[name].write_bytes(self.archive.read(f"{record.member}/{name}"))
            net.load_params(
                f_params=paths["params.pt"],
                f_optimizer=paths["optimizer.pt"],
                f_criterion=paths["criterion.pt"],
                f_history=paths["history.json"],
            )
        for name in _NET_ATTRIBUTES:
            if name in record.attributes:
                setattr(net, name, record.attributes[name])
        return net

    def _tensors(self, record):
        import torch

        return torch.load(
            self._read(f"{record.member}/tensors.pt"),
            map_location="cpu",
            weights_only=True,
        )

    def _xgboost(self, record):
        import xgboost

        raw = self.archive.read(f"{record.member}/{_XGBOOST_MEMBER}")
        try:
            model = json.loads(raw)
        except ValueError:
            raise _load_checks.UncheckedModelError(
                "an xgboost model is not valid JSON"
            ) from None
        # xgboost follows the trees' indices without bounds checks.
        _load_checks.check_xgboost_model(model)
        params = {} if record.nthread is None else {"nthread": int(record.nthread)}
        booster = xgboost.Booster(params)
        booster.load_model(bytearray(raw))
        return booster

    @staticmethod
    def _neighbors_tree(record):
        from sklearn import neighbors

        if record.kind not in _NEIGHBORS_TREES.values():
            raise _load_checks.UncheckedModelError(
                f"the model file names an unknown neighbours tree {record.kind!r}"
            )
        # As NeighborsBase._fit builds it: the same data give the same tree.
        return getattr(neighbors, record.kind)(
            record.data,
            record.leaf_size,
            metric=record.metric,
            **record.metric_params,
        )

    def restore(self, obj):
        # The memo keeps ``obj`` alive, so that its id names no other object.
        if id(obj) not in self.memo:
            self.memo[id(obj)] = (obj, self._restore(obj))
        return self.memo[id(obj)][1]

    def _restore(self, obj):
        if isinstance(obj, _SkorchNetRecord):
            return self._net(obj)
        if isinstance(obj, _TorchStateRecord):
            return self._tensors(obj)
        if isinstance(obj, _XGBoostRecord):
            return self._xgboost(obj)
        if isinstance(obj, _NeighborsTreeRecord):
            return self._neighbors_tree(obj)
        if isinstance(obj, _Rebuilt):
            instance = obj.cls.__new__(obj.cls)
            instance.__setstate__(self.restore(obj.state))
            return instance
        if isinstance(obj, list):
            obj[:] = [self.restore(item) for item in obj]
        elif isinstance(obj, tuple):
            items = [self.restore(item) for item in obj]
            if any(new is not old for new, old in zip(items, obj, strict=True)):
                return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
        elif isinstance(obj, dict):
            for name, value in obj.items():
                obj[name] = self.restore(value)
        elif isinstance(obj, BaseEstimator):
            for name, value in vars(obj).items():
                setattr(obj, name, self.restore(value))
        return obj


def _write_members(target, members, compress):
    """Write a zip archive of ``{name: bytes}`` to ``target``, reproducibly."""
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            # A fixed date: saving one model twice writes the same bytes.
            info = zipfile.ZipInfo(name, date_time=_ARCHIVE_DATE)
            info.compress_type = (
                zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            )
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=compress or None)


def _reproducible_skops(data, compress):
    """skops' bytes with object ids and file names numbered in order of use.

    skops names the objects of its schema and the array files of its archive
    after ``id()`` or random UUIDs, which change from run to run; numbering
    them in the order the schema first mentions them keeps their links intact.
    """
    with zipfile.ZipFile(_bytes_io.BytesIO(data)) as archive:
        schema = json.loads(archive.read("schema.json"))
        files = {name: archive.read(name) for name in archive.namelist()}
    ids, renamed = {}, {}

    def renumber(node):
        if isinstance(node, list):
            return [renumber(item) for item in node]
        if not isinstance(node, dict):
            return node
        result = {}
        for key, value in node.items():
            if key == "__id__" and isinstance(value, int):
                value = ids.setdefault(value, len(ids))
            elif key == "file" and isinstance(value, str) and value in files:
                suffix = Path(value).suffix
                value = renamed.setdefault(value, f"{len(renamed)}{suffix}")
            else:
                value = renumber(value)
            result[key] = value
        return result

    schema = renumber(schema)
    members = {"schema.json": json.dumps(schema, indent=2).encode()}
    members |= {new: files[old] for old, new in renamed.items()}
    buffer = _bytes_io.BytesIO()
    _write_members(buffer, members, compress)
    return buffer.getvalue()


def _write_archive(target, record, folder, members, compress):
    """Write the zip archive to ``target`` (an open binary file)."""
    members = {_RECORD: json.dumps(record, indent=2).encode(), **members}
    # The folder is absent when the estimator holds no torch state.
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            members[path.relative_to(folder).as_posix()] = path.read_bytes()
    _write_members(target, members, compress)


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
        "versions": _installed_versions(),
    }
    with tempfile.TemporaryDirectory() as folder:
        member_files = Path(folder) / "member_files"
        try:
            data = _reproducible_skops(
                _skops_io().dumps(_MemberWriter(member_files).replace(estimator)),
                compress,
            )
        # skops raises several types for objects it cannot store.
        except Exception as error:
            warnings.warn(
                f"skops cannot store this estimator ({_one_line(error)}); {path} "
                "holds it as a pickle, which polymodal.io.load opens only with "
                "trusted=True.",
                PolymodalWarning,
                stacklevel=2,
            )
            # Torch files written before the failure would be dead weight.
            shutil.rmtree(member_files, ignore_errors=True)
            record["storage"] = "joblib"
            buffer = _bytes_io.BytesIO()
            joblib.dump(estimator, buffer)
            members = {_JOBLIB_MEMBER: buffer.getvalue()}
        else:
            record["storage"] = "skops"
            members = {_SKOPS_MEMBER: data}
        _atomic_write(
            path,
            lambda target: _write_archive(
                target, record, member_files, members, compress
            ),
        )
    return path


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def _atomic_write(path, write):
    """Call ``write`` on a temporary file beside ``path``, then move it there."""
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as target:
            write(target)
            target.flush()
            os.fsync(target.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _warn_if_versions_differ(path, saved_versions, stacklevel):
    current = _installed_versions()
    differing = {
        package: (saved, current.get(package))
        for package, saved in saved_versions.items()
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
        _warn_if_versions_differ(path, loaded.get("versions", {}), stacklevel=4)
        return loaded["estimator"]
    return loaded


def load(path, *, trusted=None):
    """Load an estimator written by :func:`save`.

    A file in skops' format loads when every type it holds is one of
    skops' defaults (builtins, numpy, scipy and scikit-learn estimators), one
    of :data:`TRUSTED_TYPES`, or one that ``trusted`` names. Those are:

    - every estimator of :func:`polymodal.utils.all_estimators`, polymodal's
      fitted helpers, and the torch network modules of :mod:`polymodal.deep`;
    - ``functools.partial``, ``numpy.dtype``, scikit-learn's ``Bunch`` and
      ``make_column_selector``, scipy's sparse matrices and arrays;
    - scikit-learn's decision tree (``sklearn.tree._tree.Tree``, inside every
      tree, forest and gradient boosting model) and HistGradientBoosting's
      ``TreePredictor``, whose node indices are checked before the model is
      returned (the module docstring says why), and the fitted parts of
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
    if isinstance(trusted, str):
        raise TypeError(
            f"trusted must be a list of type names or True; got the string {trusted!r}."
        )
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
            estimator = joblib.load(_bytes_io.BytesIO(archive.read(_JOBLIB_MEMBER)))
        else:
            raise _pickle_refused(
                path,
                "a pickle inside a polymodal model file (skops could not store it)",
            )
    _warn_if_versions_differ(path, record.get("versions", {}), stacklevel=3)
    return estimator


def _load_skops(path, archive, trusted):
    data = archive.read(_SKOPS_MEMBER)
    named = set(_skops_io().get_untrusted_types(data=data))
    allowed = named if trusted is True else set(_trusted_types()) | set(trusted or ())
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
    estimator = _skops_io().loads(data, trusted=sorted(allowed))
    try:
        estimator = _MemberReader(archive).restore(estimator)
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
