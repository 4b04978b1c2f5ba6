"""Training, seeding, pickling and docstring text shared by the skorch-trained estimators.

The estimators own a skorch net (``net_``) rather than being one: their
parameters are scikit-learn's, so ``clone``, ``get_params`` and
``GridSearchCV`` see only those, and skorch's own (``module__*``,
``iterator_train__*``…) are filled in at fit time from the data.

Importing this module does not import torch or skorch; training does.
"""

import inspect
import math
import re
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, is_classifier
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets

from ..utils._optional import import_optional
from ..utils._sklearn_compat import Interval, StrOptions
from ..utils._torch import import_torch, resolve_device, torch_seed, torch_seeded
from ..utils.validation import check_target_present

__all__ = [
    "BaseNet",
    "check_hidden_layer_sizes",
    "encode_classes",
    "fill_doc",
    "standardize_targets",
    "unstandardize_predictions",
]

_OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD"}

# The numpydoc entries of BaseNet's parameters, and of ``class_weight``, which
# every classifier here takes, in the order of the estimators' signatures.
# ``fill_doc`` puts them in each estimator's docstring, as skorch does for its
# NeuralNetClassifier and NeuralNetRegressor.
_TRAINING_PARAMETERS_DOC = """\
lr : float, default=1e-3
    Learning rate of the optimizer.
max_epochs : int, default={max_epochs}
    Number of passes over the training data (fewer with early stopping).
batch_size : int, default={batch_size}
    Rows per mini-batch, at most the number of training rows.
early_stopping : bool, default=False
    Hold out ``validation_fraction`` of the rows (stratified for a
    classifier), stop when the validation loss has not decreased for
    ``n_iter_no_change`` epochs, and restore the weights of the epoch with
    the lowest validation loss.
validation_fraction : float, default=0.1
    Fraction of the rows held out when ``early_stopping=True``.
n_iter_no_change : int, default=10
    Epochs without a lower validation loss before training stops.
{class_weight}optimizer : {{"adam", "adamw", "sgd"}}, default="adam"
    The torch optimizer; ``"sgd"`` uses momentum 0.9.
device : str or torch.device, default="auto"
    Torch device: ``"auto"`` uses CUDA when torch sees a GPU and the CPU
    otherwise.
random_state : int, RandomState instance or None, default=None
    Seeds {seeds},
    the order of the mini-batches and the validation split. On the CPU, two
    fits with the same int give the same model. Torch's global random state
    is left as it was.
verbose : int, default=0
    Above 0, skorch prints a table of the losses after each epoch."""

_CLASS_WEIGHT_DOC = """\
class_weight : dict, "balanced" or None, default=None
    Weights of the classes in the loss, ``{label: weight}``; "balanced"
    gives ``n_samples / (n_classes * np.bincount(y))``, None weighs every
    class 1.
"""

_DOC_MARKER = re.compile(r"^\{(\w+)\}$", flags=re.MULTILINE)


def fill_doc(*, seeds, **sections):
    """Class decorator: complete an estimator's docstring from shared text.

    Each line ``{name}`` of the docstring (once cleaned of its indentation)
    becomes ``sections[name]``, numpydoc written from column 0; the line
    ``{training_parameters}`` becomes the entries of the training parameters,
    with the class's own defaults, ``class_weight``'s entry where the class
    takes one, and ``seeds`` (what ``random_state`` seeds besides the order of
    the mini-batches and the validation split) in that of ``random_state``.
    """

    def decorate(cls):
        if cls.__doc__ is None:  # python -OO
            return cls
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(cls.__init__).parameters.items()
        }
        texts = {
            **sections,
            "training_parameters": _TRAINING_PARAMETERS_DOC.format(
                max_epochs=defaults["max_epochs"],
                batch_size=defaults["batch_size"],
                class_weight=_CLASS_WEIGHT_DOC if "class_weight" in defaults else "",
                seeds=seeds,
            ),
        }
        doc = inspect.cleandoc(cls.__doc__)
        markers = _DOC_MARKER.findall(doc)
        if sorted(markers) != sorted(texts):
            raise ValueError(
                f"The docstring of {cls.__name__} marks {sorted(markers)}; "
                f"the texts given are {sorted(texts)}."
            )
        cls.__doc__ = _DOC_MARKER.sub(
            lambda match: texts[match.group(1)].strip("\n"), doc
        )
        return cls

    return decorate


