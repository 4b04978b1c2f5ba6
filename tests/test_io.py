import json
import warnings
import zipfile

import joblib
import numpy as np
import pytest
import skops.io
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from polymodal import io
from polymodal.exceptions import PolymodalWarning, VersionMismatchWarning
from polymodal.fusion import ConcatFusion
from polymodal.io import _persistence, _trust
from polymodal.io._former_locations import FORMER_LOCATIONS, current_name, resolve
from polymodal.io._members import SkorchNetRecord
from polymodal.utils._registry import class_path, public_estimators

RECORDED = {"polymodal", "scikit-learn", "numpy", "scipy", "torch", "skorch", "xgboost"}


@pytest.fixture
def model():
    return LogisticRegression().fit(np.array([[0.0], [1.0], [2.0]]), [0, 1, 1])


def _record(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("polymodal.json"))


def _rewrite_record(path, **changes):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    record = json.loads(members["polymodal.json"])
    record.update(changes)
    members["polymodal.json"] = json.dumps(record).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


class Doubler(TransformerMixin, BaseEstimator):
    """A transformer of the user's own, which polymodal does not trust."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X) * 2


DOUBLER = f"{__name__}.Doubler"


class TorchHolder(BaseEstimator):
    """Holds a user's torch module as a parameter: skops cannot store it."""

    def __init__(self, module=None):
        self.module = module

    def fit(self, X, y=None):
        self.fitted_ = True
        return self


def test_round_trip_records_versions(model, tmp_path):
    path = io.save(model, tmp_path / "sub" / "model.skops")
    record = _record(path)
    assert record["format"] == "polymodal-model"
    assert record["storage"] == "skops"
    assert set(record["versions"]) == RECORDED
    assert record["versions"]["polymodal"] is not None
    assert record["versions"]["xgboost"] is not None
    loaded = io.load(path)
    np.testing.assert_array_equal(
        loaded.predict_proba([[0.5]]), model.predict_proba([[0.5]])
    )


def test_other_versions_warn(model, tmp_path):
    path = io.save(model, tmp_path / "model.skops")
    record = _record(path)
    _rewrite_record(path, versions={**record["versions"], "scikit-learn": "0.1"})
    with pytest.warns(
        VersionMismatchWarning, match=r"scikit-learn 0\.1 \(now"
    ) as caught:
        io.load(path)
    assert issubclass(VersionMismatchWarning, PolymodalWarning)
    # The warning points at the caller, above load's argument check.
    assert caught[0].filename == __file__


