"""The ``polymodal`` command line: ``compare`` and ``predict``, thin over the library."""

import argparse
import csv
import os
import re
import shutil
import sys
import tempfile
import textwrap
import time
import traceback
import warnings
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer_names
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler
from sklearn.svm import SVC
from sklearn.utils.multiclass import type_of_target

from . import _recipes, fusion, io
from ._recipes import (
    ConfigError,
    EncodedLabelsClassifier,
    did_you_mean,
    read_config,
    to_dense,
    unknown_name,
)
from .compose import suggest_modalities
from .datasets import make_patients, make_patients_union
from .deep import DeepFusionClassifier, MLPClassifier
from .exceptions import MissingModalityWarning, PolymodalWarning
from .image import ImageLoader
from .model_selection import compare_fusions
from .model_selection._report import estimator_code, reproduction_code, setup_text
from .union import MultimodalUnion
from .utils._files import write_atomic
from .utils._messages import one_line
from .utils._table import missing_rows
from .utils.validation import describe_row, describe_rows

__all__ = ["main"]

_TABLE_SUFFIXES = {".csv", ".parquet", ".pq"}
_EXAMPLE_CONFIG = "examples/polymodal.toml"
#: The columns make_patients writes, which make_patients_union reads.
_BUILTIN_COLUMNS = ("ct", "note", "dna", "age", "sex", "pack_years")
_BUILTIN_TARGET = "diagnosis"
_KERNEL_HEAD = "svm (precomputed kernel)"
#: The column that names patients: errors, warnings and predictions use it.
_PATIENT_ID = "patient_id"
#: The metrics that compare_fusions scores a classifier with by default.
_DEFAULT_METRICS = ("roc_auc", "average_precision", "balanced_accuracy")


class _UserError(Exception):
    """A mistake in the arguments or the data; reported in one line, status 2."""


def _logistic():
    # MaxAbsScaler keeps sparse TF-IDF blocks sparse while putting k-mer counts
    # and standardised values on one scale.
    return make_pipeline(MaxAbsScaler(), LogisticRegression(C=0.1, max_iter=2000))


def _random_forest(random_state):
    return RandomForestClassifier(n_estimators=300, random_state=random_state)


def _extra_trees(random_state):
    return ExtraTreesClassifier(n_estimators=300, random_state=random_state)


def _gradient_boosting(random_state):
    return GradientBoostingClassifier(random_state=random_state)


def _hist_gradient_boosting(random_state):
    # It takes dense features only; ConcatFusion keeps TF-IDF blocks sparse.
    return make_pipeline(
        FunctionTransformer(to_dense),
        HistGradientBoostingClassifier(random_state=random_state),
    )


#: to_dense as the reproduction code in report.md defines it, so that the code
#: imports no private module: the same function, and the import it needs.
_TO_DENSE_CODE = (
    "def to_dense(X):\n"
    "    # HistGradientBoostingClassifier takes dense features only; ConcatFusion\n"
    "    # keeps sparse blocks (TF-IDF) sparse.\n"
    "    return X.toarray() if sparse.issparse(X) else X\n",
    {"from scipy import sparse"},
)


def _knn(random_state):
    # Distances need the modalities on one scale, as the logistic head does.
    return make_pipeline(MaxAbsScaler(), KNeighborsClassifier())


def _xgboost(random_state):
    # xgboost is an optional dependency: only this head needs it.
    from xgboost import XGBClassifier

    # XGBClassifier takes classes coded 0 to n - 1 only; the wrapper codes the
    # labels, so that it takes the target column as every other head does.
    return EncodedLabelsClassifier(
        XGBClassifier(
            n_estimators=200,
            max_depth=3,
            learning_rate=0.1,
            random_state=random_state,
            n_jobs=1,
        )
    )


def _svm(random_state):
    # SVC(probability=True) is deprecated; one calibrator fitted on
    # cross-validated decision values gives the probabilities instead.
    return CalibratedClassifierCV(SVC(random_state=random_state), ensemble=False)


#: --heads name -> factory of the classifier, given the random state.
_HEADS = {
    "logistic": lambda random_state: _logistic(),
    "random_forest": _random_forest,
    "xgboost": _xgboost,
    "svm": _svm,
    "mlp": lambda random_state: MLPClassifier(random_state=random_state),
    "extra_trees": _extra_trees,
    "gradient_boosting": _gradient_boosting,
    "hist_gradient_boosting": _hist_gradient_boosting,
    "knn": _knn,
}
_DEFAULT_HEADS = ("logistic", "random_forest", "xgboost")


#: --fusions name -> (factory of the estimator given the random state, whether
#: it is the pipeline's last step, predicting from the blocks itself).
_FUSIONS = {
    "concat": (lambda random_state: fusion.ConcatFusion(), False),
    "average": (
        lambda random_state: fusion.AverageFusion(random_state=random_state),
        False,
    ),
    "product": (
        lambda random_state: fusion.ProductFusion(random_state=random_state),
        False,
    ),
    "tensor": (
        lambda random_state: fusion.TensorFusion(random_state=random_state),
        False,
    ),
    "kernel": (lambda random_state: fusion.KernelFusion(), False),
    "subspace": (lambda random_state: fusion.SubspaceFusion(), False),
    "factorization": (
        lambda random_state: fusion.FactorizationFusion(random_state=random_state),
        False,
    ),
    "late": (lambda random_state: fusion.LateFusionClassifier(_logistic()), True),
    "stacking": (
        lambda random_state: fusion.StackingFusionClassifier(_logistic()),
        True,
    ),
    "deep": (
        lambda random_state: DeepFusionClassifier(random_state=random_state),
        True,
    ),
}
_DEFAULT_FUSIONS = ("concat", "late", "stacking")


