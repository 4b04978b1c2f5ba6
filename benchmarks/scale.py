"""Wall time and peak memory of each workflow at four cohort sizes spaced x2.

Workflows (each size in a fresh subprocess, one BLAS thread, set before numpy
is imported and inherited by every child):

- union: ``MultimodalUnion`` (TF-IDF note + 3 numeric columns, the table of
  ``union_overhead.py``) + ``ConcatFusion`` + ``LogisticRegression`` fit, against
  ``ColumnTransformer`` + ``LogisticRegression`` on the same table;
- ``fit_transform`` of each fusion step: ``ConcatFusion`` (against
  ``np.hstack`` of the blocks), ``AverageFusion``, ``ProductFusion`` and
  ``TensorFusion`` on the blocks of ``memory_multiples.py`` (20 clinical
  columns with NaN cells, 200 omics columns absent in 30% of rows, 60 note
  columns absent in 20%); ``SubspaceFusion`` (3 modalities, GCCA) and
  ``FactorizationFusion`` (``fit``; 8 factors, three beyond the rank-5
  signal, and 5, at the rank) measured by ``subspace_scale.measure``;
  ``KernelFusion`` (exact) and ``NystroemKernelFusion`` (300 components)
  measured by ``kernel_scale._measure``;
- ``KmerVectorizer(k=4)`` against ``CountVectorizer(analyzer="char",
  ngram_range=(4, 4))`` on random 1 kb DNA sequences (``modalities.py``'s);
- ``ImageLoader -> ImageFeatures`` on 64 x 64 PNG files (``modalities.py``'s),
  against its hand-written Pillow + scikit-image loop;
- ``compare_fusions`` with the 8 candidates of ``compare_cost.py`` on the
  built-in image cohort (CT slices as PNG files), stratified 5-fold, serial.

Each size runs twice, each time in fresh processes. Memory comes from a
plain child: the step's peak resident memory above the resident memory just
before it, the input already built (the input itself is not counted): in this
script's own children, ``VmHWM`` after resetting it through
``/proc/self/clear_refs`` less ``VmRSS`` before the step; in the reused
kernel and subspace children, the growth of ``ru_maxrss`` over its value before
the step. Time comes from a child on memory the host has backed already
(``backed_memory``: it keeps what it frees and first touches a ballast of
1 GiB plus twice the plain child's peak, at most 12 GiB), because this
virtual machine's host takes freed memory back within seconds and backs it
again on first touch, at a cost that grew faster than the rows; the plain
child's time is reported beside it as the slope a fresh process gives. The
time is the step's wall time, the median of 5 rounds when one pass (of the
step and its baseline, which runs alternately in the same child) takes under
1 s, of 3 under 5 s, else one run (``subspace_scale.measure``: median of 3;
``kernel_scale._measure``: the median of the same number of rounds, each in
a fresh process). The median, not the least: the machine's share of the CPU
cache varies with its neighbours, and the least of rounds picked a lucky
round at the smallest size, where data nearly fit. Slopes are least-squares
fits of log time and log memory on log rows; the largest cohort in 24 GiB
solves the fitted memory power law for 24 GiB (the step alone; the input
adds its own bytes). A copy probe times ``np.hstack`` of the ConcatFusion
blocks per row from 4,000 to 256,000 rows, to show where the CPU caches end
on the machine measuring, and so why the linear workflows are timed from
32,000 rows. The parallel speed-ups are not measured here: they are read
from ``results/parallel.md`` (``parallel.py``), with the load stated there.

Run: .venv/bin/python benchmarks/scale.py   (17-22 minutes on 2 cores)
``--commit C`` measures the ``src`` of commit C (extracted with ``git archive``)
instead of the working tree's, e.g. while the working tree is mid-edit.
Smoke run (tiny sizes, prints without writing): ... scale.py --quick
One workflow only (prints): ... scale.py --only concat kmer
"""

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import backed_memory  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "scale.md"
PARALLEL = HERE / "results" / "parallel.md"
SRC = HERE.parent / "src"
SOURCE = SRC  # the src folder measured; --commit replaces it
BUDGET = 24 * 2**30
# The largest ballast of a timing child (see backed_memory).
BALLAST_CAP = 12 * 2**30
# Timing rounds by the seconds of one pass of step + baseline: the median of
# 5 rounds under 1 s, of 3 under 5 s, else one run.
ROUNDS = ((1.0, 5), (5.0, 3))

