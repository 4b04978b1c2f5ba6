import subprocess
import sys
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

from polymodal import io
from polymodal.cli import main
from polymodal.datasets import make_patients
from polymodal.exceptions import PolymodalWarning, RowFailureWarning

EXAMPLE = Path(__file__).parents[1] / "examples" / "polymodal.toml"
# Small and quick: one head, one fusion step and one final step.
QUICK = ["--cv", "2", "--fusions", "concat", "late", "--heads", "logistic"]


def fails(argv, capsys):
    """Run the command line, expecting a user error; return its message."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("polymodal: ")
    assert err.count("\n") == 1, err
    return err


@pytest.fixture(scope="module")
def builtin_run(tmp_path_factory):
    """`polymodal compare` on a small built-in cohort: (output folder, stdout)."""
    out = tmp_path_factory.mktemp("builtin") / "results"
    argv = ["compare", "--n-samples", "80", "--missing", "0.1", "--out", str(out)]
    printed = StringIO()
    with redirect_stdout(printed):
        assert main([*argv, *QUICK]) == 0
    return out, printed.getvalue()


def test_compare_on_the_builtin_cohort(builtin_run):
    out, printed = builtin_run
    assert "[compare_fusions] fold 1/2" in printed
    assert "[compare_fusions] fold 2/2" in printed
    assert "| rank | candidate | roc_auc |" in printed
    for candidate in ("concat + logistic", "late", "ct only + logistic"):
        assert f"| {candidate} |" in printed
    assert f"saved to {out / 'model.polymodal'}" in printed
    for name in ("report.md", "scores.png", "results.json", "model.polymodal"):
        assert (out / name).is_file()
    table = pd.read_csv(out / "cohort" / "cohort.csv")
    assert len(table) == 80
    assert table["ct"].dropna().str.endswith(".png").all()
    assert table["ct"].dropna().map(lambda path: Path(path).is_absolute()).all()
    assert hasattr(io.load(out / "model.polymodal"), "predict_proba")


def test_predict_reports_the_modalities_each_row_used(builtin_run, tmp_path, capsys):
    out, _ = builtin_run
    cohort = pd.read_csv(out / "cohort" / "cohort.csv")
    table = cohort.dropna().head(5).reset_index(drop=True)
    table.loc[0, "ct"] = None
    table.loc[1, "note"] = "   "
    table.loc[2, ["age", "sex", "pack_years"]] = np.nan
    table.loc[3, ["ct", "dna"]] = None
    data = tmp_path / "new_patients.csv"
    table.to_csv(data, index=False)
    assert main(["predict", str(out / "model.polymodal"), str(data)]) == 0
    written = tmp_path / "new_patients_predictions.csv"
    assert f"written to {written}" in capsys.readouterr().out
    predictions = pd.read_csv(written)
    assert list(predictions.columns) == [
        "patient_id",
        "prediction",
        "probability_0",
        "probability_1",
        "modalities_used",
    ]
    assert list(predictions["patient_id"]) == list(table["patient_id"])
    used = list(predictions["modalities_used"])
    assert used[0] == "note;dna;clinical"
    assert used[1] == "ct;dna;clinical"
    assert used[2] == "ct;note;dna"
    assert used[3] == "note;clinical"
    assert used[4] == "ct;note;dna;clinical"
    np.testing.assert_allclose(
        predictions[["probability_0", "probability_1"]].sum(axis=1), 1, atol=1e-5
    )


def test_predict_names_the_columns_the_model_needs(builtin_run, tmp_path, capsys):
    out, _ = builtin_run
    table = pd.read_csv(out / "cohort" / "cohort.csv").head(3)
    data = tmp_path / "partial.csv"
    table.drop(columns=["note", "sex"]).to_csv(data, index=False)
    err = fails(["predict", str(out / "model.polymodal"), str(data)], capsys)
    assert "lacks the columns note, sex, which the model reads for the " in err
    assert "modalities clinical, note." in err


def test_compare_with_a_config_on_a_table_of_image_paths(tmp_path, capsys, monkeypatch):
    X, y = make_patients(n_samples=60, as_files=tmp_path / "images", random_state=1)
    X = X.assign(diagnosis=y.map({0: "benign", 1: "malignant"}))
    X.loc[:4, "ct"] = str(tmp_path / "images" / "lost.png")
    data = tmp_path / "cohort.csv"
    X.drop(columns=["dna"]).to_csv(data, index=False)
    # The example reads a dna column that this table lacks: nothing is fitted.
    err = fails(["compare", str(data), "--config", str(EXAMPLE)], capsys)
    assert (
        "polymodal.toml: [modalities.dna] columns: 'dna' is not a column of "
        f"{data}; its columns are patient_id, ct, note, age, sex, pack_years, "
        "diagnosis."
    ) in err
    text = EXAMPLE.read_text()
    start = text.index("[modalities.dna]")
    config = tmp_path / "cohort.toml"
    config.write_text(text[:start] + text[text.index("[modalities.clinical]") :])
    err = fails(["compare", str(data), "--config", str(config), "--cv", "2"], capsys)
    assert (
        "the xgboost head needs the classes of 'diagnosis' coded 0 to 1; they are "
        "'benign', 'malignant'. Recode the column, or leave xgboost out of --heads."
    ) in err

    out = tmp_path / "results"
    argv = ["compare", str(data), "--config", str(config), "-o", str(out), *QUICK]
    with pytest.warns(RowFailureWarning, match="Modality 'ct': rows"):
        assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| ct only + logistic |" in printed
    assert "dna only" not in printed
    model = io.load(out / "model.polymodal")
    assert model[0].transformers[0][1].steps[0][1].on_error == "missing"
    assert list(model.classes_) == ["benign", "malignant"]

    # -o is relative to the working directory.
    monkeypatch.chdir(tmp_path)
    argv = ["predict", str(out / "model.polymodal"), str(data), "-o", "p.csv"]
    with pytest.warns(RowFailureWarning, match=r"rows \[0, 1, 2, 3, 4\]"):
        assert main(argv) == 0
    predictions = pd.read_csv(tmp_path / "p.csv")
    # The five unreadable scans count as absent.
    assert (predictions["modalities_used"][:5] == "note;clinical").all()
    assert (predictions["modalities_used"][5:] == "ct;note;clinical").all()
    assert set(predictions["prediction"]) <= {"benign", "malignant"}
    assert "probability_malignant" in predictions


def test_flags_override_the_config(tmp_path, capsys):
    X, y = make_patients(n_samples=40, random_state=0)
    data = tmp_path / "cohort.csv"
    X.assign(label=y).to_csv(data)
    config = tmp_path / "cohort.toml"
    config.write_text(
        'target = "diagnosis"\ngroups = "visit"\n'
        '[modalities.clinical]\ncolumns = ["pack_years"]\ntransformer = "tabular"\n'
    )
    argv = ["compare", str(data), "--config", str(config), "-o", str(tmp_path)]
    assert "the target column 'diagnosis' is not in" in fails(argv, capsys)
    argv += ["--target", "label"]
    assert "the groups column 'visit' is not in" in fails(argv, capsys)
    argv += ["--groups", "patient_id", "--cv", "2", "--fusions", "concat"]
    assert main([*argv, "--heads", "logistic"]) == 0
    assert "| clinical only + logistic |" in capsys.readouterr().out


@pytest.mark.slow
def test_the_mlp_head(tmp_path, capsys):
    X, y = make_patients(n_samples=40, random_state=0)
    data = tmp_path / "cohort.csv"
    X.assign(diagnosis=y).to_csv(data)
    config = tmp_path / "cohort.toml"
    config.write_text(
        'target = "diagnosis"\n'
        '[modalities.clinical]\ncolumns = ["age", "sex"]\ntransformer = "tabular"\n'
        '[modalities.smoking]\ncolumns = "pack_years"\ntransformer = "tabular"\n'
    )
    argv = ["compare", str(data), "--config", str(config), "-o", str(tmp_path)]
    assert main([*argv, "--cv", "2", "--fusions", "concat", "--heads", "mlp"]) == 0
    assert "| concat + mlp |" in capsys.readouterr().out


@pytest.mark.slow
def test_compare_with_the_default_candidates_then_predict(tmp_path, capsys):
    out = tmp_path / "results"
    assert main(["compare", "--n-samples", "80", "--cv", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for candidate in (
        "concat + logistic",
        "concat + random_forest",
        "concat + xgboost",
        "late",
        "stacking",
        "ct only + xgboost",
    ):
        assert f"| {candidate} |" in printed
    cohort = out / "cohort" / "cohort.csv"
    assert main(["predict", str(out / "model.polymodal"), str(cohort)]) == 0
    predictions = pd.read_csv(cohort.with_name("cohort_predictions.csv"))
    assert len(predictions) == 80
    assert (predictions["modalities_used"] == "ct;note;dna;clinical").all()


@pytest.mark.slow
def test_every_fusion_and_head_runs(tmp_path, capsys):
    out = tmp_path / "results"
    argv = ["compare", "--n-samples", "60", "--cv", "2", "--out", str(out)]
    argv += ["--fusions", "average", "product", "tensor", "kernel", "subspace"]
    argv += ["factorization", "deep", "--heads", "svm"]
    # The clinical block is narrower than the projections' common width.
    with pytest.warns(PolymodalWarning, match="fewer than n_components"):
        assert main(argv) == 0
    printed = capsys.readouterr().out
    for candidate in (
        "average + svm",
        "product + svm",
        "tensor + svm",
        "kernel + svm (precomputed kernel)",
        "subspace + svm",
        "factorization + svm",
        "deep",
    ):
        assert f"| {candidate} |" in printed
    assert "kernel + svm |" not in printed


@pytest.mark.parametrize(
    ("option", "name", "valid"),
    [
        ("--fusions", "early", "concat, average, product, tensor, kernel, subspace"),
        ("--heads", "svc", "logistic, random_forest, xgboost, svm, mlp"),
    ],
)
def test_unknown_names_list_the_valid_ones(tmp_path, capsys, option, name, valid):
    first = valid.split(",")[0]
    err = fails(["compare", option, first, name, "-o", str(tmp_path)], capsys)
    assert f"{option}: unknown name {name!r}; choose from {valid}" in err
    # The names are checked before anything is written.
    assert not any(tmp_path.iterdir())


def test_a_head_whose_package_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "xgboost", None)
    err = fails(["compare", "--heads", "xgboost", "-o", str(tmp_path)], capsys)
    assert "--heads xgboost: import of xgboost halted" in err


def test_final_step_fusions_alone_are_refused(tmp_path, capsys):
    err = fails(["compare", "--fusions", "late", "-o", str(tmp_path)], capsys)
    assert "--fusions: name at least one fusion step that feeds the heads" in err


def test_a_table_without_the_builtin_columns_needs_a_config(tmp_path, capsys):
    data = tmp_path / "cohort.csv"
    pd.DataFrame({"age": [1, 2, 3, 4], "diagnosis": [0, 1, 0, 1]}).to_csv(data)
    err = fails(["compare", str(data), "--cv", "2", "-o", str(tmp_path)], capsys)
    assert "lacks the built-in cohort's columns ct, note, dna, sex, pack_years" in err
    assert "--config (see examples/polymodal.toml)" in err


@pytest.mark.parametrize(
    ("target", "values", "message"),
    [
        ("outcome", [0, 1] * 4, "the target column 'outcome' is not in"),
        ("diagnosis", [0.5, 1.5, 2.5, 3.5] * 2, "holds continuous values"),
        ("diagnosis", [0, 1, 1, 1, 1, 1, 1, 1], "class 0 of 'diagnosis' has 1 rows"),
        ("diagnosis", [0, 1, None, 1, 0, 1, 0, 1], "is empty in 1 rows (first: 2)"),
    ],
)
def test_a_bad_target_is_a_user_error(tmp_path, capsys, target, values, message):
    X, _ = make_patients(n_samples=8, random_state=0)
    data = tmp_path / "cohort.csv"
    X.assign(diagnosis=values).to_csv(data, index=False)
    argv = ["compare", str(data), "--target", target, "--cv", "2"]
    assert message in fails([*argv, "-o", str(tmp_path)], capsys)


def test_a_bad_config_is_a_user_error(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text('[modalities.ct]\ncolumns = "ct"\ntransformer = "cnn"\n')
    err = fails(["compare", "--config", str(config), "-o", str(tmp_path)], capsys)
    assert "[modalities.ct] transformer: unknown recipe 'cnn'" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "cohort.xlsx"], "cohort.xlsx is not a table"),
        (["compare", "absent.csv"], "absent.csv does not exist"),
        (["compare", "--config", "absent.toml"], "cannot read the config file"),
        (["predict", "absent.joblib", "cohort.csv"], "the model file absent.joblib"),
        (["compare", "--cv", "1"], "argument --cv: expected at least 2; got 1"),
        (["compare", "--cv", "two"], "argument --cv: invalid int value: 'two'"),
        (["compare", "--data", "cohort.csv"], "unrecognized arguments: --data"),
        (["compare", "--n-jobs", "2"], "unrecognized arguments: --n-jobs"),
        (["predict", "model.polymodal"], "required: DATA"),
        (["compare", "--missing", "1"], "--missing: expected a share in [0, 1)"),
        (["compare", "-o", "cohort.csv/out"], "cannot create the folder cohort.csv"),
    ],
)
def test_user_errors_exit_with_status_2(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    Path("cohort.csv").write_text("age,diagnosis\n61,1\n")
    assert message in fails(argv, capsys)


def test_an_unreadable_table_is_a_user_error(tmp_path, capsys):
    data = tmp_path / "cohort.parquet"
    data.write_text("not parquet")
    err = fails(["compare", str(data), "-o", str(tmp_path)], capsys)
    assert f"cannot read {data}: " in err


def test_predict_refuses_a_file_that_is_not_a_model(tmp_path, capsys):
    model = tmp_path / "model.joblib"
    model.write_text("not a pickle")
    err = fails(["predict", str(model), str(tmp_path / "x.csv")], capsys)
    assert f"refusing to load the model file: {model} is not in polymodal's" in err
    assert "Pass --trust to load it anyway" in err
    err = fails(["predict", str(model), str(tmp_path / "x.csv"), "--trust"], capsys)
    assert f"cannot load the model file {model}" in err


class Halver(TransformerMixin, BaseEstimator):
    """A transformer of the user's own, which polymodal does not trust."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X / 2