def _check_names(names, valid, option):
    unknown = [name for name in names if name not in valid]
    if unknown:
        name = unknown[0]
        raise _UserError(
            f"{option}: {unknown_name(f'unknown name {name!r}', name, valid, 'names')}."
        )
    # Asking twice for one candidate would score it twice under one name.
    return list(dict.fromkeys(names))


def _read_table(path):
    path = Path(path)
    if path.suffix.lower() not in _TABLE_SUFFIXES:
        raise _UserError(f"{path} is not a table; give a .csv or .parquet file.")
    if not path.is_file():
        raise _UserError(f"{path} does not exist.")
    csv = path.suffix.lower() == ".csv"
    try:
        if csv:
            _check_csv_header(path)
            return pd.read_csv(path)
        _check_parquet_schema(path)
        return pd.read_parquet(path)
    except UnicodeDecodeError as error:
        raise _UserError(_not_utf8(path, error)) from error
    except (ValueError, OSError, ImportError) as error:
        raise _UserError(f"cannot read {path}: {one_line(error)}") from error


def _check_csv_header(path):
    """Refuse repeated column names, which pandas would rename silently."""
    with path.open(encoding="utf-8", newline="") as file:
        header = next(csv.reader(file), [])
    seen = set()
    for name in header:
        if name in seen:
            raise _UserError(
                f"{path}: the column name {name!r} appears twice in the header; "
                "give each column its own name."
            )
        seen.add(name)


def _check_parquet_schema(path):
    """Refuse nested columns (structs, lists, maps), which no modality reads."""
    try:
        import pyarrow.parquet
    except ImportError:
        return  # pandas says which engine to install.
    schema = pyarrow.parquet.read_schema(path)
    for field in schema:
        if pyarrow.types.is_nested(field.type):
            raise _UserError(
                f"{path}: the column {field.name!r} is nested ({field.type}); "
                "polymodal reads flat columns: unnest it into one column per "
                "field, or store its cells as text."
            )


def _not_utf8(path, error):
    """Where a CSV stops being UTF-8: the line and the column."""
    raw = path.read_bytes()
    line = raw.count(b"\n", 0, error.start) + 1
    start = raw.rfind(b"\n", 0, error.start) + 1
    # Latin-1 decodes any byte, enough to count the fields before the bad one.
    before = raw[start : error.start].decode("latin-1")
    header = raw.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    names = next(csv.reader([header]), [])
    position = len(next(csv.reader([before]), [""])) - 1 if before else 0
    column = (
        f" in column {names[position]!r}"
        if line > 1 and 0 <= position < len(names)
        else ""
    )
    return (
        f"{path} is not UTF-8: byte 0x{raw[error.start]:02x} on line {line}"
        f"{column}; save the file as UTF-8 ({_guess_encoding(raw)})."
    )


def _guess_encoding(raw):
    """How to convert a file that is not UTF-8, for the most likely encoding.

    Chinese text saved by Excel or Notepad on a Chinese Windows is GBK (GB18030
    decodes it and its superset); any byte is Latin-1, so that is the guess
    when the bytes are not Chinese.
    """
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = ""
    if any("\u4e00" <= char <= "\u9fff" for char in text):
        return "it looks like Chinese in GBK: iconv -f gb18030 -t utf-8"
    return "from Latin-1, say: iconv -f latin1 -t utf-8"


def _write_builtin_cohort(out, args):
    # Absolute image paths keep the table usable from any working directory.
    cohort_dir = (out / "cohort").resolve()
    missing = {column: args.missing for column in ("ct", "note", "dna", "clinical")}
    X, y = make_patients(
        n_samples=args.n_samples,
        language=args.language,
        missing=missing if args.missing else None,
        as_files=cohort_dir / "images",
        random_state=args.random_state,
    )
    path = cohort_dir / "cohort.csv"
    table = X.assign(**{y.name: y})
    # Whole or not at all, like the report: an interrupted run never leaves
    # a truncated table beside an earlier run's model.
    write_atomic(path, lambda file: table.to_csv(file, index=False))
    return path


def _check_column(table, column, what, data_path):
    if column not in table.columns:
        # A table of 77 gene columns would fill the terminal: the close
        # names and the count say enough.
        raise _UserError(
            f"the {what} column {column!r} is not in {data_path}"
            f"{did_you_mean(column, table.columns)} ({len(table.columns)} columns)."
        )


def _check_target(y, target, cv, index=None):
    """Check that the labels can be cross-validated.

    ``index`` names the rows in messages (the patient IDs); positions without it.
    """
    absent = np.flatnonzero(pd.isna(y))
    if absent.size:
        names = absent if index is None else np.asarray(index)[absent]
        raise _UserError(
            f"the target column {target!r} is empty in {absent.size} rows (first: "
            f"{', '.join(map(str, names[:5]))}); drop them or fill them in."
        )
    if len(y) < 2:
        raise _UserError(
            f"the table has {len(y)} row{'' if len(y) == 1 else 's'}; "
            "cross-validation needs rows of each "
            f"class of {target!r} in every fold."
        )
    labels = np.unique(y)
    if labels.size == 1:
        raise _UserError(
            f"the target column {target!r} holds one class only "
            f"({labels.tolist()[0]!r}); a classifier needs two or more."
        )
    kind = type_of_target(y)
    if kind not in ("binary", "multiclass"):
        raise _UserError(
            f"the target column {target!r} holds {kind} values; polymodal compare "
            "classifies, so give a column of class labels."
        )
    labels, counts = np.unique(y, return_counts=True)
    labels = labels.tolist()
    if counts.min() < cv:
        fewest = counts.min()
        per_class = ", ".join(
            f"{label}: {count}" for label, count in zip(labels, counts, strict=True)
        )
        fix = (
            "every class needs 2 rows or more to be cross-validated: add rows "
            "of it or drop it"
            if fewest < 2
            else f"fewer than the {cv} folds of --cv: lower --cv or add rows"
        )
        raise _UserError(
            f"class {labels[counts.argmin()]!r} of {target!r} has {fewest} "
            f"row{'' if fewest == 1 else 's'} (rows per class: {per_class}); "
            f"{fix}."
        )


