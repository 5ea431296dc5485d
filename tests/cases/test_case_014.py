"""CASE-014: flat CSV rows for a model whose input is (timesteps, features).

Sources: shreyans29/thesemicolon#5, austineaero/Remaining-Useful-Life-RUL-
Estimation#13, tensorflow/tfjs#1533 ("expected ndim=3, found ndim=2" for 2-D data
given to an LSTM). The LSTM parts wait for the LSTM layer (issue 5); what
applies now is tested with Dense models (spec_dense_*.yaml, written for nncli):
each CSV row is reshaped row-major to input_shape (t1_a, t1_b, t2_a, ...), and a
file whose feature count does not fit input_shape is refused before training.
"""

from __future__ import annotations

import numpy as np
import pytest
from casekit import assert_no_runs, assert_refused, case, predict, train, train_ok

from nncli.data.sources import load_data

NEEDS_LSTM = pytest.mark.skip(reason="needs LSTM (issue 5)")


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-014")


def test_rows_are_reshaped_row_major(folder):
    spec = {"train": "train.csv", "format": "csv", "header": True, "target": "y"}
    splits = load_data(spec, folder, 0, (3, 2))
    np.testing.assert_array_equal(splits.train.x[0], [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(splits.train.x[1], [[6, 5], [4, 3], [2, 1]])


def test_row_major_order_reaches_the_model(folder, tmp_path):
    # row-major predicts 3.0 for both rows; column-major would give 1.0
    run_dir, out = train_ok(folder / "spec_dense_order.yaml", tmp_path / "runs")
    assert out["metrics"]["loss"] == pytest.approx(9.0, rel=1e-6)
    outputs = [r["output"][0] for r in predict(run_dir, folder / "train.csv")]
    np.testing.assert_allclose(outputs, [3.0, 3.0], rtol=1e-6)


def test_seven_columns_do_not_fit_three_by_two(folder, tmp_path):
    runs = tmp_path / "runs"
    result = train(folder / "spec_dense_bad_columns.yaml", runs)
    assert_refused(
        result, 3, "train_7cols.csv", "[3, 2]", "3 × 2 = 6", "7 feature columns"
    )
    assert_no_runs(runs)


def test_input_shape_must_match_the_feature_count(folder, tmp_path):
    runs = tmp_path / "runs"
    result = train(folder / "spec_dense_wrong_shape.yaml", runs)
    assert_refused(result, 3, "train.csv", "input_shape [4]", "6 feature columns")
    assert_no_runs(runs)


@NEEDS_LSTM
def test_lstm_predictions_follow_row_major_order(folder, tmp_path):
    run_dir, out = train_ok(folder / "spec.yaml", tmp_path / "runs")
    assert out["metrics"]["loss"] == pytest.approx(0.27763133, rel=1e-5)
    outputs = [r["output"][0] for r in predict(run_dir, folder / "train.csv")]
    np.testing.assert_allclose(outputs, [0.60746459, 0.43156625], rtol=1e-5)


@NEEDS_LSTM
def test_lstm_refuses_seven_columns(folder, tmp_path):
    runs = tmp_path / "runs"
    assert_refused(
        train(folder / "spec_bad_columns.yaml", runs),
        3,
        "3 × 2 = 6",
        "7 feature columns",
    )
    assert_no_runs(runs)


@NEEDS_LSTM
def test_lstm_refuses_a_flat_input_shape(folder, tmp_path):
    runs = tmp_path / "runs"
    assert_refused(
        train(folder / "spec_flat_shape.yaml", runs),
        2,
        "[timesteps, features]",
        "[6]",
        "[3, 2]",
    )
    assert_no_runs(runs)
