"""CASE-001: sigmoid + binary cross-entropy saturation must not give NaN/inf.

Sources: tiny-dnn/tiny-dnn#410, Lasagne/Lasagne#436 (a saturated sigmoid made
0*log 0 = NaN). nncli computes BCE from the pre-activation when the output is a
sigmoid (Keras on TensorFlow), so the expected numbers are the stable ones:
A ~0 loss, kernel unchanged; B loss 40.0 = softplus(40), kernel -3.0.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from casekit import ATOL, RTOL, case, metrics, summary, train_ok, weights


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-001")


def _all_finite(run_dir, out) -> None:
    assert all(math.isfinite(v) for row in metrics(run_dir) for v in row.values())
    assert all(np.isfinite(w).all() for w in weights(run_dir).values())
    assert all(math.isfinite(v) for v in out["metrics"].values())
    for text in ((run_dir / "metrics.csv").read_text(), out["stderr"]):
        assert not re.search(r"(?i)\b(nan|-?inf)\b", text), text


def test_confident_correct_rows_give_zero_loss_not_nan(folder, tmp_path):
    run_dir, out = train_ok(folder / "spec.yaml", tmp_path / "runs")
    _all_finite(run_dir, out)
    loss = out["metrics"]["loss"]
    assert 0.0 <= loss <= 2e-7
    assert loss == pytest.approx(2.124177e-18, abs=ATOL)
    assert out["metrics"]["accuracy"] == 1.0
    w = weights(run_dir)
    np.testing.assert_allclose(w["layers.0.kernel"], [[1.0]], atol=1e-6)
    np.testing.assert_allclose(w["layers.0.bias"], [0.0], atol=1e-6)
    assert summary(run_dir)["status"] == "completed"


def test_confident_wrong_rows_give_softplus_loss_and_stable_step(folder, tmp_path):
    run_dir, out = train_ok(folder / "spec_wrong.yaml", tmp_path / "runs")
    _all_finite(run_dir, out)
    # stable path (not the documented clip deviation 16.03024 / kernel 1.0)
    assert out["metrics"]["loss"] == pytest.approx(40.0, rel=RTOL)
    assert out["metrics"]["accuracy"] == 0.0
    w = weights(run_dir)
    np.testing.assert_allclose(w["layers.0.kernel"], [[-3.0]], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(w["layers.0.bias"], [0.0], atol=ATOL)
