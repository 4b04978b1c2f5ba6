"""DeepFusion on volume blocks (n, C, D, H, W): the 3-D and the 2.5-D encoders."""

import numpy as np
import pytest

from polymodal import ModalityBlocks, io

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from polymodal.deep import DeepFusionClassifier, DeepFusionRegressor  # noqa: E402
from polymodal.deep._network import default_encoder  # noqa: E402
from polymodal.utils._encoders import (  # noqa: E402
    ImageEncoder,
    SliceEncoder,
    VolumeEncoder,
)


def _cohort(n=60, seed=0):
    """Noisy volumes (1 or 2 channels, 4×8×8) in which class 1 has a bright lesion.

    The lesion lies in slices 1-2; the second channel is its mask, drawn in
    both classes, so only the intensity under it tells the classes apart.
    """
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    volumes = rng.normal(size=(n, 2, 4, 8, 8)).astype(np.float32)
    volumes[:, 1] = 0.0
    volumes[:, 1, 1:3, 2:6, 2:6] = 1.0
    volumes[y == 1, 0, 1:3, 2:6, 2:6] += 1.5
    lab = rng.normal(size=(n, 2))
    return volumes, lab, y


def _fit(volumes, lab, y, **params):
    blocks = ModalityBlocks({"ct": volumes, "lab": lab})
    params = {
        "embedding_dim": 8,
        "max_epochs": 25,
        "lr": 1e-2,
        "fusion": "concat",
        "random_state": 0,
        "device": "cpu",
        **params,
    }
    return DeepFusionClassifier(**params).fit(blocks, y), blocks


def test_default_encoders_of_volumes():
    assert isinstance(default_encoder((1, 4, 8, 8), 8), VolumeEncoder)
    sliced = default_encoder((2, 4, 8, 8), 8, slices="mask", slice_pool="max")
    assert isinstance(sliced, SliceEncoder)
    assert isinstance(sliced.backbone, ImageEncoder)
    assert sliced.backbone.in_channels == 1
    assert sliced.pool == "max"
    with pytest.raises(ValueError, match="slices='mask'.*1 channel"):
        default_encoder((1, 4, 8, 8), 8, "ct", slices="mask")
    with pytest.raises(ValueError, match="volumes"):
        default_encoder((1, 2, 4, 8, 8), 8, "ct")


@pytest.mark.parametrize(
    ("channels", "params"),
    [(1, {}), (2, {"slices": "mask"}), (1, {"slices": "all", "slice_pool": "max"})],
)
def test_learns_a_planted_lesion_from_volumes(channels, params):
    volumes, lab, y = _cohort()
    test_volumes, test_lab, test_y = _cohort(seed=1)

    clf, _ = _fit(volumes[:, :channels], lab, y, **params)

    test = ModalityBlocks({"ct": test_volumes[:, :channels], "lab": test_lab})
    assert clf.score(test, test_y) >= 0.8
    encoder = clf.net_.module_.encoders["ct"]
    assert isinstance(encoder, SliceEncoder if params else VolumeEncoder)


def test_same_seed_same_predictions_and_absent_volumes():
    volumes, lab, y = _cohort(n=20)
    volumes[:3] = np.nan
    present = ~np.isnan(volumes.reshape(20, -1)).all(axis=1)
    blocks = ModalityBlocks({"ct": volumes, "lab": lab}, masks={"ct": present})
    params = {"embedding_dim": 4, "max_epochs": 2, "random_state": 3, "device": "cpu"}

    first = DeepFusionClassifier(slices="mask", **params).fit(blocks, y)
    second = DeepFusionClassifier(slices="mask", **params).fit(blocks, y)

    np.testing.assert_array_equal(
        first.predict_proba(blocks), second.predict_proba(blocks)
    )
    assert np.isfinite(first.predict_proba(blocks)).all()


def test_regressor_on_volumes_and_polymodal_io_round_trip(tmp_path):
    volumes, lab, y = _cohort(n=20)
    blocks = ModalityBlocks({"ct": volumes[:, :1], "lab": lab})
    reg = DeepFusionRegressor(
        embedding_dim=4, max_epochs=2, random_state=0, device="cpu"
    ).fit(blocks, y.astype(float))

    restored = io.load(io.save(reg, tmp_path / "reg.skops"))

    np.testing.assert_allclose(restored.predict(blocks), reg.predict(blocks))


def test_bad_slice_parameters():
    volumes, lab, y = _cohort(n=10)
    with pytest.raises(ValueError, match="parameter"):
        _fit(volumes, lab, y, slices="some", max_epochs=1)
    with pytest.raises(ValueError, match="parameter"):
        _fit(volumes, lab, y, slices="all", slice_pool="median", max_epochs=1)
