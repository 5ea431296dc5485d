"""Keras 3 metrics: the result after update_state over fixed batches.

Each dataset (binary probabilities, binary logits, multi-label, multi-class
probabilities and logits with one-hot and integer labels, regression, and
hostile sets: one class only, constant predictions, constant targets, a single
sample) is fed to a fresh keras.metrics object in batches of BATCHES rows,
including an empty batch, and the final result() is recorded per case with
the nncli metric config that should reproduce it.

Keras on JAX narrows float64 to float32 in `keras.backend.result_type`
(BIT64_TO_BIT32_DTYPE), so ops such as `mean` and `ceil` round to float32 even
with floatx float64. The reference (`<case>__result`) is computed with that
narrowing switched off, i.e. Keras's formulas in float64 end to end; the stock
value (`<case>__stock`) is kept as well, and a test checks that the two agree
to float32 precision.

Logits: nncli gets the logits and `logits=True` (as a model whose loss has
`from_logits: true` gives them); Keras gets sigmoid/softmax of them (computed
by keras.ops), or raw logits with AUC(from_logits=True).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import numpy as np
from common import Fixture

N = 23
BATCHES = [5, 0, 7, 11]  # rows per update_state call; sums to N


@contextmanager
def float64_kept():
    """Keep float64 in Keras's dtype promotion while the block runs."""
    from keras.src.backend.common import dtypes

    saved = dtypes.BIT64_TO_BIT32_DTYPE["float64"]
    dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"
    try:
        yield
    finally:
        dtypes.BIT64_TO_BIT32_DTYPE["float64"] = saved


def _datasets(keras) -> dict[str, dict[str, Any]]:
    rng = np.random.default_rng(20240607)
    ops = keras.ops

    def binary_targets(shape):
        y = rng.integers(0, 2, shape).astype(np.float64)
        y.flat[:2] = [0.0, 1.0]  # both classes present
        return y

    p = rng.uniform(0, 1, (N, 1))
    # ties: at 0.5 (the default threshold), 0.3, 100/199 (an AUC threshold that
    # float64 hits exactly), and the ends 0 and 1
    p[:6, 0] = [0.5, 0.0, 1.0, 0.3, 100 / 199, 0.5]
    z = rng.normal(0, 3, (N, 1))
    z[:3, 0] = [0.0, 40.0, -40.0]  # a tie at probability 0.5, saturated ends
    zc = rng.normal(0, 2, (N, 4))
    pc = np.array(ops.softmax(rng.normal(0, 2, (N, 4))))
    pc[0] = [0.4, 0.4, 0.1, 0.1]  # arg-max and top-k ties
    pc[1] = [0.25, 0.25, 0.25, 0.25]  # constant row
    pc[2] = [0.1, 0.3, 0.3, 0.3]
    labels = rng.integers(0, 4, N)
    labels[:3] = [1, 2, 3]  # the label tied with others
    labels_z = rng.integers(0, 4, N)
    yr = rng.normal(0, 2, (N, 2))
    sets = {
        "binary": dict(pred=p, target=binary_targets((N, 1)), kind="binary"),
        "binary_logits": dict(
            pred=z, target=binary_targets((N, 1)), kind="binary", logits=True
        ),
        "multilabel": dict(
            pred=rng.uniform(0, 1, (N, 3)), target=binary_targets((N, 3)), kind="binary"
        ),
        "sparse": dict(pred=pc, target=labels, kind="sparse"),
        "onehot": dict(pred=pc, target=np.eye(4)[labels], kind="onehot"),
        "sparse_logits": dict(pred=zc, target=labels_z, kind="sparse", logits=True),
        "onehot_logits": dict(
            pred=zc, target=np.eye(4)[labels_z], kind="onehot", logits=True
        ),
        "regression": dict(pred=yr + rng.normal(0, 1, (N, 2)), target=yr, kind="real"),
        "regression1": dict(pred=yr[:, :1] * 0.8 + 0.3, target=yr[:, :1], kind="real"),
        "all_positive": dict(pred=p, target=np.ones((N, 1)), kind="binary"),
        "all_negative": dict(pred=p, target=np.zeros((N, 1)), kind="binary"),
        "constant_pred": dict(
            pred=np.full((N, 1), 0.5), target=binary_targets((N, 1)), kind="binary"
        ),
        "constant_target": dict(
            pred=rng.normal(2, 1, (N, 1)), target=np.full((N, 1), 2.0), kind="real"
        ),
        "constant_perfect": dict(
            pred=np.full((N, 1), 2.0), target=np.full((N, 1), 2.0), kind="real"
        ),
        "one_sample": dict(
            pred=np.array([[0.7]]), target=np.array([[1.0]]), kind="binary"
        ),
    }
    for d in sets.values():
        d.setdefault("logits", False)
        d["units"] = int(d["pred"].shape[-1])
        d["batches"] = [1] if len(d["pred"]) == 1 else BATCHES
        # what Keras is given: probabilities, and one-hot rows for sparse labels
        # where the Keras metric wants dense targets
        x = d["pred"]
        d["probs"] = (
            np.array(ops.softmax(x) if d["kind"] != "binary" else ops.sigmoid(x))
            if d["logits"]
            else x
        )
        t = d["target"]
        d["dense"] = np.eye(d["units"])[t] if d["kind"] == "sparse" else t
    return sets


