"""Faults: an interrupted or crashing `polymodal compare`, and unreadable images.

An interrupted run (Ctrl-C, a worker process that dies, a task that fails on
a dask cluster) must leave the output folder as it found it: every file whole,
either the earlier run's or a complete new one, and no temporary file behind.
A rerun then completes. A corrupt image among many costs its own row only.
"""

import json
import os
import shutil
import warnings
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from polymodal import MultimodalUnion, cli, io
from polymodal.cli import main
from polymodal.exceptions import RowFailureWarning
from polymodal.image import ImageLoader

# A tiny built-in cohort, two folds, one fusion step, one final step, one head.
QUICK = ["--n-samples", "40", "--cv", "2", "--fusions", "concat", "late"]
HEADS = ["--heads", "logistic"]
OUTPUTS = ("report.md", "results.json", "scores.png", "model.polymodal")
COHORT = "cohort/cohort.csv"


def compare(out, *extra, heads=HEADS):
    """Run `polymodal compare` into ``out``, quietly; return its exit status."""
    with redirect_stdout(StringIO()):
        return main(["compare", *QUICK, *heads, "--out", str(out), *extra])


def files(out):
    """Every file under ``out``, by relative path."""
    return {
        path.relative_to(out).as_posix(): path
        for path in sorted(out.rglob("*"))
        if path.is_file()
    }


def _allowed(name):
    """A file a run writes: an output, the cohort's table or one of its images."""
    if name in OUTPUTS or name == COHORT:
        return True
    folder, _, base = name.rpartition("/")
    return folder == "cohort/images" and base.endswith(".png") and base[0] != "."


def assert_whole(out, name):
    """The file is complete: it parses as what it claims to be."""
    path = out / name
    if name == "report.md":
        text = path.read_text()
        assert text.startswith("# Fusion comparison\n")
        assert "## Scores" in text
        assert text.endswith("\n")
    elif name == "results.json":
        assert json.loads(path.read_text())["best_candidate"]
    elif name == "scores.png":
        from PIL import Image

        with Image.open(path) as image:
            image.load()
    elif name == "model.polymodal":
        assert hasattr(io.load(path), "predict_proba")
    elif name == COHORT:
        assert len(pd.read_csv(path)) == 40


def assert_no_leftovers(out):
    """Only the files of a run: no temporary or part-written file of any writer."""
    unexpected = [name for name in files(out) if not _allowed(name)]
    assert not unexpected, unexpected


def content(out, name):
    """What a file says: its bytes, or for the model, its cohort predictions.

    A model archive records when it was written, so its bytes differ from run
    to run; what it predicts does not.
    """
    if name != "model.polymodal":
        return (out / name).read_bytes()
    table = pd.read_csv(out / COHORT).drop(columns="diagnosis")
    return io.load(out / name).predict_proba(table).tobytes()


def assert_complete_run(out, reference=None):
    assert_no_leftovers(out)
    for name in (*OUTPUTS, COHORT):
        assert_whole(out, name)
    images = {Path(path).name for path in pd.read_csv(out / COHORT)["ct"].dropna()}
    assert {path.name for path in (out / "cohort" / "images").iterdir()} == images
    if reference is not None:
        # Runs are deterministic: a rerun writes the same results.
        for name in OUTPUTS:
            assert content(out, name) == reference[name], name


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    """A complete run: its folder, to copy, and the bytes of its outputs."""
    out = tmp_path_factory.mktemp("earlier") / "results"
    assert compare(out) == 0
    assert_complete_run(out)
    return out, {name: content(out, name) for name in OUTPUTS}


@pytest.fixture(params=["empty folder", "over an earlier run"])
def folder(request, tmp_path, earlier_run):
    """The output folder of the run to interrupt: empty, or an earlier run's."""
    out = tmp_path / "results"
    if request.param == "over an earlier run":
        shutil.copytree(earlier_run[0], out)
    return out


# -- interruptions ------------------------------------------------------------


def _partial_then_interrupt(target, data=b"half of a file"):
    """Write some bytes where the real writer would, then raise Ctrl-C."""
    if hasattr(target, "write"):
        target.write(data if "b" in getattr(target, "mode", "b") else data.decode())
    else:
        Path(target).write_bytes(data)
    raise KeyboardInterrupt


