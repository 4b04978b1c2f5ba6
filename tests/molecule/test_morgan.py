import sys
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from polymodal import MultimodalUnion
from polymodal.exceptions import RowFailureWarning
from polymodal.fusion import ConcatFusion
from polymodal.molecule import MorganFingerprint

Chem = pytest.importorskip("rdkit.Chem")
rdFingerprintGenerator = pytest.importorskip("rdkit.Chem.rdFingerprintGenerator")

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
MOLECULES = ["CCO", "c1ccccc1", ASPIRIN]
# (R)- and (S)-alanine: identical without chirality.
ALANINES = ["C[C@@H](C(=O)O)N", "C[C@H](C(=O)O)N"]


def rdkit_fingerprints(smiles, radius=2, n_bits=2048, counts=False, chirality=False):
    generator = rdFingerprintGenerator.GetMorganGenerator(
        radius=radius, fpSize=n_bits, includeChirality=chirality
    )
    get = (
        generator.GetCountFingerprintAsNumPy
        if counts
        else generator.GetFingerprintAsNumPy
    )
    return np.array([get(Chem.MolFromSmiles(s)) for s in smiles], dtype=float)


@pytest.mark.parametrize(("radius", "n_bits"), [(2, 2048), (1, 64), (3, 1024)])
def test_bits_match_rdkit(radius, n_bits):
    fingerprint = MorganFingerprint(radius=radius, n_bits=n_bits)
    bits = fingerprint.fit_transform(MOLECULES)
    assert bits.dtype == np.float64 and bits.shape == (3, n_bits)
    np.testing.assert_array_equal(
        bits, rdkit_fingerprints(MOLECULES, radius=radius, n_bits=n_bits)
    )
    assert set(np.unique(bits)) <= {0.0, 1.0}
    assert fingerprint.n_features_in_ == 1 and fingerprint.n_features_out_ == n_bits


def test_counts():
    bits = MorganFingerprint().fit_transform(MOLECULES)
    counts = MorganFingerprint(counts=True).fit_transform(MOLECULES)
    np.testing.assert_array_equal(counts, rdkit_fingerprints(MOLECULES, counts=True))
    # Benzene's six identical carbons share their environments.
    assert counts[1].max() == 6
    np.testing.assert_array_equal(counts > 0, bits > 0)


def test_chirality_separates_enantiomers():
    plain = MorganFingerprint().fit_transform(ALANINES)
    np.testing.assert_array_equal(plain[0], plain[1])
    chiral = MorganFingerprint(chirality=True).fit_transform(ALANINES)
    assert not np.array_equal(chiral[0], chiral[1])
    np.testing.assert_array_equal(chiral, rdkit_fingerprints(ALANINES, chirality=True))


def test_feature_names():
    names = MorganFingerprint(n_bits=16).fit(["C"]).get_feature_names_out()
    assert names.dtype == object
    assert list(names) == [f"morgan{i}" for i in range(16)]


def test_input_shapes_and_whitespace():
    expected = rdkit_fingerprints(["CCO", "c1ccccc1"])
    fingerprint = MorganFingerprint().fit(["C"])
    for X in (
        ["CCO", "c1ccccc1"],
        np.array(["CCO", "c1ccccc1"], dtype=object),
        np.array([["CCO"], ["c1ccccc1"]], dtype=object),
        pd.Series(["CCO", "c1ccccc1"]),
        pd.DataFrame({"smiles": ["CCO", "c1ccccc1"]}),
        [" CCO\n", "\tc1ccccc1 "],
    ):
        np.testing.assert_array_equal(fingerprint.transform(X), expected)


@pytest.mark.parametrize(
    ("smiles", "reason"),
    [
        ("C1CC", "syntax error"),
        ("C(C)(C)(C)(C)C", "Explicit valence"),
        ("not a molecule", "syntax error"),
        ("  ", "empty string"),
    ],
)
def test_invalid_smiles_raises_naming_row(smiles, reason, capfd):
    X = pd.Series(["CCO", smiles], index=["p1", "p2"])
    fingerprint = MorganFingerprint().fit(["C"])
    with pytest.raises(ValueError, match=r"row 'p2'.*" + reason) as info:
        fingerprint.transform(X)
    assert repr(smiles) in str(info.value)
    assert "on_error='missing'" in str(info.value)
    # RDKit's parser messages are silenced.
    assert "SMILES Parse Error" not in capfd.readouterr().err