def test_versions_recorded_at_save_are_compared_at_load(model, tmp_path, monkeypatch):
    saved = {package: "1.0" for package in RECORDED} | {"torch": None}
    monkeypatch.setattr(_persistence, "installed_versions", lambda: saved)
    path = io.save(model, tmp_path / "model.skops")
    monkeypatch.setattr(
        _persistence, "installed_versions", lambda: saved | {"numpy": "2.0"}
    )
    with pytest.warns(VersionMismatchWarning, match=r"under numpy 1\.0 \(now 2\.0\);"):
        io.load(path)
    # A package missing when the model was saved is not compared.
    monkeypatch.setattr(
        _persistence, "installed_versions", lambda: saved | {"torch": "2.0"}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        io.load(path)


def test_untrusted_types_are_named_and_can_be_trusted(tmp_path):
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    model = make_pipeline(Doubler(), LogisticRegression()).fit(X, [0, 0, 1, 1])
    path = io.save(model, tmp_path / "model.skops")
    with pytest.raises(io.UntrustedModelError) as error:
        io.load(path)
    assert error.value.untrusted_types == [DOUBLER]
    assert f"holds types that polymodal does not trust: {DOUBLER}." in str(error.value)
    assert f"pass trusted=[{DOUBLER!r}]" in str(error.value)
    loaded = io.load(path, trusted=[DOUBLER])
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_a_crafted_skops_file_with_an_untrusted_type_is_refused(model, tmp_path):
    # The record is genuine; the estimator part was written by someone else.
    path = io.save(model, tmp_path / "model.skops")
    with zipfile.ZipFile(path) as archive:
        record = archive.read("polymodal.json")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("polymodal.json", record)
        archive.writestr("estimator.skops", skops.io.dumps([Doubler()]))
    with pytest.raises(io.UntrustedModelError, match=DOUBLER):
        io.load(path)


def test_the_trusted_types_are_names_of_importable_types():
    assert len(set(io.TRUSTED_TYPES)) == len(io.TRUSTED_TYPES)
    assert all(
        name.count(".") >= 1 and name == name.strip() for name in io.TRUSTED_TYPES
    )
    assert "polymodal.fusion._early.ConcatFusion" in io.TRUSTED_TYPES
    assert not any(name.startswith("builtins.") for name in io.TRUSTED_TYPES)


def test_plain_pickles_load_only_when_trusted(model, tmp_path):
    path = tmp_path / "plain.joblib"
    joblib.dump(model, path)
    with pytest.raises(io.UntrustedModelError, match="pass trusted=True only if"):
        io.load(path)
    with pytest.raises(io.UntrustedModelError, match="a pickle"):
        io.load(path, trusted=["sklearn.linear_model._logistic.LogisticRegression"])
    np.testing.assert_array_equal(
        io.load(path, trusted=True).predict([[0.5]]), model.predict([[0.5]])
    )


def test_files_of_the_first_format_need_trust_and_warn(model, tmp_path):
    path = tmp_path / "model.joblib"
    record = {
        "format": "polymodal-model",
        "format_version": 1,
        "versions": {"scikit-learn": "0.1"},
        "estimator": model,
    }
    joblib.dump(record, path)
    with pytest.raises(io.UntrustedModelError):
        io.load(path)
    with pytest.warns(VersionMismatchWarning, match=r"scikit-learn 0\.1") as caught:
        loaded = io.load(path, trusted=True)
    assert isinstance(loaded, LogisticRegression)
    assert caught[0].filename == __file__


def test_what_skops_cannot_store_is_pickled_and_needs_trust(tmp_path):
    torch = pytest.importorskip("torch")
    model = TorchHolder(torch.nn.Linear(2, 1)).fit(None)
    with pytest.warns(
        PolymodalWarning, match=r"torch\.nn\.modules\.linear\.Linear"
    ) as caught:
        path = io.save(model, tmp_path / "model.skops")
    assert caught[0].filename == __file__
    assert _record(path)["storage"] == "joblib"
    with pytest.raises(io.UntrustedModelError, match="skops could not store it"):
        io.load(path)
    loaded = io.load(path, trusted=True)
    assert isinstance(loaded.module, torch.nn.Linear)
    torch.testing.assert_close(loaded.module.weight, model.module.weight)


def test_other_zip_files_and_newer_formats_are_refused(model, tmp_path):
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("data.txt", "hello")
    with pytest.raises(ValueError, match="is not a polymodal model file"):
        io.load(other)
    path = io.save(model, tmp_path / "model.skops")
    _rewrite_record(path, format_version=99)
    with pytest.raises(ValueError, match="newer polymodal .format version 99"):
        io.load(path)


def _failing_halfway(monkeypatch):
    """Make the archive writer fail after writing part of the file."""
    write = _persistence._write_archive

    def write_then_fail(target, *args):
        write(target, *args)
        target.truncate(target.tell() // 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(_persistence, "_write_archive", write_then_fail)


def test_an_interrupted_save_leaves_no_file(model, tmp_path, monkeypatch):
    _failing_halfway(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        io.save(model, tmp_path / "model.skops")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_save_keeps_the_previous_file(model, tmp_path, monkeypatch):
    path = io.save(model, tmp_path / "model.skops")
    previous = path.read_bytes()
    _failing_halfway(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        io.save(LogisticRegression().fit([[0.0], [1.0]], [1, 0]), path)
    assert path.read_bytes() == previous
    assert list(tmp_path.iterdir()) == [path]
    np.testing.assert_array_equal(io.load(path).predict([[0.5]]), [1])


def test_saving_twice_writes_the_same_bytes(model, tmp_path):
    first = io.save(model, tmp_path / "first.skops").read_bytes()
    second = io.save(model, tmp_path / "second.skops").read_bytes()
    assert first == second


def test_compression_level(model, tmp_path):
    stored = io.save(model, tmp_path / "stored.skops", compress=0)
    with zipfile.ZipFile(stored) as archive:
        assert {info.compress_type for info in archive.infolist()} == {
            zipfile.ZIP_STORED
        }
    np.testing.assert_array_equal(io.load(stored).coef_, model.coef_)
    with pytest.raises(ValueError, match="compress must be an integer from 0 to 9"):
        io.save(model, tmp_path / "model.skops", compress=10)


def test_arguments_of_the_wrong_type_are_refused(model, tmp_path):
    with pytest.raises(InvalidParameterError, match="'path' parameter of save"):
        io.save(model, 3)
    with pytest.raises(InvalidParameterError, match="'path' parameter of load"):
        io.load(None)
    path = io.save(model, tmp_path / "model.skops")
    # A single type name is a common slip for a list of one.
    name = "sklearn.linear_model._logistic.LogisticRegression"
    with pytest.raises(TypeError, match="'trusted' parameter of load"):
        io.load(path, trusted=name)
    assert isinstance(io.load(path, trusted=(name,)), LogisticRegression)


def test_an_xgboost_head_loads_with_the_trusted_types(tmp_path):
    xgboost = pytest.importorskip("xgboost")
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(int)
    model = xgboost.XGBClassifier(n_estimators=3, max_depth=2, n_jobs=1).fit(X, y)
    path = io.save(model, tmp_path / "model.skops")
    assert _record(path)["storage"] == "skops"
    np.testing.assert_array_equal(
        io.load(path).predict_proba(X), model.predict_proba(X)
    )


# -- model files crafted to break the trusted tree types ---------------------------
#
# Each test below saves a model whose tree was altered as a crafted file would
# alter it, then checks that load refuses the file. None of them runs predict
# on the altered model: that is what could crash the process.


def _tree_model():
    from sklearn.tree import DecisionTreeClassifier

    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y), X


def _altered_tree(tree, **changes):
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    for field, (node, value) in changes.items():
        nodes[field][node] = value
    tree.__setstate__({**state, "nodes": nodes})


def test_a_decision_tree_loads_without_trust(tmp_path):
    model, X = _tree_model()
    path = io.save(model, tmp_path / "tree.model")
    assert "sklearn.tree._tree.Tree" in io.TRUSTED_TYPES
    np.testing.assert_array_equal(
        io.load(path).predict_proba(X), model.predict_proba(X)
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"left_child": (0, 10**6)}, "has a child index out of range"),
        ({"right_child": (0, 0)}, "has a child index out of range"),
        ({"feature": (0, 10**6)}, "splits on feature 1000000"),
        ({"feature": (0, -5)}, "splits on feature -5 but reads features 0 to 2"),
    ],
    ids=["child-beyond-the-tree", "child-that-is-its-parent", "feature", "negative"],
)
def test_a_tree_whose_indices_were_altered_is_refused(tmp_path, change, message):
    model, _ = _tree_model()
    _altered_tree(model.tree_, **change)
    path = io.save(model, tmp_path / "tree.model")
    with pytest.raises(io.UntrustedModelError, match=message) as error:
        io.load(path)
    assert "holds a model that polymodal cannot check" in str(error.value)
    assert "Pass trusted=True only if you trust where it comes from" in str(error.value)


