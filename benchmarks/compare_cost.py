"""The cost of cross-validating fusion choices: 8 candidates against 1.

A cohort where feature extraction dominates: ``make_patients`` with its CT
slices written as 64 x 64 PNG files, read and featurised by
``make_pipeline(ImageLoader(), ImageFeatures(), StandardScaler(), PCA(20))``
(first-order, texture, HOG and LBP features, reduced to 20 components),
next to the standardised clinical values. Eight
candidates are two fusion steps (``ConcatFusion``, ``AverageFusion``) times
four heads (logistic regression at three strengths on standardised
features, a random forest of 100 trees); the one candidate is concat + logistic
regression. Stratified 5-fold cross-validation, the same folds everywhere,
three metrics, the best pipeline refitted on all rows.

Two ratios, measured in one process:

1. ``compare_fusions`` with 8 candidates against ``compare_fusions`` with 1
   (``baselines=None``): median of 3 alternating rounds. Target <= 2.0: the
   union is fitted once per fold whatever the number of candidates.
2. The same 1 and 8 candidates through plain ``GridSearchCV`` over a
   ``Pipeline`` without caching (what users write today: each candidate
   refits the union in every fold), one round each: its own 8-to-1 ratio,
   and its 8 candidates against ``compare_fusions``' 8, the time users save.
   Reported; the mean AUROC of each candidate is checked equal between
   ``compare_fusions`` and ``GridSearchCV``.

3. Row-independent features computed once (``--scaling``): ``compare_fusions``
   with the 8 candidates at 1,000 and 4,000 patients, the CT read by
   ``ImageLoader() -> ImageFeatures(intensity_range=(0, 1)) -> StandardScaler
   -> PCA(20)``: with a fixed range the image features learn nothing from the
   rows, so they are computed once for all rows instead of once per fold and
   again for the refit. Run once against the code before that change and
   once after (``PYTHONPATH``), one BLAS thread, each writing its times and
   fold scores to a JSON file; ``--scaling-report BEFORE AFTER`` checks the
   scores identical and appends the speed-ups to the results. Target >= 2x
   at 4,000 patients.

Run: .venv/bin/python benchmarks/compare_cost.py
Smoke run (60 patients, 3 folds, one round, prints without writing results or
checking the target): .venv/bin/python benchmarks/compare_cost.py --quick
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from polymodal import MultimodalUnion
from polymodal.datasets import make_patients
from polymodal.fusion import AverageFusion, ConcatFusion
from polymodal.image import ImageFeatures, ImageLoader
from polymodal.model_selection import compare_fusions

RESULTS = Path(__file__).parent / "results" / "compare_cost.md"
FULL = {"patients": 300, "folds": 5, "rounds": 3}
QUICK = {"patients": 60, "folds": 3, "rounds": 1}
IMAGE_SIDE = 64
METRICS = ["roc_auc", "average_precision", "balanced_accuracy"]
TARGET = 2.0


def make_union():
    return MultimodalUnion(
        [
            (
                "ct",
                make_pipeline(
                    ImageLoader(),
                    ImageFeatures(),
                    StandardScaler(),
                    PCA(n_components=20, random_state=0),
                ),
                "ct",
            ),
            ("clinical", StandardScaler(), ["age", "pack_years"]),
        ]
    )


def fusions():
    return {
        "concat": ConcatFusion(),
        "average": AverageFusion(n_components=2, random_state=0),
    }


def heads():
    logistic = {
        f"lr C={c}": make_pipeline(
            StandardScaler(), LogisticRegression(C=c, max_iter=5000)
        )
        for c in (0.01, 0.1, 1.0)
    }
    forest = RandomForestClassifier(n_estimators=100, n_jobs=1, random_state=0)
    return {**logistic, "random forest": forest}


def steps(n_candidates):
    """The fusions and heads of the 8 candidates, or of the 1."""
    all_fusions, all_heads = fusions(), heads()
    if n_candidates == 1:
        return {"concat": all_fusions["concat"]}, {"lr C=0.1": all_heads["lr C=0.1"]}
    return all_fusions, all_heads


def run_compare(X, y, cv, n_candidates):
    run_fusions, run_heads = steps(n_candidates)
    start = time.perf_counter()
    result = compare_fusions(
        make_union(),
        X,
        y,
        fusions=run_fusions,
        heads=run_heads,
        cv=cv,
        scoring=METRICS,
        baselines=None,
    )
    seconds = time.perf_counter() - start
    assert len(result.candidates_) == n_candidates
    return seconds, result


def run_grid_search(X, y, cv, n_candidates):
    """GridSearchCV over the same candidates; also their steps' names by id."""
    pipe = Pipeline(
        [
            ("union", make_union()),
            ("fusion", ConcatFusion()),
            ("head", LogisticRegression()),
        ]
    )
    grid_fusions, grid_heads = steps(n_candidates)
    grid = {"fusion": list(grid_fusions.values()), "head": list(grid_heads.values())}
    names = {id(step): name for name, step in {**grid_fusions, **grid_heads}.items()}
    search = GridSearchCV(pipe, grid, cv=cv, scoring=METRICS, refit="roc_auc")
    start = time.perf_counter()
    search.fit(X, y)
    return time.perf_counter() - start, search, names


