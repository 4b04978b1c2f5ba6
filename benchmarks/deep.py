"""DeepFusionClassifier on the built-in cohort: AUROC, epoch time, skorch overhead.

Three measurements on the CPU, with one torch thread (on a shared 2-core machine
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
   networks' held-out logits are checked equal. 5 rounds of wall-clock and
   of process CPU time, the order of the two trainings alternating by round;
   ratios and extra seconds are medians over the rounds of each round's
   figures (paired, so that drifting load on a shared machine cancels). At
   ``n_samples`` and at twice as many: the change of the extra seconds per
   epoch per 1,000 more training rows is the slope, where a cost per row
   shows up. Target: CPU-time ratio (skorch / plain) <= 1.05 at both sizes. To
   show where the difference goes, one epoch's mini-batches are also drawn
   without the network (median of 7 alternating passes): by indexing the
   tensors, through the loader that ``fit`` uses (whole mini-batches), and
   through skorch's default DataLoader (one row at a time, then collated).
3. Memory: each training of part 2, for 2 epochs, in a fresh interpreter
   that has built the cohort: the growth of its peak resident memory
   (``VmHWM``, Linux only) during the fit, at both sizes.

Run: .venv/bin/python benchmarks/deep.py   (10 to 15 minutes on 2 shared cores)
It writes benchmarks/results/deep.md. Smoke run (small sizes, one round, prints
without writing results or checking the target):
.venv/bin/python benchmarks/deep.py --quick
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
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
from polymodal.deep import DeepFusionClassifier, _batches
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
FULL = {"n_samples": 2000, "epochs": 15, "rounds": 5}
QUICK = {"n_samples": 300, "epochs": 2, "rounds": 1}
# The overhead is measured at n_samples and at twice as many.
SIZE_FACTORS = (1, 2)
MEMORY_EPOCHS = 2
TARGET = 1.05


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
    """Both trainings, ``rounds`` times; which goes first alternates by round.

    The ratios are medians over the rounds of one round's skorch seconds over
    its plain seconds: on a shared machine the load drifts, and two runs next
    to each other see the same load.
    """
    train, test, y_train, _ = cohort(n_samples, None)
    times = {"plain": [], "skorch": []}
    trainings = {"plain": plain_fit, "skorch": skorch_fit}
    for round_ in range(rounds):
        order = ("plain", "skorch") if round_ % 2 == 0 else ("skorch", "plain")
        for loop in order:
            wall, cpu, fitted = timed(trainings[loop], train, y_train, epochs)
            times[loop].append((wall, cpu))
            if loop == "plain":
                module = fitted
            else:
                model = fitted
    np.testing.assert_allclose(
        held_out_logits(model.net_.module_, test),
        held_out_logits(module, test),
        rtol=1e-5,
        atol=1e-6,
    )
    rounds_ = list(zip(times["plain"], times["skorch"], strict=True))
    return {
        "n_train": len(y_train),
        "medians": {
            loop: tuple(statistics.median(t[i] for t in runs) for i in range(2))
            for loop, runs in times.items()
        },
        "cpu_ratio": statistics.median(s[1] / p[1] for p, s in rounds_),
        "wall_ratio": statistics.median(s[0] / p[0] for p, s in rounds_),
        "extra": statistics.median((s[1] - p[1]) / epochs for p, s in rounds_),
        "data_path": data_path_seconds(train, y_train),
    }


def data_path_seconds(blocks, y, repeats=7):
    """CPU seconds of one epoch's mini-batches, without the network.

    The hand-written loop indexes the tensors once per batch; the loader that
    ``DeepFusionClassifier.fit`` uses asks its dataset for a whole batch;
    skorch's default DataLoader asks for one row at a time and collates the
    rows into tensors. Median of ``repeats`` alternating passes.
    """
    codes = np.unique(y, return_inverse=True)[1].astype(np.int64)
    data = blocks.to_slicedict()
    target = torch.as_tensor(codes)

    def plain_batches():
        for rows in torch.randperm(len(target)).split(BATCH_SIZE):
            {name: v[rows] for name, v in data.items()}, target[rows]

    def fit_batches():
        dataset = _batches.BatchDataset(data, codes)
        loader = _batches.batch_loader(
            dataset, batch_size=BATCH_SIZE, shuffle=True, generator=torch.Generator()
        )
        for _ in loader:
            pass

    def row_batches():
        dataset = skorch.dataset.Dataset(data, codes)
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=BATCH_SIZE, shuffle=True, generator=torch.Generator()
        )
        for _ in loader:
            pass

    loops = {"plain": plain_batches, "batches": fit_batches, "rows": row_batches}
    seconds = {loop: [] for loop in loops}
    for _ in range(repeats):
        for loop, function in loops.items():
            seconds[loop].append(timed(function)[1])
    return {loop: statistics.median(values) for loop, values in seconds.items()}


def resident_bytes(field):
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def memory_child(loop, n_samples):
    """Run in a fresh interpreter: one training's peak memory growth, as JSON."""
    torch.set_num_threads(1)
    train, _, y_train, _ = cohort(n_samples, None)
    fit = plain_fit if loop == "plain" else skorch_fit
    # One short fit first, so that lazy imports and torch's first allocations
    # are not counted.
    fit(train[:64], y_train[:64], 1)
    # The peak (VmHWM) survives the imports; "5" resets it to now.
    Path("/proc/self/clear_refs").write_text("5")
    before = resident_bytes("VmRSS")
    fit(train, y_train, MEMORY_EPOCHS)
    data_bytes = sum(
        value.numel() * value.element_size() for value in train.to_slicedict().values()
    )
    peak = resident_bytes("VmHWM") - before
    print(json.dumps({"peak_bytes": peak, "data_bytes": data_bytes}))