class BaseNet(BaseEstimator):
    """Training parameters, training, tags and pickling shared by the deep estimators."""

    _parameter_constraints = {
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        # resolve_device checks it, and also takes a torch.device.
        "device": "no_validation",
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        lr,
        max_epochs,
        batch_size,
        early_stopping,
        validation_fraction,
        n_iter_no_change,
        optimizer,
        device,
        random_state,
        verbose,
    ):
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.optimizer = optimizer
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _train(
        self, X, y, *, module, module_params, n_outputs, class_weight, batch_norm
    ):
        """Train a skorch net of ``module`` on ``X`` and ``y``; return the net.

        ``X`` is an array, a sparse matrix or a skorch ``SliceDict``; the
        module is built with ``module_params``. ``batch_norm`` says whether the
        module normalises over the batch, which cannot train on one row. Sets
        ``n_iter_``.
        """
        name = type(self).__name__
        torch = import_torch(name)
        skorch = import_optional("skorch", extra="deep", needed_for=name)
        from . import _batches

        classifier = is_classifier(self)
        device = resolve_device(self.device, name)
        rng = check_random_state(self.random_state)
        init_seed, order_seed, split_seed = (torch_seed(rng) for _ in range(3))

        n_samples = X.shape[0]
        n_valid = 0
        train_split = None
        callbacks = None
        if self.early_stopping:
            # ShuffleSplit's sizes: the validation set is the rounded-up fraction.
            n_valid = math.ceil(self.validation_fraction * n_samples)
            if classifier and n_valid < n_outputs:
                raise ValueError(
                    f"{name}: early_stopping holds out {n_valid} of n_samples = "
                    f"{n_samples} rows (validation_fraction="
                    f"{self.validation_fraction}), fewer than the {n_outputs} "
                    "classes a stratified split needs; raise validation_fraction "
                    "or set early_stopping=False."
                )
            train_split = skorch.dataset.ValidSplit(
                self.validation_fraction, stratified=classifier, random_state=split_seed
            )
            # threshold=0: "best" is the lowest validation loss, exactly.
            callbacks = [
                (
                    "early_stopping",
                    skorch.callbacks.EarlyStopping(
                        monitor="valid_loss",
                        patience=self.n_iter_no_change,
                        threshold=0.0,
                        threshold_mode="abs",
                        load_best=True,
                    ),
                )
            ]
        n_train = n_samples - n_valid
        if batch_norm and n_train < 2:
            raise ValueError(
                f"{name}: batch_norm=True needs at least 2 training rows; got "
                f"{n_train} of n_samples = {n_samples}."
            )
        batch_size = max(1, min(self.batch_size, n_train))

        extra = {}
        if class_weight is not None:
            extra["criterion__weight"] = torch.as_tensor(
                class_weight, dtype=torch.float32
            )
        if self.optimizer == "sgd":
            extra["optimizer__momentum"] = 0.9
        net_class = (
            skorch.NeuralNetClassifier if classifier else skorch.NeuralNetRegressor
        )
        net = net_class(
            module,
            **{f"module__{key}": value for key, value in module_params.items()},
            criterion=torch.nn.CrossEntropyLoss if classifier else torch.nn.MSELoss,
            optimizer=getattr(torch.optim, _OPTIMIZERS[self.optimizer]),
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=batch_size,
            # skorch's DataLoader fetches one row at a time; these loaders
            # fetch whole mini-batches, the same rows in the same order.
            iterator_train=_batches.batch_loader,
            iterator_valid=_batches.batch_loader,
            iterator_train__shuffle=True,
            # Batch normalisation cannot train on a last batch of one sample.
            iterator_train__drop_last=bool(batch_norm and n_train % batch_size == 1),
            # Each DataLoader draws a seed from its generator, or else from
            # torch's global one: private generators keep the user's RNG out of
            # it, and the training one fixes the data order.
            iterator_train__generator=torch.Generator().manual_seed(order_seed),
            iterator_valid__generator=torch.Generator(),
            train_split=train_split,
            callbacks=callbacks,
            verbose=int(self.verbose),
            device=str(device),
            **extra,
        )
        # Weight initialisation and dropout draw from torch's global generator.
        with torch_seeded(init_seed, name):
            net.fit(_batches.BatchDataset(X, y), y)
        # The batch loaders serve training only: the fitted net keeps skorch's
        # default loaders, the only ones model files name, and predicts
        # through them as before. (skorch's set_params refuses loaders alone
        # on a fitted net; it would only set the attributes.)
        net.iterator_train = net.iterator_valid = torch.utils.data.DataLoader
        self.n_iter_ = len(net.history)
        return net

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # Every estimator here takes sparse input, and every regressor several
        # targets. (Not is_regressor: RegressorMixin, first in a regressor's
        # bases, marks it a regressor only after this returns.)
        tags.target_tags.multi_output = isinstance(self, RegressorMixin)
        return tags

    def __getstate__(self):
        # BaseEstimator may hand back the instance's own __dict__: copy it, so
        # pickling never swaps the live net.
        state = dict(super().__getstate__())
        net = state.get("net_")
        if net is not None and str(net.device) != "cpu":
            state["net_"] = _net_on_cpu(net)
        return state


