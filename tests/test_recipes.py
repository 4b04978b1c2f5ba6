from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import StandardScaler

from polymodal import MultimodalUnion
from polymodal._recipes import ConfigError, read_config
from polymodal.image import ImageFeatures, ImageLoader
from polymodal.molecule import MorganFingerprint
from polymodal.sequence import KmerVectorizer
from polymodal.text import ClinicalTextVectorizer, SentenceEmbedder

EXAMPLE = Path(__file__).parents[1] / "examples" / "polymodal.toml"
BUILTIN_COLUMNS = ["patient_id", "ct", "note", "dna", "age", "sex", "pack_years"]


def write(tmp_path, text):
    path = tmp_path / "polymodal.toml"
    path.write_text(text)
    return path


def test_the_example_describes_the_builtin_cohort():
    config = read_config(EXAMPLE)
    assert (config.target, config.groups) == ("diagnosis", "patient_id")
    assert [m.name for m in config.modalities] == ["ct", "note", "dna", "clinical"]
    assert [m.recipe for m in config.modalities] == ["image", "text", "kmer", "tabular"]
    union = config.make_union([*BUILTIN_COLUMNS, "diagnosis"], target="diagnosis")
    assert isinstance(union, MultimodalUnion)
    ct, note, dna, clinical = (trans for _, trans, _ in union.transformers)
    loader, features, scaler = (step for _, step in ct.steps)
    assert isinstance(loader, ImageLoader) and loader.on_error == "missing"
    assert isinstance(features, ImageFeatures)
    assert features.features == ("first_order", "glcm", "lbp")
    assert isinstance(scaler, StandardScaler)
    assert isinstance(note, ClinicalTextVectorizer)
    # TOML has arrays only; parameters such as ngram_range take tuples.
    assert note.ngram_range == (1, 2) and note.min_df == 2
    assert isinstance(dna, KmerVectorizer) and dna.k == 4
    assert isinstance(clinical, ColumnTransformer)
    assert [columns for _, _, columns in union.transformers] == [
        "ct",
        "note",
        "dna",
        ["age", "sex", "pack_years"],
    ]


def test_every_recipe_builds_its_transformer(tmp_path):
    path = write(
        tmp_path,
        """
        target = "activity"
        [modalities.scan]
        columns = "scan_path"
        transformer = "image"
        loader = { dicom_window = "lung", size = [64, 64], on_error = "missing" }
        params = { features = "hog", pixels_per_cell = [16, 16] }

        [modalities.summary]
        columns = ["summary"]
        transformer = "sentence"
        params = { batch_size = 8 }

        [modalities.protein]
        columns = "sequence"
        transformer = "kmer"
        params = { k = 2, alphabet = "protein" }

        [modalities.drug]
        columns = "smiles"
        transformer = "molecule"
        params = { n_bits = 1024, on_error = "missing" }
        """,
    )
    config = read_config(path)
    union = config.make_union(
        ["scan_path", "summary", "sequence", "smiles", "activity"], target="activity"
    )
    scan, summary, protein, drug = (trans for _, trans, _ in union.transformers)
    loader, features, _ = (step for _, step in scan.steps)
    assert (loader.dicom_window, loader.size) == ("lung", (64, 64))
    assert (features.features, features.pixels_per_cell) == ("hog", (16, 16))
    assert isinstance(summary, SentenceEmbedder) and summary.batch_size == 8
    assert (protein.k, protein.alphabet) == (2, "protein")
    assert isinstance(drug, MorganFingerprint) and drug.n_bits == 1024
    # A one-column recipe gets its column as a str, so it receives a 1-D column.
    assert [columns for _, _, columns in union.transformers][:2] == [
        "scan_path",
        "summary",
    ]


