import os

# pytest-xdist runs one worker per core: torch's and BLAS's own thread pools on
# top of that only spin-wait for each other. Set before torch is imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def frame():
    """A small patient table: a note modality with absent rows and clinical values."""
    notes = [
        "no cough, mild fever",
        "persistent cough and weight loss",
        None,
        "denies chest pain",
        "cough with haemoptysis",
        "   ",
        "fever and fatigue",
        "no fever, no cough",
        "weight loss and cough",
        np.nan,
        "chest pain on exertion",
        "fatigue, no weight loss",
    ]
    return pd.DataFrame(
        {
            "note": notes,
            "age": [61, 54, 70, 45, 66, 58, 49, 72, 63, 55, 68, 51],
            "pack_years": [20.0, 35, 0, 5, 40, 12, 0, 30, 25, np.nan, 15, 8],
            "sex": ["F", "M", "M", "F", "M", "F", "F", "M", "M", "F", "M", "F"],
        }
    )


@pytest.fixture
def target():
    return np.array([0, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 1])
