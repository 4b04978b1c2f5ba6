"""Modality detection: each kind on real and synthetic columns, and bad input."""

import tomllib

import numpy as np
import pandas as pd
import pytest

from polymodal import MultimodalUnion
from polymodal._recipes import read_config
from polymodal.compose import (
    KINDS,
    ModalitySuggestions,
    render_config,
    suggest_modalities,
)

SMILES = [
    "CCO",
    "CC(=O)Oc1ccccc1C(=O)O",
    "c1ccccc1",
    "CN1CCC[C@H]1c2cccnc2",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "O=C(O)c1ccccc1O",
    "CCN(CC)CC",
    "C1CCCCC1",
    "CC(=O)Nc1ccc(O)cc1",
    "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O",
]
PROTEINS = [
    "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ",
    "MVLSPADKTNVKAAWGKVGAHAGEYGAEALERMFLSFPTTKTYFPHFDLSHGSAQVKGHGKKV",
    "MNIFEMLRIDEGLRLKIYKDTEGYYTIGIGHLLTKSPSLNAAKSELDKAIGRNTNGVITKDEA",
    "MALWMRLLPLLALLALWGPDPAAAFVNQHLCGSHLVEALYLVCGERGFFYTPKTRREAEDLQV",
    "MGDVEKGKKIFVQKCAQCHTVEKGGKHKTGPNLHGLFGRKTGQAPGFTYTDANKNKGITWKEE",
    "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQK",
]
NOTES_ZH = [
    "患者咳嗽三周，伴有咯血。",
    "无咳嗽，偶有胃灼热。",
    "主诉体重下降，伴有咳嗽。",
    "否认胸痛，无发热。",
    "咳嗽两周，无喘息。",
    "两周后复诊，无药物过敏。",
]


def _kinds(suggestions):
    return {s.column: s.kind for s in suggestions}


def _parses_back(suggestions, tmp_path):
    """The rendered file reads back as to_config() and through the CLI's reader."""
    text = render_config(suggestions)
    assert tomllib.loads(text) == suggestions.to_config()
    path = tmp_path / "polymodal.toml"
    path.write_text(text, encoding="utf-8")
    config = read_config(path)
    assert [m.name for m in config.modalities] == [
        m.name for m in suggestions.modalities
    ]
    assert config.target == suggestions.target
    assert config.groups == suggestions.groups
    return text


def test_breast_cancer_genes_are_one_modality_and_clinical_another(tmp_path):
    pytest.importorskip("sksurv")
    from polymodal.datasets import load_breast_cancer_multiomics

    cohort = load_breast_cancer_multiomics()
    frame = cohort.frame.drop(columns="time")
    suggestions = suggest_modalities(frame, target="metastasis")
    modalities = {m.name: m for m in suggestions.modalities}
    assert list(modalities) == ["clinical", "genes"]
    assert modalities["genes"].columns == tuple(cohort.modalities["genes"])
    assert modalities["clinical"].columns == tuple(cohort.modalities["clinical"])
    assert "Affymetrix" in modalities["genes"].evidence
    assert suggestions["metastasis"].role == "target"
    assert suggestions["er"].kind == "categorical"
    _parses_back(suggestions, tmp_path)

    union = MultimodalUnion.from_frame(frame, target="metastasis")
    blocks = union.fit_transform(frame)
    assert blocks["genes"].shape == (198, 76)
    assert blocks["clinical"].shape[0] == 198


def test_synthetic_cohort_with_image_files(tmp_path):
    pytest.importorskip("PIL")
    from polymodal.datasets import make_patients

    X, y = make_patients(40, as_files=tmp_path / "ct", random_state=0)
    X["diagnosis"] = y
    suggestions = suggest_modalities(X, target="diagnosis")
    assert _kinds(suggestions) == {
        "patient_id": "identifier",
        "ct": "image",
        "note": "text",
        "dna": "dna",
        "age": "numeric",
        "sex": "categorical",
        "pack_years": "numeric",
        "diagnosis": "target",
    }
    assert suggestions.groups == "patient_id"
    assert suggestions["patient_id"].role == "groups"
    assert [(m.name, m.recipe) for m in suggestions.modalities] == [
        ("ct", "image"),
        ("note", "text"),
        ("dna", "kmer"),
        ("clinical", "tabular"),
    ]
    note = next(m for m in suggestions.modalities if m.name == "note")
    assert note.params == {"language": "en"}
    assert suggestions["ct"].share == 1.0
    assert suggestions["ct"].examples
    text = _parses_back(suggestions, tmp_path)
    assert 'groups = "patient_id"' in text
    # An identifier is never a feature.
    union = suggestions.to_union()
    assert all("patient_id" not in np.atleast_1d(c) for _, _, c in union.transformers)
    blocks = union.fit_transform(X)
    assert list(blocks.names) == ["ct", "note", "dna", "clinical"]