# Linear workflows from 32,000 rows: below that the blocks (20 + 200 + 60
# float64 columns: 18 MB at 8,000 rows, 72 MB at 32,000, with the output as
# much again) stay in the CPU caches, and a plain copy's time per row steps up
# 2.5-4x as they outgrow them (the copy probe below measures where), which a
# window across the step reads as a slope of 1.4-1.7 for np.hstack itself.
LINEAR = (32000, 64000, 128000, 256000)
QUADRATIC = (1000, 2000, 4000, 8000)
# FactorizationFusion's blocks are 80 float64 columns (640 bytes a row, 20 MB
# at 32,000 rows), so its own cache step lies 4-8 times further out than
# ConcatFusion's: from 128,000 rows.
FACTORIZATION = (128000, 256000, 512000, 1024000)
# Its iteration count is a draw of the initial loadings (6-9 at every size
# with the factors at the data's rank, and now and then 16-50), and one
# iteration more or less at one size moves the slope by 0.07: each size takes
# the median over 4 initialisations, with every count shown.
INITIALISATIONS = 4
# The copy probe: np.hstack of the ConcatFusion blocks, per row.
PROBE = (4000, 8000, 16000, 32000, 64000, 128000, 256000)
# name: (label, sizes, quick sizes, baseline label, target)
WORKFLOWS = {
    "union": (
        "MultimodalUnion + ConcatFusion + LogisticRegression, fit",
        (2500, 5000, 10000, 20000),
        (200, 400, 800, 1600),
        "ColumnTransformer + LogisticRegression",
        None,
    ),
    "concat": ("ConcatFusion", LINEAR, (500, 1000, 2000, 4000), "np.hstack", 1.1),
    "average": ("AverageFusion(8)", LINEAR, (500, 1000, 2000, 4000), None, 1.1),
    "product": ("ProductFusion(8)", LINEAR, (500, 1000, 2000, 4000), None, 1.1),
    "tensor": ("TensorFusion(4)", LINEAR, (500, 1000, 2000, 4000), None, 1.1),
    "subspace": (
        "SubspaceFusion(4, gcca), 3 modalities",
        QUADRATIC,
        (200, 400, 800, 1600),
        None,
        1.1,
    ),
    "factorization": (
        "FactorizationFusion(8), fit: 3 factors beyond the data's rank 5",
        FACTORIZATION,
        (400, 800, 1600, 3200),
        None,
        1.1,
    ),
    "factorization_at_rank": (
        "FactorizationFusion(5), fit: n_factors at the data's rank",
        FACTORIZATION,
        (400, 800, 1600, 3200),
        None,
        1.1,
    ),
    # From 4,000 rows (one n x n matrix: 128 MB at 4,000, 8 GB at 32,000):
    # at 2,000 (32 MB) the matrix stays in the CPU caches and one run takes
    # 0.11-0.23 s, the spread of two runs.
    "kernel": (
        "KernelFusion (exact RBF)",
        (4000, 8000, 16000, 32000),
        (200, 400, 800, 1600),
        None,
        2.1,
    ),
    "nystroem": (
        "NystroemKernelFusion(300)",
        LINEAR,
        (500, 1000, 2000, 4000),
        None,
        1.1,
    ),
    "kmer": (
        "KmerVectorizer(k=4), 1 kb DNA",
        (2500, 5000, 10000, 20000),
        (250, 500, 1000, 2000),
        'CountVectorizer(analyzer="char")',
        None,
    ),
    "image": (
        "ImageLoader -> ImageFeatures, 64x64 PNG",
        (250, 500, 1000, 2000),
        (25, 50, 100, 200),
        "Pillow + scikit-image loop",
        None,
    ),
    "compare": (
        "compare_fusions, 8 candidates, image cohort",
        (250, 500, 1000, 2000),
        (60, 120, 240, 480),
        None,
        None,
    ),
}


