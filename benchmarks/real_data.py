"""What each fusion buys on a real cohort: GSE7390 breast cancer, clinical + genes.

``load_breast_cancer_multiomics`` (198 patients; 4 clinical values, 76 genes;
target: distant metastasis, 25.8% positive). ``compare_fusions`` scores every
fusion step × head (logistic regression, random forest, XGBoost, SVC; KernelFusion
with a precomputed-kernel SVC), late fusion and stacking, and each modality alone,
with repeated stratified 5-fold cross-validation (10 repeats, the same 50 folds
for every candidate), AUROC with 95% intervals and Nadeau–Bengio corrected
t-tests against the best single modality. The hand-written scikit-learn figures
of ../shared ANCHORS (5 repeats) are quoted beside them.

For reference it also fits survival models on clinical + genes through the same
union (25% test split, ``random_state=0``) and reports their concordance index
beside scikit-survival's own preprocessing of the same split and its documented
0.765 for ``GradientBoostingSurvivalAnalysis``.

Run: .venv/bin/python benchmarks/real_data.py   (about 10 minutes on 2 cores)
It writes benchmarks/results/real_data.md and benchmarks/results/real_data.png.
Set POLYMODAL_BENCH_REPEATS to run fewer repeats while trying it out.
"""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    RepeatedStratifiedKFold,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sksurv.column import encode_categorical
from sksurv.datasets import load_breast_cancer
from sksurv.ensemble import GradientBoostingSurvivalAnalysis
from sksurv.linear_model import CoxPHSurvivalAnalysis
from xgboost import XGBClassifier

from polymodal import MultimodalUnion
from polymodal.datasets import load_breast_cancer_multiomics
from polymodal.fusion import (
    AverageFusion,
    ConcatFusion,
    FactorizationFusion,
    KernelFusion,
    LateFusionClassifier,
    ProductFusion,
    StackingFusionClassifier,
    SubspaceFusion,
    TensorFusion,
)
from polymodal.model_selection import compare_fusions

RESULTS = Path(__file__).parent / "results"
REPEATS = int(os.environ.get("POLYMODAL_BENCH_REPEATS", "10"))
DOCUMENTED_GBSA_CINDEX = 0.765
# Hand-written scikit-learn on the same cohort (ANCHORS.md: repeated stratified
# 5-fold, 5 repeats, AUROC mean ± sd), and the candidate here that does the same work.
ANCHORS = [
    (
        "clinical, LogisticRegression(C=0.1)",
        "0.607 ± 0.104",
        "clinical only + logistic regression",
    ),
    ("genes, XGBoost", "0.685 ± 0.069", "genes only + xgboost"),
    (
        "genes, LogisticRegression(C=0.1)",
        "0.672 ± 0.092",
        "genes only + logistic regression",
    ),
    ("concat (ColumnTransformer), XGBoost", "0.692 ± 0.087", "concat + xgboost"),
    (
        "concat, LogisticRegression(C=0.1)",
        "0.680 ± 0.088",
        "concat + logistic regression",
    ),
    (
        "late: mean of per-modality LR probabilities",
        "0.647 ± 0.084",
        "late fusion (mean) + logistic regression",
    ),
    (
        "StackingClassifier over per-modality pipelines",
        "0.645 ± 0.085",
        "stacking + logistic regression",
    ),
]


def make_union(cohort):
    clinical = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["er", "grade"]),
        (StandardScaler(), ["age", "size"]),
    )
    return MultimodalUnion(
        [
            ("clinical", clinical, cohort.modalities["clinical"]),
            ("genes", StandardScaler(), cohort.modalities["genes"]),
        ]
    )


def logistic_regression():
    return LogisticRegression(C=0.1, max_iter=5000)


def fusions():
    # Averaged, multiplied and crossed components must mean the same thing in each
    # modality. Signs are aligned to the target either way; beyond the sign, PCA's
    # k-th components of clinical values and of genes are unrelated directions
    # while PLS's are each modality's k-th best predictor, so these project with
    # PLS (on these folds the PCA average scores 0.647 against PLS's 0.673).
    return {
        "concat": ConcatFusion(),
        "average": AverageFusion(n_components=4, projection="pls", random_state=0),
        "average (learned weights)": AverageFusion(
            n_components=4, projection="pls", weights="learn", random_state=0
        ),
        "product": ProductFusion(n_components=4, projection="pls", random_state=0),
        "tensor": TensorFusion(n_components=4, projection="pls", random_state=0),
        "kernel": KernelFusion(),
        "subspace": SubspaceFusion(n_components=4),
        "factorization": FactorizationFusion(n_factors=8, alpha=0.1, random_state=0),
    }


