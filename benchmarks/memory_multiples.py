"""Peak memory of ImageFeatures and ConcatFusion as a multiple of their output.

Each ``transform`` (after ``fit``) runs under :mod:`tracemalloc`, which counts the
Python allocations numpy makes, with the peak reset once the input is built and one small
``transform`` has run (imports and caches are not the step's): the
peak over the output's ``nbytes`` is what the step holds besides its result.
Three sizes spaced x2 for each step; the time (median of 3 rounds, without
tracing) gets a fitted log-log slope. Each code version runs in its own process
with ``PYTHONPATH`` pointing at its ``src``; outputs of a few configurations
(absent rows, NaN cells, weights, block scaling, indicators, sparse blocks,
pandas output, several jobs, volumes with a mask) are checked equal between
versions. Targets: ImageFeatures <= 1.3x, ConcatFusion <= 1.5x (dense output).

Sparse blocks: ``ConcatFusion`` over a dense clinical block (20 columns) beside
two TF-IDF-like CSR blocks of 1% density (a 5,000-column note absent in 20% of
rows, a 2,000-column k-mer block), sparse output, with ``impute="mean"`` (the
default) and ``impute="zero"``; its peak is set against the output's
``data + indices + indptr`` bytes.

Run: .venv/bin/python benchmarks/memory_multiples.py [--baseline PATH/src]
Sparse part only (current ``src``; replaces that section of the results):
.venv/bin/python benchmarks/memory_multiples.py --sparse

With ``--baseline``, the baseline's figures are measured too (e.g. of a
``git worktree`` of the previous commit) and the table has both.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "memory_multiples.md"
SRC = Path(__file__).resolve().parents[1] / "src"
IMAGE_SIZES = (250, 500, 1000)
CONCAT_SIZES = (10_000, 20_000, 40_000)
SPARSE_SIZES = (10_000, 20_000, 40_000)
SPARSE_IMPUTE = ("mean", "zero")
SPARSE_HEADING = "## Sparse blocks"
ROUNDS = 3


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 32, 32)).astype(np.float32)


def _blocks(n, seed=0, sparse_block=False):
    import pandas as pd
    from scipy import sparse

    from polymodal import ModalityBlocks

    rng = np.random.default_rng(seed)
    clinical = rng.normal(size=(n, 20))
    clinical[rng.random(clinical.shape) < 0.05] = np.nan
    omics = rng.normal(size=(n, 200))
    omics[rng.random(n) < 0.3] = np.nan
    note = rng.random((n, 60))
    note[note < 0.7] = 0.0
    masks = {
        "clinical": np.ones(n, dtype=bool),
        "omics": ~np.isnan(omics).all(axis=1),
        "note": rng.random(n) > 0.2,
    }
    note[~masks["note"]] = 0.0
    blocks = {
        "clinical": clinical,
        "omics": omics,
        "note": sparse.csr_matrix(note) if sparse_block else note,
    }
    return ModalityBlocks(blocks, masks=masks, index=pd.RangeIndex(n))


def _sparse_blocks(n, seed=0):
    """A dense clinical block beside two 1%-dense CSR blocks (note, k-mers)."""
    import pandas as pd
    from scipy import sparse

    from polymodal import ModalityBlocks

    rng = np.random.default_rng(seed)
    note_mask = rng.random(n) > 0.2
    note = sparse.random(n, 5000, density=0.01, format="csr", random_state=rng)
    note = sparse.diags(note_mask.astype(np.float64)) @ note
    blocks = {
        "clinical": rng.normal(size=(n, 20)),
        "note": note.tocsr(),
        "kmers": sparse.random(n, 2000, density=0.01, format="csr", random_state=rng),
    }
    masks = {"clinical": np.ones(n, bool), "note": note_mask, "kmers": np.ones(n, bool)}
    return ModalityBlocks(blocks, masks=masks, index=pd.RangeIndex(n))


def _nbytes(out):
    if hasattr(out, "indptr"):
        return out.data.nbytes + out.indices.nbytes + out.indptr.nbytes
    return out.nbytes


def _peak_and_time(make, call):
    """Peak traced bytes of ``call(x)`` beyond its start, the output, and time."""
    x = make()
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    out = call(x)
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        call(x)
        times.append(time.perf_counter() - start)
    return peak, _nbytes(out), statistics.median(times)


def measure():
    """This process's figures (run with the version under test importable)."""
    from polymodal.fusion import ConcatFusion
    from polymodal.image import ImageFeatures

    rows = []
    for n in IMAGE_SIZES:
        step = ImageFeatures(pixels_per_cell=8, cells_per_block=2).fit(_images(64))
        step.transform(_images(4))  # imports scikit-image outside the trace
        peak, nbytes, seconds = _peak_and_time(lambda n=n: _images(n), step.transform)
        rows.append(("ImageFeatures", n, peak, nbytes, seconds))
    for n in CONCAT_SIZES:
        step = ConcatFusion(scale_blocks=True, weights={"omics": 2.0})
        step.fit(_blocks(2000)).transform(_blocks(100))
        peak, nbytes, seconds = _peak_and_time(lambda n=n: _blocks(n), step.transform)
        rows.append(("ConcatFusion", n, peak, nbytes, seconds))
    return rows + measure_sparse()


