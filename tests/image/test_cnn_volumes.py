"""CNNEmbedder on volumes: the 3-D encoder, the 2.5-D mode and torchvision by name."""

import pickle
import sys
import types

import joblib
import numpy as np
import pytest

from polymodal import MultimodalUnion, io
from polymodal.image import CNNEmbedder, ImageLoader

torch = pytest.importorskip("torch")


@pytest.fixture
def volumes():
    """Three CT-like volumes (1 channel, 6 slices of 16×16) with a mask channel."""
    rng = np.random.default_rng(0)
    block = np.zeros((3, 2, 6, 16, 16), dtype=np.float32)
    block[:, 0] = rng.normal(size=(3, 6, 16, 16))
    block[:, 1, 2:4, 4:12, 4:12] = 1.0
    return block


def _embedder(**params):
    return CNNEmbedder(**{"random_state": 0, "device": "cpu", **params})


class _SliceMean(torch.nn.Module):
    """A 2-D 'network' whose features are each channel's mean: known answers."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x):
        return self.scale * x.mean(dim=(2, 3))


def _known_volumes():
    """Slice d of channel 0 holds the value d; the mask covers slices 1 and 4."""
    block = np.zeros((2, 2, 6, 8, 8), dtype=np.float32)
    block[:, 0] = np.arange(6, dtype=np.float32)[:, None, None]
    block[0, 1, 1, 2:4, 2:4] = 1.0
    block[0, 1, 4, 5, 5] = 1.0
    block[1, 1, 3, 0, 0] = 1.0
    return block


@pytest.mark.parametrize(
    ("params", "width"),
    [
        ({}, 64),
        ({"slices": "all"}, 64),
        ({"slices": "mask"}, 64),
        ({"slices": "mask", "slice_pool": "max"}, 64),
        ({"layer": "features.1"}, 16),
        ({"slices": "all", "layer": "features.1"}, 32),
    ],
)
def test_volumes_give_one_float_row_each(volumes, params, width):
    features = _embedder(**params).fit_transform(volumes)

    assert features.shape == (3, width)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()


def test_the_small_module_is_3d_for_volumes_and_2d_per_slice(volumes):
    from polymodal.utils._encoders import ImageEncoder, SliceEncoder, VolumeEncoder

    assert isinstance(_embedder().fit(volumes).module_, VolumeEncoder)
    sliced = _embedder(slices="mask").fit(volumes).module_
    assert isinstance(sliced, SliceEncoder)
    assert isinstance(sliced.backbone, ImageEncoder)
    # The mask chooses the slices and is dropped from the 2-D network's input.
    assert sliced.backbone.in_channels == 1
    assert _embedder(slices="all").fit(volumes).module_.backbone.in_channels == 2


def test_mask_slices_are_exactly_the_slices_through_the_mask():
    block = _known_volumes()

    mean = _embedder(module=_SliceMean(), slices="mask").fit_transform(block)
    peak = _embedder(
        module=_SliceMean(), slices="mask", slice_pool="max"
    ).fit_transform(block)
    every = _embedder(module=_SliceMean(), slices="all").fit_transform(block)

    # One feature: the image channel alone reaches the network.
    np.testing.assert_allclose(mean, [[2.5], [3.0]])
    np.testing.assert_allclose(peak, [[4.0], [3.0]])
    # With slices="all" the mask is one more input channel.
    np.testing.assert_allclose(every[:, 0], [2.5, 2.5])
    assert every.shape == (2, 2)


def test_slice_encoder_selection_and_empty_mask_fallback():
    from polymodal.utils._encoders import SliceEncoder

    block = torch.as_tensor(_known_volumes())
    block[1, 1] = 0.0
    encoder = SliceEncoder(_SliceMean(), slices="mask")

    selected = encoder.selected_slices(block)

    assert selected[0].tolist() == [False, True, False, False, True, False]
    assert selected[1].all()
    assert encoder(block)[:, 0].tolist() == [2.5, 2.5]


def test_volumes_with_an_empty_mask_are_named(volumes):
    fitted = _embedder(slices="mask").fit(volumes)
    volumes[1, 1] = 0.0

    with pytest.raises(ValueError, match=r"rows \[1\] have an empty mask"):
        fitted.transform(volumes)


def test_absent_volumes_stay_nan(volumes):
    volumes[1] = np.nan

    features = _embedder(slices="mask").fit_transform(volumes)

    assert np.isnan(features[1]).all()
    assert np.isfinite(features[[0, 2]]).all()


@pytest.mark.parametrize("slices", [None, "all", "mask"])
def test_same_seed_same_features_and_batches_do_not_matter(volumes, slices):
    first = _embedder(slices=slices, batch_size=1).fit_transform(volumes)
    second = _embedder(slices=slices, batch_size=3).fit_transform(volumes)
    other = _embedder(slices=slices, random_state=1).fit_transform(volumes)

    np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-6)
    assert not np.allclose(first, other)


def test_a_3d_module_of_the_users_own(volumes):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = torch.nn.Sequential(torch.nn.Conv3d(2, 5, 3), torch.nn.ReLU())

    fitted = _embedder(module=module).fit(volumes)
    features = fitted.transform(volumes)

    # The 5-D feature map is averaged over its spatial axes.
    with torch.no_grad():
        expected = module(torch.as_tensor(volumes)).mean(dim=(2, 3, 4))
    np.testing.assert_allclose(features, expected.numpy(), rtol=1e-5, atol=1e-6)
    assert fitted.module_ is not module


@pytest.mark.parametrize(
    ("params", "block", "message"),
    [
        ({"slices": "all"}, (2, 1, 8, 8), r"slices='all' embeds volumes"),
        ({"slices": "mask"}, (2, 1, 3, 8, 8), r"1 channel; give ImageLoader"),
        ({"slice_pool": "median"}, (2, 1, 3, 8, 8), "parameter"),
        ({"slices": "some"}, (2, 1, 3, 8, 8), "parameter"),
    ],
)
def test_bad_modes(params, block, message):
    with pytest.raises(ValueError, match=message):
        _embedder(**params).fit(np.ones(block))


def test_images_after_volumes_is_an_error(volumes):
    fitted = _embedder().fit(volumes)

    with pytest.raises(ValueError, match=r"fitted on volumes \(5-D blocks\)"):
        fitted.transform(volumes[:, :, 0])


@pytest.mark.parametrize("params", [{}, {"slices": "mask", "slice_pool": "max"}])
def test_joblib_and_polymodal_io_round_trips(tmp_path, volumes, params):
    fitted = _embedder(**params).fit(volumes)
    expected = fitted.transform(volumes)
    joblib.dump(fitted, tmp_path / "cnn.joblib")
    path = io.save(fitted, tmp_path / "cnn.skops")
    before = torch.random.get_rng_state()

    for restored in (joblib.load(tmp_path / "cnn.joblib"), io.load(path)):
        np.testing.assert_array_equal(restored.transform(volumes), expected)
        assert not restored.module_.training
    assert torch.equal(torch.random.get_rng_state(), before)
    state = fitted.__getstate__()
    assert "module_" not in state
    assert all(t.device.type == "cpu" for t in state["_module_state"].values())


def test_in_a_union_that_streams_the_volumes(volumes):
    from sklearn.pipeline import make_pipeline

    cells = list(volumes[:, :1, :, :, :][:, 0])
    union = MultimodalUnion(
        [
            (
                "ct",
                make_pipeline(ImageLoader(volume=True), _embedder()),
                "ct",
            )
        ],
        batch_size=2,
    )
    import pandas as pd

    table = pd.DataFrame({"ct": pd.Series(cells, dtype=object)})
    blocks = union.fit_transform(table)

    direct = _embedder().fit_transform(volumes[:, :1])
    np.testing.assert_allclose(blocks["ct"], direct, rtol=1e-5, atol=1e-5)
    assert CNNEmbedder._learns_from_rows is False


# --- torchvision architectures by name ------------------------------------------


class _TinyResNet(torch.nn.Module):
    """The layout of torchvision's ResNet in miniature: conv1 ... avgpool, fc."""

    def __init__(self, width=4):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, width, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(width)
        self.relu = torch.nn.ReLU()
        self.avgpool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(width, 10)

    def forward(self, x):
        x = self.avgpool(self.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(x, 1))


