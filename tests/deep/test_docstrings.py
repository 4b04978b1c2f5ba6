"""The deep estimators' docstrings, completed from shared text by fill_doc."""

import inspect
import re

import pytest

from polymodal.deep import (
    DeepFusionClassifier,
    DeepFusionRegressor,
    MLPClassifier,
    MLPRegressor,
)
from polymodal.deep._base import fill_doc

docscrape = pytest.importorskip("numpydoc.docscrape")

ESTIMATORS = [MLPClassifier, MLPRegressor, DeepFusionClassifier, DeepFusionRegressor]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_every_parameter_is_documented_with_its_default(estimator):
    documented = docscrape.ClassDoc(estimator)["Parameters"]
    signature = inspect.signature(estimator).parameters
    assert [entry.name for entry in documented] == list(signature)
    for entry in documented:
        default = signature[entry.name].default
        if isinstance(default, (int, tuple)) and not isinstance(default, bool):
            assert entry.type.endswith(f"default={default!r}"), entry.name
    assert not re.search(r"^\s*\{\w+\}\s*$", estimator.__doc__, flags=re.MULTILINE)


def test_a_marker_without_text_is_an_error():
    with pytest.raises(ValueError, match=r"marks \['notes', 'training_parameters'\]"):

        @fill_doc(seeds="the weights")
        class Net:
            """A net.

            Parameters
            ----------
            {training_parameters}

            Notes
            -----
            {notes}
            """

            def __init__(self, max_epochs=1, batch_size=2):
                pass
