import json
import re
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
import sklearn
from sklearn.base import BaseEstimator, TransformerMixin

from polymodal import cli, io
from polymodal.cli import main
from polymodal.datasets import make_patients
from polymodal.exceptions import (
    MissingModalityWarning,
    PolymodalWarning,
    RowFailureWarning,
)
from polymodal.model_selection._report import estimator_code

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
        f"{data}; the columns are patient_id, ct, note, age, sex, pack_years, "
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
    ("option", "name", "expected"),
    [
        (
            "--fusions",
            "early",
            "unknown name 'early'; the names are concat, average, product, tensor",
        ),
        (
            "--heads",
            "svc",
            "unknown name 'svc'; did you mean 'svm'? The names are logistic, "
            "random_forest, xgboost, svm, mlp",
        ),
        (
            "--heads",
            "randomforest",
            "unknown name 'randomforest'; did you mean 'random_forest'?",
        ),
        ("--fusions", "stack", "unknown name 'stack'; did you mean 'stacking'?"),
    ],
)
def test_unknown_names_list_the_valid_ones(tmp_path, capsys, option, name, expected):
    first = {"--fusions": "concat", "--heads": "logistic"}[option]
    err = fails(["compare", option, first, name, "-o", str(tmp_path)], capsys)
    assert f"{option}: {expected}" in err
    # The names are checked before anything is written.
    assert not any(tmp_path.iterdir())


def test_a_head_whose_package_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "xgboost", None)
    err = fails(["compare", "--heads", "xgboost", "-o", str(tmp_path)], capsys)
    assert "--heads xgboost: import of xgboost halted" in err


def test_final_step_fusions_alone_are_refused(tmp_path, capsys):
    err = fails(["compare", "--fusions", "late", "-o", str(tmp_path)], capsys)
    assert "--fusions: name at least one fusion step that feeds the heads" in err


def test_a_table_without_the_builtin_columns_needs_a_target(tmp_path, capsys):
    data = tmp_path / "cohort.csv"
    pd.DataFrame({"age": [1, 2, 3, 4], "diagnosis": [0, 1, 0, 1]}).to_csv(data)
    err = fails(["compare", str(data), "--cv", "2", "-o", str(tmp_path)], capsys)
    assert "is not the built-in cohort: name its target column with --target" in err
    assert f"polymodal init {data} --target COLUMN" in err


def panel_table(path, n=80, seed=0):
    """Patient ids, two clinical values, a sex column and a 10-gene panel."""
    rng = np.random.default_rng(seed)
    y = np.tile(["benign", "malignant"], n // 2)
    signal = (y == "malignant").astype(float)
    table = pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)],
            "age": 60 + 8 * rng.normal(size=n),
            "sex": rng.choice(["F", "M"], size=n),
        }
    )
    for k in range(10):
        table[f"gene_{k}"] = signal * (k % 3 == 0) + rng.normal(size=n)
    table["diagnosis"] = y
    table.to_csv(path, index=False)
    return table


def test_init_writes_the_detected_modalities_as_a_config(tmp_path, capsys):
    data = tmp_path / "panel.csv"
    panel_table(data)
    config = tmp_path / "panel.toml"
    assert main(["init", str(data), "--target", "diagnosis", "-o", str(config)]) == 0
    printed = capsys.readouterr().out
    assert "clinical (tabular): age, sex" in printed
    assert "gene (tabular)" in printed or "genes (tabular)" in printed
    assert f"polymodal compare {data} --config {config}" in printed
    parsed = cli.read_config(config)
    assert parsed.target == "diagnosis"
    assert parsed.groups == "patient_id"


def test_compare_without_a_config_runs_on_the_detection(tmp_path, capsys):
    data = tmp_path / "panel.csv"
    panel_table(data)
    detected = tmp_path / "detected"
    argv = ["compare", str(data), "--target", "diagnosis", *QUICK]
    assert main([*argv, "--out", str(detected)]) == 0
    printed = capsys.readouterr().out
    assert "No --config: the modalities detected in panel.csv are" in printed
    config = detected / "polymodal.toml"
    assert config.exists()
    # The written config reproduces the run, fold for fold.
    again = tmp_path / "again"
    assert main([*argv, "--config", str(config), "--out", str(again)]) == 0
    first = json.loads((detected / "results.json").read_text())["fold_scores"]
    second = json.loads((again / "results.json").read_text())["fold_scores"]
    assert first == second
    assert main(["predict", str(detected / "model.polymodal"), str(data)]) == 0


