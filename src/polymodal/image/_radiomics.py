"""Radiomics features of one image inside its mask, as pyradiomics 3.0.1 computes them.

The formulas, the discretisation and the names are pyradiomics' (IBSI-standardised
features; see https://pyradiomics.readthedocs.io/en/v3.0.1/features.html); the
matrices are computed here with numpy, scipy and scikit-image instead of
pyradiomics' C extensions, over every direction at once where numpy allows.
``image`` is a (D, H, W) volume or an (H, W) slice, ``mask`` a boolean array of
the same shape, ``spacing`` the voxel size in mm in the same axis order. A 2-D
slice is treated as pyradiomics treats a one-slice volume with ``force2D=True``:
in-plane directions, 8-connected zones and the ``shape2D`` class.
"""

import itertools

import numpy as np

from ..utils._optional import import_optional

__all__ = ["CLASSES", "feature_names", "radiomics_features"]

#: The feature classes, in pyradiomics' names and in the order of the columns.
CLASSES = ("shape", "firstorder", "glcm", "glrlm", "glszm")

_EPS = np.spacing(1)

# pyradiomics' non-deprecated features of each class, in its (alphabetical) order.
_NAMES = {
    "firstorder": (
        "10Percentile 90Percentile Energy Entropy InterquartileRange Kurtosis "
        "Maximum Mean MeanAbsoluteDeviation Median Minimum Range "
        "RobustMeanAbsoluteDeviation RootMeanSquared Skewness TotalEnergy "
        "Uniformity Variance"
    ).split(),
    "shape": (
        "Elongation Flatness LeastAxisLength MajorAxisLength "
        "Maximum2DDiameterColumn Maximum2DDiameterRow Maximum2DDiameterSlice "
        "Maximum3DDiameter MeshVolume MinorAxisLength Sphericity SurfaceArea "
        "SurfaceVolumeRatio VoxelVolume"
    ).split(),
    "shape2D": (
        "Elongation MajorAxisLength MaximumDiameter MeshSurface MinorAxisLength "
        "Perimeter PerimeterSurfaceRatio PixelSurface Sphericity"
    ).split(),
    "glcm": (
        "Autocorrelation ClusterProminence ClusterShade ClusterTendency Contrast "
        "Correlation DifferenceAverage DifferenceEntropy DifferenceVariance Id Idm "
        "Idmn Idn Imc1 Imc2 InverseVariance JointAverage JointEnergy JointEntropy "
        "MCC MaximumProbability SumAverage SumEntropy SumSquares"
    ).split(),
    "glrlm": (
        "GrayLevelNonUniformity GrayLevelNonUniformityNormalized GrayLevelVariance "
        "HighGrayLevelRunEmphasis LongRunEmphasis LongRunHighGrayLevelEmphasis "
        "LongRunLowGrayLevelEmphasis LowGrayLevelRunEmphasis RunEntropy "
        "RunLengthNonUniformity RunLengthNonUniformityNormalized RunPercentage "
        "RunVariance ShortRunEmphasis ShortRunHighGrayLevelEmphasis "
        "ShortRunLowGrayLevelEmphasis"
    ).split(),
    "glszm": (
        "GrayLevelNonUniformity GrayLevelNonUniformityNormalized GrayLevelVariance "
        "HighGrayLevelZoneEmphasis LargeAreaEmphasis LargeAreaHighGrayLevelEmphasis "
        "LargeAreaLowGrayLevelEmphasis LowGrayLevelZoneEmphasis "
        "SizeZoneNonUniformity SizeZoneNonUniformityNormalized "
        "SmallAreaEmphasis SmallAreaHighGrayLevelEmphasis "
        "SmallAreaLowGrayLevelEmphasis ZoneEntropy ZonePercentage ZoneVariance"
    ).split(),
}


# pyradiomics orders a class's features by the names of its methods
# ("getMeanAbsoluteDeviationFeatureValue" before "getMeanFeatureValue").
_NAMES = {
    key: sorted(names, key=lambda name: f"get{name}FeatureValue")
    for key, names in _NAMES.items()
}


def _class_key(name, ndim):
    return "shape2D" if name == "shape" and ndim == 2 else name


