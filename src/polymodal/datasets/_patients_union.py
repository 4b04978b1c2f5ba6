"""The per-modality transformers that fit the built-in cohort's columns."""

import numpy as np
from sklearn.compose import make_column_transformer
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

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
#: The CT volumes are described by statistics of the lesion inside its mask.
LESION_FEATURES = (
    "log_volume",
    "surface_fraction",
    "mean",
    "std",
    "p10",
    "median",
    "p90",
)


def lesion_statistics(block):
    """Size, margin and intensity statistics of the lesion in each volume.

    ``block`` is an (n, 2, D, H, W) block of :class:`~polymodal.image.ImageLoader`
    with the mask as the last channel. Per row: the log of the number of mask
    voxels, the fraction of them on the mask's surface (a voxel with a
    face-neighbour outside; higher for small or lobulated lesions), and the
    mean, standard deviation, 10th percentile, median and 90th percentile of
    the image inside the mask. The columns are :data:`LESION_FEATURES`.
    """
    from scipy.ndimage import binary_erosion

    features = np.empty((len(block), len(LESION_FEATURES)))
    for row, (image, mask) in enumerate(zip(block[:, 0], block[:, -1] > 0)):
        values = image[mask]
        interior = binary_erosion(mask, border_value=0).sum()
        features[row] = (
            np.log(mask.sum()),
            1.0 - interior / mask.sum(),
            values.mean(),
            values.std(),
            *np.percentile(values, [10, 50, 90]),
        )
    return features


def _lesion_feature_names(transformer, input_features):
    return np.asarray(LESION_FEATURES, dtype=object)


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
        Not available with ``volumes=True`` yet.
    volumes : bool, default=False
        Read the CT modality from the columns ``["ct", "lesion"]`` of
        ``make_patients(volumes=True, ...)``: each volume and its lesion mask
        through ``ImageLoader(volume=True)``, then :func:`lesion_statistics`
        (lesion size, margin and intensity inside the mask), standardised.

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
    (20, 7)
    """
    if deep and volumes:
        raise ValueError(
            "deep=True with volumes=True is not available: use volumes=True "
            "alone, whose CT block holds lesion statistics."
        )
    ct_columns = ["ct", "lesion"] if volumes else "ct"
    if deep:
        ct = make_pipeline(ImageLoader(), ImagePreprocessor(normalize="zscore"))
        note = ClinicalTextVectorizer(language=language, min_df=2)
        dna = OneHotSequenceEncoder(max_length=DNA_MAX_LENGTH)
    else:
        if volumes:
            ct = make_pipeline(
                ImageLoader(volume=True),
                FunctionTransformer(
                    lesion_statistics, feature_names_out=_lesion_feature_names
                ),
                StandardScaler(),
            )
        else:
            ct = make_pipeline(
                ImageLoader(), ImageFeatures(features=CT_FEATURES), StandardScaler()
            )
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
