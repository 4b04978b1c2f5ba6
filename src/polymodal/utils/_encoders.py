"""Small convolutional encoders for image and one-hot sequence blocks.

Importing this module imports torch, so the rest of polymodal imports it only
when a torch model is built.
"""

from numbers import Integral

from ..utils._torch import import_torch

torch = import_torch("polymodal's convolutional encoders")

__all__ = ["ImageEncoder", "SequenceEncoder"]


def _check_positive_ints(name, values):
    values = tuple(values)
    if not values or not all(
        isinstance(value, Integral) and not isinstance(value, bool) and value >= 1
        for value in values
    ):
        raise ValueError(f"{name} must hold one or more ints >= 1; got {values!r}.")
    return values


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
        (in_channels, embedding_dim, kernel_size) = _check_positive_ints(
            "ImageEncoder: in_channels, embedding_dim and kernel_size",
            (in_channels, embedding_dim, kernel_size),
        )
        channels = _check_positive_ints("ImageEncoder: channels", channels)
        blocks = []
        for width_in, width_out in zip((in_channels, *channels), channels):
            blocks.append(
                torch.nn.Sequential(
                    torch.nn.Conv2d(
                        width_in,
                        width_out,
                        kernel_size,
                        padding="same",
                        bias=False,
                    ),
                    torch.nn.BatchNorm2d(width_out),
                    torch.nn.ReLU(),
                    torch.nn.MaxPool2d(2),
                )
            )
        self.in_channels = in_channels
        self.min_size = 2 ** len(channels)
        self.features = torch.nn.Sequential(*blocks)
        self.head = torch.nn.Linear(channels[-1], embedding_dim)

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
