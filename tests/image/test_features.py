import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.pipeline import make_pipeline

from polymodal import MultimodalUnion
from polymodal.image import ImageFeatures, ImageLoader

from .image_files import write_png

skimage_feature = pytest.importorskip("skimage.feature")

# 16 x 16 images hold one HOG block of 2 x 2 cells of 8 x 8 pixels.
SMALL_HOG = {"pixels_per_cell": 8, "cells_per_block": 2}


@pytest.fixture
def images():
    return np.random.default_rng(0).normal(100.0, 20.0, size=(5, 1, 16, 16))


def _columns(features, names, prefix):
    keep = [i for i, name in enumerate(names) if name.startswith(prefix)]
    return features[:, keep]


def test_first_order_matches_numpy_and_scipy(images):
    transformer = ImageFeatures("first_order").fit(images)

    out = transformer.transform(images)
    names = list(transformer.get_feature_names_out())

    pixels = images.reshape(5, -1)
    expected = {
        "first_order_mean": pixels.mean(axis=1),
        "first_order_sd": pixels.std(axis=1),
        "first_order_skewness": stats.skew(pixels, axis=1),
        "first_order_kurtosis": stats.kurtosis(pixels, axis=1),
        "first_order_min": pixels.min(axis=1),
        "first_order_max": pixels.max(axis=1),
    }
    for q in (10, 25, 50, 75, 90):
        expected[f"first_order_p{q}"] = np.percentile(pixels, q, axis=1)
    for name, values in expected.items():
        np.testing.assert_allclose(out[:, names.index(name)], values, rtol=1e-10)
    assert names == [
        "first_order_mean",
        "first_order_sd",
        "first_order_skewness",
        "first_order_kurtosis",
        "first_order_entropy",
        "first_order_min",
        "first_order_max",
        "first_order_p10",
        "first_order_p25",
        "first_order_p50",
        "first_order_p75",
        "first_order_p90",
    ]


def _former_first_order(channel, levels):
    """Mean, sd, skewness, kurtosis and entropy as polymodal wrote them by hand."""
    mean = channel.mean()
    centered = channel - mean
    squared = centered * centered
    variance = squared.mean()
    skewness = (squared * centered).mean() / variance**1.5
    kurtosis = (squared * squared).mean() / variance**2 - 3.0
    low, high = channel.min(), channel.max()
    scaled = (channel - low) * (levels / (high - low))
    grey = np.minimum(scaled.astype(np.intp), levels - 1)
    probabilities = np.bincount(grey.ravel(), minlength=levels) / grey.size
    probabilities = probabilities[probabilities > 0]
    entropy = -np.sum(probabilities * np.log2(probabilities))
    return np.array([mean, np.sqrt(variance), skewness, kurtosis, entropy])


def test_first_order_moments_equal_the_former_hand_formulas():
    # scipy.stats.skew / kurtosis (bias=True, fisher=True) compute the very
    # products the hand formulas did, so they agree to the bit; scipy's
    # entropy takes ln(p) / ln(2) where the formula took log2(p), a last-bit
    # difference at most.
    from polymodal.datasets import make_patients

    rng = np.random.default_rng(0)
    X, _ = make_patients(40, random_state=0)
    images = [
        rng.normal(100.0, 20.0, size=(16, 16)),
        rng.integers(0, 256, size=(16, 16)).astype(float),
        rng.exponential(size=(16, 16)) * 1000.0 - 1024.0,
        *(np.asarray(ct, dtype=np.float64) for ct in X["ct"]),
    ]
    for levels in (8, 32):
        for image in images:
            block = image[None, None]
            out = ImageFeatures("first_order", levels=levels).fit_transform(block)
            former = _former_first_order(image, levels)
            np.testing.assert_array_equal(out[0, :4], former[:4])
            assert out[0, 4] == pytest.approx(former[4], rel=1e-15, abs=0)


def test_image_constant_but_for_rounding_has_zero_skewness_and_kurtosis():
    # scipy calls the moments of a sample whose variance is zero to machine
    # precision NaN (with a warning); the features stay finite.
    image = np.full((1, 1, 16, 16), 1e6)
    image[0, 0, 0, 0] += 1e-9

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's precision loss
        out = ImageFeatures("first_order").fit_transform(image)

    assert out[0, 2] == out[0, 3] == 0.0
    assert np.isfinite(out).all()


def test_entropy_counts_bits_of_the_grey_level_histogram():
    # Half the pixels at the bottom of the range, half at the top: one bit.
    halves = np.zeros((1, 1, 4, 4))
    halves[..., 2:] = 1.0

    out = ImageFeatures("first_order", levels=8).fit_transform(halves)

    assert out[0, 4] == pytest.approx(1.0)


