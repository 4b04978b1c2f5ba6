import shlex
import subprocess
import sys
import warnings
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
from polymodal.exceptions import (
    MissingModalityWarning,
    PolymodalWarning,
    RowFailureWarning,
)

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
        "errors",
    ]
    assert predictions["errors"].isna().all()
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

    out = tmp_path / "results"
    argv = ["compare", str(data), "--config", str(config), "-o", str(out), *QUICK]
    # Rows are named by patient, not by their number in the file.
    rows = r"\['P0001', 'P0002', 'P0003', 'P0004', 'P0005'\]"
    with pytest.warns(RowFailureWarning, match=f"Modality 'ct': rows {rows}"):
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
    with pytest.warns(RowFailureWarning, match=f"rows {rows}"):
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
        ("predict", ["MODEL", "DATA", "-o", "--out", "--on-error", "--trust"]),
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


# -- compare -> predict, whichever candidate wins ---------------------------------


@pytest.fixture(scope="module")
def labelled_cohort(tmp_path_factory):
    """A small cohort table with image files and string labels."""
    folder = tmp_path_factory.mktemp("labelled")
    X, y = make_patients(n_samples=40, as_files=folder / "images", random_state=0)
    data = folder / "cohort.csv"
    X.assign(diagnosis=y.map({0: "benign", 1: "malignant"})).to_csv(data, index=False)
    return data


def force_winner(monkeypatch, winner):
    """Make ``winner`` the best candidate of the comparisons that follow."""
    from polymodal.model_selection import FusionComparison

    ranked_means = FusionComparison._ranked_means

    def winner_first(self, metric):
        means = ranked_means(self, metric)
        assert winner in means.index, list(means.index)
        return means.loc[[winner, *means.index.drop(winner)]]

    # The scores stay as they are; only the choice of the best is forced.
    monkeypatch.setattr(FusionComparison, "_ranked_means", winner_first)


def _winner(name, marks=()):
    return pytest.param(name, id=name.split(" (")[0].replace(" ", ""), marks=marks)


#: Candidate that must win -> the options of the comparison it wins in.
WINNERS = {
    "concat + logistic": [],
    "concat + random_forest": ["--heads", "random_forest"],
    "concat + extra_trees": ["--heads", "extra_trees"],
    "concat + gradient_boosting": ["--heads", "gradient_boosting"],
    "concat + hist_gradient_boosting": ["--heads", "hist_gradient_boosting"],
    "concat + xgboost": ["--heads", "xgboost"],
    "concat + knn": ["--heads", "knn"],
    "concat + svm": ["--heads", "svm"],
    "concat + mlp": ["--heads", "mlp"],
    "kernel + svm (precomputed kernel)": ["--fusions", "concat", "kernel"],
    "average + logistic": ["--fusions", "average"],
    "product + logistic": ["--fusions", "product"],
    "tensor + logistic": ["--fusions", "tensor"],
    "subspace + logistic": ["--fusions", "subspace"],
    "factorization + logistic": ["--fusions", "factorization"],
    "late": ["--fusions", "concat", "late"],
    "stacking": ["--fusions", "concat", "stacking"],
    "deep": ["--fusions", "concat", "deep"],
    "dna only + logistic": [],
}
# Each of these takes more than ~2 s; the others less.
_SLOW_WINNERS = {
    "concat + random_forest",
    "concat + extra_trees",
    "concat + gradient_boosting",
    "concat + hist_gradient_boosting",
    "concat + mlp",
    "stacking",
    "deep",
}


