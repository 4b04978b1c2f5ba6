"""Instances of every public estimator, ready for scikit-learn's checks.

Which estimators are public comes from :mod:`polymodal.utils._registry`; this
module adds only what testing them needs: small, quick arguments
(``_TEST_PARAMS``) and the checks each is known not to pass, with the reason.
"""

import copy

from sklearn.preprocessing import StandardScaler

from ._registry import public_estimators

__all__ = ["all_estimators", "expected_failed_checks"]


def all_estimators():
    """Return one instance of every public polymodal estimator, ready to test.

    Unlike :func:`sklearn.utils.all_estimators`, which returns ``(name, class)``
    pairs, this returns instances: estimators that need arguments (a union
    needs its modalities) get small, valid ones, and slow defaults are
    replaced by quick settings. It is what ``tests/test_common.py`` passes to
    :func:`~sklearn.utils.estimator_checks.parametrize_with_checks`.

    The estimators are those of polymodal's one registry: every estimator
    class that a public package (``polymodal``, ``polymodal.fusion``,
    ``.image``, ``.text``, ``.sequence``, ``.molecule``, ``.deep``) names in
    its ``__all__``.

    Returns
    -------
    list of estimator instances

    Examples
    --------
    >>> from polymodal.utils import all_estimators
    >>> sorted(type(est).__name__ for est in all_estimators())
    ['AverageFusion', 'CNNEmbedder', 'ClinicalTextVectorizer', 'ConcatFusion',
     'DeepFusionClassifier', 'DeepFusionRegressor', 'FactorizationFusion',
     'ImageFeatures',
     'ImageLoader', 'ImagePreprocessor', 'KernelFusion', 'KmerVectorizer',
     'LateFusionClassifier', 'LateFusionRegressor', 'MLPClassifier',
     'MLPRegressor', 'MorganFingerprint', 'MultimodalUnion',
     'NystroemKernelFusion', 'OneHotSequenceEncoder', 'ProductFusion',
     'SentenceEmbedder',
     'StackingFusionClassifier', 'SubspaceFusion', 'TensorFusion']
    """
    return [
        cls(**copy.deepcopy(_TEST_PARAMS.get(cls.__name__, {})))
        for _, cls in public_estimators()
    ]


# lr=1e-2 reaches the checks' accuracy bar within 20 epochs.
_QUICK_NETWORK = {"lr": 1e-2, "max_epochs": 20, "random_state": 0}

#: Arguments that make each estimator quick and valid on the checks' small
#: tables, by class name; an estimator not named here is tested with its
#: defaults. Copied for every instance, so no two share a step.
_TEST_PARAMS = {
    "MultimodalUnion": {
        "transformers": [("x", StandardScaler(), slice(None))],
        "remainder": "passthrough",
    },
    "AverageFusion": {"n_components": 2},
    "ProductFusion": {"n_components": 2},
    "TensorFusion": {"n_components": 2},
    "SubspaceFusion": {"n_components": 2},
    "StackingFusionClassifier": {"cv": 3},
    # The checks' tables have 2 to 5 features: fewer factors than features.
    "FactorizationFusion": {"n_factors": 2, "random_state": 0},
    "KmerVectorizer": {"k": 2},
    "OneHotSequenceEncoder": {"max_length": 8},
    "SentenceEmbedder": {"device": "cpu"},
    "MorganFingerprint": {"n_bits": 64},
    "ImageLoader": {"size": 8},
    "ImagePreprocessor": {"size": 4},
    # HOG cells that fit the checks' 8 x 8 images.
    "ImageFeatures": {"pixels_per_cell": 4, "cells_per_block": 2},
    "MLPClassifier": {"hidden_layer_sizes": (8,), **_QUICK_NETWORK},
    "MLPRegressor": {"hidden_layer_sizes": (8,), **_QUICK_NETWORK},
    "DeepFusionClassifier": {"embedding_dim": 8, **_QUICK_NETWORK},
    "DeepFusionRegressor": {"embedding_dim": 8, **_QUICK_NETWORK},
    # The CPU keeps results identical on machines with a GPU.
    "CNNEmbedder": {"device": "cpu", "random_state": 0},
}


_UNION_RETURNS_BLOCKS = (
    "MultimodalUnion returns ModalityBlocks (one block per modality), not an "
    "array; polymodal's own checks in tests/test_common.py cover it on blocks"
)

_EXPECTED_FAILED_CHECKS = {
    "MultimodalUnion": dict.fromkeys(
        [
            "check_estimators_pickle",
            "check_estimators_pickle(readonly_memmap=True)",
            "check_pipeline_consistency",
            "check_transformer_data_not_an_array",
            "check_transformer_general",
            "check_transformer_general(readonly_memmap=True)",
            "check_methods_sample_order_invariance",
            "check_methods_subset_invariance",
            "check_fit_idempotent",
        ],
        _UNION_RETURNS_BLOCKS,
    ),
    "DeepFusionRegressor": {
        "check_methods_subset_invariance": (
            "the network computes in float32 and each encoder sees only a batch's "
            "present rows, so a row's prediction moves by ~1e-7 relative with its "
            "batch mates, above the check's float64 tolerance"
        ),
    },
    "SubspaceFusion": {
        "check_transformer_n_iter": (
            "max_iter bounds only the iterative two-modality CCA/PLS solver; the "
            "check's single plain array is embedded by an SVD (whitened PCA), which "
            "has no iterations to count"
        ),
    },
}


def expected_failed_checks(estimator):
    """Checks of scikit-learn that an estimator is known not to pass, and why.

    Parameters
    ----------
    estimator : estimator instance
        One of :func:`all_estimators`.

    Returns
    -------
    dict of str to str
        ``{check_name: reason}``; each reason says which assumption of the
        check does not hold for the estimator.

    Examples
    --------
    >>> from polymodal.fusion import ConcatFusion
    >>> from polymodal.utils import expected_failed_checks
    >>> expected_failed_checks(ConcatFusion())
    {}
    """
    return dict(_EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {}))