def test_rdkit_logging_is_restored(capfd):
    MorganFingerprint(on_error="missing").fit_transform(["C1CC"])
    assert capfd.readouterr().err == ""
    Chem.MolFromSmiles("C1CC")
    assert "SMILES Parse Error" in capfd.readouterr().err


def test_on_error_missing_gives_all_nan_rows_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = MorganFingerprint(on_error="missing").fit_transform(
            ["CCO", "C1CC", ASPIRIN, ""]
        )
    assert np.isnan(out[[1, 3]]).all()
    assert not np.isnan(out[[0, 2]]).any()
    np.testing.assert_array_equal(out[[0, 2]], rdkit_fingerprints(["CCO", ASPIRIN]))


@pytest.mark.parametrize("on_error", ["raise", "missing"])
@pytest.mark.parametrize("cell", [None, 3.5, np.nan])
def test_non_string_cell_raises_naming_row(cell, on_error):
    fingerprint = MorganFingerprint(on_error=on_error)
    with pytest.raises(ValueError, match=r"row 1 holds .* not a SMILES string"):
        fingerprint.fit(["CCO", cell])
    with pytest.raises(ValueError, match=r"row 1 holds .*called directly"):
        fingerprint.fit(["C"]).transform(["CCO", cell])


def test_bad_containers_and_parameters():
    with pytest.raises(TypeError, match="single str"):
        MorganFingerprint().fit("CCO")
    with pytest.raises(ValueError, match="one column"):
        MorganFingerprint().fit(pd.DataFrame({"a": ["C"], "b": ["C"]}))
    with pytest.raises(ValueError, match="0 sample"):
        MorganFingerprint().fit([])
    with pytest.raises(ValueError, match="n_bits"):
        MorganFingerprint(n_bits=0).fit(["C"])
    with pytest.raises(ValueError, match="on_error"):
        MorganFingerprint(on_error="skip").fit(["C"])


def test_missing_rdkit_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "rdkit", None)
    with pytest.raises(ImportError, match=r'pip install "polymodal\[molecule\]"'):
        MorganFingerprint().fit(["CCO"])


def test_in_union_pipeline_marks_failed_and_missing_rows_absent():
    rng = np.random.default_rng(0)
    smiles = (MOLECULES + ALANINES + ["CCN", "CCCl", "c1ccncc1"]) * 3
    smiles[2], smiles[7] = None, "C1CC"
    X = pd.DataFrame({"smiles": smiles, "age": rng.normal(60, 10, len(smiles))})
    y = np.arange(len(smiles)) % 2
    union = MultimodalUnion(
        [
            ("molecule", MorganFingerprint(n_bits=128, on_error="missing"), "smiles"),
            ("clinical", StandardScaler(), ["age"]),
        ]
    )
    with pytest.warns(RowFailureWarning, match=r"'molecule': rows \[7\]"):
        blocks = union.fit_transform(X)
    mask = blocks.masks["molecule"]
    assert not mask[2] and not mask[7] and mask.sum() == len(smiles) - 2
    assert blocks.masks["clinical"].all()
    model = Pipeline(
        [
            ("union", clone(union)),
            ("fusion", ConcatFusion()),
            ("head", LogisticRegression()),
        ]
    )
    with pytest.warns(RowFailureWarning):
        model.fit(X, y)
    with pytest.warns(RowFailureWarning):
        predictions = model.predict(X)
    assert predictions.shape == (len(smiles),)
    assert set(predictions) <= {0, 1}


def test_joblib_round_trip_and_determinism(tmp_path):
    fingerprint = MorganFingerprint(n_bits=256, counts=True).fit(MOLECULES)
    path = tmp_path / "morgan.joblib"
    joblib.dump(fingerprint, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(
        loaded.transform(MOLECULES), fingerprint.transform(MOLECULES)
    )
    np.testing.assert_array_equal(
        clone(fingerprint).fit_transform(MOLECULES), fingerprint.transform(MOLECULES)
    )
    # Row order and batch composition do not change a molecule's fingerprint.
    np.testing.assert_array_equal(
        fingerprint.transform(MOLECULES[::-1]), fingerprint.transform(MOLECULES)[::-1]
    )
    np.testing.assert_array_equal(
        fingerprint.transform(MOLECULES[1:2]), fingerprint.transform(MOLECULES)[1:2]
    )
