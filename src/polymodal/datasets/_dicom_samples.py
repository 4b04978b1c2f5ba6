"""Real DICOM files that pydicom ships: scans for the image path, an ECG waveform."""

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ..utils._optional import import_optional
from ..utils._sklearn_compat import validate_params

__all__ = ["load_dicom_samples"]

# Single-frame grayscale scans (what ImageLoader reads), uncompressed so that no
# image codec beyond pydicom itself is needed.
_IMAGE_FILES = ("CT_small.dcm", "MR_small.dcm", "examples_overlay.dcm")
_WAVEFORM_FILE = "waveform_ecg.dcm"

_DESCR = """\
.. _dicom_samples:

DICOM samples shipped with pydicom
----------------------------------

**Source.** The test files of pydicom (``pydicom/data/test_files``), read from the
installed package, never downloaded:

- ``CT_small.dcm``: a CT slice downsized to 128 x 128 from the NEMA WG04 data
  sets (``CT1_UNC``), with rescale slope and intercept to Hounsfield units;
- ``MR_small.dcm``: an MR slice downsized to 64 x 64 from NEMA WG04 (``MR1_UNC``);
- ``examples_overlay.dcm``: an abdominal MR slice (300 x 484) with an overlay;
- ``waveform_ecg.dcm``: a 12-lead resting ECG, 10 s at 1,000 Hz, in microvolts.

**Licence.** pydicom is MIT-licensed; its test-file notes state that the files,
taken from public DICOM test sets and stripped of patient names, carry no
restriction on this use.

**Size.** Three images (one row each in ``frame``) and one waveform. They
demonstrate reading real files; they are not a cohort and have no target.
"""


def _sample_path(name, pydicom_data):
    path = pydicom_data.get_testdata_file(name, download=False)
    if path is None:
        raise FileNotFoundError(
            f"The installed pydicom lacks its sample file {name!r}; reinstall pydicom."
        )
    return path


@validate_params({}, prefer_skip_nested_validation=True)
def load_dicom_samples():
    """Load real DICOM scans and a 12-lead ECG waveform that pydicom ships.

    Three single-frame scans (CT 128 x 128, MR 64 x 64, abdominal MR 300 x 484)
    and a 10 s, 1,000 Hz resting ECG, read from pydicom's own test files (MIT
    licence, no restriction on use; see ``DESCR``). Use them to try the image
    path on real files: the ``image`` column is a column of paths that
    :class:`~polymodal.image.ImageLoader` reads. Needs pydicom
    (``pip install "polymodal[image]"``); nothing is downloaded.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With attributes:

        - ``frame``: one row per scan, with columns ``image`` (the file path),
          ``modality`` (the DICOM Modality: CT or MR), ``rows`` and ``columns``
          (the pixel size) and ``description``;
        - ``waveform``: float array of shape (10000, 12), the ECG in microvolts
          (pydicom's ``waveform_array``, sensitivity applied);
        - ``waveform_channels``: the 12 lead names;
        - ``sampling_frequency``: samples per second (1000.0);
        - ``waveform_path`` and ``DESCR`` (source, size and licence).

    Examples
    --------
    >>> from polymodal.datasets import load_dicom_samples
    >>> from polymodal.image import ImageLoader
    >>> samples = load_dicom_samples()
    >>> samples.frame[["modality", "rows", "columns"]]
      modality  rows  columns
    0       CT   128      128
    1       MR    64       64
    2       MR   300      484
    >>> ImageLoader(size=32, dicom_window="mediastinum").fit_transform(
    ...     samples.frame["image"]
    ... ).shape
    (3, 1, 32, 32)
    >>> samples.waveform.shape, samples.waveform_channels[:2]
    ((10000, 12), ['Lead I (Einthoven)', 'Lead II'])
    """
    pydicom = import_optional("pydicom", extra="image", needed_for="load_dicom_samples")
    pydicom_data = import_optional(
        "pydicom.data",
        extra="image",
        needed_for="load_dicom_samples",
        package="pydicom",
    )
    records = []
    for name in _IMAGE_FILES:
        path = _sample_path(name, pydicom_data)
        header = pydicom.dcmread(path, stop_before_pixels=True)
        records.append(
            {
                "image": path,
                "modality": str(header.Modality),
                "rows": int(header.Rows),
                "columns": int(header.Columns),
                "description": str(header.get("StudyDescription", "") or name),
            }
        )

    waveform_path = _sample_path(_WAVEFORM_FILE, pydicom_data)
    ecg = pydicom.dcmread(waveform_path)
    group = ecg.WaveformSequence[0]
    channels = [
        str(channel.ChannelSourceSequence[0].CodeMeaning)
        for channel in group.ChannelDefinitionSequence
    ]
    return Bunch(
        frame=pd.DataFrame.from_records(records),
        waveform=np.asarray(ecg.waveform_array(0), dtype=float),
        waveform_channels=channels,
        sampling_frequency=float(group.SamplingFrequency),
        waveform_path=waveform_path,
        DESCR=_DESCR,
    )
