"""Model files saved by an earlier polymodal keep loading, with the same predictions.

The files under tests/data/saved_models were written once by
``make_saved_models.py`` and are never rewritten here: when a class moves to
another module, these tests fail unless ``polymodal.io.load`` still finds it.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from polymodal import io

SAVED = Path(__file__).parent / "data" / "saved_models"
EXPECTED = json.loads((SAVED / "expected.json").read_text())
MODELS = sorted(name for name in EXPECTED if name != "written_by")


def test_every_saved_model_is_tested():
    assert sorted(path.stem for path in SAVED.glob("*.polymodal")) == MODELS


@pytest.mark.parametrize("name", MODELS)
def test_a_model_file_saved_earlier_loads_without_trust_and_predicts_the_same(name):
    X = pd.read_csv(SAVED / "cohort.csv", index_col="patient_id")
    model = io.load(SAVED / f"{name}.polymodal")
    assert_allclose(model.predict_proba(X), np.asarray(EXPECTED[name]), atol=1e-9)
    assert list(model.classes_) == ["benign", "malignant"]
