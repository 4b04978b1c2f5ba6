"""TF-IDF of clinical notes in English or Chinese, with negation marked."""

import warnings
from functools import partial
from numbers import Integral, Real

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from ..exceptions import PolymodalWarning
from ..utils._columns import OneStringColumnMixin, string_cells
from ..utils._sklearn_compat import Interval, StrOptions
from ..utils._transformers import ModalityTransformer
from ._negation import JIEBA_MISSING, analyze, cjk_share, load_jieba

__all__ = ["ClinicalTextVectorizer"]

# language="auto" reads a corpus as Chinese above this share of CJK characters
# among its letters.
CJK_THRESHOLD = 0.3
# Character n-grams that stand in for words when jieba is absent: most Chinese
# clinical words are one or two characters long.
_FALLBACK_NGRAM_RANGE = (1, 2)


class ClinicalTextVectorizer(
    OneStringColumnMixin, ModalityTransformer, auto_wrap_output_keys=None
):
    """TF-IDF features of clinical notes, with negated findings marked.

    Notes are tokenised (English words, Chinese words segmented with jieba,
    or characters), tokens inside a negation scope get the prefix ``NEG_``,
    and the n-grams are weighted by a
    :class:`~sklearn.feature_extraction.text.TfidfVectorizer`. "No cough"
    thus gives the feature ``NEG_cough`` and "cough" the feature ``cough``.
    The output is a CSR matrix of float64 TF-IDF weights, one column per
    learned term.

    Parameters
    ----------
    language : {"auto", "en", "zh"}, default="auto"
        Language of the notes. ``"auto"`` chooses, for the whole training
        corpus, ``"zh"`` when more than 30% of its letters are CJK characters
        and ``"en"`` otherwise.
    analyzer : {"word", "char"}, default="word"
        Word n-grams (Chinese words segmented with jieba) or character
        n-grams. Word n-grams run across the note; with ``negation=True``
        character n-grams stay inside one clause and do not cross the border
        of a negation scope.
    ngram_range : tuple of (int, int), default=(1, 1)
        Smallest and largest n of the n-grams.
    negation : bool, default=True
        Mark negation scopes; False gives plain TF-IDF.
    min_df : float in [0, 1] or int, default=1
        Ignore terms in fewer documents (a share for a float), as in
        :class:`~sklearn.feature_extraction.text.TfidfVectorizer`.
    max_df : float in [0, 1] or int, default=1.0
        Ignore terms in more documents (a share for a float).
    max_features : int or None, default=None
        Keep only the terms most frequent in the training corpus.
    sublinear_tf : bool, default=False
        Use ``1 + log(tf)`` in place of the term frequency.
    lowercase : bool, default=True
        Lowercase the notes first. Negation cues match regardless of case.

    Attributes
    ----------
    language_ : {"en", "zh"}
        Language used for the training corpus and every later transform.
    analyzer_ : {"word", "char"}
        The analyzer used: ``"char"`` where ``analyzer="word"`` met Chinese
        notes and jieba was not installed.
    ngram_range_ : tuple of (int, int)
        The n-grams used: ``(1, 2)`` in that fallback, else ``ngram_range``.
    vectorizer_ : TfidfVectorizer
        The fitted weighting, with its vocabulary and idf.
    n_features_in_ : int
        Always 1: the input is one column of notes.

    See Also
    --------
    sklearn.feature_extraction.text.TfidfVectorizer : The weighting used.

    Notes
    -----
    The input is one column of strings: a pandas Series, a list, a 1-D
    object array, or a one-column DataFrame or 2-D array. A cell that is not
    a string (``None``, a number) and an empty or blank note are ValueErrors
    naming the row: :class:`polymodal.MultimodalUnion` treats all of them as
    an absent note and passes only the present rows, so they reach this
    transformer only when it is called directly. Rows are named by their
    index label for pandas input and by position otherwise.

    **Negation.** A note is cut into clauses: in English at ``. , ; : ! ?``,
    a line break, or the conjunctions ``but``, ``however``, ``although``,
    ``though``, ``except``; in Chinese at ``，。；、,.;：:！？!?`` or a line
    break. In each clause the first cue opens a scope that runs to the end of
    the clause, and every token in it gets the prefix ``NEG_``; the cue stays
    an ordinary token. Only the cues of ``language_`` apply. English cues
    (whole words, any case): ``no``, ``not``, ``denies``, ``denied``,
    ``without``, ``negative for``, ``absence of``, ``free of``,
    ``ruled out``. Chinese cues (anywhere in the text): 无, 未, 否认, 未见, 不伴,
    没有, 非. The lists are the module constants
    ``ENGLISH_NEGATION_CUES`` and ``CHINESE_NEGATION_CUES`` of
    ``polymodal.text._negation``. Cues are read forwards only: a cue after
    its target ("pneumonia was ruled out") marks nothing.

    **Tokens.** English words are runs of two or more word characters, as in
    scikit-learn. Chinese text is cut at each cue before jieba segments it,
    so a cue never fuses with the word it negates (jieba alone reads 无咽痛
    as 无咽 + 痛). Without jieba, ``analyzer="word"`` on Chinese notes uses
    character 1-2-grams and warns with a
    :class:`~polymodal.exceptions.PolymodalWarning`.

    Examples
    --------
    >>> from polymodal.text import ClinicalTextVectorizer
    >>> notes = ["No cough, mild fever.", "Cough and weight loss."]
    >>> vectorizer = ClinicalTextVectorizer(ngram_range=(1, 2))
    >>> tfidf = vectorizer.fit_transform(notes)
    >>> tfidf.shape
    (2, 14)
    >>> vectorizer.get_feature_names_out()[:6]
    array(['NEG_cough', 'NEG_cough mild', 'and', 'and weight', 'cough',
           'cough and'], dtype=object)
    >>> ClinicalTextVectorizer().fit(["患者无咳嗽，发热。"]).get_feature_names_out()
    array(['NEG_咳嗽', '发热', '患者', '无'], dtype=object)
    """

    _parameter_constraints = {
        "language": [StrOptions({"auto", "en", "zh"})],
        "analyzer": [StrOptions({"word", "char"})],
        "ngram_range": [tuple],
        "negation": ["boolean"],
        "min_df": [
            Interval(Real, 0, 1, closed="both"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "max_df": [
            Interval(Real, 0, 1, closed="both"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "sublinear_tf": ["boolean"],
        "lowercase": ["boolean"],
    }

    def __init__(
        self,
        *,
        language="auto",
        analyzer="word",
        ngram_range=(1, 1),
        negation=True,
        min_df=1,
        max_df=1.0,
        max_features=None,
        sublinear_tf=False,
        lowercase=True,
    ):
        self.language = language
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.negation = negation
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.lowercase = lowercase

    def get_feature_names_out(self, input_features=None):
        """Name the output columns by their term, e.g. ``"NEG_cough"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored; the names are the learned vocabulary.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The terms in the order of the output columns: word n-grams are
            tokens joined by a space (``"weight loss"``).
        """
        check_is_fitted(self)
        return self.vectorizer_.get_feature_names_out().astype(object)

    def _fit(self, X):
        """Learn the language, vocabulary and idf; return the TF-IDF of ``X``."""
        low, high = self.ngram_range
        if not (
            isinstance(low, Integral)
            and isinstance(high, Integral)
            and 1 <= low <= high
        ):
            raise ValueError(
                "ngram_range must be a pair of integers (min_n, max_n) with "
                f"1 <= min_n <= max_n; got {self.ngram_range!r}."
            )
        notes = _notes(X)
        self._check_n_samples(len(notes))
        language = self.language
        if language == "auto":
            language = "zh" if cjk_share(notes) > CJK_THRESHOLD else "en"
        analyzer, ngram_range = self.analyzer, (low, high)
        if language == "zh" and analyzer == "word":
            try:
                load_jieba()
            except ImportError:
                warnings.warn(JIEBA_MISSING, PolymodalWarning, stacklevel=3)
                analyzer, ngram_range = "char", _FALLBACK_NGRAM_RANGE
        self.language_, self.analyzer_, self.ngram_range_ = (
            language,
            analyzer,
            ngram_range,
        )
        self.n_features_in_ = 1
        self.vectorizer_ = TfidfVectorizer(
            analyzer=partial(
                analyze,
                language=language,
                analyzer=analyzer,
                ngram_range=ngram_range,
                negation=self.negation,
                lowercase=self.lowercase,
            ),
            min_df=self.min_df,
            max_df=self.max_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            dtype=np.float64,
        )
        try:
            return self.vectorizer_.fit_transform(notes)
        except ValueError as exc:
            if "vocabulary" not in str(exc) and "no terms remain" not in str(exc):
                raise
            raise ValueError(
                f"ClinicalTextVectorizer learned no term from the {len(notes)} "
                f"notes ({exc}): they hold no token the analyzer keeps (only "
                "punctuation, for example), or min_df/max_df/max_features removed "
                "every term. Check the note column, or try analyzer='char'."
            ) from exc

    def _read(self, X):
        """The TF-IDF of each note over the fitted vocabulary."""
        return self.vectorizer_.transform(_notes(X))


def _notes(X):
    """The notes of a one-column input; a non-string or blank note names its row."""
    _, cells = string_cells(
        X, "ClinicalTextVectorizer", "notes", "note string", reject_blank=True
    )
    return cells
