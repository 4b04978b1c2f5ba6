"""Deep fusion estimators: one network over all modality blocks, trained end to end."""

import copy
from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, is_regressor
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from ..utils._missing import (
    rows_without_modality,
    warn_predicted_rows_without_modality,
)
from ..utils._sklearn_compat import HasMethods, Interval, StrOptions, _fit_context
from ..utils._subset import ModalitySubsetMixin
from ..utils._torch import import_torch
from ..utils.validation import check_target_present, validate_blocks
from ._base import (
    BaseNet,
    check_hidden_layer_sizes,
    encode_classes,
    fill_doc,
    standardize_targets,
    unstandardize_predictions,
)

__all__ = ["DeepFusionClassifier", "DeepFusionRegressor"]

_FUSIONS = ("concat", "attention", "gated", "lowrank_tensor")

# Docstring text of both deep fusion estimators, completed by fill_doc.
_DEEP_FUSION_DOC = {
    "seeds": "the weight initialisation, dropout, modality dropout, augmentation",
    "fusion_parameters": r"""
encoders : dict of str to torch.nn.Module, default=None
    Encoders for some modalities, ``{modality: module}``; each maps a
    batch of that modality's rows (float32, in the block's shape) to
    ``(rows, embedding_dim)``. They are deep-copied into the fitted
    network, never trained in place. The other modalities get the
    default encoder of their shape.
embedding_dim : int, default=32
    Width of every modality's embedding.
fusion : {"concat", "attention", "gated", "lowrank_tensor"}, default="attention"
    How the embeddings ``e_m`` of the present modalities (``p_m = 1``)
    are combined:

    - ``"concat"``: :math:`[p_1 e_1, \dots, p_M e_M, p_1, \dots, p_M]`,
      the presence indicators appended so the head can tell an absent
      modality from a small embedding;
    - ``"attention"``: :math:`\sum_m a_m e_m` with
      :math:`a_m \propto p_m \exp(v^\top \tanh(W e_m))`, re-normalised
      over the present modalities;
    - ``"gated"``: a gated multimodal unit, a feature-wise softmax over
      the present modalities of gates computed from all embeddings;
    - ``"lowrank_tensor"``: low-rank multimodal tensor fusion,
      :math:`\sum_r \prod_{m: p_m = 1} W_m^{(r)\top} [e_m; 1]`, in which an
      absent modality drops out of the product.
hidden_layer_sizes : int or sequence of int, default=(32,)
    Hidden layers of the head after the fusion layer.
dropout : float, default=0.0
    Dropout rate in the head.
modality_dropout : float, default=0.0
    During training, each present modality of each row is hidden with
    this probability (a row keeps at least one), so the network learns to
    predict from subsets of its modalities.
augment : bool, default=False
    During training, flip image modalities (4-D blocks) horizontally at
    random and rotate them by up to ±10°. Prediction never augments; volumes
    are not augmented.
slices : {"all", "mask"} or None, default=None
    The default encoder of volume modalities, (n, C, D, H, W) blocks. None:
    a small 3-D CNN (three 3-D conv-batchnorm-ReLU-pool blocks of 8, 16 and
    32 channels, global average pooling, a linear layer to
    ``embedding_dim``), trained end to end; small enough for cohorts of a
    few hundred scans, and it sees the lesion's 3-D shape. ``"all"`` or
    ``"mask"``: 2.5-D, the small 2-D image CNN applied to each axial slice and
    pooled by ``slice_pool``; for thick-slice scans, whose slices are far
    apart for 3-D kernels, and with ``"mask"`` when only a few slices hold
    the lesion. On a CPU ``"all"`` trains about 4× slower per epoch than the
    3-D CNN at 64³, ``"mask"`` (a third of the slices) about as fast
    (``benchmarks/results/encoders.md``).
    ``"mask"`` reads the last channel as the lesion mask (as
    :class:`~polymodal.image.ImageLoader` appends it), embeds only the slices
    through it, and drops the mask channel from the 2-D CNN's input.
slice_pool : {"mean", "max"}, default="mean"
    How the 2.5-D encoder pools the slices' vectors: their mean, or their
    maximum (the most marked slice).
""",
}