# (case, dataset, nncli config, Keras class, Keras kwargs). Keras gets
# probabilities, raw logits only with from_logits=True, and one-hot rows of
# integer labels where its metric wants dense targets (DENSE).
# fmt: off
CASES: list[tuple[str, str, dict, str, dict]] = [
    ("accuracy_binary", "binary", {"type": "accuracy"}, "BinaryAccuracy", {}),
    ("accuracy_binary_logits", "binary_logits", {"type": "accuracy"}, "BinaryAccuracy", {}),  # noqa: E501
    ("accuracy_sparse", "sparse", {"type": "accuracy"}, "SparseCategoricalAccuracy", {}),  # noqa: E501
    ("accuracy_onehot", "onehot", {"type": "acc", "name": "acc"}, "CategoricalAccuracy", {}),  # noqa: E501
    ("binary_accuracy", "binary", {"type": "binary_accuracy"}, "BinaryAccuracy", {}),
    ("binary_accuracy_t03", "binary", {"type": "binary_accuracy", "threshold": 0.3}, "BinaryAccuracy", {"threshold": 0.3}),  # noqa: E501
    ("binary_accuracy_logits_t07", "binary_logits", {"type": "binary_accuracy", "threshold": 0.7}, "BinaryAccuracy", {"threshold": 0.7}),  # noqa: E501
    ("binary_accuracy_multilabel", "multilabel", {"type": "binary_accuracy"}, "BinaryAccuracy", {}),  # noqa: E501
    ("binary_accuracy_one_sample", "one_sample", {"type": "binary_accuracy"}, "BinaryAccuracy", {}),  # noqa: E501
    ("categorical_accuracy", "onehot", {"type": "categorical_accuracy"}, "CategoricalAccuracy", {}),  # noqa: E501
    ("categorical_accuracy_logits", "onehot_logits", {"type": "categorical_accuracy"}, "CategoricalAccuracy", {}),  # noqa: E501
    ("sparse_categorical_accuracy", "sparse", {"type": "sparse_categorical_accuracy"}, "SparseCategoricalAccuracy", {}),  # noqa: E501
    ("sparse_categorical_accuracy_logits", "sparse_logits", {"type": "sparse_categorical_accuracy"}, "SparseCategoricalAccuracy", {}),  # noqa: E501
    ("top_k_categorical_accuracy", "onehot", {"type": "top_k_categorical_accuracy"}, "TopKCategoricalAccuracy", {}),  # noqa: E501
    ("top_k_categorical_accuracy_k2", "onehot", {"type": "top_k_categorical_accuracy", "k": 2}, "TopKCategoricalAccuracy", {"k": 2}),  # noqa: E501
    ("top_k_categorical_accuracy_k1", "onehot", {"type": "top_k_categorical_accuracy", "k": 1}, "TopKCategoricalAccuracy", {"k": 1}),  # noqa: E501
    ("top_k_categorical_accuracy_logits_k2", "onehot_logits", {"type": "top_k_categorical_accuracy", "k": 2}, "TopKCategoricalAccuracy", {"k": 2}),  # noqa: E501
    ("sparse_top_k_categorical_accuracy", "sparse", {"type": "sparse_top_k_categorical_accuracy"}, "SparseTopKCategoricalAccuracy", {}),  # noqa: E501
    ("sparse_top_k_categorical_accuracy_k2", "sparse", {"type": "sparse_top_k_categorical_accuracy", "k": 2}, "SparseTopKCategoricalAccuracy", {"k": 2}),  # noqa: E501
    ("sparse_top_k_categorical_accuracy_k1", "sparse", {"type": "sparse_top_k_categorical_accuracy", "k": 1}, "SparseTopKCategoricalAccuracy", {"k": 1}),  # noqa: E501
    ("sparse_top_k_categorical_accuracy_logits_k3", "sparse_logits", {"type": "sparse_top_k_categorical_accuracy", "k": 3}, "SparseTopKCategoricalAccuracy", {"k": 3}),  # noqa: E501
    ("precision", "binary", {"type": "precision"}, "Precision", {}),
    ("precision_t03", "binary", {"type": "precision", "threshold": 0.3}, "Precision", {"thresholds": 0.3}),  # noqa: E501
    ("precision_t0", "binary", {"type": "precision", "threshold": 0.0}, "Precision", {"thresholds": 0.0}),  # noqa: E501
    ("precision_t1", "binary", {"type": "precision", "threshold": 1.0}, "Precision", {"thresholds": 1.0}),  # noqa: E501
    ("precision_logits", "binary_logits", {"type": "precision"}, "Precision", {}),
    ("precision_logits_t07", "binary_logits", {"type": "precision", "threshold": 0.7}, "Precision", {"thresholds": 0.7}),  # noqa: E501
    ("precision_multilabel", "multilabel", {"type": "precision"}, "Precision", {}),
    ("precision_multilabel_class1", "multilabel", {"type": "precision", "class_id": 1}, "Precision", {"class_id": 1}),  # noqa: E501
    ("precision_sparse", "sparse", {"type": "precision"}, "Precision", {}),
    ("precision_onehot_class2", "onehot", {"type": "precision", "class_id": 2}, "Precision", {"class_id": 2}),  # noqa: E501
    ("precision_onehot_top2", "onehot", {"type": "precision", "top_k": 2}, "Precision", {"top_k": 2}),  # noqa: E501
    ("precision_sparse_top2_t03", "sparse", {"type": "precision", "top_k": 2, "threshold": 0.3}, "Precision", {"top_k": 2, "thresholds": 0.3}),  # noqa: E501
    ("precision_sparse_top1_class0", "sparse", {"type": "precision", "top_k": 1, "class_id": 0}, "Precision", {"top_k": 1, "class_id": 0}),  # noqa: E501
    ("precision_onehot_logits", "onehot_logits", {"type": "precision", "threshold": 0.3}, "Precision", {"thresholds": 0.3}),  # noqa: E501
    ("precision_all_negative", "all_negative", {"type": "precision"}, "Precision", {}),
    ("precision_constant_pred", "constant_pred", {"type": "precision"}, "Precision", {}),  # noqa: E501
    ("precision_one_sample", "one_sample", {"type": "precision"}, "Precision", {}),
    ("recall", "binary", {"type": "recall"}, "Recall", {}),
    ("recall_t03", "binary", {"type": "recall", "threshold": 0.3}, "Recall", {"thresholds": 0.3}),  # noqa: E501
    ("recall_logits", "binary_logits", {"type": "recall"}, "Recall", {}),
    ("recall_multilabel", "multilabel", {"type": "recall"}, "Recall", {}),
    ("recall_sparse_class1", "sparse", {"type": "recall", "class_id": 1}, "Recall", {"class_id": 1}),  # noqa: E501
    ("recall_onehot_top2", "onehot", {"type": "recall", "top_k": 2}, "Recall", {"top_k": 2}),  # noqa: E501
    ("recall_sparse_logits", "sparse_logits", {"type": "recall", "threshold": 0.25}, "Recall", {"thresholds": 0.25}),  # noqa: E501
    ("recall_all_negative", "all_negative", {"type": "recall"}, "Recall", {}),
    ("recall_all_positive", "all_positive", {"type": "recall"}, "Recall", {}),
    ("recall_constant_pred", "constant_pred", {"type": "recall", "threshold": 0.4}, "Recall", {"thresholds": 0.4}),  # noqa: E501
    ("f1_score", "binary", {"type": "f1_score"}, "F1Score", {"average": "macro", "threshold": 0.5}),  # noqa: E501
    ("f1_alias_micro", "binary", {"type": "f1", "average": "micro"}, "F1Score", {"average": "micro", "threshold": 0.5}),  # noqa: E501
    ("f1_score_t03", "binary", {"type": "f1_score", "threshold": 0.3}, "F1Score", {"average": "macro", "threshold": 0.3}),  # noqa: E501
    ("f1_score_logits", "binary_logits", {"type": "f1_score"}, "F1Score", {"average": "macro", "threshold": 0.5}),  # noqa: E501
    ("f1_score_multilabel", "multilabel", {"type": "f1_score"}, "F1Score", {"average": "macro", "threshold": 0.5}),  # noqa: E501
    ("f1_score_multilabel_micro", "multilabel", {"type": "f1_score", "average": "micro"}, "F1Score", {"average": "micro", "threshold": 0.5}),  # noqa: E501
    ("f1_score_multilabel_weighted", "multilabel", {"type": "f1_score", "average": "weighted"}, "F1Score", {"average": "weighted", "threshold": 0.5}),  # noqa: E501
    ("f1_score_sparse", "sparse", {"type": "f1_score"}, "F1Score", {"average": "macro"}),  # noqa: E501
    ("f1_score_sparse_micro", "sparse", {"type": "f1_score", "average": "micro"}, "F1Score", {"average": "micro"}),  # noqa: E501
    ("f1_score_onehot_weighted", "onehot", {"type": "f1_score", "average": "weighted"}, "F1Score", {"average": "weighted"}),  # noqa: E501
    ("f1_score_onehot_t03", "onehot", {"type": "f1_score", "threshold": 0.3}, "F1Score", {"average": "macro", "threshold": 0.3}),  # noqa: E501
    ("f1_score_onehot_logits", "onehot_logits", {"type": "f1_score"}, "F1Score", {"average": "macro"}),  # noqa: E501
    ("f1_score_all_negative", "all_negative", {"type": "f1_score"}, "F1Score", {"average": "macro", "threshold": 0.5}),  # noqa: E501
    ("f1_score_constant_pred", "constant_pred", {"type": "f1_score", "average": "weighted"}, "F1Score", {"average": "weighted", "threshold": 0.5}),  # noqa: E501
    ("auc", "binary", {"type": "auc"}, "AUC", {}),
    ("auc_minoring", "binary", {"type": "auc", "summation_method": "minoring"}, "AUC", {"summation_method": "minoring"}),  # noqa: E501
    ("auc_majoring", "binary", {"type": "auc", "summation_method": "majoring"}, "AUC", {"summation_method": "majoring"}),  # noqa: E501
    ("auc_pr", "binary", {"type": "auc", "curve": "PR", "name": "pr_auc"}, "AUC", {"curve": "PR"}),  # noqa: E501
    ("auc_pr_minoring", "binary", {"type": "auc", "curve": "PR", "summation_method": "minoring"}, "AUC", {"curve": "PR", "summation_method": "minoring"}),  # noqa: E501
    ("auc_pr_majoring", "binary", {"type": "auc", "curve": "PR", "summation_method": "majoring"}, "AUC", {"curve": "PR", "summation_method": "majoring"}),  # noqa: E501
    ("auc_3_thresholds", "binary", {"type": "auc", "num_thresholds": 3}, "AUC", {"num_thresholds": 3}),  # noqa: E501
    ("auc_pr_11_thresholds", "binary", {"type": "auc", "curve": "PR", "num_thresholds": 11}, "AUC", {"curve": "PR", "num_thresholds": 11}),  # noqa: E501
    ("auc_logits", "binary_logits", {"type": "auc"}, "AUC", {"from_logits": True}),
    ("auc_pr_logits", "binary_logits", {"type": "auc", "curve": "PR"}, "AUC", {"curve": "PR", "from_logits": True}),  # noqa: E501
    ("auc_multilabel", "multilabel", {"type": "auc"}, "AUC", {}),
    ("auc_multilabel_per_label", "multilabel", {"type": "auc", "multi_label": True}, "AUC", {"multi_label": True}),  # noqa: E501
    ("auc_pr_multilabel_per_label", "multilabel", {"type": "auc", "curve": "PR", "multi_label": True}, "AUC", {"curve": "PR", "multi_label": True}),  # noqa: E501
    ("auc_sparse", "sparse", {"type": "auc"}, "AUC", {}),
    ("auc_onehot_per_class", "onehot", {"type": "auc", "multi_label": True}, "AUC", {"multi_label": True}),  # noqa: E501
    ("auc_sparse_logits", "sparse_logits", {"type": "auc", "curve": "PR"}, "AUC", {"curve": "PR"}),  # noqa: E501
    ("auc_all_positive", "all_positive", {"type": "auc"}, "AUC", {}),
    ("auc_all_negative", "all_negative", {"type": "auc"}, "AUC", {}),
    ("auc_pr_all_positive", "all_positive", {"type": "auc", "curve": "PR"}, "AUC", {"curve": "PR"}),  # noqa: E501
    ("auc_pr_all_negative", "all_negative", {"type": "auc", "curve": "PR"}, "AUC", {"curve": "PR"}),  # noqa: E501
    ("auc_constant_pred", "constant_pred", {"type": "auc"}, "AUC", {}),
    ("auc_pr_constant_pred", "constant_pred", {"type": "auc", "curve": "PR"}, "AUC", {"curve": "PR"}),  # noqa: E501
    ("auc_one_sample", "one_sample", {"type": "auc"}, "AUC", {}),
    ("mean_squared_error", "regression", {"type": "mean_squared_error"}, "MeanSquaredError", {}),  # noqa: E501
    ("mse_brier", "binary", {"type": "mse"}, "MeanSquaredError", {}),
    ("mean_absolute_error", "regression", {"type": "mean_absolute_error"}, "MeanAbsoluteError", {}),  # noqa: E501
    ("mae_regression1", "regression1", {"type": "mae"}, "MeanAbsoluteError", {}),
    ("root_mean_squared_error", "regression", {"type": "root_mean_squared_error"}, "RootMeanSquaredError", {}),  # noqa: E501
    ("rmse_constant_perfect", "constant_perfect", {"type": "rmse"}, "RootMeanSquaredError", {}),  # noqa: E501
    ("r2_score", "regression", {"type": "r2_score"}, "R2Score", {}),
    ("r2_variance_weighted", "regression", {"type": "r2", "class_aggregation": "variance_weighted_average"}, "R2Score", {"class_aggregation": "variance_weighted_average"}),  # noqa: E501
    ("r2_score_regression1", "regression1", {"type": "r2_score"}, "R2Score", {}),
    ("r2_adjusted", "regression1", {"type": "r2_score", "num_regressors": 3}, "R2Score", {"num_regressors": 3}),  # noqa: E501
    ("r2_adjusted_two_outputs", "regression", {"type": "r2_score", "num_regressors": 5}, "R2Score", {"num_regressors": 5}),  # noqa: E501
    ("r2_adjusted_too_many", "regression1", {"type": "r2_score", "num_regressors": 22}, "R2Score", {"num_regressors": 22}),  # noqa: E501
    ("r2_constant_target", "constant_target", {"type": "r2_score"}, "R2Score", {}),
    ("r2_constant_perfect", "constant_perfect", {"type": "r2_score"}, "R2Score", {}),
    ("r2_probabilities", "binary", {"type": "r2_score"}, "R2Score", {}),
]
# fmt: on
DENSE = ("Precision", "Recall", "F1Score", "AUC")