def check_same_scores(result, search, names):
    """Each candidate's mean AUROC is the same in both runs."""
    ours = result.to_frame()["roc_auc_mean"]
    results = search.cv_results_
    for params, expected in zip(results["params"], results["mean_test_roc_auc"]):
        # The grid's params are the very estimators that were put in it.
        candidate = f"{names[id(params['fusion'])]} + {names[id(params['head'])]}"
        assert np.isclose(ours[candidate], expected), candidate


def report(sizes, single, eight, grid_single, grid_eight):
    ratio = eight / single
    return (
        "# Cost of cross-validating fusion choices\n\n"
        f"`make_patients({sizes['patients']})` with its CT slices as "
        f"{IMAGE_SIDE} x {IMAGE_SIDE} PNG files (`ImageLoader` + `ImageFeatures`, "
        "then PCA to 20 components) "
        f"and two clinical values; stratified {sizes['folds']}-fold "
        "cross-validation, three metrics, best pipeline refitted on all rows. "
        "8 candidates = {ConcatFusion, AverageFusion} x {logistic regression at "
        "C = 0.01, 0.1, 1; random forest}; 1 candidate = concat + logistic "
        f"regression. `compare_fusions` times are medians of {sizes['rounds']} "
        "alternating rounds; each `GridSearchCV` (over a `Pipeline`, no "
        "caching) ran once. Mean AUROC per candidate checked equal between "
        "`compare_fusions` and `GridSearchCV`.\n\n"
        "| run | seconds | ratio to `compare_fusions`, 1 candidate |\n"
        "|---|---|---|\n"
        f"| `compare_fusions`, 1 candidate | {single:.1f} | 1.00 |\n"
        f"| `compare_fusions`, 8 candidates | {eight:.1f} | {ratio:.2f} |\n"
        f"| `GridSearchCV`, 1 candidate | {grid_single:.1f} | "
        f"{grid_single / single:.2f} |\n"
        f"| `GridSearchCV`, 8 candidates | {grid_eight:.1f} | "
        f"{grid_eight / single:.2f} |\n\n"
        f"8 candidates cost {ratio:.2f}x one with `compare_fusions` "
        f"(target <= {TARGET}) and {grid_eight / grid_single:.2f}x one with "
        f"`GridSearchCV`; for the same 8 candidates `GridSearchCV` takes "
        f"{grid_eight / eight:.1f}x as long as `compare_fusions`.\n"
    )


SCALING_SIZES = (1000, 4000)
SCALING_TARGET = 2.0


def make_fixed_range_union():
    """The benchmark's union, with the CT intensities quantised over [0, 1]."""
    union = make_union()
    union.set_params(ct__imagefeatures__intensity_range=(0.0, 1.0))
    return union