def _splitter(cv, grouped, seed):
    """The splitter of one repeat: stratified, shuffled, grouped on request."""
    splitter = StratifiedGroupKFold if grouped else StratifiedKFold
    return splitter(cv, shuffle=True, random_state=seed)


def _splits(y, target, groups, groups_column, cv, repeats, random_state):
    """The folds, repeat after repeat, each able to train a head.

    Repeat r (from 0) shuffles with the seed ``random_state + r``, so one
    repeat draws the folds that compare_fusions draws for an int ``cv``.
    Folds that respect groups can leave a class out of a training fold (all
    its rows in one group, say); no head can learn a class it never sees, so
    that is a user error naming the fold, not a traceback from the head.
    """
    splits = [
        split
        for repeat in range(repeats)
        for split in _splitter(cv, groups is not None, random_state + repeat).split(
            np.zeros(len(y)), y, groups
        )
    ]
    labels = np.unique(y)
    for index, (train, _) in enumerate(splits):
        lacking = np.setdiff1d(labels, y[train])
        if lacking.size:
            seen = ", ".join(map(repr, np.unique(y[train]).tolist()))
            where = f"fold {index % cv + 1} of {cv}"
            if repeats > 1:
                where += f" (repeat {index // cv + 1})"
            raise _UserError(
                f"{where} has no row of class {lacking[0].item()!r} of "
                f"{target!r} to train on (its training rows hold only {seen}): "
                f"--groups {groups_column} keeps each group's rows in one fold. "
                "Lower --cv, or check that the groups mix the classes."
            )
    return splits


def _read_columns(union):
    """Modality -> the column names it reads (none for column selectors)."""
    read = {}
    for name, transformer, columns in union.transformers:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        names = [columns] if isinstance(columns, str) else columns
        if isinstance(names, list | tuple) and all(isinstance(c, str) for c in names):
            read[name] = list(names)
    return read


def _reads_images(transformer):
    steps = (
        transformer.steps if isinstance(transformer, Pipeline) else [(0, transformer)]
    )
    return isinstance(steps[0][1], ImageLoader)


def _check_features(table, union, data_path, index=None):
    """One-line errors, naming the column, for columns no modality can read.

    ``index`` names the rows (the patient IDs); the table's own without it.
    """
    for name, columns in _read_columns(union).items():
        for column in columns:
            cells = table[column]
            if index is not None:
                cells = cells.set_axis(index)
            if cells.isna().all():
                raise _UserError(
                    f"the column {column!r} of {data_path} (modality {name!r}) is "
                    "empty in every row; drop it from the table or the config."
                )
            _check_mixed(cells, column, name, data_path)
    for name, transformer, columns in union.transformers:
        if isinstance(transformer, str) or not _reads_images(transformer):
            continue
        for column in [columns] if isinstance(columns, str) else columns:
            _check_image_paths(table[column], column, name, data_path)


def _check_mixed(cells, column, modality, data_path):
    """Refuse a column of numbers with some text: a typo, or a unit written in."""
    if not (
        pd.api.types.is_object_dtype(cells.dtype)
        or pd.api.types.is_string_dtype(cells.dtype)
    ):
        return
    given = cells.dropna()
    numbers = pd.to_numeric(given, errors="coerce")
    text = given[numbers.isna()]
    if text.empty or numbers.notna().sum() < len(given) / 2:
        return
    row = describe_row(0, index=text.index)
    raise _UserError(
        f"the column {column!r} of {data_path} (modality {modality!r}) mixes "
        f"numbers and text: {len(text)} of {len(given)} cells are not numbers "
        f"(first: {text.iloc[0]!r}, row {row}); fix them or leave them empty."
    )


def _check_image_paths(cells, column, modality, data_path):
    """Refuse an image column none of whose files exists."""
    given = [cell for cell in cells.dropna() if isinstance(cell, str | os.PathLike)]
    if given and not any(Path(cell).exists() for cell in given):
        raise _UserError(
            f"none of the {len(given)} files of the image column {column!r} of "
            f"{data_path} (modality {modality!r}) exists (first: {str(given[0])!r}, "
            f"read from {Path.cwd()}); write absolute paths, or run from the "
            "folder the paths start from."
        )


def _announce_metrics(metrics, y, target):
    """Say which of the default metrics compare_fusions left out, and why."""
    labels = ", ".join(map(repr, np.unique(y).tolist()))
    if "roc_auc_ovr" in metrics:
        print(
            f"{target!r} has more than two classes ({labels}): roc_auc is scored "
            "one-vs-rest (roc_auc_ovr)."
        )
    for metric in _DEFAULT_METRICS:
        if metric in metrics or (metric == "roc_auc" and "roc_auc_ovr" in metrics):
            continue
        reason = (
            "it takes the class 1 as the positive one, and the classes of "
            f"{target!r} are {labels}"
            if metric == "average_precision"
            else f"the classes of {target!r} are {labels}"
        )
        print(f"Not scored: {metric}, since {reason}.")


def _union(config, table, target, groups, data_path, language):
    if config is not None:
        return config.make_union(
            list(table.columns),
            target=target,
            groups=groups,
            dtypes=table.dtypes,
            data=data_path,
        )
    return make_patients_union(language=language)