def measure_memory(n_samples):
    """Per training loop: (peak resident growth, the blocks' tensors), in bytes."""
    measured = {}
    for loop in ("plain", "skorch"):
        command = [sys.executable, __file__, "--memory-child", loop, str(n_samples)]
        output = subprocess.run(command, capture_output=True, text=True, check=True)
        measured[loop] = json.loads(output.stdout.splitlines()[-1])
    return measured


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


def overhead_lines(sizes, overheads, memory):
    """The skorch-overhead section: one column (or row) per cohort size."""
    epochs = sizes["epochs"]
    first, last = overheads[0], overheads[-1]
    for measured in overheads:
        measured["plain_epoch"] = measured["medians"]["plain"][1] / epochs
    slope = (last["extra"] - first["extra"]) / (last["n_train"] - first["n_train"])
    lines = [
        "## skorch overhead",
        "",
        f"The `FusionNetwork` of `fusion={OVERHEAD_FUSION!r}` trained for "
        f"{epochs} epochs on the complete cohort's training rows by a "
        "hand-written torch loop (Adam, same learning rate, batch size, seeds "
        "and mini-batch order, cross-entropy, no validation split) and by "
        "`DeepFusionClassifier.fit`; both start from the same `ModalityBlocks`. "
        f"Held-out logits of the two networks checked equal. {sizes['rounds']} "
        "rounds at each of two cohort sizes, the order of the two trainings "
        "alternating by round. Seconds: medians over the rounds; ratios and "
        "extra seconds: medians over the rounds of each round's own figure.",
        "",
        "| training rows | plain CPU s | skorch CPU s | CPU ratio | plain wall s "
        "| skorch wall s | wall ratio | extra CPU s / epoch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for measured in overheads:
        (plain_wall, plain_cpu), (skorch_wall, skorch_cpu) = (
            measured["medians"]["plain"],
            measured["medians"]["skorch"],
        )
        lines.append(
            f"| {measured['n_train']} | {plain_cpu:.2f} | {skorch_cpu:.2f} | "
            f"{measured['cpu_ratio']:.2f} | {plain_wall:.2f} | {skorch_wall:.2f} | "
            f"{measured['wall_ratio']:.2f} | {measured['extra']:+.3f} |"
        )
    lines += [
        "",
        "Ratio = skorch seconds / plain seconds of the same round. Target: "
        "CPU-time ratio <= "
        f"{TARGET} at both sizes (CPU time, as wall time on a shared machine also "
        "counts the neighbours' bursts). Slope: the extra CPU seconds per epoch "
        f"change by {1000 * slope:+.3f} per 1,000 more training rows "
        f"({first['n_train']} to {last['n_train']}); a cost per row would make it "
        "positive.",
        "",
        "Where the difference goes: one epoch's mini-batches alone, without "
        "the network (CPU seconds per epoch, median of 7 alternating passes; in "
        "brackets, the share of a plain epoch):",
        "",
        "| mini-batches | "
        + " | ".join(f"{measured['n_train']} rows" for measured in overheads)
        + " |",
        "|---|" + "---|" * len(overheads),
    ]
    paths = (
        ("plain", "tensors indexed per batch (plain loop)"),
        ("batches", "whole mini-batches, the loader `fit` uses"),
        ("rows", "skorch's default DataLoader (row by row, then collated)"),
    )
    for path, label in paths:
        cells = [
            f"{measured['data_path'][path]:.3f} "
            f"({measured['data_path'][path] / measured['plain_epoch']:.1%})"
            for measured in overheads
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    rests = []
    for measured in overheads:
        data_path = measured["data_path"]
        rest = measured["extra"] - (data_path["batches"] - data_path["plain"])
        rests.append(f"{rest:+.3f} at {measured['n_train']} rows")
    lines += [
        "",
        f"The rest of the difference ({', '.join(rests)}, CPU s per epoch) is skorch's "
        "per-batch bookkeeping (callbacks, history, `module.train()` on every "
        "step) and timing noise.",
        "",
    ]
    if memory:
        lines += [
            "## Memory",
            "",
            f"Each training above for {MEMORY_EPOCHS} epochs in a fresh "
            "interpreter that has built the cohort: growth of the peak resident "
            "memory (`VmHWM`) during the fit, in MB, beside the size of the "
            "blocks' float32 tensors that both trainings build.",
            "",
            "| training | "
            + " | ".join(f"{measured['n_train']} rows" for measured in overheads)
            + " |",
            "|---|" + "---|" * len(overheads),
        ]
        for loop, label in (
            ("plain", "plain torch loop"),
            ("skorch", "DeepFusionClassifier.fit (skorch)"),
        ):
            cells = [f"{rows[loop]['peak_bytes'] / 1e6:.1f}" for rows in memory]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        cells = [f"{rows['plain']['data_bytes'] / 1e6:.1f}" for rows in memory]
        lines += ["| blocks' tensors | " + " | ".join(cells) + " |", ""]
    return lines


def report(sizes, tables, overheads, memory):
    return "\n".join(
        [
            "# DeepFusionClassifier on the built-in cohort",
            "",
            f"`make_patients(n_samples={sizes['n_samples']}, image_size={IMAGE_SIZE}, "
            "random_state=0)`, stratified 70/30 split; blocks: CT images "
            f"(n, 1, {IMAGE_SIZE}, {IMAGE_SIZE}), TF-IDF notes, DNA one-hot "
            "(n, 4, 200), clinical table. `DeepFusionClassifier(embedding_dim=16, "
            f"lr=3e-3, max_epochs={sizes['epochs']}, random_state=0, device='cpu')`, "
            f"batch size {BATCH_SIZE}, {overheads[0]['n_train']} training rows "
            f"({', '.join(str(m['n_train']) for m in overheads[1:])} for the "
            "overhead at a larger size).",
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
            *overhead_lines(sizes, overheads, memory),
        ]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        loop, n_samples = args.memory_child
        memory_child(loop, int(n_samples))
        return
    sizes = QUICK if args.quick else FULL
    torch.set_num_threads(1)
    tables = [
        fusion_table(
            *fusion_rows(sizes["n_samples"], sizes["epochs"], missing), missing
        )
        for missing in (None, MISSING)
    ]
    n_samples = [factor * sizes["n_samples"] for factor in SIZE_FACTORS]
    overheads = [
        compare_overhead(n, sizes["epochs"], sizes["rounds"]) for n in n_samples
    ]
    memory = (
        [measure_memory(n) for n in n_samples]
        if Path("/proc/self/clear_refs").exists()
        else None
    )
    text = report(sizes, tables, overheads, memory)
    print(text)
    if args.quick:
        return
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    for measured in overheads:
        ratio = measured["cpu_ratio"]
        assert ratio <= TARGET, (
            f"skorch / plain CPU-time ratio {ratio:.2f} > {TARGET} at "
            f"{measured['n_train']} training rows"
        )


if __name__ == "__main__":
    main()
