"""CASE-005: exploding loss with a too-high learning rate.

Sources: tensorflow/tensorflow#38796 (SGD at a high rate drove the loss to
nan/inf), keras-team/keras#21 (loss jumped and stayed high). Full-batch SGD on
y = 2x + 1 from zero weights: lr 0.5 must stop at the first non-finite epoch
(22 in float32, 178 in float64) with exit 4, a message naming the epoch and
value, the finite epochs kept and only finite weights saved; lr 0.01 is the
arithmetic control. The spec's `checkpoint.every_epochs: 1` is nncli's default
(weights are written after every epoch), so it was dropped.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from casekit import (
    assert_refused,
    case,
    cli,
    metrics,
    predict,
    summary,
    train,
    train_ok,
    weights,
)

X = np.array([1.0, 2.0, 3.0, 4.0])
Y = 2 * X + 1


def reference(lr: float, epochs: int, dtype) -> tuple[list[float], float, float]:
    """reference.py: (epoch losses up to the first non-finite, kernel, bias)."""
    x, y = X.astype(dtype), Y.astype(dtype)
    w, b, lr, losses = dtype(0), dtype(0), dtype(lr), []
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(epochs):
            r = w * x + b - y
            losses.append(float(np.mean(r * r)))
            if not math.isfinite(losses[-1]):
                break
            w, b = w - lr * np.mean(2 * r * x), b - lr * np.mean(2 * r)
    return losses, float(w), float(b)


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-005")


def _diverged_run(runs):
    (run_dir,) = list(runs.iterdir())
    return run_dir


@pytest.mark.parametrize(("dtype", "first_bad"), [("float32", 22), ("float64", 178)])
def test_divergence_stops_at_first_non_finite_epoch(folder, tmp_path, dtype, first_bad):
    runs = tmp_path / "runs"
    result = train(folder / "spec_diverge.yaml", runs, "--set", f"dtype={dtype}")
    text = assert_refused(result, 4, f"epoch {first_bad}")
    assert re.search(r"\b(inf|nan)\b", text)  # the non-finite value
    assert re.search(r"learning.rate", text)  # what to try
    assert len(text.splitlines()) == 1
    assert "RuntimeWarning" not in result.stderr  # overflow is handled, not warned

    np_dtype = np.dtype(dtype).type
    losses, _, _ = reference(0.5, first_bad, np_dtype)
    assert len(losses) == first_bad and not math.isfinite(losses[-1])

    run_dir = _diverged_run(runs)
    rows = metrics(run_dir)
    assert [r["epoch"] for r in rows] == list(range(1, first_bad))  # none dropped
    got = [r["loss"] for r in rows]
    assert all(math.isfinite(v) for v in got)
    np.testing.assert_allclose(
        got[:5], [41, 2214.375, 119635.46875, 6.46354e6, 3.49206e8], rtol=1e-5
    )
    np.testing.assert_allclose(got, losses[:-1], rtol=1e-4)

    s = summary(run_dir)
    assert s["status"] == "diverged" and s["epochs_run"] == first_bad - 1
    assert f"epoch {first_bad}" in s["message"]

    # the weights on disk are the last finite state: after epoch first_bad - 1
    _, w_ref, b_ref = reference(0.5, first_bad - 1, np_dtype)
    w = weights(run_dir)
    assert all(np.isfinite(v).all() for v in w.values())
    np.testing.assert_allclose(w["layers.0.kernel"], [[w_ref]], rtol=1e-4)
    np.testing.assert_allclose(w["layers.0.bias"], [b_ref], rtol=1e-4)


def test_sane_learning_rate_control(folder, tmp_path):
    run_dir, _ = train_ok(folder / "spec_ok.yaml", tmp_path / "runs")
    rows = metrics(run_dir)
    assert len(rows) == 200
    assert rows[0]["loss"] == pytest.approx(41.0, rel=1e-4)
    assert rows[-1]["loss"] == pytest.approx(0.00415944, rel=1e-4)
    w = weights(run_dir)
    np.testing.assert_allclose(w["layers.0.kernel"], [[2.0535154]], rtol=1e-4)
    np.testing.assert_allclose(w["layers.0.bias"], [0.8426594], rtol=1e-4)
    losses, _, _ = reference(0.01, 200, np.float64)
    np.testing.assert_allclose([r["loss"] for r in rows], losses, rtol=1e-4)
    assert summary(run_dir)["status"] == "completed"


def test_eval_and_predict_of_the_diverged_run_report_inf_without_warnings(
    folder, tmp_path
):
    # pytest turns warnings into errors: a numpy overflow warning would fail here
    runs = tmp_path / "runs"
    assert train(folder / "spec_diverge.yaml", runs).exit_code == 4
    run_dir = _diverged_run(runs)
    result = cli("eval", run_dir, "--data", folder / "train.csv", "--json")
    assert result.exit_code == 0, result.stderr
    # strict JSON has no Infinity: a non-finite loss is reported as null
    assert json.loads(result.stdout)["metrics"]["loss"] is None
    text = cli("eval", run_dir, "--data", folder / "train.csv").stdout
    assert "loss: inf" in text
    outputs = [r["output"][0] for r in predict(run_dir, folder / "train.csv")]
    assert all(math.isfinite(v) for v in outputs)