def feature_names(classes, ndim):
    """pyradiomics' names of the features of ``classes`` for ``ndim``-D images.

    Parameters
    ----------
    classes : sequence of str
        Names among :data:`CLASSES`.
    ndim : {2, 3}
        Dimension of the images: ``"shape"`` is pyradiomics' ``shape2D`` class
        for 2-D images.

    Returns
    -------
    list of str
        E.g. ``"original_firstorder_Mean"``, ``"original_shape_MeshVolume"``.

    Examples
    --------
    >>> feature_names(["shape"], 2)[:2]
    ['original_shape2D_Elongation', 'original_shape2D_MajorAxisLength']
    """
    names = []
    for name in classes:
        key = _class_key(name, ndim)
        names += [f"original_{key}_{feature}" for feature in _NAMES[key]]
    return names


def directions(ndim):
    """One of each pair of opposite unit offsets: 13 in 3-D, 4 in a 2-D plane."""
    offsets = [
        offset
        for offset in itertools.product((-1, 0, 1), repeat=ndim)
        if any(offset) and offset > tuple(-side for side in offset)
    ]
    return np.array(offsets, dtype=np.intp)


def discretize(values, bin_width=25.0, bin_count=None):
    """pyradiomics' grey levels (1, 2, ...) of ``values``.

    Fixed bin width: edges equally spaced from 0 with the lowest edge at or
    below the minimum, ``numpy.digitize`` on them (``getBinEdges``). Fixed bin
    count: ``numpy.histogram``'s edges with the top edge raised by 1.

    Examples
    --------
    >>> discretize(np.array([54.0, 60.0, 100.0, 166.0])).tolist()
    [1, 1, 3, 5]
    """
    if bin_count is not None:
        edges = np.histogram(values, bin_count)[1]
        edges[-1] += 1
    else:
        low, high = values.min(), values.max()
        edges = np.arange(low - (low % bin_width), high + 2 * bin_width, bin_width)
        if len(edges) == 1:
            edges = [edges[0] - 0.5, edges[0] + 0.5]
    return np.digitize(values, edges)


def radiomics_features(
    image, mask, spacing, classes=CLASSES, *, bin_width=25.0, bin_count=None
):
    """The features of ``classes`` of ``image`` inside ``mask``, as one array.

    Parameters
    ----------
    image : ndarray of shape (D, H, W) or (H, W)
        Intensities.
    mask : ndarray of the same shape
        The region of interest: the voxels where the mask is at least 0.5, at
        least one. A binary mask gives pyradiomics' features exactly. The
        shape's mesh is the 0.5 iso-surface of the mask's values clipped to
        [0, 1], so a partial-volume mask (each voxel's fraction inside the
        lesion) gives a smooth mesh whose area approaches the true surface,
        where a binary mask's staircase mesh overestimates it (by about 9% for
        a sphere).
    spacing : tuple of float
        Voxel size in mm in the axis order of ``image``, ``(dz, dy, dx)``.
    classes : sequence of str, default=CLASSES
        Feature classes among :data:`CLASSES`.
    bin_width, bin_count : float, int or None
        pyradiomics' ``binWidth`` and ``binCount``; a bin count overrides the
        width.

    Returns
    -------
    ndarray of float64
        One value per name of :func:`feature_names`, in that order.

    Examples
    --------
    >>> image = np.arange(27.0).reshape(3, 3, 3) * 10
    >>> values = radiomics_features(image, image > 40, (1.0, 1.0, 1.0), ["firstorder"])
    >>> dict(zip(feature_names(["firstorder"], 3), values))["original_firstorder_Mean"]
    np.float64(155.0)
    """
    weights = np.clip(np.asarray(mask, dtype=np.float64), 0, 1)
    mask = weights >= 0.5
    image = np.asarray(image, dtype=np.float64)
    spacing = np.asarray(spacing, dtype=np.float64)
    # Crop to the mask's bounding box, padded by one empty voxel on every side.
    box = tuple(
        slice(max(np.flatnonzero(axis).min() - 1, 0), np.flatnonzero(axis).max() + 2)
        for axis in (
            mask.any(axis=tuple(other for other in range(mask.ndim) if other != a))
            for a in range(mask.ndim)
        )
    )
    mask = np.pad(mask[box], 1)
    weights = np.pad(weights[box], 1)
    image = np.pad(image[box], 1)
    values = image[mask]
    levels = np.zeros(mask.shape, dtype=np.intp)
    levels[mask] = discretize(values, bin_width, bin_count)
    parts = []
    # A one-voxel region has no pairs, runs or spread to divide by: NaN, as in
    # pyradiomics, without numpy's warnings.
    with np.errstate(divide="ignore", invalid="ignore"):
        for name in classes:
            parts.append(_class_features(name, weights, mask, values, levels, spacing))
    return np.concatenate(parts)


