"""MultimodalUnion + ConcatFusion against ColumnTransformer on the same work.

10,000 rows, a text column (TF-IDF) and three numeric columns, nothing missing:
the union's bookkeeping (presence detection, blocks, fusion) is all it adds.
Both run fit_transform then transform, in this process, alternating, and the
median of several rounds is compared. Target: ratio <= 1.10.

Run: .venv/bin/python benchmarks/union_overhead.py
"""

import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from polymodal import MultimodalUnion
from polymodal.fusion import ConcatFusion

N_ROWS = 10_000
ROUNDS = 7
RESULTS = Path(__file__).parent / "results" / "union_overhead.md"


def make_table(n_rows, seed=0):
    rng = np.random.default_rng(seed)
    vocabulary = np.array(
        "cough fever dyspnoea haemoptysis fatigue pain weight loss no denies "
        "nodule mass lesion chest left right upper lower lobe smoker history "
        "mild severe persistent acute chronic stable progressive".split()
    )
    lengths = rng.integers(8, 40, size=n_rows)
    notes = [" ".join(rng.choice(vocabulary, size=k)) for k in lengths]
    return pd.DataFrame(
        {
            "note": notes,
            "age": rng.normal(64, 9, n_rows),
            "pack_years": rng.gamma(2.0, 10.0, n_rows),
            "bmi": rng.normal(26, 4, n_rows),
        }
    )


def transformers():
    return [
        ("note", TfidfVectorizer(ngram_range=(1, 2)), "note"),
        ("clinical", StandardScaler(), ["age", "pack_years", "bmi"]),
    ]


def run(estimator, X):
    start = time.perf_counter()
    fitted = estimator.fit(X)
    first = fitted.transform(X)
    return time.perf_counter() - start, first


def main():
    X = make_table(N_ROWS)
    baseline_times, union_times = [], []
    for _ in range(ROUNDS):
        seconds, expected = run(ColumnTransformer(transformers()), X)
        baseline_times.append(seconds)
        union = make_pipeline(
            MultimodalUnion(transformers()), ConcatFusion(indicators=False)
        )
        seconds, ours = run(union, X)
        union_times.append(seconds)
    np.testing.assert_allclose(ours.toarray(), expected.toarray())
    baseline = statistics.median(baseline_times)
    polymodal = statistics.median(union_times)
    ratio = polymodal / baseline
    report = (
        "# MultimodalUnion overhead\n\n"
        f"{N_ROWS:,} rows (TF-IDF text column + 3 numeric columns), fit + transform, "
        f"median of {ROUNDS} alternating rounds in one process; outputs checked equal.\n\n"
        "| pipeline | median seconds | ratio |\n|---|---|---|\n"
        f"| ColumnTransformer | {baseline:.3f} | 1.00 |\n"
        f"| MultimodalUnion + ConcatFusion | {polymodal:.3f} | {ratio:.2f} |\n\n"
        "Target: ratio <= 1.10.\n"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
