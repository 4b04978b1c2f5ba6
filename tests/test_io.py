import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from polymodal import io
from polymodal.exceptions import PolymodalWarning


@pytest.fixture
def model():
    return LogisticRegression().fit(np.array([[0.0], [1.0], [2.0]]), [0, 1, 1])


def test_round_trip_records_versions(model, tmp_path):
    path = io.save(model, tmp_path / "sub" / "model.joblib")
    record = joblib.load(path)
    assert record["versions"]["polymodal"] is not None
    assert set(record["versions"]) == {"polymodal", "scikit-learn", "numpy", "torch"}
    loaded = io.load(path)
    np.testing.assert_array_equal(
        loaded.predict_proba([[0.5]]), model.predict_proba([[0.5]])
    )


def test_other_versions_warn(model, tmp_path):
    path = tmp_path / "model.joblib"
    io.save(model, path)
    record = joblib.load(path)
    record["versions"]["scikit-learn"] = "0.1"
    joblib.dump(record, path)
    with pytest.warns(PolymodalWarning, match=r"scikit-learn 0\.1 \(now"):
        io.load(path)


def test_plain_joblib_file_is_rejected(model, tmp_path):
    joblib.dump(model, tmp_path / "plain.joblib")
    with pytest.raises(ValueError, match="not a polymodal model file"):
        io.load(tmp_path / "plain.joblib")