def _class_features(name, weights, mask, values, levels, spacing):
    if name == "firstorder":
        return _first_order(values, levels[mask], spacing)
    if name == "shape":
        return (_shape_3d if mask.ndim == 3 else _shape_2d)(weights, mask, spacing)
    if name == "glcm":
        return _glcm(levels)
    if name == "glrlm":
        return _glrlm(levels)
    if name == "glszm":
        return _glszm(levels)
    raise ValueError(f"Unknown radiomics feature class {name!r}.")


def _first_order(x, grey, spacing):
    n = len(x)
    counts = np.unique(grey, return_counts=True)[1]
    p = counts / n
    mean = x.mean()
    centred = x - mean
    m2 = np.mean(centred**2)
    m3 = np.mean(centred**3)
    m4 = np.mean(centred**4)
    p10, p25, p50, p75, p90 = np.percentile(x, [10, 25, 50, 75, 90])
    robust = x[(x >= p10) & (x <= p90)]
    energy = np.sum(x**2)
    m2_safe = m2 if m2 != 0 else 1.0
    features = {
        "10Percentile": p10,
        "90Percentile": p90,
        "Energy": energy,
        "Entropy": -np.sum(p * np.log2(p + _EPS)),
        "InterquartileRange": p75 - p25,
        "Kurtosis": m4 / m2_safe**2,
        "Maximum": x.max(),
        "Mean": mean,
        "MeanAbsoluteDeviation": np.mean(np.abs(centred)),
        "Median": p50,
        "Minimum": x.min(),
        "Range": x.max() - x.min(),
        "RobustMeanAbsoluteDeviation": np.mean(np.abs(robust - robust.mean())),
        "RootMeanSquared": np.sqrt(energy / n),
        "Skewness": m3 / m2_safe**1.5,
        "TotalEnergy": energy * np.prod(spacing),
        "Uniformity": np.sum(p**2),
        "Variance": np.std(x) ** 2,
    }
    return np.array([features[name] for name in _NAMES["firstorder"]])


def _axes_lengths(mask, spacing):
    """pyradiomics' principal axes: 4 sqrt(eigenvalues) of the voxel covariance."""
    coordinates = np.argwhere(mask) * spacing
    coordinates -= coordinates.mean(axis=0)
    coordinates /= np.sqrt(len(coordinates))
    eigenvalues = np.sort(np.linalg.eigvalsh(coordinates.T @ coordinates))
    eigenvalues[(eigenvalues < 0) & (eigenvalues > -1e-10)] = 0
    return eigenvalues


def _max_distance(points):
    """The largest distance between two of ``points`` (through their hull)."""
    from scipy.spatial.distance import pdist

    if len(points) < 2:
        return 0.0
    points = points[
        np.logical_and.reduce(_line_extremes(points, range(points.shape[1])))
    ]
    return float(np.sqrt(pdist(points, "sqeuclidean").max()))


def _line_extremes(points, axes):
    """Which points come first or last on their line along each of ``axes``.

    A point between two others on one line is no vertex of their convex hull,
    so these points hold every pair that can be farthest apart. Returns one
    boolean array per axis.
    """
    masks = []
    for along in axes:
        others = [axis for axis in range(points.shape[1]) if axis != along]
        order = np.lexsort(
            [points[:, along]] + [points[:, axis] for axis in others[::-1]]
        )
        ordered = points[order]
        new_line = np.any(ordered[1:, others] != ordered[:-1, others], axis=1)
        ends = np.concatenate([[True], new_line]) | np.concatenate([new_line, [True]])
        # A point given twice (the mesh's two passes share vertices) is an
        # end in both copies, so that each copy passes every axis's test.
        twin = np.all(ordered[1:] == ordered[:-1], axis=1)
        ends[1:] |= twin & ends[:-1]
        ends[:-1] |= twin & ends[1:]
        extreme = np.zeros(len(points), dtype=bool)
        extreme[order[ends]] = True
        masks.append(extreme)
    return masks


