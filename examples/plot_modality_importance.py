"""
=========================================
Which modalities matter?
=========================================

:func:`~polymodal.inspection.modality_importance` measures how much each
modality contributes to a multimodal pipeline's cross-validated score, and
:func:`~polymodal.inspection.missing_modality_curve` how the score of a
fitted pipeline falls as one modality goes missing in more patients.
"""

# %%
# The pipeline
# ------------
# Four modalities of the synthetic cohort: first-order intensity statistics
# of the CT, the note's word 1-2-grams with negation marked, 4-mer
# frequencies of the DNA read and the clinical values, fused by
# concatenation into a logistic regression.
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from polymodal import MultimodalUnion
from polymodal.datasets import make_patients
from polymodal.fusion import ConcatFusion
from polymodal.image import ImageFeatures, ImageLoader
from polymodal.sequence import KmerVectorizer
from polymodal.text import ClinicalTextVectorizer

X, y = make_patients(n_samples=240, random_state=0)
union = MultimodalUnion(
    [
        (
            "ct",
            make_pipeline(
                ImageLoader(), ImageFeatures(features="first_order"), StandardScaler()
            ),
            "ct",
        ),
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
        ("fusion", ConcatFusion(scale_blocks=True)),
        ("head", LogisticRegression(max_iter=1000)),
    ]
)

# %%
# Shapley values of the modalities
# --------------------------------
# The value of a set of modalities is the cross-validated AUROC of the
# pipeline refitted on that set alone; the empty set scores the chance level
# (0.5). With four modalities all 15 sets are scored on the same three folds,
# and each modality's Shapley value is its average marginal gain over the
# orders in which the modalities can be added. The values add up to the
# full model's score minus chance.
from polymodal.inspection import missing_modality_curve, modality_importance

importance = modality_importance(
    pipe, X, y, method="shapley", scoring="roc_auc", cv=3, random_state=0
)
print(importance.to_frame().round(3))
print(
    f"full model {importance.full_score:.3f}, chance {importance.chance_score:.3f}, "
    f"sum of Shapley values {importance.importances_mean.sum():.3f}"
)

# %%
# The scores of the sets themselves show what the Shapley values summarise:
# each modality alone is weak, and the score climbs as modalities join.
for subset, scores in sorted(importance.subset_scores.items(), key=lambda s: len(s[0])):
    if len(subset) in (1, 3, 4):
        print(f"{' + '.join(subset) or 'none':>30}: {scores.mean():.3f}")

# %%
# What losing a modality costs at prediction time
# -----------------------------------------------
# Shapley values refit without a modality. A fitted model meets a different
# situation: a patient without a note. ``missing_modality_curve`` fits the
# pipeline on each training fold as it is and removes the note from a
# growing share of the test patients; :class:`~polymodal.fusion.ConcatFusion`
# imputes the absent block and sets its presence indicator.
curve = missing_modality_curve(
    pipe,
    X,
    y,
    "note",
    rates=(0.0, 0.25, 0.5, 0.75, 1.0),
    scoring="roc_auc",
    cv=3,
    random_state=0,
)
print(curve.to_frame().round(3))

# %%
# Both results in one figure.
import matplotlib.pyplot as plt

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
importance.plot(ax=left)
left.set_title("Shapley importance")
curve.plot(ax=right)
right.set_title("Notes missing at prediction time")
fig.tight_layout()

# %%
# Without any note the model scores about what a model refitted without
# notes scores (the ``ct + dna + clinical`` set above): the presence
# indicator and the mean imputation of
# :class:`~polymodal.fusion.ConcatFusion` let the other modalities carry the
# prediction. The Shapley value of the note measures what it adds when it
# is there; the curve measures what its absence costs a model that expects
# it.