@pytest.fixture
def fake_torchvision(monkeypatch):
    """A stand-in for torchvision.models with two architectures.

    The torchvision wheel on PyPI does not load beside the CPU build of torch
    that the development install pins, so these tests exercise the lookup by
    name, the local weights and the head removal on a model of the same layout.
    """
    models = types.ModuleType("torchvision.models")
    builders = {"resnet18": _TinyResNet, "resnet34": lambda: _TinyResNet(width=6)}
    models.list_models = lambda module=None: sorted(builders)
    models.get_model = lambda name, weights=None: builders[name]()
    package = types.ModuleType("torchvision")
    package.models = models
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.setitem(sys.modules, "torchvision.models", models)
    return models


def _penultimate(model, images):
    with torch.no_grad():
        x = model.relu(model.bn1(model.conv1(images)))
        return model.avgpool(x).flatten(1).numpy()


def test_torchvision_by_name_loads_the_local_weights_and_drops_the_head(
    tmp_path, volumes, fake_torchvision
):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        model = _TinyResNet().eval()
    path = tmp_path / "resnet18.pth"
    torch.save(model.state_dict(), path)

    fitted = _embedder(module="resnet18", weights=path, slices="mask").fit(volumes)
    features = fitted.transform(volumes)

    # The gray slices through the mask, repeated to 3 channels, then averaged.
    expected = []
    for volume in volumes:
        picked = [d for d in range(6) if volume[1, d].any()]
        slices = torch.as_tensor(volume[0, picked])[:, None].expand(-1, 3, -1, -1)
        expected.append(_penultimate(model, slices).mean(axis=0))
    np.testing.assert_allclose(features, np.stack(expected), rtol=1e-5, atol=1e-6)
    assert features.shape == (3, 4)
    assert isinstance(fitted.module_.backbone.fc, torch.nn.Identity)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(volumes), features)