def test_init_names_a_wrong_target(tmp_path, capsys):
    data = tmp_path / "panel.csv"
    panel_table(data)
    err = fails(["init", str(data), "--target", "diagnosys"], capsys)
    assert "did you mean 'diagnosis'" in err


@pytest.mark.parametrize(
    ("target", "values", "message"),
    [
        ("outcome", [0, 1] * 4, "the target column 'outcome' is not in"),
        ("diagnosis", [0.5, 1.5, 2.5, 3.5] * 2, "holds continuous values"),
        (
            "diagnosis",
            [0, 1, 1, 1, 1, 1, 1, 1],
            "class 0 of 'diagnosis' has 1 row (rows per class: 0: 1, 1: 7)",
        ),
        ("diagnosis", [0, 1, None, 1, 0, 1, 0, 1], "is empty in 1 rows (first: P0003)"),
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
                "--seed",
                "--repeats",
                "--metric",
                "--debug",
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


# -- names, options and errors --------------------------------------------------


def test_a_wrong_target_names_the_close_columns_and_their_count(tmp_path, capsys):
    genes = {f"gene_{i:02d}": np.arange(8.0) for i in range(75)}
    table = pd.DataFrame({**genes, "patient_id": range(8), "diagnosis": [0, 1] * 4})
    data = tmp_path / "genes.csv"
    table.to_csv(data, index=False)
    argv = ["compare", str(data), "--target", "diagnosys", "-o", str(tmp_path)]
    err = fails(argv, capsys)
    assert f"the target column 'diagnosys' is not in {data}; did you mean " in err
    assert "'diagnosis'?" in err and "(77 columns)" in err
    # Not the 77 names.
    assert "gene_40" not in err
    argv = [*argv[:3], "diagnosis", "--groups", "patient", "-o", str(tmp_path)]
    assert "did you mean 'patient_id'?" in fails(argv, capsys)


def test_an_unknown_metric_suggests_a_scorer(tmp_path, capsys):
    err = fails(["compare", "--metric", "roc-auc", "-o", str(tmp_path)], capsys)
    assert "--metric: unknown scorer 'roc-auc'; did you mean 'roc_auc'" in err


@pytest.fixture(scope="module")
def small_cohort(tmp_path_factory):
    """A built-in cohort table of 60 rows with its image files."""
    folder = tmp_path_factory.mktemp("small")
    X, y = make_patients(n_samples=60, as_files=folder / "images", random_state=2)
    data = folder / "cohort.csv"
    X.assign(diagnosis=y).to_csv(data, index=False)
    return data


def test_repeats_metric_and_seed(small_cohort, tmp_path, capsys):
    out = tmp_path / "results"
    argv = ["compare", str(small_cohort), "--cv", "2", "--repeats", "3"]
    argv += ["--metric", "balanced_accuracy", "--seed", "7", "-o", str(out)]
    assert main([*argv, "--fusions", "concat", "--heads", "logistic"]) == 0
    printed = capsys.readouterr().out
    assert "2-fold cross-validation repeated 3 times (6 folds)" in printed
    assert "| rank | candidate | balanced_accuracy | roc_auc |" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["ranking_metric"] == "balanced_accuracy"
    assert len(results["folds"]) == 6
    # k counts every fold of every repeat: the interval uses all six scores.
    scores = results["fold_scores"]["concat + logistic"]["balanced_accuracy"]
    assert len(scores) == 6
    report = (out / "report.md").read_text()
    assert "repeated 3 times (6 folds)" in report
    assert "random_state=7 + r" in report
    assert "StratifiedKFold(n_splits=2, random_state=7, shuffle=True)" in report


def test_repeats_with_groups_keep_each_group_in_one_fold(tmp_path, capsys):
    X, y = make_patients(n_samples=40, random_state=0)
    data = tmp_path / "cohort.csv"
    # Two visits per patient.
    X.assign(diagnosis=y, visit_of=np.arange(40) // 2).to_csv(data, index=False)
    config = tmp_path / "cohort.toml"
    config.write_text(
        'target = "diagnosis"\ngroups = "visit_of"\n'
        "[modalities.clinical]\ncolumns = { remaining = 'numeric' }\n"
        'transformer = "tabular"\n'
    )
    out = tmp_path / "results"
    argv = ["compare", str(data), "--config", str(config), "--cv", "2"]
    argv += ["--repeats", "2", "--fusions", "concat", "--heads", "logistic"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no GroupLeakageWarning
        assert main([*argv, "-o", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "StratifiedGroupKFold(n_splits=2" in report
    assert "groups = table['visit_of'].to_numpy()" in report
    # The code rebuilds the union from the config, patterns resolved again.
    code = reproduction_code(out)
    assert "read_config(" in code
    assert "from polymodal.compose import read_config" in code
    assert_imports_are_public(code)
    results = json.loads((out / "results.json").read_text())
    best = results["best_candidate"]
    expected = next(r for r in results["statistics"] if r["candidate"] == best)
    again, _ = rerun(code, best)
    assert again["roc_auc_mean"] == pytest.approx(expected["roc_auc_mean"])


def reproduction_code(out):
    """The Python code that ends the report.md written to ``out``."""
    return (out / "report.md").read_text().split("```python\n")[1].split("```")[0]


def rerun(code, candidate, ignore=()):
    """Run a report's code: its result's row for ``candidate``, and what it printed.

    Warnings of the categories ``ignore`` are not shown.
    """
    namespace = {}
    printed = StringIO()
    with warnings.catch_warnings(), redirect_stdout(printed):
        for category in ignore:
            warnings.simplefilter("ignore", category)
        exec(compile(code, "report.md", "exec"), namespace)
    return namespace["result"].to_frame().loc[candidate], printed.getvalue()


def assert_imports_are_public(code):
    """The reproduction code imports no private module or name (``._x``)."""
    imports = [
        line.strip()
        for line in code.splitlines()
        if line.strip().startswith(("import ", "from "))
    ]
    assert imports
    for line in imports:
        assert not re.search(r"(^|[\s.,])_[A-Za-z]", line), line


def test_the_report_states_the_candidates_and_reproduces_the_best(
    small_cohort, tmp_path, capsys
):
    out = tmp_path / "results"
    argv = ["compare", str(small_cohort), "--cv", "3", "--repeats", "2", "-o"]
    argv += [str(out), "--fusions", "concat", "late", "--heads", "logistic", "knn"]
    assert main(argv) == 0
    capsys.readouterr()
    report = (out / "report.md").read_text()
    # Every candidate's estimators in full, and the versions.
    assert "| late | `LateFusionClassifier(estimator=Pipeline(steps=[(" in report
    assert "KNeighborsClassifier()" in report
    assert f"scikit-learn {sklearn.__version__}" in report
    assert report.rstrip().endswith("```")
    code = reproduction_code(out)
    assert_imports_are_public(code)
    results = json.loads((out / "results.json").read_text())
    best = results["best_candidate"]
    expected = next(row for row in results["statistics"] if row["candidate"] == best)
    again, printed = rerun(code, best)
    for metric in results["metrics"]:
        assert again[f"{metric}_mean"] == pytest.approx(expected[f"{metric}_mean"])
        assert again[f"{metric}_ci_low"] == pytest.approx(expected[f"{metric}_ci_low"])
    assert f"'{results['ranking_metric']}': " in printed


@pytest.mark.parametrize("winner", ["ct only + logistic", "concat + knn"])
def test_the_reproduction_code_runs_for_baselines_and_pairs(
    small_cohort, tmp_path, capsys, monkeypatch, winner
):
    force_winner(monkeypatch, winner)
    out = tmp_path / "results"
    argv = ["compare", str(small_cohort), "--cv", "2", "-o", str(out)]
    assert main([*argv, "--fusions", "concat", "--heads", "logistic", "knn"]) == 0
    capsys.readouterr()
    code = reproduction_code(out)
    assert_imports_are_public(code)
    results = json.loads((out / "results.json").read_text())
    expected = next(r for r in results["statistics"] if r["candidate"] == winner)
    again, _ = rerun(code, winner)
    assert again["roc_auc_mean"] == pytest.approx(expected["roc_auc_mean"])


@pytest.mark.parametrize(
    "winner",
    ["concat + xgboost", "ct only + xgboost", "concat + hist_gradient_boosting"],
)
def test_the_reproduction_code_builds_the_wrapped_heads_from_public_names(
    labelled_cohort, tmp_path, capsys, monkeypatch, winner
):
    pytest.importorskip("xgboost")
    head = winner.split(" + ")[1]
    force_winner(monkeypatch, winner)
    out = tmp_path / "results"
    argv = ["compare", str(labelled_cohort), "--cv", "2", "-o", str(out)]
    argv += ["--fusions", "concat", "--heads", head]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolymodalWarning)
        assert main(argv) == 0
    capsys.readouterr()
    results = json.loads((out / "results.json").read_text())
    best = results["best_candidate"]
    assert best == winner
    code = reproduction_code(out)
    assert_imports_are_public(code)
    assert "EncodedLabelsClassifier" not in code
    if head == "xgboost":
        # The labels are strings, which XGBClassifier does not take.
        assert "y = LabelEncoder().fit_transform(" in code
    else:
        assert "def to_dense(X):" in code
        assert "LabelEncoder" not in code
    expected = next(r for r in results["statistics"] if r["candidate"] == best)
    again, printed = rerun(code, best, ignore=[PolymodalWarning])
    assert results["metrics"] == ["roc_auc", "balanced_accuracy"]
    for metric in results["metrics"]:
        for statistic in ("mean", "sd", "ci_low", "ci_high"):
            column = f"{metric}_{statistic}"
            assert again[column] == pytest.approx(expected[column], abs=1e-12)
    assert printed.startswith("{'roc_auc': ")


def test_the_builtin_cohort_is_read_from_the_report_folder(builtin_run, monkeypatch):
    out, _ = builtin_run
    code = reproduction_code(out)
    assert "table = pd.read_csv('cohort/cohort.csv')" in code
    results = json.loads((out / "results.json").read_text())
    best = results["best_candidate"]
    expected = next(r for r in results["statistics"] if r["candidate"] == best)
    monkeypatch.chdir(out)
    again, _ = rerun(code, best)
    assert again["roc_auc_mean"] == pytest.approx(expected["roc_auc_mean"])


def test_help_states_each_candidate_in_full(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    printed = " ".join(capsys.readouterr().out.split())
    assert "random_forest RandomForestClassifier(n_estimators=300)" in printed
    assert "late LateFusionClassifier(estimator=Pipeline(" in printed
    assert "LogisticRegression(C=0.1, max_iter=2000)" in printed
    for option in ("--repeats", "--metric", "--seed", "--debug"):
        assert option in printed


def test_debug_shows_the_traceback(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--heads", "gbm", "--debug", "-o", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.rstrip().endswith(
        "random_forest, xgboost, svm, mlp, extra_trees, "
        "gradient_boosting, hist_gradient_boosting, knn."
    )


def _raise(error):
    def run(*args, **kwargs):
        raise error

    return run


def test_a_crashed_worker_suggests_fewer_jobs(tmp_path, capsys, monkeypatch):
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    # loky's own wording.
    crash = TerminatedWorkerError(
        "A worker process managed by the executor was unexpectedly terminated. "
        "This could be caused by a segmentation fault while calling the function "
        "or by an excessive memory usage causing the Operating System to kill the "
        "worker.\n\nThe exit codes of the workers are {SIGKILL(-9)}\nDetailed "
        "tracebacks of the workers should have been printed to stderr"
    )
    monkeypatch.setattr("polymodal.cli.compare_fusions", _raise(crash))
    argv = ["compare", "--n-samples", "30", "--jobs", "4", "-o", str(tmp_path)]
    err = fails([*argv, *QUICK], capsys)
    assert "a worker process was killed (exit codes {SIGKILL(-9)}), most " in err
    assert "with a lower --jobs, now 4." in err


def test_warnings_are_one_clean_line():
    from polymodal.cli import _warnings_as_lines

    with _warnings_as_lines():
        # What warnings.showwarning writes to stderr: no file, no source line.
        third_party = warnings.formatwarning(
            "a third-party\n  warning", FutureWarning, "/x/joblib/parallel.py", 3
        )
        ours = warnings.formatwarning("ours", MissingModalityWarning, "/x/y.py", 1)
    assert third_party == "polymodal: warning: FutureWarning: a third-party warning\n"
    assert ours == "polymodal: warning: ours\n"
    # Only inside the command line.
    assert "y.py:1" in warnings.formatwarning("ours", UserWarning, "/x/y.py", 1)


def test_outputs_are_written_as_a_set(builtin_run, tmp_path, monkeypatch, capsys):
    out = tmp_path / "results"
    out.mkdir()
    (out / "report.md").write_text("the earlier report")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("polymodal.cli.io.save", fail)
    argv = ["compare", "--n-samples", "30", "-o", str(out), *QUICK]
    err = fails(argv, capsys)
    assert f"cannot write the results to {out}: disk full" in err
    # Nothing of the new set, the earlier report untouched, no staging left.
    assert (out / "report.md").read_text() == "the earlier report"
    for name in ("results.json", "scores.png", "model.polymodal"):
        assert not (out / name).exists()
    assert sorted(path.name for path in out.iterdir()) == ["cohort", "report.md"]


# -- bad input: one line, status 2, naming the column ---------------------------


def _bad_table(tmp_path, table, config_columns=None, recipe="tabular"):
    data = tmp_path / "bad.csv"
    if isinstance(table, bytes):
        data.write_bytes(table)
    else:
        table.to_csv(data, index=False)
    config = tmp_path / "bad.toml"
    columns = config_columns or "{ remaining = 'any' }"
    config.write_text(
        'target = "diagnosis"\n'
        f"[modalities.m]\ncolumns = {columns}\ntransformer = '{recipe}'\n"
    )
    return ["compare", str(data), "--config", str(config), "-o", str(tmp_path), *QUICK]


def _clinical(n=8):
    return pd.DataFrame({"age": np.linspace(40, 80, n), "diagnosis": np.arange(n) % 2})


@pytest.mark.parametrize(
    ("make", "columns", "recipe", "message"),
    [
        (lambda: _clinical(1), None, "tabular", "the table has 1 row;"),
        (
            lambda: _clinical().assign(diagnosis=1),
            None,
            "tabular",
            "the target column 'diagnosis' holds one class only (1)",
        ),
        (
            lambda: _clinical().assign(diagnosis=[0, 1, None, 1, 0, 1, 0, 1]),
            None,
            "tabular",
            "the target column 'diagnosis' is empty in 1 rows",
        ),
        (
            lambda: _clinical().assign(empty=np.nan),
            None,
            "tabular",
            "the column 'empty' of",
        ),
        (
            lambda: _clinical().assign(
                weight=["70", "81", "n/a kg", "65", "90", "72", "77", "68"]
            ),
            None,
            "tabular",
            "the column 'weight' of",
        ),
        (
            lambda: _clinical().assign(scan=[f"lost/{i}.png" for i in range(8)]),
            "'scan'",
            "image",
            "none of the 8 files of the image column 'scan'",
        ),
    ],
    ids=["one row", "one class", "nan target", "all missing", "mixed", "no files"],
)
def test_bad_tables_are_one_line_errors(
    tmp_path, capsys, make, columns, recipe, message
):
    err = fails(_bad_table(tmp_path, make(), columns, recipe), capsys)
    assert message in err


def test_the_message_says_what_is_wrong_with_the_column(tmp_path, capsys):
    table = _clinical().assign(empty=np.nan)
    assert "(modality 'm') is empty in every row" in fails(
        _bad_table(tmp_path, table), capsys
    )
    weight = ["70", "81", "n/a kg", "65", "90", "72", "77", "68"]
    err = fails(_bad_table(tmp_path, _clinical().assign(weight=weight)), capsys)
    assert "mixes numbers and text: 1 of 8 cells are not numbers (first: " in err
    assert "'n/a kg', row 2)" in err


def test_a_duplicate_column_name(tmp_path, capsys):
    text = b"age,age,diagnosis\n" + b"".join(
        f"{40 + i},{50 + i},{i % 2}\n".encode() for i in range(8)
    )
    err = fails(_bad_table(tmp_path, text), capsys)
    assert "the column name 'age' appears twice in the header" in err


def test_init_says_that_compare_refuses_numbers_mixed_with_text(tmp_path, capsys):
    weight = ["70", "81", "n/a kg", "65", "90", "72", "77", "68"]
    data = tmp_path / "bad.csv"
    _clinical().assign(weight=weight).to_csv(data, index=False)
    config = tmp_path / "polymodal.toml"
    argv = ["init", str(data), "--target", "diagnosis", "-o", str(config)]
    assert main(argv) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "numbers mixed with text: 7 of 8 sampled cells are numbers" in printed
    assert "(e.g. 'n/a kg')" in printed
    assert "polymodal compare refuses the column" in printed
    # And it does, naming the column and the cell.
    err = fails(["compare", str(data), "--config", str(config), *QUICK], capsys)
    assert "the column 'weight' of" in err and "'n/a kg', row 2" in err


def test_bad_cells_are_named_by_patient_id(tmp_path, capsys):
    weight = ["70", "81", "n/a kg", "65", "90", "72", "77", "68"]
    table = _clinical().assign(weight=weight)
    table.insert(0, "patient_id", [f"P{i}" for i in range(8)])
    err = fails(_bad_table(tmp_path, table), capsys)
    assert "(first: 'n/a kg', row 'P2')" in err
    table = table.assign(weight=70.0, diagnosis=[0, 1, None, 1, 0, 1, None, 1])
    err = fails(_bad_table(tmp_path, table), capsys)
    assert "is empty in 2 rows (first: P2, P6)" in err


def test_a_target_of_one_text_class(tmp_path, capsys):
    table = _clinical().assign(diagnosis="yes")
    err = fails(_bad_table(tmp_path, table), capsys)
    assert "the target column 'diagnosis' holds one class only ('yes')" in err


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (
            ["CT", "MR", "MR"],
            "class 'CT' of 'diagnosis' has 1 row (rows per class: CT: 1, MR: 2); "
            "every class needs 2 rows or more",
        ),
        (
            ["CT", "CT", "MR", "MR", "MR"],
            "class 'CT' of 'diagnosis' has 2 rows (rows per class: CT: 2, MR: 3); "
            "fewer than the 5 folds of --cv: lower --cv",
        ),
    ],
    ids=["one row of a class", "fewer rows than folds"],
)
def test_classes_too_small_to_cross_validate(tmp_path, capsys, labels, message):
    # pydicom's three sample files: CT once, MR twice.
    table = pd.DataFrame({"age": np.linspace(40, 80, len(labels)), "diagnosis": labels})
    argv = _bad_table(tmp_path, table)
    err = fails([*argv, "--cv", "5"], capsys)
    assert message in err


def test_a_csv_of_chinese_text_in_gbk(tmp_path, capsys):
    notes = ["患者咳嗽三周", "无咳嗽"] * 4
    text = _clinical().assign(note=notes).to_csv(index=False).encode("gbk")
    err = fails(_bad_table(tmp_path, text), capsys)
    assert "bad.csv is not UTF-8: byte 0xbb on line 2 in column 'note'" in err
    assert "iconv -f gb18030 -t utf-8" in err


def test_a_csv_that_is_not_utf8(tmp_path, capsys):
    text = "age,note,diagnosis\n40,ok,0\n41,caf\u00e9,1\n".encode("latin-1")
    err = fails(_bad_table(tmp_path, text), capsys)
    assert "bad.csv is not UTF-8: byte 0xe9 on line 3 in column 'note'" in err
    assert "iconv -f latin1 -t utf-8" in err


def test_a_parquet_file_with_nested_columns(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    data = tmp_path / "nested.parquet"
    table = _clinical().assign(labs=[{"hb": 13.0, "wbc": 6.0}] * 8)
    table.to_parquet(data)
    err = fails(
        ["compare", str(data), "--target", "diagnosis", "-o", str(tmp_path)], capsys
    )
    assert "the column 'labs' is nested" in err


@pytest.mark.parametrize(
    "name", [*(f"head:{name}" for name in cli._HEADS), *cli._FUSIONS]
)
def test_the_report_code_builds_every_candidate_again(name):
    kind, _, key = name.rpartition(":")
    make = cli._HEADS[key] if kind else cli._FUSIONS[key][0]
    estimator = make(7)
    source, imports = estimator_code(estimator)
    namespace = {}
    exec("\n".join(sorted(imports)), namespace)
    rebuilt = eval(source, namespace)
    assert "..." not in source
    assert repr(rebuilt.get_params(deep=True)) == repr(estimator.get_params(deep=True))