def test_image_arrays_and_chinese_notes():
    from polymodal.datasets import make_patients

    X, _ = make_patients(30, language="zh", random_state=0)
    suggestions = suggest_modalities(X)
    assert suggestions["ct"].kind == "image"
    assert suggestions["note"].kind == "text"
    note = next(m for m in suggestions.modalities if m.name == "note")
    assert note.params == {"language": "zh"}


def test_dicom_samples(tmp_path):
    pytest.importorskip("pydicom")
    from polymodal.datasets import load_dicom_samples

    frame = load_dicom_samples().frame
    suggestions = suggest_modalities(frame)
    assert suggestions["image"].kind == "image"
    image = suggestions.modalities[0]
    # The three scans differ in shape: the loader resizes them to one.
    assert image.recipe == "image" and image.loader == {"size": [64, 64]}
    _parses_back(suggestions, tmp_path)
    blocks = MultimodalUnion.from_frame(frame).fit_transform(frame)
    assert blocks["image"].shape[0] == 3


def test_dicom_series_folders_are_read_as_volumes(tmp_path):
    pydicom_data = pytest.importorskip("pydicom.data")
    import shutil

    source = pydicom_data.get_testdata_file("CT_small.dcm", download=False)
    folders = []
    for i in range(3):
        folder = tmp_path / f"scan{i}"
        folder.mkdir()
        shutil.copy(source, folder / "IM0001")
        folders.append(str(folder))
    suggestions = suggest_modalities(pd.DataFrame({"scan": folders, "y": [0, 1, 0]}))
    assert suggestions["scan"].kind == "dicom_series"
    assert suggestions.modalities[0].loader == {"volume": True}


def test_nifti_paths(tmp_path):
    pytest.importorskip("nibabel")
    from polymodal.datasets import make_patients

    X, _ = make_patients(6, as_files=tmp_path, image_format="nifti", random_state=0)
    assert suggest_modalities(X)["ct"].kind == "nifti"


def test_smiles_protein_id_and_date_columns(tmp_path):
    pytest.importorskip("rdkit")
    n = len(SMILES)
    df = pd.DataFrame(
        {
            "compound_id": [f"CMPD-{i:04d}" for i in range(n)],
            "smiles": SMILES,
            "target_protein": (PROTEINS * 2)[:n],
            "assay_date": pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d"),
            "ic50": np.linspace(0.1, 9.0, n),
            "active": [0, 1] * (n // 2),
        }
    )
    suggestions = suggest_modalities(df, target="active")
    assert _kinds(suggestions) == {
        "compound_id": "identifier",
        "smiles": "smiles",
        "target_protein": "protein",
        "assay_date": "date",
        "ic50": "numeric",
        "active": "target",
    }
    assert "RDKit parses 10 of 10" in suggestions["smiles"].evidence
    assert suggestions["assay_date"].role == "unused"
    protein = next(m for m in suggestions.modalities if m.recipe == "kmer")
    assert protein.params == {"alphabet": "protein", "k": 2}
    text = _parses_back(suggestions, tmp_path)
    assert "assay_date: date" in text
    blocks = suggestions.to_union().fit_transform(df)
    assert list(blocks.names) == ["smiles", "target_protein", "clinical"]


def test_rna_sequences_and_datetime_dtype():
    rng = np.random.default_rng(0)
    rna = ["".join(rng.choice(list("ACGU"), 40)) for _ in range(8)]
    df = pd.DataFrame({"rna": rna, "seen": pd.date_range("2020", periods=8)})
    kinds = _kinds(suggest_modalities(df))
    assert kinds == {"rna": "rna", "seen": "date"}


def test_a_lab_panel_by_prefix_is_one_modality():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "age": rng.normal(60, 10, 20),
            "lab_glucose": rng.normal(5, 1, 20),
            "lab_sodium": rng.normal(140, 3, 20),
            "lab_potassium": rng.normal(4, 0.5, 20),
            "lab_creatinine": rng.normal(80, 10, 20),
            "sex": ["F", "M"] * 10,
        }
    )
    suggestions = suggest_modalities(df)
    assert [(m.name, m.columns) for m in suggestions.modalities] == [
        ("clinical", ("age", "sex")),
        ("lab", ("lab_glucose", "lab_sodium", "lab_potassium", "lab_creatinine")),
    ]