def heads():
    return {
        "logistic regression": logistic_regression(),
        "random forest": RandomForestClassifier(n_estimators=300, random_state=0),
        "xgboost": XGBClassifier(random_state=0, n_jobs=1),
        "svc": SVC(),
        "svc (precomputed kernel)": SVC(kernel="precomputed"),
    }


def final_fusions():
    return {
        "late fusion (mean) + logistic regression": LateFusionClassifier(
            logistic_regression()
        ),
        "late fusion (learned weights) + logistic regression": LateFusionClassifier(
            logistic_regression(), combine="weighted", weights="learn"
        ),
        "stacking + logistic regression": StackingFusionClassifier(
            logistic_regression()
        ),
    }


def classification(cohort):
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=REPEATS, random_state=0)
    return compare_fusions(
        make_union(cohort),
        cohort.data,
        cohort.target,
        fusions=fusions(),
        heads=heads(),
        final_fusions=final_fusions(),
        cv=cv,
        scoring="roc_auc",
        n_jobs=2,
    )


def survival(cohort):
    """C-index on scikit-survival's documented split, through the union and without."""
    X_train, X_test, y_train, y_test = train_test_split(
        cohort.data, cohort.survival, test_size=0.25, random_state=0
    )
    models = {
        # scikit-survival's user-guide setting, the one its 0.765 was measured with.
        "GradientBoostingSurvivalAnalysis(learning_rate=1, max_depth=1)": lambda: (
            GradientBoostingSurvivalAnalysis(
                n_estimators=100, learning_rate=1.0, max_depth=1, random_state=0
            )
        ),
        "CoxPHSurvivalAnalysis(alpha=10)": lambda: CoxPHSurvivalAnalysis(alpha=10.0),
    }
    # scikit-survival's documented steps: its own loader's column order, one-hot
    # categories, raw numbers. Column order matters to boosted stumps, which
    # break ties between equally good splits by the first column.
    encoded = encode_categorical(load_breast_cancer()[0])
    rows = []
    for name, model in models.items():
        pipe = make_pipeline(make_union(cohort), ConcatFusion(), model())
        pipe.fit(X_train, y_train)
        through_union = pipe.score(X_test, y_test)
        baseline = model().fit(encoded.loc[X_train.index], y_train)
        by_hand = baseline.score(encoded.loc[X_test.index], y_test)
        rows.append((name, through_union, by_hand))
    return rows