# ----------------------------------------------------------------- child side
def _steps(workflow, folder):
    """(make input of n rows, the step, the baseline or None, warm-up rows)."""
    if workflow == "union":
        from sklearn.compose import ColumnTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from union_overhead import make_table, transformers

        from polymodal import MultimodalUnion
        from polymodal.fusion import ConcatFusion

        def make(n):
            X = make_table(n)
            return X, (X["age"] > 64).to_numpy()

        def run(data):
            union = MultimodalUnion(transformers())
            head = LogisticRegression(max_iter=1000)
            return make_pipeline(union, ConcatFusion(indicators=False), head).fit(*data)

        def baseline(data):
            head = LogisticRegression(max_iter=1000)
            return make_pipeline(ColumnTransformer(transformers()), head).fit(*data)

        return make, run, baseline, 200
    if workflow == "copy":
        from memory_multiples import _blocks

        return _blocks, _hstack, None, 300
    if workflow in ("concat", "average", "product", "tensor"):
        from memory_multiples import _blocks

        from polymodal.fusion import (
            AverageFusion,
            ConcatFusion,
            ProductFusion,
            TensorFusion,
        )

        fusion = {
            "concat": lambda: ConcatFusion(),
            "average": lambda: AverageFusion(8, random_state=0),
            "product": lambda: ProductFusion(8, random_state=0),
            "tensor": lambda: TensorFusion(4, random_state=0),
        }[workflow]

        def complete_cells(n):
            """The blocks with the clinical NaN cells of present rows set to 0.

            Average, Product and Tensor fusion reject NaN in present rows (they
            ask for an imputer); only absent rows stay NaN.
            """
            from polymodal import ModalityBlocks

            blocks = _blocks(n)
            values = {name: blocks[name] for name in blocks.names}
            values["clinical"] = np.nan_to_num(values["clinical"])
            return ModalityBlocks(values, masks=dict(blocks.masks))

        def step(blocks):
            return fusion().fit_transform(blocks)

        if workflow == "concat":
            return _blocks, step, _hstack, 300
        return complete_cells, step, None, 300
    if workflow == "kmer":
        from modalities import SEQUENCE_LENGTH, make_sequences
        from sklearn.feature_extraction.text import CountVectorizer

        from polymodal.sequence import KmerVectorizer

        def baseline(sequences):
            reference = CountVectorizer(
                analyzer="char", ngram_range=(4, 4), lowercase=False
            )
            return reference.fit_transform(sequences)

        return (
            lambda n: make_sequences(n, SEQUENCE_LENGTH),
            lambda sequences: KmerVectorizer(k=4).fit_transform(sequences),
            baseline,
            50,
        )
    if workflow == "image":
        from modalities import hand_written_features
        from sklearn.pipeline import make_pipeline

        from polymodal.image import ImageFeatures, ImageLoader

        paths = sorted(str(path) for path in Path(folder).glob("*.png"))

        def run(chosen):
            steps = make_pipeline(
                ImageLoader(), ImageFeatures(intensity_range=(0, 255))
            )
            return steps.fit_transform(chosen)

        return lambda n: paths[:n], run, hand_written_features, 5
    if workflow == "compare":
        from compare_cost import (
            IMAGE_SIDE,
            METRICS,
            fusions,
            heads,
            make_fixed_range_union,
        )
        from sklearn.model_selection import StratifiedKFold

        from polymodal.datasets import make_patients
        from polymodal.model_selection import compare_fusions

        def make(n):
            files = Path(folder) / str(n)
            return make_patients(
                n, image_size=IMAGE_SIDE, as_files=files, random_state=0
            )

        def run(data):
            return compare_fusions(
                make_fixed_range_union(),
                *data,
                fusions=fusions(),
                heads=heads(),
                cv=StratifiedKFold(5, shuffle=True, random_state=0),
                scoring=METRICS,
                baselines=None,
            )

        return make, run, None, 40
    raise ValueError(workflow)


