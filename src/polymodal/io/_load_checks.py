"""Checks that a loaded model's trees index only their own arrays.

scikit-learn's decision trees (``sklearn.tree._tree.Tree``, the node storage
of every tree, forest and gradient-boosting model), HistGradientBoosting's
``TreePredictor`` and xgboost's boosters store their nodes as arrays of
indices: a node's children and the feature it splits on. Their compiled
prediction code follows those indices without bounds checks, so a file that
sets them out of range can make ``predict`` read or write outside the arrays
(a crash, or worse), although loading it ran no code from the file.

That is the one reason why skops leaves ``Tree`` and ``TreePredictor`` out of
its default trusted types (``skops.io.exceptions.UNTRUSTED_TYPE_REASONS``):
its loader for ``Tree`` (``TreeNode``) names the class itself, never the
file, and rebuilds it from its constructor arguments (numbers) and its state
(arrays) through ``Tree.__setstate__``, which checks the arrays' dtype and
shape but not the indices in them; a ``TreePredictor`` is a plain object
given its arrays. :func:`check_loaded` removes the reason: before
:func:`polymodal.io.load` returns a model, every index of every such tree is
checked against the arrays it reaches into and against the width of the
rows that the estimator feeding the tree lets through, and a file that fails
is refused. :func:`check_xgboost_model` does the same for an xgboost model in
xgboost's JSON format, before xgboost reads it.

Trees with categorical splits (HistGradientBoosting's or xgboost's) index
bitsets of categories as well; they are not checked here, so such a file
needs the caller's explicit trust.
"""

import functools

import numpy as np

from ..utils._registry import class_path

__all__ = ["UncheckedModelError", "check_loaded", "check_xgboost_model"]

# sklearn.tree._tree.TREE_LEAF: the child index of a leaf.
_TREE_LEAF = -1
# xgboost's parent index of a root node, as its JSON writes it (-1 as int32,
# or the largest int32).
_XGBOOST_NO_PARENT = (-1, 2147483647)
_TREE = "sklearn.tree._tree.Tree"
_PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
#: The arrays of a HistGradientBoosting predictor's nodes that prediction reads.
_PREDICTOR_FIELDS = ("feature_idx", "left", "right", "is_leaf", "is_categorical")


class UncheckedModelError(ValueError):
    """A tree of a model file fails a check, or holds what is not checked.

    Attributes
    ----------
    reason : str
        What is wrong, in one sentence.
    """

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def check_loaded(root):
    """Check every tree that ``root`` holds, at any depth.

    Parameters
    ----------
    root : object
        What skops loaded, before anything uses it.

    Raises
    ------
    UncheckedModelError
        When a tree reaches outside its arrays, or the rows that reach it.

    Examples
    --------
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from polymodal.io._load_checks import check_loaded
    >>> model = DecisionTreeClassifier().fit([[0.0], [1.0]], [0, 1])
    >>> check_loaded(model)
    >>> model.tree_.__setstate__(
    ...     dict(model.tree_.__getstate__(), node_count=9)
    ... )
    >>> check_loaded(model)
    Traceback (most recent call last):
    ...
    polymodal.io._load_checks.UncheckedModelError: a decision tree holds 9 nodes ...
    """
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )
    from sklearn.tree import BaseDecisionTree

    seen = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        # ``root`` keeps every object alive, so an id names one object.
        if id(obj) in seen or _is_atom(obj):
            continue
        seen.add(id(obj))
        name = class_path(type(obj))
        if name == _TREE:
            _check_tree(obj)
            continue
        if name == _PREDICTOR:
            _check_predictor(obj, n_features=None)
            continue
        if isinstance(obj, BaseDecisionTree):
            _check_decision_tree(obj)
        if isinstance(obj, GradientBoostingClassifier | GradientBoostingRegressor):
            _check_gradient_boosting(obj)
        if isinstance(
            obj, HistGradientBoostingClassifier | HistGradientBoostingRegressor
        ):
            _check_hist_gradient_boosting(obj)
        _check_tree_ensemble(obj, BaseDecisionTree)
        stack.extend(_children(obj))


def _is_atom(obj):
    if isinstance(obj, np.ndarray):
        return obj.dtype != object
    return obj is None or isinstance(obj, str | bytes | bytearray | int | float)


