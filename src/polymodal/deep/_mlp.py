"""Multilayer perceptron heads: scikit-learn estimators that train a skorch net.

Importing this module does not import torch or skorch; ``fit`` does.
"""

from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._sklearn_compat import Interval, StrOptions, _fit_context
from ._base import (
    BaseNet,
    check_hidden_layer_sizes,
    encode_classes,
    fill_doc,
    standardize_targets,
    unstandardize_predictions,
)

__all__ = ["MLPClassifier", "MLPRegressor"]

# Docstring text of both MLP heads, completed by fill_doc.
_MLP_DOC = {
    "seeds": "the weight initialisation, dropout",
    "layer_parameters": """
hidden_layer_sizes : int or sequence of int, default=(100,)
    Width of each hidden layer; an empty sequence gives a linear model.
dropout : float, default=0.0
    Dropout probability after each hidden layer's activation.
batch_norm : bool, default=False
    Batch-normalise each hidden layer before its activation.
""",
    "notes": """
Inputs are cast to float32. A scipy sparse matrix is kept sparse and made
dense one mini-batch at a time, so memory grows with the batch, not with
the data set.

Pickling stores the network's tensors on the CPU, so a model trained on a
GPU loads on a machine without one; a loaded model predicts on the CPU.
""",
}


class _BaseMLP(BaseNet):
    """The layer parameters and input handling shared by the MLP heads."""

    _parameter_constraints = {
        **BaseNet._parameter_constraints,
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
    }

    def __init__(self, *, hidden_layer_sizes, dropout, batch_norm, **training_params):
        super().__init__(**training_params)
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.batch_norm = batch_norm

    def _validate_X_predict(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float32, reset=False)
        return _rows_for_skorch(X)

    def _train_mlp(self, X, y, *, n_outputs, class_weight=None):
        from ._mlp_module import MLPModule

        return self._train(
            X,
            y,
            module=MLPModule,
            module_params={
                "n_features": X.shape[1],
                "hidden_layer_sizes": check_hidden_layer_sizes(self.hidden_layer_sizes),
                "n_outputs": n_outputs,
                "dropout": self.dropout,
                "batch_norm": self.batch_norm,
            },
            n_outputs=n_outputs,
            class_weight=class_weight,
            batch_norm=self.batch_norm,
        )


def _rows_for_skorch(X):
    # In prediction, skorch's dataset densifies a sparse input one row at a
    # time and expects each row to stay 2-D, which holds for scipy's sparse
    # matrices but not for its sparse arrays (a csr_array row is 1-D).
    return sparse.csr_matrix(X) if sparse.issparse(X) else X


@fill_doc(**_MLP_DOC)
class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multilayer perceptron classifier trained with skorch.

    A scikit-learn classifier that can be the head of a polymodal pipeline,
    after a fusion step such as :class:`~polymodal.fusion.ConcatFusion`. It
    trains an ``MLPModule`` (``Linear -> [BatchNorm1d] -> ReLU ->
    [Dropout]`` per hidden layer, then a linear layer with one logit per class)
    on the cross-entropy loss, through a :class:`skorch.NeuralNetClassifier`
    kept as ``net_``. It shares its name with scikit-learn's
    :class:`sklearn.neural_network.MLPClassifier` on purpose; this one runs on
    a GPU, takes dropout and batch normalisation, and needs ``polymodal[deep]``.

    Parameters
    ----------
    {layer_parameters}
    {training_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    net_ : skorch.NeuralNetClassifier
        The trained net; ``net_.history`` holds the losses of every epoch.
    n_iter_ : int
        Number of epochs run.
    n_features_in_ : int
        Number of features seen in fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen in fit; only when ``X`` has string column
        names.

    See Also
    --------
    MLPRegressor : The regressor counterpart.

    Notes
    -----
    {notes}

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from polymodal.deep import MLPClassifier
    >>> X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), lr=1e-2, max_epochs=30,
    ...                     random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    >>> bool(clf.score(X, y) > 0.8)
    True
    """

    _parameter_constraints = {
        **_BaseMLP._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        dropout=0.0,
        batch_norm=False,
        lr=1e-3,
        max_epochs=100,
        batch_size=64,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        class_weight=None,
        optimizer="adam",
        device="auto",
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            dropout=dropout,
            batch_norm=batch_norm,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            optimizer=optimizer,
            device=device,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Class labels, of any type ``np.unique`` can sort.

        Returns
        -------
        self : MLPClassifier
        """
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=np.float32)
        X = _rows_for_skorch(X)
        codes, class_weight = encode_classes(self, y)
        self.net_ = self._train_mlp(
            X, codes, n_outputs=len(self.classes_), class_weight=class_weight
        )
        return self

    def predict_proba(self, X):
        """Class probabilities: the softmax of the network's logits.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; each row sums to 1.
        """
        X = self._validate_X_predict(X)
        proba = self.net_.predict_proba(X).astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The most probable class of each row.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


@fill_doc(**_MLP_DOC)
class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multilayer perceptron regressor trained with skorch.

    The regressor counterpart of :class:`MLPClassifier`: an
    ``MLPModule`` with one linear output per target, trained on the mean
    squared error through a :class:`skorch.NeuralNetRegressor` kept as
    ``net_``. The targets are standardised for training (so the learning rate
    does not depend on their scale) and predictions mapped back.

    Parameters
    ----------
    {layer_parameters}
    {training_parameters}

    Attributes
    ----------
    net_ : skorch.NeuralNetRegressor
        The trained net; ``net_.history`` holds the losses of every epoch
        (on the standardised targets).
    n_iter_ : int
        Number of epochs run.
    n_outputs_ : int
        Number of targets.
    y_mean_ : ndarray of shape (`n_outputs_`,)
        Mean of each target in fit.
    y_scale_ : ndarray of shape (`n_outputs_`,)
        Standard deviation of each target in fit (1 for a constant target).
    n_features_in_ : int
        Number of features seen in fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen in fit; only when ``X`` has string column
        names.

    See Also
    --------
    MLPClassifier : The classifier counterpart.

    Notes
    -----
    {notes}

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from polymodal.deep import MLPRegressor
    >>> X, y = make_regression(n_samples=100, n_features=4, noise=1.0, random_state=0)
    >>> reg = MLPRegressor(hidden_layer_sizes=(16,), lr=1e-2, max_epochs=50,
    ...                    random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> bool(reg.score(X, y) > 0.9)
    True
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        dropout=0.0,
        batch_norm=False,
        lr=1e-3,
        max_epochs=100,
        batch_size=64,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        optimizer="adam",
        device="auto",
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            dropout=dropout,
            batch_norm=batch_norm,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            optimizer=optimizer,
            device=device,
            random_state=random_state,
            verbose=verbose,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        self : MLPRegressor
        """
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=np.float32,
            multi_output=True,
            y_numeric=True,
        )
        X = _rows_for_skorch(X)
        targets = standardize_targets(self, y)
        self.net_ = self._train_mlp(X, targets, n_outputs=self.n_outputs_)
        return self

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, `n_outputs_`)
            One column per target; 1-D when there is one target.
        """
        X = self._validate_X_predict(X)
        return unstandardize_predictions(self, self.net_.predict(X))