def _keras_result(
    keras, cls: str, kwargs: dict, y: np.ndarray, x: np.ndarray, batches: list[int]
) -> float:
    metric = getattr(keras.metrics, cls)(**kwargs)
    start = 0
    for size in batches:
        metric.update_state(y[start : start + size], x[start : start + size])
        start += size
    return float(np.asarray(metric.result()))


def generate() -> Fixture:
    import warnings

    import keras

    sets = _datasets(keras)
    fx = Fixture(
        kind="metrics",
        conventions={
            "batches": f"update_state on rows in batches of {BATCHES} "
            "(an empty batch included); one_sample: one batch of 1",
            "float64": "Keras's float64->float32 narrowing in result_type is "
            "switched off for <case>__result; <case>__stock keeps it",
            "logits": "nncli gets logits with logits=True; Keras gets "
            "keras.ops.sigmoid/softmax of them, or AUC(from_logits=True)",
            "sparse": "where the Keras metric needs dense targets, it gets the "
            "one-hot rows of the integer labels (nncli's reading of sparse labels)",
            "f1": "nncli f1_score without threshold = Keras F1Score(threshold=0.5) "
            "on sigmoid outputs, F1Score(threshold=None) (arg-max) on softmax ones",
            "layout": "target_kind and units say what the nncli model looks like",
        },
    )
    for name, d in sets.items():
        fx.arrays[f"data_{name}__pred"] = d["pred"]
        fx.arrays[f"data_{name}__target"] = d["target"]
    for case, data, cfg, cls, kwargs in CASES:
        d = sets[data]
        y = d["dense"] if cls in DENSE else d["target"]
        x = d["pred"] if kwargs.get("from_logits") else d["probs"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # R2Score warns on too many regressors
            with float64_kept():
                result = _keras_result(keras, cls, kwargs, y, x, d["batches"])
            stock = _keras_result(keras, cls, kwargs, y, x, d["batches"])
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        given = "one_hot(y_true)" if d["target"] is not y else "y_true"
        fed = "logits" if x is d["pred"] and d["logits"] else "y_pred"
        fed = "probabilities" if x is not d["pred"] else fed
        call = (
            f"keras.metrics.{cls}({args}).update_state({given}, {fed}) "
            "per batch; result()"
        )
        fx.add(case, cfg, call, result=np.float64(result), stock=np.float64(stock))
        fx.cases[case].update(
            data=data,
            target_kind=d["kind"],
            units=d["units"],
            logits=d["logits"],
            batches=d["batches"],
        )
    return fx
