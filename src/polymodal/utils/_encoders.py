"""Small convolutional encoders for image, volume and one-hot sequence blocks.

Importing this module imports torch, so the rest of polymodal imports it only
when a torch model is built.
"""

from numbers import Integral

from ..utils._torch import import_torch

torch = import_torch("polymodal's convolutional encoders")

__all__ = [
    "ImageEncoder",
    "SequenceEncoder",
    "SliceEncoder",
    "VolumeEncoder",
    "embed_images",
]


def _check_positive_ints(name, values):
    values = tuple(values)
    if not values or not all(
        isinstance(value, Integral) and not isinstance(value, bool) and value >= 1
        for value in values
    ):
        raise ValueError(f"{name} must hold one or more ints >= 1; got {values!r}.")
    return values


def _build_conv_encoder(module, name, sizes, layers):
    """Give ``module`` its conv blocks (``features``) and linear ``head``.

    ``sizes`` is ``(in_channels, embedding_dim, kernel_size, channels)``;
    ``layers`` the convolution, batch-norm and pooling-factory of the blocks'
    dimension. Each block is convolution, batch norm, ReLU, pooling.
    """
    in_channels, embedding_dim, kernel_size, channels = sizes
    conv, norm, pool = layers
    (in_channels, embedding_dim, kernel_size) = _check_positive_ints(
        f"{name}: in_channels, embedding_dim and kernel_size",
        (in_channels, embedding_dim, kernel_size),
    )
    channels = _check_positive_ints(f"{name}: channels", channels)
    module.in_channels = in_channels
    module.features = torch.nn.Sequential(
        *(
            torch.nn.Sequential(
                conv(width_in, width_out, kernel_size, padding="same", bias=False),
                norm(width_out),
                torch.nn.ReLU(),
                pool(),
            )
            for width_in, width_out in zip((in_channels, *channels), channels)
        )
    )
    module.head = torch.nn.Linear(channels[-1], embedding_dim)


