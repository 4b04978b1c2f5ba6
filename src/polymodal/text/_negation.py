"""Tokenising clinical notes, with negation scopes marked.

A note is cut into clauses at punctuation (and, in English, at a contrasting
conjunction). In each clause the first negation cue opens a scope that runs to
the end of the clause; every token (or character n-gram) in the scope gets the
prefix :data:`NEGATION_PREFIX`, so that "no cough" and "cough" become
different features. The cue itself is kept as an ordinary token.
"""

import logging
import re
from functools import partial

__all__ = [
    "CHINESE_CLAUSE_BREAKS",
    "CHINESE_NEGATION_CUES",
    "ENGLISH_CLAUSE_BREAKS",
    "ENGLISH_CONJUNCTIONS",
    "ENGLISH_NEGATION_CUES",
    "NEGATION_PREFIX",
]

#: Prefix of a token inside a negation scope.
NEGATION_PREFIX = "NEG_"

#: English cues that open a negation scope, matched as whole words,
#: case-insensitively. All are read forwards: "pneumonia was ruled out"
#: (a cue after its target) is not marked.
ENGLISH_NEGATION_CUES = (
    "no",
    "not",
    "denies",
    "denied",
    "without",
    "negative for",
    "absence of",
    "free of",
    "ruled out",
)
#: Punctuation that ends an English clause, and so a negation scope.
ENGLISH_CLAUSE_BREAKS = ".,;:!?\n"
#: Conjunctions that end an English clause: "no fever but cough" negates fever only.
ENGLISH_CONJUNCTIONS = ("but", "however", "although", "though", "except")

#: Chinese cues that open a negation scope, matched anywhere in the text
#: (Chinese has no spaces between words), longest first where two start at
#: the same character.
CHINESE_NEGATION_CUES = ("无", "未", "否认", "未见", "不伴", "没有", "非")
#: Punctuation, full-width and ASCII, that ends a Chinese clause.
CHINESE_CLAUSE_BREAKS = "，。；、,.;：:！？!?\n"

# The same word-token rule as scikit-learn's CountVectorizer: two or more word
# characters.
_WORD = re.compile(r"(?u)\b\w\w+\b")
_WORD_CHARACTER = re.compile(r"(?u)\w")
_ENGLISH_CLAUSE = re.compile(
    rf"[{re.escape(ENGLISH_CLAUSE_BREAKS)}]"
    rf"|\b(?:{'|'.join(ENGLISH_CONJUNCTIONS)})\b",
    re.IGNORECASE,
)
_ENGLISH_CUE = re.compile(
    r"\b(?:"
    + "|".join(
        sorted((cue.replace(" ", r"\s+") for cue in ENGLISH_NEGATION_CUES), key=len)[
            ::-1
        ]
    )
    + r")\b",
    re.IGNORECASE,
)
_CHINESE_CLAUSE = re.compile(rf"[{re.escape(CHINESE_CLAUSE_BREAKS)}]")
_CHINESE_CUE = re.compile(
    "|".join(sorted(CHINESE_NEGATION_CUES, key=len, reverse=True))
)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

JIEBA_MISSING = (
    "Segmenting Chinese notes into words needs jieba; without it "
    'ClinicalTextVectorizer uses character 1-2-grams. pip install "polymodal[text]"'
)


def cjk_share(texts):
    """Share of CJK characters among the letters of ``texts`` (0 without letters)."""
    letters = cjk = 0
    for text in texts:
        letters += sum(map(str.isalpha, text))
        cjk += len(_CJK.findall(text))
    return cjk / letters if letters else 0.0


def load_jieba():
    """Import jieba quietly; an ImportError naming the extra when it is absent."""
    try:
        import jieba
    except ImportError as exc:
        raise ImportError(JIEBA_MISSING) from exc
    # jieba logs the building of its dictionary to stderr on first use.
    jieba.setLogLevel(logging.WARNING)
    return jieba


def spans(text, language, negation):
    """Cut ``text`` into ``(span, negated)`` pieces, in order.

    Each clause gives the text up to and including its first negation cue,
    then the rest of the clause, which is the negated scope. Without
    ``negation`` the whole text is one plain span.
    """
    if not negation:
        return [(text, False)]
    clause_break, cue = (
        (_ENGLISH_CLAUSE, _ENGLISH_CUE)
        if language == "en"
        else (_CHINESE_CLAUSE, _CHINESE_CUE)
    )
    pieces = []
    start = 0
    for end in [match.start() for match in clause_break.finditer(text)] + [len(text)]:
        clause = text[start:end]
        found = cue.search(clause)
        if found is None:
            pieces.append((clause, False))
        else:
            pieces.append((clause[: found.end()], False))
            pieces.append((clause[found.end() :], True))
        start = end
    return pieces


def analyze(text, *, language, analyzer, ngram_range, negation, lowercase):
    """The features of one note: word or character n-grams, scopes marked.

    Word n-grams run across the whole note, as in scikit-learn; character
    n-grams stay inside one span (see :func:`spans`), so none mixes negated
    and plain text.
    """
    if lowercase:
        text = text.lower()
    low, high = ngram_range
    features = []
    if analyzer == "word":
        if language == "en":
            segment = _WORD.findall
        else:
            segment = partial(_chinese_words, load_jieba())
        tokens = []
        for span, negated in spans(text, language, negation):
            prefix = NEGATION_PREFIX if negated else ""
            tokens.extend(prefix + token for token in segment(span))
        for n in range(low, high + 1):
            features.extend(
                " ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)
            )
        return features
    for span, negated in spans(text, language, negation):
        prefix = NEGATION_PREFIX if negated else ""
        span = " ".join(span.split())
        for n in range(low, high + 1):
            features.extend(prefix + span[i : i + n] for i in range(len(span) - n + 1))
    return features


def _chinese_words(jieba, span):
    # jieba also cuts out the Latin words and numbers of a Chinese note; its
    # punctuation and blanks are not words.
    return [word for word in jieba.lcut(span) if _WORD_CHARACTER.search(word)]