def test_tabular_scales_numbers_and_encodes_the_other_columns(tmp_path):
    path = write(
        tmp_path,
        """
        [modalities.clinical]
        columns = ["age", "sex"]
        transformer = "tabular"

        [modalities.only_age]
        columns = "age"
        transformer = "tabular"
        """,
    )
    config = read_config(path)
    assert config.target is None and config.groups is None
    # An object column keeps None under pandas 2 (pandas 3 reads it as NaN).
    sex = pd.Series(["F", "M", None, "F"], dtype=object)
    X = pd.DataFrame({"age": [40.0, np.nan, 60.0, 80.0], "sex": sex})
    blocks = config.make_union(X.columns, target="y").fit_transform(X)
    clinical = np.asarray(blocks["clinical"])
    assert clinical.shape == (4, 3)
    # The missing age is imputed with the median, then everything is scaled.
    assert clinical[1, 0] == pytest.approx(0.0)
    # The missing sex gets the most frequent category, F.
    np.testing.assert_array_equal(clinical[:, 1:], [[1, 0], [0, 1], [1, 0], [1, 0]])
    assert blocks.masks["clinical"].all()
    # A single column of the tabular recipe still reaches it as a table.
    assert np.asarray(blocks["only_age"]).shape == (4, 1)
    assert list(blocks.masks["only_age"]) == [True, False, True, True]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            '[modalities.ct]\ncolumns = "ct"\ntransformer = "radiomics"',
            r"\[modalities\.ct\] transformer: unknown recipe 'radiomics'; the "
            r"recipes are image, text, sentence, kmer, molecule, tabular\.",
        ),
        (
            '[modalities.ct]\ncolumns = "ct"\ntransformer = "image"\nwindow = "lung"',
            r"\[modalities\.ct\] window: unknown key; the keys are columns, "
            r"transformer, params, loader\.",
        ),
        (
            'target = "y"\nlabel = "y"\n[modalities.ct]\ncolumns = "ct"\n'
            'transformer = "image"',
            r"label: unknown key; the top-level keys are target, groups, modalities",
        ),
        (
            '[modalities.note]\ncolumns = "note"\ntransformer = "text"\n'
            "params = { langauge = 'en' }",
            r"\[modalities\.note\] params\.langauge: ClinicalTextVectorizer has no "
            r"parameter 'langauge'; did you mean 'language'\? The parameters are "
            r"analyzer, language,",
        ),
        (
            '[modalities.ct]\ncolumns = "ct"\ntransformer = "image"\n'
            "loader = { window = 'lung' }",
            r"\[modalities\.ct\] loader\.window: ImageLoader has no parameter",
        ),
        (
            '[modalities.note]\ncolumns = "note"\ntransformer = "text"\n'
            "loader = { size = 64 }",
            r"\[modalities\.note\] loader: the text recipe takes no loader",
        ),
        (
            '[modalities.clinical]\ncolumns = ["age"]\ntransformer = "tabular"\n'
            "params = { strategy = 'mean' }",
            r"\[modalities\.clinical\] params\.strategy: the tabular recipe has no "
            r"parameter 'strategy'; the parameters are impute, scale\.",
        ),
        (
            '[modalities.note]\ncolumns = ["note", "summary"]\ntransformer = "text"',
            r"\[modalities\.note\] columns: the text recipe reads one column; got 2",
        ),
        (
            "[modalities.note]\ncolumns = 3\ntransformer = 'text'",
            r"\[modalities\.note\] columns: expected a column name, a table such as",
        ),
        (
            "[modalities.note]\ncolumns = 'note'",
            r"\[modalities\.note\] transformer: missing",
        ),
        (
            "[modalities.note]\ncolumns = 'note'\ntransformer = 'text'\nparams = 2",
            r"\[modalities\.note\] params: expected a table of parameters",
        ),
        ("target = 'y'", r"modalities: add at least one \[modalities\.<name>\]"),
        ("target = ['y']", r"target: expected a column name"),
        ("target = ", r"is not valid TOML"),
    ],
)
def test_a_bad_config_is_one_line_naming_the_modality_and_key(tmp_path, text, match):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=match) as error:
        read_config(path)
    message = str(error.value)
    assert message.startswith(str(path))
    assert "\n" not in message


