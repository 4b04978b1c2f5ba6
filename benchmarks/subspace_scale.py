"""How SubspaceFusion (three modalities) and FactorizationFusion scale with rows.

Each fit runs in a fresh subprocess with one BLAS thread
(``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``), so its peak resident memory is
its own. The data: three modalities of widths 20, 50 and 10 sharing a rank-5
signal plus noise (standard deviation 0.5), each (row, modality) absent with
probability 0.3 (never all of a row), seed 0.

- ``SubspaceFusion(4)`` (generalised CCA) ``fit_transform`` at 1k-8k rows;
- ``FactorizationFusion(8, random_state=0, max_iter=500)`` ``fit`` at
  4k-32k rows, with its iteration count.

Time is the median of ``--repeats`` fits in the subprocess; memory is the
subprocess' peak RSS and its growth over the RSS before the fit (data
included). Slopes are least-squares fits of log time (and log memory growth)
on log rows. ``--base PATH`` also measures the ``src`` folder of another
checkout (such as ``git worktree add /tmp/subspace_base <commit>``) as
"before".

Run: .venv/bin/python benchmarks/subspace_scale.py --base /tmp/subspace_base/src
Smoke run (small sizes, prints only): .venv/bin/python benchmarks/subspace_scale.py
--quick
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "subspace_scale.md"
SRC = Path(__file__).resolve().parents[1] / "src"
SIZES = {
    "subspace": [1000, 2000, 4000, 8000],
    "factorization": [4000, 8000, 16000, 32000],
}
QUICK_SIZES = {"subspace": [200, 400], "factorization": [400, 800]}

WORKER = r"""
import json, resource, statistics, sys, time, warnings
import numpy as np
from backed_memory import hold_ballast
hold_ballast()
from polymodal import ModalityBlocks
from polymodal.fusion import FactorizationFusion, SubspaceFusion

which, n_rows, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
n_factors, n_states = int(sys.argv[4]), int(sys.argv[5])
rng = np.random.default_rng(0)
signal = rng.normal(size=(n_rows, 5))
present = rng.random((n_rows, 3)) >= 0.3
present[~present.any(axis=1), 0] = True
values, masks = {}, {}
for index, width in enumerate((20, 50, 10)):
    block = signal @ rng.normal(size=(5, width))
    block += 0.5 * rng.normal(size=(n_rows, width))
    masks[f"m{index}"] = present[:, index]
    values[f"m{index}"] = np.where(present[:, [index]], block, np.nan)
blocks = ModalityBlocks(values, masks=masks)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
seconds, n_iters = [], []
for random_state in range(n_states):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if which == "subspace":
                SubspaceFusion(4, method="gcca").fit_transform(blocks)
            else:
                n_iter = FactorizationFusion(
                    n_factors, random_state=random_state, max_iter=500
                ).fit(blocks).n_iter_
        times.append(time.perf_counter() - start)
    seconds.append(statistics.median(times))
    n_iters.append(None if which == "subspace" else n_iter)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": statistics.median(seconds), "peak_mib": peak / 1024,
                  "growth_mib": (peak - before) / 1024, "n_iter": n_iters[0],
                  "n_iters": n_iters, "seconds_each": seconds}))
"""


def measure(which, n_rows, src, repeats, n_factors=8, random_states=1, env=None):
    """Seconds (median of ``repeats``), memory and iterations of one fit.

    The cohort has a rank-5 signal in three modalities of 20, 50 and 10
    columns; ``n_factors`` is FactorizationFusion's (8: three beyond the rank).
    With ``random_states`` > 1 FactorizationFusion is fitted from that many
    initial loadings (``random_state`` 0, 1, ...): ``seconds`` is the median
    of their medians, ``n_iters`` and ``seconds_each`` hold each one's.
    ``env`` adds environment variables (``backed_memory.environment``).
    """
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1") | (env or {})
    env["MKL_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(src), str(Path(__file__).parent)])
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            WORKER,
            which,
            str(n_rows),
            str(repeats),
            str(n_factors),
            str(random_states),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def slope(sizes, values):
    values = np.maximum(np.asarray(values, dtype=float), 1e-9)
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])


def table(which, sizes, runs):
    lines = [
        "| version | rows | time (s) | peak RSS (MiB) | RSS growth (MiB) |"
        + (" iterations |" if which == "factorization" else ""),
        "|---|---:|---:|---:|---:|" + ("---:|" if which == "factorization" else ""),
    ]
    slopes = []
    for version, rows in runs.items():
        for n_rows, row in zip(sizes, rows, strict=True):
            line = (
                f"| {version} | {n_rows} | {row['seconds']:.3f} | "
                f"{row['peak_mib']:.0f} | {row['growth_mib']:.1f} |"
            )
            if which == "factorization":
                line += f" {row['n_iter']} |"
            lines.append(line)
        slopes.append(
            f"- {version}: time slope {slope(sizes, [r['seconds'] for r in rows]):.2f}"
            f", RSS-growth slope "
            f"{slope(sizes, [r['growth_mib'] for r in rows]):.2f}"
        )
    return (
        "\n".join(lines) + "\n\nLog-log slopes over the sizes:\n\n" + "\n".join(slopes)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="src folder measured as 'before'")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else SIZES
    versions = {"after": SRC}
    if args.base:
        versions = {"before": args.base, **versions}
    sections = []
    for which, label in [
        (
            "subspace",
            "SubspaceFusion(4, method='gcca'), three modalities, fit_transform",
        ),
        ("factorization", "FactorizationFusion(8), fit"),
    ]:
        runs = {}
        for version, src in versions.items():
            repeats = 1 if (version == "before" and which == "subspace") else 3
            runs[version] = [
                measure(which, n_rows, src, min(repeats, args.repeats))
                for n_rows in sizes[which]
            ]
            print(which, version, runs[version], flush=True)
        sections.append(f"## {label}\n\n" + table(which, sizes[which], runs))
    report = (
        "# Scaling of SubspaceFusion (3 modalities) and FactorizationFusion\n\n"
        "Made by `benchmarks/subspace_scale.py` (see its docstring for the data "
        "and method); one BLAS thread, each size in a fresh process. The machine "
        "was shared with other work, so times carry some noise.\n\n"
        + "\n\n".join(sections)
        + "\n"
    )
    print(report)
    if not args.quick:
        RESULTS.write_text(report)


if __name__ == "__main__":
    main()