def test_predict_refuses_untrusted_types_without_trust(tmp_path, capsys):
    model = io.save(Halver().fit([[1.0]]), tmp_path / "model.skops")
    data = tmp_path / "x.csv"
    err = fails(["predict", str(model), str(data)], capsys)
    assert (
        f"refusing to load the model file: {model} holds types that polymodal does "
        f"not trust: {__name__}.Halver. Pass --trust to load it anyway"
    ) in err
    err = fails(["predict", str(model), str(data), "--trust"], capsys)
    assert "does not hold a fitted pipeline that starts with a MultimodalUnion" in err


def test_predict_loads_a_plain_pickle_only_with_trust(builtin_run, tmp_path, capsys):
    out, _ = builtin_run
    data = out / "cohort" / "cohort.csv"
    plain = tmp_path / "plain.joblib"
    joblib.dump(io.load(out / "model.polymodal"), plain)
    argv = ["predict", str(plain), str(data), "-o", str(tmp_path / "plain.csv")]
    err = fails(argv, capsys)
    assert "a pickle?), and loading a pickle runs code from the file" in err
    assert (
        "Pass --trust to load it anyway, only if you trust where it comes from" in err
    )
    assert not (tmp_path / "plain.csv").exists()

    assert main([*argv, "--trust"]) == 0
    argv = ["predict", str(out / "model.polymodal"), str(data)]
    assert main([*argv, "-o", str(tmp_path / "saved.csv")]) == 0
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "plain.csv"), pd.read_csv(tmp_path / "saved.csv")
    )


def test_the_installed_command_exits_with_status_2(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "polymodal.cli", "compare", "--heads", "gbm"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.startswith("polymodal: --heads: unknown name 'gbm'")
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (
            "compare",
            [
                "DATA",
                "--config",
                "--target",
                "--groups",
                "--cv",
                "--fusions",
                "--heads",
                "--jobs",
                "--out",
                "--n-samples",
                "--language",
                "--missing",
                "--random-state",
            ],
        ),
        ("predict", ["MODEL", "DATA", "-o", "--out", "--trust"]),
    ],
)
def test_help_documents_every_option(capsys, command, options):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    for option in options:
        assert option in printed
    if command == "compare":
        for recipe in ("image", "text", "sentence", "kmer", "molecule", "tabular"):
            assert f"    {recipe} " in printed
        assert "[modalities.<name>]" in printed
        for name in ("deep", "factorization", "mlp", "xgboost"):
            assert name in printed
