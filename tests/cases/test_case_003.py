"""CASE-003: sparse categorical labels that are 1-based, fractional, negative or
written as floats.

Sources: rstudio/keras3#465 (labels 1..3 for 3 units), keras-team/keras PR #2450
(ask for an error on labels >= classes), milesial/Pytorch-UNet#93 (whole-number
float labels refused). Integral floats must train exactly like ints; the others
are refused before any step, naming the file, the row and the value.
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
    train,
    train_ok,
    weights,
)

KERNEL_AFTER_ONE_STEP = np.array(
    [
        [-0.03055556, 0.02611111, 0.00444444],
        [0.00333333, 0.00166667, -0.005],
        [-0.08166667, 0.025, 0.05666667],
        [-0.03611111, 0.00555556, 0.03055556],
    ]
)


def reference_kernel() -> np.ndarray:
    """reference.py: one full-batch SGD step from zero weights, uniform softmax."""
    x = np.array(
        [
            [5.1, 3.5, 1.4, 0.2],
            [4.9, 3.0, 1.4, 0.2],
            [7.0, 3.2, 4.7, 1.4],
            [6.4, 3.2, 4.5, 1.5],
            [6.3, 3.3, 6.0, 2.5],
            [5.8, 2.7, 5.1, 1.9],
        ]
    )
    g = np.full((6, 3), 1 / 3) - np.eye(3)[[0, 0, 1, 1, 2, 2]]
    return -0.1 * x.T @ (g / 6)  # (4, 3)


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-003")


def test_reference_numbers_are_the_printed_ones():
    np.testing.assert_allclose(reference_kernel(), KERNEL_AFTER_ONE_STEP, atol=1e-8)


@pytest.mark.parametrize("spec", ["spec.yaml", "spec_float.yaml"])
def test_integer_and_whole_float_labels_train(folder, tmp_path, spec):
    run_dir, out = train_ok(folder / spec, tmp_path / "runs")
    assert out["metrics"]["loss"] == pytest.approx(math.log(3), rel=RTOL)
    assert out["metrics"]["accuracy"] == pytest.approx(1 / 3, abs=1e-7)
    w = weights(run_dir)
    np.testing.assert_allclose(
        w["layers.0.kernel"], reference_kernel(), rtol=RTOL, atol=ATOL
    )
    np.testing.assert_allclose(w["layers.0.bias"], np.zeros(3), atol=1e-7)


def test_float_labels_give_bit_identical_weights(folder, tmp_path):
    a, _ = train_ok(folder / "spec.yaml", tmp_path / "a")
    b, _ = train_ok(folder / "spec_float.yaml", tmp_path / "b")
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert wa[key].tobytes() == wb[key].tobytes(), key


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        (
            "spec_one_based.yaml",
            [
                "train_one_based.csv",
                "label 3",
                "[0, 3)",
                "1-based",
                "min label 1",
                "max label 3",
            ],
        ),
        (
            "spec_fraction.yaml",
            ["train_fraction.csv", "row 4", "1.5", "not a whole number"],
        ),
        ("spec_negative.yaml", ["train_negative.csv", "row 2", "label -1", "[0, 3)"]),
    ],
)
def test_bad_labels_are_refused_before_training(folder, tmp_path, spec, fragments):
    runs = tmp_path / "runs"
    text = assert_refused(train(folder / spec, runs), 3, *fragments)
    assert len(text.splitlines()) == 1
    assert_no_runs(runs)
