"""CASE-004: one-hot vs integer labels, and a loss/activation mismatch.

Sources: DeepLearningSandbox/DeepLearningSandbox#3 (integer targets given to
categorical_crossentropy), stats.stackexchange.com/q/565956 (one softmax unit:
the loss is always 0). Integer labels with categorical CE, a 1-unit softmax and
one-hot labels with the sparse loss are refused before training with a
suggestion; one-hot + categorical CE trains to the CASE-003 numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from casekit import (
    ATOL,
    RTOL,
    assert_no_runs,
    assert_refused,
    case,
    cli,
    train,
    train_ok,
    weights,
)
from test_case_003 import reference_kernel


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-004")


def test_integer_labels_with_categorical_loss_are_refused(folder, tmp_path):
    runs = tmp_path / "runs"
    result = train(folder / "spec_a_int_with_cce.yaml", runs)
    text = assert_refused(
        result,
        3,
        "train_int_labels.csv",
        "one-hot",
        "3 columns",
        "1 column of integer class ids",
        "sparse_categorical_crossentropy",
    )
    assert "3.29" not in text  # the meaningless broadcast loss never appears
    assert_no_runs(runs)


def test_single_softmax_unit_is_refused_at_validation(folder, tmp_path):
    runs = tmp_path / "runs"
    result = train(folder / "spec_b_single_softmax_unit.yaml", runs)
    # a spec error that cites the spec file and the layer's line
    text = assert_refused(
        result,
        2,
        "spec_b_single_softmax_unit.yaml:",
        "model.layers[0]",
        "softmax",
        "1 unit",
        "sigmoid",
        "binary_crossentropy",
        "2 softmax units",
    )
    assert "<spec>" not in text
    assert_no_runs(runs)
    # `validate` refuses it too, so the mistake shows before any training run
    assert_refused(
        cli("validate", folder / "spec_b_single_softmax_unit.yaml"), 2, "softmax"
    )


def test_onehot_labels_with_sparse_loss_are_refused(folder, tmp_path):
    runs = tmp_path / "runs"
    result = train(folder / "spec_c_onehot_with_sparse.yaml", runs)
    assert_refused(
        result,
        3,
        "train_onehot_labels.csv",
        "one integer class label per row",
        "3 columns",
        "categorical_crossentropy",
    )
    assert_no_runs(runs)


def test_onehot_labels_with_categorical_loss_train(folder, tmp_path):
    run_dir, out = train_ok(folder / "spec_d_control.yaml", tmp_path / "runs")
    assert out["metrics"]["loss"] == pytest.approx(math.log(3), rel=RTOL)
    w = weights(run_dir)
    np.testing.assert_allclose(
        w["layers.0.kernel"], reference_kernel(), rtol=RTOL, atol=ATOL
    )
    np.testing.assert_allclose(
        w["layers.0.kernel"][0], [-0.03055556, 0.02611111, 0.00444444], atol=ATOL
    )
    np.testing.assert_allclose(w["layers.0.bias"], np.zeros(3), atol=1e-7)