def test_torchvision_by_name_on_gray_and_rgb_images(tmp_path, fake_torchvision):
    images = np.random.default_rng(1).normal(size=(4, 1, 8, 8)).astype(np.float32)
    model = _TinyResNet().eval()
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)

    gray = _embedder(module="resnet18", weights=path).fit_transform(images)
    rgb = _embedder(module="resnet18", weights=path).fit_transform(
        np.repeat(images, 3, axis=1)
    )

    np.testing.assert_allclose(gray, rgb, rtol=1e-6)
    np.testing.assert_allclose(
        gray,
        _penultimate(model, torch.as_tensor(np.repeat(images, 3, axis=1))),
        rtol=1e-5,
        atol=1e-6,
    )


def test_torchvision_weights_file_missing_or_for_another_model(
    tmp_path, volumes, fake_torchvision
):
    torch.save(_TinyResNet(width=6).state_dict(), tmp_path / "resnet34.pth")
    wrong = tmp_path / "resnet34.pth"

    with pytest.raises(
        ValueError, match=r"resnet18\.pth' not found \(its folder .* holds \['resnet34"
    ):
        _embedder(
            module="resnet18", weights=tmp_path / "resnet18.pth", slices="mask"
        ).fit(volumes)
    with pytest.raises(
        ValueError, match=r"resnet34\.pth' does not fit.*conv1\.weight \(6, 3, 3, 3\)"
    ):
        _embedder(module="resnet18", weights=wrong, slices="mask").fit(volumes)


def test_a_checkpoint_around_the_state_dict_is_explained(tmp_path, fake_torchvision):
    path = tmp_path / "checkpoint.pt"
    torch.save({"state_dict": _TinyResNet().state_dict(), "epoch": 3}, path)

    with pytest.raises(ValueError, match=r"'state_dict' entry may be the state_dict"):
        _embedder(module="resnet18", weights=path).fit(np.ones((2, 3, 8, 8)))


@pytest.mark.parametrize(
    ("params", "block", "message"),
    [
        ({"module": "large"}, (2, 1, 8, 8), r"parameter 'large'.*\['resnet18'"),
        ({"module": "resnet18"}, (2, 1, 3, 8, 8), "slices='all' or 'mask'"),
        ({"module": "resnet18"}, (2, 2, 8, 8), "these have 2 image channels"),
    ],
)
def test_torchvision_misuse(fake_torchvision, params, block, message):
    with pytest.raises(ValueError, match=message):
        _embedder(**params).fit(np.ones(block))


def test_without_torchvision_a_name_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.models", None)

    with pytest.raises(ImportError, match="needs torchvision"):
        _embedder(module="resnet18").fit(np.ones((2, 1, 8, 8)))


def _real_torchvision():
    try:
        import torchvision.models
    except (ImportError, RuntimeError):
        return None
    return torchvision.models


@pytest.mark.skipif(_real_torchvision() is None, reason="needs a working torchvision")
@pytest.mark.parametrize(("name", "width"), [("resnet18", 512), ("densenet121", 1024)])
def test_real_torchvision_architectures(tmp_path, name, width):
    models = _real_torchvision()
    path = tmp_path / f"{name}.pth"
    torch.save(models.get_model(name, weights=None).state_dict(), path)
    volumes = np.random.default_rng(0).normal(size=(2, 1, 3, 32, 32))

    features = _embedder(module=name, weights=path, slices="all").fit_transform(volumes)

    assert features.shape == (2, width)
