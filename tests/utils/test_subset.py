import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from polymodal import MultimodalUnion, fusion
from polymodal.fusion import (
    AverageFusion,
    ConcatFusion,
    KernelFusion,
    LateFusionClassifier,
    StackingFusionClassifier,
)
from polymodal.inspection._common import subset_pipeline
from polymodal.utils import all_estimators


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (ConcatFusion(weights={"ct": 2.0, "note": 1.0}), {"weights": {"ct": 2.0}}),
        (AverageFusion(weights={"ct": 2.0, "note": 1.0}), {"weights": {"ct": 2.0}}),
        (
            KernelFusion(
                kernels={"ct": "rbf", "note": "linear"}, gamma={"ct": 0.1, "note": 1.0}
            ),
            {"kernels": {"ct": "rbf"}, "gamma": {"ct": 0.1}},
        ),
        (ConcatFusion(weights={"ct": 2.0}), {}),
        (ConcatFusion(), {}),
    ],
)
def test_a_step_names_the_parameters_that_name_other_modalities(step, expected):
    assert step.modality_subset_params(["ct"]) == expected


@pytest.mark.parametrize("cls", [LateFusionClassifier, StackingFusionClassifier])
def test_ensembles_drop_the_estimators_of_other_modalities(cls):
    scaler_lr = LogisticRegression(C=0.5)
    step = cls(LogisticRegression(), estimators=[("ct", scaler_lr), ("note", SVC())])
    assert step.modality_subset_params(["ct"]) == {"estimators": [("ct", scaler_lr)]}


def test_every_fusion_step_with_modality_keyed_dicts_declares_them():
    # A fusion parameter that can be a dict keyed by modality must be declared,
    # or refitting on a subset of modalities breaks silently.
    keyed = {"weights", "kernels", "gamma", "encoders", "estimators"}
    fusion_steps = [
        estimator
        for estimator in all_estimators()
        if type(estimator).__name__ in fusion.__all__
        or type(estimator).__name__.startswith("DeepFusion")
    ]
    assert len(fusion_steps) >= len(fusion.__all__)
    for estimator in fusion_steps:
        names = {
            name
            for name in keyed & set(estimator.get_params(deep=False))
            if dict in _constraint_types(estimator, name) or name == "estimators"
        }
        if names:
            declared = set(estimator._modality_keyed_params) | {"estimators"}
            assert names <= declared, (type(estimator).__name__, names - declared)


def _constraint_types(estimator, name):
    return estimator._parameter_constraints.get(name, [])


def test_subset_pipeline_sets_what_the_steps_declare():
    union = MultimodalUnion(
        [("ct", StandardScaler(), ["a"]), ("note", StandardScaler(), ["b"])]
    )
    pipe = Pipeline(
        [
            ("union", union),
            ("fusion", KernelFusion(kernels={"ct": "rbf", "note": "linear"})),
            ("head", SVC(kernel="precomputed")),
        ]
    )
    alone = subset_pipeline(pipe, "union", ["ct", "note"], ("ct",))
    assert alone.get_params()["fusion__kernels"] == {"ct": "rbf"}
    assert alone.get_params()["union__note"] == "drop"
    assert pipe.get_params()["fusion__kernels"] == {"ct": "rbf", "note": "linear"}
