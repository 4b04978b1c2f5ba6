"""compare_fusions with its folds in parallel: serial, loky and dask.

The built-in image cohort (``make_patients`` with its CT slices written as
64 x 64 PNG files) at 1,000 and 4,000 patients; the union reads the CT through
``ImageLoader -> ImageFeatures(intensity_range=(0, 1)) -> StandardScaler ->
PCA(20)`` next to the standardised clinical values; eight candidates
({ConcatFusion, AverageFusion} x {logistic regression at three strengths, a
random forest of 100 trees}); stratified 5-fold cross-validation.

Each size runs three ways, one BLAS thread per process (set before numpy is
imported, inherited by every worker):

- serial (``n_jobs=1``);
- loky, ``n_jobs=2``;
- dask, a ``LocalCluster`` of 2 worker processes with 1 thread each, through
  ``joblib.parallel_config(backend="dask")`` (skipped without
  ``distributed``).

Wall time is split into start-up and work. Start-up is starting the workers
(the loky executor, or the cluster and its client), warming them with a
``compare_fusions`` on the first 100 patients (the imports a fresh worker
makes: about 1 s on this machine), and shipping one fold's arguments to them,
measured by running a no-op on those arguments once per fold; work is the
``compare_fusions`` call on warm workers. The bytes each
fold's task pickles to are reported. Every fold score is asserted identical
(exact floats) to the serial run's. The machine's load (``os.getloadavg``) is
printed before each run.

Run: .venv/bin/python benchmarks/parallel.py
Smoke run (200 patients, not written): .venv/bin/python benchmarks/parallel.py --quick
"""

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import pickle  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

# The candidates, image size and metrics of compare_cost.py: the same workload.
from compare_cost import IMAGE_SIDE, METRICS, fusions, heads  # noqa: E402
from joblib import Parallel, delayed, parallel_config  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from polymodal import MultimodalUnion  # noqa: E402
from polymodal.datasets import make_patients  # noqa: E402
from polymodal.image import ImageFeatures, ImageLoader  # noqa: E402
from polymodal.model_selection import compare_fusions  # noqa: E402
from polymodal.union._row_independent import row_independent_steps  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "parallel.md"
SIZES = (1000, 4000)
QUICK_SIZES = (200,)
TARGET = 1.6


def make_union():
    ct = make_pipeline(
        ImageLoader(),
        ImageFeatures(intensity_range=(0.0, 1.0)),
        StandardScaler(),
        PCA(n_components=20, random_state=0),
    )
    return MultimodalUnion(
        [("ct", ct, "ct"), ("clinical", StandardScaler(), ["age", "pack_years"])]
    )


def load():
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def run(X, y, cv, n_jobs):
    start = time.perf_counter()
    result = compare_fusions(
        make_union(),
        X,
        y,
        fusions=fusions(),
        heads=heads(),
        cv=cv,
        scoring=METRICS,
        baselines=None,
        n_jobs=n_jobs,
    )
    seconds = time.perf_counter() - start
    frame = result.scores_.sort_values(["candidate", "fold", "metric"])
    return seconds, frame["score"].to_numpy()


def _noop(*args):
    return None


def shipping(X, y, cv, n_jobs, run_jobs):
    """Seconds to start the workers, then to ship each fold's arguments once.

    Starting includes a ``compare_fusions`` on the first 100 patients with
    ``run_jobs``, so that the workers have imported what the work needs
    (scikit-image, Pillow, the estimators' modules) before it is timed.
    """
    start = time.perf_counter()
    Parallel(n_jobs=n_jobs)(delayed(_noop)(i) for i in range(n_jobs))
    run(X.iloc[:100], y[:100], cv, run_jobs)
    started = time.perf_counter() - start
    shared = row_independent_steps(make_union(), X)
    splits = list(cv.split(X, y))
    start = time.perf_counter()
    Parallel(n_jobs=n_jobs)(
        delayed(_noop)(make_union(), shared, X, y, train, test)
        for train, test in splits
    )
    return started, time.perf_counter() - start, shared, splits


def task_bytes(X, y, shared, splits):
    """What one fold's task pickles to, by argument (before any memmapping)."""
    train, test = splits[0]
    parts = {
        "table X": X,
        "target y": y,
        "row-independent blocks": shared,
        "fold rows": (train, test),
        "union, fusions, heads": (make_union(), fusions(), heads()),
    }
    return {name: len(pickle.dumps(part)) for name, part in parts.items()}