def _plane_diameters(vertices, extremes, axis):
    """The largest distance between vertices that share a coordinate on ``axis``.

    ``extremes`` are :func:`_line_extremes` of the vertices along the three
    axes. The planes are compared all at once, as blocks of their points
    padded by repeating a point (which adds a distance of 0).
    """
    others = [a for a in range(3) if a != axis]
    points = np.unique(vertices[extremes[others[0]] & extremes[others[1]]], axis=0)
    points = points[np.argsort(points[:, axis], kind="stable")]
    breaks = np.flatnonzero(np.diff(points[:, axis])) + 1
    starts = np.concatenate([[0], breaks])
    sizes = np.diff(np.append(starts, len(points)))
    width = sizes.max()
    plane_of = np.repeat(np.arange(len(starts)), sizes)
    slot = np.arange(len(points)) - np.repeat(starts, sizes)
    padded = np.repeat(points[starts][:, None, others], width, axis=1)
    padded[plane_of, slot] = points[:, others]
    best = 0.0
    chunk = max(1, 4_000_000 // (width * width))
    for begin in range(0, len(starts), chunk):
        block = padded[begin : begin + chunk]
        squared = np.zeros((len(block), width, width))
        for k in range(2):
            gaps = block[:, :, None, k] - block[:, None, :, k]
            squared += gaps * gaps
        best = max(best, float(squared.max()))
    return np.sqrt(best)


def _mesh(measure, weights, mask, spacing):
    """Surface area, volume and vertices of pyradiomics' marching-cubes mesh.

    pyradiomics looks each cube up in a table of the 128 configurations whose
    eighth corner (z + 1, y + 1, x) is outside the region, and takes a cube
    whose eighth corner is inside as its complement with the orientation
    reversed. That choice settles how the faces of ambiguous cubes are split,
    so the mesh here is built the same way: the triangles of scikit-image's
    Lorensen marching cubes on the mask for the first kind of cube, on the
    complement for the second. Where ambiguous faces leave the mesh open, its
    volume (the signed tetrahedra from the origin) depends on the origin, which
    is pyradiomics' one: a voxel before the region's bounding box.
    """
    first = [
        np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))[0]
        for axis in range(3)
    ]
    origin = tuple(slice(start - 1, None) for start in first)
    weights, mask = weights[origin], mask[origin]
    eighth_inside = mask[1:, 1:, :-1]
    area = volume = 0.0
    vertices = []
    for field, complement in ((weights, False), (1 - weights, True)):
        points, faces, _, _ = measure.marching_cubes(
            field, 0.5, spacing=tuple(spacing), method="lorensen"
        )
        triangles = points[faces]
        cube = np.floor(triangles.mean(axis=1) / spacing).astype(np.intp)
        cube = np.clip(cube, 0, np.array(eighth_inside.shape) - 1)
        kept = eighth_inside[tuple(cube.T)] == complement
        triangles = triangles[kept]
        cross = np.cross(
            triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]
        )
        area += np.linalg.norm(cross, axis=1).sum() / 2
        signed = np.einsum("ij,ij->", triangles[:, 0], cross) / 6
        volume += -signed if complement else signed
        # A vertex the two runs share comes twice, which no distance minds.
        vertices.append(points[np.unique(faces[kept])])
    return area, abs(volume), np.concatenate(vertices)


