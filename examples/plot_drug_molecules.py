"""
==================================================
Drug molecules: Morgan fingerprints of SMILES
==================================================

:class:`~polymodal.molecule.MorganFingerprint` turns each molecule, written
as a SMILES string, into a Morgan (ECFP-like) fingerprint with RDKit. This
example predicts the lipophilicity of thirty well-known drugs from their
structure, and shows what happens to a SMILES that RDKit cannot read: with
``on_error="missing"`` that molecule becomes an absent modality for its row
instead of failing the fit.

The lipophilicity here is simulated: RDKit's Crippen estimate of logP plus
measurement noise of 0.3 log units. It stands in for a measured property;
the SMILES are the real structures.
"""

# %%
# The molecules
# -------------
import numpy as np
import pandas as pd
from rdkit import Chem
from rdkit.Chem import Crippen

drugs = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "ibuprofen": "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",
    "caffeine": "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "naproxen": "COc1ccc2cc(ccc2c1)C(C)C(=O)O",
    "diclofenac": "OC(=O)Cc1ccccc1Nc1c(Cl)cccc1Cl",
    "metformin": "CN(C)C(=N)N=C(N)N",
    "nicotine": "CN1CCC[C@H]1c1cccnc1",
    "diazepam": "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21",
    "propranolol": "CC(C)NCC(O)COc1cccc2ccccc12",
    "lidocaine": "CCN(CC)CC(=O)Nc1c(C)cccc1C",
    "salicylic acid": "OC(=O)c1ccccc1O",
    "benzocaine": "CCOC(=O)c1ccc(N)cc1",
    "phenobarbital": "CCC1(c2ccccc2)C(=O)NC(=O)NC1=O",
    "theophylline": "Cn1c2c(c(=O)n(C)c1=O)[nH]cn2",
    "atenolol": "CC(C)NCC(O)COc1ccc(CC(N)=O)cc1",
    "chlorpromazine": "CN(C)CCCN1c2ccccc2Sc2ccc(Cl)cc21",
    "fluoxetine": "CNCCC(Oc1ccc(cc1)C(F)(F)F)c1ccccc1",
    "warfarin": "CC(=O)CC(c1ccccc1)c1c(O)c2ccccc2oc1=O",
    "ketoprofen": "CC(C(=O)O)c1cccc(c1)C(=O)c1ccccc1",
    "indomethacin": "COc1ccc2n(C(=O)c3ccc(Cl)cc3)c(C)c(CC(=O)O)c2c1",
    "carbamazepine": "NC(=O)N1c2ccccc2C=Cc2ccccc21",
    "haloperidol": "OC1(CCN(CCCC(=O)c2ccc(F)cc2)CC1)c1ccc(Cl)cc1",
    "sulfamethoxazole": "Cc1cc(NS(=O)(=O)c2ccc(N)cc2)no1",
    "metoprolol": "COCCc1ccc(OCC(O)CNC(C)C)cc1",
    "procaine": "CCN(CC)CCOC(=O)c1ccc(N)cc1",
    "hydrochlorothiazide": "NS(=O)(=O)c1cc2c(cc1Cl)NCNS2(=O)=O",
    "omeprazole": "COc1ccc2[nH]c(nc2c1)S(=O)Cc1ncc(C)c(OC)c1C",
    "valproic acid": "CCCC(CCC)C(=O)O",
    "amphetamine": "CC(N)Cc1ccccc1",
}
rng = np.random.RandomState(0)
table = pd.DataFrame({"name": list(drugs), "smiles": list(drugs.values())})
table["logp"] = [
    Crippen.MolLogP(Chem.MolFromSmiles(smiles)) + rng.normal(0.0, 0.3)
    for smiles in table["smiles"]
]
print(table.head().round(2).to_string())

# %%
# Fingerprints
# ------------
# Each atom environment up to ``radius`` bonds is hashed into one of
# ``n_bits`` columns; ``counts=True`` counts the environments instead of
# marking their presence. ``radius=2`` corresponds to ECFP4.
from polymodal.molecule import MorganFingerprint

fingerprint = MorganFingerprint(radius=2, n_bits=256, counts=True)
bits = fingerprint.fit_transform(table["smiles"])
print(
    f"fingerprints: {bits.shape}; environments per molecule: "
    f"{bits.sum(axis=1).min():.0f} to {bits.sum(axis=1).max():.0f}"
)

