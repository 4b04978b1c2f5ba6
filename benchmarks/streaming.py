"""Peak memory of reading and embedding image volumes: one batch, or the whole cohort.

A union slot ``make_pipeline(ImageLoader(volume=True), CNNEmbedder())`` reads
N NIfTI volumes of 64³ voxels from disk and embeds them. Without batches the
loader returns all N volumes at once (N × 1 MiB of float32); with
``MultimodalUnion(batch_size=B)`` it holds one batch of B volumes beside the
embeddings. Each run is a fresh process; its peak resident memory (``ru_maxrss``)
is measured above the same process's memory after the imports and a warm-up
embedding of one volume, and set against the memory the data need: the output
plus one batch of volumes (the whole cohort without batches). Sizes double from
250 to 1,000 volumes; the log-log slope says how the peak grows. The cost of one
batch itself (the embedder's activations on a 3-D CNN far exceed the 1 MiB
volumes) is measured by running the pipeline on one batch of volumes alone;
the streamed peak is set against it too.

Run: .venv/bin/python benchmarks/streaming.py   (a few minutes on 2 cores)
It writes benchmarks/results/streaming.md.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
SIZES = (250, 500, 1000)
SIDE = 64
BATCH = 32

CHILD = r"""
import json, resource, sys
import numpy as np, pandas as pd
from sklearn.pipeline import make_pipeline
from polymodal import MultimodalUnion
from polymodal.image import CNNEmbedder, ImageLoader

paths = json.loads(sys.argv[1]); batch_size = json.loads(sys.argv[2])
slot = make_pipeline(ImageLoader(volume=True), CNNEmbedder(random_state=0))
MultimodalUnion([("ct", slot, "ct")]).fit_transform(pd.DataFrame({"ct": paths[:1]}))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
union = MultimodalUnion([("ct", slot, "ct")], batch_size=batch_size)
blocks = union.fit_transform(pd.DataFrame({"ct": paths}))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"increase": peak - before, "output": blocks["ct"].nbytes}))
"""


def write_volumes(directory, n):
    import nibabel as nib

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        volume = rng.normal(0, 100, size=(SIDE, SIDE, SIDE)).astype(np.float32)
        path = Path(directory) / f"ct{i:04d}.nii"
        nib.save(nib.Nifti1Image(volume, np.eye(4)), path)
        paths.append(str(path))
    return paths


def measure(paths, batch_size):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(paths), json.dumps(batch_size)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    volume_bytes = SIDE**3 * 4
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        paths = write_volumes(directory, max(SIZES))
        one_batch = measure(paths[:BATCH], None)["increase"]
        for n in SIZES:
            for batch_size in (None, BATCH):
                run = measure(paths[:n], batch_size)
                held = n if batch_size is None else batch_size
                needed = run["output"] + held * volume_bytes
                rows.append((n, batch_size, run["increase"], needed))
    lines = [
        "# Peak memory of loading and embedding volumes",
        "",
        f"`benchmarks/streaming.py`: ImageLoader(volume=True) → CNNEmbedder over "
        f"NIfTI volumes of {SIDE}³ float32 voxels (1 MiB each) read from disk, in a "
        "MultimodalUnion slot; peak resident memory above the process after imports "
        "and a one-volume warm-up. *Needed*: the output plus the volumes held at "
        "once (one batch, or all of them without batches).",
        "",
        f"One batch of {BATCH} volumes alone, through the same pipeline: "
        f"{one_batch / 2**20:.0f} MiB.",
        "",
        "| volumes | batch_size | peak increase (MiB) | needed (MiB) "
        "| peak / needed | peak / one batch alone |",
        "|---|---|---|---|---|---|",
    ]
    for n, batch_size, increase, needed in rows:
        lines.append(
            f"| {n} | {batch_size} | {increase / 2**20:.0f} | {needed / 2**20:.0f} "
            f"| {increase / needed:.2f} | {increase / one_batch:.2f} |"
        )
    lines.append("")
    for batch_size in (None, BATCH):
        sizes = [n for n, b, _, _ in rows if b == batch_size]
        peaks = [inc for _, b, inc, _ in rows if b == batch_size]
        slope = np.polyfit(np.log(sizes), np.log(peaks), 1)[0]
        lines.append(
            f"- batch_size={batch_size}: log-log slope of the peak against the "
            f"number of volumes, {slope:.2f}."
        )
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "streaming.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
