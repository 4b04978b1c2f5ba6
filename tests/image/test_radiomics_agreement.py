"""polymodal's radiomics features against pyradiomics 3.0.1 itself.

On 20 synthetic lesions (spheres, ellipsoids, merged lesions and shells with
noise, smoothed, striped and blocky textures; four spacings; fixed bin width
and fixed bin count), two masks drawn on nibabel's anatomical test volume and
four slices (pyradiomics' force2D), every feature that pyradiomics computes
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
