import pickle
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from polymodal import MultimodalUnion
from polymodal.image import CNNEmbedder, ImageLoader

from .image_files import write_png

torch = pytest.importorskip("torch")


@pytest.fixture
def images():
    return np.random.default_rng(0).normal(size=(5, 1, 16, 16))


def _embedder(**params):
    return CNNEmbedder(**{"random_state": 0, "device": "cpu", **params})


def _custom_module():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3),
            torch.nn.ReLU(),
            torch.nn.Flatten(),
            torch.nn.Linear(4 * 14 * 14, 5),
        )


@pytest.mark.parametrize("shape", [(5, 1, 16, 16), (2, 3, 8, 24), (1, 1, 9, 9)])
def test_one_float_row_per_image(shape):
    images = np.random.default_rng(0).normal(size=shape)

    embedder = _embedder().fit(images)
    features = embedder.transform(images)

    assert features.shape == (shape[0], 64)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()
    assert embedder.n_features_in_ == shape[1]
    assert embedder.embedding_dim_ == 64
    assert not embedder.module_.training


def test_feature_names(images):
    names = _embedder().fit(images).get_feature_names_out()

    assert names.dtype == object
    assert list(names[:2]) == ["cnn0", "cnn1"] and names[-1] == "cnn63"


def test_pandas_output(images):
    frame = _embedder().set_output(transform="pandas").fit_transform(images)

    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns[:2]) == ["cnn0", "cnn1"]


def test_same_seed_same_features_and_global_rng_untouched(images):
    torch_state = torch.random.get_rng_state()

    first = _embedder(random_state=1).fit_transform(images)
    second = _embedder(random_state=1).fit_transform(images)
    other = _embedder(random_state=2).fit_transform(images)

    assert torch.equal(torch.random.get_rng_state(), torch_state)
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)


def test_result_does_not_depend_on_the_batch(images):
    embedder = _embedder(batch_size=2).fit(images)

    alone = embedder.transform(images[3:4])

    np.testing.assert_allclose(alone[0], embedder.transform(images)[3], atol=1e-6)


def test_weights_round_trip_through_a_state_dict_file(tmp_path, images):
    from polymodal.utils._encoders import ImageEncoder

    encoder = ImageEncoder(1)
    torch.nn.init.normal_(encoder.head.weight)
    path = tmp_path / "encoder.pt"
    torch.save(encoder.state_dict(), path)

    features = _embedder(weights=path, random_state=5).fit_transform(images)

    with torch.no_grad():
        expected = encoder.eval()(torch.as_tensor(images, dtype=torch.float32))
    np.testing.assert_allclose(features, expected.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(
        features, _embedder(weights=str(path), random_state=6).fit_transform(images)
    )


def test_weights_for_another_module_name_path_and_keys(tmp_path, images):
    from polymodal.utils._encoders import ImageEncoder

    rgb = tmp_path / "rgb.pt"
    torch.save(ImageEncoder(3).state_dict(), rgb)
    foreign = tmp_path / "foreign.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, foreign)

    with pytest.raises(ValueError, match=r"rgb\.pt.*features\.0\.0\.weight"):
        _embedder(weights=rgb).fit(images)
    with pytest.raises(ValueError, match=r"missing keys.*unexpected keys \['fc"):
        _embedder(weights=foreign).fit(images)


def test_weights_file_missing_or_not_a_state_dict(tmp_path, images):
    whole_module = tmp_path / "module.pt"
    torch.save(_custom_module(), whole_module)
    listed = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], listed)

    with pytest.raises(ValueError, match=r"absent\.pt' not found"):
        _embedder(weights=tmp_path / "absent.pt").fit(images)
    with pytest.raises(ValueError, match="weights_only"):
        _embedder(weights=whole_module).fit(images)
    with pytest.raises(ValueError, match="holds a list, not a state_dict"):
        _embedder(weights=listed).fit(images)


def test_custom_module_is_copied_and_a_layer_is_hooked(images):
    module = _custom_module()
    weights = {key: value.clone() for key, value in module.state_dict().items()}

    whole = _embedder(module=module).fit(images)
    hooked = _embedder(module=module, layer="1").fit(images)
    features = hooked.transform(images)

    assert whole.transform(images).shape == (5, 5)
    assert features.shape == (5, 4)
    assert list(hooked.get_feature_names_out()) == ["cnn0", "cnn1", "cnn2", "cnn3"]
    with torch.no_grad():
        maps = module[1](module[0](torch.as_tensor(images, dtype=torch.float32)))
    # A 4-D layer output is global-average-pooled.
    np.testing.assert_allclose(features, maps.mean(dim=(2, 3)).numpy(), rtol=1e-5)
    assert hooked.module_ is not module
    assert module.training and not module[1]._forward_hooks
    assert all(torch.equal(module.state_dict()[k], v) for k, v in weights.items())


def test_layer_of_a_flat_output_is_flattened(images):
    features = _embedder(module=_custom_module(), layer="2").fit_transform(images)

    assert features.shape == (5, 4 * 14 * 14)


def test_unknown_layer_lists_the_submodules(images):
    with pytest.raises(ValueError, match=r"layer='conv'.*'features\.0'"):
        _embedder(layer="conv").fit(images)