def test_a_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the config file .*absent"):
        read_config(tmp_path / "absent.toml")


def test_a_column_missing_from_the_data_is_named(tmp_path):
    config = read_config(EXAMPLE)
    columns = [column for column in BUILTIN_COLUMNS if column != "pack_years"]
    with pytest.raises(
        ConfigError,
        match=r"\[modalities\.clinical\] columns: 'pack_years' is not a column of "
        r"cohort\.csv; the columns are patient_id, ct, note,",
    ):
        config.make_union(columns, target="diagnosis", data="cohort.csv")


def test_a_modality_may_not_read_the_target():
    config = read_config(EXAMPLE)
    with pytest.raises(
        ConfigError, match=r"\[modalities\.clinical\] columns: 'sex' is the target"
    ):
        config.make_union(BUILTIN_COLUMNS, target="sex")


def test_a_tabular_model_loads_from_a_polymodal_file_without_trust(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from polymodal import io
    from polymodal.fusion import ConcatFusion

    path = write(
        tmp_path,
        """
        [modalities.clinical]
        columns = ["age", "sex"]
        transformer = "tabular"
        """,
    )
    sex = pd.Series(["F", "M", None, "F", "M", "F"], dtype=object)
    X = pd.DataFrame({"age": [40.0, np.nan, 60.0, 80.0, 50.0, 45.0], "sex": sex})
    y = [0, 1, 0, 1, 1, 0]
    union = read_config(path).make_union(X.columns, target="y")
    model = make_pipeline(union, ConcatFusion(), LogisticRegression()).fit(X, y)
    loaded = io.load(io.save(model, tmp_path / "model.polymodal"))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


# -- column patterns, the remaining columns, tabular params ----------------------

PANEL = pd.DataFrame(
    {
        "patient_id": ["p1", "p2", "p3"],
        "gene_a": [1.0, 2.0, 3.0],
        "gene_b": [0.5, 0.1, 0.2],
        "lab_1": [7.0, 8.0, 9.0],
        "lab_12": [1.0, 1.0, 2.0],
        "labx": [0.0, 1.0, 0.0],
        "age": [50, 60, 70],
        "sex": ["F", "M", "F"],
        "note": ["a", "b", "c"],
        "y": [0, 1, 0],
    }
)


def union_columns(tmp_path, text, **kwargs):
    config = read_config(write(tmp_path, text))
    union = config.make_union(
        list(PANEL.columns), target="y", dtypes=PANEL.dtypes, **kwargs
    )
    return [(name, columns) for name, _, columns in union.transformers]


def test_patterns_regexes_and_the_remaining_columns(tmp_path):
    text = """
        [modalities.genes]
        columns = { pattern = "gene_*" }
        transformer = "tabular"
        [modalities.labs]
        columns = [{ regex = 'lab_\\d+' }, "labx"]
        transformer = "tabular"
        [modalities.note]
        columns = { pattern = "no*" }
        transformer = "text"
        [modalities.numbers]
        columns = { remaining = "numeric" }
        transformer = "tabular"
        [modalities.categories]
        columns = { remaining = "categorical" }
        transformer = "tabular"
    """
    assert union_columns(tmp_path, text, groups="patient_id") == [
        ("genes", ["gene_a", "gene_b"]),
        ("labs", ["lab_1", "lab_12", "labx"]),
        # A one-column recipe gets its column as a name.
        ("note", "note"),
        ("numbers", ["age"]),
        # Neither the target nor the groups column is "remaining".
        ("categories", ["sex"]),
    ]


def test_remaining_any_takes_every_column_left(tmp_path):
    text = """
        [modalities.genes]
        columns = { pattern = "gene_?" }
        transformer = "tabular"
        [modalities.rest]
        columns = { remaining = "any" }
        transformer = "tabular"
        params = { impute = "mean", scale = false }
    """
    columns = union_columns(tmp_path, text)
    assert columns[1] == (
        "rest",
        # Not patient_id, which names the rows.
        ["lab_1", "lab_12", "labx", "age", "sex", "note"],
    )


def test_tabular_params(tmp_path):
    path = write(
        tmp_path,
        '[modalities.m]\ncolumns = ["age", "bmi"]\ntransformer = "tabular"\n'
        'params = { impute = "mean", scale = false }\n',
    )
    union = read_config(path).make_union(["age", "bmi", "y"], target="y")
    X = pd.DataFrame({"age": [40.0, np.nan, 80.0], "bmi": [20.0, 21.0, 22.0]})
    np.testing.assert_allclose(
        np.asarray(union.fit_transform(X)["m"]), [[40, 20], [60, 21], [80, 22]]
    )


@pytest.mark.parametrize(
    ("columns", "recipe", "match"),
    [
        (
            '{ pattern = "gen_*" }',
            "tabular",
            r"\[modalities\.m\] columns\.pattern: 'gen_\*' matches none of the 10 "
            r"columns of the data",
        ),
        (
            '{ regex = "lab" }',
            "tabular",
            r"columns\.regex: 'lab' matches none of the 10 columns",
        ),
        (
            '{ pattern = "gene_*" }',
            "text",
            r"columns: the text recipe reads one column; the selectors give 2",
        ),
        (
            "'gene-a'",
            "tabular",
            r"'gene-a' is not a column of the data; did you "
            r"mean 'gene_a' or 'gene_b'\? The columns are patient_id,",
        ),
        ('{ glob = "gene_*" }', "tabular", r"unknown selector 'glob'; the selectors"),
        (
            '{ remaining = "numerical" }',
            "tabular",
            r"columns\.remaining: unknown kind 'numerical'; did you mean 'numeric' or",
        ),
        ('{ regex = "(" }', "tabular", r"columns\.regex: '\(' is not a regular"),
        ('{ pattern = "a", regex = "b" }', "tabular", r"a selector table has one key"),
        (
            "{ remaining = 'numeric' }",
            "tabular",
            r"no numeric column of the data is "
            r"left",
        ),
    ],
)
def test_bad_column_selectors(tmp_path, columns, recipe, match):
    text = f"[modalities.m]\ncolumns = {columns}\ntransformer = '{recipe}'\n"
    if "remaining = 'numeric'" in columns:
        text += (
            "[modalities.all]\ncolumns = { pattern = '*' }\ntransformer = 'tabular'\n"
        )
    with pytest.raises(ConfigError, match=match) as error:
        union_columns(tmp_path, text)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            '[modalities.m]\ncolumns = "age"\ntransformer = "tabluar"',
            r"unknown recipe 'tabluar'; did you mean 'tabular'\? The recipes are",
        ),
        (
            '[modalities.m]\ncolums = "age"\ntransformer = "tabular"',
            r"\[modalities\.m\] colums: unknown key; did you mean 'columns'\?",
        ),
        ('traget = "y"', r"traget: unknown key; did you mean 'target'\?"),
        (
            '[modalities.m]\ncolumns = "age"\ntransformer = "tabular"\n'
            'params = { imputer = "mean" }',
            r"params\.imputer: the tabular recipe has no parameter 'imputer'; did "
            r"you mean 'impute'\?",
        ),
        (
            '[modalities.m]\ncolumns = "age"\ntransformer = "tabular"\n'
            'params = { impute = "median_" }',
            r"params\.impute: unknown imputation 'median_'; did you mean 'median'",
        ),
        (
            '[modalities.m]\ncolumns = "age"\ntransformer = "tabular"\n'
            'params = { scale = "yes" }',
            r"params\.scale: expected true or false; got 'yes'",
        ),
    ],
)
def test_unknown_names_get_did_you_mean(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        read_config(write(tmp_path, text))