@pytest.mark.parametrize(
    "winner",
    [
        _winner(name, marks=pytest.mark.slow if name in _SLOW_WINNERS else ())
        for name in WINNERS
    ],
)
def test_the_printed_predict_command_runs_whichever_candidate_wins(
    winner, labelled_cohort, tmp_path, capsys, monkeypatch
):
    force_winner(monkeypatch, winner)
    data = tmp_path / "cohort.csv"
    data.write_bytes(labelled_cohort.read_bytes())
    argv = ["compare", str(data), "--cv", "2", "-o", str(tmp_path / "out")]
    argv += ["--fusions", "concat", "--heads", "logistic", *WINNERS[winner]]
    with warnings.catch_warnings():
        # Narrow blocks and small folds warn; the outcome is what counts.
        warnings.simplefilter("ignore", PolymodalWarning)
        assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"Best: {winner}\n" in printed
    assert (
        "Not scored: average_precision, since it takes the class 1 as the positive "
        "one, and the classes of 'diagnosis' are 'benign', 'malignant'."
    ) in printed
    command = next(
        line for line in printed.splitlines() if line.startswith("Predict with: ")
    )
    program, *predict_argv = shlex.split(command.removeprefix("Predict with: "))
    assert program == "polymodal"
    assert main(predict_argv) == 0
    predictions = pd.read_csv(tmp_path / "cohort_predictions.csv")
    assert len(predictions) == 40
    assert set(predictions["prediction"]) <= {"benign", "malignant"}
    if winner.startswith("kernel"):
        # An SVC on a precomputed kernel gives no probabilities.
        assert "probability_benign" not in predictions
    else:
        np.testing.assert_allclose(
            predictions[["probability_benign", "probability_malignant"]].sum(axis=1),
            1,
            atol=1e-5,
        )
    assert predictions["errors"].isna().all()


def test_a_multiclass_target_is_announced(tmp_path, capsys):
    X, _ = make_patients(n_samples=45, random_state=0)
    data = tmp_path / "cohort.csv"
    X.assign(grade=np.arange(len(X)) % 3 + 1).to_csv(data, index=False)
    config = tmp_path / "cohort.toml"
    config.write_text(
        'target = "grade"\n'
        '[modalities.clinical]\ncolumns = ["age", "sex"]\ntransformer = "tabular"\n'
    )
    argv = ["compare", str(data), "--config", str(config), "-o", str(tmp_path)]
    assert main([*argv, "--cv", "2", "--fusions", "concat", "--heads", "xgboost"]) == 0
    printed = capsys.readouterr().out
    assert (
        "'grade' has more than two classes (1, 2, 3): roc_auc is scored one-vs-rest "
        "(roc_auc_ovr)."
    ) in printed
    assert "Not scored" not in printed
    assert list(io.load(tmp_path / "model.polymodal").classes_) == [1, 2, 3]


# -- predict: rows that cannot be read, rows with no modality ---------------------


def _corrupt_and_empty_rows(builtin_run, tmp_path):
    """Five complete rows of the cohort: a corrupt scan in one, nothing in another."""
    out, _ = builtin_run
    cohort = pd.read_csv(out / "cohort" / "cohort.csv")
    table = cohort.dropna().head(5).drop(columns="diagnosis").reset_index(drop=True)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    table.loc[1, "ct"] = str(corrupt)
    table.loc[3, ["ct", "note", "dna", "age", "sex", "pack_years"]] = None
    data = tmp_path / "new.csv"
    table.to_csv(data, index=False)
    return out / "model.polymodal", data, table, cohort


def test_predict_stops_at_an_unreadable_cell_and_says_how_to_go_on(
    builtin_run, tmp_path, capsys
):
    model, data, table, _ = _corrupt_and_empty_rows(builtin_run, tmp_path)
    err = fails(["predict", str(model), str(data)], capsys)
    assert "corrupt.png" in err
    assert f"Row {table.loc[1, 'patient_id']}: cannot read the image file" in err
    assert (
        "To predict such rows from their other modalities instead, and flag them "
        "in the errors column, pass --on-error missing."
    ) in err
    assert not data.with_name("new_predictions.csv").exists()


def test_predict_on_error_missing_flags_the_row_and_predicts_the_rest(
    builtin_run, tmp_path, capsys
):
    model, data, table, cohort = _corrupt_and_empty_rows(builtin_run, tmp_path)
    corrupt_id, empty_id = table.loc[1, "patient_id"], table.loc[3, "patient_id"]
    argv = ["predict", str(model), str(data), "--on-error", "missing"]
    with (
        pytest.warns(
            RowFailureWarning, match=rf"Modality 'ct': rows \['{corrupt_id}'\]"
        ),
        pytest.warns(MissingModalityWarning, match=rf"Rows \['{empty_id}'\] have no"),
    ):
        assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "2 of them are flagged in the errors column." in printed
    predictions = pd.read_csv(data.with_name("new_predictions.csv"))
    assert len(predictions) == 5
    flagged = predictions.set_index("patient_id")
    assert flagged.loc[corrupt_id, "modalities_used"] == "note;dna;clinical"
    assert flagged.loc[corrupt_id, "errors"] == "ct: could not be read"
    # No modality: the training prior, an empty modalities_used, and a flag.
    assert pd.isna(flagged.loc[empty_id, "modalities_used"])
    assert flagged.loc[empty_id, "errors"] == (
        "no modality present: the training class prior"
    )
    prior = cohort["diagnosis"].value_counts(normalize=True).sort_index()
    np.testing.assert_allclose(
        flagged.loc[empty_id, ["probability_0", "probability_1"]].to_numpy(float),
        prior.to_numpy(),
        atol=1e-6,
    )
    assert flagged.loc[empty_id, "prediction"] == prior.idxmax()
    others = flagged.drop(index=[corrupt_id, empty_id])
    assert others["errors"].isna().all()
    assert (others["modalities_used"] == "ct;note;dna;clinical").all()


