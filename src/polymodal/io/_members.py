"""What skops must not store, kept beside it in the archive and put back at load.

:class:`MemberWriter` replaces, in a copy of the estimator, a skorch net by a
:class:`SkorchNetRecord` and writes its ``save_params`` files, a dict of
tensors by a :class:`TorchStateRecord` over a ``tensors.pt``, an xgboost
booster by an :class:`XGBoostRecord` over its JSON model, and the search tree
of a neighbours model by a :class:`NeighborsTreeRecord` of what built it.
:class:`MemberReader` puts them back after skops has loaded the rest: tensors
through ``torch.load(..., weights_only=True)``, the xgboost model once its
trees pass :func:`~polymodal.io._load_checks.check_xgboost_model`, the search
tree built again.

The record classes are named in model files: moving or renaming one needs a
line in :mod:`polymodal.io._former_locations`.
"""

import importlib
import inspect
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sklearn.base import BaseEstimator

from ..utils._registry import class_path
from . import _load_checks

__all__ = [
    "SKORCH_NETS",
    "MemberReader",
    "MemberWriter",
    "NeedsPickle",
    "NeighborsTreeRecord",
    "Rebuilt",
    "SkorchNetRecord",
    "TorchStateRecord",
    "XGBoostRecord",
]

# The stand-ins below are plain records: skops stores and builds them by their
# attributes, and the reader tells one from another by its class. Compared by
# identity, as the reader's memo of restored objects expects.
_record = dataclass(eq=False)

#: The skorch nets stored through their parameter files, by name. Never trusted
#: as skops types: unpickling is how a skorch net restores its own state.
SKORCH_NETS = (
    "skorch.classifier.NeuralNetClassifier",
    "skorch.regressor.NeuralNetRegressor",
)


class NeedsPickle(Exception):
    """The estimator holds state that the safe format cannot store."""


@_record
class SkorchNetRecord:
    """Stands in for a fitted skorch net inside the skops part of the archive.

    ``net_class`` (a name of ``SKORCH_NETS``) and ``params`` rebuild the
    net, its training-only parameters left out; those named in
    ``tensor_params`` were tensors, kept as arrays. ``member`` is the folder
    of its ``save_params`` files; ``attributes`` are the fitted attributes
    that ``save_params`` does not write.
    """

    net_class: str
    params: dict
    tensor_params: list
    attributes: dict
    member: str


@_record
class TorchStateRecord:
    """Stands in for a ``{name: tensor}`` dict; ``member`` holds the tensors."""

    member: str


@_record
class XGBoostRecord:
    """Stands in for an xgboost ``Booster``; ``member`` holds its JSON model.

    ``nthread`` is the number of threads the booster was set to use, which
    the JSON model does not record.
    """

    member: str
    nthread: int | None


@_record
class NeighborsTreeRecord:
    """Stands in for the ``KDTree`` or ``BallTree`` of a neighbours model.

    ``kind`` names the class; ``data``, ``leaf_size``, ``metric`` and
    ``metric_params`` are what the model's ``fit`` built the tree from, and
    build it again at load.
    """

    kind: str
    data: object
    leaf_size: int
    metric: object
    metric_params: dict


@_record
class Rebuilt:
    """An object whose pickling state held torch state, with it replaced.

    At load it becomes ``cls.__new__(cls)`` given ``state`` through
    ``__setstate__``, as unpickling does, once the torch state is read back.
    """

    cls: type
    state: object


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


def _is_skorch_net(obj):
    return class_path(type(obj)) in SKORCH_NETS


def _is_tensor_dict(obj):
    return (
        isinstance(obj, dict)
        and bool(obj)
        and all(type(value).__module__.startswith("torch") for value in obj.values())
        and all(hasattr(value, "detach") for value in obj.values())
    )


class MemberWriter:
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
        return XGBoostRecord(member, None if nthread is None else int(nthread))

    @staticmethod
    def _neighbors_record(state):
        """A record of a neighbours model's search tree, or None."""
        kind = _NEIGHBORS_TREES.get(class_path(type(state.get("_tree"))))
        needed = (
            "_fit_X",
            "leaf_size",
            "effective_metric_",
            "effective_metric_params_",
        )
        if kind is None or not all(name in state for name in needed):
            return None
        return NeighborsTreeRecord(
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
                raise NeedsPickle(f"a skorch net has the torch module parameter {name}")
            params[name] = value
        # The weights are read back onto the CPU, like polymodal's pickles.
        params["device"] = "cpu"
        attributes = {
            name: getattr(net, name) for name in _NET_ATTRIBUTES if hasattr(net, name)
        }
        return SkorchNetRecord(
            class_path(type(net)), params, tensor_params, attributes, member
        )

    def _tensor_record(self, tensors):
        import torch

        member = self._new_member()
        state = {name: value.detach().cpu() for name, value in tensors.items()}
        torch.save(state, self.folder / member / "tensors.pt")
        return TorchStateRecord(member)

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
        if class_path(type(obj)) == _XGBOOST_BOOSTER:
            return self._xgboost_record(obj)
        if type(obj).__module__.partition(".")[0] in ("torch", "skorch"):
            raise NeedsPickle(
                f"it holds a {class_path(type(obj))}, which is neither a skorch net of "
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
            return Rebuilt(cls, replaced)
        return obj


class MemberReader:
    """Puts what the records stand for back in their place."""

    def __init__(self, archive):
        self.archive = archive
        self.memo = {}

    def _read(self, member):
        return io.BytesIO(self.archive.read(member))

    def _net(self, record):
        import torch

        from ..utils._torch import torch_seeded

        params = dict(record.params)
        for name in record.tensor_params:
            params[name] = torch.as_tensor(params[name])
        # skorch's own default; a file must not be able to ask for unpickling.
        params["torch_load_kwargs"] = {"weights_only": True}
        if record.net_class not in SKORCH_NETS:
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
        if isinstance(obj, SkorchNetRecord):
            return self._net(obj)
        if isinstance(obj, TorchStateRecord):
            return self._tensors(obj)
        if isinstance(obj, XGBoostRecord):
            return self._xgboost(obj)
        if isinstance(obj, NeighborsTreeRecord):
            return self._neighbors_tree(obj)
        if isinstance(obj, Rebuilt):
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