def _edit_skops_schema(path, edit):
    """Rewrite the skops payload of the model file ``path`` as ``edit`` says.

    ``edit`` takes the payload's schema (a JSON document) and changes it in
    place: what someone who crafts a file can do.
    """
    with zipfile.ZipFile(path) as archive:
        members = {member: archive.read(member) for member in archive.namelist()}
    with zipfile.ZipFile(_bytes(members["estimator.skops"])) as payload:
        inner = {member: payload.read(member) for member in payload.namelist()}
    schema = json.loads(inner["schema.json"])
    edit(schema)
    inner["schema.json"] = json.dumps(schema).encode()
    members["estimator.skops"] = _zipped(inner)
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)


def test_a_tree_whose_node_count_disagrees_with_its_array_is_refused(tmp_path):
    # (Tree.__setstate__ lowers a count above the array's length itself.)
    model, _ = _tree_model()
    path = io.save(model, tmp_path / "tree.model")

    def more_nodes(schema):
        state = schema["content"]["content"]["tree_"]["content"]["content"]
        count = state["node_count"]
        # A fresh id: skops builds an id's object once, from its first node.
        count["content"], count["__id__"] = "2", 10**9
        assert state["nodes"]["__class__"] == "ndarray"

    _edit_skops_schema(path, more_nodes)
    with pytest.raises(io.UntrustedModelError, match="holds 2 nodes in room for 7"):
        io.load(path)