def test_a_panel_by_measurement_scale_is_one_modality():
    rng = np.random.default_rng(0)
    genes = ["ESR1", "ERBB2", "MKI67", "BRCA1", "TP53", "EGFR", "MYC", "PGR", "KRT5"]
    df = pd.DataFrame({gene: rng.normal(8, 1, 30) for gene in genes})
    df.insert(0, "age", rng.integers(30, 80, 30))
    suggestions = suggest_modalities(df)
    assert [(m.name, len(m.columns)) for m in suggestions.modalities] == [
        ("clinical", 1),
        ("panel", 9),
    ]
    assert "one scale" in suggestions.modalities[1].evidence


def test_overrides_change_the_kind_and_drop_columns():
    df = pd.DataFrame(
        {
            "comment": ["ok", "fine", "no", "ok"],
            "site": ["A", "B", "A", "B"],
            "age": [1.0, 2.0, 3.0, 4.0],
        }
    )
    assert suggest_modalities(df)["comment"].kind == "categorical"
    suggestions = suggest_modalities(df, overrides={"comment": "text", "site": "drop"})
    assert suggestions["comment"].kind == "text"
    assert suggestions["comment"].overridden
    assert suggestions["site"].role == "unused"
    assert [m.name for m in suggestions.modalities] == ["comment", "clinical"]
    with pytest.raises(ValueError, match="did you mean 'comment'"):
        suggest_modalities(df, overrides={"coment": "text"})
    with pytest.raises(ValueError, match="did you mean 'text'"):
        suggest_modalities(df, overrides={"comment": "txt"})


def test_the_groups_column_can_be_given():
    df = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3", "P4"],
            "site": ["A", "A", "B", "B"],
            "age": [1.0, 2.0, 3.0, 4.0],
            "y": [0, 1, 0, 1],
        }
    )
    suggestions = suggest_modalities(df, target="y", groups="site")
    assert suggestions.groups == "site"
    assert suggestions["site"].role == "groups"
    assert suggestions["patient_id"].role == "unused"
    assert [m.columns for m in suggestions.modalities] == [("age",)]
    with pytest.raises(ValueError, match="groups: 'sit' is not a column"):
        suggest_modalities(df, groups="sit")


def test_the_result_prints_its_evidence_and_converts_to_a_frame():
    df = pd.DataFrame({"age": [61.0, 54.0, 70.0], "sex": ["F", "M", "M"]})
    suggestions = suggest_modalities(df)
    assert isinstance(suggestions, ModalitySuggestions)
    shown = repr(suggestions)
    assert "clinical (tabular): age, sex" in shown
    assert "3 distinct values" in shown
    frame = suggestions.to_frame()
    assert list(frame["kind"]) == ["numeric", "categorical"]
    with pytest.raises(KeyError, match="did you mean 'age'"):
        suggestions["agee"]


# Bad input: each a documented decision or an error naming the column.


def test_an_all_missing_column_is_left_out():
    df = pd.DataFrame({"age": [1.0, 2.0, 3.0], "empty": [None, np.nan, None]})
    suggestions = suggest_modalities(df)
    assert suggestions["empty"].kind == "empty"
    assert suggestions["empty"].role == "unused"
    assert "every cell is missing" in render_config(suggestions)


def test_a_column_of_numbers_and_text_is_categorical_with_a_note():
    df = pd.DataFrame({"grade": [1, 2, "high", 3.5, None, 2]})
    decision = suggest_modalities(df)["grade"]
    assert decision.kind == "categorical"
    assert "mixed types" in decision.evidence and "'high'" in decision.evidence


def test_a_nested_column_is_left_out():
    df = pd.DataFrame({"labs": [{"na": 140}, {"na": 138}, None], "age": [1, 2, 3]})
    decision = suggest_modalities(df)["labs"]
    assert (decision.kind, decision.role) == ("nested", "unused")
    assert "flatten" in decision.evidence


