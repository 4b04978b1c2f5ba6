"""The built-in synthetic cohort: CT images, clinical notes, DNA and clinical values."""

import numbers
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.utils import check_random_state

from ..utils._optional import import_optional
from ..utils._sklearn_compat import validate_params
from ._volumes import (
    _HU_STORED_MAX,
    _HU_STORED_MIN,
    ct_dataset,
    ct_volumes,
    write_volume,
)

_COLUMNS = ("patient_id", "ct", "note", "dna", "age", "sex", "pack_years")
# With volumes, the lesion mask of each CT volume follows the CT column.
_VOLUME_COLUMNS = ("patient_id", "ct", "lesion", "note", "dna", "age", "sex",
                   "pack_years")  # fmt: skip
_CLINICAL_COLUMNS = ("age", "sex", "pack_years")
# The four modalities and the columns that hold them; a row keeps at least one.
_MODALITY_COLUMNS = {
    "ct": ("ct",),
    "note": ("note",),
    "dna": ("dna",),
    "clinical": _CLINICAL_COLUMNS,
}
# Fixed order in which missingness is drawn, so that the rows a key removes do not
# depend on which other keys the caller passed or on their order in the dict.
_MISSING_KEYS = ("ct", "note", "dna", "age", "sex", "pack_years", "clinical")
_LANGUAGES = ("en", "zh")
_IMAGE_FORMATS = ("png", "dicom", "nifti")
_VOLUME_FORMATS = ("dicom-series", "nifti")
_FILE_SUFFIXES = {"png": ".png", "dicom": ".dcm", "nifti": ".nii.gz"}
_IMAGE_LIBRARIES = {
    "png": ("PIL.Image", "Pillow"),
    "dicom": ("pydicom", "pydicom"),
    "nifti": ("nibabel", "nibabel"),
}

# Label model. Each modality has one latent risk z: a random sign (+1 or -1, even
# odds) plus, for CT and the clinical values, standard normal noise. The note and
# DNA risks are thus binary (a cancer-like presentation or not, a risk genotype or
# not) and the CT and clinical risks continuous. The diagnosis is drawn with
# logit _LOGIT_SCALE * sum(weight * z). The weights and kinds of risk were tuned
# with benchmarks/cohort_calibration.py so that no modality alone is a good
# predictor while a random forest on all four is.
_LATENT_RISKS = {
    # modality: (weight in the logit, standard deviation of the normal noise)
    "ct": (0.65, 1.0),
    "note": (1.0, 0.0),
    "dna": (1.0, 0.0),
    "clinical": (0.85, 1.0),
}
_LOGIT_SCALE = 6.0

# CT: Hounsfield units of the tissues, and the lung window of the PNG files.
_HU_AIR = -1000.0
_HU_LUNG = -850.0
_HU_SOFT_TISSUE = 40.0
_PNG_WINDOW = (-1000.0, 400.0)
_CT_NOISE_HU = 25.0


