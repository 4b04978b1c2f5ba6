"""KernelFusion in place, chunk by chunk, and its Nyström approximation.

The exact fusion is checked against the formula written out the direct way
(every modality's kernel held at once and added through ``np.ix_``), which
is how KernelFusion computed it before it accumulated in place.
"""

import tracemalloc

import joblib
import numpy as np
import pytest
from scipy import sparse
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.metrics.pairwise import (
    cosine_similarity,
    laplacian_kernel,
    linear_kernel,
    rbf_kernel,
)
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC
from sklearn.utils import get_tags

from polymodal import ModalityBlocks
from polymodal.exceptions import MissingModalityWarning
from polymodal.fusion import KernelFusion, NystroemKernelFusion, _kernel

_NAMED = {"rbf": rbf_kernel, "linear": linear_kernel, "cosine": cosine_similarity}


def _blocks(n_samples=60, seed=0, absent_rate=0.3, scale_b=10.0):
    rng = np.random.default_rng(seed)
    values = {
        "a": rng.normal(size=(n_samples, 3)),
        "b": rng.normal(size=(n_samples, 2)) * scale_b,
        "c": rng.random((n_samples, 5)),
    }
    masks = {name: rng.random(n_samples) > absent_rate for name in values}
    masks["a"][~(masks["b"] | masks["c"])] = True
    for name, mask in masks.items():
        values[name][~mask] = np.nan
    return ModalityBlocks(values, masks=masks)


def _direct(fusion, blocks, training):
    """D (sum_m w_m P_m K_m P_m) D', every K_m held at once, added via np.ix_."""
    kernels = {}
    for name in fusion.weights_:
        train = fusion.fit_blocks_[name]
        rows = train if training else blocks[name][blocks.masks[name]]
        kernel = fusion.kernels_[name]
        if kernel == "rbf":
            kernels[name] = rbf_kernel(rows, train, gamma=fusion.gammas_[name])
        elif isinstance(kernel, str):
            kernels[name] = _NAMED[kernel](rows, train)
        else:
            kernels[name] = np.asarray(kernel(rows, train))
    fused = np.zeros((len(blocks), len(fusion.fit_row_weights_)))
    for name, matrix in kernels.items():
        weight = fusion.weights_[name]
        if weight > 0:
            rows = np.flatnonzero(blocks.masks[name])
            columns = np.flatnonzero(fusion.fit_masks_[name])
            fused[np.ix_(rows, columns)] += weight * matrix
    row_weights = sum(
        w * blocks.masks[name].astype(float) for name, w in fusion.weights_.items()
    )
    fused *= _kernel._inverse_sqrt(row_weights)[:, None]
    fused *= _kernel._inverse_sqrt(fusion.fit_row_weights_)[None, :]
    return fused