def test_a_tree_deeper_than_it_records_is_refused(tmp_path):
    model, _ = _tree_model()
    state = model.tree_.__getstate__()
    model.tree_.__setstate__({**state, "max_depth": 1})
    path = io.save(model, tmp_path / "tree.model")
    with pytest.raises(io.UntrustedModelError, match="records a depth of 1"):
        io.load(path)


def test_a_forest_fed_wider_than_its_trees_read_is_refused(tmp_path):
    from sklearn.ensemble import RandomForestClassifier

    X = np.random.default_rng(0).normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(int)
    model = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    # A tree that claims to read more features than the forest passes it.
    model.estimators_[1].n_features_in_ = 50
    path = io.save(model, tmp_path / "forest.model")
    with pytest.raises(io.UntrustedModelError, match="passes 3 features to a tree"):
        io.load(path)


def test_gradient_boosting_with_more_trees_per_stage_is_refused(tmp_path):
    from sklearn.ensemble import GradientBoostingClassifier

    X = np.random.default_rng(0).normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(int)
    model = GradientBoostingClassifier(n_estimators=3, random_state=0).fit(X, y)
    # predict_stages would add the second column to raw predictions of width 1.
    model.estimators_ = np.hstack([model.estimators_, model.estimators_])
    path = io.save(model, tmp_path / "gb.model")
    with pytest.raises(io.UntrustedModelError, match="stages x 1 array"):
        io.load(path)


def test_a_hist_gradient_boosting_tree_out_of_range_is_refused(tmp_path):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X = np.random.default_rng(0).normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(X, y)
    path = io.save(model, tmp_path / "fine.model")
    np.testing.assert_array_equal(
        io.load(path).predict_proba(X), model.predict_proba(X)
    )
    model._predictors[0][0].nodes["feature_idx"][0] = 99
    path = io.save(model, tmp_path / "hgb.model")
    with pytest.raises(io.UntrustedModelError, match="splits on feature 99"):
        io.load(path)


def test_an_xgboost_model_is_stored_as_checked_json(tmp_path):
    xgboost = pytest.importorskip("xgboost")
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    model = xgboost.XGBClassifier(n_estimators=3, max_depth=2, n_jobs=1).fit(X, y)
    path = io.save(model, tmp_path / "xgb.model")
    assert "xgboost.core.Booster" not in io.TRUSTED_TYPES
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    assert "xgboost/0/model.json" in members
    # The skops part names no booster: the record stands in for it.
    assert "xgboost.core.Booster" not in skops.io.get_untrusted_types(
        data=members["estimator.skops"]
    )
    # A crafted model: a child index beyond the tree, which xgboost itself
    # follows at predict time without a check.
    crafted = json.loads(members["xgboost/0/model.json"])
    tree = crafted["learner"]["gradient_booster"]["model"]["trees"][0]
    tree["left_children"][0] = 10**8
    members["xgboost/0/model.json"] = json.dumps(crafted).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(io.UntrustedModelError, match="an xgboost tree has a child"):
        io.load(path)