def _detected_config(table, target, groups, data_path, out):
    """Detect the modalities of a table, write them as a config, and read it back.

    The file is the one ``polymodal init`` writes, so the run it describes can
    be repeated, or edited and rerun, with ``--config``.
    """
    try:
        suggestions = suggest_modalities(table, target=target, groups=groups)
    except ValueError as error:
        raise _UserError(one_line(error)) from error
    path = out / "polymodal.toml"
    text = suggestions.to_toml(source=str(data_path)).encode()
    write_atomic(path, lambda file: file.write(text))
    print(f"No --config: the modalities detected in {data_path.name} are")
    print(suggestions)
    print(f"Written to {path}; edit it and pass --config {path} to change them.\n")
    return read_config(path)


def _init(args):
    data_path = Path(args.data)
    table = _read_table(data_path)
    _check_column(table, args.target, "target", data_path)
    if args.groups is not None:
        _check_column(table, args.groups, "groups", data_path)
    try:
        suggestions = suggest_modalities(table, target=args.target, groups=args.groups)
    except ValueError as error:
        raise _UserError(one_line(error)) from error
    out = Path(args.out)
    text = suggestions.to_toml(source=str(data_path)).encode()
    try:
        write_atomic(out, lambda file: file.write(text))
    except OSError as error:
        raise _UserError(f"cannot write {out}: {error.strerror}.") from error
    print(suggestions)
    print(
        f"\nConfiguration written to {out}. Edit it, then run:\n"
        f"polymodal compare {data_path} --config {out}"
    )
    return 0


def _candidates(args):
    """The named fusion steps, final steps and heads of the comparison."""
    fusions, finals = {}, {}
    for name in _check_names(args.fusions, tuple(_FUSIONS), "--fusions"):
        make, final = _FUSIONS[name]
        (finals if final else fusions)[name] = make(args.random_state)
    if not fusions:
        # compare_fusions needs one; the final steps are ranked against it.
        feeding = [name for name, (_, final) in _FUSIONS.items() if not final]
        raise _UserError(
            "--fusions: name at least one fusion step that feeds the heads "
            f"({', '.join(feeding)}) besides the final steps."
        )
    heads = {}
    for name in _check_names(args.heads, tuple(_HEADS), "--heads"):
        try:
            heads[name] = _HEADS[name](args.random_state)
        except ImportError as error:
            raise _UserError(f"--heads {name}: {one_line(error)}") from error
    if "kernel" in fusions:
        # A kernel matrix only feeds a head that takes a precomputed kernel;
        # compare_fusions pairs it with this head and no other.
        heads[_KERNEL_HEAD] = SVC(kernel="precomputed")
    return fusions, finals, heads


def _scoring(metric, y):
    """The metrics to score, the ranking one first; None for compare's defaults."""
    if metric is None:
        return None
    if metric not in get_scorer_names():
        raise _UserError(
            "--metric: "
            + unknown_name(
                f"unknown scorer {metric!r}", metric, get_scorer_names(), "scorers"
            )
            + " (sklearn.metrics.get_scorer_names())."
        )
    # compare_fusions' defaults, scored beside the ranking metric: AUROC
    # one-vs-rest past two classes, and average precision only where the
    # class 1 is the positive one.
    multiclass = type_of_target(y) == "multiclass"
    defaults = ["roc_auc_ovr" if multiclass else "roc_auc", "balanced_accuracy"]
    if multiclass or np.unique(y)[-1] == 1:
        defaults.insert(1, "average_precision")
    return [metric, *(name for name in defaults if name != metric)]


def _compare(args):
    fusions, finals, heads = _candidates(args)
    config = read_config(args.config) if args.config else None
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _UserError(
            f"cannot create the folder {out}: {error.strerror}."
        ) from error
    if args.data is None:
        data_path = _write_builtin_cohort(out, args)
        print(f"Built-in synthetic cohort written to {data_path}")
    else:
        data_path = Path(args.data)
    table = _read_table(data_path)
    target, groups = args.target, args.groups
    if config is None and not set(_BUILTIN_COLUMNS) <= set(table.columns):
        if target is None:
            raise _UserError(
                f"{data_path} is not the built-in cohort: name its target column "
                "with --target (the modalities are then detected), or describe "
                f"the columns with --config (see {_EXAMPLE_CONFIG}, or write one "
                f"with polymodal init {data_path} --target COLUMN)."
            )
        _check_column(table, target, "target", data_path)
        config = _detected_config(table, target, groups, data_path, out)
    if config is not None:
        target = target or config.target
        groups = groups or config.groups
        if target is None:
            raise _UserError(
                f"no target column: set target in {config.path} or pass --target."
            )
    target = target or _BUILTIN_TARGET
    _check_column(table, target, "target", data_path)
    if groups is not None:
        _check_column(table, groups, "groups", data_path)
    y = table[target].to_numpy()
    patients = _patient_index(table)
    _check_target(y, target, args.cv, index=patients)
    union = _union(config, table, target, groups, data_path, args.language)
    _check_features(table, union, data_path, patients)
    scoring = _scoring(args.metric, y)
    group_labels = None if groups is None else table[groups].to_numpy()
    splits = _splits(
        y, target, group_labels, groups, args.cv, args.repeats, args.random_state
    )
    X = _by_patient(table.drop(columns=[target]))
    scheme = f"{args.cv}-fold cross-validation"
    if args.repeats > 1:
        scheme += f" repeated {args.repeats} times ({len(splits)} folds)"
    print(
        f"Comparing fusion choices on {len(X)} rows ({scheme}, ranked by "
        f"{args.metric or 'AUROC'})..."
    )
    start = time.perf_counter()
    try:
        result = compare_fusions(
            union,
            X,
            y,
            fusions=fusions,
            heads=heads,
            final_fusions=finals,
            # The folds drawn above, checked to train every head.
            cv=splits,
            groups=group_labels,
            scoring=scoring,
            n_jobs=args.jobs,
            verbose=1,
            random_state=args.random_state,
        )
    except BrokenProcessPool as error:
        raise _UserError(_worker_died(error, args.jobs)) from error
    except (ValueError, OSError, ImportError) as error:
        raise _UserError(one_line(error)) from error
    print(f"Done in {time.perf_counter() - start:.0f} s.\n")
    _announce_metrics(result.metrics_, y, target)
    print(result.to_markdown())
    model = result.best_estimator_
    # What polymodal predict writes for a row with no modality present.
    labels, counts = np.unique(y, return_counts=True)
    if np.array_equal(labels, model.classes_):
        model.class_prior_ = counts / counts.sum()
    setup = setup_text(
        result,
        fusions={**fusions, **finals},
        heads=heads,
        cv=scheme,
        splitter=_splitter(args.cv, groups is not None, args.random_state),
        seeds=(
            f"--seed {args.random_state}: repeat r (from 0) shuffles its folds "
            f"with random_state={args.random_state} + r; every fusion and head "
            f"that takes a random_state gets {args.random_state}"
        ),
        code=_reproduction(
            args,
            result,
            fusions,
            finals,
            heads,
            data_path,
            target,
            groups,
            config,
            scoring,
        ),
    )
    report, model_path = _write_outputs(out, result, model, setup)
    print(f"Best: {result.best_candidate_}")
    print(f"Report written to {report}")
    print(f"Best pipeline (refit on all {len(X)} rows) saved to {model_path}")
    print(f"Predict with: polymodal predict {model_path} {data_path}")
    return 0