@validate_params(
    {
        # n_samples, language, missing, image_size and image_format are
        # checked in the body, whose messages say what each must be.
        "n_samples": "no_validation",
        "language": "no_validation",
        "missing": "no_validation",
        "image_size": "no_validation",
        "as_files": [str, os.PathLike, None],
        "image_format": "no_validation",
        "volumes": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_patients(
    n_samples=600,
    *,
    language="en",
    missing=None,
    image_size=32,
    as_files=None,
    image_format=None,
    volumes=False,
    random_state=None,
):
    r"""Generate a synthetic lung-cancer cohort with four modalities.

    Every value is simulated: no real patient is behind any row. The cohort
    follows the diagnosis job — a chest CT slice, a clinical note, a tumour DNA
    sequence and three clinical values per patient, and a binary diagnosis — and
    is built so that no modality alone predicts the diagnosis well while their
    combination does (see Notes for the measured numbers).

    Parameters
    ----------
    n_samples : int, default=600
        Number of patients (rows).
    language : {"en", "zh"}, default="en"
        Language of the clinical notes: English, or Chinese written in Chinese
        characters. Everything else, including what each note says, is the same
        in both languages.
    missing : dict or None, default=None
        Rates at which cells are removed, as ``{key: rate}`` with ``rate`` in
        ``[0, 1]``. Keys: ``"ct"``, ``"note"``, ``"dna"``, ``"age"``, ``"sex"``,
        ``"pack_years"``, and ``"clinical"``, which removes age, sex and
        pack-years together from the same rows. A row never loses every
        modality: where the draws would remove the CT, the note, the sequence and
        all three clinical values of one row, one of these four modalities,
        picked at random, is kept whole. Observed rates are therefore slightly
        below the requested ones when several rates are high. The cells that
        remain are the same as with ``missing=None``.
    image_size : int, default=32
        Side of the square CT images, in pixels; at least 8. It changes only the
        resolution and the pixel noise: each patient's anatomy and lesions, and
        every other column, stay the same. Volumes have ``image_size`` rows and
        columns and ``round(0.75 * image_size)`` slices over a 96 mm cube: at
        the default, 24 x 32 x 32 voxels of 4 x 3 x 3 mm (z, y, x).
    as_files : str, path-like or None, default=None
        If given, a directory (created if needed) into which the CT images are
        written, one file per present image, named ``<patient_id>.png``,
        ``<patient_id>.dcm`` or ``<patient_id>.nii.gz``; the ``ct`` column then
        holds each file's path (the directory joined with the file name)
        instead of the array. With ``volumes=True`` (which needs it), each
        present patient gets a folder ``<patient_id>/`` holding the volume
        (``ct/``, a DICOM series, or ``ct.nii.gz``) and its lesion mask
        ``lesion.nii.gz``. The table itself is not written. Writing files
        needs the ``image`` extra.
    image_format : {"png", "dicom", "nifti", "dicom-series"}, default=None
        File format when ``as_files`` is given; None is ``"png"`` for images
        and ``"nifti"`` for volumes. Images: a PNG file is the 8-bit grayscale
        lung-window rendering ``255 * (HU + 1000) / 1400``, rounded and clipped to
        0..255. A DICOM file is a CT image storing ``HU + 1024`` as unsigned
        16-bit integers with ``RescaleSlope = 1`` and ``RescaleIntercept =
        -1024``, so readers that apply the rescale get the HU back, rounded to
        whole units. A NIfTI file is a one-slice volume of shape
        ``(image_size, image_size, 1)`` holding the HU as float32, with an
        identity affine. Volumes (``volumes=True``): ``"dicom-series"`` writes
        one axial CT slice file per z into the folder ``ct/`` (one
        SeriesInstanceUID, ImagePositionPatient and ImageOrientationPatient
        ``[1, 0, 0, 0, 1, 0]``, PixelSpacing, SliceThickness and
        SpacingBetweenSlices, ``HU + 1024`` stored as unsigned 16-bit integers
        with ``RescaleSlope = 1`` and ``RescaleIntercept = -1024``);
        ``"nifti"`` writes ``ct.nii.gz``, the HU as int16 with the affine of
        the same geometry. The mask ``lesion.nii.gz`` (uint8, 1 in the lesion)
        has that geometry in both formats, so
        ``ImageLoader(volume=True)`` reads image and mask as one pair.
    volumes : bool, default=False
        Generate 3-D CT volumes with a lesion mask instead of 2-D slices, and
        write them into ``as_files`` (see Notes). The table gains a
        ``lesion`` column after ``ct``. Every other column is the same as
        with ``volumes=False``.
    random_state : int, RandomState instance or None, default=None
        Seed of every random draw, missingness included: the same seed gives the
        same table, arrays and strings.

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, 7), or (n_samples, 8) with volumes
        One row per patient, with the columns

        - ``patient_id``: ``"P0001"``, ``"P0002"``, ... (object dtype);
        - ``ct``: a 2-D float64 array of shape (image_size, image_size) in
          Hounsfield units (HU): air -1000, lung about -850, soft tissue and
          tumours about +40, calcified nodules up to about +600; or a file path
          when ``as_files`` is given (object dtype);
        - ``lesion`` (only with ``volumes=True``): the path of the lesion mask
          of the ``ct`` volume (object dtype);
        - ``note``: a clinical note, a str (object dtype);
        - ``dna``: a DNA read of 120 to 200 bases over ``ACGT``, now and then
          with one ambiguous base ``N``, a str (object dtype);
        - ``age``: age in years (float64);
        - ``sex``: ``"F"`` or ``"M"`` (object dtype);
        - ``pack_years``: cumulative smoking, 0 for never-smokers (float64).

        A missing cell is ``None`` in an object column and ``NaN`` in a float
        column. Object dtype keeps ``None`` as is on every pandas version.
    y : pandas.Series of shape (n_samples,)
        The diagnosis, named ``"diagnosis"``: 1 for cancer, 0 otherwise (int64).
        About half of the patients are positive.

    Notes
    -----
    **Latent risks and diagnosis.** Each patient has four independent latent
    risks, one per modality. Each starts from a random sign :math:`s = \pm 1`;
    the note and DNA risks are that sign (a patient presents like a cancer
    patient or not, carries the risk genotype or not), the CT and clinical risks
    add standard normal noise, :math:`z = s + \varepsilon`. The diagnosis is
    drawn as

    .. math::

        y \sim \mathrm{Bernoulli}\left(\sigma\left(6\,(0.65\,z_{ct} + z_{note}
        + z_{dna} + 0.85\,z_{clin})\right)\right),

    where :math:`\sigma` is the logistic function. Each modality is generated
    from its own risk alone:

    - **ct**: an axial chest slice, an elliptical body of soft tissue (+40 HU)
      around two lungs whose size and position vary between patients. The lung
      parenchyma has :math:`-850 + 50\,z_{ct}` HU (ground glass as the risk
      grows; :math:`z_{ct}` is clipped to [-2, 2] for the whole image) plus a
      patient-level spread of 10 HU. Tumours, Poisson in number with mean
      :math:`\exp(0.3 + 0.8\,z_{ct})`, are Gaussian opacities of soft-tissue
      density in the upper half of the lungs, whose width and solidity grow with
      the risk; one or two small calcified nodules (+600 HU) unrelated to the
      risk lie anywhere in the lungs. Pixel noise of 25 HU is added last.
    - **note**: a review of six symptoms in a fixed order, each asserted or
      negated, then a distractor (fever) in half of the notes, and now and then
      a neutral closing sentence ("No known drug allergies.", "两周后复诊。").
      The three cancer symptoms (cough, haemoptysis, weight loss) are asserted
      with probability :math:`\sigma(6\,(z_{note} - t))` and the three symptoms
      of benign alternatives (wheeze, heartburn, sore throat) with probability
      :math:`\sigma(6\,(-z_{note} - t))`, with thresholds
      :math:`t \in \{-0.3, 0, 0.3\}`; fever is asserted with probability 0.3.
      Each symptom has one asserting and one negating phrase ("Reports cough
      for three weeks." / "No cough.", "Complains of haemoptysis." / "Denies
      haemoptysis."; "咳嗽三周" / "无咳嗽", "咯血" / "否认咯血"), and the
      cancer and benign symptoms use the same cues and durations equally
      often, so counting single words or characters says little; the signal
      lies in which symptom a cue goes with, which word bigrams (or character
      bigrams in Chinese) capture.
    - **dna**: reads of one made-up region: a 50-base and a 40-base conserved
      flank around a variable region of ``CA`` repeats in which copies of
      short motifs sit, each between repeats. ``TATAAT`` has a binomial number
      of copies out of 6 trials with probability :math:`\sigma(2.5\,z_{dna})`,
      ``GGCGCC`` with probability :math:`\sigma(-2.5\,z_{dna})`, and the decoy
      ``GAATTC``, unrelated to the label, with probability 0.1. Repeats fill
      the read to a length drawn uniformly from 120 to 200 bases (a read with
      many copies can come out longer); 3 % of the reads have one base replaced
      by ``N``. Counting 4-mers sees each 6-base motif as three overlapping
      4-mers plus the 4-mers that join it to the repeats.
    - **clinical**: ``age`` is :math:`64 + 5\,z_{clin}` years plus normal noise
      of standard deviation 2, clipped to [30, 95]; a patient is male with
      probability :math:`\sigma(1.5\,z_{clin})`; a patient has ever smoked with
      probability :math:`\sigma(0.5 + 2\,z_{clin})`, and then has pack-years
      drawn from a gamma distribution with shape 3 and scale
      :math:`\exp(2 + 0.5\,z_{clin})` (:math:`z_{clin}` clipped to [-2, 2]).

    The weights and the kinds of risk were tuned so that a random forest on the
    concatenated features recovers the diagnosis: its many sparse note and DNA
    features suit binary risks, its few dense CT and clinical features suit
    continuous ones.

    **Measured difficulty.** With ``n_samples=600, random_state=0`` and no
    missing values, ``RandomForestClassifier(random_state=0)`` in stratified
    5-fold cross-validation (shuffled, ``random_state=0``) reaches these AUROC
    (``benchmarks/cohort_calibration.py``; notes as word n-grams in English and
    character n-grams in Chinese, TF-IDF with ``min_df=2``):

    ==============================================  =====  =====
    features                                        en     zh
    ==============================================  =====  =====
    ct: 8 x 8 downsampled pixels, then PCA(10)      0.647  0.647
    note: TF-IDF of 1-2 word / 1-3 character grams  0.733  0.729
    note: TF-IDF of single words / characters       0.551  0.549
    dna: 4-mer counts                               0.652  0.652
    clinical: age, pack-years, one-hot sex          0.642  0.642
    all four concatenated (early fusion)            0.923  0.920
    ==============================================  =====  =====

    No modality alone reaches 0.80 while early fusion exceeds 0.90; with seeds 1
    to 4 early fusion ranges from about 0.90 to 0.92.

    **CT volumes.** With ``volumes=True`` each patient's CT is a 96 mm cube of
    the right lung around one nodule, as a nodule-analysis study crops it
    from a chest CT: lung parenchyma of about -850 HU, a chest wall of soft
    tissue with a rib (+700 HU) on one side, two to four vessels (soft-tissue
    tubes 1 to 2.5 mm in radius), a calcified granuloma (+600 HU) and the
    nodule, with voxel noise of 25 HU. The nodule alone carries the CT risk
    (clipped to [-2, 2]): an ellipsoid of mean radius
    :math:`8.5\,e^{0.3\,z_{ct}}` mm (times a uniform factor in [0.85, 1.15],
    about 5 to 16 mm), whose margin is lobulated with amplitude
    :math:`0.3\,\sigma(2\,z_{ct})`, whose density runs from ground glass to
    soft tissue with solidity :math:`\sigma(1 + z_{ct})` (as the 2-D
    tumours), and whose internal texture, a sum of random waves of about
    8 mm, has a standard deviation of :math:`10 + 60\,\sigma(2\,z_{ct})` HU.
    The mask holds the voxels inside the nodule's margin (at least the voxel
    of its centre). Each patient's volume is drawn from its own seed, so it
    does not depend on ``missing`` or on the other patients.

    Measured the same way (``n_samples=600, random_state=0``, English, NIfTI
    volumes), with the CT modality read as in
    ``make_patients_union(volumes=True)``, the shape, first-order and GLCM
    radiomics of the lesion inside its mask on 3 mm isotropic voxels:

    ==============================================  =====
    features                                        en
    ==============================================  =====
    ct: radiomics inside the lesion mask (3-D)      0.660
    note: TF-IDF of 1-2 word grams                  0.733
    dna: 4-mer counts                               0.652
    clinical: age, pack-years, one-hot sex          0.642
    all four concatenated (early fusion)            0.938
    ==============================================  =====

    CT alone stays below 0.80 (a perfect reading of :math:`z_{ct}` would give
    about 0.70) while early fusion exceeds 0.88.

    Examples
    --------
    >>> from polymodal.datasets import make_patients
    >>> X, y = make_patients(n_samples=20, random_state=0)
    >>> X.shape
    (20, 7)
    >>> list(X.columns)
    ['patient_id', 'ct', 'note', 'dna', 'age', 'sex', 'pack_years']
    >>> X["ct"][0].shape
    (32, 32)
    >>> X["note"][0]
    'Reports cough for three weeks. No wheeze. Complains of haemoptysis. Denies
    heartburn. Reports weight loss. No sore throat.'
    >>> y.name
    'diagnosis'
    >>> X, y = make_patients(200, missing={"note": 0.3}, random_state=0)
    >>> round(float(X["note"].isna().mean()), 2)
    0.26

    CT volumes and lesion masks, written as DICOM series or NIfTI files:

    >>> import tempfile
    >>> from polymodal.image import ImageLoader
    >>> tmp = tempfile.TemporaryDirectory()
    >>> folder = tmp.name
    >>> X, y = make_patients(
    ...     4, volumes=True, as_files=folder, image_format="dicom-series",
    ...     random_state=0,
    ... )
    >>> list(X.columns[:3])
    ['patient_id', 'ct', 'lesion']
    >>> block = ImageLoader(volume=True).fit_transform(X[["ct", "lesion"]])
    >>> block.shape  # image and mask channels, 24 slices of 32 x 32
    (4, 2, 24, 32, 32)
    >>> block = ImageLoader(volume=True, spacing=4.0).fit_transform(
    ...     X[["ct", "lesion"]]
    ... )
    >>> block.shape  # resampled to 4 mm voxels
    (4, 2, 24, 24, 24)
    """
    n_samples = _check_n_samples(n_samples)
    if language not in _LANGUAGES:
        raise ValueError(f"language must be one of {_LANGUAGES}; got {language!r}.")
    image_format = _check_image_format(image_format, volumes)
    if volumes and as_files is None:
        raise ValueError(
            "volumes=True writes files: pass as_files, the directory to write the "
            "volumes and masks into."
        )
    image_size = _check_image_size(image_size)
    missing_rates = _check_missing(missing)

    rng = check_random_state(random_state)
    # One independent stream per part of the cohort: a patient's label, note
    # content, sequence and clinical values do not change with image_size or
    # language, and the missingness draws do not change the present values.
    streams = {
        name: np.random.RandomState(seed)
        for name, seed in zip(
            ("label", "ct", "note", "dna", "clinical", "missing"),
            rng.randint(np.iinfo(np.int32).max, size=6),
        )
    }

    latent = _draw_latent_risks(n_samples, streams["label"])
    weights = np.array([weight for weight, _ in _LATENT_RISKS.values()])
    probability = expit(_LOGIT_SCALE * latent @ weights)
    diagnosis = (streams["label"].random_sample(n_samples) < probability).astype(
        np.int64
    )
    risk = dict(zip(_LATENT_RISKS, latent.T))

    width = max(4, len(str(n_samples)))
    patient_ids = [f"P{index:0{width}d}" for index in range(1, n_samples + 1)]
    columns = {
        "patient_id": patient_ids,
        # Volumes are drawn after the missing cells, from one seed per patient,
        # so that absent volumes are never generated.
        "ct": (
            list(streams["ct"].randint(np.iinfo(np.int32).max, size=n_samples))
            if volumes
            else _ct_images(risk["ct"], image_size, streams["ct"])
        ),
        "note": _notes(risk["note"], language, streams["note"]),
        "dna": _sequences(risk["dna"], streams["dna"]),
        **_clinical_values(risk["clinical"], streams["clinical"]),
    }

    absent = _draw_absent_cells(n_samples, missing_rates, streams["missing"])
    for column, rows in absent.items():
        blank = np.nan if column in ("age", "pack_years") else None
        for row in np.flatnonzero(rows):
            columns[column][row] = blank

    if volumes:
        columns["ct"], columns["lesion"] = _write_volumes(
            risk["ct"], columns["ct"], patient_ids, Path(as_files), image_format,
            image_size,
        )  # fmt: skip
    elif as_files is not None:
        columns["ct"] = _write_images(
            columns["ct"], patient_ids, Path(as_files), image_format
        )

    table = pd.DataFrame(
        {
            column: pd.Series(
                columns[column],
                dtype=np.float64 if column in ("age", "pack_years") else object,
            )
            for column in (_VOLUME_COLUMNS if volumes else _COLUMNS)
        }
    )
    return table, pd.Series(diagnosis, name="diagnosis")


def _draw_latent_risks(n_samples, rng):
    """Latent risks of shape (n_samples, 4), columns in the order of _LATENT_RISKS."""
    shape = (n_samples, len(_LATENT_RISKS))
    noise_scale = np.array([scale for _, scale in _LATENT_RISKS.values()])
    signs = 2.0 * rng.randint(2, size=shape) - 1.0
    return signs + noise_scale * rng.standard_normal(shape)


def _check_n_samples(n_samples):
    if (
        not isinstance(n_samples, numbers.Integral)
        or isinstance(n_samples, bool)
        or n_samples < 1
    ):
        raise ValueError(f"n_samples must be an int >= 1; got {n_samples!r}.")
    return int(n_samples)


def _check_image_format(image_format, volumes):
    """The file format: the one given, or PNG for images and NIfTI for volumes."""
    formats = _VOLUME_FORMATS if volumes else _IMAGE_FORMATS
    if image_format is None:
        return formats[-1] if volumes else formats[0]
    if image_format not in formats:
        kind = "volumes=True" if volumes else "volumes=False"
        raise ValueError(
            f"image_format must be one of {formats} with {kind}; got {image_format!r}."
        )
    return image_format


def _check_image_size(image_size):
    # Below 8 pixels the lungs and lesions no longer fit in the slice.
    if (
        not isinstance(image_size, numbers.Integral)
        or isinstance(image_size, bool)
        or image_size < 8
    ):
        raise ValueError(f"image_size must be an int >= 8; got {image_size!r}.")
    return int(image_size)


def _check_missing(missing):
    """Return ``{key: rate}`` after checking every key and rate."""
    if missing is None:
        return {}
    if not isinstance(missing, Mapping):
        raise ValueError(
            "missing must be None or a dict {column: rate}; got "
            f"{type(missing).__name__}."
        )
    for key, rate in missing.items():
        if key not in _MISSING_KEYS:
            raise ValueError(
                f"missing has an unknown key {key!r}; the keys are {_MISSING_KEYS}."
            )
        if (
            not isinstance(rate, numbers.Real)
            or isinstance(rate, bool)
            or not 0.0 <= rate <= 1.0
        ):
            raise ValueError(
                f"missing[{key!r}] must be a rate in [0, 1]; got {rate!r}."
            )
    return dict(missing)


def _draw_absent_cells(n_samples, missing_rates, rng):
    """Return ``{column: bool array}``, True where the cell is removed.

    Every key draws its uniforms whether or not it was requested, so the rows
    removed for one key do not depend on the other keys.
    """
    uniforms = {key: rng.random_sample(n_samples) for key in _MISSING_KEYS}
    kept_modality = rng.randint(len(_MODALITY_COLUMNS), size=n_samples)

    absent = {column: np.zeros(n_samples, dtype=bool) for column in _COLUMNS[1:]}
    for key, rate in missing_rates.items():
        removed = uniforms[key] < rate
        for column in _MODALITY_COLUMNS.get(key, (key,)):
            absent[column] |= removed

    modality_absent = np.column_stack(
        [
            np.logical_and.reduce([absent[column] for column in columns])
            for columns in _MODALITY_COLUMNS.values()
        ]
    )
    for row in np.flatnonzero(modality_absent.all(axis=1)):
        modality = list(_MODALITY_COLUMNS)[kept_modality[row]]
        for column in _MODALITY_COLUMNS[modality]:
            absent[column][row] = False
    return absent


# CT tumours: a Poisson number with mean exp(_LESION_LOG_MEAN + _LESION_LOG_SLOPE *
# risk), each a Gaussian opacity of soft-tissue density whose width (on the
# [-1, 1] image scale) and solidity grow with the risk. Benign calcified nodules,
# one or two per patient, are small, dense and unrelated to the risk.
_LESION_LOG_MEAN = 0.3
_LESION_LOG_SLOPE = 0.8
_LESION_WIDTH = 0.07
_CALCIFIED_NODULE_HU = 600.0
_CALCIFIED_NODULE_WIDTH = 0.035
# Diffuse change of the lung parenchyma (ground-glass when positive), HU per unit
# of risk.
_PARENCHYMA_SLOPE_HU = 50.0
_PARENCHYMA_SPREAD_HU = 10.0


def _ct_images(risk, image_size, rng):
    """Chest CT slices in Hounsfield units whose lungs and lesions follow ``risk``."""
    # Pixel centres on [-1, 1] so that anatomy and lesions scale with image_size.
    coordinates = (np.arange(image_size) + 0.5) / image_size * 2.0 - 1.0
    rows, cols = np.meshgrid(coordinates, coordinates, indexing="ij")
    # Extreme risks would give implausible lungs and lesions.
    bounded_risk = np.clip(risk, -2.0, 2.0)
    images = np.empty((len(risk), image_size, image_size))
    for patient, patient_risk in enumerate(bounded_risk):
        body_width, body_height = rng.uniform(0.80, 0.95), rng.uniform(0.60, 0.75)
        lung_width, lung_height = rng.uniform(0.20, 0.30), rng.uniform(0.38, 0.52)
        lung_offset = rng.uniform(0.36, 0.44)
        image = np.full((image_size, image_size), _HU_AIR)
        image[(cols / body_width) ** 2 + (rows / body_height) ** 2 <= 1.0] = (
            _HU_SOFT_TISSUE
        )
        lungs = np.zeros_like(image, dtype=bool)
        for side in (-1.0, 1.0):
            lungs |= ((cols - side * lung_offset) / lung_width) ** 2 + (
                rows / lung_height
            ) ** 2 <= 1.0
        parenchyma_hu = (
            _HU_LUNG
            + _PARENCHYMA_SLOPE_HU * patient_risk
            + rng.normal(0.0, _PARENCHYMA_SPREAD_HU)
        )
        image[lungs] = parenchyma_hu

        n_lesions = rng.poisson(
            np.exp(_LESION_LOG_MEAN + _LESION_LOG_SLOPE * patient_risk)
        )
        n_calcified = rng.randint(1, 3)
        # Each pixel takes the density of its most opaque lesion, so that
        # overlapping lesions never exceed the density of the lesion tissue.
        lesion_opacity = np.zeros_like(image)
        calcified_opacity = np.zeros_like(image)
        for lesion in range(n_lesions + n_calcified):
            is_cancer = lesion < n_lesions
            if is_cancer:
                width = (
                    _LESION_WIDTH * np.exp(0.25 * patient_risk) * rng.uniform(0.7, 1.3)
                )
                solidity = expit(1.0 + patient_risk) * rng.uniform(0.8, 1.0)
            else:
                width, solidity = _CALCIFIED_NODULE_WIDTH, 1.0
            # A point drawn uniformly inside one lung, kept off its border;
            # cancers favour the upper lobes (the upper half of the slice).
            side = rng.choice((-1.0, 1.0))
            angle = rng.uniform(np.pi if is_cancer else 0.0, 2.0 * np.pi)
            radius = np.sqrt(rng.uniform())
            centre_col = side * lung_offset + 0.8 * radius * lung_width * np.cos(angle)
            centre_row = 0.8 * radius * lung_height * np.sin(angle)
            opacity = solidity * np.exp(
                -((cols - centre_col) ** 2 + (rows - centre_row) ** 2)
                / (2.0 * width**2)
            )
            target = lesion_opacity if is_cancer else calcified_opacity
            np.maximum(target, opacity * lungs, out=target)
        image += (_HU_SOFT_TISSUE - image) * lesion_opacity
        image += (_CALCIFIED_NODULE_HU - image) * calcified_opacity
        images[patient] = image
    # Noise comes last, so that every other draw, and thus each patient's anatomy
    # and lesions, is the same whatever the image size.
    images += rng.normal(0.0, _CT_NOISE_HU, size=images.shape)
    return list(np.clip(images, _HU_STORED_MIN, _HU_STORED_MAX))


# The symptoms a note reviews, in the order a note lists them: (kind, {language:
# (asserting phrase, negating phrase)}). English phrases are sentences, Chinese
# phrases are clauses joined with "，".
# - "cancer" symptoms are asserted more often as the note risk grows;
# - "benign" symptoms point to an alternative diagnosis (asthma, reflux, a cold)
#   and are asserted less often as the risk grows;
# - the "distractor" is asserted independently of the risk.
# Asserting and negating phrases differ by their cue only, and cancer and benign
# symptoms use each cue ("Reports", "Complains of", "No", "Denies"; 无, 否认)
# equally often, so counting cues or symptom words says little about the risk;
# which symptom a cue goes with says a lot.
_SYMPTOMS = (
    ("cancer", {"en": ("Reports cough for three weeks.", "No cough."),
                "zh": ("咳嗽三周", "无咳嗽")}),
    ("benign", {"en": ("Reports wheeze for three weeks.", "No wheeze."),
                "zh": ("喘息三周", "无喘息")}),
    ("cancer", {"en": ("Complains of haemoptysis.", "Denies haemoptysis."),
                "zh": ("咯血", "否认咯血")}),
    ("benign", {"en": ("Complains of heartburn.", "Denies heartburn."),
                "zh": ("反酸", "否认反酸")}),
    ("cancer", {"en": ("Reports weight loss.", "No weight loss."),
                "zh": ("体重下降", "无体重下降")}),
    ("benign", {"en": ("Reports a sore throat.", "No sore throat."),
                "zh": ("咽痛", "无咽痛")}),
    ("distractor", {"en": ("Reports fever.", "No fever."),
                    "zh": ("发热", "无发热")}),
)  # fmt: skip
# Neutral sentences that close a note, each present with _CLOSING_PROBABILITY.
_CLOSINGS = {
    "en": (
        "No known drug allergies.",
        "Denies recent travel.",
        "Follow-up in two weeks.",
    ),
    "zh": ("无药物过敏史。", "否认近期旅行。", "两周后复诊。"),
}
_CLOSING_PROBABILITY = 0.05
# Probability that a note mentions a symptom, by kind.
_MENTION_PROBABILITY = {"cancer": 1.0, "benign": 1.0, "distractor": 0.5}
# P(asserted) = expit(_ASSERTION_SLOPE * (±risk - threshold)); the thresholds of
# the symptoms of one kind are spread, so that the number asserted grades the risk.
_ASSERTION_SLOPE = 6.0
_ASSERTION_THRESHOLD_SPREAD = 0.3
_DISTRACTOR_ASSERTION_PROBABILITY = 0.3


def _assertion_probabilities(risk):
    """Probability that each patient asserts each symptom, shape (n, n_symptoms)."""
    kinds = np.array([kind for kind, _ in _SYMPTOMS])
    probabilities = np.full(
        (len(risk), len(_SYMPTOMS)), _DISTRACTOR_ASSERTION_PROBABILITY
    )
    for kind, direction in (("cancer", 1.0), ("benign", -1.0)):
        columns = np.flatnonzero(kinds == kind)
        thresholds = _ASSERTION_THRESHOLD_SPREAD * np.linspace(-1.0, 1.0, len(columns))
        probabilities[:, columns] = expit(
            _ASSERTION_SLOPE * (direction * risk[:, None] - thresholds)
        )
    return probabilities


def _notes(risk, language, rng):
    """Clinical notes whose symptom assertions follow ``risk``.

    Every random draw is made for both languages alike, so a patient's findings
    do not depend on ``language``.
    """
    n_samples, n_symptoms = len(risk), len(_SYMPTOMS)
    mention_probability = np.array(
        [_MENTION_PROBABILITY[kind] for kind, _ in _SYMPTOMS]
    )
    mentioned = rng.random_sample((n_samples, n_symptoms)) < mention_probability
    asserted = rng.random_sample((n_samples, n_symptoms)) < _assertion_probabilities(
        risk
    )
    closed = rng.random_sample((n_samples, len(_CLOSINGS["en"]))) < _CLOSING_PROBABILITY

    notes = []
    for row in range(n_samples):
        findings = [
            _SYMPTOMS[index][1][language][0 if asserted[row, index] else 1]
            for index in np.flatnonzero(mentioned[row])
        ]
        if language == "zh" and findings:
            # Chinese notes chain the findings into one sentence after "患者"
            # (the patient).
            findings = [f"患者{'，'.join(findings)}。"]
        closings = [_CLOSINGS[language][index] for index in np.flatnonzero(closed[row])]
        separator = " " if language == "en" else ""
        notes.append(separator.join([*findings, *closings]))
    return notes


# DNA: reads of one made-up gene region: two conserved flanks around a variable
# region of CA repeats interspersed with copies of short motifs. Read lengths vary
# with the number of repeats; now and then a base is ambiguous (N). The flanks
# contain none of the motifs.
_LEFT_FLANK = "ACATCAGCGAGCGATAGACGGATTCCTGAGCCCTTCGCCAACAACTTGCA"
_RIGHT_FLANK = "GTTGCCCTAACTAGAACTCGTAACTGTTGCAGCTTGTCAT"
_REPEAT_UNIT = "CA"
_DNA_LENGTH_RANGE = (120, 200)
# Motif copy numbers are binomial: _MAX_MOTIF_COPIES trials with success
# probability expit(±_MOTIF_SLOPE * risk), so the risk motif is more frequent and
# the protective one rarer as the risk grows. The decoy motif's copy number does
# not depend on the risk.
_RISK_MOTIF = "TATAAT"
_PROTECTIVE_MOTIF = "GGCGCC"
_DECOY_MOTIF = "GAATTC"
_MAX_MOTIF_COPIES = 6
_MOTIF_SLOPE = 2.5
_DECOY_PROBABILITY = 0.1
_AMBIGUOUS_FRACTION = 0.03


def _sequences(risk, rng):
    """DNA reads of one region whose motif counts follow ``risk``."""
    n_samples = len(risk)
    target_lengths = rng.randint(
        _DNA_LENGTH_RANGE[0], _DNA_LENGTH_RANGE[1] + 1, n_samples
    )
    motifs = (_RISK_MOTIF, _PROTECTIVE_MOTIF, _DECOY_MOTIF)
    copy_probabilities = np.column_stack(
        [
            expit(_MOTIF_SLOPE * risk),
            expit(-_MOTIF_SLOPE * risk),
            np.full(n_samples, _DECOY_PROBABILITY),
        ]
    )
    motif_counts = rng.binomial(_MAX_MOTIF_COPIES, copy_probabilities)
    flank_length = len(_LEFT_FLANK) + len(_RIGHT_FLANK)

    sequences = []
    for row in range(n_samples):
        planted = [
            motif
            for motif, count in zip(motifs, motif_counts[row])
            for _ in range(count)
        ]
        rng.shuffle(planted)
        # CA repeats fill the read up to its target length, at least one between
        # two motif copies and at either end, so that every copy sits between
        # repeats; a read with many copies comes out longer than its target.
        free_bases = target_lengths[row] - flank_length - sum(map(len, planted))
        n_repeats = max(len(planted) + 1, free_bases // len(_REPEAT_UNIT))
        # Split the repeats into len(planted) + 1 runs of at least one unit.
        cuts = np.sort(
            rng.choice(np.arange(1, n_repeats), size=len(planted), replace=False)
        )
        runs = np.diff(np.concatenate([[0], cuts, [n_repeats]]))
        variable_region = _REPEAT_UNIT * runs[0] + "".join(
            motif + _REPEAT_UNIT * run for motif, run in zip(planted, runs[1:])
        )
        bases = list(_LEFT_FLANK + variable_region + _RIGHT_FLANK)
        if rng.random_sample() < _AMBIGUOUS_FRACTION:
            bases[rng.randint(len(bases))] = "N"
        sequences.append("".join(bases))
    return sequences


def _clinical_values(risk, rng):
    """Age, sex and pack-years, each shifted by ``risk``."""
    n_samples = len(risk)
    age = np.clip(64.0 + 5.0 * risk + rng.normal(0.0, 2.0, n_samples), 30.0, 95.0)
    is_male = rng.random_sample(n_samples) < expit(1.5 * risk)
    ever_smoked = rng.random_sample(n_samples) < expit(0.5 + 2.0 * risk)
    # Gamma with shape 3: a mean of 3 * scale pack-years among smokers, bounded
    # for extreme risks.
    scale = np.exp(2.0 + 0.5 * np.clip(risk, -2.0, 2.0))
    pack_years = ever_smoked * rng.gamma(3.0, scale)
    return {
        "age": list(np.round(age, 1)),
        "sex": ["M" if male else "F" for male in is_male],
        "pack_years": list(np.round(pack_years * 2.0) / 2.0),
    }


def _write_images(images, patient_ids, directory, image_format):
    """Write the present images into ``directory``; return the column of paths."""
    module, package = _IMAGE_LIBRARIES[image_format]
    library = import_optional(
        module,
        extra="image",
        needed_for=f"Writing {image_format.upper()} images",
        package=package,
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for image, patient_id in zip(images, patient_ids):
        if image is None:
            paths.append(None)
            continue
        path = directory / f"{patient_id}{_FILE_SUFFIXES[image_format]}"
        if image_format == "png":
            low, high = _PNG_WINDOW
            pixels = np.round(np.clip((image - low) / (high - low), 0.0, 1.0) * 255.0)
            library.fromarray(pixels.astype(np.uint8)).save(path)
        elif image_format == "dicom":
            _write_dicom(image, patient_id, path)
        else:
            # One axial slice of a volume, in HU, with 1 mm isotropic voxels.
            volume = image.astype(np.float32)[:, :, np.newaxis]
            library.save(library.Nifti1Image(volume, affine=np.eye(4)), path)
        paths.append(str(path))
    return paths


def _write_volumes(risk, seeds, patient_ids, directory, image_format, image_size):
    """Draw and write the present volumes one at a time; return the path columns.

    ``seeds`` holds each patient's seed, or None where the CT is absent.
    """
    present = [row for row, seed in enumerate(seeds) if seed is not None]
    images, masks = [None] * len(seeds), [None] * len(seeds)
    volumes = ct_volumes(risk[present], image_size, [seeds[row] for row in present])
    for row, (volume, mask) in zip(present, volumes):
        images[row], masks[row] = write_volume(
            volume,
            mask,
            patient_ids[row],
            directory / patient_ids[row],
            image_format,
            image_size,
        )
    return images, masks


def _write_dicom(image, patient_id, path):
    """Write one CT slice in HU as an uncompressed DICOM file."""
    import pydicom
    from pydicom.uid import generate_uid

    # UIDs derived from the patient and the pixels keep the files reproducible.
    instance_uid = generate_uid(entropy_srcs=[patient_id, image.tobytes().hex()])
    dataset = ct_dataset(
        path,
        image,
        patient_id=patient_id,
        instance_uid=instance_uid,
        study_uid=generate_uid(entropy_srcs=[instance_uid, "study"]),
        series_uid=generate_uid(entropy_srcs=[instance_uid, "series"]),
    )
    # pydicom 2.4 and 3 both take the encoding from the transfer syntax.
    pydicom.dcmwrite(path, dataset)
