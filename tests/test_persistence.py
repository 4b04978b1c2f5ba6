"""Every public estimator, fitted inside a pipeline, survives a save and a load.

Each estimator of :func:`polymodal.utils.all_estimators` is placed where it
belongs in a pipeline (a modality transformer inside the union, a fusion step
between the union and a head, a final-step fusion or a head last), fitted on a
small patient table, then saved and loaded twice: with :func:`joblib.dump` and
with :func:`polymodal.io.save`. The loaded pipeline must give the outputs of
the fitted one exactly.
"""

import json
import zipfile

import joblib
import numpy as np
import pytest
import skops.io
from scipy import sparse
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from polymodal import ModalityBlocks, MultimodalUnion, io
from polymodal.datasets import make_patients
from polymodal.deep import DeepFusionClassifier
from polymodal.fusion import ConcatFusion
from polymodal.image import ImageLoader
from polymodal.sequence import KmerVectorizer
from polymodal.text import ClinicalTextVectorizer
from polymodal.utils import all_estimators

ESTIMATORS = all_estimators()

_MOLECULES = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "C[C@@H](C(=O)O)N", "CCN"]

# Modality transformers and the column each reads; the image transformers
# after the first read the loader's (n, 1, H, W) block.
_MODALITY_COLUMNS = {
    "KmerVectorizer": "dna",
    "OneHotSequenceEncoder": "dna",
    "ClinicalTextVectorizer": "note",
    "SentenceEmbedder": "note",
    "MorganFingerprint": "smiles",
    "ImageLoader": "ct",
    "ImagePreprocessor": "ct",
    "ImageFeatures": "ct",
    "CNNEmbedder": "ct",
}
# Modality transformers whose blocks are N-D: only a deep head reads them.
_DEEP_INPUTS = {"OneHotSequenceEncoder", "ImageLoader", "ImagePreprocessor"}
_CLINICAL = ("clinical", StandardScaler(), ["age", "pack_years"])


def _patients():
    X, y = make_patients(
        n_samples=30,
        image_size=16,
        missing={"ct": 0.1, "note": 0.1, "dna": 0.1},
        random_state=0,
    )
    X["smiles"] = np.random.default_rng(0).choice(_MOLECULES, len(X))
    return X, y.to_numpy()


def _quick_deep_head():
    return DeepFusionClassifier(embedding_dim=4, max_epochs=2, random_state=0)


def _modality_pipeline(estimator, name):
    column = _MODALITY_COLUMNS[name]
    if name == "ImagePreprocessor":
        # The deep head's image encoder pools down from at least 8 x 8 pixels.
        estimator = make_pipeline(ImageLoader(size=16), estimator.set_params(size=8))
    elif column == "ct" and name != "ImageLoader":
        # Unscaled image features keep the logistic head from converging.
        estimator = make_pipeline(ImageLoader(size=16), estimator, StandardScaler())
    union = MultimodalUnion([(name, estimator, column), _CLINICAL])
    if name in _DEEP_INPUTS:
        return Pipeline([("union", union), ("head", _quick_deep_head())])
    return Pipeline(
        [
            ("union", union),
            ("fusion", ConcatFusion()),
            ("head", LogisticRegression(max_iter=1000)),
        ]
    )


def fitted_pipeline(estimator):
    """Place ``estimator`` in a small pipeline, fit it, and return it with its input.

    Returns
    -------
    pipeline : Pipeline
    X : DataFrame
        The rows the pipeline was fitted on.
    """
    estimator = clone(estimator)
    name = type(estimator).__name__
    X, y = _patients()
    if is_regressor(estimator):
        y = y.astype(float)
    two_modalities = MultimodalUnion([("dna", KmerVectorizer(k=2), "dna"), _CLINICAL])
    if name in _MODALITY_COLUMNS:
        pipeline = _modality_pipeline(estimator, name)
    elif isinstance(estimator, MultimodalUnion):
        # The instance reads every column of a numeric table.
        X = X[["age", "pack_years"]]
        pipeline = Pipeline(
            [
                ("union", estimator),
                ("fusion", ConcatFusion()),
                ("head", LogisticRegression(max_iter=1000)),
            ]
        )
    elif is_classifier(estimator) or is_regressor(estimator):
        if name.startswith("MLP"):
            # A network head that follows a fusion step.
            steps = [("fusion", ConcatFusion()), ("head", estimator)]
        else:
            steps = [("fusion", "passthrough"), ("head", estimator)]
        pipeline = Pipeline([("union", two_modalities), *steps])
    else:
        head = (
            SVC(kernel="precomputed")
            if estimator.__sklearn_tags__().input_tags.pairwise
            else LogisticRegression(max_iter=1000)
        )
        pipeline = Pipeline(
            [("union", two_modalities), ("fusion", estimator), ("head", head)]
        )
    return pipeline.fit(X, y), X