@pytest.fixture(params=[1 << 22, 7], ids=["one-chunk", "chunks-of-rows"])
def chunk_elements(request, monkeypatch):
    monkeypatch.setattr(_kernel, "_CHUNK_ELEMENTS", request.param)
    return request.param


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"kernels": "linear", "weights": {"a": 2.0, "b": 0.5}},
        {"kernels": "cosine", "weights": {"c": 0.0}},
        {
            "kernels": {"a": "cosine", "b": laplacian_kernel, "c": "linear"},
            "gamma": {"a": 0.3},
        },
        {"weights": "align"},
        {"kernels": "linear", "weights": "align"},
    ],
    ids=["rbf", "linear-weighted", "cosine-zero-weight", "mixed", "align", "align-lin"],
)
@pytest.mark.filterwarnings("ignore::polymodal.exceptions.MissingModalityWarning")
def test_in_place_kernel_equals_the_direct_formula(params, chunk_elements):
    train, test = _blocks(seed=0), _blocks(n_samples=25, seed=1)
    y = np.arange(60) % 2
    fusion = KernelFusion(**params)
    fused = fusion.fit_transform(train, y)
    np.testing.assert_allclose(fused, _direct(fusion, train, True), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        fusion.transform(test), _direct(fusion, test, False), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(fusion.transform(train), fused, rtol=0, atol=1e-12)


def test_training_rbf_diagonal_is_exactly_one_in_chunks(chunk_elements):
    # Large norms: a self-distance left to rounding would be far from 0.
    fused = KernelFusion().fit_transform(_blocks(scale_b=1e3))
    np.testing.assert_allclose(np.diag(fused), 1.0, rtol=0, atol=1e-15)


def test_align_equals_the_direct_centred_alignment(chunk_elements):
    blocks = _blocks(seed=2)
    y = (np.nan_to_num(blocks["a"][:, 0]) > 0).astype(int)
    fusion = KernelFusion(weights="align").fit(blocks, y)
    for name in blocks.names:
        train = fusion.fit_blocks_[name]
        kernel = rbf_kernel(train, train, gamma=fusion.gammas_[name])
        centred = kernel - kernel.mean(0) - kernel.mean(1)[:, None] + kernel.mean()
        target = np.eye(2)[y[blocks.masks[name]]]
        target = target - target.mean(0)
        expected = np.sum(target * (centred @ target)) / (
            np.linalg.norm(centred) * np.linalg.norm(target.T @ target)
        )
        assert fusion.alignments_[name] == pytest.approx(expected, abs=1e-12)


def test_sparse_blocks_in_chunks_give_the_dense_result(chunk_elements):
    blocks = _blocks(absent_rate=0.0)
    sparse_blocks = ModalityBlocks(
        {name: sparse.csr_matrix(blocks[name]) for name in blocks.names}
    )
    for kernels in ("rbf", "cosine", "linear"):
        np.testing.assert_allclose(
            KernelFusion(kernels=kernels).fit_transform(sparse_blocks),
            KernelFusion(kernels=kernels).fit_transform(blocks),
            atol=1e-12,
        )


def test_fit_transform_holds_at_most_two_kernel_sized_arrays():
    n_samples = 800
    blocks = _blocks(n_samples=n_samples, absent_rate=0.2)
    matrix_bytes = 8 * n_samples**2
    for weights in (None, "align"):
        fusion = KernelFusion(weights=weights)
        y = np.arange(n_samples) % 2
        tracemalloc.start()
        fusion.fit_transform(blocks, y)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # The output, one modality's kernel (align only) and chunks of 32 MiB.
        limit = (2 if weights == "align" else 1) * matrix_bytes + 3 * 2**25
        assert peak < limit, (weights, peak / matrix_bytes)


# NystroemKernelFusion


def test_nystroem_of_one_modality_is_scikit_learns():
    X = np.random.default_rng(0).normal(size=(80, 4))
    ours = NystroemKernelFusion(n_components=30, random_state=0).fit(X)
    theirs = Nystroem(gamma=0.25, n_components=30, random_state=0).fit(X)
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), atol=1e-12)


def test_nystroem_with_every_row_a_landmark_is_the_exact_kernel():
    train, test = _blocks(seed=0), _blocks(n_samples=25, seed=1)
    params = {"kernels": {"c": "cosine"}, "gamma": {"a": 2.0}, "weights": {"a": 2.0}}
    exact = KernelFusion(**params).fit(train)
    approx = NystroemKernelFusion(n_components=60, random_state=0, **params)
    Z = approx.fit_transform(train)
    np.testing.assert_allclose(Z @ Z.T, exact.transform(train), atol=1e-8)
    np.testing.assert_allclose(
        approx.transform(test) @ Z.T, exact.transform(test), atol=1e-8
    )


def test_nystroem_absent_modality_features_are_zero():
    blocks = _blocks()
    fusion = NystroemKernelFusion(n_components=10, random_state=0)
    Z = fusion.fit_transform(blocks)
    widths = [len(fusion.component_indices_[name]) for name in blocks.names]
    assert Z.shape == (60, sum(widths))
    start = 0
    for name, width in zip(blocks.names, widths, strict=True):
        assert np.all(Z[~blocks.masks[name], start : start + width] == 0)
        start += width


