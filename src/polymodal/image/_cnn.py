"""Embed (n, C, H, W) image blocks and (n, C, D, H, W) volumes with a convolutional network."""

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
# ImageNet backbones take RGB; a gray image or CT slice is repeated to 3 channels.
_TORCHVISION_CHANNELS = 3
# Where torchvision's classification architectures keep their head.
_HEAD_ATTRIBUTES = ("fc", "classifier", "heads", "head")
# A mask channel's voxel belongs to the region above this value.
_MASK_THRESHOLD = 0.5


class CNNEmbedder(ImageBlockMixin, ModalityTransformer):
    """Embed each image (n, C, H, W) or volume (n, C, D, H, W) with a convolutional network.

    The network runs in evaluation mode under :func:`torch.no_grad`, in
    batches of ``batch_size`` rows, and each image or volume becomes one row
    of the output: the network's output, or the output of one of its layers.
    ``fit`` builds or copies the network and loads the weights; it does not
    train, and reads nothing from the rows but their shape, so memory holds
    one batch at a time whatever the number of rows.

    Which network, for which data:

    - ``module="small"`` on images: a small 2-D CNN; on volumes with
      ``slices=None``: its 3-D analogue (3-D convolutions over the whole
      volume). Random unless given weights; the same architectures are the
      encoders that :class:`~polymodal.deep.DeepFusionClassifier` trains end
      to end, which suits small cohorts (a few hundred scans) and CPUs.
    - A torchvision architecture by name (``"resnet18"``,
      ``"densenet121"``, ...) with ImageNet (or your own) weights from a local
      file: transfer of 2-D features learnt on millions of photographs, for
      pathology tiles and, slice by slice (``slices="all"`` or ``"mask"``,
      the 2.5-D mode), for CT volumes. The standard choice when the cohort is
      too small to train a network.
    - Any ``torch.nn.Module`` of yours: a network trained on similar scans
      (a 3-D one for ``slices=None``, a 2-D one otherwise).

    **Without** ``weights`` **the features are random.** ``module="small"``
    is then a randomly initialised CNN (seeded by ``random_state``): a
    random-feature baseline that keeps some texture and intensity
    information, not a pretrained model. For image features that mean
    something, pass the ``state_dict`` of a network trained on similar
    images; polymodal never downloads weights.

    Parameters
    ----------
    module : "small", str or torch.nn.Module, default="small"
        ``"small"`` builds, for the channel count seen in ``fit``, a small 2-D
        CNN (three conv-batchnorm-ReLU-pool blocks of 16, 32 and 64 channels,
        global average pooling, a linear layer to 64 features; images and
        slices need at least 8×8 pixels), or for volumes with ``slices=None``
        a small 3-D CNN (three blocks of 8, 16 and 32 channels with 2×2×2
        pooling, a linear layer to 64 features; any volume size). Any other
        string names a torchvision classification architecture
        (``torchvision.models.list_models()``, e.g. ``"resnet18"``,
        ``"densenet121"``, ``"efficientnet_b0"``), which needs torchvision;
        it is built without weights (nothing is downloaded), ``weights`` are
        loaded into it, and its classification head (``fc``, ``classifier``,
        ``head`` or ``heads``) is then replaced by the identity, so that the
        embedding is the pooled features before the head (512 for resnet18,
        1024 for densenet121). Such a network takes 3-channel images: a
        one-channel image (gray, or CT) is repeated to 3 channels, as is
        standard for ImageNet backbones; other channel counts are an error.
        Normalise the images as the weights expect (ImageNet's mean and
        standard deviation, after a CT window) with
        :class:`ImagePreprocessor`. A module instance is deep-copied into
        ``module_`` and never modified.
    weights : str, path-like or None, default=None
        Path of a local file holding a ``state_dict`` for ``module`` (for the
        2.5-D mode: of the 2-D network), saved with
        ``torch.save(module.state_dict(), path)``; for a torchvision
        architecture, also the file that torchvision itself caches (e.g.
        ``resnet18-f37072fd.pth``). It is read with ``torch.load(path,
        map_location="cpu", weights_only=True)``, so a file that pickles whole
        objects is refused; a missing file or one whose keys or shapes do not
        fit the module is a ValueError naming the file and what it holds.
        None keeps the module's own weights: random ones for ``"small"`` and
        torchvision architectures.
    layer : str or None, default=None
        None embeds with the module's output; the name of a submodule, as
        listed by ``module.named_modules()`` (for ``"small"``:
        ``"features.0"``, ``"features.1"``, ``"features.2"``, ``"head"``; for
        resnet18: ``"layer3"``, ``"layer4"``, ...), embeds with that layer's
        output, captured by a forward hook. In the 2.5-D mode the layer is
        one of the 2-D network, captured for every slice before pooling.
    slices : {"all", "mask"} or None, default=None
        For volume blocks (n, C, D, H, W) only. None feeds each whole volume
        to a 3-D network. ``"all"`` and ``"mask"`` are the 2.5-D mode: the 2-D
        ``module`` embeds each axial slice (C, H, W) and the slices' vectors
        are pooled by ``slice_pool``. ``"mask"`` reads the last channel as the
        lesion mask that :class:`ImageLoader` appends for a mask column:
        only the slices through the mask are embedded, and the mask channel
        is dropped from the 2-D network's input (which gets the ``C - 1``
        image channels, the mask having served to choose the slices). With
        ``"all"`` or None, a mask channel is an input channel like the
        others.
    slice_pool : {"mean", "max"}, default="mean"
        In the 2.5-D mode, how the slices' vectors become one per volume: the
        mean describes the whole lesion or organ, the maximum its most marked
        slice.
    batch_size : int, default=32
        Number of images or volumes per forward pass (in the 2.5-D mode, a
        batch sends all the selected slices of its volumes at once: lower it
        for volumes of many slices).
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
    n_input_dims_ : int
        4 for image blocks (n, C, H, W), 5 for volume blocks (n, C, D, H, W).

    See Also
    --------
    ImageLoader : Reads image files or arrays into the (n, C, H, W) blocks
        this transformer takes.
    ImagePreprocessor : Crops, resizes and normalises those blocks.

    Notes
    -----
    The output of the module or of ``layer`` is flattened to one row per
    image; a feature map (n, C', h, w) or (n, C', d, h, w) is first averaged
    over its spatial axes (global average pooling), so it gives ``C'``
    features whatever the image size. The output is a float32 array on the CPU, whatever
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

    Volumes, with a lesion mask as the last channel: the small 3-D CNN, and
    the 2.5-D mode over the slices through the mask, pooled by their maximum:

    >>> volumes = np.random.default_rng(0).normal(size=(3, 2, 6, 16, 16))
    >>> volumes[:, 1] = 0.0
    >>> volumes[:, 1, 2:4, 4:12, 4:12] = 1.0
    >>> CNNEmbedder(random_state=0, device="cpu").fit_transform(volumes).shape
    (3, 64)
    >>> slices = CNNEmbedder(slices="mask", slice_pool="max", random_state=0,
    ...                      device="cpu")
    >>> slices.fit_transform(volumes).shape
    (3, 64)

    A torchvision architecture, with ImageNet weights that you saved once
    (``torch.save(resnet18(weights="DEFAULT").state_dict(), path)``, or
    torchvision's own cached file), applied slice by slice:

    >>> embedder = CNNEmbedder("resnet18", weights="resnet18.pth",
    ...                        slices="all")  # doctest: +SKIP
    """

    # Reads only the rows' shape at fit: a union may fit it on one batch.
    _learns_from_rows = False

    _parameter_constraints = {
        "module": [
            str,
            HasMethods(["forward", "state_dict", "load_state_dict"]),
        ],
        "weights": [str, os.PathLike, None],
        "layer": [str, None],
        "slices": [StrOptions({"all", "mask"}), None],
        "slice_pool": [StrOptions({"mean", "max"})],
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
        slices=None,
        slice_pool="mean",
        batch_size=32,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.module = module
        self.weights = weights
        self.layer = layer
        self.slices = slices
        self.slice_pool = slice_pool
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
            # Building draws initial weights, which the saved ones replace; a
            # forked generator keeps the user's torch RNG untouched.
            with torch_seeded(0, _NAME):
                module = self._new_module(weights=None)
            module.load_state_dict(module_state)
            self.module_ = module.eval()

    def _fit(self, X):
        """Build or copy the network, load the weights and check the layer."""
        torch = import_torch(_NAME)
        device = resolve_device(self.device, _NAME)
        images = self._validated_images(X, reset=True)
        self.n_input_dims_ = images.ndim
        if not isinstance(self.module, (str, torch.nn.Module)):
            raise TypeError(
                "CNNEmbedder: module must be 'small', a torchvision architecture's "
                f"name or a torch.nn.Module; got {type(self.module).__name__}."
            )
        self._check_mode()
        with torch_seeded(torch_seed(self.random_state), _NAME):
            module = self._new_module(weights=self.weights)
        self.module_ = module.to(device).eval()
        # One forward pass on a blank image learns the output width and
        # reports a wrong layer name or a too-small image at fit, not later.
        blank = torch.zeros((1, *images.shape[1:]), device=device)
        self.embedding_dim_ = self._embed(blank).shape[1]
        return images

    def _check_mode(self):
        """Refuse the combinations of block, module and ``slices`` that cannot work."""
        volumes = self.n_input_dims_ == 5
        if self.slices is not None and not volumes:
            raise ValueError(
                f"CNNEmbedder: slices={self.slices!r} embeds volumes (n, C, D, H, W) "
                "slice by slice; these are images (n, C, H, W). Set slices=None."
            )
        if self.slices == "mask" and self.n_features_in_ < 2:
            raise ValueError(
                "CNNEmbedder: slices='mask' reads the last channel as the lesion "
                f"mask, but the volumes have {self.n_features_in_} channel; give "
                "ImageLoader a second column of masks, or use slices='all'."
            )
        if _is_torchvision_name(self.module):
            if volumes and self.slices is None:
                raise ValueError(
                    f"CNNEmbedder: module={self.module!r} is a 2-D network and the "
                    "block holds volumes (n, C, D, H, W); set slices='all' or "
                    "'mask' to embed them slice by slice (2.5-D)."
                )
            channels = self.n_features_in_ - (self.slices == "mask")
            if channels not in (1, _TORCHVISION_CHANNELS):
                raise ValueError(
                    f"CNNEmbedder: torchvision's {self.module!r} takes 3-channel "
                    f"images (a 1-channel image is repeated to 3); these have "
                    f"{channels} image channels. Use ImageLoader(color='gray' or "
                    "'rgb'); for volumes whose last channel is a mask, "
                    "slices='mask' drops it from the network's input."
                )

    def _read(self, X):
        return self._validated_images(X, reset=False)

    def _output(self, images):
        """Embed every present image of the block."""
        torch = import_torch(_NAME)
        device = resolve_device(self.device, _NAME)
        present = np.flatnonzero(~np.isnan(images.reshape(len(images), -1)).all(axis=1))
        self._check_masks(images, present)
        output = np.full((len(images), self.embedding_dim_), np.nan, dtype=np.float32)
        self.module_.to(device)
        n_batches = -(-len(present) // self.batch_size)
        kind = "volumes" if self.n_input_dims_ == 5 else "images"
        for batch, start in enumerate(range(0, len(present), self.batch_size)):
            rows = present[start : start + self.batch_size]
            inputs = torch.as_tensor(images[rows], dtype=torch.float32, device=device)
            embedded = self._embed(inputs)
            if embedded.shape[1] != self.embedding_dim_:
                raise ValueError(
                    f"CNNEmbedder: {kind} of shape {images.shape[1:]} give "
                    f"{embedded.shape[1]} features, but those seen in fit gave "
                    f"{self.embedding_dim_}; the module's output size depends on "
                    f"the {kind[:-1]} size, so resize them to the fit shape."
                )
            output[rows] = embedded.cpu().numpy()
            if self.verbose:
                print(
                    f"CNNEmbedder: batch {batch + 1}/{n_batches} "
                    f"({start + len(rows)}/{len(present)} {kind})",
                    file=sys.stderr,
                )
        return output

    def _check_masks(self, images, present):
        """With ``slices="mask"``, every present volume needs a non-empty mask."""
        if self.slices != "mask" or not len(present):
            return
        empty = [
            row for row in present if not (images[row, -1] > _MASK_THRESHOLD).any()
        ]
        if empty:
            raise ValueError(
                f"CNNEmbedder: rows {describe_rows(np.asarray(empty))} have an empty "
                "mask (the last channel), so slices='mask' has no slice to embed; "
                "check the mask column, or use slices='all'."
            )

    def _new_module(self, weights):
        """A fresh network for the block seen in fit, with ``weights`` loaded."""
        from ..utils._encoders import ImageEncoder, SliceEncoder, VolumeEncoder

        volumes = self.n_input_dims_ == 5
        two_d_channels = self.n_features_in_ - (self.slices == "mask")
        if isinstance(self.module, str):
            if self.module == "small":
                if volumes and self.slices is None:
                    module = VolumeEncoder(self.n_features_in_)
                else:
                    module = ImageEncoder(two_d_channels)
            else:
                module = _torchvision_model(self.module)
        else:
            module = copy.deepcopy(self.module)
        if weights is not None:
            _load_weights(module, weights)
        if _is_torchvision_name(self.module):
            _drop_classification_head(module, self.module)
        if volumes and self.slices is not None:
            module = SliceEncoder(
                module,
                slices=self.slices,
                pool=self.slice_pool,
                repeat_channels=self._repeat_channels(),
                layer=self.layer,
            )
        return module

    def _repeat_channels(self):
        """3 for a torchvision network (gray images repeated), else None."""
        return _TORCHVISION_CHANNELS if _is_torchvision_name(self.module) else None

    def _validated_images(self, X, reset):
        try:
            shape = np.shape(X)
        except ValueError:
            shape = None
        if shape is None or len(shape) not in (4, 5):
            raise ValueError(
                "CNNEmbedder takes a block of images of shape (n_samples, C, H, W) "
                "or of volumes (n_samples, C, D, H, W); got "
                f"{'a ragged input' if shape is None else f'shape {shape}'}. Put "
                "an ImageLoader (and optionally an ImagePreprocessor) before it in "
                "the pipeline to read image files or arrays into such a block."
            )
        if not reset and len(shape) != self.n_input_dims_:
            fitted = "volumes" if self.n_input_dims_ == 5 else "images"
            raise ValueError(
                f"CNNEmbedder was fitted on {fitted} ({self.n_input_dims_}-D "
                f"blocks); got a {len(shape)}-D block of shape {shape}."
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
        from ..utils._encoders import SliceEncoder, embed_images

        module = self.module_
        # In the 2.5-D mode the slice encoder hooks ``layer`` in its backbone.
        layer = None if isinstance(module, SliceEncoder) else self.layer
        if (
            self.n_input_dims_ == 4
            and self._repeat_channels() is not None
            and inputs.shape[1] == 1
        ):
            inputs = inputs.expand(-1, self._repeat_channels(), -1, -1)
        try:
            with torch.no_grad():
                return embed_images(module, inputs, layer)
        except RuntimeError as exc:
            raise ValueError(
                f"CNNEmbedder: the module failed on inputs of shape "
                f"{tuple(inputs.shape[1:])}: {exc}"
            ) from exc
        except ValueError as exc:
            raise ValueError(f"CNNEmbedder: {exc}") from exc


def _is_torchvision_name(module):
    return isinstance(module, str) and module != "small"


def _torchvision_model(name):
    """torchvision's ``name`` architecture, built without weights (nothing downloaded)."""
    try:
        import torchvision.models as models
    except (ImportError, RuntimeError) as exc:
        # A torchvision built for another torch fails with a RuntimeError.
        raise ImportError(
            f"CNNEmbedder(module={name!r}) names a torchvision architecture, which "
            "needs torchvision, the release built for your torch (pip install "
            f"torchvision, from the index your torch came from): {exc}"
        ) from exc
    available = sorted(models.list_models(module=models))
    if name not in available:
        raise ValueError(
            f"CNNEmbedder: the module parameter {name!r} is neither 'small' nor a "
            f"torchvision classification architecture; those are {available[:12]}"
            f"{' ...' if len(available) > 12 else ''}."
        )
    return models.get_model(name, weights=None)


def _drop_classification_head(module, name):
    """Replace the ImageNet classifier by the identity, keeping the pooled features."""
    torch = import_torch(_NAME)
    for attribute in _HEAD_ATTRIBUTES:
        if isinstance(getattr(module, attribute, None), torch.nn.Module):
            setattr(module, attribute, torch.nn.Identity())
            return
    raise ValueError(
        f"CNNEmbedder: torchvision's {name!r} has none of the classification heads "
        f"{list(_HEAD_ATTRIBUTES)}; pass the module itself with layer=... instead."
    )


def _load_weights(module, path):
    """Load the ``state_dict`` saved at ``path`` into ``module``, or explain why not."""
    torch = import_torch(_NAME)
    if not os.path.isfile(path):
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(folder):
            found = sorted(os.listdir(folder))
            seen = (
                f"its folder {folder!r} holds {found[:10]}"
                f"{' ...' if len(found) > 10 else ''}"
                if found
                else f"its folder {folder!r} is empty"
            )
        else:
            seen = f"there is no folder {folder!r}"
        raise ValueError(
            f"CNNEmbedder: weights file {os.fspath(path)!r} not found ({seen}). "
            "polymodal downloads nothing: save the state_dict there with "
            "torch.save(module.state_dict(), path)."
        )
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
    nested = [
        key for key in ("state_dict", "model") if isinstance(state.get(key), Mapping)
    ]
    if problems and nested:
        problems.append(
            f"the file holds a checkpoint whose {nested[0]!r} entry may be the "
            f"state_dict: save torch.load(path)[{nested[0]!r}] on its own"
        )
    if problems:
        raise ValueError(
            f"CNNEmbedder: the state_dict in {os.fspath(path)!r} does not fit the "
            f"module: {'; '.join(problems)}."
        )
    module.load_state_dict(state)


def _shape(value):
    return tuple(getattr(value, "shape", ()))