def _worker_died(error, jobs):
    """One line for joblib's TerminatedWorkerError: what died, what to do."""
    codes = re.search(r"exit codes of the workers are (\{.*?\})", str(error))
    how = f" (exit codes {codes.group(1)})" if codes else ""
    now = f", now {jobs}" if jobs is not None else ""
    return (
        f"a worker process was killed{how}, most often for lack of memory: run "
        f"fewer folds at a time with a lower --jobs{now}."
    )


def _reproduction(
    args, result, fusions, finals, heads, data_path, target, groups, config, scoring
):
    """The Python code that scores the report's best candidate again."""
    if config is not None:
        union = (
            "read_config",
            "polymodal.compose",
            f"read_config({str(Path(config.path).resolve())!r}).make_union(\n"
            f"    list(table.columns), target={target!r}, groups={groups!r}, "
            "dtypes=table.dtypes\n)",
        )
    else:
        union = (
            "make_patients_union",
            "polymodal.datasets",
            f"make_patients_union(language={args.language!r})",
        )
    # The reproduction code builds the xgboost head as a plain XGBClassifier
    # and codes the target itself: EncodedLabelsClassifier is private.
    coded = {
        name
        for name, head in heads.items()
        if isinstance(head, EncodedLabelsClassifier)
    }
    heads = {
        name: head.estimator if name in coded else head for name, head in heads.items()
    }
    data = Path(data_path).resolve()
    if data.is_relative_to(Path(args.out).resolve()):
        # The built-in cohort lies beside the report: a path relative to the
        # report's folder keeps report.md the same wherever the folder is.
        data = data.relative_to(Path(args.out).resolve())
    return reproduction_code(
        result,
        data=data,
        target=target,
        groups=groups,
        index=_PATIENT_ID,
        union=union,
        fusions=fusions,
        final_fusions=finals,
        heads=heads,
        splitter=_splitter(args.cv, groups is not None, args.random_state),
        repeats=args.repeats,
        seed=args.random_state,
        scoring=scoring,
        coded_heads=coded,
        functions={"to_dense": _TO_DENSE_CODE},
    )


_OUTPUTS = ("results.json", "report.md", "scores.png", "model.polymodal")


def _write_outputs(out, result, model, setup):
    """Write the report, figure, results and model as one set, or none of them.

    Each is written to a temporary folder inside ``out`` first; only when all
    four are written is each renamed into place, so an interrupted or failed
    run leaves the previous set whole, never a new report beside an old model.
    """
    staging = Path(tempfile.mkdtemp(prefix=".polymodal-", dir=out))
    try:
        try:
            result.save(staging, setup=setup)
            io.save(model, staging / "model.polymodal")
        except (ValueError, OSError, ImportError) as error:
            raise _UserError(
                f"cannot write the results to {out}: {one_line(error)}"
            ) from error
        for name in _OUTPUTS:
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / "report.md", out / "model.polymodal"


def _needed_columns(union):
    """Input column -> the modalities that read it, from the fitted union."""
    needed = {}
    for name, transformer, columns in union.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        if isinstance(columns, str):
            columns = [columns]
        # Column selectors, positions and masks name no column; the union
        # checks those itself.
        if isinstance(columns, list | tuple) and all(
            isinstance(column, str) for column in columns
        ):
            for column in columns:
                needed.setdefault(column, []).append(name)
    return needed


