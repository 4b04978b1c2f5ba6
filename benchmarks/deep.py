"""DeepFusionClassifier on the built-in cohort: AUROC, epoch time, skorch overhead.

Two measurements on the CPU, with one torch thread (on a shared 2-core machine
a second intra-op thread makes epoch times swing many-fold whenever the other
core is busy, which would measure the neighbours rather than the network):

1. Fusion layers: ``make_patients(n_samples=2000, image_size=16)`` split 70/30
   (stratified), the union of the test suite (16 x 16 CT images as
   (n, 1, H, W), TF-IDF notes, DNA one-hot as (n, 4, 200), clinical table).
   For each ``fusion`` in ("concat", "attention", "gated", "lowrank_tensor"),
   ``DeepFusionClassifier(embedding_dim=16, lr=3e-3, max_epochs=15,
   random_state=0)`` is fitted on the training rows: median seconds per epoch
   (skorch's ``history[:, "dur"]``), that time relative to "concat", and
   held-out AUROC. The same again with 30% of the patients lacking each
   modality and ``modality_dropout=0.3``. The reference row is the best single
   modality: the same classifier (``fusion="concat"``) fitted on
   ``blocks.select([name])`` for each modality. Expected (reported, not
   asserted): every fusion beats the best single modality.
2. skorch overhead: the ``FusionNetwork`` that ``DeepFusionClassifier``
   (``fusion="attention"``) builds, trained by a hand-written torch loop
   (Adam, same learning rate, batch size, epochs, seeds and shuffled
   mini-batches, cross-entropy, no validation split) against
   ``DeepFusionClassifier.fit`` on the same ``ModalityBlocks``; both start
   from the blocks, so both pay for ``to_slicedict``. The loop makes the same
   random draws as skorch's DataLoader, so both see the same batches: the two
   networks' held-out logits are checked equal. Median of 3 alternating
   rounds of wall-clock and of process CPU time. Target: CPU-time ratio
   (skorch / plain) <= 1.15. To show where the difference goes, one epoch's
   mini-batches are also drawn without the network, through skorch's
   DataLoader and by indexing the tensors (median of 7 alternating passes).

Run: .venv/bin/python benchmarks/deep.py   (5 to 8 minutes on 2 shared cores)
It writes benchmarks/results/deep.md. Smoke run (small sizes, one round, prints
without writing results or checking the target):
.venv/bin/python benchmarks/deep.py --quick
"""

import argparse
import os
import platform
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import skorch
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from polymodal.datasets import make_patients, make_patients_union
from polymodal.deep import DeepFusionClassifier
from polymodal.deep._network import FusionNetwork
from polymodal.exceptions import MissingModalityWarning
from polymodal.utils._torch import torch_seed

RESULTS = Path(__file__).parent / "results" / "deep.md"
IMAGE_SIZE = 16
FUSIONS = ("concat", "attention", "gated", "lowrank_tensor")
MODALITIES = ("ct", "note", "dna", "clinical")
MISSING = {name: 0.3 for name in MODALITIES}
MODALITY_DROPOUT = 0.3
OVERHEAD_FUSION = "attention"
PARAMS = {"embedding_dim": 16, "lr": 3e-3, "random_state": 0, "device": "cpu"}
# DeepFusionClassifier's defaults, which the hand-written loop repeats.
BATCH_SIZE = 32
HIDDEN_LAYER_SIZES = (32,)
FULL = {"n_samples": 2000, "epochs": 15, "rounds": 3}
QUICK = {"n_samples": 300, "epochs": 2, "rounds": 1}
TARGET = 1.15