def test_constant_image_has_no_spread_and_uniform_texture():
    constant = np.full((1, 1, 16, 16), 7.0)

    transformer = ImageFeatures(intensity_range=(0, 10), **SMALL_HOG)
    out = pd.Series(
        transformer.fit_transform(constant)[0], transformer.get_feature_names_out()
    )

    assert out["first_order_sd"] == 0.0
    assert out["first_order_skewness"] == out["first_order_kurtosis"] == 0.0
    assert out["first_order_entropy"] == 0.0
    assert out["glcm_homogeneity"] == 1.0
    assert out["glcm_contrast"] == 0.0
    assert not out.isna().any()


def test_stripes_have_more_glcm_contrast_than_a_smooth_ramp():
    stripes = np.tile([0.0, 1.0], (16, 8))
    ramp = np.tile(np.linspace(0.0, 1.0, 16), (16, 1))
    block = np.stack([stripes, ramp])[:, None]

    transformer = ImageFeatures("glcm", intensity_range=(0, 1)).fit(block)
    out = pd.DataFrame(
        transformer.transform(block), columns=transformer.get_feature_names_out()
    )

    assert out["glcm_contrast"][0] > 10 * out["glcm_contrast"][1]
    assert out["glcm_homogeneity"][0] < out["glcm_homogeneity"][1]


def test_glcm_matches_scikit_image_averaged_over_angles(images):
    angles = (0.0, np.pi / 2)
    transformer = ImageFeatures(
        "glcm", levels=8, distances=(1, 2), angles=angles, intensity_range="image"
    )

    out = transformer.fit_transform(images)

    image = images[3, 0]
    grey = np.minimum(
        ((image - image.min()) * 8 / np.ptp(image)).astype(int), 7
    ).astype(np.uint8)
    matrix = skimage_feature.graycomatrix(
        grey, [1, 2], angles, levels=8, symmetric=True, normed=True
    )
    names = list(transformer.get_feature_names_out())
    assert names[:2] == ["glcm_contrast_d1", "glcm_contrast_d2"]
    expected = skimage_feature.graycoprops(matrix, "correlation").mean(axis=1)
    start = names.index("glcm_correlation_d1")
    np.testing.assert_allclose(out[3, start : start + 2], expected)


def test_hog_width_and_values_match_scikit_image():
    image = np.random.default_rng(1).random((1, 1, 40, 32))
    params = {"orientations": 6, "pixels_per_cell": (8, 4), "cells_per_block": 2}

    transformer = ImageFeatures("hog", **params).fit(image)
    out = transformer.transform(image)

    expected = skimage_feature.hog(
        image[0, 0],
        orientations=6,
        pixels_per_cell=(8, 4),
        cells_per_block=(2, 2),
        channel_axis=None,
    )
    assert out.shape == (1, expected.size)
    np.testing.assert_allclose(out[0], expected)
    names = transformer.get_feature_names_out()
    assert names[0] == "hog_0" and names[-1] == f"hog_{expected.size - 1}"


def test_lbp_histogram_sums_to_one(images):
    transformer = ImageFeatures("lbp", lbp_points=12, lbp_radius=2).fit(images)

    out = transformer.transform(images)

    assert out.shape == (5, 14)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert transformer.get_feature_names_out()[3] == "lbp_3"


def test_all_families_shape_names_and_dtype(images):
    transformer = ImageFeatures(**SMALL_HOG)

    out = transformer.fit_transform(images)
    names = transformer.get_feature_names_out()

    # 12 first-order + 6 GLCM + 2 x 2 cells x 9 orientations + 10 LBP bins.
    assert out.shape == (5, 12 + 6 + 36 + 10) == (5, len(names))
    assert out.dtype == np.float64
    assert [names[0], names[12], names[18], names[54]] == [
        "first_order_mean",
        "glcm_contrast",
        "hog_0",
        "lbp_0",
    ]


def test_selected_families_are_the_matching_columns_of_all(images):
    every = ImageFeatures(**SMALL_HOG).fit(images)
    some = ImageFeatures(["lbp", "first_order"], **SMALL_HOG).fit(images)

    every_names = list(every.get_feature_names_out())
    some_names = list(some.get_feature_names_out())

    assert some_names == [
        name for name in every_names if name.startswith(("first_order", "lbp"))
    ]
    columns = [every_names.index(name) for name in some_names]
    np.testing.assert_array_equal(
        some.transform(images), every.transform(images)[:, columns]
    )


