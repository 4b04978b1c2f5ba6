"""polymodal's radiomics features against pyradiomics 3.0.1 itself.

On 20 synthetic lesions (spheres, ellipsoids, merged lesions and shells with
noise, smoothed, striped and blocky textures; four spacings; fixed bin width
and fixed bin count), two masks drawn on nibabel's anatomical test volume, a
mask of irregular blobs and six slices (pyradiomics' force2D; four lesions,
two of blobs), every feature that pyradiomics computes
for the classes firstorder, shape / shape2D, glcm, glrlm and glszm agrees
within 1% relative. None differs by design: the largest differences, about
3e-7, are the mesh's, whose vertices scikit-image's marching cubes computes
in float32.
"""

import numpy as np
import pytest

from polymodal.image import ImageFeatures
from polymodal.image._radiomics import CLASSES, feature_names, radiomics_features

from .radiomics_cases import (
    all_cases,
    anatomical_cases,
    compare,
    lesion_cases,
    pyradiomics_features,
)

pytest.importorskip("radiomics")
pytest.importorskip("SimpleITK")
pytest.importorskip("skimage")

RTOL = 0.01
ATOL = 1e-9  # values near zero (a cluster shade of 1e-14) compare absolutely


def _ours(image, mask, spacing, settings):
    values = radiomics_features(image, mask, spacing, **settings)
    return dict(zip(feature_names(CLASSES, image.ndim), values))


def test_enough_volumes_with_masks():
    volumes = [case for case in all_cases() if case[1].ndim == 3]
    assert len(volumes) >= 20
    assert any(name.startswith("anatomical") for name, *_ in volumes)


@pytest.mark.parametrize("case", all_cases(), ids=lambda case: case[0])
def test_every_feature_agrees_with_pyradiomics(case):
    name, image, mask, spacing, settings = case
    reference = pyradiomics_features(image, mask, spacing, **settings)
    ours = _ours(image, mask, spacing, settings)

    # The same features, by pyradiomics' names ...
    assert set(reference) == set(ours)
    # ... and the same values.
    names = sorted(reference)
    np.testing.assert_allclose(
        [ours[feature] for feature in names],
        [reference[feature] for feature in names],
        rtol=RTOL,
        atol=ATOL,
        err_msg=f"case {name}",
    )


def test_summary_of_the_agreement():
    worst = compare(lesion_cases(6) + anatomical_cases(), _ours)

    assert len(worst) == 14 + 18 + 24 + 16 + 16
    assert max(gap for gap, *_ in worst.values()) < RTOL


def test_image_features_with_a_mask_channel_agree_with_pyradiomics():
    cases = lesion_cases(3, seed=5)
    # One block: the volumes zero-padded to a common shape, the mask appended.
    side = np.max([case[1].shape for case in cases], axis=0)
    spacing = (1.0, 1.0, 1.0)
    block = np.zeros((len(cases), 2, *side))
    for row, (_, image, mask, _, _) in enumerate(cases):
        region = tuple(slice(0, n) for n in image.shape)
        block[(row, 0, *region)] = image
        block[(row, 1, *region)] = mask
    transformer = ImageFeatures(mask_channel=-1, spacing=spacing, bin_width=10.0)

    out = transformer.fit_transform(block)
    names = list(transformer.get_feature_names_out())

    for row in range(len(cases)):
        image, mask = block[row, 0], block[row, 1] > 0
        reference = pyradiomics_features(image, mask, spacing, bin_width=10.0)
        assert set(names) == set(reference)
        np.testing.assert_allclose(
            out[row], [reference[name] for name in names], rtol=RTOL, atol=ATOL
        )


def _lesion_block(ndim=3):
    cases = lesion_cases(2, seed=7)
    side = np.max([case[1].shape for case in cases], axis=0)
    block = np.zeros((len(cases), 2, *side))
    for row, (_, image, mask, _, _) in enumerate(cases):
        region = tuple(slice(0, n) for n in image.shape)
        block[(row, 0, *region)] = image
        block[(row, 1, *region)] = mask
    return block if ndim == 3 else block[:, :, side[0] // 2]


@pytest.mark.parametrize("ndim", [3, 2])
def test_pyradiomics_backend_gives_the_same_columns(ndim):
    block = _lesion_block(ndim)
    spacing = (2.0, 0.8, 0.8)[-ndim:]
    ours = ImageFeatures(mask_channel=-1, spacing=spacing, bin_width=10.0)
    theirs = ImageFeatures(
        mask_channel=-1, spacing=spacing, bin_width=10.0, backend="pyradiomics"
    )

    expected = ours.fit_transform(block)
    got = theirs.fit_transform(block)

    assert list(theirs.get_feature_names_out()) == list(ours.get_feature_names_out())
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


# pykwalify, which validates pyradiomics' parameter files, imports the old way.
@pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")
def test_pyradiomics_backend_takes_settings_and_parameter_files(tmp_path):
    block = _lesion_block()
    spacing = (2.0, 0.8, 0.8)
    ours = ImageFeatures(["original_firstorder"], mask_channel=-1, spacing=spacing)
    expected = ours.set_params(bin_width=10.0).fit_transform(block)
    settings = ImageFeatures(
        ["original_firstorder"],
        mask_channel=-1,
        spacing=spacing,
        backend="pyradiomics",
        pyradiomics_params={"binWidth": 10.0},
    )
    params = tmp_path / "params.yaml"
    params.write_text(
        "imageType:\n  Original: {}\nfeatureClass:\n  firstorder:\n"
        "setting:\n  binWidth: 10\n"
    )
    from_file = ImageFeatures(
        mask_channel=-1,
        spacing=spacing,
        backend="pyradiomics",
        pyradiomics_params=params,
    )

    np.testing.assert_allclose(settings.fit_transform(block), expected, rtol=1e-9)
    np.testing.assert_allclose(from_file.fit_transform(block), expected, rtol=1e-9)
    assert list(from_file.pyradiomics_names_) == list(ours.get_feature_names_out())


def test_pyradiomics_backend_round_trips_through_joblib(tmp_path):
    import joblib

    block = _lesion_block()
    fitted = ImageFeatures(mask_channel=-1, backend="pyradiomics").fit(block)
    joblib.dump(fitted, tmp_path / "features.joblib")

    loaded = joblib.load(tmp_path / "features.joblib")

    np.testing.assert_array_equal(loaded.transform(block), fitted.transform(block))
