from pathlib import Path

import pandas as pd
import pytest

from polymodal import io
from polymodal.cli import main


@pytest.mark.slow
def test_compare_then_predict_on_the_builtin_cohort(tmp_path, capsys):
    output = tmp_path / "results"
    assert (
        main(["compare", "--n-samples", "120", "--cv", "3", "--output", str(output)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "| rank | candidate | roc_auc |" in printed
    assert "concat + random forest" in printed
    assert "ct only + xgboost" in printed
    assert f"saved to {output / 'best_model.joblib'}" in printed
    cohort = output / "cohort" / "cohort.csv"
    table = pd.read_csv(cohort)
    assert table["ct"].str.endswith(".png").all()
    assert table["ct"].map(lambda path: Path(path).is_absolute()).all()
    assert (output / "comparison.md").read_text().count("\n") == 2 + 15
    model = io.load(output / "best_model.joblib")
    assert hasattr(model, "predict_proba")

    predictions_path = tmp_path / "predictions.csv"
    assert (
        main(
            [
                "predict",
                str(output / "best_model.joblib"),
                str(cohort),
                "--output",
                str(predictions_path),
            ]
        )
        == 0
    )
    predictions = pd.read_csv(predictions_path)
    assert len(predictions) == len(table)
    assert list(predictions.columns) == [
        "patient_id",
        "prediction",
        "probability_0",
        "probability_1",
    ]
    assert predictions["probability_1"].between(0, 1).all()


def test_predict_rejects_a_missing_table(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        main(["predict", str(tmp_path / "model.joblib"), str(tmp_path / "absent.csv")])


def test_compare_names_a_missing_target(tmp_path):
    table = tmp_path / "cohort.csv"
    pd.DataFrame({"age": [1, 2]}).to_csv(table, index=False)
    with pytest.raises(SystemExit, match="'diagnosis' is not in"):
        main(["compare", "--data", str(table), "--output", str(tmp_path / "out")])


def test_unknown_table_format(tmp_path):
    with pytest.raises(SystemExit, match="not a table"):
        main(["compare", "--data", str(tmp_path / "cohort.xlsx")])