def test_absent_rows_stay_nan_and_skip_the_network(images):
    images[[1, 3]] = np.nan
    embedder = _embedder().fit(images)

    features = embedder.transform(images)

    assert np.isnan(features[[1, 3]]).all()
    np.testing.assert_allclose(
        features[[0, 2, 4]], embedder.transform(images[[0, 2, 4]]), atol=1e-6
    )
    assert np.isnan(embedder.transform(images[[1]])).all()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_pixels_inside_an_image_name_the_rows(images, bad):
    images[2, 0, 3, 4] = bad
    images[4, 0, 0, 0] = bad

    with pytest.raises(ValueError, match=r"rows \[2, 4\]"):
        _embedder().fit(images)


@pytest.mark.parametrize(
    "X",
    [np.zeros((3, 16, 16)), ["scan.png", "other.png"], [np.zeros((1, 8, 8)), [0.0]]],
)
def test_input_that_is_not_an_image_block_suggests_a_loader(X):
    with pytest.raises(ValueError, match=r"\(n_samples, C, H, W\).*ImageLoader"):
        _embedder().fit(X)


def test_channel_count_must_match_fit(images):
    embedder = _embedder().fit(images)

    with pytest.raises(ValueError, match="1 channel"):
        embedder.transform(np.zeros((1, 3, 16, 16)))


def test_images_too_small_for_the_small_module():
    with pytest.raises(ValueError, match="at least 8×8 pixels"):
        _embedder().fit(np.zeros((2, 1, 6, 16)))


@pytest.mark.parametrize(
    "params",
    [{"batch_size": 0}, {"module": object()}, {"layer": 3}],
)
def test_invalid_parameters(params, images):
    with pytest.raises(ValueError, match="parameter"):
        _embedder(**params).fit(images)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(images):
    with pytest.raises(ValueError, match="sees no GPU"):
        _embedder(device="cuda").fit(images)


@pytest.mark.parametrize("module", ["small", "custom"])
def test_joblib_round_trip_gives_identical_features(tmp_path, images, module):
    module = _custom_module() if module == "custom" else module
    embedder = _embedder(
        module=module, layer="features.1" if module == "small" else None
    )
    fitted = embedder.fit(images)
    joblib.dump(fitted, tmp_path / "cnn.joblib")

    restored = joblib.load(tmp_path / "cnn.joblib")

    np.testing.assert_array_equal(restored.transform(images), fitted.transform(images))
    assert not restored.module_.training
    assert clone(fitted).get_params().keys() == fitted.get_params().keys()


def test_pickled_weights_are_a_cpu_state_dict(images):
    fitted = _embedder().fit(images)

    state = fitted.__getstate__()

    assert "module_" not in state
    assert all(
        tensor.device.type == "cpu" for tensor in state["_module_state"].values()
    )
    assert hasattr(fitted, "module_")
    assert hasattr(pickle.loads(pickle.dumps(fitted)), "module_")


def test_verbose_prints_one_line_per_batch(images, capsys):
    _embedder(batch_size=2, verbose=1).fit_transform(images)

    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "CNNEmbedder: batch 1/3 (2/5 images)",
        "CNNEmbedder: batch 2/3 (4/5 images)",
        "CNNEmbedder: batch 3/3 (5/5 images)",
    ]


def _png_paths(tmp_path, n):
    rng = np.random.RandomState(0)
    return [
        write_png(tmp_path / f"{i}.png", rng.randint(0, 256, (20, 18), dtype=np.uint8))
        for i in range(n)
    ]


def test_in_a_pipeline_after_the_loader(tmp_path):
    paths = _png_paths(tmp_path, 4)
    pipe = make_pipeline(ImageLoader(size=16), _embedder())

    features = pipe.fit_transform(paths)

    assert features.shape == (4, 64)
    # ImageLoader's N-D output has no column names, so the names come from the
    # embedder alone.
    assert pipe[-1].get_feature_names_out()[0] == "cnn0"


def test_in_a_union_with_absent_rows(tmp_path):
    paths = _png_paths(tmp_path, 4)
    frame = pd.DataFrame(
        {"ct": [paths[0], None, paths[1], paths[2], None, paths[3]], "age": 1.0}
    )
    union = MultimodalUnion(
        [("ct", make_pipeline(ImageLoader(size=16), _embedder()), "ct")],
        remainder="drop",
    )

    blocks = union.fit_transform(frame)

    assert blocks["ct"].shape == (6, 64)
    np.testing.assert_array_equal(
        blocks.masks["ct"], [True, False, True, True, False, True]
    )
    assert np.isnan(blocks["ct"][[1, 4]]).all()
    assert np.isfinite(blocks["ct"][[0, 2, 3, 5]]).all()
    # The loader's N-D output has no names; the embedder's own names are kept.
    assert list(blocks.feature_names["ct"][:2]) == ["cnn0", "cnn1"]


def test_without_torch_fit_names_the_extra(monkeypatch, images):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delitem(sys.modules, "polymodal.utils._encoders", raising=False)

    with pytest.raises(ImportError, match=r"CNNEmbedder needs torch.*\[deep\]"):
        CNNEmbedder().fit(images)