def _children(obj):
    if isinstance(obj, dict):
        return [*obj.keys(), *obj.values()]
    if isinstance(obj, list | tuple | set | frozenset):
        return list(obj)
    if isinstance(obj, np.ndarray):
        return obj.ravel().tolist()
    children = []
    if isinstance(obj, functools.partial):
        # A partial keeps its parts outside __dict__.
        children += [obj.func, obj.args, obj.keywords]
    children.extend(vars(obj).values() if hasattr(obj, "__dict__") else ())
    return children


def _fail(reason):
    raise UncheckedModelError(reason)


def _check_tree(tree):
    n_nodes = tree.node_count
    # Checked before any array is read: the node arrays are views of
    # ``capacity`` nodes, and the properties read ``node_count`` of them.
    if not 1 <= n_nodes == tree.capacity:
        _fail(
            f"a decision tree holds {n_nodes} nodes in room for {tree.capacity} "
            "(it must hold at least one, and exactly as many as it has room for)"
        )
    nodes = tree.__getstate__()["nodes"]
    internal = _check_nodes(
        "a decision tree",
        nodes["left_child"],
        nodes["right_child"],
        nodes["left_child"] == _TREE_LEAF,
        leaf_child=_TREE_LEAF,
    )
    _check_features("a decision tree", nodes["feature"][internal], tree.n_features)
    depth = _depth(nodes["left_child"], nodes["right_child"], internal)
    # decision_path makes room for max_depth + 1 nodes per row.
    if depth > tree.max_depth:
        _fail(
            f"a decision tree reaches depth {depth} but records a depth of "
            f"{tree.max_depth}"
        )


def _check_nodes(what, left, right, leaf, *, leaf_child):
    """Check that the children make a tree numbered from its root down."""
    n_nodes = len(left)
    index = np.arange(n_nodes)
    internal = ~np.asarray(leaf, dtype=bool)
    if leaf_child is not None and np.any(right[~internal] != leaf_child):
        _fail(f"{what} has a leaf with a child")
    children = np.concatenate([left[internal], right[internal]]).astype(np.int64)
    parents = np.concatenate([index[internal], index[internal]])
    # A child numbered after its parent rules out cycles; distinct children
    # rule out a node reached twice, so every path is as long as its depth.
    if np.any(children <= parents) or np.any(children >= n_nodes):
        _fail(
            f"{what} has a child index out of range (each child must come "
            f"after its parent and within the tree's {n_nodes} nodes)"
        )
    if len(np.unique(children)) != len(children):
        _fail(f"{what} has a node with two parents")
    return internal


def _check_features(what, features, n_features):
    features = np.asarray(features, dtype=np.int64)
    outside = features[(features < 0) | (features >= n_features)]
    if outside.size:
        _fail(
            f"{what} splits on feature {int(outside[0])} but reads features 0 to "
            f"{n_features - 1}"
        )


def _depth(left, right, internal):
    """The number of edges on the longest path from the root (node 0)."""
    # Level by level: the children are distinct and come after their parents,
    # so each level holds new nodes and the loop ends after the deepest.
    depth, level = 0, np.array([0])
    while True:
        parents = level[internal[level]]
        if not parents.size:
            return depth
        level = np.concatenate([left[parents], right[parents]]).astype(np.intp)
        depth += 1


def _fitted_width(estimator, what):
    width = vars(estimator).get("n_features_in_")
    # Without n_features_in_, scikit-learn's predict accepts rows of any width.
    if not isinstance(width, int | np.integer) or width < 1:
        _fail(f"{what} records no number of input features")
    return int(width)


def _check_decision_tree(estimator):
    tree = vars(estimator).get("tree_")
    if tree is None:
        return
    what = type(estimator).__name__
    if class_path(type(tree)) != _TREE:
        _fail(f"a {what}'s tree_ is a {class_path(type(tree))}")
    width = _fitted_width(estimator, f"a {what}")
    if tree.n_features != width:
        _fail(f"a {what} reads {width} features but its tree reads {tree.n_features}")


def _check_tree_ensemble(estimator, decision_tree):
    """The trees of a forest or boosting model are fed rows of its width."""
    members = (
        vars(estimator).get("estimators_") if hasattr(estimator, "__dict__") else None
    )
    if not isinstance(members, list | tuple | np.ndarray):
        return
    members = np.asarray(members, dtype=object).ravel().tolist()
    trees = [
        (position, member)
        for position, member in enumerate(members)
        if isinstance(member, decision_tree)
    ]
    if not trees:
        return
    what = type(estimator).__name__
    width = _fitted_width(estimator, f"a {what}")
    # Bagging-style ensembles give each tree a subset of the columns.
    subsets = vars(estimator).get("estimators_features_")
    for position, member in trees:
        expected = width if subsets is None else len(subsets[position])
        if _fitted_width(member, f"a tree of a {what}") != expected:
            _fail(
                f"a {what} passes {expected} features to a tree that reads "
                f"{member.n_features_in_}"
            )


