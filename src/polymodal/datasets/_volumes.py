"""CT volumes of the built-in cohort: a cube of lung around one nodule, and its mask.

Each volume is a 96 mm cube of lung parenchyma around the patient's index
nodule, as nodule-analysis studies crop it from a chest CT: a chest wall with a
rib on one side, a few vessels, a small calcified granuloma and the nodule,
whose size, density, margin and internal texture follow the CT risk. The mask
marks the nodule. Everything is drawn in millimetres before any voxel grid
exists, so the image size changes only the resolution and the voxel noise.
"""

import hashlib

import numpy as np
from scipy.special import expit

from ..utils._optional import import_optional

# Field of view in mm (z, y, x); the depth has three quarters of the in-plane
# voxel count, so slices are thicker than pixels are wide, as in clinical CT.
FIELD_OF_VIEW_MM = 96.0
DEPTH_FRACTION = 0.75
# Position of the volume's centre in the patient (LPS, mm): the right lung.
CENTRE_LPS = (-90.0, 20.0, -150.0)

_HU_SOFT_TISSUE = 40.0
_HU_BONE = 700.0
_HU_CALCIFIED = 600.0
_HU_STORED_MIN, _HU_STORED_MAX = -1024.0, 3071.0
_LUNG_HU, _LUNG_SPREAD_HU = -850.0, 15.0
_NOISE_HU = 25.0

# The nodule. Its mean radius is _NODULE_RADIUS_MM * exp(_NODULE_SIZE_SLOPE *
# risk); its solidity (0 ground glass, 1 soft tissue) expit(1 + risk); the
# amplitude of its lobulated margin _LOBULATION * expit(2 * risk); the standard
# deviation of its internal texture (necrosis, air bronchograms)
# _TEXTURE_BASE_HU + _TEXTURE_SLOPE_HU * expit(2 * risk). The risk is clipped to
# [-2, 2], so that the nodule stays inside the cube.
_NODULE_RADIUS_MM = 8.5
_NODULE_SIZE_SLOPE = 0.3
_LOBULATION = 0.3
_TEXTURE_BASE_HU = 10.0
_TEXTURE_SLOPE_HU = 60.0
_TEXTURE_WAVELENGTH_MM = 8.0
_TEXTURE_WAVES = 12
_EDGE_MM = 1.0
_NODULE_CENTRE_RANGE_MM = 12.0


def volume_geometry(image_size):
    """Shape (D, H, W) and spacing (dz, dy, dx) in mm of the volumes."""
    depth = max(2, round(DEPTH_FRACTION * image_size))
    shape = (depth, image_size, image_size)
    spacing = tuple(FIELD_OF_VIEW_MM / n for n in shape)
    return shape, spacing


def volume_origin(image_size):
    """LPS position (x, y, z) of the centre of the first voxel, in mm."""
    _, (dz, dy, dx) = volume_geometry(image_size)
    half = FIELD_OF_VIEW_MM / 2.0
    cx, cy, cz = CENTRE_LPS
    # Rounded as DICOM's decimal strings store them, so that the series and
    # the NIfTI files share one origin.
    return tuple(
        round(value, 4)
        for value in (cx - half + dx / 2.0, cy - half + dy / 2.0, cz - half + dz / 2.0)
    )


def ct_volumes(risk, image_size, seeds):
    """Yield ``(volume, mask)`` per patient: HU float32 (D, H, W) and a bool mask.

    Each patient's draws come from its own seed, so that a patient's volume does
    not depend on which other patients are generated.
    """
    shape, spacing = volume_geometry(image_size)
    # Voxel centres in mm from the centre of the cube, indexed [z, y, x].
    axes = [
        (np.arange(n) + 0.5) * step - FIELD_OF_VIEW_MM / 2.0
        for n, step in zip(shape, spacing)
    ]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    for patient_risk, seed in zip(np.clip(risk, -2.0, 2.0), seeds):
        rng = np.random.RandomState(seed)
        anatomy = _draw_anatomy(patient_risk, rng)
        volume, mask = _render(anatomy, grid)
        # The voxel noise is the last draw, so that everything else is the same
        # whatever the image size.
        volume += rng.normal(0.0, _NOISE_HU, size=volume.shape)
        np.clip(volume, _HU_STORED_MIN, _HU_STORED_MAX, out=volume)
        yield np.round(volume).astype(np.float32), mask