def test_rgb_gets_every_feature_per_channel():
    rgb = np.random.default_rng(2).random((2, 3, 16, 16))
    rgb[:, 1] *= 10.0
    families = ["first_order", "lbp"]

    transformer = ImageFeatures(families).fit(rgb)
    out = transformer.transform(rgb)
    names = list(transformer.get_feature_names_out())
    green = ImageFeatures(families).fit(rgb[:, 1:2])

    assert out.shape == (2, 3 * 22)
    assert names[0] == "c0_first_order_mean" and names[-1] == "c2_lbp_9"
    assert green.get_feature_names_out()[0] == "first_order_mean"
    # Each channel learns its own range, so the green columns are the green
    # channel's features on its own.
    np.testing.assert_allclose(
        transformer.intensity_range_[1], green.intensity_range_[0]
    )
    np.testing.assert_allclose(
        _columns(out, names, "c1_"), green.transform(rgb[:, 1:2])
    )


def test_learned_range_makes_rows_independent_of_the_batch(images):
    transformer = ImageFeatures(**SMALL_HOG).fit(images)
    batch = transformer.transform(images)

    alone = transformer.transform(images[2:3])

    np.testing.assert_array_equal(alone[0], batch[2])
    np.testing.assert_array_equal(
        ImageFeatures(**SMALL_HOG).fit_transform(images), batch
    )
    np.testing.assert_allclose(
        transformer.intensity_range_, [[images.min(), images.max()]]
    )


def test_intensity_range_choices_change_only_quantised_features(images):
    brighter = images.copy()
    brighter[1] = 2 * images[1] + 50

    per_image = ImageFeatures("glcm", intensity_range="image").fit(brighter)
    learned = ImageFeatures("glcm").fit(brighter)
    fixed = ImageFeatures("glcm", intensity_range=(0.0, 400.0)).fit(brighter)

    # A per-image range ignores a linear change of brightness and contrast.
    np.testing.assert_allclose(
        per_image.transform(brighter)[1], per_image.transform(images)[1]
    )
    assert not np.allclose(learned.transform(brighter)[1], learned.transform(images)[1])
    assert per_image.intensity_range_ is None
    np.testing.assert_array_equal(fixed.intensity_range_, [[0.0, 400.0]])


def test_absent_images_give_nan_rows_and_are_ignored_by_fit(images):
    block = images.copy()
    block[[1, 3]] = np.nan

    transformer = ImageFeatures(**SMALL_HOG).fit(block)
    out = transformer.transform(block)

    assert np.isnan(out[[1, 3]]).all()
    assert not np.isnan(out[[0, 2, 4]]).any()
    np.testing.assert_allclose(
        transformer.intensity_range_,
        [[images[[0, 2, 4]].min(), images[[0, 2, 4]].max()]],
    )
    np.testing.assert_array_equal(
        out[[0, 2, 4]], transformer.transform(images[[0, 2, 4]])
    )


def test_nan_inside_a_present_image_names_the_rows(images):
    block = images.copy()
    block[2, 0, 3, 3] = np.nan
    block[4, 0, 0, 0] = np.inf

    with pytest.raises(ValueError, match=r"rows \[2, 4\] hold NaN or infinite"):
        ImageFeatures().fit(block)


def test_every_image_absent_is_an_error():
    with pytest.raises(ValueError, match="every training image is all-NaN"):
        ImageFeatures().fit(np.full((2, 1, 16, 16), np.nan))


@pytest.mark.parametrize(
    "X",
    [
        np.zeros((4, 64)),
        np.zeros((4, 8, 8)),
        ["a.png", "b.png"],
        [np.zeros((4, 4)), np.zeros((5, 5))],
    ],
    ids=["table", "3d", "paths", "ragged"],
)
def test_input_that_is_not_a_block_asks_for_an_image_loader(X):
    with pytest.raises(ValueError, match=r"\(n_samples, C, H, W\).*ImageLoader"):
        ImageFeatures().fit(X)


def test_images_too_small_for_hog_or_glcm():
    with pytest.raises(ValueError, match="too small for a HOG block.*at least 24 x 24"):
        ImageFeatures().fit(np.zeros((2, 1, 16, 16)))
    with pytest.raises(ValueError, match="GLCM distance 4"):
        ImageFeatures("glcm", distances=(1, 4)).fit(np.zeros((2, 1, 4, 8)))