def measure(n_patients, folder):
    X, y = make_patients(
        n_patients, image_size=IMAGE_SIDE, as_files=folder, random_state=0
    )
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    rows = []
    print(f"{n_patients} patients, load {load()}: serial", flush=True)
    start = time.perf_counter()
    shared = row_independent_steps(make_union(), X)
    once = time.perf_counter() - start
    sizes = task_bytes(X, y, shared, list(cv.split(X, y)))
    serial_load = load()
    serial, reference = run(X, y, cv, 1)
    rows.append(("serial", serial_load, 0.0, 0.0, serial))

    print(f"{n_patients} patients, load {load()}: loky", flush=True)
    with parallel_config(backend="loky"):
        loky_load = load()
        started, shipped, _, _ = shipping(X, y, cv, 2, 2)
        seconds, scores = run(X, y, cv, 2)
    np.testing.assert_array_equal(scores, reference)
    rows.append(("loky, n_jobs=2", loky_load, started, shipped, seconds))

    try:
        import distributed
    except ImportError:
        distributed = None
    if distributed is not None:
        print(f"{n_patients} patients, load {load()}: dask", flush=True)
        dask_load = load()
        start = time.perf_counter()
        with (
            distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=40,
            ) as cluster,
            distributed.Client(cluster),
            parallel_config(backend="dask"),
        ):
            cluster_start = time.perf_counter() - start
            started, shipped, _, _ = shipping(X, y, cv, 2, -1)
            seconds, scores = run(X, y, cv, -1)
        np.testing.assert_array_equal(scores, reference)
        rows.append(
            (
                "dask LocalCluster, 2 x 1",
                dask_load,
                cluster_start + started,
                shipped,
                seconds,
            )
        )
    return rows, once, sizes


def report(measured):
    lines = [
        "# compare_fusions with its folds in parallel\n",
        "The built-in image cohort (`make_patients(n, image_size=64, "
        "as_files=...)`), CT through `ImageLoader -> ImageFeatures("
        "intensity_range=(0, 1)) -> StandardScaler -> PCA(20)` plus two "
        "clinical values; 8 candidates ({concat, average} x {LR at C = 0.01, "
        "0.1, 1; random forest of 100 trees}); stratified 5-fold; one BLAS "
        "thread per process. *Start-up* is starting the workers, warming them "
        "with a `compare_fusions` on 100 patients (their imports) and shipping "
        "each fold's arguments once (a no-op per fold); *work* is the "
        "`compare_fusions` call on the started workers, and includes the "
        "row-independent image features, computed once before the folds are "
        "dispatched, in `n_jobs` row chunks in parallel. Every fold score "
        "is asserted identical (exact floats) to the serial run's. Load is "
        "`os.getloadavg()` (1/5/15 min) just before each run, on a shared "
        "2-core machine; times are single runs and noisy.\n",
    ]
    for n_patients, (rows, once, sizes) in measured.items():
        serial = rows[0][4]
        lines.append(f"\n## {n_patients:,} patients\n")
        lines.append(
            f"Row-independent image features alone, computed serially (part of "
            f"every run's work, in parallel chunks for the parallel runs): "
            f"{once:.1f} s.\n"
        )
        lines.append(
            "\n| run | load | start-up (s) | shipping (s) | work (s) | "
            "speed-up of the work |\n|---|---|---|---|---|---|"
        )
        for name, at, started, shipped, seconds in rows:
            lines.append(
                f"| {name} | {at} | {started:.2f} | {shipped:.2f} | "
                f"{seconds:.1f} | {serial / seconds:.2f} |"
            )
        lines.append(
            "\nBytes one fold's task pickles to, by argument (loky memmaps "
            "numpy arrays over 1 MB instead of pickling them; the dask backend "
            "scatters once per call the arguments dask's sizeof puts over 1 kB, "
            "the blocks' record included, which reports its arrays' size):\n"
        )
        lines.append("| argument | bytes |\n|---|---|")
        for name, size in sizes.items():
            lines.append(f"| {name} | {size:,} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--sizes", type=int, nargs="+", help="patients per run")
    args = parser.parse_args()
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    measured = {}
    for n_patients in sizes:
        with tempfile.TemporaryDirectory() as folder:
            measured[n_patients] = measure(n_patients, folder)
    text = report(measured)
    print(text)
    if not args.quick:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