def _random_unit_vectors(rng, n):
    vectors = rng.normal(size=(n, 3))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _draw_anatomy(risk, rng):
    """Every random quantity of one patient's cube, in mm and HU."""
    half = FIELD_OF_VIEW_MM / 2.0
    anatomy = {
        "lung_hu": _LUNG_HU + rng.normal(0.0, _LUNG_SPREAD_HU),
        # The chest wall on one side of the cube, in the axial plane: its axis
        # (y or x) and sign, and the depth of its inner surface from the centre.
        "wall_axis": rng.randint(1, 3),
        "wall_sign": rng.choice((-1.0, 1.0)),
        "wall_depth": rng.uniform(36.0, 42.0),
        "rib_z": rng.uniform(-half + 10.0, half - 10.0),
        "rib_radius": rng.uniform(4.0, 6.0),
    }
    # The nodule: an ellipsoid of random axes with a lobulated margin.
    radius = (
        _NODULE_RADIUS_MM * np.exp(_NODULE_SIZE_SLOPE * risk) * rng.uniform(0.85, 1.15)
    )
    anatomy["nodule_centre"] = rng.uniform(
        -_NODULE_CENTRE_RANGE_MM, _NODULE_CENTRE_RANGE_MM, size=3
    )
    anatomy["nodule_axes"] = radius * rng.uniform(0.85, 1.15, size=3)
    anatomy["lobe_directions"] = _random_unit_vectors(rng, 3)
    anatomy["lobe_orders"] = rng.randint(3, 6, size=3)
    anatomy["lobe_phases"] = rng.uniform(0.0, 2.0 * np.pi, size=3)
    anatomy["lobulation"] = _LOBULATION * expit(2.0 * risk)
    anatomy["solidity"] = expit(1.0 + risk) * rng.uniform(0.8, 1.0)
    anatomy["texture_hu"] = _TEXTURE_BASE_HU + _TEXTURE_SLOPE_HU * expit(2.0 * risk)
    wave_numbers = (
        2.0
        * np.pi
        / _TEXTURE_WAVELENGTH_MM
        * rng.uniform(0.7, 1.4, size=(_TEXTURE_WAVES, 1))
    )
    anatomy["texture_waves"] = wave_numbers * _random_unit_vectors(rng, _TEXTURE_WAVES)
    anatomy["texture_phases"] = rng.uniform(0.0, 2.0 * np.pi, size=_TEXTURE_WAVES)
    # Vessels: straight tubes of soft tissue through random points of the cube.
    n_vessels = rng.randint(2, 5)
    anatomy["vessel_points"] = rng.uniform(-half, half, size=(n_vessels, 3))
    anatomy["vessel_directions"] = _random_unit_vectors(rng, n_vessels)
    anatomy["vessel_radii"] = rng.uniform(1.0, 2.5, size=n_vessels)
    # A calcified granuloma, unrelated to the risk, away from the nodule.
    offset = _random_unit_vectors(rng, 1)[0] * rng.uniform(radius * 1.5 + 8.0, 30.0)
    anatomy["granuloma_centre"] = anatomy["nodule_centre"] + offset
    anatomy["granuloma_radius"] = rng.uniform(2.0, 3.5)
    return anatomy