def _load_model(path, trust):
    if not Path(path).is_file():
        raise _UserError(f"the model file {path} does not exist.")
    try:
        model = io.load(path, trusted=True if trust else None)
    except io.UntrustedModelError as error:
        raise _UserError(
            f"refusing to load the model file: {one_line(error.reason)}. Pass "
            "--trust to load it anyway, only if you trust where it comes from."
        ) from None
    # A truncated or foreign file can fail inside unpickling in many ways.
    except Exception as error:
        raise _UserError(
            f"cannot load the model file {path}: {one_line(error)}"
        ) from None
    if not (
        isinstance(model, Pipeline)
        and isinstance(model[0], MultimodalUnion)
        and hasattr(model[0], "transformers_")
    ):
        raise _UserError(
            f"{path} does not hold a fitted pipeline that starts with a "
            "MultimodalUnion, as `polymodal compare` writes."
        )
    return model


def _patient_index(table):
    """The rows' names: the patient_id column when the table has one."""
    if _PATIENT_ID not in table.columns:
        return table.index
    return pd.Index(table[_PATIENT_ID].to_numpy())


def _by_patient(table):
    """``table`` indexed by its patient_id column, when it has one.

    Errors and warnings name rows by their index labels: patient IDs tell a
    user which rows they are, where row numbers of a file do not.
    """
    if _PATIENT_ID not in table.columns:
        return table
    table = table.copy()
    table.index = _patient_index(table)
    return table


def _read_failures_as_absent(union):
    """Set the fitted union and its transformers to mark unreadable rows absent.

    The union's own ``on_error`` covers third-party transformers; polymodal's
    transformers (ImageLoader, MorganFingerprint, ...) have one of their own,
    at any depth of a modality's pipeline.
    """
    union.set_params(on_error="missing")
    for _, transformer, _ in union.transformers_:
        if isinstance(transformer, str):
            continue
        names = [
            name
            for name in transformer.get_params(deep=True)
            if name == "on_error" or name.endswith("__on_error")
        ]
        transformer.set_params(**dict.fromkeys(names, "missing"))


def _unreadable_rows(union, table, blocks):
    """Modality -> rows whose cells were there but could not be read."""
    unreadable = {}
    for name, transformer, columns in union.transformers_:
        if name not in blocks.names or isinstance(transformer, str):
            continue
        is_names = isinstance(columns, str) or (
            isinstance(columns, list | tuple)
            and all(isinstance(column, str) for column in columns)
        )
        if not is_names:
            # Column selectors: the union reports such rows in its warning.
            continue
        cells = table[columns if isinstance(columns, str) else list(columns)]
        given = ~np.asarray(missing_rows(cells), dtype=bool)
        failed = given & ~np.asarray(blocks.masks[name], dtype=bool)
        if failed.any():
            unreadable[name] = failed
    return unreadable


def _training_prior(model):
    """The training class prior (or mean), as the model file records it."""
    for owner in (model, model[-1]):
        prior = vars(owner).get("class_prior_")
        if prior is not None and len(prior) == len(getattr(model, "classes_", ())):
            return np.asarray(prior, dtype=float)
        mean = vars(owner).get("target_mean_")
        if mean is not None:
            return float(mean)
    return None


def _predict_rows(model, blocks, index):
    """The model's predictions and probabilities, one row per row of ``blocks``."""
    rest = model[1:]
    try:
        with warnings.catch_warnings():
            # The command line writes the prior for rows with no modality and
            # warns about them itself, naming them by patient.
            warnings.simplefilter("ignore", MissingModalityWarning)
            predictions = pd.DataFrame(
                {"prediction": rest.predict(blocks)}, index=index
            )
            if hasattr(rest, "predict_proba"):
                probabilities = rest.predict_proba(blocks)
                for label, column in zip(model.classes_, probabilities.T, strict=True):
                    predictions[f"probability_{label}"] = np.round(column, 6)
    except (ValueError, OSError, ImportError) as error:
        raise _UserError(one_line(error)) from None
    return predictions


def _predict(args):
    model = _load_model(args.model, args.trust)
    table = _by_patient(_read_table(args.data))
    union = model[0]
    needed = _needed_columns(union)
    missing = [column for column in needed if column not in table.columns]
    if missing:
        modalities = sorted({name for column in missing for name in needed[column]})
        raise _UserError(
            f"{args.data} lacks the columns {', '.join(missing)}, which the model "
            f"reads for the modalities {', '.join(modalities)}."
        )
    if args.on_error == "missing":
        _read_failures_as_absent(union)
    try:
        # Transform once: the blocks give both the presence of each modality
        # and the input of the fusion step and head.
        blocks = union.transform(table)
    except (ValueError, OSError, ImportError) as error:
        hint = (
            ""
            if args.on_error == "missing"
            else " To predict such rows from their other modalities instead, and "
            "flag them in the errors column, pass --on-error missing."
        )
        raise _UserError(one_line(error) + hint) from None
    predictions = _predict_rows(model, blocks, table.index)
    present = np.column_stack([blocks.masks[name] for name in blocks.names])
    errors = [[] for _ in range(len(table))]
    for name, rows in _unreadable_rows(union, table, blocks).items():
        for row in np.flatnonzero(rows):
            errors[row].append(f"{name}: could not be read")
    empty = ~present.any(axis=1)
    if empty.any():
        _write_prior(model, predictions, empty, errors)
    if _PATIENT_ID in table.columns:
        predictions.insert(0, _PATIENT_ID, table[_PATIENT_ID].to_numpy())
    predictions["modalities_used"] = [
        ";".join(name for name, used in zip(blocks.names, row, strict=True) if used)
        for row in present
    ]
    predictions["errors"] = ["; ".join(row) for row in errors]
    output = (
        Path(args.out)
        if args.out
        else Path(args.data).with_name(Path(args.data).stem + "_predictions.csv")
    )
    predictions.to_csv(output, index=False)
    print(f"Predictions for {len(table)} rows written to {output}")
    flagged = sum(bool(row) for row in errors)
    if flagged:
        print(f"{flagged} of them are flagged in the errors column.")
    return 0