def _check_gradient_boosting(estimator):
    from sklearn.dummy import DummyClassifier, DummyRegressor

    members = vars(estimator).get("estimators_")
    if members is None:
        return
    what = type(estimator).__name__
    per_iteration = vars(estimator).get("n_trees_per_iteration_")
    # predict_stages adds tree k of each stage to column k of the raw
    # predictions, which have n_trees_per_iteration_ columns.
    if not (
        isinstance(members, np.ndarray)
        and members.ndim == 2
        and members.shape[0] >= 1
        and isinstance(per_iteration, int | np.integer)
        and members.shape[1] == per_iteration >= 1
    ):
        _fail(f"a {what}'s trees are not a stages x {per_iteration} array")
    init = vars(estimator).get("init_")
    if isinstance(init, str) and init == "zero":
        return
    # Other initial estimators give raw predictions of their own width.
    if isinstance(init, DummyClassifier):
        n_classes = len(np.atleast_1d(vars(init).get("class_prior_", [])))
        multiclass = bool(getattr(vars(estimator).get("_loss"), "is_multiclass", False))
        width = n_classes if multiclass else (1 if n_classes == 2 else 0)
    elif isinstance(init, DummyRegressor):
        width = np.size(vars(init).get("constant_", []))
    else:
        _fail(
            f"a {what} starts from a {class_path(type(init))}, whose predictions "
            "polymodal does not check"
        )
    if width != per_iteration:
        _fail(
            f"a {what} adds {per_iteration} trees per stage to initial "
            f"predictions of width {width}"
        )


def _check_hist_gradient_boosting(estimator):
    predictors = vars(estimator).get("_predictors")
    if predictors is None:
        return
    what = type(estimator).__name__
    width = _fitted_width(estimator, f"a {what}")
    mapper = vars(estimator).get("_bin_mapper")
    for flags in (
        vars(estimator).get("is_categorical_"),
        vars(mapper).get("is_categorical_") if hasattr(mapper, "__dict__") else None,
    ):
        if flags is not None and np.any(flags):
            _fail(
                f"a {what} has categorical features, whose bitsets polymodal does "
                "not check"
            )
    for stage in predictors:
        for predictor in stage:
            if class_path(type(predictor)) != _PREDICTOR:
                _fail(f"a {what} holds a {class_path(type(predictor))} among its trees")
            _check_predictor(predictor, n_features=width)


def _check_predictor(predictor, n_features):
    what = "a HistGradientBoosting tree"
    nodes = vars(predictor).get("nodes")
    if not (
        isinstance(nodes, np.ndarray)
        and nodes.ndim == 1
        and len(nodes) >= 1
        and nodes.dtype.names is not None
        and set(_PREDICTOR_FIELDS) <= set(nodes.dtype.names)
    ):
        _fail(f"{what} has no array of nodes")
    leaf = nodes["is_leaf"] != 0
    internal = _check_nodes(what, nodes["left"], nodes["right"], leaf, leaf_child=None)
    if np.any(nodes["is_categorical"][internal]):
        _fail(f"{what} has categorical splits, whose bitsets polymodal does not check")
    features = nodes["feature_idx"][internal]
    if n_features is None:
        n_features = int(features.max()) + 1 if features.size else 1
    _check_features(what, features, n_features)