def _render(anatomy, grid):
    """The volume in HU (before noise) and the nodule's mask, on the grid (mm)."""
    # Chest wall: soft tissue beyond a slightly curved inner surface, with one
    # rib running through it.
    axis, sign = anatomy["wall_axis"], anatomy["wall_sign"]
    across = grid[..., 3 - axis]  # the other in-plane axis (x for y, y for x)
    depth = sign * grid[..., axis] + across**2 / 300.0
    wall = depth > anatomy["wall_depth"]
    volume = np.where(wall, _HU_SOFT_TISSUE, anatomy["lung_hu"])
    rib_distance = np.hypot(
        grid[..., 0] - anatomy["rib_z"], depth - anatomy["wall_depth"] - 8.0
    )
    rib = expit((anatomy["rib_radius"] - rib_distance) / 0.5)
    volume += (_HU_BONE - volume) * rib
    lung = ~wall

    # Vessels, each a Gaussian tube profile.
    vessels = np.zeros(grid.shape[:-1])
    for point, direction, radius in zip(
        anatomy["vessel_points"],
        anatomy["vessel_directions"],
        anatomy["vessel_radii"],
    ):
        relative = grid - point
        along = relative @ direction
        distance2 = np.sum(relative**2, axis=-1) - along**2
        np.maximum(vessels, np.exp(-distance2 / (2.0 * radius**2)), out=vessels)

    # The nodule: normalised radius rho <= 1 + lobulation * f(direction).
    relative = grid - anatomy["nodule_centre"]
    scaled = relative / anatomy["nodule_axes"]
    rho = np.linalg.norm(scaled, axis=-1)
    direction = (
        relative / np.maximum(np.linalg.norm(relative, axis=-1), 1e-9)[..., None]
    )
    cosines = np.clip(direction @ anatomy["lobe_directions"].T, -1.0, 1.0)
    lobes = np.mean(
        np.cos(anatomy["lobe_orders"] * np.arccos(cosines) + anatomy["lobe_phases"]),
        axis=-1,
    )
    boundary = 1.0 + anatomy["lobulation"] * lobes
    mean_radius = float(np.mean(anatomy["nodule_axes"]))
    # Signed distance to the margin, roughly in mm, softened over _EDGE_MM.
    inside_mm = (boundary - rho) * mean_radius
    nodule = expit(inside_mm / (_EDGE_MM / 4.0)) * lung
    mask = (inside_mm >= 0.0) & lung
    # A nodule smaller than a voxel still marks the voxel that holds its centre.
    centre_voxel = np.unravel_index(np.argmin(np.sum(relative**2, axis=-1)), rho.shape)
    mask[centre_voxel] = lung[centre_voxel]
    texture = np.sqrt(2.0 / _TEXTURE_WAVES) * np.sum(
        np.cos(grid @ anatomy["texture_waves"].T + anatomy["texture_phases"]),
        axis=-1,
    )
    nodule_hu = (
        anatomy["lung_hu"]
        + (_HU_SOFT_TISSUE - anatomy["lung_hu"]) * anatomy["solidity"]
        + anatomy["texture_hu"] * texture
    )

    granuloma_distance = np.linalg.norm(grid - anatomy["granuloma_centre"], axis=-1)
    granuloma = expit((anatomy["granuloma_radius"] - granuloma_distance) / 0.5) * lung

    # Vessels run around the nodule, not through it.
    volume += (_HU_SOFT_TISSUE - volume) * vessels * lung * (1.0 - nodule)
    volume += (nodule_hu - volume) * nodule
    volume += (_HU_CALCIFIED - volume) * granuloma
    return volume, mask


