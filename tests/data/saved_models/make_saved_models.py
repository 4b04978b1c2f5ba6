"""Write the model files that tests/test_saved_models.py loads.

The files are committed and never rewritten by the tests: they stand for model
files users saved with an earlier polymodal, which must keep loading when
classes move between modules. Run this script only to add a model, and say in
the commit which version wrote the files.

    .venv/bin/python tests/data/saved_models/make_saved_models.py
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import polymodal
from polymodal import MultimodalUnion, io
from polymodal.fusion import (
    AverageFusion,
    ConcatFusion,
    LateFusionClassifier,
    StackingFusionClassifier,
)
from polymodal.text import ClinicalTextVectorizer

HERE = Path(__file__).resolve().parent
WORDS = ["cough", "fever", "weight", "loss", "pain", "fatigue", "nodule", "smoker"]


def cohort(n=48, seed=0):
    """A small table: a note (some absent) and two clinical values."""
    rng = np.random.default_rng(seed)
    y = np.tile(["benign", "malignant"], n // 2)
    notes = [
        " ".join(rng.choice(WORDS[:4] if label == "malignant" else WORDS[4:], 3))
        for label in y
    ]
    X = pd.DataFrame(
        {
            "note": notes,
            "age": 55 + 10 * (y == "malignant") + rng.normal(0, 8, n),
            "pack_years": rng.gamma(2.0, 10.0, n),
        },
        index=[f"P{i:03d}" for i in range(n)],
    )
    X.loc[X.index[::7], "note"] = None
    return X, pd.Series(y, index=X.index)


def union():
    return MultimodalUnion(
        [
            ("note", ClinicalTextVectorizer(), "note"),
            ("clinical", StandardScaler(), ["age", "pack_years"]),
        ]
    )


def models():
    return {
        "concat_forest": Pipeline(
            [
                ("union", union()),
                ("fusion", ConcatFusion()),
                ("head", RandomForestClassifier(n_estimators=10, random_state=0)),
            ]
        ),
        "average_logistic": Pipeline(
            [
                ("union", union()),
                ("fusion", AverageFusion(n_components=2)),
                ("head", LogisticRegression()),
            ]
        ),
        "late_fusion": Pipeline(
            [
                ("union", union()),
                ("fusion", "passthrough"),
                ("head", LateFusionClassifier(LogisticRegression())),
            ]
        ),
        "stacking": Pipeline(
            [
                ("union", union()),
                ("fusion", "passthrough"),
                ("head", StackingFusionClassifier(LogisticRegression(), cv=3)),
            ]
        ),
    }


def main():
    X, y = cohort()
    X.to_csv(HERE / "cohort.csv", index_label="patient_id")
    expected = {"written_by": polymodal.__version__}
    for name, model in models().items():
        model.fit(X, y)
        io.save(model, HERE / f"{name}.polymodal")
        expected[name] = np.round(model.predict_proba(X), 12).tolist()
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
