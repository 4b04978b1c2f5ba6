"""The end-to-end network of DeepFusionClassifier: encoders, fusion layer, head."""

import math

from ..utils._encoders import (
    ImageEncoder,
    SequenceEncoder,
    SliceEncoder,
    VolumeEncoder,
)
from ..utils._torch import import_torch
from ._fusion_layers import FUSION_LAYERS
from ._mlp_module import MLPModule

torch = import_torch("DeepFusionClassifier")
nn = torch.nn
functional = torch.nn.functional

__all__ = ["FusionNetwork", "default_encoder"]

#: Largest rotation of the training-time image augmentation, in degrees.
MAX_ROTATION_DEGREES = 10.0


def default_encoder(
    block_shape, embedding_dim, name=None, slices=None, slice_pool="mean"
):
    """The encoder that fits a block's shape (without its row axis).

    2-D tables get an MLP, (C, H, W) images a small CNN, (alphabet, L)
    one-hot sequences a 1-D CNN, and (C, D, H, W) volumes a small 3-D CNN, or
    with ``slices`` ("all" or "mask") the small 2-D CNN applied slice by
    slice and pooled by ``slice_pool``; other shapes need an encoder of the
    user's.
    """
    if len(block_shape) not in (1, 2, 3, 4):
        raise ValueError(
            f"Modality {name!r} has blocks of shape (n, {', '.join(map(str, block_shape))}"
            f"), {len(block_shape) + 1}-D: the default encoders take tables "
            "(n, d), one-hot sequences (n, alphabet, L), images (n, C, H, W) and "
            "volumes (n, C, D, H, W). "
            f"Reshape the block, or pass encoders={{{name!r}: <a torch.nn.Module>}}."
        )
    if len(block_shape) == 1:
        return MLPModule(
            block_shape[0],
            hidden_layer_sizes=(2 * embedding_dim,),
            n_outputs=embedding_dim,
            dropout=0.0,
            batch_norm=False,
        )
    if len(block_shape) == 4:
        if slices is None:
            return VolumeEncoder(block_shape[0], embedding_dim=embedding_dim)
        channels = block_shape[0] - (slices == "mask")
        if channels < 1:
            raise ValueError(
                f"Modality {name!r}: slices='mask' reads the last channel as the "
                "lesion mask, but its volumes have 1 channel; give ImageLoader a "
                "second column of masks, or use slices='all'."
            )
        return SliceEncoder(
            ImageEncoder(channels, embedding_dim=embedding_dim),
            slices=slices,
            pool=slice_pool,
        )
    if len(block_shape) == 3:
        return ImageEncoder(block_shape[0], embedding_dim=embedding_dim)
    return SequenceEncoder(block_shape[0], embedding_dim=embedding_dim)


def drop_modalities(mask, rate):
    """Hide each present modality with probability ``rate``, keeping one per row.

    A row whose draws would hide everything keeps one of its present
    modalities, picked at random, so every training row still says something.
    """
    kept = mask & (torch.rand(mask.shape, device=mask.device) >= rate)
    emptied = mask.any(dim=1) & ~kept.any(dim=1)
    if emptied.any():
        scores = torch.rand(mask.shape, device=mask.device).masked_fill(~mask, -1.0)
        rows = torch.nonzero(emptied).squeeze(1)
        kept[rows, scores[rows].argmax(dim=1)] = True
    return kept


