"""Embed (n, C, H, W) image blocks with a convolutional network."""

import copy
import os
import pickle
import sys
from collections.abc import Mapping
from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._sklearn_compat import (
    HasMethods,
    Interval,
    StrOptions,
    _check_feature_names_in,
)
from ..utils._torch import import_torch, resolve_device, torch_seed, torch_seeded
from ..utils._transformers import ImageBlockMixin, ModalityTransformer
from ..utils.validation import describe_rows

__all__ = ["CNNEmbedder"]

_NAME = "CNNEmbedder"


class CNNEmbedder(ImageBlockMixin, ModalityTransformer):
    """Embed each image of an (n, C, H, W) block with a convolutional network.

    The network runs in evaluation mode under :func:`torch.no_grad`, in
    batches, and each image becomes one row of the output: the network's
    output, or the output of one of its layers. ``fit`` builds or copies the
    network and loads the weights; it does not train.

    **Without** ``weights`` **the features are random.** ``module="small"``
    is then a randomly initialised CNN (seeded by ``random_state``): a
    random-feature baseline that keeps some texture and intensity
    information, not a pretrained model. For image features that mean
    something, pass the ``state_dict`` of a network trained on similar
    images; polymodal never downloads weights.

    Parameters
    ----------
    module : "small" or torch.nn.Module, default="small"
        ``"small"`` builds a
        ``ImageEncoder`` with default sizes
        (three conv-batchnorm-ReLU-pool blocks of 16, 32 and 64 channels,
        global average pooling, a linear layer to 64 features) for the
        channel count seen in ``fit``; images need at least 8×8 pixels. A
        module instance is deep-copied into ``module_`` and never modified.
    weights : str, path-like or None, default=None
        Path of a local file holding a ``state_dict`` for the module, saved
        with ``torch.save(module.state_dict(), path)``. It is read with
        ``torch.load(path, map_location="cpu", weights_only=True)``, so a
        file that pickles whole objects is refused. None keeps the module's
        own weights: random ones for ``"small"``.
    layer : str or None, default=None
        None embeds with the module's output; the name of a submodule, as
        listed by ``module.named_modules()`` (for ``"small"``:
        ``"features.0"``, ``"features.1"``, ``"features.2"``, ``"head"``),
        embeds with that layer's output, captured by a forward hook.
    batch_size : int, default=32
        Number of images per forward pass.
    device : str, default="auto"
        Torch device: ``"auto"`` uses CUDA when torch sees a GPU and the CPU
        otherwise; ``"cpu"``, ``"cuda"`` or ``"cuda:1"`` choose one.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights of ``module="small"``. The user's global
        torch random state is left untouched.
    verbose : int, default=0
        When positive, ``transform`` writes one line per batch to stderr.

    Attributes
    ----------
    module_ : torch.nn.Module
        The network used, in evaluation mode.
    embedding_dim_ : int
        Number of output features.
    n_features_in_ : int
        Number of channels ``C`` of the images seen in ``fit``.

    See Also
    --------
    ImageLoader : Reads image files or arrays into the (n, C, H, W) blocks
        this transformer takes.
    ImagePreprocessor : Crops, resizes and normalises those blocks.

    Notes
    -----
    The output of the module or of ``layer`` is flattened to one row per
    image; a 4-D feature map (n, C', h, w) is first averaged over its spatial
    axes (global average pooling), so it gives ``C'`` features whatever the
    image size. The output is a float32 array on the CPU, whatever
    ``device`` is, or a DataFrame after ``set_output(transform="pandas")``.
    Batches of different sizes may round the last float32 bit differently, so
    an image's features can differ by about 1e-7 with the batch it falls in.

    An all-NaN image (the absent-row protocol of
    :class:`polymodal.MultimodalUnion`) is not fed to the network and gives an
    all-NaN row; NaN or infinity inside any other image is a ValueError naming
    the rows.

    A fitted embedder pickles its network's weights as a CPU ``state_dict``
    (the architecture comes from ``module``), so one fitted on a GPU loads on
    a CPU-only machine; there ``device="auto"`` picks the CPU. It needs the
    ``deep`` extra (``pip install "polymodal[deep]"``).

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal.image import CNNEmbedder
    >>> images = np.random.default_rng(0).normal(size=(3, 1, 16, 16))
    >>> images[2] = np.nan
    >>> embedder = CNNEmbedder(random_state=0, device="cpu")
    >>> features = embedder.fit_transform(images)
    >>> features.shape
    (3, 64)
    >>> bool(np.isnan(features[2]).all())
    True
    >>> embedder.get_feature_names_out()[:3]
    array(['cnn0', 'cnn1', 'cnn2'], dtype=object)
    """

    # Reads only the rows' shape at fit: a union may fit it on one batch.
    _learns_from_rows = False

    _parameter_constraints = {
        "module": [
            StrOptions({"small"}),
            HasMethods(["forward", "state_dict", "load_state_dict"]),
        ],
        "weights": [str, os.PathLike, None],
        "layer": [str, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        module="small",
        *,
        weights=None,
        layer=None,
        batch_size=32,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.module = module
        self.weights = weights
        self.layer = layer
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def get_feature_names_out(self, input_features=None):
        """Names of the output features: ``cnn0``, ``cnn1``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored apart from its length, which must be the channel count
            ``n_features_in_`` when given.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features, generate_names=False)
        return np.asarray([f"cnn{i}" for i in range(self.embedding_dim_)], dtype=object)

    def __getstate__(self):
        # The architecture is rebuilt from the parameters on loading; only the
        # weights travel, as CPU tensors, so a GPU fit loads without CUDA.
        state = dict(super().__getstate__())
        module = state.pop("module_", None)
        if module is not None:
            state["_module_state"] = {
                key: value.detach().cpu() for key, value in module.state_dict().items()
            }
        return state

    def __setstate__(self, state):
        state = dict(state)
        module_state = state.pop("_module_state", None)
        super().__setstate__(state)
        if module_state is not None:
            module = self._new_module()
            module.load_state_dict(module_state)
            self.module_ = module.eval()

    def _fit(self, X):
        """Build or copy the network, load the weights and check the layer."""
        torch = import_torch(_NAME)
        device = resolve_device(self.device, _NAME)
        images = self._validated_images(X, reset=True)
        if not isinstance(self.module, torch.nn.Module) and self.module != "small":
            raise TypeError(
                "CNNEmbedder: module must be 'small' or a torch.nn.Module; got "
                f"{type(self.module).__name__}."
            )
        with torch_seeded(torch_seed(self.random_state), _NAME):
            module = self._new_module()
        if self.weights is not None:
            _load_weights(module, self.weights)
        self.module_ = module.to(device).eval()
        # One forward pass on a blank image learns the output width and
        # reports a wrong layer name or a too-small image at fit, not later.
        blank = torch.zeros((1, *images.shape[1:]), device=device)
        self.embedding_dim_ = self._embed(blank).shape[1]
        return images

    def _read(self, X):
        return self._validated_images(X, reset=False)

    def _output(self, images):
        """Embed every present image of the block."""
        torch = import_torch(_NAME)
        device = resolve_device(self.device, _NAME)
        present = np.flatnonzero(~np.isnan(images.reshape(len(images), -1)).all(axis=1))
        output = np.full((len(images), self.embedding_dim_), np.nan, dtype=np.float32)
        self.module_.to(device)
        n_batches = -(-len(present) // self.batch_size)
        for batch, start in enumerate(range(0, len(present), self.batch_size)):
            rows = present[start : start + self.batch_size]
            inputs = torch.as_tensor(images[rows], dtype=torch.float32, device=device)
            embedded = self._embed(inputs)
            if embedded.shape[1] != self.embedding_dim_:
                raise ValueError(
                    f"CNNEmbedder: images of shape {images.shape[1:]} give "
                    f"{embedded.shape[1]} features, but those seen in fit gave "
                    f"{self.embedding_dim_}; the module's output size depends on "
                    "the image size, so resize the images to the fit shape."
                )
            output[rows] = embedded.cpu().numpy()
            if self.verbose:
                print(
                    f"CNNEmbedder: batch {batch + 1}/{n_batches} "
                    f"({start + len(rows)}/{len(present)} images)",
                    file=sys.stderr,
                )
        return output

    def _new_module(self):
        """A fresh copy of the network for ``n_features_in_`` channels."""
        if isinstance(self.module, str):
            from ..utils._encoders import ImageEncoder

            return ImageEncoder(self.n_features_in_)
        return copy.deepcopy(self.module)

    def _validated_images(self, X, reset):
        try:
            shape = np.shape(X)
        except ValueError:
            shape = None
        if shape is None or len(shape) != 4:
            raise ValueError(
                "CNNEmbedder takes a block of images of shape (n_samples, C, H, W); "
                f"got {'a ragged input' if shape is None else f'shape {shape}'}. Put "
                "an ImageLoader (and optionally an ImagePreprocessor) before it in "
                "the pipeline to read image files or arrays into such a block."
            )
        if not reset and shape[1] != self.n_features_in_:
            raise ValueError(
                f"CNNEmbedder was fitted on images with {self.n_features_in_} "
                f"channel(s); got {shape[1]}."
            )
        images = validate_data(
            self,
            X,
            reset=reset,
            allow_nd=True,
            ensure_all_finite=False,
            dtype=(np.float32, np.float64),
        )
        pixels = images.reshape(len(images), -1)
        bad = ~np.isfinite(pixels).all(axis=1) & ~np.isnan(pixels).all(axis=1)
        if bad.any():
            raise ValueError(
                f"CNNEmbedder: rows {describe_rows(np.flatnonzero(bad))} hold NaN "
                "or infinite pixels inside an image; only a wholly NaN image marks "
                "an absent row. Fix or impute those pixels first."
            )
        return images

    def _embed(self, inputs):
        """Flattened output of the module or of ``layer`` for a batch."""
        torch = import_torch(_NAME)
        captured = []
        hook = None
        if self.layer is not None:
            layers = dict(self.module_.named_modules())
            if self.layer not in layers:
                names = [name for name in layers if name]
                raise ValueError(
                    f"CNNEmbedder: layer={self.layer!r} is not a submodule of the "
                    f"module; its submodules are {names[:20]}"
                    f"{' ...' if len(names) > 20 else ''}."
                )
            hook = layers[self.layer].register_forward_hook(
                lambda _module, _inputs, output: captured.append(output)
            )
        try:
            with torch.no_grad():
                output = self.module_(inputs)
        except RuntimeError as exc:
            raise ValueError(
                f"CNNEmbedder: the module failed on images of shape "
                f"{tuple(inputs.shape[1:])}: {exc}"
            ) from exc
        finally:
            if hook is not None:
                hook.remove()
        if captured:
            output = captured[0]
        if not isinstance(output, torch.Tensor):
            raise ValueError(
                f"CNNEmbedder: the {'module' if self.layer is None else 'layer'} "
                f"returns a {type(output).__name__}, not a tensor; choose a layer "
                "whose output is a tensor."
            )
        if output.ndim == 4:
            output = output.mean(dim=(2, 3))
        return output.reshape(len(output), -1)


def _load_weights(module, path):
    """Load the ``state_dict`` saved at ``path`` into ``module``, or explain why not."""
    torch = import_torch(_NAME)
    if not os.path.isfile(path):
        raise ValueError(f"CNNEmbedder: weights file {os.fspath(path)!r} not found.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise ValueError(
            f"CNNEmbedder: weights file {os.fspath(path)!r} is not a state_dict "
            "readable with weights_only=True; save one with "
            f"torch.save(module.state_dict(), path). ({exc})"
        ) from exc
    if not isinstance(state, Mapping):
        raise ValueError(
            f"CNNEmbedder: weights file {os.fspath(path)!r} holds a "
            f"{type(state).__name__}, not a state_dict; save one with "
            "torch.save(module.state_dict(), path)."
        )
    expected = module.state_dict()
    problems = []
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    resized = [
        f"{key} {_shape(state[key])} instead of {_shape(value)}"
        for key, value in expected.items()
        if key in state and _shape(state[key]) != _shape(value)
    ]
    for label, keys in [
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("shape mismatches", resized),
    ]:
        if keys:
            problems.append(f"{label} {keys[:10]}{' ...' if len(keys) > 10 else ''}")
    if problems:
        raise ValueError(
            f"CNNEmbedder: the state_dict in {os.fspath(path)!r} does not fit the "
            f"module: {'; '.join(problems)}."
        )
    module.load_state_dict(state)


def _shape(value):
    return tuple(getattr(value, "shape", ()))