def write_volume(volume, mask, patient_id, folder, image_format, image_size):
    """Write one patient's volume and mask into ``folder``; return both paths.

    ``"dicom-series"`` writes the folder ``ct`` of one CT slice file per z;
    ``"nifti"`` writes ``ct.nii.gz``. The mask is ``lesion.nii.gz`` in both.
    """
    nibabel = import_optional(
        "nibabel", extra="image", needed_for="Writing NIfTI volumes"
    )
    folder.mkdir(parents=True, exist_ok=True)
    _, spacing = volume_geometry(image_size)
    origin = volume_origin(image_size)
    affine = _ras_affine(spacing, origin)
    if image_format == "dicom-series":
        image_path = folder / "ct"
        _write_series(volume, patient_id, image_path, spacing, origin)
    else:
        image_path = folder / "ct.nii.gz"
        image = nibabel.Nifti1Image(_xyz(volume).astype(np.int16), affine)
        image.header.set_xyzt_units("mm")
        nibabel.save(image, image_path)
    mask_path = folder / "lesion.nii.gz"
    mask_image = nibabel.Nifti1Image(_xyz(mask).astype(np.uint8), affine)
    mask_image.header.set_xyzt_units("mm")
    nibabel.save(mask_image, mask_path)
    return str(image_path), str(mask_path)


def _xyz(zyx):
    """NIfTI stores voxel axes x, y, z: the [z, y, x] array transposed."""
    return np.ascontiguousarray(np.transpose(zyx, (2, 1, 0)))


def _ras_affine(spacing, origin):
    """Voxel (x, y, z) to RAS mm: LPS with axis-aligned voxels, x and y negated."""
    dz, dy, dx = spacing
    lps = np.diag([dx, dy, dz, 1.0])
    lps[:3, 3] = origin
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def ct_dataset(path, hu, *, patient_id, instance_uid, study_uid, series_uid):
    """A CT image of one slice in HU, stored as ``HU + 1024`` in uint16.

    The file meta, identifiers and pixel module that every CT file of the
    built-in cohort carries; the caller adds geometry and writes it.
    """
    from pydicom.dataset import FileDataset, FileMetaDataset, validate_file_meta
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    validate_file_meta(meta, enforce_standard=True)
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = instance_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.Modality = "CT"
    ds.PatientID = patient_id
    ds.PatientName = patient_id
    ds.Rows, ds.Columns = hu.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = _HU_STORED_MIN
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    ds.PixelData = np.round(hu - _HU_STORED_MIN).astype("<u2").tobytes()
    return ds


def _write_series(volume, patient_id, folder, spacing, origin):
    """Write one axial CT slice file per z, storing HU + 1024 as uint16."""
    pydicom = import_optional(
        "pydicom", extra="image", needed_for="Writing DICOM series"
    )
    from pydicom.uid import generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    dz, dy, dx = spacing
    # UIDs derived from the patient and the voxels keep the files reproducible.
    entropy = [patient_id, hashlib.sha256(volume.tobytes()).hexdigest()]
    study_uid = generate_uid(entropy_srcs=[*entropy, "study"])
    series_uid = generate_uid(entropy_srcs=[*entropy, "series"])
    frame_uid = generate_uid(entropy_srcs=[*entropy, "frame"])
    for k, hu in enumerate(volume):
        path = folder / f"CT{k + 1:04d}.dcm"
        ds = ct_dataset(
            path,
            hu,
            patient_id=patient_id,
            instance_uid=generate_uid(entropy_srcs=[*entropy, "slice", str(k)]),
            study_uid=study_uid,
            series_uid=series_uid,
        )
        ds.FrameOfReferenceUID = frame_uid
        ds.SeriesNumber = 1
        ds.InstanceNumber = k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.PatientPosition = "FFS"
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        position = (origin[0], origin[1], origin[2] + k * dz)
        ds.ImagePositionPatient = [round(value, 4) for value in position]
        ds.SliceLocation = round(position[2], 4)
        ds.PixelSpacing = [round(dy, 6), round(dx, 6)]
        ds.SliceThickness = round(dz, 6)
        ds.SpacingBetweenSlices = round(dz, 6)
        ds.WindowCenter, ds.WindowWidth = -600, 1500
        # pydicom 2.4 and 3 both take the encoding from the transfer syntax.
        pydicom.dcmwrite(path, ds)
