"""
==============================================================
Pathology: image tiles, the written report, age and sex
==============================================================

A pathology case comes as stained tissue, the pathologist's written report
and a few clinical values. This example builds a small cohort of such cases
(an RGB tile of H&E-like tissue per case, saved as a PNG file; a short
English report; age and sex), compares fusion methods with
:func:`~polymodal.model_selection.compare_fusions` against each modality
alone, and then runs the same table through the command line:
``polymodal init`` detects what each column holds, ``polymodal compare``
cross-validates the candidates and ``polymodal predict`` scores new cases.

Everything is simulated, so that we know what carries the signal: an
aggressive tumour (the target) shows denser, darker nuclei in the tile, is
more often described with high-grade findings in the report, and is more
common with age. Each part of the signal is independent of the others and
noisy, so each modality alone predicts only part of the outcome.
"""

# %%
# The cases
# ---------
# Three independent latent scores drive the tile (nuclear density and how
# dark the nuclei stain), the report (grade, mitoses, necrosis,
# lymphovascular invasion) and the outcome, together with age. The tiles
# are 32 x 32 pixels: pink eosin-stained stroma with purple haematoxylin
# nuclei, and a stain intensity that varies from slide to slide.
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

rng = np.random.default_rng(0)
n_cases = 240
tissue, findings = rng.normal(size=n_cases), rng.normal(size=n_cases)
age = rng.normal(62.0, 11.0, n_cases).round()
sex = rng.choice(["F", "M"], n_cases)
risk = 1.2 * tissue + 1.2 * findings + 0.06 * (age - 62.0) + rng.normal(size=n_cases)
aggressive = (risk > 0.5).astype(int)

folder = Path(tempfile.mkdtemp())
yy, xx = np.mgrid[:32, :32]


def tile(score):
    """A 32 x 32 RGB tile whose nuclei are denser and darker as score grows."""
    stain = rng.uniform(0.85, 1.1)  # slide-to-slide stain intensity
    image = np.empty((32, 32, 3))
    image[:] = np.array([235.0, 160.0, 200.0]) * stain  # eosin stroma
    image += rng.normal(0.0, 12.0, image.shape)
    n_nuclei = rng.poisson(6.0 * np.exp(0.5 * score))
    darkness = 1.0 / (1.0 + np.exp(-score))  # hyperchromatic nuclei
    colour = np.array([120.0, 70.0, 170.0]) * (1.0 - 0.45 * darkness) * stain
    for _ in range(n_nuclei):
        cy, cx, radius = rng.uniform(0, 32), rng.uniform(0, 32), rng.uniform(1.5, 3)
        nucleus = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
        image[nucleus] = colour + rng.normal(0.0, 8.0, (nucleus.sum(), 3))
    return np.clip(image, 0, 255).astype(np.uint8)


paths = []
for case, score in enumerate(tissue):
    path = folder / "tiles" / f"case{case:03d}.png"
    path.parent.mkdir(exist_ok=True)
    Image.fromarray(tile(score)).save(path)
    paths.append(str(path))


def report(score):
    """A short pathology report whose findings lean high-grade as score grows."""
    p = 1.0 / (1.0 + np.exp(-2.0 * score))
    grade = ["low", "intermediate", "high"][int(np.digitize(score, [-0.6, 0.6]))]
    site = rng.choice(["left breast", "right breast"])
    specimen = rng.choice(["Core biopsy", "Excision"])
    sentences = [
        f"{specimen} of the {site}.",
        f"Invasive ductal carcinoma, {grade} grade.",
        "Mitoses are frequent." if rng.random() < p else "Mitoses are rare.",
        "Tumour necrosis is present."
        if rng.random() < p - 0.2
        else "No necrosis is seen.",
        "Lymphovascular invasion is identified."
        if rng.random() < p - 0.3
        else "No lymphovascular invasion.",
    ]
    return " ".join(sentences)


cases = pd.DataFrame(
    {
        "case_id": [f"S{i:04d}" for i in range(n_cases)],
        "tile": paths,
        "report": [report(score) for score in findings],
        "age": age,
        "sex": sex,
        "aggressive": aggressive,
    }
)
print(cases.drop(columns="tile").head(3).to_string(max_colwidth=70))
print(f"{n_cases} cases, {aggressive.mean():.0%} aggressive")

# %%
# Three tiles of the least, and three of the most aggressive-looking
# tissue:
import matplotlib.pyplot as plt

order = np.argsort(tissue)
fig, axes = plt.subplots(1, 6, figsize=(9, 1.8))
for ax, case in zip(axes, [*order[:3], *order[-3:]]):
    ax.imshow(Image.open(cases["tile"][case]))
    ax.set_title(f"tissue {tissue[case]:+.1f}", fontsize=8)
    ax.axis("off")