def _hstack(blocks):
    """The plain copy every concatenation makes: ConcatFusion's baseline."""
    return np.hstack([blocks[name] for name in blocks.names])


def _timed(function, data):
    start = time.perf_counter()
    function(data)
    return time.perf_counter() - start


def child(workflow, n, folder):
    """Measure one size in this (fresh) process; print one line of JSON."""
    import warnings

    from backed_memory import hold_ballast
    from modalities import resident_bytes

    hold_ballast()
    warnings.simplefilter("ignore")
    make, run, baseline, warm = _steps(workflow, folder)
    run(make(warm))  # lazy imports and caches are not the step's
    if baseline is not None:
        baseline(make(warm))
    data = make(n)
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS now
    before = resident_bytes("VmRSS")
    seconds = [_timed(run, data)]
    peak = resident_bytes("VmHWM") - before
    found = {"peak": peak}
    base = [] if baseline is None else [_timed(baseline, data)]
    one_pass = seconds[0] + sum(base)
    rounds = next((count for below, count in ROUNDS if one_pass < below), 1)
    for _ in range(rounds - 1):
        if baseline is not None:
            base.append(_timed(baseline, data))
        seconds.append(_timed(run, data))
    if base:
        found["baseline_seconds"] = float(np.median(base))
    found["seconds"] = float(np.median(seconds))
    print(json.dumps(found))


# ---------------------------------------------------------------- parent side
def measure(workflow, n, folder):
    """One size of one workflow: peak memory from a plain child, time from a
    child on backed memory (see ``backed_memory``), and the plain child's time
    as ``fresh_seconds``."""
    plain = _measure_in(workflow, n, folder, {})
    ballast = min(BALLAST_CAP, 2**30 + 2 * plain["peak"])
    backed = _measure_in(workflow, n, folder, backed_memory.environment(ballast))
    return backed | {"peak": plain["peak"], "fresh_seconds": plain["seconds"]}


def _measure_in(workflow, n, folder, env):
    """One size of one workflow in fresh processes with ``env`` added."""
    if workflow in ("kernel", "nystroem"):
        from kernel_scale import _measure

        mode = "exact" if workflow == "kernel" else "nystroem"
        found = _measure(SOURCE, n, mode, env=env)
        rounds = next((count for below, count in ROUNDS if found["seconds"] < below), 1)
        # Each round in a fresh process, as the first.
        seconds = [found["seconds"]]
        seconds += [
            _measure(SOURCE, n, mode, env=env)["seconds"] for _ in range(rounds - 1)
        ]
        found["seconds"] = float(np.median(seconds))
        return found
    if workflow in ("subspace", "factorization", "factorization_at_rank"):
        from subspace_scale import measure as measure_subspace

        at_rank = workflow == "factorization_at_rank"
        if workflow == "subspace":
            found = measure_subspace(workflow, n, SOURCE, 3, env=env)
        else:
            found = measure_subspace(
                "factorization",
                n,
                SOURCE,
                3 if at_rank else 1,
                n_factors=5 if at_rank else 8,
                random_states=INITIALISATIONS,
                env=env,
            )
        found["peak"] = found["growth_mib"] * 2**20
        return found
    env = os.environ | env | {"PYTHONPATH": f"{SOURCE}{os.pathsep}{HERE}"}
    command = [sys.executable, __file__, "--child", workflow, str(n), str(folder)]
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{workflow} at {n}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def power_law(sizes, values):
    """Slope and intercept of log(values) on log(sizes)."""
    values = np.maximum(np.asarray(values, dtype=float), 1.0e-9)
    slope, intercept = np.polyfit(np.log(sizes), np.log(values), 1)
    return float(slope), float(intercept)


