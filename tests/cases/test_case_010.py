"""CASE-010: a dead ReLU layer from a bad bias initialisation.

Sources: facebookresearch/dlrm PR #358 (bias initialised to a large negative
value: ReLU outputs and gradients all zero), jvargasmu/population_estimation#68
(the model predicted only zeros). Hidden bias -10 kills every unit; only the
output bias learns, so the arithmetic is exact, and nncli must warn that all 4
units of the relu layer are dead and the output is constant (exit 0).
"""

from __future__ import annotations

import numpy as np
import pytest
from casekit import case, metrics, predict, summary, train_ok, weights

LOSSES = [7.5, 5.25, 3.81, 2.8884, 2.298576]
# the output bias, i.e. the prediction for every row, after 0..5 epochs
OUTPUT_BIAS = [0.0, 0.5, 0.9, 1.22, 1.476, 1.6808]


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-010")


def _unchanged_hidden_layer(w) -> None:
    np.testing.assert_allclose(w["layers.0.kernel"], np.full((2, 4), 0.1), rtol=1e-7)
    np.testing.assert_allclose(w["layers.0.bias"], np.full(4, -10.0), rtol=1e-7)
    np.testing.assert_allclose(w["layers.1.kernel"], np.full((4, 1), 0.5), rtol=1e-7)


def _dead_unit_warning(text: str) -> str:
    (line,) = [x for x in text.splitlines() if x.startswith("warning:") and "relu" in x]
    return line


@pytest.mark.parametrize(
    ("spec", "epochs"), [("spec_1epoch.yaml", 1), ("spec_5epochs.yaml", 5)]
)
def test_only_the_output_bias_learns(folder, tmp_path, spec, epochs):
    run_dir, _ = train_ok(folder / spec, tmp_path / "runs")
    np.testing.assert_allclose(
        [r["loss"] for r in metrics(run_dir)], LOSSES[:epochs], rtol=1e-5
    )
    w = weights(run_dir)
    _unchanged_hidden_layer(w)
    np.testing.assert_allclose(w["layers.1.bias"], [OUTPUT_BIAS[epochs]], rtol=1e-5)
    # the trained model's output is the same constant for every row
    rows = predict(run_dir, folder / "train.csv")
    outputs = [r["output"][0] for r in rows]
    np.testing.assert_allclose(outputs, [OUTPUT_BIAS[epochs]] * 4, rtol=1e-5)


def test_dead_layer_warning(folder, tmp_path):
    run_dir, out = train_ok(folder / "spec_1epoch.yaml", tmp_path / "runs")
    line = _dead_unit_warning(out["stderr"])
    assert "4 of 4 units" in line and "layer 0" in line and "constant" in line
    s = summary(run_dir)
    assert s["status"] == "completed"
    assert any("4 of 4 units" in w for w in s["warnings"])
