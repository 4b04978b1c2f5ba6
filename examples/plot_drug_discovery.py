"""
============================================================
Drug discovery: molecule, target protein and assay together
============================================================

Whether a compound is active in an assay depends on the compound *and* on
the protein it is tested against: a kinase inhibitor does nothing to a
protease. This example builds a small screening table (molecule SMILES, the
target protein's sequence, the assay conditions and an active/inactive
label), compares fusion methods with
:func:`~polymodal.model_selection.compare_fusions`, and then runs the same
table through the command line: ``polymodal init`` detects what each column
holds, ``polymodal compare`` cross-validates the candidates and
``polymodal predict`` scores new rows.

The table is simulated, so that we know what carries the signal: the
molecules are real, valid structures built from five scaffolds and ten
substituents; the proteins are random sequences of three families, each with
point-mutated variants; the activity is driven mostly by which scaffold
meets which protein family (an interaction), a little by the substituent and
the tested concentration, plus assay noise.
"""

# %%
# The screening table
# -------------------
# Each scaffold binds one protein family and is repelled by the others
# (the aminopurine is neutral to the GPCRs, the piperazine to the kinases),
# so no scaffold is active on most proteins and no protein family takes most
# compounds: neither the molecule alone nor the protein alone tells much.
# Aryl substituents add a little affinity, and so does a higher tested
# concentration. ``compound_id`` names the molecule; a compound is tested
# against several proteins.
import numpy as np
import pandas as pd
from rdkit import Chem

rng = np.random.default_rng(0)
scaffolds = {
    "benzamide": "{r}NC(=O)c1ccccc1",
    "indole": "{r}c1ccc2[nH]ccc2c1",
    "aminopurine": "{r}Nc1ncnc2[nH]cnc12",
    "sulfonamide": "{r}NS(=O)(=O)c1ccccc1",
    "piperazine": "{r}N1CCN(C)CC1",
}
substituents = [
    "C",
    "CC",
    "CC(C)",
    "CCO",
    "C1CC1",
    "c1ccccc1",
    "c1ccc(F)cc1",
    "c1ccc(Cl)cc1",
    "c1ccc(OC)cc1",
    "c1ccncc1",
]
molecules = pd.DataFrame(
    [
        {"scaffold": scaffold, "aryl": r.startswith("c"), "smiles": smiles.format(r=r)}
        for scaffold, smiles in scaffolds.items()
        for r in substituents
    ]
)
assert all(Chem.MolFromSmiles(smiles) is not None for smiles in molecules["smiles"])

amino_acids = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
families = ["kinase", "protease", "gpcr"]
ancestors = {family: rng.choice(amino_acids, 120) for family in families}


def variant(ancestor, n_mutations=12):
    """The ancestor's sequence with a few random point mutations."""
    sequence = ancestor.copy()
    sites = rng.choice(len(sequence), n_mutations, replace=False)
    sequence[sites] = rng.choice(amino_acids, n_mutations)
    return "".join(sequence)


proteins = pd.DataFrame(
    [
        {"family": family, "sequence": variant(ancestors[family])}
        for family in families
        for _ in range(4)
    ]
)
# +1: the scaffold binds the family; -1: it does not; 0: weakly.
affinity = pd.DataFrame(
    [[1, -1, -1], [-1, 1, -1], [1, -1, 0], [-1, -1, 1], [0, 1, -1]],
    index=list(scaffolds),
    columns=families,
)

n_rows = 400
molecule_of = rng.integers(len(molecules), size=n_rows)
protein_of = rng.integers(len(proteins), size=n_rows)
molecule, protein = molecules.iloc[molecule_of], proteins.iloc[protein_of]
concentration = 10 ** rng.uniform(-1, 1.5, n_rows)  # 0.1 to 30 µM
logit = (
    2.5
    * affinity.to_numpy()[
        molecule["scaffold"].map(list(scaffolds).index),
        protein["family"].map(families.index),
    ]
    + 1.0 * molecule["aryl"].to_numpy()
    + 1.5 * np.log10(concentration)
    - 1.0
    + rng.normal(0.0, 1.0, n_rows)  # assay noise
)
table = pd.DataFrame(
    {
        "compound_id": [f"CMP{i:03d}" for i in molecule_of],
        "smiles": molecule["smiles"].to_numpy(),
        "target_sequence": protein["sequence"].to_numpy(),
        "assay_conc_um": concentration.round(3),
        "assay_temp_c": rng.normal(25.0, 1.0, n_rows).round(1),
        "assay_incubation_h": rng.choice([1, 2, 4], n_rows),
        "assay_dmso_pct": rng.uniform(0.1, 1.0, n_rows).round(2),
        "active": (logit > 0).astype(int),
    }
)
print(table.head(3).to_string(max_colwidth=30))
print(
    f"{len(table)} measurements of {table['compound_id'].nunique()} compounds "
    f"on {table['target_sequence'].nunique()} proteins, {table['active'].mean():.0%} "
    "active"
)

