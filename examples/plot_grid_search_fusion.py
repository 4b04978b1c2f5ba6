"""
=========================================
The fusion method as a hyperparameter
=========================================

Every fusion step in polymodal is an ordinary scikit-learn estimator, so
the choice of fusion is one more parameter of a
:class:`~sklearn.pipeline.Pipeline`. Here
:class:`~sklearn.model_selection.GridSearchCV` chooses, in one search,
between early fusion, averaged projections, kernel fusion with an SVM and
late fusion, together with the head and its regularisation.
"""

# %%
# Data and pipeline
# -----------------
# The synthetic cohort with a fifth of the notes and DNA reads missing. The
# union covers the note, the DNA and the clinical values; the pipeline has
# three named steps, ``union``, ``fusion`` and ``head``, and the grid
# replaces the last two.
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from polymodal import MultimodalUnion
from polymodal.datasets import make_patients
from polymodal.fusion import ConcatFusion
from polymodal.sequence import KmerVectorizer
from polymodal.text import ClinicalTextVectorizer

X, y = make_patients(n_samples=240, missing={"note": 0.2, "dna": 0.2}, random_state=0)
union = MultimodalUnion(
    [
        ("note", ClinicalTextVectorizer(ngram_range=(1, 2), min_df=2), "note"),
        ("dna", KmerVectorizer(k=4, normalize="frequency"), "dna"),
        (
            "clinical",
            make_column_transformer(
                (StandardScaler(), ["age", "pack_years"]),
                (OneHotEncoder(), ["sex"]),
            ),
            ["age", "sex", "pack_years"],
        ),
    ]
)
pipe = Pipeline(
    [
        ("union", union),
        ("fusion", ConcatFusion()),
        ("head", LogisticRegression(max_iter=1000)),
    ]
)

# %%
# The grid
# --------
# A list of dicts, as in scikit-learn: each dict is a sub-grid, so that a
# fusion is paired only with the heads that fit it.
# :class:`~polymodal.fusion.KernelFusion` outputs a kernel matrix, which only
# a head with ``kernel="precomputed"`` takes; the final-step fusions
# (:class:`~polymodal.fusion.LateFusionClassifier`) take the blocks
# themselves, so the fusion slot is ``"passthrough"``. Parameters of the
# steps are reached with the usual ``step__parameter`` names, and nested
# ones through the union (``union__note__ngram_range``).
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.svm import SVC

from polymodal.fusion import AverageFusion, KernelFusion, LateFusionClassifier

grid = [
    {
        "fusion": [ConcatFusion(scale_blocks=True), AverageFusion(4, random_state=0)],
        "head__C": [0.1, 1.0],
    },
    {
        "fusion": [KernelFusion(weights="align")],
        "head": [SVC(kernel="precomputed")],
        "head__C": [0.1, 1.0],
    },
    {
        "fusion": ["passthrough"],
        "head": [LateFusionClassifier(LogisticRegression(max_iter=1000))],
    },
]
search = GridSearchCV(
    pipe,
    grid,
    scoring="roc_auc",
    cv=StratifiedKFold(5, shuffle=True, random_state=0),
)
search.fit(X, y)

# %%
# Results
# -------
# One row per candidate, best first. ``best_estimator_`` is the whole
# pipeline, union included, refitted on every row with the winning fusion.
import pandas as pd


def describe(params):
    fusion = params["fusion"]
    fusion = fusion if isinstance(fusion, str) else type(fusion).__name__
    head = params.get("head")
    head = type(head).__name__ if head is not None else "LogisticRegression"
    c = params.get("head__C", "")
    return f"{fusion} + {head}" + (f" (C={c})" if c != "" else "")


results = pd.DataFrame(
    {
        "candidate": [describe(params) for params in search.cv_results_["params"]],
        "auroc": search.cv_results_["mean_test_score"],
        "sd": search.cv_results_["std_test_score"],
        "rank": search.cv_results_["rank_test_score"],
    }
).sort_values("rank")
print(results.round(3).to_string(index=False))
print(f"best: {describe(search.best_params_)}, AUROC {search.best_score_:.3f}")

# %%
# Learned kernel weights
# ----------------------
# With ``weights="align"``, :class:`~polymodal.fusion.KernelFusion` weighs
# each modality's kernel by its centred alignment with the target, learned
# on the training rows.
kernel_pipe = Pipeline(
    [
        ("union", union),
        ("fusion", KernelFusion(weights="align")),
        ("head", SVC(kernel="precomputed")),
    ]
).fit(X, y)
print({name: round(w, 3) for name, w in kernel_pipe["fusion"].weights_.items()})

# %%
# The same comparison with :func:`~polymodal.model_selection.compare_fusions`
# fits the union once per fold and shares its blocks across candidates,
# where ``GridSearchCV`` refits it for every candidate; it also adds each
# modality alone as a baseline and intervals for the scores. See the quick
# start example.