def measure_sparse():
    """Sparse ConcatFusion's figures, one step per imputation."""
    from polymodal.fusion import ConcatFusion

    rows = []
    for impute in SPARSE_IMPUTE:
        for n in SPARSE_SIZES:
            step = ConcatFusion(impute=impute).fit(_sparse_blocks(2000))
            assert step.sparse_output_
            step.transform(_sparse_blocks(100))
            peak, nbytes, seconds = _peak_and_time(
                lambda n=n: _sparse_blocks(n), step.transform
            )
            name = f"sparse ConcatFusion, impute={impute}"
            rows.append((name, n, peak, nbytes, seconds))
    return rows


def outputs():
    """Outputs of the checked configurations, as dense arrays by name."""
    from polymodal.fusion import ConcatFusion
    from polymodal.image import ImageFeatures

    result = {}
    images = _images(40, seed=1).astype(np.float64)
    images[[3, 17]] = np.nan
    configs = {
        "features_default": ImageFeatures(pixels_per_cell=8, cells_per_block=2),
        "features_jobs": ImageFeatures(
            pixels_per_cell=8, cells_per_block=2, n_jobs=2, intensity_range="image"
        ),
        "features_pandas": ImageFeatures(
            ["first_order", "glcm"], distances=(1, 2)
        ).set_output(transform="pandas"),
    }
    for name, step in configs.items():
        result[name] = np.asarray(step.fit(images[:30]).transform(images))
    rng = np.random.default_rng(2)
    volumes = np.zeros((6, 2, 8, 16, 16))
    volumes[:, 0] = rng.normal(40, 20, size=(6, 8, 16, 16))
    z, y, x = np.indices((8, 16, 16))
    volumes[:, 1] = (z - 4) ** 2 + (y - 8) ** 2 + (x - 8) ** 2 <= 16
    volumes[2] = np.nan
    radiomics = ImageFeatures(mask_channel=-1, spacing=(2.0, 0.8, 0.8))
    result["features_volumes"] = radiomics.fit_transform(volumes)
    fusions = {
        "concat_default": (ConcatFusion(), False),
        "concat_scaled": (
            ConcatFusion(scale_blocks=True, weights={"omics": 2.0, "note": 0.0}),
            False,
        ),
        "concat_none": (ConcatFusion(impute="none", indicators=False), False),
        "concat_zero": (ConcatFusion(impute="zero"), False),
        "concat_sparse_dense": (
            ConcatFusion(scale_blocks=True, weights={"note": 3.0}, sparse_threshold=0),
            True,
        ),
        "concat_sparse_out": (ConcatFusion(sparse_threshold=1.0), True),
        "concat_pandas": (
            ConcatFusion(scale_blocks=True).set_output(transform="pandas"),
            False,
        ),
    }
    for name, (step, sparse_block) in fusions.items():
        blocks = _blocks(500, seed=3, sparse_block=sparse_block)
        out = step.fit(blocks[:400]).transform(blocks)
        kind = type(out).__name__
        out = out.toarray() if hasattr(out, "toarray") else np.asarray(out)
        result[name] = out
        result[name + "__kind"] = np.array(kind)
    return result