# %%
# One transformer per modality
# ----------------------------
# The tiles are read in colour (``ImageLoader(color="rgb")``): haematoxylin
# and eosin are told apart by their colour, and
# :class:`~polymodal.image.ImageFeatures` computes its texture and intensity
# features for each channel. The report becomes TF-IDF features with
# negated findings marked (:class:`~polymodal.text.ClinicalTextVectorizer`:
# "No necrosis" gives ``NEG_necrosis``), age is standardised and sex one-hot
# encoded.
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from polymodal import MultimodalUnion
from polymodal.fusion import ConcatFusion, LateFusionClassifier, ProductFusion
from polymodal.image import ImageFeatures, ImageLoader
from polymodal.model_selection import compare_fusions
from polymodal.text import ClinicalTextVectorizer

union = MultimodalUnion(
    [
        (
            "tile",
            make_pipeline(
                ImageLoader(color="rgb"),
                ImageFeatures(["first_order", "glcm", "lbp"]),
                StandardScaler(),
            ),
            "tile",
        ),
        ("report", ClinicalTextVectorizer(language="en", ngram_range=(1, 2)), "report"),
        (
            "clinical",
            make_column_transformer(
                (StandardScaler(), ["age"]), (OneHotEncoder(drop="if_binary"), ["sex"])
            ),
            ["age", "sex"],
        ),
    ]
)

# %%
# Comparing fusions
# -----------------
# Concatenation (early fusion, each block scaled to unit total variance),
# the product of each modality's first principal components with their
# main effects, and late fusion (one logistic regression per modality,
# probabilities averaged), each against every modality alone, on the same
# five folds. The clinical block has two columns, fewer than the product's
# four components: it is used whole, padded with ones, and the warning that
# says so is silenced here.
import warnings

warnings.filterwarnings("ignore", message="Modality 'clinical' has 2 features")
logistic = LogisticRegression(max_iter=2000)
result = compare_fusions(
    union,
    cases,
    cases["aggressive"],
    fusions={
        "concat": ConcatFusion(scale_blocks=True),
        "product": ProductFusion(4, random_state=0),
    },
    heads={"logreg": logistic},
    final_fusions={"late": LateFusionClassifier(logistic)},
    cv=5,
    random_state=0,
)
columns = ["roc_auc_mean", "roc_auc_ci_low", "roc_auc_ci_high", "p_vs_baseline"]
print(result.to_frame()[columns].round(3).to_string())
gain = result.difference(result.best_candidate_, result.best_baseline_)
print(
    f"{result.best_candidate_} vs {result.best_baseline_}: {gain['mean']:+.3f} "
    f"AUROC [{gain['ci_low']:+.3f}, {gain['ci_high']:+.3f}], p = {gain['p']:.2g}"
)
result.plot()

# %%
# Each modality alone predicts part of the outcome, the report best; every
# fusion scores above each of them, as the three parts of the signal are
# independent and add up. Here they add up on the logistic scale, which is
# what concatenation with one logistic regression models directly.

# %%
# The same from the command line
# ------------------------------
# With the table in a CSV file, :func:`~polymodal.compose.suggest_modalities`
# shows what ``polymodal init`` will detect, with its evidence.
from polymodal.cli import main
from polymodal.compose import suggest_modalities

data = folder / "cases.csv"
cases.to_csv(data, index=False)
print(suggest_modalities(pd.read_csv(data), target="aggressive"))

# %%
# Every column is detected as intended: the tile paths as image files that
# exist, the report as English prose, age and sex as the clinical values,
# and ``case_id`` (one value per case) as the group labels, never a
# feature. ``polymodal init`` writes these decisions, with their evidence
# and alternatives, to a commented configuration file.
config = folder / "polymodal.toml"
main(["init", str(data), "--target", "aggressive", "-o", str(config)])
print(config.read_text())

# %%
# The tiles are colour files, so detection reads them with their three
# channels (``loader = { color = "rgb" }`` in the tile's section), as the
# union above does. We run the file as written, without edits. (The image
# recipe computes :class:`~polymodal.image.ImageFeatures`' default families,
# HOG included, and the command line's logistic regression is more strongly
# regularised, so its scores differ from those above.)
#
# ``polymodal compare`` cross-validates concatenation and late fusion with
# the command line's logistic regression in 3 folds, and saves the best
# pipeline, refitted on every row.
out = folder / "results"
main(
    [
        "compare",
        str(data),
        "--config",
        str(config),
        "--cv",
        "3",
        "--fusions",
        "concat",
        "late",
        "--heads",
        "logistic",
        "--out",
        str(out),
    ]
)

# %%
# Both fusions score above each modality alone here as well. The tile alone
# scores lower than above: other image features and a more strongly
# regularised logistic regression.
#
# ``polymodal predict`` reads a table in the same format; here, the first
# five cases (the model was trained on them), with their outcome beside
# the prediction.
new = folder / "new.csv"
cases.head(5).drop(columns="aggressive").to_csv(new, index=False)
main(["predict", str(out / "model.polymodal"), str(new)])
predictions = pd.read_csv(folder / "new_predictions.csv")
predictions["aggressive"] = cases["aggressive"].head(5)
print(predictions.drop(columns="errors").round(3).to_string())

# %%
# The temporary folder and its files are no longer needed.
import shutil

shutil.rmtree(folder)
