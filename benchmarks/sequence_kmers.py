"""KmerVectorizer against scikit-learn's character n-gram CountVectorizer.

20,000 random DNA sequences of 1,000 bases (seeded), k = 4: both count every
4-mer of every sequence with fit_transform, in this process, alternating, and
the median of 3 rounds is compared. The counts are checked identical after
aligning the columns by k-mer. Target: speed ratio (CountVectorizer seconds /
KmerVectorizer seconds) >= 1.0.

Run: .venv/bin/python benchmarks/sequence_kmers.py
"""

import platform
import statistics
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from polymodal.sequence import KmerVectorizer

N_SEQUENCES = 20_000
LENGTH = 1_000
K = 4
ROUNDS = 3
RESULTS = Path(__file__).parent / "results" / "sequence_kmers.md"


def make_sequences(n_sequences, length, seed=0):
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype="S1")
    codes = rng.integers(0, 4, size=(n_sequences, length))
    return [row.tobytes().decode("ascii") for row in letters[codes]]


def timed(estimator, sequences):
    start = time.perf_counter()
    counts = estimator.fit_transform(sequences)
    return time.perf_counter() - start, counts


def main():
    sequences = make_sequences(N_SEQUENCES, LENGTH)
    reference_times, kmer_times = [], []
    for _ in range(ROUNDS):
        reference = CountVectorizer(
            analyzer="char", ngram_range=(K, K), lowercase=False
        )
        seconds, expected = timed(reference, sequences)
        reference_times.append(seconds)
        kmers = KmerVectorizer(k=K)
        seconds, ours = timed(kmers, sequences)
        kmer_times.append(seconds)
    names = list(kmers.get_feature_names_out())
    columns = [names.index(name) for name in reference.get_feature_names_out()]
    difference = ours[:, columns] - expected
    assert difference.count_nonzero() == 0, "k-mer counts differ"
    assert ours.sum() == expected.sum(), "k-mer totals differ"
    baseline = statistics.median(reference_times)
    polymodal = statistics.median(kmer_times)
    ratio = baseline / polymodal
    report = (
        "# KmerVectorizer against CountVectorizer\n\n"
        f"{N_SEQUENCES:,} random DNA sequences of {LENGTH:,} bases, k = {K}, "
        f"fit_transform, median of {ROUNDS} alternating rounds in one process "
        f"(Python {platform.python_version()}, {platform.machine()}); counts "
        "checked identical.\n\n"
        "| vectorizer | median seconds | speed ratio |\n|---|---|---|\n"
        '| CountVectorizer(analyzer="char", ngram_range=(4, 4)) '
        f"| {baseline:.3f} | 1.00 |\n"
        f"| KmerVectorizer(k=4) | {polymodal:.3f} | {ratio:.2f} |\n\n"
        "Speed ratio = CountVectorizer seconds / KmerVectorizer seconds. "
        "Target: >= 1.0.\n"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(report)
    print(report)
    assert ratio >= 1.0, f"KmerVectorizer is slower than CountVectorizer ({ratio:.2f})"


if __name__ == "__main__":
    main()
