import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from polymodal.fusion import LateFusionClassifier
from polymodal.utils.validation import check_target_present, describe_rows


def test_describe_rows_names_labels_of_positions():
    index = pd.Index(["p1", "p2", "p3", "p4", "p5", "p6", "p7"])
    assert describe_rows([1, 2], index=index) == "['p2', 'p3']"
    assert describe_rows(range(7), index=index).endswith("'p5'] ...")
    assert describe_rows(np.array([3]), index=pd.Index([10, 20, 30, 40])) == "[40]"


def test_missing_target_is_named_by_the_label_of_its_row():
    y = pd.Series([0, 1, None, 1], index=["a", "b", "c", "d"], dtype=object)
    with pytest.raises(ValueError, match=r"y is missing .* rows \['c'\] \(1 of 4\)"):
        check_target_present("fit", y)
    X = np.arange(8.0).reshape(4, 2)
    with pytest.raises(
        ValueError, match=r"LateFusionClassifier: y is missing.*\['c'\]"
    ):
        LateFusionClassifier(LogisticRegression()).fit(X, y)
