"""The torch module behind the MLP heads; it imports torch, so import it lazily.

Fitted skorch nets pickle their module by class name, so the class lives at
module level here rather than being built inside a function.
"""

from torch import nn

__all__ = ["MLPModule"]


class MLPModule(nn.Module):
    """A fully connected network: ``Linear -> [BatchNorm1d] -> ReLU -> [Dropout]`` per layer.

    Each hidden layer is a linear map followed, optionally, by batch
    normalisation, then a ReLU and, when ``dropout > 0``, dropout; a final
    linear layer maps the last hidden layer to ``n_outputs`` values (logits for
    a classifier, targets for a regressor, an embedding for an encoder).

    Parameters
    ----------
    n_features : int
        Width of the input.
    hidden_layer_sizes : sequence of int, default=(100,)
        Width of each hidden layer; empty gives a linear model.
    n_outputs : int, default=1
        Width of the output.
    dropout : float, default=0.0
        Dropout probability after each hidden layer's activation.
    batch_norm : bool, default=False
        Batch-normalise each hidden layer before its activation.

    Examples
    --------
    >>> import torch
    >>> from polymodal.deep._mlp_module import MLPModule
    >>> module = MLPModule(4, hidden_layer_sizes=(8, 8), n_outputs=3, batch_norm=True)
    >>> module(torch.zeros(5, 4)).shape
    torch.Size([5, 3])
    """

    def __init__(
        self,
        n_features,
        hidden_layer_sizes=(100,),
        n_outputs=1,
        dropout=0.0,
        batch_norm=False,
    ):
        super().__init__()
        self.n_features = n_features
        self.n_outputs = n_outputs
        layers = []
        width = n_features
        for size in hidden_layer_sizes:
            layers.append(nn.Linear(width, size))
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        """Map a batch of shape (batch, n_features) to (batch, n_outputs)."""
        return self.layers(X)
