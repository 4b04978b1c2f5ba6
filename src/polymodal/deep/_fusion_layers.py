"""Layers that fuse per-modality embeddings while leaving absent modalities out.

Every layer takes ``embeddings`` of shape (n, M, d), one d-dimensional
embedding per modality, and ``mask`` of shape (n, M), True where the modality
is present, and returns ``(fused, weights)``: the fused representation
(n, out_features) and per-row modality weights (n, M) that sum to 1 over the
present modalities and are 0 for absent ones. An absent modality's embedding
never enters the result, not even as zeros: the mask decides, so the network
cannot mistake "not measured" for "measured as zero".
"""

from ..utils._torch import import_torch

torch = import_torch("DeepFusionClassifier")
nn = torch.nn

__all__ = ["FUSION_LAYERS"]


def _masked_softmax(scores, mask):
    """Softmax over the present entries of the last axis; 0 for absent ones.

    A row with nothing present gets all-zero weights rather than NaN.
    """
    scores = scores.masked_fill(~mask, float("-inf"))
    any_present = mask.any(dim=-1, keepdim=True)
    scores = torch.where(any_present, scores, torch.zeros_like(scores))
    return torch.softmax(scores, dim=-1) * mask


def _with_presence(fused, mask):
    """Append the presence indicators, so the head knows which modalities spoke.

    A weighted mean over the present modalities changes its scale and meaning
    with the set of modalities present; the indicators let the head adjust.
    """
    return torch.cat([fused, mask.to(fused.dtype)], dim=1)


def _uniform_weights(mask):
    present = mask.float()
    return present / present.sum(dim=1, keepdim=True).clamp(min=1.0)


class ConcatFusionLayer(nn.Module):
    r"""Concatenate the embeddings, absent ones zeroed, followed by the mask.

    .. math:: h = [p_1 e_1, \dots, p_M e_M, p_1, \dots, p_M]

    The presence indicators ``p_m`` travel with the zeros, so the next layer
    can tell an absent modality from a present one whose embedding is small.
    The reported weights are uniform over the present modalities.
    """

    def __init__(self, n_modalities, embedding_dim):
        super().__init__()
        self.out_features = n_modalities * (embedding_dim + 1)

    def forward(self, embeddings, mask):
        present = mask.unsqueeze(-1).to(embeddings.dtype)
        fused = torch.cat(
            [(embeddings * present).flatten(1), mask.to(embeddings.dtype)], dim=1
        )
        return fused, _uniform_weights(mask)


class AttentionFusionLayer(nn.Module):
    r"""Attention over the present modalities.

    .. math::
        s_m = v^\top \tanh(W e_m), \quad
        a_m = \frac{p_m \exp s_m}{\sum_k p_k \exp s_k}, \quad
        h = \left[\sum_m a_m e_m,\ p_1, \dots, p_M\right]

    The weights ``a_m`` are re-normalised over the modalities present in each
    row; they are what ``attention_weights`` returns. The presence indicators
    ``p_m`` are appended because the mean's meaning shifts with the set of
    modalities present.
    """

    def __init__(self, n_modalities, embedding_dim):
        super().__init__()
        self.score = nn.Sequential(
            nn.Linear(embedding_dim, embedding_dim),
            nn.Tanh(),
            nn.Linear(embedding_dim, 1, bias=False),
        )
        self.out_features = embedding_dim + n_modalities

    def forward(self, embeddings, mask):
        weights = _masked_softmax(self.score(embeddings).squeeze(-1), mask)
        fused = (weights.unsqueeze(-1) * embeddings).sum(dim=1)
        return _with_presence(fused, mask), weights


class GatedFusionLayer(nn.Module):
    r"""Gated multimodal unit: a feature-wise soft choice between modalities.

    .. math::
        u_m = \tanh(W_m e_m), \quad
        z_{m,j} = \frac{p_m \exp g_{m,j}}{\sum_k p_k \exp g_{k,j}},
        \quad g = G [e_1, \dots, e_M], \quad
        h = \left[\sum_m z_m \odot u_m,\ p_1, \dots, p_M\right]

    Each output feature picks its own mix of modalities; the gates come from
    all present embeddings. The reported weight of a modality is its gate
    averaged over the features.
    """

    def __init__(self, n_modalities, embedding_dim):
        super().__init__()
        self.n_modalities = n_modalities
        self.embedding_dim = embedding_dim
        self.project = nn.ModuleList(
            nn.Linear(embedding_dim, embedding_dim) for _ in range(n_modalities)
        )
        self.gate = nn.Linear(
            n_modalities * embedding_dim, n_modalities * embedding_dim
        )
        self.out_features = embedding_dim + n_modalities

    def forward(self, embeddings, mask):
        present = mask.unsqueeze(-1).to(embeddings.dtype)
        projected = torch.stack(
            [
                torch.tanh(layer(embeddings[:, m]))
                for m, layer in enumerate(self.project)
            ],
            dim=1,
        )
        gates = self.gate((embeddings * present).flatten(1)).view(
            -1, self.n_modalities, self.embedding_dim
        )
        feature_mask = mask.unsqueeze(-1).expand_as(gates)
        gates = _masked_softmax(gates.transpose(1, 2), feature_mask.transpose(1, 2))
        gates = gates.transpose(1, 2)
        fused = (gates * projected).sum(dim=1)
        return _with_presence(fused, mask), gates.mean(dim=2)


class LowRankTensorFusionLayer(nn.Module):
    r"""Low-rank multimodal tensor fusion (Liu et al., 2018).

    .. math::
        h = \sum_{r=1}^{R} \prod_{m:\ p_m = 1}
            \left(W_m^{(r)\top} [e_m; 1]\right)

    This is the outer product of the ``[e_m; 1]`` vectors (which keeps every
    unimodal and cross-modal interaction term) contracted with a rank-R weight
    tensor, computed without forming the tensor. An absent modality leaves the
    product (its factor is the multiplicative identity) instead of entering it
    as a zero vector. The reported weights are uniform over the present
    modalities.
    """

    def __init__(self, n_modalities, embedding_dim, rank=4):
        super().__init__()
        self.rank = rank
        self.out_features = embedding_dim
        self.factors = nn.Parameter(
            torch.randn(n_modalities, rank, embedding_dim + 1, embedding_dim)
            / (embedding_dim + 1) ** 0.5
        )
        self.rank_weights = nn.Parameter(torch.full((rank,), 1.0 / rank))
        self.bias = nn.Parameter(torch.zeros(embedding_dim))

    def forward(self, embeddings, mask):
        ones = embeddings.new_ones((*embeddings.shape[:2], 1))
        augmented = torch.cat([embeddings, ones], dim=-1)
        # (n, M, R, d): each modality's projection under each rank-1 factor.
        projections = torch.einsum("nmi,mrio->nmro", augmented, self.factors)
        identity = torch.ones_like(projections)
        present = mask[:, :, None, None]
        product = torch.where(present, projections, identity).prod(dim=1)
        fused = torch.einsum("nro,r->no", product, self.rank_weights) + self.bias
        return fused, _uniform_weights(mask)


FUSION_LAYERS = {
    "concat": ConcatFusionLayer,
    "attention": AttentionFusionLayer,
    "gated": GatedFusionLayer,
    "lowrank_tensor": LowRankTensorFusionLayer,
}