def test_nystroem_error_falls_as_landmarks_grow_and_head_auroc_matches():
    rng = np.random.default_rng(3)
    n = 600
    signal = rng.normal(size=n)
    y = (signal + 0.5 * rng.normal(size=n) > 0).astype(int)
    a = np.c_[signal, rng.normal(size=(n, 4))]
    b = np.c_[signal**2, rng.normal(size=(n, 3))]
    mask = rng.random(n) > 0.3
    b[~mask] = np.nan
    blocks = ModalityBlocks({"a": a, "b": b}, masks={"b": mask})
    train, test = np.arange(400), np.arange(400, n)
    exact = KernelFusion().fit(blocks[train])
    K = exact.transform(blocks[train])
    errors = []
    for n_components in (10, 40, 160):
        Z = NystroemKernelFusion(n_components=n_components, random_state=0).fit(
            blocks[train]
        )
        features = Z.transform(blocks[train])
        errors.append(np.linalg.norm(features @ features.T - K) / np.linalg.norm(K))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.05
    svc = SVC(kernel="precomputed").fit(K, y[train])
    exact_auc = roc_auc_score(
        y[test], svc.decision_function(exact.transform(blocks[test]))
    )
    pipe = make_pipeline(
        NystroemKernelFusion(n_components=160, random_state=0),
        LogisticRegression(C=10.0, max_iter=2000),
    ).fit(blocks[train], y[train])
    approx_auc = roc_auc_score(y[test], pipe.decision_function(blocks[test]))
    assert approx_auc > exact_auc - 0.03


def test_nystroem_align_prefers_the_informative_modality():
    rng = np.random.default_rng(0)
    y = np.arange(120) % 2
    informative = y[:, None] + 0.3 * rng.normal(size=(120, 2))
    noise = rng.normal(size=(120, 2))
    blocks = ModalityBlocks({"signal": informative, "noise": noise})
    fusion = NystroemKernelFusion(weights="align", n_components=120, random_state=0)
    fusion.fit(blocks, y)
    assert fusion.weights_["signal"] > 0.8
    exact = KernelFusion(weights="align").fit(blocks, y)
    for name in blocks.names:
        assert fusion.alignments_[name] == pytest.approx(
            exact.alignments_[name], abs=1e-8
        )


def test_nystroem_row_without_modality_is_zero_with_a_warning():
    blocks = _blocks()
    fusion = NystroemKernelFusion(
        weights={"a": 0.0}, n_components=5, random_state=0
    ).fit(blocks)
    empty = ~(blocks.masks["b"] | blocks.masks["c"])
    assert empty.any()
    with pytest.warns(MissingModalityWarning, match="all-zero features"):
        Z = fusion.transform(blocks)
    assert np.all(Z[empty] == 0)


def test_nystroem_round_trip_names_and_tags(tmp_path):
    blocks = _blocks(n_samples=30)
    fusion = NystroemKernelFusion(n_components=4, random_state=0).fit(blocks)
    joblib.dump(fusion, tmp_path / "fusion.joblib")
    loaded = joblib.load(tmp_path / "fusion.joblib")
    np.testing.assert_array_equal(loaded.transform(blocks), fusion.transform(blocks))
    np.testing.assert_allclose(
        NystroemKernelFusion(n_components=4, random_state=0).fit_transform(blocks),
        fusion.transform(blocks),
        atol=1e-12,
    )
    names = fusion.get_feature_names_out()
    assert list(names[:2]) == ["nystroemkernelfusion0", "nystroemkernelfusion1"]
    assert len(names) == 12
    assert get_tags(fusion).input_tags.pairwise is False
    assert fusion.modality_subset_params(["a"]) == {}
