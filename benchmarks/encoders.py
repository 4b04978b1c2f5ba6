"""Seconds per epoch of the volume encoders: the small 3-D CNN and the 2.5-D mode.

Measured on the CPU with one torch thread (on a shared machine a second
intra-op thread measures the neighbours rather than the network), on
CT-like volumes (one image channel and a lesion-mask channel) of two sizes,
each axis twice the other's (32³ and 64³, so 8× the voxels):

- **Training**: ``DeepFusionClassifier(slices=...)`` on the volumes alone
  (one modality), ``embedding_dim=16``, batch 16: the median of skorch's
  per-epoch durations (``history[:, "dur"]``) over the epochs run, for the
  3-D encoder (``slices=None``) and the 2.5-D ones (``"all"``: every slice;
  ``"mask"``: the slices through the lesion, a third of them here).
- **Embedding**: ``CNNEmbedder(slices=...)`` transforming the same volumes
  (one "epoch" is one pass over them, in evaluation mode, batch 16): the
  median of 3 passes.

Run ``python benchmarks/encoders.py``; it writes ``results/encoders.md``.
"""

import statistics
import time
from pathlib import Path

import numpy as np
import torch

from polymodal import ModalityBlocks
from polymodal.deep import DeepFusionClassifier
from polymodal.image import CNNEmbedder

RESULTS = Path(__file__).parent / "results" / "encoders.md"
MODES = {"3-D (slices=None)": None, "2.5-D (slices='all')": "all"}
MODES["2.5-D (slices='mask')"] = "mask"


def make_volumes(n, side, seed=0):
    """``n`` volumes (n, 2, side, side, side): noise, and a lesion in the middle third.

    Class 1 is brighter under the lesion; the second channel is its mask.
    """
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    volumes = rng.normal(size=(n, 2, side, side, side)).astype(np.float32)
    volumes[:, 1] = 0.0
    lesion = slice(side // 3, 2 * side // 3)
    volumes[:, 1, lesion, lesion, lesion] = 1.0
    volumes[y == 1, 0, lesion, lesion, lesion] += 1.0
    return volumes, y


def epoch_seconds(n=32, sides=(32, 64), epochs=3, passes=3):
    """Per-epoch seconds of training and of embedding, per mode and size.

    Parameters
    ----------
    n : int, default=32
        Number of volumes.
    sides : tuple of int, default=(32, 64)
        Volume sides to measure (D = H = W).
    epochs : int, default=3
        Training epochs; the median epoch is reported.
    passes : int, default=3
        Embedding passes; the median is reported.

    Returns
    -------
    rows : list of dict
        One per mode and side: ``mode``, ``side``, ``train_s``, ``embed_s``.
    """
    torch.set_num_threads(1)
    rows = []
    for side in sides:
        volumes, y = make_volumes(n, side)
        blocks = ModalityBlocks({"ct": volumes})
        for mode, slices in MODES.items():
            clf = DeepFusionClassifier(
                slices=slices,
                embedding_dim=16,
                fusion="concat",
                batch_size=16,
                max_epochs=epochs,
                random_state=0,
                device="cpu",
            ).fit(blocks, y)
            train = statistics.median(clf.net_.history[:, "dur"])
            embedder = CNNEmbedder(
                slices=slices, batch_size=16, random_state=0, device="cpu"
            ).fit(volumes[:2])
            times = []
            for _ in range(passes):
                start = time.perf_counter()
                embedder.transform(volumes)
                times.append(time.perf_counter() - start)
            rows.append(
                {
                    "mode": mode,
                    "side": side,
                    "train_s": train,
                    "embed_s": statistics.median(times),
                }
            )
            print(rows[-1], flush=True)
    return rows


def write_report(rows, n=32, path=RESULTS):
    """Write the table of :func:`epoch_seconds` as Markdown."""
    lines = [
        "# Volume encoders: seconds per epoch",
        "",
        f"{n} CT-like volumes (an image channel and a lesion mask), one torch "
        "thread, CPU; training is `DeepFusionClassifier` (embedding 16, batch 16, "
        "median epoch), embedding is one `CNNEmbedder.transform` pass (batch 16, "
        "median of 3). Made by `benchmarks/encoders.py`. Wall-clock on a shared "
        "2-core machine: figures move by tens of percent between runs.",
        "",
        "| encoder | volume | train s/epoch | embed s/pass | train ms/volume |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['mode']} | {row['side']}³ | {row['train_s']:.2f} | "
            f"{row['embed_s']:.2f} | {1000 * row['train_s'] / n:.0f} |"
        )
    by = {(row["mode"], row["side"]): row for row in rows}
    sides = sorted({row["side"] for row in rows})
    if len(sides) == 2:
        lines += ["", f"Growth from {sides[0]}³ to {sides[1]}³ (8× the voxels):", ""]
        for mode in MODES:
            small, large = by[(mode, sides[0])], by[(mode, sides[1])]
            lines.append(
                f"- {mode}: training ×{large['train_s'] / small['train_s']:.1f}, "
                f"embedding ×{large['embed_s'] / small['embed_s']:.1f}"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    print(write_report(epoch_seconds()))