def check_xgboost_model(model, n_features=None):
    """Check an xgboost model, as ``json.loads`` reads its JSON format.

    Parameters
    ----------
    model : dict
        ``json.loads(booster.save_raw("json"))``.
    n_features : int, default=None
        The number of features of the rows the model is given, when known.

    Raises
    ------
    UncheckedModelError
        When an index of a tree is out of range, or the model holds what is
        not checked (categorical splits, vector leaves, a linear booster).

    Examples
    --------
    >>> import json
    >>> import numpy as np
    >>> from xgboost import XGBClassifier
    >>> from polymodal.io._load_checks import check_xgboost_model
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> y = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> booster = XGBClassifier(n_estimators=2, min_child_weight=0).fit(X, y).get_booster()
    >>> model = json.loads(booster.save_raw("json"))
    >>> check_xgboost_model(model)
    >>> tree = model["learner"]["gradient_booster"]["model"]["trees"][0]
    >>> tree["left_children"][0] = 10**9
    >>> check_xgboost_model(model)
    Traceback (most recent call last):
    ...
    polymodal.io._load_checks.UncheckedModelError: an xgboost tree has a child index ...
    """
    try:
        learner = model["learner"]
        parameters = learner["learner_model_param"]
        num_feature = int(parameters["num_feature"])
        num_class = int(parameters["num_class"])
        num_target = int(parameters.get("num_target", 1))
        booster = learner["gradient_booster"]
    except (KeyError, TypeError, ValueError):
        _fail("an xgboost model lacks its learner's parameters")
    if n_features is not None and num_feature != n_features:
        _fail(
            f"an xgboost model reads {num_feature} features where its estimator "
            f"reads {n_features}"
        )
    if any(kind == "c" for kind in learner.get("feature_types") or ()):
        _fail(
            "an xgboost model has categorical features, which polymodal does not check"
        )
    n_groups = max(num_class, 1) * max(num_target, 1)
    name = booster.get("name") if isinstance(booster, dict) else None
    if name == "dart":
        trees_model = booster.get("gbtree", {}).get("model")
    elif name == "gbtree":
        trees_model = booster.get("model")
    else:
        _fail(
            f"an xgboost model uses the booster {name!r}; polymodal checks gbtree and dart"
        )
    _check_xgboost_trees(trees_model, num_feature, n_groups)
    if name == "dart" and len(booster.get("weight_drop", ())) != len(
        trees_model["trees"]
    ):
        _fail("an xgboost dart model has a weight for each tree")


def _check_xgboost_trees(model, num_feature, n_groups):
    try:
        trees = model["trees"]
        tree_info = np.asarray(model["tree_info"], dtype=np.int64)
        indptr = np.asarray(model.get("iteration_indptr", [0, len(trees)]), np.int64)
        num_trees = int(model["gbtree_model_param"]["num_trees"])
    except (KeyError, TypeError, ValueError):
        _fail("an xgboost model lacks its trees' layout")
    if not (num_trees == len(trees) == len(tree_info)):
        _fail("an xgboost model records another number of trees than it holds")
    if tree_info.size and (tree_info.min() < 0 or tree_info.max() >= n_groups):
        _fail(f"an xgboost tree adds to an output beyond the model's {n_groups}")
    if not (
        indptr.size >= 1
        and indptr[0] == 0
        and indptr[-1] == num_trees
        and np.all(np.diff(indptr) >= 0)
    ):
        _fail("an xgboost model's boosting rounds do not partition its trees")
    cats = model.get("cats") or {}
    if any(len(value) for value in cats.values() if isinstance(value, list)):
        _fail("an xgboost model has categories, which polymodal does not check")
    for tree in trees:
        _check_xgboost_tree(tree, num_feature)


_XGBOOST_NODE_ARRAYS = (
    "left_children",
    "right_children",
    "parents",
    "split_indices",
    "split_conditions",
    "split_type",
    "default_left",
    "base_weights",
    "loss_changes",
    "sum_hessian",
)


def _check_xgboost_tree(tree, num_feature):
    try:
        parameters = tree["tree_param"]
        n_nodes = int(parameters["num_nodes"])
        vector_leaves = int(parameters.get("size_leaf_vector", 1)) > 1
        arrays = {name: np.asarray(tree[name]) for name in _XGBOOST_NODE_ARRAYS}
    except (KeyError, TypeError, ValueError):
        _fail("an xgboost tree lacks its node arrays")
    what = "an xgboost tree"
    if vector_leaves:
        _fail("an xgboost model has vector leaves, which polymodal does not check")
    if n_nodes < 1 or any(
        values.ndim != 1 or len(values) != n_nodes for values in arrays.values()
    ):
        _fail(f"{what} has node arrays of other lengths")
    if np.any(arrays["split_type"] != 0) or any(
        len(tree.get(name) or ()) for name in ("categories", "categories_nodes")
    ):
        _fail(f"{what} has categorical splits, which polymodal does not check")
    left = arrays["left_children"].astype(np.int64)
    right = arrays["right_children"].astype(np.int64)
    leaf = left == -1
    internal = _check_nodes(what, left, right, leaf, leaf_child=-1)
    parents = arrays["parents"].astype(np.int64)
    index = np.arange(n_nodes)
    if (
        parents[0] not in _XGBOOST_NO_PARENT
        or np.any(parents[left[internal]] != index[internal])
        or np.any(parents[right[internal]] != index[internal])
    ):
        _fail(f"{what} names other parents than its children's")
    _check_features(what, arrays["split_indices"][internal], num_feature)