def test_predict_writes_the_prior_for_rows_with_no_modality_by_default(
    builtin_run, tmp_path, capsys
):
    model, data, table, cohort = _corrupt_and_empty_rows(builtin_run, tmp_path)
    table.drop(index=1).to_csv(data, index=False)
    empty_id = table.loc[3, "patient_id"]
    with pytest.warns(MissingModalityWarning, match=rf"\['{empty_id}'\].*prior"):
        assert main(["predict", str(model), str(data)]) == 0
    predictions = pd.read_csv(data.with_name("new_predictions.csv"))
    row = predictions.set_index("patient_id").loc[empty_id]
    prior = cohort["diagnosis"].value_counts(normalize=True).sort_index()
    assert row["probability_1"] == pytest.approx(prior[1], abs=1e-6)
    assert pd.isna(row["modalities_used"])


def test_predict_reads_invalid_smiles_as_missing_on_request(
    tmp_path, capsys, monkeypatch
):
    pytest.importorskip("rdkit")
    force_winner(monkeypatch, "concat + logistic")
    rng = np.random.default_rng(0)
    molecules = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "CCN", "CCCC", "OCCO"]
    table = pd.DataFrame(
        {
            "patient_id": [f"M{i:02d}" for i in range(30)],
            "smiles": rng.choice(molecules, 30),
            "dose": rng.normal(size=30),
            "active": np.arange(30) % 2,
        }
    )
    data = tmp_path / "molecules.csv"
    table.to_csv(data, index=False)
    config = tmp_path / "molecules.toml"
    config.write_text(
        'target = "active"\n'
        '[modalities.drug]\ncolumns = "smiles"\ntransformer = "molecule"\n'
        '[modalities.lab]\ncolumns = ["dose"]\ntransformer = "tabular"\n'
    )
    out = tmp_path / "out"
    argv = ["compare", str(data), "--config", str(config), "-o", str(out)]
    assert main([*argv, "--cv", "2", "--fusions", "concat", "--heads", "logistic"]) == 0
    capsys.readouterr()
    new = table.drop(columns="active").head(4)
    new.loc[2, "smiles"] = "C1CC"
    new.to_csv(tmp_path / "new.csv", index=False)
    argv = ["predict", str(out / "model.polymodal"), str(tmp_path / "new.csv")]
    err = fails(argv, capsys)
    assert "row 'M02' holds the SMILES 'C1CC'" in err
    assert "pass --on-error missing" in err
    with pytest.warns(RowFailureWarning, match=r"Modality 'drug': rows \['M02'\]"):
        assert main([*argv, "--on-error", "missing"]) == 0
    predictions = pd.read_csv(tmp_path / "new_predictions.csv")
    assert list(predictions["errors"].fillna("")) == [
        "",
        "",
        "drug: could not be read",
        "",
    ]
    assert list(predictions["modalities_used"]) == ["drug;lab"] * 2 + ["lab"] + [
        "drug;lab"
    ]
    # The model file is as compare wrote it: predict set the policy in memory.
    model = io.load(out / "model.polymodal")
    assert model[0].on_error == "raise"


@pytest.mark.slow
def test_warnings_are_shown_as_one_line_each(builtin_run, tmp_path):
    model, data, table, _ = _corrupt_and_empty_rows(builtin_run, tmp_path)
    table.drop(index=1).to_csv(data, index=False)
    completed = subprocess.run(
        [sys.executable, "-m", "polymodal.cli", "predict", str(model), str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    empty_id = table.loc[3, "patient_id"]
    assert (
        f"polymodal: warning: Rows ['{empty_id}'] have no modality present; the "
        "training class prior is written for them.\n"
    ) in completed.stderr
