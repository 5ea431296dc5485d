"""CASE-025: string class labels in the CSV.

Sources: glouw/tinn#17 (class names in the label column gave 1.#INF00),
Xtra-Computing/thundersvm#81 ("could not convert string to float: anger").
Class names get ids in sorted order (setosa 0, versicolor 1, virginica 2), the
mapping is saved with the run, training matches CASE-003 (loss ln 3, same
kernel), predict reports names; a validation class never seen in training is
refused naming the file, row 2, the label and the known classes.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from casekit import (
    ATOL,
    RTOL,
    assert_no_runs,
    assert_refused,
    case,
    predict,
    train,
    train_ok,
    weights,
)
from test_case_003 import reference_kernel

ROWS = [
    [5.1, 3.5, 1.4, 0.2],
    [7.0, 3.2, 4.7, 1.4],
    [6.3, 3.3, 6.0, 2.5],
    [4.9, 3.0, 1.4, 0.2],
    [6.4, 3.2, 4.5, 1.5],
    [5.8, 2.7, 5.1, 1.9],
]
CLASSES = ["setosa", "versicolor", "virginica"]


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-025")


def test_class_names_train_like_integer_ids(folder, tmp_path):
    run_dir, out = train_ok(folder / "spec.yaml", tmp_path / "runs")
    assert out["metrics"]["loss"] == pytest.approx(math.log(3), rel=RTOL)
    prep = json.loads((run_dir / "preprocessing.json").read_text())
    assert prep["classes"] == CLASSES  # id = position: setosa 0, ...
    assert "setosa=0, versicolor=1, virginica=2" in out["stderr"]
    w = weights(run_dir)
    # the rows are interleaved, but the sums over them are those of CASE-003
    np.testing.assert_allclose(
        w["layers.0.kernel"], reference_kernel(), rtol=RTOL, atol=ATOL
    )
    np.testing.assert_allclose(w["layers.0.bias"], np.zeros(3), atol=1e-7)


def test_predict_reports_class_names(folder, tmp_path):
    run_dir, _ = train_ok(folder / "spec.yaml", tmp_path / "runs")
    rows = predict(run_dir, folder / "train.csv")
    expected = np.argmax(np.array(ROWS) @ reference_kernel(), axis=1)
    assert [r["label"] for r in rows] == [CLASSES[i] for i in expected]


def test_unseen_validation_class_is_refused(folder, tmp_path):
    runs = tmp_path / "runs"
    text = assert_refused(
        train(folder / "spec_unseen_class.yaml", runs),
        3,
        "valid_unseen_class.csv",
        "row 2",
        "'iris-unknown'",
        "setosa, versicolor, virginica",
    )
    assert len(text.splitlines()) == 1
    assert_no_runs(runs)