# %%
# Predicting lipophilicity from structure
# ---------------------------------------
# A ridge regression on the fingerprint counts, against a model that
# predicts the training mean, in 5-fold cross-validation repeated 5 times.
# Thirty molecules are few: the point is the workflow, not the model.
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import RepeatedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

cv = RepeatedKFold(n_splits=5, n_repeats=5, random_state=0)
for name, model in [
    ("training mean", DummyRegressor()),
    ("Morgan counts + ridge", make_pipeline(fingerprint, Ridge(alpha=3.0))),
]:
    mae = -cross_val_score(
        model,
        table["smiles"],
        table["logp"],
        cv=cv,
        scoring="neg_mean_absolute_error",
    )
    print(f"{name:>22}: MAE {mae.mean():.2f} ± {mae.std():.2f} log units")

# %%
# A SMILES that RDKit cannot read
# -------------------------------
# A typo in a table is common: here a new compound's SMILES misses its
# closing parenthesis. By default this is an error naming the row; with
# ``on_error="missing"`` the fingerprint of that row is all-NaN.
new = pd.Series(["CC(=O)Nc1ccc(OC)cc1", "CC(C)Cc1ccc(cc1)C(C)C(=O"], index=[30, 31])
try:
    MorganFingerprint(n_bits=256).fit(table["smiles"]).transform(new)
except ValueError as error:
    print(f"ValueError: {error}")
lenient = MorganFingerprint(n_bits=256, on_error="missing").fit(table["smiles"])
print("all-NaN rows:", np.isnan(lenient.transform(new)).all(axis=1))

# %%
# In a multimodal pipeline
# ------------------------
# The molecule is one modality among others. Suppose each compound also has
# a reversed-phase HPLC retention time, which grows with lipophilicity
# (simulated here too). In a :class:`~polymodal.MultimodalUnion` the
# unreadable SMILES makes the molecule modality absent for that row, with a
# :class:`~polymodal.exceptions.RowFailureWarning`; the mask records it and
# :class:`~polymodal.fusion.ConcatFusion` imputes the block and adds a
# presence indicator, so the row still gets a prediction from its retention
# time.
import warnings

from sklearn.preprocessing import StandardScaler

from polymodal import MultimodalUnion
from polymodal.fusion import ConcatFusion

table["retention_min"] = 2.0 + 1.1 * table["logp"] + rng.normal(0.0, 0.6, len(table))
new_rows = pd.DataFrame({"smiles": new, "retention_min": [3.4, 6.1]})


def make_model(modalities=("molecule", "hplc")):
    """Union of the chosen modalities, early fusion, ridge regression."""
    transformers = {
        "molecule": (
            MorganFingerprint(n_bits=256, counts=True, on_error="missing"),
            "smiles",
        ),
        "hplc": (StandardScaler(), ["retention_min"]),
    }
    union = MultimodalUnion([(name, *transformers[name]) for name in modalities])
    return make_pipeline(union, ConcatFusion(scale_blocks=True), Ridge(alpha=1.0))


X = table[["smiles", "retention_min"]]
model = make_model().fit(X, table["logp"])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    blocks = model[0].transform(new_rows)
for warning in caught:
    print(f"{type(warning.message).__name__}: {warning.message}")
print("molecule present:", blocks.masks["molecule"])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    print("predicted logP:", model.predict(new_rows).round(2))

# %%
# Fusing the two modalities, against each alone, on the same folds as above:
for modalities in [("molecule",), ("hplc",), ("molecule", "hplc")]:
    mae = -cross_val_score(
        make_model(modalities),
        X,
        table["logp"],
        cv=cv,
        scoring="neg_mean_absolute_error",
    )
    name = " + ".join(modalities)
    print(f"{name:>16}: MAE {mae.mean():.2f} ± {mae.std():.2f} log units")

# %%
# The simulated retention time is measured with little noise, so it alone
# predicts lipophilicity better than the structure of thirty molecules does,
# and adding the fingerprint does not improve on it in these folds. Fusion
# pays when the modalities carry complementary information; the comparison
# against each modality alone is what tells.