def _shape_3d(weights, mask, spacing):
    measure = import_optional(
        "skimage.measure",
        extra="image",
        needed_for="Radiomics shape features",
        package="scikit-image",
    )
    area, volume, vertices = _mesh(measure, weights, mask, spacing)
    extremes = _line_extremes(vertices, range(3))
    eigen = _axes_lengths(mask, spacing)
    with np.errstate(divide="ignore", invalid="ignore"):
        features = {
            "Elongation": np.sqrt(eigen[1] / eigen[2]),
            "Flatness": np.sqrt(eigen[0] / eigen[2]),
            "LeastAxisLength": 4 * np.sqrt(eigen[0]),
            "MajorAxisLength": 4 * np.sqrt(eigen[2]),
            "Maximum2DDiameterColumn": _plane_diameters(vertices, extremes, 1),
            "Maximum2DDiameterRow": _plane_diameters(vertices, extremes, 2),
            "Maximum2DDiameterSlice": _plane_diameters(vertices, extremes, 0),
            "Maximum3DDiameter": _max_distance(
                np.unique(vertices[np.logical_and.reduce(extremes)], axis=0)
            ),
            "MeshVolume": volume,
            "MinorAxisLength": 4 * np.sqrt(eigen[1]),
            "Sphericity": (36 * np.pi * volume**2) ** (1 / 3) / area,
            "SurfaceArea": area,
            "SurfaceVolumeRatio": area / volume,
            "VoxelVolume": mask.sum() * np.prod(spacing),
        }
    return np.array([features[name] for name in _NAMES["shape"]])


def _shape_2d(weights, mask, spacing):
    measure = import_optional(
        "skimage.measure",
        extra="image",
        needed_for="Radiomics shape features",
        package="scikit-image",
    )
    perimeter = surface = 0.0
    points = []
    for contour in measure.find_contours(weights, 0.5):
        contour = contour * spacing
        perimeter += np.linalg.norm(np.diff(contour, axis=0), axis=1).sum()
        y, x = contour[:, 0], contour[:, 1]
        surface += (np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1])) / 2
        points.append(contour)
    surface = abs(surface)
    eigen = _axes_lengths(mask, spacing)
    with np.errstate(divide="ignore", invalid="ignore"):
        features = {
            "Elongation": np.sqrt(eigen[0] / eigen[1]),
            "MajorAxisLength": 4 * np.sqrt(eigen[1]),
            "MaximumDiameter": _max_distance(np.unique(np.concatenate(points), axis=0)),
            "MeshSurface": surface,
            "MinorAxisLength": 4 * np.sqrt(eigen[0]),
            "Perimeter": perimeter,
            "PerimeterSurfaceRatio": perimeter / surface,
            "PixelSurface": mask.sum() * np.prod(spacing),
            "Sphericity": 2 * np.sqrt(np.pi * surface) / perimeter,
        }
    return np.array([features[name] for name in _NAMES["shape2D"]])


def _shifted(array, offset):
    """The view of a one-voxel-padded ``array`` at interior positions + ``offset``."""
    return array[
        tuple(
            slice(1 + step, array.shape[axis] - 1 + step)
            for axis, step in enumerate(offset)
        )
    ]


def _grey_index(levels):
    """The grey levels present, and each voxel's index among them (-1 outside)."""
    present = np.unique(levels[levels > 0])
    lookup = np.full(levels.max() + 1, -1, dtype=np.intp)
    lookup[present] = np.arange(len(present))
    return present.astype(np.float64), lookup[levels]


def _binned(bins, values, n_bins):
    """Sum the rows of ``values`` (n, A) into ``n_bins`` rows by ``bins``."""
    columns = np.arange(values.shape[1])
    flat = (bins[:, None] * values.shape[1] + columns).ravel()
    return np.bincount(
        flat, weights=values.ravel(), minlength=n_bins * values.shape[1]
    ).reshape(n_bins, values.shape[1])


