"""Time and peak memory of KernelFusion at growing cohorts, and its Nyström mode.

Each measurement runs in a fresh subprocess with one BLAS thread; the peak is
the subprocess's maximum resident set size less its size after importing and
building the blocks (so, the fit's own memory). The exact fusion is measured
for the current tree and, when ``--baseline SRC`` names another checkout's
``src`` folder (for example ``git worktree add /tmp/kernel_base <commit>``),
for that one too. The accuracy of NystroemKernelFusion is measured against
the exact kernel on a planted cohort: relative Frobenius error of
:math:`Z Z^\\top` and the test AUROC of a head on each.

Run: ``python benchmarks/kernel_scale.py [--baseline /tmp/kernel_base/src]``;
writes ``benchmarks/results/kernel_scale.md``.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
SIZES = (2000, 4000, 8000)
ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

_CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np
from backed_memory import hold_ballast
hold_ballast()
from polymodal import ModalityBlocks
from polymodal.fusion import KernelFusion
warnings.simplefilter("ignore")
n, mode, n_components = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(0)
values = {"clinical": rng.normal(size=(n, 20)), "gene": rng.normal(size=(n, 100)),
          "image": rng.normal(size=(n, 50))}
masks = {name: rng.random(n) > 0.2 for name in values}
masks["clinical"][:] = True
for name, mask in masks.items():
    values[name][~mask] = np.nan
blocks = ModalityBlocks(values, masks=masks)
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = rss()
if mode == "exact":
    fusion = KernelFusion()
else:
    from polymodal.fusion import NystroemKernelFusion
    fusion = NystroemKernelFusion(n_components=n_components, random_state=0)
start = time.perf_counter()
out = fusion.fit_transform(blocks)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak": rss() - before, "output": out.nbytes}))
"""


def _measure(src, n, mode, n_components=300, env=None):
    """One fit in a fresh process; ``env`` adds variables (``backed_memory``)."""
    paths = os.pathsep.join([str(src), str(HERE)])
    env = os.environ | ENV | (env or {}) | {"PYTHONPATH": paths}
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(n), mode, str(n_components)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _slope(sizes, values):
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])


def _accuracy():
    sys.path.insert(0, str(SRC))
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.svm import SVC

    from polymodal import ModalityBlocks
    from polymodal.fusion import KernelFusion, NystroemKernelFusion

    rng = np.random.default_rng(1)
    n, n_train = 3000, 2000
    latent = rng.normal(size=(n, 2))
    y = (latent[:, 0] * latent[:, 1] + 0.3 * rng.normal(size=n) > 0).astype(int)
    values = {
        "clinical": np.c_[latent[:, :1], rng.normal(size=(n, 9))],
        "gene": np.c_[latent @ rng.normal(size=(2, 20)), rng.normal(size=(n, 30))],
        "image": np.c_[latent[:, 1:], rng.normal(size=(n, 19))],
    }
    masks = {name: rng.random(n) > 0.25 for name in values}
    masks["gene"][~(masks["clinical"] | masks["image"])] = True
    for name, mask in masks.items():
        values[name][~mask] = np.nan
    blocks = ModalityBlocks(values, masks=masks)
    train, test = blocks[:n_train], blocks[n_train:]
    exact = KernelFusion()
    K = exact.fit_transform(train)
    svc = SVC(kernel="precomputed", C=10.0).fit(K, y[:n_train])
    exact_auc = roc_auc_score(y[n_train:], svc.decision_function(exact.transform(test)))
    rows = [("exact kernel", "—", exact_auc, "—")]
    norm = np.linalg.norm(K)
    for n_components in (50, 100, 200, 400, 800):
        fusion = NystroemKernelFusion(n_components=n_components, random_state=0)
        Z = fusion.fit_transform(train)
        error = np.linalg.norm(Z @ Z.T - K) / norm
        Z_test = fusion.transform(test)
        # The same head on the approximate kernel, and a linear head on Z.
        svc = SVC(kernel="precomputed", C=10.0).fit(Z @ Z.T, y[:n_train])
        svc_auc = roc_auc_score(y[n_train:], svc.decision_function(Z_test @ Z.T))
        head = LogisticRegression(C=10.0, max_iter=5000).fit(Z, y[:n_train])
        auc = roc_auc_score(y[n_train:], head.decision_function(Z_test))
        rows.append((f"Nyström c={n_components}", error, svc_auc, f"{auc:.3f}"))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args()
    sizes = args.sizes
    runs = {"after (exact)": (SRC, "exact"), "Nyström c=300": (SRC, "nystroem")}
    if args.baseline is not None:
        runs = {"before (exact)": (args.baseline, "exact")} | runs
    table = {}
    for label, (src, mode) in runs.items():
        table[label] = [_measure(src, n, mode) for n in sizes]
        print(label, table[label], flush=True)
    gib = 2**30
    lines = [
        "# KernelFusion: time and peak memory against the cohort size",
        "",
        "`python benchmarks/kernel_scale.py --baseline <checkout>/src`; three",
        "modalities (20, 100 and 50 features, 80% present), `fit_transform` with",
        "the default RBF kernels, one BLAS thread, each size in a fresh process;",
        "peak = maximum resident set size of the process less its size before the",
        "fit. One n×n float64 matrix is 8n² bytes: 0.03 / 0.12 / 0.48 GiB at",
        "2k / 4k / 8k rows.",
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs (shared), Python {platform.python_version()}.",
        "",
        "| fusion | "
        + " | ".join(f"{n:,} rows: s / GiB (× n×n)" for n in sizes)
        + " | slope time | slope memory |",
        "|---|" + "---|" * len(sizes) + "---|---|",
    ]
    for label, results in table.items():
        cells = [
            f"{r['seconds']:.2f} / {r['peak'] / gib:.3f} ({r['peak'] / (8 * n**2):.1f})"
            for n, r in zip(sizes, results, strict=True)
        ]
        lines.append(
            f"| {label} | "
            + " | ".join(cells)
            + f" | {_slope(sizes, [r['seconds'] for r in results]):.2f}"
            + f" | {_slope(sizes, [max(r['peak'], 1) for r in results]):.2f} |"
        )
    lines += [
        "",
        "## Nyström approximation against the exact kernel",
        "",
        "Planted cohort: 3,000 patients (2,000 train, 1,000 test), the label an",
        "interaction of two latent factors seen through three modalities, each",
        "absent in 25% of rows. Error = ‖ZZᵀ − K‖_F / ‖K‖_F on the training rows.",
        "",
        "| fusion | relative Frobenius error | test AUROC, SVC(precomputed, C=10)"
        " | test AUROC, LogisticRegression(C=10) on Z |",
        "|---|---|---|---|",
    ]
    for label, error, svc_auc, linear_auc in _accuracy():
        shown = error if isinstance(error, str) else f"{error:.4f}"
        lines.append(f"| {label} | {shown} | {svc_auc:.3f} | {linear_auc} |")
    out = HERE / "results" / "kernel_scale.md"
    out.write_text("\n".join(lines) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
