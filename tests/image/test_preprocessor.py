import joblib
import numpy as np
import pytest

from polymodal.image import ImageLoader, ImagePreprocessor


@pytest.fixture
def images():
    rng = np.random.RandomState(0)
    return rng.normal(50.0, 10.0, size=(3, 1, 8, 12))


def test_zscore_is_per_image(images):
    out = ImagePreprocessor().fit_transform(images)

    assert out.shape == images.shape and out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 1, rtol=1e-5)


def test_result_does_not_depend_on_the_batch(images):
    preprocessor = ImagePreprocessor(size=4, normalize="percentile").fit(images)

    alone = preprocessor.transform(images[1:2])

    np.testing.assert_array_equal(alone[0], preprocessor.transform(images)[1])


def test_center_crop_keeps_the_middle_before_resizing():
    image = np.zeros((1, 1, 4, 8))
    image[..., 2:6] = 1.0

    cropped = ImagePreprocessor(size=4, normalize=None).fit_transform(image)
    stretched = ImagePreprocessor(size=4, crop=None, normalize=None).fit_transform(
        image
    )

    np.testing.assert_allclose(cropped, 1.0)
    assert stretched.min() < 1.0


def test_minmax_percentile_and_clip():
    image = np.arange(100.0).reshape(1, 1, 10, 10)

    minmax = ImagePreprocessor(normalize="minmax").fit_transform(image)
    clipped = ImagePreprocessor(normalize=None, clip=(10, 20)).fit_transform(image)
    robust = ImagePreprocessor(normalize="percentile").fit_transform(image)

    assert minmax.min() == 0.0 and minmax.max() == 1.0
    assert clipped.min() == 10 and clipped.max() == 20
    assert robust.min() == 0.0 and robust.max() == 1.0
    # The 1st and 99th percentiles of 0..99 are 0.99 and 98.01.
    np.testing.assert_allclose(robust[0, 0, 5, 0], (50 - 0.99) / 97.02, rtol=1e-6)


def test_constant_and_absent_images():
    block = np.stack([np.full((1, 3, 3), 5.0), np.full((1, 3, 3), np.nan)])

    out = ImagePreprocessor(size=2).fit_transform(block)

    np.testing.assert_array_equal(out[0], 0.0)
    assert np.isnan(out[1]).all()


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.zeros((3, 4, 4)), r"\(n_samples, C, H, W\)"),
        (np.zeros((0, 1, 2, 2)), "non-empty"),
    ],
)
def test_bad_blocks(X, message):
    with pytest.raises(ValueError, match=message):
        ImagePreprocessor().fit(X)


def test_channel_count_must_match_fit(images):
    preprocessor = ImagePreprocessor().fit(images)

    with pytest.raises(ValueError, match="1 channel"):
        preprocessor.transform(np.zeros((1, 3, 4, 4)))


@pytest.mark.parametrize(
    "params", [{"size": (2, 0)}, {"clip": (5, 1)}, {"normalize": "l2"}]
)
def test_invalid_parameters(params, images):
    with pytest.raises(ValueError, match="parameter"):
        ImagePreprocessor(**params).fit(images)


def test_after_loader_and_joblib(tmp_path):
    loader = ImageLoader(color="rgb")
    block = loader.fit_transform([np.ones((6, 6)), np.eye(6)])
    preprocessor = ImagePreprocessor(size=3).fit(block)
    joblib.dump(preprocessor, tmp_path / "pre.joblib")

    restored = joblib.load(tmp_path / "pre.joblib")

    assert restored.transform(block).shape == (2, 3, 3, 3)
    np.testing.assert_array_equal(
        restored.transform(block), preprocessor.transform(block)
    )