def _glcm(levels):
    grey, index = _grey_index(levels)
    n_grey = len(grey)
    ng = grey[-1]  # pyradiomics' Ng: the highest grey level present
    centre = _shifted(index, (0,) * levels.ndim)
    matrices = []
    for offset in directions(levels.ndim):
        neighbour = _shifted(index, offset)
        pairs = (centre >= 0) & (neighbour >= 0)
        matrices.append(
            np.bincount(
                centre[pairs] * n_grey + neighbour[pairs], minlength=n_grey * n_grey
            ).reshape(n_grey, n_grey)
        )
    p = np.stack(matrices, axis=-1).astype(np.float64)
    p += p.transpose(1, 0, 2)
    totals = p.sum(axis=(0, 1))
    if p.shape[2] > 1:
        p, totals = p[:, :, totals > 0], totals[totals > 0]
    p /= totals
    i, j = grey[:, None, None], grey[None, :, None]
    px = p.sum(axis=1, keepdims=True)  # (G, 1, A)
    py = p.sum(axis=0, keepdims=True)  # (1, G, A)
    ux = np.sum(i * p, axis=(0, 1))
    uy = np.sum(j * p, axis=(0, 1))
    n_angles = p.shape[2]
    flat = p.reshape(n_grey * n_grey, n_angles)
    sums = (grey[:, None] + grey[None, :]).ravel().astype(np.intp) - 2
    diffs = np.abs(grey[:, None] - grey[None, :]).ravel().astype(np.intp)
    k_sum = np.arange(2, 2 * int(ng) + 1, dtype=np.float64)
    k_diff = np.arange(0, int(ng), dtype=np.float64)
    p_sum = _binned(sums, flat, len(k_sum))
    p_diff = _binned(diffs, flat, len(k_diff))
    hxy = -np.sum(p * np.log2(p + _EPS), axis=(0, 1))
    ks, kd = k_sum[:, None], k_diff[:, None]
    centred = (i + j) - ux - uy
    sigx = np.sqrt(np.sum(p * (i - ux) ** 2, axis=(0, 1)))
    sigy = np.sqrt(np.sum(p * (j - uy) ** 2, axis=(0, 1)))
    covariance = np.sum(p * (i - ux) * (j - uy), axis=(0, 1))
    correlation = covariance / (sigx * sigy + _EPS)
    correlation[sigx * sigy == 0] = 1
    hx = -np.sum(px * np.log2(px + _EPS), axis=(0, 1))
    hy = -np.sum(py * np.log2(py + _EPS), axis=(0, 1))
    hxy1 = -np.sum(p * np.log2(px * py + _EPS), axis=(0, 1))
    hxy2 = -np.sum(px * py * np.log2(px * py + _EPS), axis=(0, 1))
    div = np.fmax(hx, hy)
    imc1 = np.where(div != 0, (hxy - hxy1) / np.where(div != 0, div, 1), 0)
    imc2 = np.where(
        hxy2 == hxy, 0, np.sqrt(np.clip(1 - np.exp(-2 * (hxy2 - hxy)), 0, None))
    )
    diff_average = np.sum(kd * p_diff, axis=0)
    # MCC: the square root of the second largest eigenvalue of
    # Q = sum_k p(i,k) p(j,k) / (px(i) py(k)). The GLCM is symmetric, so Q is
    # similar to S @ S with S = p / sqrt(px px'), symmetric: Q's eigenvalues
    # are the squares of S's, and MCC is S's second largest in magnitude. A
    # symmetric eigensolver is far faster than pyradiomics' general one on
    # many grey levels; the two differ only by rounding (and pyradiomics'
    # eps in the denominator).
    if n_grey < 2:
        mcc = 1.0
    else:
        with np.errstate(divide="ignore"):
            scale = np.where(px > 0, 1 / np.sqrt(px), 0.0)  # (G, 1, A)
        s_matrix = (p * scale * scale.transpose(1, 0, 2)).transpose(2, 0, 1)
        magnitudes = np.sort(np.abs(np.linalg.eigvalsh(s_matrix)), axis=1)
        mcc = np.mean(magnitudes[:, -2])
    inverse_variance = np.sum(p_diff[1:] / kd[1:] ** 2, axis=0)
    features = {
        "Autocorrelation": np.sum(p * (i * j), axis=(0, 1)),
        "ClusterProminence": np.sum(p * centred**4, axis=(0, 1)),
        "ClusterShade": np.sum(p * centred**3, axis=(0, 1)),
        "ClusterTendency": np.sum(p * centred**2, axis=(0, 1)),
        "Contrast": np.sum(p * (i - j) ** 2, axis=(0, 1)),
        "Correlation": correlation,
        "DifferenceAverage": diff_average,
        "DifferenceEntropy": -np.sum(p_diff * np.log2(p_diff + _EPS), axis=0),
        "DifferenceVariance": np.sum(p_diff * (kd - diff_average) ** 2, axis=0),
        "Id": np.sum(p_diff / (1 + kd), axis=0),
        "Idm": np.sum(p_diff / (1 + kd**2), axis=0),
        "Idmn": np.sum(p_diff / (1 + kd**2 / ng**2), axis=0),
        "Idn": np.sum(p_diff / (1 + kd / ng), axis=0),
        "Imc1": imc1,
        "Imc2": imc2,
        "InverseVariance": inverse_variance,
        "JointAverage": ux,
        "JointEnergy": np.sum(p**2, axis=(0, 1)),
        "JointEntropy": hxy,
        "MCC": mcc,
        "MaximumProbability": p.max(axis=(0, 1)),
        "SumAverage": np.sum(ks * p_sum, axis=0),
        "SumEntropy": -np.sum(p_sum * np.log2(p_sum + _EPS), axis=0),
        "SumSquares": np.sum(p * (i - ux) ** 2, axis=(0, 1)),
    }
    return np.array([np.mean(features[name]) for name in _NAMES["glcm"]])