def cohort(n_samples, missing):
    """Training and held-out blocks and labels, the union fitted on training rows."""
    X, y = make_patients(
        n_samples=n_samples, image_size=IMAGE_SIZE, missing=missing, random_state=0
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    union = make_patients_union(deep=True)
    train = union.fit_transform(X_train, y_train)
    return train, union.transform(X_test), np.asarray(y_train), np.asarray(y_test)


def fit_and_score(train, test, y_train, y_test, epochs, **params):
    model = DeepFusionClassifier(**PARAMS, max_epochs=epochs, **params)
    with warnings.catch_warnings():
        # Single-modality rows without their modality get the class prior.
        warnings.simplefilter("ignore", MissingModalityWarning)
        model.fit(train, y_train)
        auroc = roc_auc_score(y_test, model.predict_proba(test)[:, 1])
    epoch_seconds = statistics.median(model.net_.history[:, "dur"])
    return epoch_seconds, auroc


def fusion_rows(n_samples, epochs, missing):
    """Per fusion and per single modality: (median epoch seconds, AUROC)."""
    train, test, y_train, y_test = cohort(n_samples, missing)
    dropout = {"modality_dropout": MODALITY_DROPOUT} if missing else {}
    fused = {
        fusion: fit_and_score(
            train, test, y_train, y_test, epochs, fusion=fusion, **dropout
        )
        for fusion in FUSIONS
    }
    single = {
        name: fit_and_score(
            train.select([name]), test.select([name]), y_train, y_test, epochs
        )
        for name in MODALITIES
    }
    return fused, single


def plain_fit(blocks, y, epochs):
    """The network DeepFusionClassifier builds, trained by a hand-written loop.

    The seeds are drawn as DeepFusionClassifier draws them from
    ``random_state=0``: one for the initial weights (torch's global generator,
    forked), one for a private generator that orders the mini-batches.
    """
    classes, codes = np.unique(y, return_inverse=True)
    data = {name: torch.as_tensor(v) for name, v in blocks.to_slicedict().items()}
    target = torch.as_tensor(codes.astype(np.int64))
    rng = check_random_state(PARAMS["random_state"])
    init_seed, order_seed = torch_seed(rng), torch_seed(rng)
    order = torch.Generator().manual_seed(order_seed)
    n_rows = len(target)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        module = FusionNetwork(
            block_shapes={name: block.shape[1:] for name, block in blocks.items()},
            custom_encoders={},
            embedding_dim=PARAMS["embedding_dim"],
            fusion=OVERHEAD_FUSION,
            hidden_layer_sizes=HIDDEN_LAYER_SIZES,
            n_outputs=len(classes),
            dropout=0.0,
            modality_dropout=0.0,
            augment=False,
        )
        optimizer = torch.optim.Adam(module.parameters(), lr=PARAMS["lr"])
        loss_function = torch.nn.CrossEntropyLoss()
        module.train()
        for _ in range(epochs):
            # The draws a DataLoader over a RandomSampler makes from its
            # generator each epoch: a base seed for its workers, the
            # permutation, and one more permutation when the sampler runs out.
            torch.empty((), dtype=torch.int64).random_(generator=order)
            permutation = torch.randperm(n_rows, generator=order)
            torch.randperm(n_rows, generator=order)
            for start in range(0, n_rows, BATCH_SIZE):
                rows = permutation[start : start + BATCH_SIZE]
                optimizer.zero_grad()
                logits = module(**{name: v[rows] for name, v in data.items()})
                loss = loss_function(logits, target[rows])
                loss.backward()
                optimizer.step()
    return module


def skorch_fit(blocks, y, epochs):
    return DeepFusionClassifier(
        **PARAMS, max_epochs=epochs, fusion=OVERHEAD_FUSION
    ).fit(blocks, y)


def timed(function, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def held_out_logits(module, blocks):
    data = {name: torch.as_tensor(v) for name, v in blocks.to_slicedict().items()}
    module.eval()
    with torch.no_grad():
        return module(**data).numpy()


def compare_overhead(n_samples, epochs, rounds):
    train, test, y_train, _ = cohort(n_samples, None)
    times = {"plain": [], "skorch": []}
    for _ in range(rounds):
        wall, cpu, module = timed(plain_fit, train, y_train, epochs)
        times["plain"].append((wall, cpu))
        wall, cpu, model = timed(skorch_fit, train, y_train, epochs)
        times["skorch"].append((wall, cpu))
    np.testing.assert_allclose(
        held_out_logits(model.net_.module_, test),
        held_out_logits(module, test),
        rtol=1e-5,
        atol=1e-6,
    )
    medians = {
        loop: tuple(statistics.median(t[i] for t in runs) for i in range(2))
        for loop, runs in times.items()
    }
    return medians, data_path_seconds(model.net_, train, y_train)


def data_path_seconds(net, blocks, y, repeats=7):
    """CPU seconds of one epoch's mini-batches, without the network.

    skorch's DataLoader indexes its Dataset row by row and collates the rows
    into tensors; the hand-written loop indexes the tensors once per batch.
    Median of ``repeats`` alternating passes.
    """
    codes = np.unique(y, return_inverse=True)[1].astype(np.int64)
    dataset = net.get_dataset(blocks.to_slicedict(), codes)
    data = {name: torch.as_tensor(v) for name, v in blocks.to_slicedict().items()}
    target = torch.as_tensor(codes)

    def skorch_batches():
        for _ in net.get_iterator(dataset, training=True):
            pass

    def plain_batches():
        for rows in torch.randperm(len(target)).split(BATCH_SIZE):
            {name: v[rows] for name, v in data.items()}, target[rows]

    seconds = {"plain": [], "skorch": []}
    for _ in range(repeats):
        seconds["plain"].append(timed(plain_batches)[1])
        seconds["skorch"].append(timed(skorch_batches)[1])
    return {loop: statistics.median(values) for loop, values in seconds.items()}


def machine():
    gpu = (
        "a GPU was present but not used (device='cpu')"
        if torch.cuda.is_available()
        else "no GPU was available in this run, so there is no GPU column"
    )
    return (
        f"{os.cpu_count()} CPU cores, {torch.get_num_threads()} torch thread, "
        f"torch {torch.__version__}, skorch {skorch.__version__}, Python "
        f"{platform.python_version()} ({platform.machine()}); {gpu}"
    )


def fusion_table(fused, single, missing):
    best = max(single, key=lambda name: single[name][1])
    concat_seconds = fused["concat"][0]
    lines = [
        "| model | s / epoch | relative to concat | held-out AUROC |",
        "|---|---|---|---|",
    ]
    for fusion, (seconds, auroc) in fused.items():
        lines.append(
            f"| fusion={fusion!r} | {seconds:.2f} | {seconds / concat_seconds:.2f} "
            f"| {auroc:.3f} |"
        )
    seconds, auroc = single[best]
    lines.append(
        f"| best single modality: {best} | {seconds:.2f} | "
        f"{seconds / concat_seconds:.2f} | {auroc:.3f} |"
    )
    others = ", ".join(
        f"{name} {single[name][1]:.3f}" for name in MODALITIES if name != best
    )
    gain = min(score for _, score in fused.values()) - auroc
    lines += [
        "",
        f"Other modalities alone: {others}. Worst fusion − best single modality: "
        f"{gain:+.3f} AUROC."
        + (f" modality_dropout={MODALITY_DROPOUT} for the fusions." if missing else ""),
    ]
    return "\n".join(lines)


def report(sizes, tables, overhead):
    medians, data_path = overhead
    (plain_wall, plain_cpu), (skorch_wall, skorch_cpu) = (
        medians["plain"],
        medians["skorch"],
    )
    plain_epoch = plain_cpu / sizes["epochs"]
    rest = (skorch_cpu - plain_cpu) / sizes["epochs"]
    rest -= data_path["skorch"] - data_path["plain"]
    n_train = sizes["n_samples"] - round(0.3 * sizes["n_samples"])
    return "\n".join(
        [
            "# DeepFusionClassifier on the built-in cohort",
            "",
            f"`make_patients(n_samples={sizes['n_samples']}, image_size={IMAGE_SIZE}, "
            "random_state=0)`, stratified 70/30 split; blocks: CT images "
            f"(n, 1, {IMAGE_SIZE}, {IMAGE_SIZE}), TF-IDF notes, DNA one-hot "
            "(n, 4, 200), clinical table. `DeepFusionClassifier(embedding_dim=16, "
            f"lr=3e-3, max_epochs={sizes['epochs']}, random_state=0, device='cpu')`, "
            f"batch size {BATCH_SIZE}, about {n_train} training rows.",
            "",
            f"Machine: {machine()}. Other work shared the cores, so the seconds "
            "are indicative; the ratios and AUROCs are the figures to compare.",
            "",
            "Seconds per epoch: median of skorch's per-epoch `dur` over the "
            "fit. Best single modality: the same classifier (`fusion='concat'`) "
            "fitted on that modality's block alone; rows without it are "
            "predicted the training class prior.",
            "",
            "## Complete cohort",
            "",
            tables[0],
            "",
            "## 30% of patients lack each modality",
            "",
            tables[1],
            "",
            "## skorch overhead",
            "",
            f"The `FusionNetwork` of `fusion={OVERHEAD_FUSION!r}` trained for "
            f"{sizes['epochs']} epochs on the complete cohort's training rows by a "
            "hand-written torch loop (Adam, same learning rate, batch size, seeds "
            "and mini-batch order, cross-entropy, no validation split) and by "
            "`DeepFusionClassifier.fit`; both start from the same `ModalityBlocks`. "
            "Held-out logits of the two networks checked equal. Median of "
            f"{sizes['rounds']} alternating rounds.",
            "",
            "| training | median wall s | median CPU s | CPU ratio | wall ratio |",
            "|---|---|---|---|---|",
            f"| plain torch loop | {plain_wall:.2f} | {plain_cpu:.2f} | 1.00 | 1.00 |",
            f"| DeepFusionClassifier.fit (skorch) | {skorch_wall:.2f} | "
            f"{skorch_cpu:.2f} | {skorch_cpu / plain_cpu:.2f} | "
            f"{skorch_wall / plain_wall:.2f} |",
            "",
            f"Ratio = skorch seconds / plain seconds. Target: CPU-time ratio <= "
            f"{TARGET} (CPU time, as wall time on a shared machine also counts "
            "the neighbours' bursts).",
            "",
            "Where the difference goes: one epoch's mini-batches alone, without "
            "the network (CPU seconds, median of 7 alternating passes):",
            "",
            "| mini-batches | CPU s / epoch | share of a plain epoch |",
            "|---|---|---|",
            f"| tensors indexed per batch (plain loop) | {data_path['plain']:.3f} | "
            f"{data_path['plain'] / plain_epoch:.1%} |",
            "| skorch DataLoader over the SliceDict (row by row, then collated) | "
            f"{data_path['skorch']:.3f} | {data_path['skorch'] / plain_epoch:.1%} |",
            "",
            f"The rest of the difference ({rest:.3f} CPU s per epoch) is "
            "skorch's per-batch bookkeeping (callbacks, history, `module.train()` "
            "on every step) and timing noise.",
            "",
        ]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    torch.set_num_threads(1)
    tables = [
        fusion_table(
            *fusion_rows(sizes["n_samples"], sizes["epochs"], missing), missing
        )
        for missing in (None, MISSING)
    ]
    overhead = compare_overhead(sizes["n_samples"], sizes["epochs"], sizes["rounds"])
    text = report(sizes, tables, overhead)
    print(text)
    if args.quick:
        return
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    ratio = overhead[0]["skorch"][1] / overhead[0]["plain"][1]
    assert ratio <= TARGET, f"skorch / plain CPU-time ratio {ratio:.2f} > {TARGET}"


if __name__ == "__main__":
    main()