def _comparable(output):
    if isinstance(output, ModalityBlocks):
        parts = []
        for name, block in output.items():
            block = block.toarray() if sparse.issparse(block) else block
            parts += [block.reshape(len(output), -1), output.masks[name][:, None]]
        return np.hstack(parts).astype(float)
    output = output.toarray() if sparse.issparse(output) else np.asarray(output)
    return output.reshape(len(output), -1)


def outputs(pipeline, X):
    """Everything the pipeline computes from ``X``: features and predictions."""
    results = {
        "features": _comparable(pipeline[:-1].transform(X)),
        "predict": pipeline.predict(X),
    }
    for method in ("predict_proba", "decision_function"):
        if hasattr(pipeline, method):
            results[method] = getattr(pipeline, method)(X)
    return results


def _assert_same_outputs(loaded, fitted, X):
    expected = outputs(fitted, X)
    got = outputs(loaded, X)
    assert got.keys() == expected.keys()
    for method, values in expected.items():
        # The same process computes both: bit for bit, NaN for NaN.
        np.testing.assert_array_equal(got[method], values, err_msg=method)


# Loading the bundled sentence model takes the most of 20 s.
_SLOW = {"SentenceEmbedder"}


def _params(estimators):
    return [
        pytest.param(
            estimator,
            id=type(estimator).__name__,
            marks=pytest.mark.slow if type(estimator).__name__ in _SLOW else (),
        )
        for estimator in estimators
    ]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.mark.parametrize("estimator", _params(ESTIMATORS))
def test_joblib_and_polymodal_round_trips_keep_outputs(estimator, folder):
    fitted, X = fitted_pipeline(estimator)
    name = type(estimator).__name__

    joblib.dump(fitted, folder / f"{name}.joblib")
    _assert_same_outputs(joblib.load(folder / f"{name}.joblib"), fitted, X)

    path = io.save(fitted, folder / f"{name}.model")
    with zipfile.ZipFile(path) as archive:
        record = json.loads(archive.read("polymodal.json"))
    # No pickle: every public estimator goes through skops, its torch state
    # through tensors only, and loads with polymodal's trusted types alone.
    assert record["storage"] == "skops"
    _assert_same_outputs(io.load(path), fitted, X)


def test_every_public_estimator_is_covered():
    covered = {type(estimator).__name__ for estimator in ESTIMATORS}
    trusted = {name.rpartition(".")[2] for name in io.TRUSTED_TYPES}
    assert covered <= trusted


@pytest.fixture(scope="module")
def fitted_mlp():
    from polymodal.deep import MLPClassifier

    X = np.random.default_rng(0).normal(size=(20, 3))
    y = (X[:, 0] > 0).astype(int)
    model = MLPClassifier(hidden_layer_sizes=(4,), max_epochs=2, random_state=0)
    return model.fit(X, y), X


def test_a_skorch_net_is_stored_as_tensors_not_trusted_as_a_type(fitted_mlp, folder):
    model, X = fitted_mlp
    path = io.save(model, folder / "mlp.model")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    assert {
        "torch/0/params.pt",
        "torch/0/optimizer.pt",
        "torch/0/history.json",
    } <= names
    assert not any(name.startswith("skorch.") for name in io.TRUSTED_TYPES)
    loaded = io.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert len(loaded.net_.history) == len(model.net_.history)


