"""The ``polymodal`` command line: ``compare`` and ``predict``, thin over the library."""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["main"]

_TABLE_SUFFIXES = {".csv", ".parquet", ".pq"}


def _read_table(path):
    path = Path(path)
    if path.suffix.lower() not in _TABLE_SUFFIXES:
        raise SystemExit(
            f"polymodal: {path} is not a table; give a .csv or .parquet file."
        )
    if not path.exists():
        raise SystemExit(f"polymodal: {path} does not exist.")
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    return pd.read_parquet(path)


def _default_heads(random_state):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MaxAbsScaler
    from xgboost import XGBClassifier

    return {
        "logistic regression": make_pipeline(
            MaxAbsScaler(), LogisticRegression(C=0.1, max_iter=2000)
        ),
        "random forest": RandomForestClassifier(
            n_estimators=300, random_state=random_state
        ),
        "xgboost": XGBClassifier(
            n_estimators=200,
            max_depth=3,
            learning_rate=0.1,
            random_state=random_state,
            n_jobs=1,
        ),
    }


def _write_builtin_cohort(output, args):
    from .datasets import make_patients

    # Absolute image paths keep the table usable from any working directory.
    cohort_dir = (output / "cohort").resolve()
    missing = {column: args.missing for column in ("ct", "note", "dna", "clinical")}
    X, y = make_patients(
        n_samples=args.n_samples,
        language=args.language,
        missing=missing if args.missing else None,
        as_files=cohort_dir / "images",
        random_state=args.random_state,
    )
    table = X.assign(**{y.name: y})
    path = cohort_dir / "cohort.csv"
    table.to_csv(path, index=False)
    return path, y.name


def _compare(args):
    from . import io
    from .datasets import make_patients_union
    from .fusion import ConcatFusion
    from .model_selection import compare_fusions

    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    if args.data is None:
        data_path, target = _write_builtin_cohort(output, args)
        print(f"Built-in synthetic cohort written to {data_path}")
    else:
        data_path, target = Path(args.data), args.target
    table = _read_table(data_path)
    if target not in table.columns:
        raise SystemExit(
            f"polymodal: the target column {target!r} is not in {data_path}; "
            f"its columns are {list(table.columns)}."
        )
    y = table[target].to_numpy()
    X = table.drop(columns=[target])
    language = args.language
    union = make_patients_union(language=language)
    print(
        f"Comparing fusion choices on {len(X)} patients "
        f"({args.cv}-fold cross-validation, AUROC)..."
    )
    start = time.perf_counter()
    result = compare_fusions(
        union,
        X,
        y,
        fusions={"concat": ConcatFusion()},
        heads=_default_heads(args.random_state),
        cv=args.cv,
        scoring="roc_auc",
        n_jobs=args.n_jobs,
        verbose=1,
        random_state=args.random_state,
    )
    print(f"Done in {time.perf_counter() - start:.0f} s.\n")
    print(result.to_markdown())
    (output / "comparison.md").write_text(result.to_markdown())
    result.to_frame().to_csv(output / "comparison.csv")
    model_path = io.save(result.best_estimator_, output / "best_model.joblib")
    print(f"Best: {result.best_candidate_}")
    print(f"Ranked table written to {output / 'comparison.md'}")
    print(f"Best pipeline (refit on all {len(X)} patients) saved to {model_path}")
    print(f"Predict with: polymodal predict {model_path} {data_path}")
    return 0


def _predict(args):
    from . import io

    table = _read_table(args.data)
    if not Path(args.model).exists():
        raise SystemExit(f"polymodal: the model file {args.model} does not exist.")
    model = io.load(args.model)
    predictions = pd.DataFrame(index=table.index)
    if "patient_id" in table.columns:
        predictions["patient_id"] = table["patient_id"]
    predictions["prediction"] = model.predict(table)
    if hasattr(model, "predict_proba"):
        probabilities = model.predict_proba(table)
        for label, column in zip(model.classes_, probabilities.T, strict=True):
            predictions[f"probability_{label}"] = np.round(column, 6)
    output = (
        Path(args.output)
        if args.output
        else Path(args.data).with_name(Path(args.data).stem + "_predictions.csv")
    )
    predictions.to_csv(output, index=False)
    print(f"Predictions for {len(table)} rows written to {output}")
    return 0


def _parser():
    parser = argparse.ArgumentParser(
        prog="polymodal",
        description="Multimodal learning for medicine: compare fusion choices, "
        "then predict with the best model.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    compare = commands.add_parser(
        "compare",
        help="cross-validate fusion × head candidates and save the best pipeline",
        description="Cross-validate early fusion with three heads (logistic "
        "regression, random forest, XGBoost) against each modality alone, print "
        "the ranked table and save the best pipeline. Without --data it runs on "
        "the built-in synthetic cohort, written to OUTPUT/cohort as a table plus "
        "image files.",
    )
    compare.add_argument(
        "--data", help="a .csv or .parquet table with the cohort's columns"
    )
    compare.add_argument("--target", default="diagnosis", help="the target column")
    compare.add_argument(
        "--output", default="polymodal-results", help="folder for the report and model"
    )
    compare.add_argument("--cv", type=int, default=5, help="number of folds")
    compare.add_argument(
        "--n-samples", type=int, default=600, help="size of the built-in cohort"
    )
    compare.add_argument(
        "--language", choices=("en", "zh"), default="en", help="language of the notes"
    )
    compare.add_argument(
        "--missing",
        type=float,
        default=0.0,
        help="share of patients lacking each modality in the built-in cohort",
    )
    compare.add_argument(
        "--n-jobs", type=int, default=None, help="folds run in parallel"
    )
    compare.add_argument("--random-state", type=int, default=0)
    compare.set_defaults(run=_compare)

    predict = commands.add_parser(
        "predict",
        help="predict with a model saved by `polymodal compare`",
        description="Read a table in the same format as the training data and "
        "write one row of predictions per input row.",
    )
    predict.add_argument("model", help="a model file written by `polymodal compare`")
    predict.add_argument("data", help="a .csv or .parquet table")
    predict.add_argument("--output", help="where to write the predictions (.csv)")
    predict.set_defaults(run=_predict)
    return parser


def main(argv=None):
    """Run the ``polymodal`` command line.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        The exit status.
    """
    args = _parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