class ImageEncoder(torch.nn.Module):
    """A small CNN that embeds images of shape (n, C, H, W) into vectors.

    Each block is a convolution (same padding, no bias), batch normalisation,
    ReLU and 2×2 max pooling; global average pooling over the last feature map
    and a linear layer then give one vector per image. Average pooling makes
    the output width independent of the image size, so any ``H, W >=
    min_size`` works.

    Parameters
    ----------
    in_channels : int
        Number of input channels ``C`` (1 for gray images, 3 for RGB).
    embedding_dim : int, default=64
        Width of the output vectors.
    channels : sequence of int, default=(16, 32, 64)
        Output channels of the convolutional blocks, one block per entry.
    kernel_size : int, default=3
        Side of the square convolution kernels.

    Attributes
    ----------
    features : torch.nn.Sequential
        The convolutional blocks; ``features.0``, ``features.1``, ... in
        :meth:`~torch.nn.Module.named_modules`.
    head : torch.nn.Linear
        The final linear layer.
    min_size : int
        Smallest height and width accepted: ``2 ** len(channels)``, so that
        every pooling step has a 2×2 window to pool.

    Examples
    --------
    >>> import torch
    >>> from polymodal.utils._encoders import ImageEncoder
    >>> encoder = ImageEncoder(in_channels=1, embedding_dim=8, channels=(4, 8))
    >>> encoder(torch.zeros(2, 1, 16, 20)).shape
    torch.Size([2, 8])
    >>> encoder.min_size
    4
    """

    def __init__(
        self, in_channels, embedding_dim=64, channels=(16, 32, 64), kernel_size=3
    ):
        super().__init__()
        _build_conv_encoder(
            self,
            "ImageEncoder",
            (in_channels, embedding_dim, kernel_size, channels),
            (torch.nn.Conv2d, torch.nn.BatchNorm2d, lambda: torch.nn.MaxPool2d(2)),
        )
        self.min_size = 2 ** len(self.features)

    def forward(self, x):
        """Embed a batch of images.

        Parameters
        ----------
        x : torch.Tensor of shape (n, C, H, W)
            Float images with ``C == in_channels`` and ``H, W >= min_size``.

        Returns
        -------
        torch.Tensor of shape (n, embedding_dim)
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"ImageEncoder expects images of shape (n, {self.in_channels}, H, W); "
                f"got a tensor of shape {tuple(x.shape)}."
            )
        if min(x.shape[2:]) < self.min_size:
            raise ValueError(
                f"ImageEncoder needs images of at least {self.min_size}×"
                f"{self.min_size} pixels (one 2×2 pooling per block); got "
                f"{x.shape[2]}×{x.shape[3]}. Resize the images (ImageLoader(size=...)) "
                "or use fewer channel blocks."
            )
        return self.head(self.features(x).mean(dim=(2, 3)))


class VolumeEncoder(torch.nn.Module):
    """A small 3-D CNN that embeds volumes of shape (n, C, D, H, W) into vectors.

    The 3-D analogue of :class:`ImageEncoder`: each block is a 3-D convolution
    (same padding, no bias), batch normalisation, ReLU and 2×2×2 max pooling;
    global average pooling over the last feature map and a linear layer then
    give one vector per volume. Pooling rounds up (``ceil_mode=True``), so an
    axis shorter than the number of pooling steps (a volume of 4 slices
    through 3 blocks, say) shrinks to one voxel instead of failing: any
    ``D, H, W >= 1`` works.

    It is small (about 30,000 weights with the defaults) so that it can be
    trained end to end on the few hundred volumes of a clinical cohort, where
    a large pretrained network would overfit or need a GPU.

    Parameters
    ----------
    in_channels : int
        Number of input channels ``C`` (1 for a CT volume, 2 with a lesion
        mask as the last channel).
    embedding_dim : int, default=64
        Width of the output vectors.
    channels : sequence of int, default=(8, 16, 32)
        Output channels of the convolutional blocks, one block per entry.
    kernel_size : int, default=3
        Side of the cubic convolution kernels.

    Attributes
    ----------
    features : torch.nn.Sequential
        The convolutional blocks; ``features.0``, ``features.1``, ... in
        :meth:`~torch.nn.Module.named_modules`.
    head : torch.nn.Linear
        The final linear layer.

    Examples
    --------
    >>> import torch
    >>> from polymodal.utils._encoders import VolumeEncoder
    >>> encoder = VolumeEncoder(in_channels=1, embedding_dim=8, channels=(4, 8))
    >>> encoder(torch.zeros(2, 1, 3, 16, 20)).shape
    torch.Size([2, 8])
    """

    def __init__(
        self, in_channels, embedding_dim=64, channels=(8, 16, 32), kernel_size=3
    ):
        super().__init__()
        _build_conv_encoder(
            self,
            "VolumeEncoder",
            (in_channels, embedding_dim, kernel_size, channels),
            (
                torch.nn.Conv3d,
                torch.nn.BatchNorm3d,
                lambda: torch.nn.MaxPool3d(2, ceil_mode=True),
            ),
        )

    def forward(self, x):
        """Embed a batch of volumes.

        Parameters
        ----------
        x : torch.Tensor of shape (n, C, D, H, W)
            Float volumes with ``C == in_channels``.

        Returns
        -------
        torch.Tensor of shape (n, embedding_dim)
        """
        if x.ndim != 5 or x.shape[1] != self.in_channels:
            raise ValueError(
                "VolumeEncoder expects volumes of shape "
                f"(n, {self.in_channels}, D, H, W); got a tensor of shape "
                f"{tuple(x.shape)}."
            )
        return self.head(self.features(x).mean(dim=(2, 3, 4)))


def embed_images(module, images, layer=None):
    """One row per image: the output of ``module`` or of its submodule ``layer``.

    A feature map with spatial axes (n, C', h, w) or (n, C', d, h, w) is
    averaged over them (global average pooling); anything else is flattened.

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    images : torch.Tensor
        A batch, row axis first.
    layer : str or None, default=None
        The name of a submodule (as ``module.named_modules()`` lists it) whose
        output, captured by a forward hook, replaces the module's.

    Returns
    -------
    torch.Tensor of shape (n, n_features)

    Examples
    --------
    >>> import torch
    >>> from polymodal.utils._encoders import ImageEncoder, embed_images
    >>> encoder = ImageEncoder(1, embedding_dim=8, channels=(4, 8)).eval()
    >>> embed_images(encoder, torch.zeros(2, 1, 8, 8), layer="features.0").shape
    torch.Size([2, 4])
    """
    captured = []
    hook = None
    if layer is not None:
        layers = dict(module.named_modules())
        if layer not in layers:
            names = [name for name in layers if name]
            raise ValueError(
                f"layer={layer!r} is not a submodule of the module; its "
                f"submodules are {names[:20]}{' ...' if len(names) > 20 else ''}."
            )
        hook = layers[layer].register_forward_hook(
            lambda _module, _inputs, output: captured.append(output)
        )
    try:
        output = module(images)
    finally:
        if hook is not None:
            hook.remove()
    if captured:
        output = captured[0]
    if not isinstance(output, torch.Tensor):
        raise ValueError(
            f"the {'module' if layer is None else 'layer'} returns a "
            f"{type(output).__name__}, not a tensor; choose a layer whose output "
            "is a tensor."
        )
    if output.ndim in (4, 5):
        output = output.mean(dim=tuple(range(2, output.ndim)))
    return output.reshape(len(output), -1)


class SliceEncoder(torch.nn.Module):
    """Embed volumes (n, C, D, H, W) with a 2-D network applied slice by slice (2.5-D).

    Each axial slice (C, H, W) of a volume goes through ``backbone``; the
    slices' vectors are then pooled into one vector per volume by their mean
    or their maximum over the slices. This is how 2-D networks, ImageNet
    backbones above all, are brought to CT: their 2-D features transfer to
    slices, and the pooling makes the result independent of the slice count.

    Parameters
    ----------
    backbone : torch.nn.Module
        A 2-D network that maps (m, C', H, W) slices to (m, F) vectors or to
        (m, F, h, w) feature maps (averaged over h and w).
    slices : {"all", "mask"}, default="all"
        ``"all"`` embeds every slice with all ``C`` channels. ``"mask"`` reads
        the last channel as a binary lesion mask (as
        :class:`~polymodal.image.ImageLoader` appends it): only the slices in
        which the mask holds a voxel > 0.5 are embedded and pooled, and the
        mask channel itself is dropped from the backbone's input, which then
        gets the ``C - 1`` image channels. A volume whose mask is empty pools
        all its slices.
    pool : {"mean", "max"}, default="mean"
        How the slices' vectors become one: ``"mean"`` describes the whole
        region, ``"max"`` its most marked slice (a small nodule that fills few
        of the slices).
    repeat_channels : int or None, default=None
        When set (3 for an ImageNet backbone), a one-channel slice is repeated
        to this many channels before the backbone; None passes the channels
        as they are.
    layer : str or None, default=None
        A submodule of ``backbone`` whose output, instead of the backbone's,
        embeds each slice.

    Attributes
    ----------
    backbone : torch.nn.Module
        The 2-D network; its submodules are ``backbone.<name>``.

    Examples
    --------
    >>> import torch
    >>> from polymodal.utils._encoders import ImageEncoder, SliceEncoder
    >>> backbone = ImageEncoder(1, embedding_dim=8, channels=(4, 8))
    >>> encoder = SliceEncoder(backbone, slices="mask", pool="max").eval()
    >>> volumes = torch.zeros(2, 2, 5, 8, 8)   # an image channel and a mask
    >>> volumes[:, 1, 2:4] = 1.0               # the lesion lies in slices 2 and 3
    >>> encoder(volumes).shape
    torch.Size([2, 8])
    >>> encoder.selected_slices(volumes)[0].tolist()
    [False, False, True, True, False]
    """

    def __init__(
        self, backbone, slices="all", pool="mean", repeat_channels=None, layer=None
    ):
        super().__init__()
        if slices not in ("all", "mask"):
            raise ValueError(
                f"SliceEncoder: slices must be 'all' or 'mask'; got {slices!r}."
            )
        if pool not in ("mean", "max"):
            raise ValueError(
                f"SliceEncoder: pool must be 'mean' or 'max'; got {pool!r}."
            )
        self.backbone = backbone
        self.slices = slices
        self.pool = pool
        self.repeat_channels = repeat_channels
        self.layer = layer

    def selected_slices(self, x):
        """Which slices of each volume are embedded: a bool tensor (n, D)."""
        if self.slices == "all":
            return torch.ones(x.shape[0], x.shape[2], dtype=torch.bool, device=x.device)
        selected = (x[:, -1] > 0.5).flatten(2).any(dim=2)
        # A volume whose mask is empty falls back on all its slices.
        return selected | ~selected.any(dim=1, keepdim=True)

    def forward(self, x):
        """Embed a batch of volumes.

        Parameters
        ----------
        x : torch.Tensor of shape (n, C, D, H, W)
            Float volumes; with ``slices="mask"``, ``C >= 2`` and the last
            channel is the mask.

        Returns
        -------
        torch.Tensor of shape (n, F)
        """
        if x.ndim != 5 or (self.slices == "mask" and x.shape[1] < 2):
            raise ValueError(
                "SliceEncoder expects volumes of shape (n, C, D, H, W)"
                f"{' with C >= 2, the mask last' if self.slices == 'mask' else ''}; "
                f"got a tensor of shape {tuple(x.shape)}."
            )
        selected = self.selected_slices(x)
        images = x[:, :-1] if self.slices == "mask" else x
        # (n, C, D, H, W) -> (n, D, C, H, W) -> the selected slices (m, C, H, W).
        images = images.transpose(1, 2)[selected]
        if self.repeat_channels is not None and images.shape[1] == 1:
            images = images.expand(-1, self.repeat_channels, -1, -1)
        vectors = embed_images(self.backbone, images, self.layer)
        counts = selected.sum(dim=1).tolist()
        pooled = [
            chunk.mean(dim=0) if self.pool == "mean" else chunk.amax(dim=0)
            for chunk in vectors.split(counts)
        ]
        return torch.stack(pooled)


class SequenceEncoder(torch.nn.Module):
    """A 1-D CNN that embeds one-hot sequences of shape (n, alphabet, L).

    One convolution scans the sequence with ``channels`` motif detectors,
    ReLU keeps their positive matches, global max pooling keeps each
    detector's best match wherever it lies, and a linear layer gives one
    vector per sequence. The convolution is zero-padded, and a zero column is
    what :class:`~polymodal.sequence.OneHotSequenceEncoder` writes for padding
    and ambiguous letters, so sequences shorter than the kernel still work.

    Parameters
    ----------
    alphabet_size : int
        Number of letters, the input's channel axis (4 for DNA, 20 for
        proteins).
    embedding_dim : int, default=64
        Width of the output vectors.
    channels : int, default=32
        Number of motif detectors (convolution output channels).
    kernel_size : int, default=9
        Motif length in letters.

    Attributes
    ----------
    conv : torch.nn.Conv1d
        The motif detectors.
    head : torch.nn.Linear
        The final linear layer.

    Examples
    --------
    >>> import torch
    >>> from polymodal.utils._encoders import SequenceEncoder
    >>> encoder = SequenceEncoder(alphabet_size=4, embedding_dim=8)
    >>> encoder(torch.zeros(3, 4, 50)).shape
    torch.Size([3, 8])
    """

    def __init__(self, alphabet_size, embedding_dim=64, channels=32, kernel_size=9):
        super().__init__()
        (alphabet_size, embedding_dim, channels, kernel_size) = _check_positive_ints(
            "SequenceEncoder: alphabet_size, embedding_dim, channels and kernel_size",
            (alphabet_size, embedding_dim, channels, kernel_size),
        )
        self.alphabet_size = alphabet_size
        self.conv = torch.nn.Conv1d(
            alphabet_size, channels, kernel_size, padding=kernel_size // 2
        )
        self.head = torch.nn.Linear(channels, embedding_dim)

    def forward(self, x):
        """Embed a batch of one-hot sequences.

        Parameters
        ----------
        x : torch.Tensor of shape (n, alphabet_size, L)
            Float one-hot sequences with ``L >= 1``.

        Returns
        -------
        torch.Tensor of shape (n, embedding_dim)
        """
        if x.ndim != 3 or x.shape[1] != self.alphabet_size or x.shape[2] == 0:
            raise ValueError(
                "SequenceEncoder expects one-hot sequences of shape "
                f"(n, {self.alphabet_size}, L) with L >= 1; got a tensor of shape "
                f"{tuple(x.shape)}."
            )
        return self.head(torch.relu(self.conv(x)).amax(dim=2))