@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree", "brute"])
def test_a_neighbours_model_builds_its_search_tree_again(tmp_path, algorithm):
    from sklearn.neighbors import KNeighborsClassifier

    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    model = KNeighborsClassifier(algorithm=algorithm).fit(X, y)
    path = io.save(model, tmp_path / "knn.model")
    with zipfile.ZipFile(path) as archive:
        named = skops.io.get_untrusted_types(data=archive.read("estimator.skops"))
    # Neither the tree nor its distance metric is stored, so neither is trusted.
    assert not any(name.startswith("sklearn.neighbors") for name in named)
    assert not any("Distance" in name for name in io.TRUSTED_TYPES)
    loaded = io.load(path)
    assert type(loaded._tree) is type(model._tree)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(
        loaded.kneighbors(X[:5])[1], model.kneighbors(X[:5])[1]
    )


@pytest.mark.parametrize(
    ("module", "name"), [("builtins", "eval"), ("os", "system"), ("posix", "system")]
)
def test_a_file_whose_types_were_renamed_is_refused(model, tmp_path, module, name):
    # The skops payload of a genuine file, edited to name a dangerous callable
    # where it named LogisticRegression.
    path = io.save(model, tmp_path / "model.skops")

    def rename(schema):
        assert schema["__class__"] == "LogisticRegression"
        schema["__module__"], schema["__class__"] = module, name

    _edit_skops_schema(path, rename)
    with pytest.raises(io.UntrustedModelError) as error:
        io.load(path)
    assert error.value.untrusted_types == [f"{module}.{name}"]


def _bytes(data):
    import io as bytes_io

    return bytes_io.BytesIO(data)


def _zipped(members):
    buffer = _bytes(b"")
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_the_trusted_estimators_come_from_the_one_registry(monkeypatch):
    registry = {class_path(cls) for _, cls in public_estimators()}
    assert registry <= set(io.TRUSTED_TYPES)
    # A new public estimator is trusted as soon as the registry has it.
    monkeypatch.setattr(
        _trust, "public_estimators", lambda: (("polymodal.Doubler", Doubler),)
    )
    _trust.trusted_types.cache_clear()
    try:
        assert DOUBLER in io.TRUSTED_TYPES
        assert not registry & set(io.TRUSTED_TYPES)
    finally:
        monkeypatch.undo()
        _trust.trusted_types.cache_clear()
    assert registry <= set(io.TRUSTED_TYPES)


def test_every_trusted_polymodal_name_is_where_its_object_is_defined():
    # A helper that moved without its trusted name would make new files
    # untrusted; its old name belongs in FORMER_LOCATIONS instead.
    pytest.importorskip("torch")
    for name in io.TRUSTED_TYPES:
        if name.startswith("polymodal."):
            assert class_path(resolve(name)) == name


def test_every_former_location_leads_to_a_trusted_name():
    for former, target in FORMER_LOCATIONS.items():
        assert former.startswith("polymodal.")
        assert current_name(former) == class_path(resolve(target))
        assert current_name(former) in io.TRUSTED_TYPES


def _rename_in_schema(path, renames):
    """Make the model file at ``path`` name classes where ``renames`` says."""

    def edit(node):
        if isinstance(node, list):
            for item in node:
                edit(item)
        elif isinstance(node, dict):
            name = f"{node.get('__module__')}.{node.get('__class__')}"
            if name in renames:
                node["__module__"], _, node["__class__"] = renames[name].rpartition(".")
            for value in node.values():
                edit(value)

    _edit_skops_schema(path, edit)