def _net_on_cpu(net):
    """A copy of a fitted skorch net whose tensors are all on the CPU.

    skorch unpickles its modules, criteria and optimizers onto the device named
    in the state it is given; naming the CPU moves them there without touching
    ``net`` itself.
    """
    state = net.__getstate__()
    state["device"] = "cpu"
    copy = type(net).__new__(type(net))
    copy.__setstate__(state)
    return copy


def check_hidden_layer_sizes(hidden_layer_sizes):
    if isinstance(hidden_layer_sizes, Integral):
        return (int(hidden_layer_sizes),)
    sizes = tuple(hidden_layer_sizes)
    if not all(
        isinstance(size, Integral) and not isinstance(size, bool) and size >= 1
        for size in sizes
    ):
        raise ValueError(
            f"hidden_layer_sizes must hold ints >= 1; got {hidden_layer_sizes!r}."
        )
    return tuple(int(size) for size in sizes)


def encode_classes(estimator, y):
    """Set ``classes_``; return the class codes of ``y`` and the loss weights.

    The weights follow ``estimator.class_weight`` (None, "balanced" or a
    dict keyed by label), in the order of ``classes_``; None when unweighted.
    """
    check_target_present(estimator, y)
    check_classification_targets(y)
    encoder = LabelEncoder().fit(y)
    if len(encoder.classes_) < 2:
        raise ValueError(
            f"{type(estimator).__name__} needs samples of at least 2 classes in "
            f"the data; got 1 class: {encoder.classes_.tolist()}."
        )
    estimator.classes_ = encoder.classes_
    weights = None
    if estimator.class_weight is not None:
        weights = compute_class_weight(
            estimator.class_weight, classes=estimator.classes_, y=y
        )
    return encoder.transform(y).astype(np.int64), weights


def standardize_targets(estimator, y):
    """Set ``n_outputs_``, ``y_mean_``, ``y_scale_``; return y standardised, float32.

    Training on standardised targets keeps the learning rate independent of
    the targets' scale; a constant target keeps scale 1.
    """
    targets = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    estimator.n_outputs_ = targets.shape[1]
    estimator.y_mean_ = targets.mean(axis=0)
    scale = targets.std(axis=0)
    scale[scale == 0] = 1.0
    estimator.y_scale_ = scale
    return ((targets - estimator.y_mean_) / estimator.y_scale_).astype(np.float32)


def unstandardize_predictions(estimator, output):
    """Map a net's outputs back to the targets' units; 1-D for one target."""
    output = np.asarray(output, dtype=np.float64).reshape(len(output), -1)
    y_pred = output * estimator.y_scale_ + estimator.y_mean_
    return y_pred.ravel() if estimator.n_outputs_ == 1 else y_pred