def augment_images(images):
    """Random horizontal flips and rotations of up to ±10° (bilinear, zero padded)."""
    n = images.shape[0]
    flip = torch.rand(n, device=images.device) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    angles = (torch.rand(n, device=images.device) * 2 - 1) * math.radians(
        MAX_ROTATION_DEGREES
    )
    cos, sin = torch.cos(angles), torch.sin(angles)
    zeros = torch.zeros_like(cos)
    theta = torch.stack(
        [torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1
    )
    grid = functional.affine_grid(theta, images.shape, align_corners=False)
    return functional.grid_sample(images, grid, align_corners=False)


def _check_encoder_output(name, encoder, shape, embedding_dim):
    """A user's encoder must give (rows, embedding_dim): try it on two blank rows."""
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            output = encoder(torch.zeros((2, *shape)))
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ValueError(
            f"encoders[{name!r}] fails on a batch of modality {name!r}, whose rows "
            f"have shape {tuple(shape)}: {exc}"
        ) from exc
    finally:
        encoder.train(was_training)
    if tuple(output.shape) != (2, embedding_dim):
        raise ValueError(
            f"encoders[{name!r}] maps 2 rows of modality {name!r} to shape "
            f"{tuple(output.shape)}; expected (2, {embedding_dim}) (embedding_dim)."
        )


class FusionNetwork(nn.Module):
    """One encoder per modality, a fusion layer over the present ones, a head.

    ``forward(**X)`` takes the keys of :meth:`ModalityBlocks.to_slicedict`:
    each modality's float tensor and its ``mask__<name>`` presence mask. Each
    encoder sees only the rows where its modality is present; the fusion layer
    leaves absent modalities out.

    Parameters
    ----------
    block_shapes : dict of str to tuple of int
        Each modality's block shape without the row axis, in modality order.
    custom_encoders : dict of str to torch.nn.Module
        Encoders for some modalities; the others get :func:`default_encoder`.
        Each must map a batch of its modality's rows to (rows, embedding_dim).
    embedding_dim : int
        Width of every encoder's output.
    fusion : {"concat", "attention", "gated", "lowrank_tensor"}
        The fusion layer.
    hidden_layer_sizes : tuple of int
        Hidden layers of the head.
    n_outputs : int
        Number of logits (classes).
    dropout : float
        Dropout rate of the head.
    modality_dropout : float
        Training-time rate at which whole present modalities are hidden.
    augment : bool
        Whether image modalities (4-D tensors) are flipped and rotated at
        random during training.
    slices : {"all", "mask"} or None, default=None
        Encoder of volume modalities (5-D tensors): None a small 3-D CNN,
        otherwise a small 2-D CNN over all slices or those through the mask.
    slice_pool : {"mean", "max"}, default="mean"
        How the 2.5-D encoder pools the slices' vectors.
    """

    def __init__(
        self,
        block_shapes,
        custom_encoders,
        embedding_dim,
        fusion,
        hidden_layer_sizes,
        n_outputs,
        dropout,
        modality_dropout,
        augment,
        slices=None,
        slice_pool="mean",
    ):
        super().__init__()
        self.modalities = list(block_shapes)
        self.encoders = nn.ModuleDict(
            {
                name: custom_encoders[name]
                if name in custom_encoders
                else default_encoder(shape, embedding_dim, name, slices, slice_pool)
                for name, shape in block_shapes.items()
            }
        )
        for name in custom_encoders:
            _check_encoder_output(
                name, self.encoders[name], block_shapes[name], embedding_dim
            )
        self.embedding_dim = embedding_dim
        self.fusion = FUSION_LAYERS[fusion](len(block_shapes), embedding_dim)
        self.head = MLPModule(
            self.fusion.out_features,
            hidden_layer_sizes=hidden_layer_sizes,
            n_outputs=n_outputs,
            dropout=dropout,
            batch_norm=False,
        )
        self.modality_dropout = modality_dropout
        self.augment = augment

    def fuse(self, **inputs):
        """Fused representation and modality weights of a batch."""
        mask = torch.stack([inputs[f"mask__{name}"] for name in self.modalities], 1)
        mask = mask.bool()
        if self.training and self.modality_dropout > 0:
            mask = drop_modalities(mask, self.modality_dropout)
        first = inputs[self.modalities[0]]
        embeddings = first.new_zeros(
            (first.shape[0], len(self.modalities), self.embedding_dim)
        )
        for index, name in enumerate(self.modalities):
            present = mask[:, index]
            if not present.any():
                continue
            values = inputs[name][present]
            if self.training and self.augment and values.ndim == 4:
                values = augment_images(values)
            embeddings[present, index] = self.encoders[name](values)
        return self.fusion(embeddings, mask)

    def forward(self, **inputs):
        fused, _ = self.fuse(**inputs)
        return self.head(fused)
