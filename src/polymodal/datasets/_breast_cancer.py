"""A real two-modality cohort: GSE7390 breast cancer, clinical values and gene expression."""

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ..utils._optional import import_optional
from ..utils._sklearn_compat import validate_params

__all__ = ["load_breast_cancer_multiomics"]

_CLINICAL_COLUMNS = ["age", "er", "grade", "size"]
# scikit-survival spells the unknown grade "unkown"; the category is renamed only.
_GRADE_CATEGORIES = {
    "well differentiated": "well differentiated",
    "intermediate": "intermediate",
    "poorly differentiated": "poorly differentiated",
    "unkown": "unknown",
}
# Numeric codes when as_frame=False: grade is ordinal, an unknown grade is NaN.
_GRADE_CODES = {
    "well differentiated": 1.0,
    "intermediate": 2.0,
    "poorly differentiated": 3.0,
    "unknown": np.nan,
}
_ER_CODES = {"negative": 0.0, "positive": 1.0}

_DESCR = """\
.. _breast_cancer_multiomics:

GSE7390 breast cancer cohort (clinical values and gene expression)
-------------------------------------------------------------------

**Source.** Gene Expression Omnibus series GSE7390 (Desmedt et al., "Strong time
dependence of the 76-gene prognostic signature for node-negative breast cancer
patients in the TRANSBIG multicenter independent validation series", Clin. Cancer
Res. 13(11), 3207-3214, 2007), as shipped by scikit-survival
(``sksurv.datasets.load_breast_cancer``); read from the installed package, never
downloaded.

**Licence.** GEO places no restrictions on the use of its data; the file is
distributed with scikit-survival (GPL-3.0). polymodal does not redistribute it.

**Size.** 198 patients with lymph-node-negative breast cancer who received no
systemic adjuvant therapy, in two modalities:

- ``clinical`` (4 columns): ``age`` (years), ``er`` (oestrogen-receptor status,
  negative/positive), ``grade`` (well differentiated, intermediate, poorly
  differentiated, or unknown for 2 patients) and ``size`` (tumour size, cm);
- ``genes`` (76 columns): log2 expression of the Affymetrix probes of the 76-gene
  prognostic signature (names such as ``X200726_at``, the probe id with an ``X``
  prefix).

No value is missing; the two unknown grades are a category of their own.

**Target.** ``target`` is 1 for the 51 patients (25.8%) in whom distant metastasis
was observed during follow-up, else 0. It ignores censoring: a 0 may be a patient
followed for a short time. ``survival`` holds the censored outcome for survival
models: ``event`` (metastasis observed) and ``time`` (days to metastasis or to the
last follow-up).

scikit-survival reports a concordance index of 0.765 for
``GradientBoostingSurvivalAnalysis`` on all 80 columns (25% test split,
``random_state=0``).
"""


@validate_params(
    {"return_X_y": ["boolean"], "as_frame": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_breast_cancer_multiomics(*, return_X_y=False, as_frame=True):
    """Load the GSE7390 breast cancer cohort as two modalities: clinical and genes.

    198 patients with node-negative breast cancer: 4 clinical values (age,
    oestrogen-receptor status, grade, tumour size) and the expression of the 76
    genes of a prognostic signature. The target is distant metastasis (1 for 51
    patients, 25.8%). The data come from GEO (GSE7390; no restriction on use)
    through scikit-survival, which must be installed:
    ``pip install "polymodal[survival]"``. Nothing is downloaded.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=True
        Return ``data`` as a DataFrame with ``er`` and ``grade`` as pandas
        categoricals and ``target`` as a Series. With False, ``data`` is a float
        array with ``er`` coded 0 (negative) / 1 (positive) and ``grade`` coded
        1 (well differentiated), 2 (intermediate), 3 (poorly differentiated) or
        NaN (unknown, 2 patients), and ``target`` is an int array.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With attributes:

        - ``data``: the 80 columns, clinical first (198 rows);
        - ``target``: distant metastasis observed (1) or not (0);
        - ``survival``: structured array with fields ``event`` (bool) and
          ``time`` (days to metastasis or last follow-up), as scikit-survival's
          estimators take it;
        - ``modalities``: ``{"clinical": [4 column names], "genes": [76 column
          names]}``, ready for :class:`~polymodal.MultimodalUnion`;
        - ``feature_names``, ``target_names``, ``frame`` (the data with the
          ``metastasis`` and ``time`` columns; None when ``as_frame=False``) and
          ``DESCR`` (source, size, licence and the meaning of the target).

    (data, target) : tuple
        With ``return_X_y=True``.

    Raises
    ------
    ImportError
        When scikit-survival is not installed; the message names the extra.

    Examples
    --------
    >>> from polymodal.datasets import load_breast_cancer_multiomics
    >>> cohort = load_breast_cancer_multiomics()
    >>> cohort.data.shape, int(cohort.target.sum())
    ((198, 80), 51)
    >>> {name: len(columns) for name, columns in cohort.modalities.items()}
    {'clinical': 4, 'genes': 76}
    >>> from sklearn.compose import make_column_transformer
    >>> from sklearn.preprocessing import OneHotEncoder, StandardScaler
    >>> from polymodal import MultimodalUnion
    >>> clinical = make_column_transformer(
    ...     (OneHotEncoder(handle_unknown="ignore"), ["er", "grade"]),
    ...     (StandardScaler(), ["age", "size"]),
    ... )
    >>> union = MultimodalUnion([
    ...     ("clinical", clinical, cohort.modalities["clinical"]),
    ...     ("genes", StandardScaler(), cohort.modalities["genes"]),
    ... ])
    >>> blocks = union.fit_transform(cohort.data)
    >>> blocks["clinical"].shape, blocks["genes"].shape
    ((198, 8), (198, 76))
    """
    sksurv_datasets = import_optional(
        "sksurv.datasets",
        extra="survival",
        needed_for="load_breast_cancer_multiomics",
        package="scikit-survival",
    )
    features, outcome = sksurv_datasets.load_breast_cancer()
    gene_columns = [
        column for column in features.columns if column not in _CLINICAL_COLUMNS
    ]
    features = features[_CLINICAL_COLUMNS + gene_columns].copy()
    features["grade"] = features["grade"].cat.rename_categories(_GRADE_CATEGORIES)

    event = np.asarray(outcome["e.tdm"], dtype=bool)
    time = np.asarray(outcome["t.tdm"], dtype=float)
    survival = np.empty(len(event), dtype=[("event", bool), ("time", float)])
    survival["event"], survival["time"] = event, time
    target = pd.Series(event.astype(int), index=features.index, name="metastasis")

    frame = None
    if as_frame:
        data = features
        frame = features.assign(metastasis=target, time=time)
    else:
        coded = features.assign(
            er=features["er"].map(_ER_CODES).astype(float),
            grade=features["grade"].map(_GRADE_CODES).astype(float),
        )
        data = coded.to_numpy(dtype=float)
        target = target.to_numpy()

    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        survival=survival,
        frame=frame,
        modalities={"clinical": list(_CLINICAL_COLUMNS), "genes": gene_columns},
        feature_names=list(features.columns),
        target_names=np.array(["no metastasis", "metastasis"]),
        DESCR=_DESCR,
    )