class _BaseDeepFusion(ModalitySubsetMixin, BaseNet):
    """Parameters, network and modality weights shared by the deep fusion estimators."""

    _modality_keyed_params = ("encoders",)

    _parameter_constraints = {
        **BaseNet._parameter_constraints,
        "encoders": [dict, None],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "fusion": [StrOptions(set(_FUSIONS))],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "modality_dropout": [Interval(Real, 0, 1, closed="left")],
        "augment": ["boolean"],
        "slices": [StrOptions({"all", "mask"}), None],
        "slice_pool": [StrOptions({"mean", "max"})],
    }

    def __init__(
        self,
        *,
        encoders,
        embedding_dim,
        fusion,
        hidden_layer_sizes,
        dropout,
        modality_dropout,
        augment,
        slices=None,
        slice_pool="mean",
        **training_params,
    ):
        super().__init__(**training_params)
        self.encoders = encoders
        self.embedding_dim = embedding_dim
        self.fusion = fusion
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.modality_dropout = modality_dropout
        self.augment = augment
        self.slices = slices
        self.slice_pool = slice_pool

    def _validate_training_data(self, X, y):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        blocks = validate_blocks(self, X, reset=True, allow_nd=True)
        check_target_present(self, y)
        if is_regressor(self):
            y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
            if y.ndim == 2 and y.shape[1] == 1:
                y = column_or_1d(y, warn=True)
        else:
            y = column_or_1d(y, warn=True)
        check_consistent_length(blocks, y)
        return blocks, y

    def _train_network(self, blocks, y, *, n_outputs, class_weight=None):
        from ._network import FusionNetwork

        return self._train(
            blocks.to_slicedict(),
            y,
            module=FusionNetwork,
            module_params={
                "block_shapes": {
                    name: block.shape[1:] for name, block in blocks.items()
                },
                "custom_encoders": self._custom_encoders(blocks),
                "embedding_dim": self.embedding_dim,
                "fusion": self.fusion,
                "hidden_layer_sizes": check_hidden_layer_sizes(self.hidden_layer_sizes),
                "n_outputs": n_outputs,
                "dropout": self.dropout,
                "modality_dropout": self.modality_dropout,
                "augment": self.augment,
                "slices": self.slices,
                "slice_pool": self.slice_pool,
            },
            n_outputs=n_outputs,
            class_weight=class_weight,
            batch_norm=False,
        )

    def attention_weights(self, X):
        """Per-row weights of the modalities in the fusion.

        For ``fusion="attention"`` these are the attention weights; for
        ``"gated"`` each modality's gate averaged over the features; for
        ``"concat"`` and ``"lowrank_tensor"``, which weigh nothing, the uniform
        weights over the present modalities. In every case a row's weights sum
        to 1 over its present modalities and are 0 for absent ones (all 0 for a
        row with none).

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            Blocks with the modalities seen in fit.

        Returns
        -------
        weights : ndarray of shape (n_samples, n_modalities)
            Columns in the order of ``modality_names_in_``.
        """
        torch = import_torch(type(self).__name__)
        blocks, _ = self._blocks_for_prediction(X)
        data = blocks.to_slicedict()
        module = self.net_.module_
        device = next(module.parameters()).device
        module.eval()
        weights = []
        with torch.no_grad():
            for start in range(0, len(blocks), self.net_.batch_size):
                batch = data[start : start + self.net_.batch_size]
                inputs = {
                    key: torch.as_tensor(value).to(device)
                    for key, value in batch.items()
                }
                weights.append(module.fuse(**inputs)[1].cpu().numpy())
        return np.concatenate(weights).astype(np.float64)

    def _blocks_for_prediction(self, X):
        check_is_fitted(self)
        blocks = validate_blocks(self, X, reset=False, allow_nd=True)
        return blocks, rows_without_modality(blocks)

    def _custom_encoders(self, blocks):
        """Deep copies of the user's encoders; unknown modalities are an error."""
        if not self.encoders:
            return {}
        unknown = sorted(set(self.encoders) - set(blocks.names))
        if unknown:
            raise ValueError(
                f"encoders names modalities {unknown} that the blocks do not hold; "
                f"the modalities are {list(blocks.names)}."
            )
        for name, module in self.encoders.items():
            if not HasMethods(["forward", "parameters"]).is_satisfied_by(module):
                raise TypeError(
                    f"encoders[{name!r}] must be a torch.nn.Module; got "
                    f"{type(module).__name__}."
                )
        return {name: copy.deepcopy(module) for name, module in self.encoders.items()}


