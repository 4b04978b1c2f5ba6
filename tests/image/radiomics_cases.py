"""Volumes with lesion masks on which radiomics features are checked against pyradiomics.

Synthetic lesions of known size and texture (spheres, ellipsoids, two merged
spheres and a shell with a cavity; noise, smoothed noise, stripes and blocks;
several spacings and both discretisations), slices of them for the 2-D
features, and nibabel's own anatomical test volume with two masks drawn on it.
"""

import numpy as np
from scipy import ndimage


def _ellipsoid(shape, radii_mm, spacing, centre=None):
    grid = np.indices(shape).astype(np.float64)
    centre = (np.array(shape) - 1) / 2 if centre is None else np.asarray(centre)
    distance = sum(
        ((axis - c) * step / radius) ** 2
        for axis, c, step, radius in zip(grid, centre, spacing, radii_mm)
    )
    return distance <= 1


def _texture(kind, shape, rng, mean, sd):
    noise = rng.standard_normal(shape)
    if kind == "smooth":
        noise = ndimage.gaussian_filter(noise, 1.5)
        noise /= noise.std()
    elif kind == "stripes":
        noise = 0.4 * noise + np.sign(np.sin(np.indices(shape)[2] * 0.9))
    elif kind == "blocks":
        blocks = np.indices(shape) // 3
        noise = 0.3 * noise + ((blocks.sum(axis=0) % 2) * 2 - 1)
    return mean + sd * noise