def _child(src, directory, sparse_only=False):
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1")
    command = [sys.executable, __file__, "--child", str(directory)]
    subprocess.run(command + ["--sparse"] * sparse_only, env=env, check=True)
    figures = json.loads((Path(directory) / "figures.json").read_text())
    if sparse_only:
        return figures, {}
    with np.load(Path(directory) / "outputs.npz") as data:
        arrays = dict(data)
    return figures, arrays


def _slope(sizes, values):
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])


def _table(label, figures, steps=("ImageFeatures", "ConcatFusion")):
    lines = []
    for step in steps:
        rows = [row for row in figures if row[0] == step]
        sizes = [row[1] for row in rows]
        slope = _slope(sizes, [row[4] for row in rows])
        for _, n, peak, nbytes, seconds in rows:
            lines.append(
                f"| {label} | {step} | {n:,} | {nbytes / 2**20:.2f} | "
                f"{peak / 2**20:.2f} | {peak / nbytes:.2f} | {seconds:.3f} | "
                f"{slope:.2f} |"
            )
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--baseline")
    parser.add_argument("--sparse", action="store_true", help="sparse part only")
    args = parser.parse_args()
    if args.child and args.sparse:
        (Path(args.child) / "figures.json").write_text(json.dumps(measure_sparse()))
        return
    if args.child:
        directory = Path(args.child)
        (directory / "figures.json").write_text(json.dumps(measure()))
        np.savez(directory / "outputs.npz", **outputs())
        return
    if args.sparse:
        with tempfile.TemporaryDirectory() as directory:
            figures = _child(SRC, directory, sparse_only=True)[0]
        section = _sparse_section({"current src": figures})
        text = RESULTS.read_text() if RESULTS.exists() else ""
        kept = text.split(SPARSE_HEADING)[0].rstrip("\n")
        RESULTS.write_text(kept + "\n\n" + section)
        print(section)
        return
    versions = {}
    if args.baseline:
        versions["before"] = Path(args.baseline)
    versions["after"] = SRC
    results = {}
    for label, src in versions.items():
        with tempfile.TemporaryDirectory() as directory:
            results[label] = _child(src, directory)
    lines = [
        "# Peak memory as a multiple of the output",
        "",
        "Generated by `benchmarks/memory_multiples.py`: traced peak of `transform` "
        "(Python allocations, numpy included) over the output's bytes; time the "
        "median of 3 rounds, slope fitted over the sizes in log-log. ImageFeatures: "
        "1-channel 32x32 float32 images, the four 2-D families (352 columns). "
        "ConcatFusion: 20 clinical columns with 5% NaN cells, 200 omics columns "
        "absent in 30% of rows, 60 note columns absent in 20%, block scaling and a "
        "weight, indicators, dense output.",
        "",
        "| version | step | rows | output MiB | peak MiB | peak / output | "
        "seconds | time slope |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, (figures, _) in results.items():
        lines += _table(label, figures)
    if "before" in results:
        before, after = results["before"][1], results["after"][1]
        checks = []
        for name in sorted(before):
            np.testing.assert_array_equal(after[name], before[name])
            same_bits = before[name].tobytes() == after[name].tobytes()
            checks.append(f"{name} ({'bitwise' if same_bits else 'equal'})")
        lines += [
            "",
            "Outputs identical before and after (assert_array_equal): "
            + ", ".join(checks)
            + ".",
        ]
    lines.append("")
    sparse_figures = {label: figures for label, (figures, _) in results.items()}
    lines.append(_sparse_section(sparse_figures))
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


def _sparse_section(figures_by_version):
    """The sparse part's table, from each version's figures."""
    steps = [f"sparse ConcatFusion, impute={impute}" for impute in SPARSE_IMPUTE]
    lines = [
        SPARSE_HEADING,
        "",
        "ConcatFusion over a dense clinical block (20 columns) beside two CSR blocks "
        "of 1% density: a 5,000-column TF-IDF-like note absent in 20% of rows and a "
        "2,000-column k-mer block; presence indicators; sparse output. Output bytes "
        "= `data + indices + indptr` of the CSR result; peak traced as above.",
        "",
        "| version | step | rows | output MiB | peak MiB | peak / output | "
        "seconds | time slope |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, figures in figures_by_version.items():
        lines += _table(label, figures, steps)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