@fill_doc(**_DEEP_FUSION_DOC)
class DeepFusionClassifier(ClassifierMixin, _BaseDeepFusion):
    r"""A network with one encoder per modality and a fusion layer, trained end to end.

    It takes the :class:`~polymodal.ModalityBlocks` of a
    :class:`~polymodal.MultimodalUnion` directly, as the last step of a
    pipeline whose fusion slot is ``"passthrough"``. Each modality gets an
    encoder that maps its rows to ``embedding_dim`` features, chosen from the
    block's shape unless given: a 2-D table gets an MLP, an (n, C, H, W) image
    block a small CNN, an (n, alphabet, L) one-hot block a 1-D CNN and an
    (n, C, D, H, W) volume block a small 3-D CNN (or, with ``slices``, the
    2-D CNN slice by slice). A
    fusion layer combines the embeddings of the modalities present in each
    row, and an MLP head maps the result to one logit per class; the whole
    network is trained with cross-entropy through skorch.

    Absent modalities are masked out of the fusion, never fed as zeros that
    look observed: an encoder only sees the rows where its modality is
    present, and every fusion layer uses the presence masks (see ``fusion``).

    Parameters
    ----------
    {fusion_parameters}
    {training_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    class_prior_ : ndarray of shape (n_classes,)
        Class frequencies in the training rows, predicted for rows with no
        modality present.
    modality_names_in_ : ndarray of str
        The modalities seen in fit, in order.
    n_features_in_ : int
        Total number of input values per row over all modalities.
    net_ : skorch.NeuralNetClassifier
        The trained net; ``net_.module_`` is the network and ``net_.history``
        holds the losses of every epoch.
    n_iter_ : int
        Number of epochs run.

    See Also
    --------
    polymodal.fusion.LateFusionClassifier : One classic model per modality,
        fused at the decision level.
    MLPClassifier : A network head after a fusion step.

    Notes
    -----
    The blocks are handed to skorch through
    :meth:`~polymodal.ModalityBlocks.to_slicedict` (float32, absent rows zero-filled,
    presence masks alongside). A row with no modality present is predicted
    the training class prior, with a
    :class:`~polymodal.exceptions.MissingModalityWarning` naming it by the
    input's index labels. Pickling stores the
    network's tensors on the CPU, so a model trained on a GPU loads and
    predicts on a machine without one.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal import ModalityBlocks
    >>> from polymodal.deep import DeepFusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.tile([0, 1], 40)
    >>> lab = rng.normal(size=(80, 3)) + y[:, None]
    >>> ct = rng.normal(size=(80, 1, 8, 8)) + y[:, None, None, None]
    >>> ct_present = rng.random(80) < 0.7
    >>> ct[~ct_present] = np.nan
    >>> blocks = ModalityBlocks({"lab": lab, "ct": ct}, masks={"ct": ct_present})
    >>> clf = DeepFusionClassifier(embedding_dim=8, max_epochs=30, lr=1e-2,
    ...                            random_state=0).fit(blocks, y)
    >>> weights = clf.attention_weights(blocks)
    >>> weights.shape
    (80, 2)
    >>> bool(np.allclose(weights.sum(axis=1), 1) and (weights[~ct_present, 1] == 0).all())
    True
    >>> bool(clf.score(blocks, y) > 0.8)
    True
    """

    _parameter_constraints = {
        **_BaseDeepFusion._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(
        self,
        *,
        encoders=None,
        embedding_dim=32,
        fusion="attention",
        hidden_layer_sizes=(32,),
        dropout=0.0,
        modality_dropout=0.0,
        augment=False,
        slices=None,
        slice_pool="mean",
        lr=1e-3,
        max_epochs=50,
        batch_size=32,
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
            encoders=encoders,
            embedding_dim=embedding_dim,
            fusion=fusion,
            hidden_layer_sizes=hidden_layer_sizes,
            dropout=dropout,
            modality_dropout=modality_dropout,
            augment=augment,
            slices=slices,
            slice_pool=slice_pool,
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
        """Train the network on the blocks.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            The union's output; a plain 2-D array is one modality ``"x"``.
            Blocks may be 2-D (dense or sparse), (n, C, H, W) images,
            (n, C, D, H, W) volumes or (n, alphabet, L) one-hot sequences.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : DeepFusionClassifier
        """
        blocks, y = self._validate_training_data(X, y)
        codes, class_weight = encode_classes(self, y)
        self.class_prior_ = np.bincount(codes, minlength=len(self.classes_)) / len(
            codes
        )
        self.net_ = self._train_network(
            blocks, codes, n_outputs=len(self.classes_), class_weight=class_weight
        )
        return self

    def predict_proba(self, X):
        """Class probabilities: the softmax of the network's logits.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            Blocks with the modalities seen in fit.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            In the order of ``classes_``; rows with no modality present hold
            ``class_prior_``.
        """
        blocks, empty = self._blocks_for_prediction(X)
        proba = self.net_.predict_proba(blocks.to_slicedict()).astype(np.float64)
        proba /= proba.sum(axis=1, keepdims=True)
        warn_predicted_rows_without_modality(
            blocks, "training class prior", empty=empty
        )
        proba[empty] = self.class_prior_
        return proba

    def predict(self, X):
        """The most probable class of each row.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            Blocks with the modalities seen in fit.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


@fill_doc(**_DEEP_FUSION_DOC)
class DeepFusionRegressor(RegressorMixin, _BaseDeepFusion):
    r"""The regression counterpart of :class:`DeepFusionClassifier`.

    The same network (one encoder per modality, a fusion layer over the
    present modalities, an MLP head) with one linear output per target,
    trained on the mean squared error of standardised targets.

    Parameters
    ----------
    {fusion_parameters}
    {training_parameters}

    Attributes
    ----------
    n_outputs_ : int
        Number of targets.
    y_mean_, y_scale_ : ndarray of shape (`n_outputs_`,)
        Mean and standard deviation of the training targets; rows with no
        modality present are predicted ``y_mean_``, with a
        :class:`~polymodal.exceptions.MissingModalityWarning` naming them by
        the input's index labels.
    modality_names_in_ : ndarray of str
        The modalities seen in fit, in order.
    n_features_in_ : int
        Total number of input values per row over all modalities.
    net_ : skorch.NeuralNetRegressor
        The trained net.
    n_iter_ : int
        Number of epochs run.

    See Also
    --------
    DeepFusionClassifier : The classifier counterpart.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal import ModalityBlocks
    >>> from polymodal.deep import DeepFusionRegressor
    >>> rng = np.random.default_rng(0)
    >>> lab, vitals = rng.normal(size=(80, 2)), rng.normal(size=(80, 2))
    >>> y = lab[:, 0] + vitals[:, 1]
    >>> blocks = ModalityBlocks({"lab": lab, "vitals": vitals})
    >>> reg = DeepFusionRegressor(embedding_dim=8, lr=1e-2, max_epochs=40,
    ...                           random_state=0).fit(blocks, y)
    >>> bool(reg.score(blocks, y) > 0.8)
    True
    """

    def __init__(
        self,
        *,
        encoders=None,
        embedding_dim=32,
        fusion="attention",
        hidden_layer_sizes=(32,),
        dropout=0.0,
        modality_dropout=0.0,
        augment=False,
        slices=None,
        slice_pool="mean",
        lr=1e-3,
        max_epochs=50,
        batch_size=32,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        optimizer="adam",
        device="auto",
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            encoders=encoders,
            embedding_dim=embedding_dim,
            fusion=fusion,
            hidden_layer_sizes=hidden_layer_sizes,
            dropout=dropout,
            modality_dropout=modality_dropout,
            augment=augment,
            slices=slices,
            slice_pool=slice_pool,
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
        """Train the network on the blocks.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            The union's output; a plain 2-D array is one modality ``"x"``.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        self : DeepFusionRegressor
        """
        blocks, y = self._validate_training_data(X, y)
        targets = standardize_targets(self, y)
        self.net_ = self._train_network(blocks, targets, n_outputs=self.n_outputs_)
        return self

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : ModalityBlocks or array-like of shape (n_samples, n_features)
            Blocks with the modalities seen in fit.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, `n_outputs_`)
            One column per target; 1-D when there is one target. Rows with no
            modality present hold ``y_mean_``.
        """
        blocks, empty = self._blocks_for_prediction(X)
        y_pred = unstandardize_predictions(
            self, self.net_.predict(blocks.to_slicedict())
        )
        warn_predicted_rows_without_modality(blocks, "training mean", empty=empty)
        y_pred[empty] = self.y_mean_ if y_pred.ndim == 2 else self.y_mean_[0]
        return y_pred