def _schema_names(path):
    """The ``module.Name`` of every type that the model file at ``path`` names."""
    names = set()

    def collect(node):
        if isinstance(node, list):
            for item in node:
                collect(item)
        elif isinstance(node, dict):
            if "__module__" in node:
                names.add(f"{node['__module__']}.{node['__class__']}")
            for value in node.values():
                collect(value)

    _edit_skops_schema(path, collect)
    return names


def test_a_file_that_names_a_former_location_loads_without_trust(tmp_path, monkeypatch):
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(int)
    model = make_pipeline(ConcatFusion(), LogisticRegression()).fit(X, y)
    path = io.save(model, tmp_path / "model.skops")
    # As if the file were saved when ConcatFusion lived in another module.
    former = "polymodal.fusion._former_early.ConcatFusion"
    _rename_in_schema(path, {class_path(ConcatFusion): former})
    assert former in _schema_names(path)
    with pytest.raises(io.UntrustedModelError) as error:
        io.load(path)
    assert error.value.untrusted_types == [former]

    monkeypatch.setitem(FORMER_LOCATIONS, former, "polymodal.fusion.ConcatFusion")
    loaded = io.load(path)
    assert type(loaded[0]) is ConcatFusion
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_a_former_location_trusts_nothing_new(model, tmp_path, monkeypatch):
    # The table maps names to polymodal's objects only: a file cannot reach
    # another object through it, and untrusted names stay untrusted.
    path = io.save(model, tmp_path / "model.skops")
    _rename_in_schema(
        path, {"sklearn.linear_model._logistic.LogisticRegression": "os.system"}
    )
    monkeypatch.setitem(FORMER_LOCATIONS, "os.getcwd", "polymodal.fusion.ConcatFusion")
    with pytest.raises(io.UntrustedModelError) as error:
        io.load(path)
    assert error.value.untrusted_types == ["os.system"]


def test_files_that_name_io_records_by_their_former_module_load(tmp_path, monkeypatch):
    # Files saved before polymodal.io became a package name its records
    # polymodal.io._SkorchNetRecord and so on.
    pytest.importorskip("skorch")
    from polymodal.deep import MLPClassifier

    X = np.random.default_rng(0).normal(size=(20, 3))
    y = (X[:, 0] > 0).astype(int)
    model = MLPClassifier(hidden_layer_sizes=(4,), max_epochs=2, random_state=0)
    model.fit(X, y)
    path = io.save(model, tmp_path / "mlp.model")
    before = {class_path(SkorchNetRecord): "polymodal.io._SkorchNetRecord"}
    _rename_in_schema(path, before)
    assert set(before.values()) <= _schema_names(path)
    with monkeypatch.context() as patch:
        for former in before.values():
            patch.delitem(FORMER_LOCATIONS, former)
        with pytest.raises(io.UntrustedModelError):
            io.load(path)
    loaded = io.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_command_line_models_saved_before_the_recipes_module_was_renamed_load(
    tmp_path,
):
    from sklearn.preprocessing import FunctionTransformer

    from polymodal._recipes import EncodedLabelsClassifier, to_dense

    X = np.random.default_rng(0).normal(size=(30, 3))
    y = np.where(X[:, 0] > 0, "malignant", "benign")
    model = make_pipeline(
        FunctionTransformer(to_dense), EncodedLabelsClassifier(LogisticRegression())
    ).fit(X, y)
    path = io.save(model, tmp_path / "model.polymodal")
    renames = {
        "polymodal._recipes.EncodedLabelsClassifier": (
            "polymodal._config.EncodedLabelsClassifier"
        ),
        "polymodal._recipes.to_dense": "polymodal._config.to_dense",
    }
    _rename_in_schema(path, renames)
    assert set(renames.values()) <= _schema_names(path)
    loaded = io.load(path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