def run_scaling(path, sizes):
    """Time compare_fusions (8 candidates) at each size; write times and scores."""
    found = {}
    for n_patients in sizes:
        with tempfile.TemporaryDirectory() as folder:
            X, y = make_patients(
                n_patients, image_size=IMAGE_SIDE, as_files=folder, random_state=0
            )
            cv = StratifiedKFold(5, shuffle=True, random_state=0)
            start = time.perf_counter()
            result = compare_fusions(
                make_fixed_range_union(),
                X,
                y,
                fusions=fusions(),
                heads=heads(),
                cv=cv,
                scoring=METRICS,
                baselines=None,
            )
            seconds = time.perf_counter() - start
        scores = result.scores_.sort_values(["candidate", "fold", "metric"])
        found[str(n_patients)] = {
            "seconds": seconds,
            "scores": [repr(float(v)) for v in scores["score"]],
        }
        print(f"{n_patients} patients: {seconds:.1f} s", flush=True)
    Path(path).write_text(json.dumps(found))


def scaling_report(before_path, after_path):
    before = json.loads(Path(before_path).read_text())
    after = json.loads(Path(after_path).read_text())
    rows = []
    for size in before:
        assert before[size]["scores"] == after[size]["scores"], size
        old, new = before[size]["seconds"], after[size]["seconds"]
        rows.append(f"| {int(size):,} | {old:.1f} | {new:.1f} | {old / new:.2f} |")
    largest = max(before, key=int)
    speedup = before[largest]["seconds"] / after[largest]["seconds"]
    text = (
        "\n## Row-independent features computed once\n\n"
        "`compare_fusions` with the 8 candidates above, stratified 5-fold, the "
        "CT read by `ImageLoader() -> ImageFeatures(intensity_range=(0, 1)) -> "
        "StandardScaler -> PCA(20)`, before and after the image features are "
        "computed once for all rows (then sliced per fold and for the refit) "
        "instead of once per fold and for the refit; one BLAS thread, one run "
        "each, on a shared 2-core machine. Every fold score (candidates x "
        "folds x metrics) is identical, compared as exact floats.\n\n"
        "| patients | before (s) | after (s) | speed-up |\n"
        "|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"Speed-up at {int(largest):,} patients: {speedup:.2f}x "
        f"(target >= {SCALING_TARGET}).\n"
    )
    print(text)
    with RESULTS.open("a") as results:
        results.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument(
        "--scaling", metavar="JSON", help="time the sizes of part 3 into JSON"
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=SCALING_SIZES, help="for --scaling"
    )
    parser.add_argument(
        "--scaling-report",
        nargs=2,
        metavar=("BEFORE", "AFTER"),
        help="compare two --scaling runs and append the speed-ups to the results",
    )
    args = parser.parse_args()
    if args.scaling:
        run_scaling(args.scaling, args.sizes)
        return
    if args.scaling_report:
        scaling_report(*args.scaling_report)
        return
    sizes = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory() as folder:
        X, y = make_patients(
            sizes["patients"], image_size=IMAGE_SIDE, as_files=folder, random_state=0
        )
        cv = StratifiedKFold(sizes["folds"], shuffle=True, random_state=0)
        single_times, eight_times = [], []
        for _ in range(sizes["rounds"]):
            single_times.append(run_compare(X, y, cv, 1)[0])
            seconds, result = run_compare(X, y, cv, 8)
            eight_times.append(seconds)
        grid_single = run_grid_search(X, y, cv, 1)[0]
        grid_eight, search, names = run_grid_search(X, y, cv, 8)
    check_same_scores(result, search, names)
    single = statistics.median(single_times)
    eight = statistics.median(eight_times)
    text = report(sizes, single, eight, grid_single, grid_eight)
    print(text)
    if args.quick:
        return
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    assert eight / single <= TARGET, f"8 candidates cost {eight / single:.2f}x one"


if __name__ == "__main__":
    main()