def largest_in_budget(sizes, peaks):
    slope, intercept = power_law(sizes, peaks)
    if slope <= 0:
        return float("inf")
    return float(np.exp((np.log(BUDGET) - intercept) / slope))


def count(n):
    if not np.isfinite(n):
        return "unbounded (memory not growing)"
    if n >= 1e9:
        return f"{n:.1e}"
    if n >= 1e6:
        return f"{n / 1e6:.1f} M"
    if n >= 1e3:
        return f"{n / 1e3:.0f} k"
    return f"{n:.0f}"


def mib(value):
    return f"{value / 2**20:.1f}" if value < 100 * 2**20 else f"{value / 2**20:.0f}"


def load():
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def row(workflow, sizes, runs):
    label, _, _, baseline, target = WORKFLOWS[workflow]
    seconds = [run["seconds"] for run in runs]
    peaks = [max(run["peak"], 1) for run in runs]
    time_slope = power_law(sizes, seconds)[0]
    fresh_slope = power_law(sizes, [run["fresh_seconds"] for run in runs])[0]
    memory_slope = power_law(sizes, peaks)[0]
    times = " / ".join(f"{value:.3g}" for value in seconds)
    if baseline:
        ratios = " / ".join(
            f"{run['seconds'] / run['baseline_seconds']:.2f}" for run in runs
        )
        base_slope = power_law(sizes, [run["baseline_seconds"] for run in runs])[0]
        times += (
            f" (ratio to {baseline}: {ratios}; the baseline's time slope "
            f"{base_slope:.2f})"
        )
    if workflow.startswith("factorization"):
        iterations = [np.median(run["n_iters"]) for run in runs]
        per_iteration = [
            np.median(np.divide(run["seconds_each"], run["n_iters"])) for run in runs
        ]
        each = "; ".join(", ".join(map(str, run["n_iters"])) for run in runs)
        times += (
            f" (median over {INITIALISATIONS} initial loadings; iterations "
            f"{' / '.join(f'{value:g}' for value in iterations)}, each: {each}; "
            f"time per iteration slope {power_law(sizes, per_iteration)[0]:.2f})"
        )
    memory = " / ".join(mib(value) for value in peaks)
    if workflow == "kernel":
        square = [peak / (8 * n**2) for n, peak in zip(sizes, peaks, strict=True)]
        # Peak = fixed part + multiple x 8n^2 bytes: the multiple, fitted.
        multiple = np.polyfit([8.0 * n**2 for n in sizes], peaks, 1)[0]
        memory += (
            " (n×n arrays: "
            + " / ".join(f"{value:.1f}" for value in square)
            + f"; fitted {multiple:.2f} n×n + a fixed part)"
        )
        shown = f"time slope ≤ {target}, memory ≤ 2 n×n"
        met = time_slope <= target and multiple <= 2.0
    elif target is not None:
        shown = f"slopes ≤ {target}"
        met = time_slope <= target and memory_slope <= target
    else:
        shown, met = "reported", None
    largest = count(largest_in_budget(sizes, peaks))
    if memory_slope < 0.5:
        largest += " (a fixed part dominates the memory: not a forecast)"
    return (
        f"| {label} | {' / '.join(f'{n:,}' for n in sizes)} | {times} | "
        f"{time_slope:.2f} ({fresh_slope:.2f}) | {memory} | {memory_slope:.2f} | "
        f"{largest} | {shown} | "
        f"{'—' if met is None else ('yes' if met else 'no')} |"
    )