def _glrlm(levels):
    """Run lengths: along each direction, maximal chains of one grey level."""
    grey, index = _grey_index(levels)
    n_grey = len(grey)
    inside = index >= 0
    centre = _shifted(index, (0,) * levels.ndim)
    positions = np.flatnonzero(_shifted(inside, (0,) * levels.ndim))
    strides = np.array(centre.shape[::-1]).cumprod()[::-1]
    strides = np.append(strides[1:], 1)
    coords = np.stack(np.unravel_index(positions, centre.shape), axis=1)
    grey_at = centre.ravel()[positions]
    counts = []
    for offset in directions(levels.ndim):
        previous = _shifted(index, -offset)
        continues = previous.ravel()[positions] == grey_at
        # Along the direction, a voxel follows its predecessor: order the voxels
        # by the line they lie on, then by their place on it.
        step = int(np.dot(offset, strides))
        flat = coords @ strides
        if step < 0:
            step, flat = -step, -flat
        order = np.lexsort((flat // step, flat % step))
        starts = ~continues[order]
        run_of = np.cumsum(starts) - 1
        lengths = np.bincount(run_of)
        run_grey = grey_at[order][starts]
        counts.append((run_grey, lengths))
    max_length = max(lengths.max() for _, lengths in counts)
    n_angles = len(counts)
    flat = np.concatenate(
        [
            (run_grey * max_length + lengths - 1) * n_angles + angle
            for angle, (run_grey, lengths) in enumerate(counts)
        ]
    )
    p = np.bincount(flat, minlength=n_grey * max_length * n_angles)
    p = p.reshape(n_grey, max_length, n_angles).astype(np.float64)
    runs = p.sum(axis=(0, 1))
    if p.shape[2] > 1:
        p, runs = p[:, :, runs > 0], runs[runs > 0]
    pr = p.sum(axis=0)  # (R, A)
    pg = p.sum(axis=1)  # (G, A)
    j = np.arange(1, p.shape[1] + 1, dtype=np.float64)
    used = pr.sum(axis=1) > 0
    p, pr, j = p[:, used], pr[used], j[used]
    i = grey
    jj, ii = j[:, None], i[:, None]
    pg_n, pr_n = pg / runs, pr / runs
    u_i = np.sum(pg_n * ii, axis=0)
    u_j = np.sum(pr_n * jj, axis=0)
    p_n = p / runs
    i3, j3 = i[:, None, None], j[None, :, None]
    features = {
        "GrayLevelNonUniformity": np.sum(pg**2, axis=0) / runs,
        "GrayLevelNonUniformityNormalized": np.sum(pg**2, axis=0) / runs**2,
        "GrayLevelVariance": np.sum(pg_n * (ii - u_i) ** 2, axis=0),
        "HighGrayLevelRunEmphasis": np.sum(pg * ii**2, axis=0) / runs,
        "LongRunEmphasis": np.sum(pr * jj**2, axis=0) / runs,
        "LongRunHighGrayLevelEmphasis": np.sum(p * j3**2 * i3**2, axis=(0, 1)) / runs,
        "LongRunLowGrayLevelEmphasis": np.sum(p * j3**2 / i3**2, axis=(0, 1)) / runs,
        "LowGrayLevelRunEmphasis": np.sum(pg / ii**2, axis=0) / runs,
        "RunEntropy": -np.sum(p_n * np.log2(p_n + _EPS), axis=(0, 1)),
        "RunLengthNonUniformity": np.sum(pr**2, axis=0) / runs,
        "RunLengthNonUniformityNormalized": np.sum(pr**2, axis=0) / runs**2,
        "RunPercentage": runs / np.sum(pr * jj, axis=0),
        "RunVariance": np.sum(pr_n * (jj - u_j) ** 2, axis=0),
        "ShortRunEmphasis": np.sum(pr / jj**2, axis=0) / runs,
        "ShortRunHighGrayLevelEmphasis": np.sum(p * i3**2 / j3**2, axis=(0, 1)) / runs,
        "ShortRunLowGrayLevelEmphasis": np.sum(p / (i3**2 * j3**2), axis=(0, 1)) / runs,
    }
    return np.array([np.mean(features[name]) for name in _NAMES["glrlm"]])


def _glszm(levels):
    """Zones: connected voxels of one grey level (26- or 8-connected)."""
    measure = import_optional(
        "skimage.measure",
        extra="image",
        needed_for="Radiomics GLSZM features",
        package="scikit-image",
    )
    grey, index = _grey_index(levels)
    labels = measure.label(index + 1, background=0, connectivity=levels.ndim)
    inside = labels > 0
    sizes = np.bincount(labels[inside])[1:]
    zone_grey = np.zeros(len(sizes) + 1, dtype=np.intp)
    zone_grey[labels[inside]] = index[inside]
    zone_grey = zone_grey[1:]
    longest = sizes.max()
    p = np.bincount(zone_grey * longest + sizes - 1, minlength=len(grey) * longest)
    p = p.reshape(len(grey), longest).astype(np.float64)
    ps = p.sum(axis=0)
    pg = p.sum(axis=1)
    j = np.arange(1, p.shape[1] + 1, dtype=np.float64)
    zones = p.sum()
    voxels = np.sum(ps * j)
    used = ps > 0
    p, ps, j = p[:, used], ps[used], j[used]
    i = grey
    pg_n, ps_n = pg / zones, ps / zones
    u_i, u_j = np.sum(pg_n * i), np.sum(ps_n * j)
    p_n = p / zones
    i2, j2 = i[:, None], j[None, :]
    features = {
        "GrayLevelNonUniformity": np.sum(pg**2) / zones,
        "GrayLevelNonUniformityNormalized": np.sum(pg**2) / zones**2,
        "GrayLevelVariance": np.sum(pg_n * (i - u_i) ** 2),
        "HighGrayLevelZoneEmphasis": np.sum(pg * i**2) / zones,
        "LargeAreaEmphasis": np.sum(ps * j**2) / zones,
        "LargeAreaHighGrayLevelEmphasis": np.sum(p * i2**2 * j2**2) / zones,
        "LargeAreaLowGrayLevelEmphasis": np.sum(p * j2**2 / i2**2) / zones,
        "LowGrayLevelZoneEmphasis": np.sum(pg / i**2) / zones,
        "SizeZoneNonUniformity": np.sum(ps**2) / zones,
        "SizeZoneNonUniformityNormalized": np.sum(ps**2) / zones**2,
        "SmallAreaEmphasis": np.sum(ps / j**2) / zones,
        "SmallAreaHighGrayLevelEmphasis": np.sum(p * i2**2 / j2**2) / zones,
        "SmallAreaLowGrayLevelEmphasis": np.sum(p / (i2**2 * j2**2)) / zones,
        "ZoneEntropy": -np.sum(p_n * np.log2(p_n + _EPS)),
        "ZonePercentage": zones / voxels,
        "ZoneVariance": np.sum(ps_n * (j - u_j) ** 2),
    }
    return np.array([features[name] for name in _NAMES["glszm"]])