def markdown(cohort, result, survival_rows):
    frame = result.to_frame()
    best = result.best_candidate_
    baseline = result.best_baseline_
    fused = [name for name in frame.index if name not in result.baselines_]
    best_fused = max(fused, key=lambda name: frame.loc[name, "roc_auc_mean"])
    gain = result.difference(best_fused, baseline)

    def score(name):
        row = frame.loc[name]
        return (
            f"{row['roc_auc_mean']:.3f} ± {row['roc_auc_sd']:.3f} "
            f"[{row['roc_auc_ci_low']:.3f}, {row['roc_auc_ci_high']:.3f}]"
        )

    n_better = int(
        sum(
            frame.loc[name, "roc_auc_mean"] > frame.loc[baseline, "roc_auc_mean"]
            for name in fused
        )
    )
    significant = int(
        sum(
            frame.loc[name, "p_vs_baseline"] < 0.05
            and frame.loc[name, "roc_auc_mean"] > frame.loc[baseline, "roc_auc_mean"]
            for name in fused
        )
    )
    lines = [
        "# Real data: GSE7390 breast cancer, clinical + genes",
        "",
        f"`benchmarks/real_data.py`: {len(cohort.target)} patients, distant metastasis "
        f"({cohort.target.mean():.1%} positive); repeated stratified 5-fold CV, "
        f"{REPEATS} repeats ({5 * REPEATS} folds, the same for every candidate); AUROC "
        "mean ± sd over folds [95% interval, Nadeau–Bengio corrected]; p against the "
        "best single modality with the corrected resampled t-test (not adjusted for "
        f"multiple comparisons). {len(result.candidates_)} candidates.",
        "",
        "## Verdict",
        "",
        f"- Best candidate overall: **{best}**, {score(best)}.",
        f"- Best single modality: **{baseline}**, {score(baseline)}.",
        f"- Best fusion: **{best_fused}**, {score(best_fused)}; its difference with "
        f"the best single modality is {gain['mean']:+.3f} AUROC "
        f"[{gain['ci_low']:+.3f}, {gain['ci_high']:+.3f}], p = {gain['p']:.2f}.",
        f"- {n_better} of {len(fused)} fused candidates score above the best single "
        f"modality on average; {significant} of them significantly (p < 0.05).",
        "",
        "## The seed rules beside concatenation with the same head",
        "",
        "Difference in AUROC with concat + the same head, fold-paired, with its 95% "
        "interval; p against the best single modality; the test against chance "
        "(0.5 on every fold).",
        "",
        "| candidate | AUROC | vs concat, same head | p vs best single modality "
        "| vs chance |",
        "|---|---|---|---|---|",
        *seed_rule_rows(result, frame),
        "",
        "## Every candidate",
        "",
        result.to_markdown(),
        "",
        "![AUROC with 95% intervals](real_data.png)",
        "",
        "## Beside hand-written scikit-learn (ANCHORS.md, 5 repeats)",
        "",
        "| hand-written | AUROC | polymodal candidate | AUROC (this run) |",
        "|---|---|---|---|",
    ]
    for label, anchor, candidate in ANCHORS:
        lines.append(f"| {label} | {anchor} | {candidate} | {score(candidate)} |")
    lines += [
        "",
        "## Survival reference: concordance index, 25% test split (random_state=0)",
        "",
        f"scikit-survival documents {DOCUMENTED_GBSA_CINDEX} for "
        "GradientBoostingSurvivalAnalysis on clinical + genes on this split. Both "
        "columns below are computed in this run on the same split.",
        "",
        "| model | through MultimodalUnion + ConcatFusion | scikit-survival's "
        "documented preprocessing | difference |",
        "|---|---|---|---|",
    ]
    for name, through_union, by_hand in survival_rows:
        lines.append(
            f"| {name} | {through_union:.3f} | {by_hand:.3f} | "
            f"{through_union - by_hand:+.3f} |"
        )
    lines += [
        "",
        "The union's pipeline differs from the documented one in two ways that move "
        "a single 50-patient test split: it standardises the numbers (so the Cox "
        "model's ridge penalty weighs every column alike) and puts the clinical "
        "columns first (boosted stumps break ties between equally good splits by "
        "column order). One split cannot tell these apart from noise.",
    ]
    return "\n".join(lines) + "\n"


SEED_RULES = ("average", "average (learned weights)", "product")


def seed_rule_rows(result, frame):
    """One row per seed rule × head, and stacking beside concat + LR."""
    pairs = [
        (f"{rule} + {head}", f"concat + {head}")
        for head in heads()
        if f"concat + {head}" in frame.index
        for rule in SEED_RULES
    ]
    pairs.append(("stacking + logistic regression", "concat + logistic regression"))
    rows = []
    for name, concat in pairs:
        row = frame.loc[name]
        gain = result.difference(name, concat)
        rows.append(
            f"| {name} | {row['roc_auc_mean']:.3f} "
            f"[{row['roc_auc_ci_low']:.3f}, {row['roc_auc_ci_high']:.3f}] "
            f"| {gain['mean']:+.3f} [{gain['ci_low']:+.3f}, {gain['ci_high']:+.3f}] "
            f"| {row['p_vs_baseline']:.3f} | {row['vs_chance']} |"
        )
    return rows


def main():
    cohort = load_breast_cancer_multiomics()
    result = classification(cohort)
    survival_rows = survival(cohort)
    RESULTS.mkdir(exist_ok=True)
    ax = result.plot()
    ax.set_title("GSE7390: AUROC, 95% intervals")
    ax.figure.tight_layout()
    ax.figure.savefig(RESULTS / "real_data.png", dpi=110)
    plt.close(ax.figure)
    text = markdown(cohort, result, survival_rows)
    (RESULTS / "real_data.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