def test_numbers_stored_as_text_are_categorical_with_a_note():
    df = pd.DataFrame(
        {"bmi": ["21.5", "30.1", "25.0", "19.9"], "id": ["01", "02", "03", "04"]}
    )
    suggestions = suggest_modalities(df)
    assert suggestions["bmi"].kind == "categorical"
    assert "pd.to_numeric" in suggestions["bmi"].evidence
    assert suggestions["id"].kind == "identifier"


def test_a_repeated_column_name_is_an_error_naming_it():
    df = pd.DataFrame([[1, 2, 3], [4, 5, 6]], columns=["age", "bmi", "age"])
    with pytest.raises(ValueError, match="Column 'age' appears more than once"):
        suggest_modalities(df)


def test_a_one_row_table_is_an_error():
    with pytest.raises(ValueError, match="1 row"):
        suggest_modalities(pd.DataFrame({"age": [1.0]}))


def test_an_unknown_target_is_an_error_with_a_suggestion():
    df = pd.DataFrame({"diagnosis": [0, 1], "age": [1.0, 2.0]})
    with pytest.raises(ValueError, match="did you mean 'diagnosis'"):
        suggest_modalities(df, target="diagnosys")


def test_image_paths_whose_files_do_not_exist(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    missing = [str(tmp_path / f"nope{i}.png") for i in range(4)]
    none_exist = suggest_modalities(pd.DataFrame({"ct": missing, "x": range(4)}))
    assert none_exist["ct"].kind == "image"
    assert none_exist["ct"].role == "unused"
    assert "none of the 4 sampled files exist" in none_exist["ct"].evidence
    some = suggest_modalities(
        pd.DataFrame({"ct": [str(tmp_path / "a.png"), *missing[:1]], "x": range(2)})
    )
    assert some.modalities[0].loader == {"on_error": "missing"}


def test_no_feature_at_all_is_a_clear_error():
    df = pd.DataFrame({"empty": [None, None], "y": [0, 1]})
    with pytest.raises(ValueError, match="No column of the table was detected"):
        suggest_modalities(df, target="y").to_union()


def test_non_string_column_names_cannot_be_written():
    suggestions = suggest_modalities(pd.DataFrame({0: [1.0, 2.0], 1: ["a", "b"]}))
    with pytest.raises(ValueError, match="Column 0 is not named by a string"):
        render_config(suggestions)


def test_every_kind_has_a_recipe_of_the_config_format():
    from polymodal._recipes import __doc__ as recipes_doc

    for recipe, _ in KINDS.values():
        assert recipe is None or f"    {recipe} " in recipes_doc


def test_colour_tiles_are_read_with_their_three_channels(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    paths = {"tile": [], "scan": []}
    for i in range(12):
        pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels, "RGB").save(tmp_path / f"tile{i}.png")
        Image.fromarray(pixels[..., 0], "L").save(tmp_path / f"scan{i}.png")
        paths["tile"].append(str(tmp_path / f"tile{i}.png"))
        paths["scan"].append(str(tmp_path / f"scan{i}.png"))
    frame = pd.DataFrame({**paths, "y": [0, 1] * 6})
    suggestions = suggest_modalities(frame, target="y")
    loaders = {m.name: m.loader for m in suggestions.modalities}
    assert loaders["tile"] == {"color": "rgb"}
    assert loaders["scan"] == {}
    assert "colour images, read as 3 channels" in suggestions["tile"].evidence
    text = _parses_back(suggestions, tmp_path)
    assert 'color = "rgb"' in text
    blocks = suggestions.to_union().fit_transform(frame)
    assert blocks.names == ("tile", "scan")


def _screen(n=400, levels=50, seed=0, **columns):
    """Rows of repeated measurements: several per compound, with categoricals."""
    rng = np.random.default_rng(seed)
    of = np.concatenate([np.arange(levels), rng.integers(0, levels, n - levels)])
    df = pd.DataFrame(
        {
            "compound_id": [f"C{i:03d}" for i in of],
            "grade": rng.choice(["G1", "G2", "G3"], n),
            "differentiation": rng.choice(
                [
                    "poorly differentiated",
                    "moderately differentiated",
                    "well differentiated",
                    "undifferentiated",
                ],
                n,
            ),
            "sex": rng.choice(["F", "M"], n),
            "family": rng.choice([f"PF{i:02d}" for i in range(12)], n),
            "age": rng.integers(30, 90, n),
            "active": rng.integers(0, 2, n),
        }
    )
    for name, values in columns.items():
        df[name] = values
    return df


def test_a_repeated_identifier_is_proposed_as_groups_never_a_feature(tmp_path):
    df = _screen()
    suggestions = suggest_modalities(df, target="active")
    assert suggestions.groups == "compound_id"
    column = suggestions["compound_id"]
    assert (column.kind, column.role, column.modality) == ("identifier", "groups", None)
    assert "50 codes over 400 rows" in column.evidence
    assert "no column is unique per row" in column.evidence
    # The genuine categoricals stay features.
    for name in ("grade", "differentiation", "sex", "family"):
        assert suggestions[name].kind == "categorical", name
        assert suggestions[name].modality == "clinical", name
    [clinical] = suggestions.modalities
    assert "compound_id" not in clinical.columns
    assert suggestions.to_config()["groups"] == "compound_id"
    _parses_back(suggestions, tmp_path)


def test_a_repeated_identifier_needs_no_id_like_name():
    df = _screen()
    df["lab_code"] = df.pop("compound_id").str.replace("C", "MRN-", regex=False)
    suggestions = suggest_modalities(df, target="active")
    assert suggestions.groups == "lab_code"
    assert (
        "one pattern of letters and digits ('MRN-" in suggestions["lab_code"].evidence
    )


def test_a_unique_identifier_stays_groups_and_a_repeated_one_is_an_alternative(
    tmp_path,
):
    n = 400
    df = _screen(n=n, sample_id=[f"S{i:04d}" for i in range(n)])
    suggestions = suggest_modalities(df, target="active")
    assert suggestions.groups == "sample_id"
    repeated = suggestions["compound_id"]
    assert (repeated.kind, repeated.role) == ("identifier", "unused")
    assert "give groups='compound_id'" in repeated.evidence
    assert "alternative groups: 'compound_id'" in suggestions["sample_id"].evidence
    text = render_config(suggestions)
    assert "alternative groups: 'compound_id'" in text
    assert 'groups = "sample_id"' in text
    assert all("compound_id" not in m.columns for m in suggestions.modalities)
    _parses_back(suggestions, tmp_path)
    # Given groups win over both.
    given = suggest_modalities(df, target="active", groups="compound_id")
    assert given.groups == "compound_id"
    assert given["sample_id"].role == "unused"


def test_repeated_integer_and_numeric_text_ids_need_an_id_like_name():
    rng = np.random.default_rng(1)
    codes = np.concatenate([np.arange(1000, 1040), rng.integers(1000, 1040, 360)])
    df = _screen(patient=codes, visit_hour=codes - 1000)
    suggestions = suggest_modalities(df, target="active")
    # 'compound_id' is also a repeated identifier: the first id-like name wins.
    assert suggestions["patient"].kind == "identifier"
    # Integers without the name are numbers (like age, 60 repeated levels).
    assert suggestions["visit_hour"].kind == "numeric"
    assert suggestions["age"].kind == "numeric"
    df = _screen(subject_no=[f"{c:05d}" for c in codes], batch=[str(c) for c in codes])
    df = df.drop(columns="compound_id")
    suggestions = suggest_modalities(df, target="active")
    assert suggestions.groups == "subject_no"
    assert suggestions["batch"].kind == "categorical"


@pytest.mark.parametrize(
    "values",
    [
        # A skewed code column (diagnosis codes): a few levels dominate.
        ["C50"] * 300 + [f"D{i:02d}" for i in range(25) for _ in range(4)],
        # Words without digits: categories, however many.
        [f"tissue{chr(97 + i % 26)}" for i in range(25) for _ in range(16)],
        # Too few levels for the rows (under 5%).
        [f"S{i:02d}" for i in range(15) for _ in range(27)][:400],
        # Most levels appear once.
        [f"P{i:03d}" for i in range(380)] + ["P000"] * 20,
    ],
    ids=["skewed", "words", "few-levels", "mostly-single"],
)
def test_code_like_categoricals_are_not_repeated_identifiers(values):
    df = _screen(code=values).drop(columns="compound_id")
    suggestions = suggest_modalities(df, target="active")
    assert suggestions["code"].kind == "categorical"
    assert suggestions.groups is None