def copy_probe(folder, quick):
    """The copy probe's section: np.hstack's time per row at growing sizes."""
    sizes = PROBE[:4] if quick else PROBE
    seconds = []
    for n in sizes:
        seconds.append(measure("copy", n, folder)["seconds"])
    lines = [
        "## Where the CPU caches end: a plain copy per row",
        "",
        "`np.hstack` of the ConcatFusion blocks (20 + 200 + 60 float64 columns), "
        "the median of 5 rounds per size in a fresh process. Its time per row "
        "steps up as the blocks and their copy outgrow the caches, then stays "
        "flat: a slope fitted across the step measures the caches, not the "
        "step's cost growth, so the linear workflows above start past it.",
        "",
        "| rows | blocks + copy (MB) | ns per row | slope to the next size |",
        "|---|---|---|---|",
    ]
    for index, (n, value) in enumerate(zip(sizes, seconds, strict=True)):
        following = (
            f"{power_law(sizes[index : index + 2], seconds[index : index + 2])[0]:.2f}"
            if index + 1 < len(sizes)
            else "—"
        )
        lines.append(
            f"| {n:,} | {2 * n * 280 * 8 / 1e6:.0f} | {value / n * 1e9:.0f} | "
            f"{following} |"
        )
    return [*lines, ""]