def _interrupt_a_head_fit(monkeypatch):
    """Ctrl-C in the third fit of the logistic head, inside cross-validation."""
    calls = []
    fit = LogisticRegression.fit

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", interrupted)


def _interrupt_the_cohort_table(monkeypatch):
    """Ctrl-C half-way through writing the built-in cohort's table."""

    def interrupted(self, path_or_buf=None, *args, **kwargs):
        _partial_then_interrupt(path_or_buf, b"patient_id,ct,no")

    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted)


def _interrupt_the_figure(monkeypatch):
    """Ctrl-C half-way through writing scores.png."""
    from matplotlib.figure import Figure

    def interrupted(self, file, *args, **kwargs):
        _partial_then_interrupt(file, b"\x89PNG\r\n\x1a\n half a figure")

    monkeypatch.setattr(Figure, "savefig", interrupted)


def _interrupt_before_report_rename(monkeypatch):
    """Ctrl-C after report.md's temporary file is written, before its rename."""
    replace = os.replace

    def interrupted(source, destination, *args, **kwargs):
        if Path(destination).name == "report.md":
            raise KeyboardInterrupt
        return replace(source, destination, *args, **kwargs)

    monkeypatch.setattr(os, "replace", interrupted)


def _interrupt_the_model_file(monkeypatch):
    """Ctrl-C half-way through writing model.polymodal (a zip archive)."""
    import zipfile

    writestr = zipfile.ZipFile.writestr

    def interrupted(self, name, data, *args, **kwargs):
        writestr(self, name, data[: len(data) // 2], *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(zipfile.ZipFile, "writestr", interrupted)


def _interrupt_before_model_rename(monkeypatch):
    """Ctrl-C after model.polymodal's temporary file is written, before its rename."""
    replace = os.replace

    def interrupted(source, destination, *args, **kwargs):
        if Path(destination).name == "model.polymodal":
            raise KeyboardInterrupt
        return replace(source, destination, *args, **kwargs)

    monkeypatch.setattr(os, "replace", interrupted)


INTERRUPTIONS = {
    "cohort table": _interrupt_the_cohort_table,
    "head fit": _interrupt_a_head_fit,
    "figure": _interrupt_the_figure,
    "report rename": _interrupt_before_report_rename,
    "model file": _interrupt_the_model_file,
    "model rename": _interrupt_before_model_rename,
}


@pytest.mark.parametrize("where", list(INTERRUPTIONS))
def test_an_interrupted_compare_leaves_whole_files_and_a_rerun_completes(
    where, folder, earlier_run, monkeypatch
):
    _, reference = earlier_run
    before = {name: path.read_bytes() for name, path in files(folder).items()}
    with monkeypatch.context() as patched:
        INTERRUPTIONS[where](patched)
        with pytest.raises(KeyboardInterrupt):
            compare(folder)
    assert_no_leftovers(folder)
    for name in (*OUTPUTS, COHORT):
        if (folder / name).exists():
            assert_whole(folder, name)
    for name in OUTPUTS:
        if name in before:
            # The earlier run's file, or the same bytes written whole again.
            assert (folder / name).read_bytes() == before[name], name

    assert compare(folder) == 0
    assert_complete_run(folder, reference)


# -- workers that die -----------------------------------------------------------


class DyingClassifier(ClassifierMixin, BaseEstimator):
    """A head whose fit kills the worker process it runs in (never the parent)."""

    def __init__(self, parent=None):
        self.parent = parent

    def fit(self, X, y):
        if os.getpid() != self.parent:
            os._exit(1)
        raise AssertionError("DyingClassifier is meant to be fitted in a worker")


class FailingClassifier(ClassifierMixin, BaseEstimator):
    """A head whose fit raises, as a task that fails on a cluster."""

    def fit(self, X, y):
        raise RuntimeError("the task failed on the cluster")


@pytest.fixture
def dying_head(monkeypatch):
    monkeypatch.setitem(
        cli._HEADS, "dying", lambda random_state: DyingClassifier(os.getpid())
    )
    return ["--heads", "logistic", "dying"]


@pytest.fixture
def failing_head(monkeypatch):
    monkeypatch.setitem(cli._HEADS, "failing", lambda random_state: FailingClassifier())
    return ["--heads", "logistic", "failing"]


def _check_intact_then_rerun(folder, before, reference, *extra):
    assert_no_leftovers(folder)
    for name in OUTPUTS:
        if name in before:
            assert (folder / name).read_bytes() == before[name], name
        else:
            assert not (folder / name).exists(), name
    assert compare(folder, *extra) == 0
    assert_complete_run(folder, reference)


# Worker processes start by importing polymodal, twice here (the pool is
# rebuilt after the crash): seconds, not a fold's work.
@pytest.mark.slow
def test_a_loky_worker_that_dies(tmp_path, earlier_run, dying_head, capsys):
    folder = tmp_path / "results"
    shutil.copytree(earlier_run[0], folder)
    before = {name: path.read_bytes() for name, path in files(folder).items()}
    # joblib's TerminatedWorkerError, told in one line.
    with pytest.raises(SystemExit) as exit_info:
        compare(folder, "--jobs", "2", heads=dying_head)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("polymodal: a worker process was killed")
    assert err.endswith("with a lower --jobs, now 2.")
    # The pool is rebuilt for the next run.
    _check_intact_then_rerun(folder, before, earlier_run[1], "--jobs", "2")


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_a_dask_task_that_fails(folder, earlier_run, failing_head, dask_client):
    distributed = pytest.importorskip("distributed")
    before = {name: path.read_bytes() for name, path in files(folder).items()}
    with joblib.parallel_config(backend="dask"):
        with (
            distributed.get_task_stream(dask_client) as tasks,
            pytest.raises(RuntimeError, match="the task failed on the cluster"),
        ):
            compare(folder, "--jobs", "2", heads=failing_head)
        # The folds ran on the cluster, not in this thread.
        assert tasks.data
        _check_intact_then_rerun(folder, before, earlier_run[1], "--jobs", "2")


# -- a corrupt image among many -------------------------------------------------


def _write_pngs(directory, n_images, seed=0):
    """8 x 8 gray PNG files; return their paths and pixels."""
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (n_images, 8, 8), np.uint8)
    directory.mkdir()
    paths = []
    for i, image in enumerate(pixels):
        path = directory / f"scan_{i:05d}.png"
        Image.fromarray(image).save(path, compress_level=0)
        paths.append(str(path))
    return paths, pixels


@pytest.mark.parametrize(
    "n_images",
    [200, pytest.param(10_000, marks=pytest.mark.slow)],
    ids=lambda n: f"{n}_images",
)
def test_a_corrupt_image_costs_its_row_only(tmp_path, n_images):
    pytest.importorskip("PIL")
    paths, pixels = _write_pngs(tmp_path / "scans", n_images)
    corrupt = n_images * 3 // 7
    data = Path(paths[corrupt]).read_bytes()
    Path(paths[corrupt]).write_bytes(data[: len(data) // 2])
    X = pd.DataFrame({"ct": paths, "age": np.arange(n_images, dtype=float)})
    union = MultimodalUnion(
        [("ct", ImageLoader(on_error="missing"), "ct"), ("age", "passthrough", "age")]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        blocks = union.fit_transform(X)
    failures = [w for w in caught if issubclass(w.category, RowFailureWarning)]
    assert len(failures) == 1
    assert f"Modality 'ct': rows [{corrupt}] could not be read" in str(
        failures[0].message
    )
    assert blocks["ct"].shape == (n_images, 1, 8, 8)
    expected_mask = np.ones(n_images, dtype=bool)
    expected_mask[corrupt] = False
    np.testing.assert_array_equal(blocks.masks["ct"], expected_mask)
    assert blocks.masks["age"].all()
    assert np.isnan(blocks["ct"][corrupt]).all()
    clean = np.delete(np.arange(n_images), corrupt)
    # Every other image reads exactly as the pixels written.
    np.testing.assert_array_equal(
        blocks["ct"][clean, 0], pixels[clean].astype(np.float32)
    )
    # The same rows without the corrupt file read the same.
    reference = ImageLoader().fit_transform(np.asarray(paths, dtype=object)[clean])
    np.testing.assert_array_equal(blocks["ct"][clean], reference)