def lesion_cases(n_cases=20, seed=0, scale=1.0):
    """``n_cases`` (name, image, mask, spacing, settings) of synthetic lesions.

    ``scale`` multiplies the lesions' size (and their volumes' sides).
    """
    rng = np.random.default_rng(seed)
    spacings = [(1.0, 1.0, 1.0), (2.0, 0.8, 0.8), (1.5, 0.7, 0.9), (3.0, 1.0, 1.0)]
    textures = ["noise", "smooth", "stripes", "blocks"]
    cases = []
    for index in range(n_cases):
        spacing = spacings[index % len(spacings)]
        texture = textures[(index // 2) % len(textures)]
        radii = rng.uniform(4.0, 12.0, size=3) * scale
        shape = tuple(int(np.ceil(2 * r / s)) + 4 for r, s in zip(radii, spacing))
        mask = _ellipsoid(shape, radii, spacing)
        if index % 5 == 3:  # two merged lesions
            offset = (np.array(shape) - 1) / 2 + np.array(shape) // 5
            mask |= _ellipsoid(shape, radii * 0.6, spacing, centre=offset)
        if index % 5 == 4:  # a shell around a cavity
            mask &= ~_ellipsoid(shape, radii * 0.45, spacing)
        image = _texture(texture, shape, rng, rng.uniform(-50, 150), rng.uniform(8, 60))
        settings = {"bin_count": 16} if index % 3 == 2 else {"bin_width": 25.0}
        if index % 7 == 6:
            settings = {"bin_width": 5.0}
        name = f"{texture}-{'x'.join(f'{r:.0f}' for r in radii)}mm-{index}"
        cases.append((name, image, mask, spacing, settings))
    return cases


def slice_cases(n_cases=4, seed=1):
    """2-D (H, W) lesions, for pyradiomics' shape2D and in-plane textures."""
    cases = []
    for name, image, mask, spacing, settings in lesion_cases(n_cases, seed):
        middle = mask.shape[0] // 2
        cases.append(
            (f"slice-{name}", image[middle], mask[middle], spacing[1:], settings)
        )
    return cases


def anatomical_cases():
    """nibabel's anatomical.nii test volume, with a sphere and a bright region drawn."""
    import nibabel
    from nibabel.testing import data_path

    volume = nibabel.load(f"{data_path}/anatomical.nii")
    # nibabel's (x, y, z) arrays become (D, H, W) = (z, y, x) blocks.
    image = np.asarray(volume.get_fdata()).transpose(2, 1, 0)
    spacing = tuple(float(z) for z in volume.header.get_zooms()[:3][::-1])
    sphere = _ellipsoid(image.shape, (14.0, 14.0, 14.0), spacing)
    box = np.zeros(image.shape, dtype=bool)
    box[6:20, 10:32, 8:26] = True
    bright = box & (image > np.median(image[box]))
    bright = ndimage.binary_opening(bright)
    return [
        ("anatomical-sphere", image, sphere, spacing, {"bin_width": 250.0}),
        ("anatomical-bright", image, bright, spacing, {"bin_count": 32}),
    ]


def irregular_cases(seed=3):
    """Masks of several blobs with saddles, holes and diagonal contacts.

    They exercise the mesh's ambiguous cubes (and squares in 2-D) and zones
    that touch only at an edge or a corner.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for index, shape in enumerate([(18, 30, 30), (40, 40), (36, 44)]):
        mask = ndimage.gaussian_filter(rng.standard_normal(shape), 1.2) > 0.1
        image = _texture("noise", shape, rng, 80.0, 40.0)
        spacing = (1.5, 0.7, 0.9)[-len(shape) :]
        settings = {"bin_count": 24} if index == 2 else {"bin_width": 25.0}
        cases.append((f"blobs-{len(shape)}d-{index}", image, mask, spacing, settings))
    return cases


def all_cases():
    """The ≥ 20 volumes of the agreement check, then the slices."""
    irregular = irregular_cases()
    volumes = [case for case in irregular if case[1].ndim == 3]
    slices = [case for case in irregular if case[1].ndim == 2]
    return lesion_cases() + anatomical_cases() + volumes + slice_cases() + slices


def pyradiomics_features(image, mask, spacing, bin_width=25.0, bin_count=None):
    """pyradiomics' features of the five classes, from SimpleITK images.

    The arrays are (D, H, W) or (H, W) in numpy order; SimpleITK's spacing is
    (dx, dy, dz), the reverse. A slice is a one-slice volume with force2D.
    """
    import logging

    import SimpleITK as sitk
    from radiomics import featureextractor

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    settings = {"binWidth": bin_width} if bin_count is None else {"binCount": bin_count}
    if image.ndim == 2:
        image, mask, spacing = image[None], mask[None], (1.0, *spacing)
        settings.update(force2D=True, force2Ddimension=0)
    extractor = featureextractor.RadiomicsFeatureExtractor(**settings)
    extractor.disableAllFeatures()
    shape = "shape2D" if settings.get("force2D") else "shape"
    for name in (shape, "firstorder", "glcm", "glrlm", "glszm"):
        extractor.enableFeatureClassByName(name)
    sitk_image = sitk.GetImageFromArray(np.asarray(image, dtype=np.float64))
    sitk_image.SetSpacing(tuple(float(step) for step in spacing[::-1]))
    sitk_mask = sitk.GetImageFromArray(np.asarray(mask, dtype=np.uint8))
    sitk_mask.CopyInformation(sitk_image)
    result = extractor.execute(sitk_image, sitk_mask)
    return {
        name: float(value)
        for name, value in result.items()
        if name.startswith("original_")
    }


def compare(cases, ours_of):
    """Per feature, the largest relative difference from pyradiomics, and where.

    ``ours_of(image, mask, spacing, settings)`` returns a dict name -> value.
    Returns {name: (relative difference, case name, ours, pyradiomics')}.
    """
    worst = {}
    for case, image, mask, spacing, settings in cases:
        reference = pyradiomics_features(image, mask, spacing, **settings)
        ours = ours_of(image, mask, spacing, settings)
        for name, expected in reference.items():
            got = ours.get(name, np.nan)
            if np.isnan(expected) and np.isnan(got):
                gap = 0.0
            else:
                gap = abs(got - expected) / max(abs(expected), 1e-12)
                gap = np.inf if np.isnan(gap) else gap
            if gap >= worst.get(name, (-1,))[0]:
                worst[name] = (gap, case, got, expected)
    return worst