def parallel_rows():
    """The speed-up rows of results/parallel.md, with their sizes and loads."""
    if not PARALLEL.exists():
        return ["(`results/parallel.md` not found: run `parallel.py`.)"]
    commit = subprocess.run(
        ["git", "log", "-1", "--format=%h, %cs", "--", str(PARALLEL)],
        capture_output=True,
        text=True,
        cwd=HERE,
    ).stdout.strip()
    lines = [
        f"Quoted from `results/parallel.md` (written by `parallel.py`, last "
        f"committed {commit or 'not committed'}), not measured by this script:",
        "",
        "| patients | run | load (1/5/15 min) | work (s) | speed-up of the work |",
        "|---|---|---|---|---|",
    ]
    patients = None
    for line in PARALLEL.read_text().splitlines():
        if line.startswith("## ") and "patients" in line:
            patients = line[3:].split()[0]
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if patients and len(cells) == 6 and cells[0] not in ("run", "---"):
            run, where, _, _, work, speedup = cells
            lines.append(f"| {patients} | {run} | {where} | {work} | {speedup} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, no file")
    parser.add_argument("--only", nargs="+", choices=list(WORKFLOWS))
    parser.add_argument("--child", nargs=3, metavar=("WORKFLOW", "N", "FOLDER"))
    parser.add_argument("--commit", help="measure this commit's src, not the tree's")
    args = parser.parse_args()
    if args.child:
        workflow, n, folder = args.child
        child(workflow, int(n), folder)
        return
    with tempfile.TemporaryDirectory() as extracted:
        if args.commit:
            global SOURCE
            archive = subprocess.run(
                ["git", "archive", args.commit, "src"],
                cwd=HERE.parent,
                capture_output=True,
                check=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", extracted], input=archive, check=True)
            SOURCE = Path(extracted) / "src"
        run_all(args, code_measured(args.commit))


def code_measured(commit):
    """Which polymodal code the run measures, in words."""

    def git(*words):
        out = subprocess.run(["git", *words], cwd=HERE, capture_output=True, text=True)
        return out.stdout.strip()

    if commit:
        return f"polymodal at commit {git('rev-parse', '--short', commit)}"
    changed = git("status", "--porcelain", "--", str(SRC))
    return (
        f"the working tree's polymodal (HEAD {git('rev-parse', '--short', 'HEAD')}"
        + (", with uncommitted changes in src/)" if changed else ")")
    )


def run_all(args, measured):
    sys.path[:0] = [str(SOURCE), str(HERE)]
    from modalities import write_pngs

    start_load, started = load(), time.perf_counter()
    chosen = args.only or list(WORKFLOWS)
    lines, loads = [], []
    with tempfile.TemporaryDirectory() as folder:
        for workflow in chosen:
            _, sizes, quick, _, _ = WORKFLOWS[workflow]
            sizes = quick if args.quick else sizes
            if workflow == "image":
                write_pngs(Path(folder), max(sizes), 64)
            loads.append(os.getloadavg()[0])
            runs = [measure(workflow, n, folder) for n in sizes]
            lines.append(row(workflow, sizes, runs))
            print(lines[-1], flush=True)
    probe = [] if args.only else copy_probe(folder, args.quick)
    end_load, minutes = load(), (time.perf_counter() - started) / 60
    report = [
        "# Time and peak memory against the cohort size",
        "",
        "Generated by `benchmarks/scale.py` (its docstring has the data of each "
        f"workflow) in {minutes:.1f} minutes at niceness {os.nice(0)}, measuring "
        f"{measured}, on a shared "
        f"{os.cpu_count()}-core machine. Load (`os.getloadavg`, 1/5/15 min): "
        f"{start_load} at the start, {end_load} at the end; the 1-minute load "
        f"before each workflow ranged {min(loads):.2f}–{max(loads):.2f}.",
        "",
        "- Each size runs in a fresh subprocess with one BLAS thread; the input is "
        "built before the step and not counted.",
        "- Each size runs twice. Time comes from a child on memory the host has "
        "backed (`backed_memory`: it keeps the memory it frees and first touches "
        "a ballast of 1 GiB plus twice the plain child's peak, at most 12 GiB), "
        "memory from a plain child. This virtual machine's host takes freed "
        "memory back within seconds and backs it again on first touch (1.84 GB "
        "took 0.30 s to touch 0–0.5 s after it was freed, 2.1 s after 5 s), a "
        "cost of the machine that a step writing a large output over seconds "
        "pays for more of its pages the larger it is. The plain child's time "
        "slope is given in parentheses: what a fresh process on this machine "
        "sees.",
        "- Peak memory (MiB): the step's peak resident memory above the resident "
        "memory just before it: `VmHWM` reset through `/proc/self/clear_refs` less "
        "`VmRSS` for this script's children, `ru_maxrss` growth for the kernel "
        "(`kernel_scale._measure`) and subspace/factorization "
        "(`subspace_scale.measure`) children.",
        "- Time (s): wall time of the step, the median of 5 rounds when one pass "
        "(of the step and its baseline) is under 1 s, of 3 under 5 s, else one "
        "run (subspace/factorization: median of 3; kernels: the median of as many "
        "rounds, each in a fresh process); where a "
        "baseline exists it runs alternately in the same child, and the ratio is "
        "polymodal / baseline time per size, with the baseline's own slope.",
        "- Slopes: least-squares fit of log value on log rows; largest n in 24 GiB: "
        "the fitted memory power law solved for 24 GiB (the step's own memory, "
        "input excluded: an extrapolation, not a measurement; where memory has a "
        "large fixed part, as a slope well below 1 shows, the power law "
        "overstates it).",
        "- Targets (issue 18): slopes ≤ 1.1 for every fusion except exact "
        "KernelFusion (time slope ≤ 2.1, peak ≤ 2 n×n float64 arrays, the "
        "multiple fitted as peak = fixed + multiple × 8n² bytes over the sizes); "
        "the other workflows are reported.",
        "",
        "| workflow | sizes | time per size (s) | time slope (fresh process) | peak memory per size "
        "(MiB) | memory slope | largest n in 24 GiB | target | met? |",
        "|---|---|---|---|---|---|---|---|---|",
        *lines,
        "",
        *probe,
        "## Parallel speed-ups of compare_fusions",
        "",
        *parallel_rows(),
        "",
    ]
    text = "\n".join(report)
    print(text)
    if not (args.quick or args.only):
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
