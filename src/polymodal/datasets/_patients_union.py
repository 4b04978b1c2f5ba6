"""The per-modality transformers that fit the built-in cohort's columns."""

from sklearn.compose import make_column_transformer
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ..image import ImageFeatures, ImageLoader, ImagePreprocessor
from ..sequence import OneHotSequenceEncoder
from ..text import ClinicalTextVectorizer
from ..union import MultimodalUnion
from ..utils._sklearn_compat import StrOptions, validate_params

__all__ = ["make_patients_union"]

#: DNA features are counts of overlapping k-mers of this length.
KMER_SIZE = 4
#: The CT slices are described by texture and intensity statistics.
CT_FEATURES = ("first_order", "glcm", "lbp")
#: One-hot DNA blocks cover the longest read of the cohort.
DNA_MAX_LENGTH = 200
#: CT volumes are resampled to isotropic voxels of this size in mm, as
#: radiomics studies do, so that shape and texture mean the same in every scan.
VOXEL_MM = 3.0
#: The CT lesions are described by radiomics inside their masks.
RADIOMICS_FEATURES = ("original_shape", "original_firstorder", "original_glcm")


def note_vectorizer(language):
    """TF-IDF of the notes: word 1-2 grams in English, character 1-3 grams in Chinese.

    Bigrams keep a negation with its finding ("no cough" is not "cough"); Chinese
    has no spaces between words, so character n-grams stand in for words.
    """
    if language == "en":
        return TfidfVectorizer(ngram_range=(1, 2), min_df=2)
    return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2)


@validate_params(
    {
        "language": [StrOptions({"en", "zh"})],
        "deep": ["boolean"],
        "volumes": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_patients_union(*, language="en", deep=False, volumes=False):
    """A :class:`~polymodal.MultimodalUnion` for the columns of :func:`make_patients`.

    Four modalities: ``ct`` (first-order intensity statistics, GLCM texture
    and LBP histograms of each slice, standardised; see
    :class:`~polymodal.image.ImageFeatures`), ``note`` (TF-IDF, see below), ``dna`` (4-mer counts) and
    ``clinical`` (age and pack-years standardised, sex one-hot encoded). The
    ``polymodal compare`` command uses it on the built-in cohort; it is also a
    starting point for a cohort with the same kind of columns.

    Parameters
    ----------
    language : {"en", "zh"}, default="en"
        Language of the notes: English notes get word 1-2 grams, Chinese notes
        character 1-3 grams.
    deep : bool, default=False
        Give the blocks that :class:`~polymodal.deep.DeepFusionClassifier`
        encodes itself: ``ct`` as z-scored ``(n, 1, H, W)`` images, ``dna`` as
        one-hot ``(n, 4, 200)`` blocks, and ``note`` through
        :class:`~polymodal.text.ClinicalTextVectorizer` (negation marked).
        With ``volumes=True``, ``ct`` is the ``(n, 2, D, H, W)`` block of each
        volume and its mask, for the network's 3-D encoder.
    volumes : bool, default=False
        Read the CT modality from the columns ``["ct", "lesion"]`` of
        ``make_patients(volumes=True, ...)``: each volume and its lesion mask
        through ``ImageLoader(volume=True, spacing=3.0)`` (isotropic 3 mm
        voxels), then the shape, first-order and GLCM radiomics of
        :class:`~polymodal.image.ImageFeatures` inside the mask (as
        pyradiomics computes them), standardised.

    Returns
    -------
    MultimodalUnion

    Examples
    --------
    >>> from polymodal.datasets import make_patients, make_patients_union
    >>> X, y = make_patients(n_samples=50, random_state=0)
    >>> blocks = make_patients_union().fit_transform(X, y)
    >>> blocks.names
    ('ct', 'note', 'dna', 'clinical')
    >>> blocks["ct"].shape
    (50, 28)
    >>> make_patients_union(deep=True).fit_transform(X, y)["dna"].shape
    (50, 4, 200)

    With CT volumes and their lesion masks written as files:

    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> folder = tmp.name
    >>> X, y = make_patients(20, volumes=True, as_files=folder, random_state=0)
    >>> make_patients_union(volumes=True).fit_transform(X, y)["ct"].shape
    (20, 56)
    """
    ct_columns = ["ct", "lesion"] if volumes else "ct"
    if volumes:
        loader = ImageLoader(volume=True, spacing=VOXEL_MM)
        radiomics = ImageFeatures(
            features=RADIOMICS_FEATURES, mask_channel=-1, spacing=(VOXEL_MM,) * 3
        )
        ct = loader if deep else make_pipeline(loader, radiomics, StandardScaler())
    elif deep:
        ct = make_pipeline(ImageLoader(), ImagePreprocessor(normalize="zscore"))
    else:
        ct = make_pipeline(
            ImageLoader(), ImageFeatures(features=CT_FEATURES), StandardScaler()
        )
    if deep:
        note = ClinicalTextVectorizer(language=language, min_df=2)
        dna = OneHotSequenceEncoder(max_length=DNA_MAX_LENGTH)
    else:
        note = note_vectorizer(language)
        dna = CountVectorizer(
            analyzer="char", ngram_range=(KMER_SIZE, KMER_SIZE), lowercase=False
        )
    return MultimodalUnion(
        [
            ("ct", ct, ct_columns),
            ("note", note, "note"),
            ("dna", dna, "dna"),
            (
                "clinical",
                make_column_transformer(
                    (StandardScaler(), ["age", "pack_years"]),
                    (OneHotEncoder(handle_unknown="ignore"), ["sex"]),
                    verbose_feature_names_out=False,
                ),
                ["age", "sex", "pack_years"],
            ),
        ]
    )
