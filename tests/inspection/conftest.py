import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from polymodal import MultimodalUnion
from polymodal.fusion import ConcatFusion

COLUMNS = {
    "signal": ["s1", "s2"],
    "weak": ["w1"],
    "noise": ["n1", "n2"],
}


@pytest.fixture(scope="session")
def cohort():
    """120 rows: "signal" decides y, "weak" hints at it, "noise" is unrelated."""
    rng = np.random.default_rng(0)
    n_samples = 120
    s1, s2 = rng.normal(size=(2, n_samples))
    y = (s1 + s2 + 0.3 * rng.normal(size=n_samples) > 0).astype(int)
    X = pd.DataFrame(
        {
            "s1": s1,
            "s2": s2,
            "w1": y + rng.normal(0, 1.5, n_samples),
            "n1": rng.normal(size=n_samples),
            "n2": rng.normal(size=n_samples),
        }
    )
    return X, y


def _make_pipe(modalities=("signal", "noise"), fusion=None, head=None):
    union = MultimodalUnion(
        [(name, StandardScaler(), COLUMNS[name]) for name in modalities]
    )
    return Pipeline(
        [
            ("union", union),
            ("fusion", ConcatFusion() if fusion is None else fusion),
            ("head", LogisticRegression() if head is None else head),
        ]
    )


@pytest.fixture
def make_pipe():
    """Build the usual union → ConcatFusion → logistic regression pipeline."""
    return _make_pipe
