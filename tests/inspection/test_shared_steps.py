"""The inspection refits compute the steps that learn nothing from rows once.

Each result is compared, as exact floats, with the same call where every
fold refits every step (the sharing switched off).
"""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from polymodal import MultimodalUnion
from polymodal.datasets import make_patients
from polymodal.fusion import ConcatFusion
from polymodal.image import ImageFeatures, ImageLoader
from polymodal.inspection import _common, missing_modality_curve, modality_importance

pytest.importorskip("PIL")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ct")
    return make_patients(
        60, image_size=16, missing={"ct": 0.2}, as_files=folder, random_state=0
    )


def pipeline():
    ct = make_pipeline(
        ImageLoader(),
        ImageFeatures(features=("first_order",), intensity_range=(0.0, 1.0)),
        StandardScaler(),
    )
    union = MultimodalUnion(
        [("ct", ct, "ct"), ("clinical", StandardScaler(), ["age", "pack_years"])]
    )
    return Pipeline(
        [
            ("union", union),
            ("fusion", ConcatFusion()),
            ("head", LogisticRegression(max_iter=2000)),
        ]
    )


def without_sharing(monkeypatch, function, *args, **kwargs):
    with monkeypatch.context() as patch:
        patch.setattr(_common, "shared_steps", lambda *a, **k: None)
        for module in ("_importance", "_curve"):
            patch.setattr(
                f"polymodal.inspection.{module}.shared_steps", lambda *a, **k: None
            )
        return function(*args, **kwargs)


@pytest.mark.parametrize("method", ["permutation", "ablation", "shapley"])
def test_modality_importance_is_unchanged(cohort, monkeypatch, method):
    X, y = cohort
    kwargs = {"method": method, "scoring": "roc_auc", "cv": 3, "random_state": 0}
    if method == "permutation":
        kwargs["n_repeats"] = 2
    shared = modality_importance(pipeline(), X, y, **kwargs)
    plain = without_sharing(
        monkeypatch, modality_importance, pipeline(), X, y, **kwargs
    )
    np.testing.assert_array_equal(shared.importances, plain.importances)
    for subset, scores in plain.subset_scores.items():
        np.testing.assert_array_equal(shared.subset_scores[subset], scores)


def test_missing_modality_curve_is_unchanged(cohort, monkeypatch):
    X, y = cohort
    kwargs = {"scoring": "roc_auc", "cv": 3, "n_repeats": 2, "random_state": 0}
    shared = missing_modality_curve(pipeline(), X, y, "ct", **kwargs)
    plain = without_sharing(
        monkeypatch, missing_modality_curve, pipeline(), X, y, "ct", **kwargs
    )
    np.testing.assert_array_equal(shared.scores, plain.scores)


def test_the_image_features_are_shared(cohort):
    X, _ = cohort
    shared = _common.shared_steps(pipeline(), "union", X)
    assert list(shared.modalities) == ["ct"]
    assert shared.modalities["ct"].n_steps == 2