def test_a_skorch_net_in_skops_format_is_refused(fitted_mlp, folder):
    # skops stores a skorch net through the net's own pickling, which a
    # crafted file could abuse: such a file must need explicit trust.
    model, _ = fitted_mlp
    path = io.save(LogisticRegression(), folder / "crafted.model")
    with zipfile.ZipFile(path) as archive:
        record = archive.read("polymodal.json")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("polymodal.json", record)
        archive.writestr("estimator.skops", skops.io.dumps(model))
    with pytest.raises(io.UntrustedModelError) as error:
        io.load(path)
    assert "skorch.classifier.NeuralNetClassifier" in error.value.untrusted_types


def test_loading_a_network_leaves_the_global_torch_generator_alone(fitted_mlp, folder):
    torch = pytest.importorskip("torch")
    model, _ = fitted_mlp
    path = io.save(model, folder / "rng.model")
    before = torch.random.get_rng_state()
    io.load(path)
    assert torch.equal(torch.random.get_rng_state(), before)


# -- every head the command line and the docs offer ------------------------------


def _heads():
    """The heads behind a fusion step: name -> (unfitted head, labels)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.neighbors import KNeighborsClassifier

    from polymodal.deep import MLPClassifier

    heads = {
        "LogisticRegression": LogisticRegression(max_iter=1000),
        "SVC": SVC(),
        "SVC-calibrated-sigmoid": CalibratedClassifierCV(SVC(), ensemble=False),
        "SVC-calibrated-isotonic": CalibratedClassifierCV(SVC(), method="isotonic"),
        "RandomForestClassifier": RandomForestClassifier(10, random_state=0),
        "ExtraTreesClassifier": ExtraTreesClassifier(10, random_state=0),
        "GradientBoostingClassifier": GradientBoostingClassifier(
            n_estimators=10, random_state=0
        ),
        "HistGradientBoostingClassifier": HistGradientBoostingClassifier(
            max_iter=10, random_state=0
        ),
        "KNeighborsClassifier": KNeighborsClassifier(),
        "KNeighborsClassifier-ball-tree": KNeighborsClassifier(algorithm="ball_tree"),
        "MLPClassifier": MLPClassifier(
            hidden_layer_sizes=(4,), max_epochs=2, random_state=0
        ),
    }
    try:
        from xgboost import XGBClassifier
    except ImportError:
        return heads
    heads["XGBClassifier"] = XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1)
    return heads


def _cli_heads():
    """The command line's own heads, as `polymodal compare --heads` builds them."""
    from polymodal import cli

    return {
        f"cli-{name}": make(0)
        for name, make in cli._HEADS.items()
        # Covered above as MLPClassifier, without its 100 default epochs.
        if name != "mlp"
    }


# Each of these takes more than ~2 s; the others less.
_SLOW_HEADS = {"cli-random_forest", "cli-extra_trees"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.slow if name in _SLOW_HEADS else ())
        for name in [*_heads(), *_cli_heads()]
    ],
)
def test_every_head_behind_a_fusion_loads_without_trust(name, folder):
    head = {**_heads(), **_cli_heads()}[name]
    X, y = _patients()
    # Labels as strings, as a user's table has them, wherever the head takes
    # them (the command line codes them for xgboost itself).
    if name != "XGBClassifier":
        y = np.where(y == 1, "malignant", "benign")
    union = MultimodalUnion(
        [
            ("dna", KmerVectorizer(k=2), "dna"),
            ("note", ClinicalTextVectorizer(), "note"),
            _CLINICAL,
        ]
    )
    fitted = Pipeline(
        [("union", union), ("fusion", ConcatFusion()), ("head", head)]
    ).fit(X, y)
    path = io.save(fitted, folder / f"head-{name}.model")
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("polymodal.json"))["storage"] == "skops"
    _assert_same_outputs(io.load(path), fitted, X)


def test_a_final_step_deep_fusion_loads_without_trust(folder):
    X, y = _patients()
    union = MultimodalUnion([("dna", KmerVectorizer(k=2), "dna"), _CLINICAL])
    fitted = Pipeline(
        [("union", union), ("fusion", "passthrough"), ("head", _quick_deep_head())]
    ).fit(X, np.where(y == 1, "malignant", "benign"))
    path = io.save(fitted, folder / "deep-fusion.model")
    _assert_same_outputs(io.load(path), fitted, X)
