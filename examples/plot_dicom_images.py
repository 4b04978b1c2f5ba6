"""
=====================================
CT images from DICOM files
=====================================

Medical images usually arrive as DICOM files, with pixel values that a
rescale slope and intercept turn into physical units: Hounsfield units (HU)
for CT. :class:`~polymodal.image.ImageLoader` reads a column of file paths
into an ``(n, C, H, W)`` block, in HU or through a display window, and
:class:`~polymodal.image.ImageFeatures` turns the images into named
radiomics-style features. This example runs them on the synthetic cohort
written as DICOM files, then on real DICOM scans that pydicom ships.
"""

# %%
# A cohort of DICOM files
# -----------------------
# ``make_patients(as_files=folder, image_format="dicom")`` writes one CT
# slice per patient into ``folder`` and puts the file's path in the ``ct``
# column, as a cohort table on disk would have it. A tenth of the patients
# have no scan. The files go to a temporary folder, removed with
# ``folder.cleanup()`` once the pipeline has been cross-validated.
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from polymodal.datasets import make_patients
from polymodal.image import ImageFeatures, ImageLoader

folder = tempfile.TemporaryDirectory()
X, y = make_patients(
    n_samples=160,
    missing={"ct": 0.1},
    as_files=folder.name,
    image_format="dicom",
    random_state=0,
)
present = X["ct"].notna()
print(X[["patient_id", "ct", "age"]].head(3).to_string())
print(f"{present.sum()} DICOM files, {(~present).sum()} patients without a scan")

# %%
# Hounsfield units and windows
# ----------------------------
# Without a window the loader returns HU: air about -1000, lung about -850,
# soft tissue about +40. A window maps ``center ± width / 2`` to [0, 1] and
# clips the rest, by DICOM's VOI LUT formula (pydicom's ``apply_voi_lut``):
# the lung window (-600, 1500) shows the parenchyma, the mediastinum window
# (40, 400) the soft tissue.
paths = X.loc[present, "ct"]
hu = ImageLoader().fit_transform(paths.head(20))
lung = ImageLoader(dicom_window="lung").fit_transform(paths.head(20))
mediastinum = ImageLoader(dicom_window="mediastinum").fit_transform(paths.head(20))
print(f"block shape {hu.shape}, HU from {hu.min():.0f} to {hu.max():.0f}")
print(f"lung window from {lung.min():.2f} to {lung.max():.2f}")

import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
shown = []
for ax, image, title in zip(
    axes,
    (hu[0, 0], lung[0, 0], mediastinum[0, 0]),
    ("Hounsfield units", "lung window", "mediastinum window"),
):
    shown.append(ax.imshow(image, cmap="gray"))
    ax.set_title(title)
    ax.axis("off")
fig.colorbar(shown[0], ax=axes[0], shrink=0.8, label="HU")
fig.colorbar(shown[2], ax=axes[1:], shrink=0.8, label="windowed value")
fig.suptitle(f"synthetic slice of patient {X.loc[present, 'patient_id'].iloc[0]}")

# %%
# A corrupt file
# --------------
# One file is overwritten with bytes that are not DICOM. By default that is
# an error naming the row and the path; with ``on_error="missing"`` the row
# comes back all-NaN and a :class:`~polymodal.MultimodalUnion` marks the
# modality absent for that patient, with a
# :class:`~polymodal.exceptions.RowFailureWarning`.
corrupt = Path(paths.iloc[5])
corrupt.write_bytes(b"not a DICOM file")
try:
    ImageLoader().fit_transform(paths.head(10))
except ValueError as error:
    print(f"ValueError: {str(error)[:160]}...")

# %%
# Image features in a multimodal pipeline
# ---------------------------------------
# The CT modality is a pipeline of its own: load with the lung window,
# compute first-order statistics, grey-level co-occurrence (GLCM) texture
# and local binary patterns, scale. The union passes it only the rows that
# have a scan. Below, :func:`~polymodal.model_selection.compare_fusions`
# cross-validates the CT and the clinical values fused, and each alone, with
# a logistic regression; the DICOM files are read once per fold.
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from polymodal import MultimodalUnion
from polymodal.fusion import ConcatFusion
from polymodal.model_selection import compare_fusions

ct = make_pipeline(
    ImageLoader(dicom_window="lung", on_error="missing"),
    ImageFeatures(features=("first_order", "glcm", "lbp")),
    StandardScaler(),
)
clinical = make_column_transformer(
    (StandardScaler(), ["age", "pack_years"]), (OneHotEncoder(), ["sex"])
)
union = MultimodalUnion([("ct", ct, "ct")])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    blocks = union.fit_transform(X, y)
for warning in caught:
    print(f"{type(warning.message).__name__}: {warning.message}")
names = union.named_transformers_["ct"][1].get_feature_names_out()
print(f"{len(names)} CT features: {', '.join(names[:4])}, ..., {names[-1]}")
print(f"CT present in {blocks.masks['ct'].sum()} of {len(X)} rows")

with warnings.catch_warnings():
    # The corrupt file is reported in every fold; it was shown above.
    warnings.filterwarnings("ignore", message=".*could not be read.*")
    result = compare_fusions(
        MultimodalUnion(
            [("ct", ct, "ct"), ("clinical", clinical, ["age", "sex", "pack_years"])]
        ),
        X,
        y,
        fusions={"concat": ConcatFusion()},
        heads={"logreg": LogisticRegression(max_iter=1000)},
        scoring="roc_auc",
        cv=5,
        random_state=0,
    )
print(result.to_frame()[["roc_auc_mean", "roc_auc_ci_low", "roc_auc_ci_high"]].round(3))

folder.cleanup()

# %%
# Real DICOM files
# ----------------
# :func:`~polymodal.datasets.load_dicom_samples` returns the paths of real
# scans that pydicom ships with its tests (nothing is downloaded): a CT slice
# of 128 x 128 pixels and two MR slices. The same loader reads them; CT
# pixel values come back in HU through the file's rescale slope and
# intercept. A block holds images of one shape, so ``size=128`` resizes the
# three scans for the features; windows apply to CT values only, so the MR
# slices keep their own units.
from polymodal.datasets import load_dicom_samples

samples = load_dicom_samples()
print(samples.frame[["modality", "rows", "columns", "description"]].to_string())

scans = ImageLoader(size=128).fit_transform(samples.frame["image"])
ct_hu = scans[0, 0]
print(
    f"real CT slice: {ct_hu.min():.0f} to {ct_hu.max():.0f} HU, "
    f"median {np.median(ct_hu):.0f} HU"
)

features = ImageFeatures(features="first_order", intensity_range="image")
table = pd.DataFrame(
    features.fit_transform(scans)[:, :4],
    columns=features.get_feature_names_out()[:4],
    index=samples.frame["modality"],
)
print(table.round(1).to_string())

# %%
# Each scan at its own size; the CT in the mediastinum window.
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
for ax, (_, row) in zip(axes, samples.frame.iterrows()):
    window = "mediastinum" if row["modality"] == "CT" else None
    image = ImageLoader(dicom_window=window).fit_transform([row["image"]])[0, 0]
    ax.imshow(image, cmap="gray")
    ax.set_title(f"{row['modality']}, {row['rows']} x {row['columns']}")
    ax.axis("off")
fig.suptitle("DICOM samples shipped by pydicom")

# %%
# ``samples.waveform`` also holds a real 12-lead ECG (10 s at 1,000 Hz),
# a signal modality for a transformer of the user's choice.
print(samples.waveform.shape, samples.waveform_channels[:3])