def test_hog_needs_the_fitted_image_shape(images):
    with_hog = ImageFeatures(**SMALL_HOG).fit(images)
    without_hog = ImageFeatures(["first_order", "glcm"]).fit(images)
    larger = np.random.default_rng(3).random((2, 1, 24, 24))

    with pytest.raises(ValueError, match=r"shape \(C, H, W\) = \(1, 16, 16\)"):
        with_hog.transform(larger)
    assert without_hog.transform(larger).shape == (2, 18)
    with pytest.raises(ValueError, match="1 channel"):
        without_hog.transform(np.zeros((2, 3, 16, 16)))


@pytest.mark.parametrize(
    "params",
    [
        {"features": ["glcm", "wavelet"]},
        {"features": []},
        {"levels": 1},
        {"levels": 300},
        {"intensity_range": (5, 1)},
        {"intensity_range": "batch"},
        {"percentiles": (50, 101)},
        {"distances": (0,)},
        {"distances": (1.5,)},
        {"pixels_per_cell": (8, 0)},
        {"lbp_radius": 0},
    ],
)
def test_invalid_parameters(params, images):
    with pytest.raises(ValueError, match="parameter"):
        ImageFeatures(**params).fit(images)


def test_parallel_rows_equal_serial(images):
    block = np.concatenate([images, images[::-1]])
    block[3] = np.nan

    serial = ImageFeatures(**SMALL_HOG).fit_transform(block)
    parallel = ImageFeatures(**SMALL_HOG, n_jobs=2).fit_transform(block)

    np.testing.assert_array_equal(parallel, serial)


def test_joblib_round_trip(tmp_path, images):
    transformer = ImageFeatures(**SMALL_HOG).fit(images)
    joblib.dump(transformer, tmp_path / "features.joblib")

    restored = joblib.load(tmp_path / "features.joblib")

    np.testing.assert_array_equal(
        restored.transform(images), transformer.transform(images)
    )
    np.testing.assert_array_equal(
        restored.get_feature_names_out(), transformer.get_feature_names_out()
    )


@pytest.fixture
def pngs(tmp_path):
    rng = np.random.default_rng(0)
    return [
        write_png(tmp_path / f"{i}.png", rng.integers(0, 256, (20, 30), dtype=np.uint8))
        for i in range(4)
    ]


def test_after_image_loader_on_png_files(pngs):
    from PIL import Image

    pipeline = make_pipeline(ImageLoader(size=16), ImageFeatures(**SMALL_HOG))

    out = pipeline.fit_transform(pd.Series(pngs))

    assert out.shape == (4, 64)
    resized = np.asarray(
        Image.fromarray(np.asarray(Image.open(pngs[2]), np.float32)).resize(
            (16, 16), Image.Resampling.BILINEAR
        )
    )
    assert out[2, 0] == pytest.approx(resized.mean(), rel=1e-6)


def test_inside_a_union_with_absent_and_unreadable_rows(pngs, tmp_path):
    from polymodal.exceptions import RowFailureWarning

    table = pd.DataFrame(
        {
            "ct": [pngs[0], None, pngs[1], str(tmp_path / "missing.png"), pngs[2]],
            "age": [60.0, 70.0, 55.0, 65.0, 50.0],
        }
    )
    union = MultimodalUnion(
        [
            (
                "ct",
                make_pipeline(
                    ImageLoader(size=16, on_error="missing"),
                    ImageFeatures(**SMALL_HOG),
                ),
                "ct",
            ),
            ("age", "passthrough", ["age"]),
        ]
    )

    with pytest.warns(RowFailureWarning):
        blocks = union.fit_transform(table)

    np.testing.assert_array_equal(blocks.masks["ct"], [True, False, True, False, True])
    assert blocks["ct"].shape == (5, 64)
    assert np.isnan(blocks["ct"][[1, 3]]).all()
    assert not np.isnan(blocks["ct"][[0, 2, 4]]).any()
    assert blocks.feature_names["ct"][0] == "first_order_mean"


def test_rows_written_into_the_output_peak_close_to_it():
    import tracemalloc

    images = np.random.default_rng(0).random((150, 1, 32, 32)).astype(np.float32)
    images[[4, 70]] = np.nan
    step = ImageFeatures(["hog", "first_order"], pixels_per_cell=4, cells_per_block=2)
    step.fit(images[:20])
    step.transform(images[:3])
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        out = step.transform(images)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert np.isnan(out[[4, 70]]).all() and not np.isnan(out[:4]).any()
    assert peak <= 1.3 * out.nbytes
    one_by_one = np.vstack([step.transform(images[[row]]) for row in range(10)])
    np.testing.assert_array_equal(out[:10], one_by_one)