# %%
# One transformer per modality
# ----------------------------
# :class:`~polymodal.molecule.MorganFingerprint` reads the SMILES (Morgan
# bits of radius 2), :class:`~polymodal.sequence.KmerVectorizer` the protein
# sequence (counts of its 400 amino-acid pairs), and the four assay
# conditions are standardised. The folds are grouped by compound, so that a
# compound's measurements never sit on both sides of a split: the scores
# say how well the model does on compounds it has not seen.
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from polymodal import MultimodalUnion
from polymodal.fusion import (
    ConcatFusion,
    LateFusionClassifier,
    ProductFusion,
    TensorFusion,
)
from polymodal.model_selection import compare_fusions
from polymodal.molecule import MorganFingerprint
from polymodal.sequence import KmerVectorizer

assay_columns = [
    "assay_conc_um",
    "assay_temp_c",
    "assay_incubation_h",
    "assay_dmso_pct",
]
union = MultimodalUnion(
    [
        ("molecule", MorganFingerprint(radius=2, n_bits=256), "smiles"),
        ("protein", KmerVectorizer(k=2, alphabet="protein"), "target_sequence"),
        ("assay", StandardScaler(), assay_columns),
    ]
)

# %%
# Comparing fusions
# -----------------
# Concatenation (early fusion) and late fusion (one logistic regression per
# modality, probabilities averaged) add up what each modality says;
# :class:`~polymodal.fusion.ProductFusion` adds the element-wise product of
# each modality's first principal components (main effects kept);
# :class:`~polymodal.fusion.TensorFusion` adds every product of components
# across modalities. The head is a logistic regression throughout.
logistic = LogisticRegression(max_iter=2000)
result = compare_fusions(
    union,
    table,
    table["active"],
    fusions={
        "concat": ConcatFusion(scale_blocks=True),
        "product": ProductFusion(4, random_state=0),
        "tensor": TensorFusion(4, random_state=0),
    },
    heads={"logreg": logistic},
    final_fusions={"late": LateFusionClassifier(logistic)},
    cv=5,
    groups=table["compound_id"],
    random_state=0,
)
columns = ["roc_auc_mean", "roc_auc_ci_low", "roc_auc_ci_high", "p_vs_baseline"]
scores = result.to_frame()[columns]
print(scores.round(3).to_string())

# %%
# Each modality alone scores little above chance (0.5): the molecule and
# the assay conditions carry only their small main effects, the protein
# family none. Concatenation and late fusion add these up and stay close to
# the best of them: a linear model of the sum cannot say "this scaffold on
# that family". The product fusion multiplies only matching components
# (the first molecule component with the first protein component, and so
# on), and the components that separate the scaffolds need not be matched
# with those that separate the families, so here it gains little. The
# tensor fusion's products of every pair of components hold the
# interaction, and its logistic regression reads it.
for name in ["concat + logreg", "tensor + logreg"]:
    for baseline in ["molecule only + logreg", "protein only + logreg"]:
        gain = result.difference(name, baseline)
        print(
            f"{name} vs {baseline}: {gain['mean']:+.3f} AUROC "
            f"[{gain['ci_low']:+.3f}, {gain['ci_high']:+.3f}], p = {gain['p']:.2g}"
        )
result.plot()

# %%
# The same from the command line
# ------------------------------
# With the table in a CSV file, :func:`~polymodal.compose.suggest_modalities`
# shows what ``polymodal init`` will detect, with its evidence: the SMILES
# (RDKit parses them), the protein sequences (amino-acid letters, median
# length 120), and the four ``assay_`` columns as one panel (a shared name
# stem). ``compound_id`` repeats (a compound is measured on several
# proteins), so it does not name the rows; its values are codes of one
# pattern (``CMP017``), 50 of them over 400 rows, each on several rows:
# a repeated identifier. As no column is unique per row, it is proposed as
# the ``groups`` column, never a feature: a model that learns a compound's
# name would recognise the compound in the test folds.
import tempfile
from pathlib import Path

from polymodal.cli import main
from polymodal.compose import suggest_modalities

folder = Path(tempfile.mkdtemp())
data = folder / "screen.csv"
table.to_csv(data, index=False)
print(suggest_modalities(pd.read_csv(data), target="active"))

# %%
# ``polymodal init`` makes the same decisions: ``groups = "compound_id"``,
# the group labels of ``compare_fusions`` above, so a compound's rows stay in
# one fold (``--groups`` names another column). It prints its decisions and
# writes them, with their evidence and alternatives, to a commented
# configuration file.
config = folder / "polymodal.toml"
main(["init", str(data), "--target", "active", "-o", str(config)])
print(config.read_text())

# %%
# ``polymodal compare`` cross-validates the chosen candidates (here
# concatenation, tensor fusion and late fusion with the command line's
# logistic regression, in 3 folds grouped by compound) and saves the best
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
        "tensor",
        "late",
        "--heads",
        "logistic",
        "--out",
        str(out),
    ]
)

# %%
# On the command line's folds too, the tensor fusion ranks first, far above
# each modality alone, while concatenation and late fusion stay near the
# best single modality.
#
# ``polymodal predict`` reads a table in the same format; here, the first
# five rows of the screen (rows the model was trained on), with the
# measured activity beside the prediction.
new = folder / "new.csv"
table.head(5).drop(columns="active").to_csv(new, index=False)
main(["predict", str(out / "model.polymodal"), str(new)])
predictions = pd.read_csv(folder / "new_predictions.csv")
predictions["measured"] = table["active"].head(5)
print(predictions.drop(columns="errors").round(3).to_string())

# %%
# The temporary folder and its files are no longer needed.
import shutil

shutil.rmtree(folder)