def _write_prior(model, predictions, empty, errors):
    """Write the training prior (or mean) for the rows with no modality."""
    prior = _training_prior(model)
    named = describe_rows(np.flatnonzero(empty), index=predictions.index)
    if prior is None:
        note = "no modality present, and the model file records no training prior"
        predictions["prediction"] = predictions["prediction"].astype(object)
        predictions.loc[empty, "prediction"] = None
        for column in predictions.columns[1:]:
            predictions.loc[empty, column] = np.nan
        written = "they are left without a prediction"
    elif np.ndim(prior) == 0:
        note = "no modality present: the training mean"
        predictions.loc[empty, "prediction"] = prior
        written = f"the training mean {prior:.6g} is written for them"
    else:
        note = "no modality present: the training class prior"
        majority = model.classes_[int(np.argmax(prior))]
        predictions["prediction"] = predictions["prediction"].astype(object)
        predictions.loc[empty, "prediction"] = majority
        for label, share in zip(model.classes_, prior, strict=True):
            column = f"probability_{label}"
            if column in predictions:
                predictions.loc[empty, column] = round(float(share), 6)
        written = "the training class prior is written for them"
    for row in np.flatnonzero(empty):
        errors[row].append(note)
    warnings.warn(
        f"Rows {named} have no modality present; {written}.",
        MissingModalityWarning,
        stacklevel=3,
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, like every other error of the command line.
        self.exit(2, f"polymodal: {message} (see `{self.prog} --help`).\n")


def _at_least(minimum):
    def convert(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected at least {minimum}; got {text}")
        return value

    # argparse names the type in its message for a non-integer.
    convert.__name__ = "int"
    return convert


def _share(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a share in [0, 1); got {text}")
    return value


# argparse names the type in its message for a non-number.
_share.__name__ = "float"


def _estimator_text(make):
    try:
        estimator = make(None)
    except ImportError as error:
        return f"(not installed: {one_line(error)})"
    return estimator_code(estimator)[0]


def _candidates_text():
    """--help's list of what each --fusions and --heads name builds."""
    width = 100
    lines = [
        "The candidates (each random_state is set to --seed):",
        "",
        "  --fusions:",
    ]

    def entry(name, text):
        wrapped = textwrap.wrap(
            text,
            width,
            initial_indent=f"    {name:<23}",
            subsequent_indent=" " * 27,
            break_on_hyphens=False,
        )
        lines.extend(wrapped)

    for name, (make, final) in _FUSIONS.items():
        entry(name, _estimator_text(make) + (" [final step]" if final else ""))
    lines += ["", "  --heads:"]
    for name, make in _HEADS.items():
        entry(name, _estimator_text(make))
    entry(
        "(with kernel)",
        "SVC(kernel='precomputed'), the one head a kernel matrix feeds",
    )
    return "\n".join(lines)


def _parser():
    parser = _Parser(
        prog="polymodal",
        description="Multimodal learning for medicine: compare fusion choices, "
        "then predict with the best model.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback of an error instead of one line",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    compare = commands.add_parser(
        "compare",
        parents=[common],
        help="cross-validate fusion × head candidates and save the best pipeline",
        # The epilog's layout matters, so the description is wrapped by hand.
        description="Cross-validate every fusion step with every head, the "
        "final-step fusions, and each\nmodality alone with every head; print "
        "per-fold progress and the ranked table; write\nreport.md, scores.png and "
        "results.json to DIR and the best pipeline, refitted on all\nrows, to "
        "DIR/model.polymodal. Without DATA it runs on the built-in synthetic cohort,"
        "\nwritten to DIR/cohort as a table plus image files. Errors exit with "
        "status 2.",
        epilog=f"{_candidates_text()}\n\nThe --config file:\n\n{_recipes.__doc__}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument(
        "data",
        nargs="?",
        metavar="DATA",
        help="a .csv or .parquet table, one row per patient; without it, the "
        "built-in synthetic cohort",
    )
    compare.add_argument(
        "--config",
        metavar="TOML",
        help="a TOML file naming the target, the groups and each modality's "
        f"columns and transformer (format below; example: {_EXAMPLE_CONFIG}); "
        "without it DATA must have the built-in cohort's columns "
        f"({', '.join(_BUILTIN_COLUMNS)})",
    )
    compare.add_argument(
        "--target",
        metavar="COL",
        help="the column to predict (overrides the config's target; default "
        f"without a config: {_BUILTIN_TARGET})",
    )
    compare.add_argument(
        "--groups",
        metavar="COL",
        help="a column of group labels such as patient IDs: a group's rows never "
        "sit on both sides of a split (overrides the config's groups)",
    )
    compare.add_argument(
        "--cv",
        type=_at_least(2),
        default=5,
        metavar="K",
        help="number of folds (default: 5)",
    )
    compare.add_argument(
        "--repeats",
        type=_at_least(1),
        default=1,
        metavar="N",
        help="repeat the K folds N times, each repeat shuffled with its own seed "
        "(--seed + repeat); intervals and p-values stay Nadeau and Bengio's "
        "corrected ones, k counting every fold of every repeat (default: 1)",
    )
    compare.add_argument(
        "--metric",
        metavar="NAME",
        help="the scikit-learn scorer that ranks the candidates, such as "
        "roc_auc, average_precision, balanced_accuracy, neg_log_loss or "
        "roc_auc_ovr for more than two classes; the default metrics are "
        "scored beside it (default: roc_auc, or roc_auc_ovr)",
    )
    compare.add_argument(
        "--fusions",
        nargs="+",
        metavar="NAME",
        default=list(_DEFAULT_FUSIONS),
        help=f"fusion methods to compare, from: {', '.join(_FUSIONS)}; late, "
        "stacking and deep are final steps that predict themselves, kernel is "
        "paired with an SVM on the precomputed kernel (default: "
        f"{' '.join(_DEFAULT_FUSIONS)})",
    )
    compare.add_argument(
        "--heads",
        nargs="+",
        metavar="NAME",
        default=list(_DEFAULT_HEADS),
        help=f"classifiers that read the fused features, from: {', '.join(_HEADS)} "
        f"(default: {' '.join(_DEFAULT_HEADS)})",
    )
    compare.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="folds run in parallel (-1: every core; default: one at a time)",
    )
    compare.add_argument(
        "-o",
        "--out",
        metavar="DIR",
        default="polymodal-results",
        help="folder for the report, the model and the built-in cohort "
        "(default: polymodal-results)",
    )
    compare.add_argument(
        "--n-samples",
        type=_at_least(1),
        default=600,
        metavar="N",
        help="built-in cohort: number of patients (default: 600)",
    )
    compare.add_argument(
        "--language",
        choices=("en", "zh"),
        default="en",
        help="language of the built-in cohort's notes, and of the built-in note "
        "vectorizer when there is no --config (default: en)",
    )
    compare.add_argument(
        "--missing",
        type=_share,
        default=0.0,
        metavar="SHARE",
        help="built-in cohort: share of patients lacking each modality (default: 0)",
    )
    compare.add_argument(
        "--seed",
        "--random-state",
        dest="random_state",
        type=int,
        default=0,
        metavar="SEED",
        help="seed of the built-in cohort, the folds (repeat r uses SEED + r) and "
        "every fusion and head that takes a random_state (default: 0)",
    )
    compare.set_defaults(run=_compare)

    init = commands.add_parser(
        "init",
        parents=[common],
        help="detect the modalities of a table and write a configuration to edit",
        description="Detect each column's kind (image files, DICOM series, "
        "NIfTI, SMILES, DNA/RNA/protein sequences, free text, numbers, "
        "categories, identifiers, dates), group the columns into modalities, "
        "and write a commented TOML configuration with each decision's evidence "
        "and alternatives, for `polymodal compare DATA --config FILE`. Errors "
        "exit with status 2.",
    )
    init.add_argument("data", metavar="DATA", help="a .csv or .parquet table")
    init.add_argument(
        "--target", required=True, metavar="COLUMN", help="the column to predict"
    )
    init.add_argument(
        "--groups",
        metavar="COLUMN",
        help="patient identifiers, so that a patient's rows stay in one fold "
        "(default: an identifier column when one is detected)",
    )
    init.add_argument(
        "-o",
        "--out",
        default="polymodal.toml",
        metavar="FILE",
        help="where to write the configuration (default: polymodal.toml)",
    )
    init.set_defaults(run=_init)

    predict = commands.add_parser(
        "predict",
        parents=[common],
        help="predict with a model saved by `polymodal compare`",
        description="Read a table in the same format as the training data and "
        "write one row per input row: patient_id (when DATA has it), the "
        "prediction, one probability column per class (when the model gives "
        "probabilities), modalities_used, the modalities present in the row "
        "(separated by ';'), and errors, what went wrong in the row (empty when "
        "nothing did). A row with no modality present gets the training class "
        "prior, with a warning. A MODEL that is not a polymodal model file, or "
        "that needs trust, is refused unless --trust is given. Errors exit with "
        "status 2.",
    )
    predict.add_argument(
        "model", metavar="MODEL", help="a model file written by `polymodal compare`"
    )
    predict.add_argument("data", metavar="DATA", help="a .csv or .parquet table")
    predict.add_argument(
        "-o",
        "--out",
        metavar="CSV",
        help="where to write the predictions (default: DATA's folder, "
        "<DATA name>_predictions.csv)",
    )
    predict.add_argument(
        "--on-error",
        choices=("raise", "missing"),
        default="raise",
        help="what to do with a cell that cannot be read (a corrupt image, an "
        "invalid SMILES): raise, the default, stops with an error naming it; "
        "missing predicts the row from its other modalities (or the training "
        "prior, when none is left) and flags it in the errors column",
    )
    predict.add_argument(
        "--trust",
        action="store_true",
        help="load MODEL even if it is a pickle (such as a joblib.dump file) or "
        "holds types that polymodal does not trust; loading a pickle runs code "
        "from the file, so only for files from a source you trust",
    )
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
        The exit status, 0.

    Raises
    ------
    SystemExit
        With status 2 after a one-line ``polymodal: ...`` message on stderr,
        when the arguments, the configuration or the data are wrong, or
        when a worker process was killed; with ``--debug``, the full
        traceback comes before that line. Other errors propagate.
    """
    args = _parser().parse_args(argv)
    try:
        with _warnings_as_lines():
            return args.run(args)
    except (_UserError, ConfigError) as error:
        if args.debug:
            traceback.print_exception(error)
        print(f"polymodal: {error}", file=sys.stderr)
        raise SystemExit(2) from None


@contextmanager
def _warnings_as_lines():
    """Show every warning as one ``polymodal: warning: ...`` line.

    Only the format changes (no file name, no echo of the source line, the
    message on one line): which warnings are shown, and whether a caller
    records them, stays with the warning filters.
    """
    original = warnings.formatwarning

    def format_warning(message, category, filename, lineno, line=None):
        text = " ".join(str(message).split())
        if not issubclass(category, PolymodalWarning):
            text = f"{category.__name__}: {text}"
        return f"polymodal: warning: {text}\n"

    warnings.formatwarning = format_warning
    try:
        yield
    finally:
        warnings.formatwarning = original


if __name__ == "__main__":
    sys.exit(main())
