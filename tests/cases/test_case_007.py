"""CASE-007: binary accuracy when the model outputs logits.

Sources: tensorflow/tensorflow#41413 (accuracy thresholded logits at 0.5),
CompVis/adaptive-style-transfer#4 (`pred > 0.5` on logits). A linear output with
`from_logits: true` and the same model through a sigmoid must report the same
loss 0.399506117 and accuracy 1.0 (logit > 0), never 0.666667 (logit > 0.5).
"""

from __future__ import annotations

import numpy as np
import pytest
from casekit import case, predict, summary, train_ok

Z = np.array([0.3, -0.2, 0.7, 2.0, -1.5, 0.4])
PROBS = [0.574443, 0.450166, 0.668188, 0.880797, 0.182426, 0.598688]


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-007")


@pytest.mark.parametrize("spec", ["spec_logits.yaml", "spec_probs.yaml"])
def test_logits_and_probabilities_report_the_same(folder, tmp_path, spec):
    run_dir, out = train_ok(folder / spec, tmp_path / "runs")
    assert out["metrics"]["loss"] == pytest.approx(0.399506117, rel=1e-5)
    assert out["metrics"]["accuracy"] == 1.0  # not 0.666667
    assert summary(run_dir)["metric_kinds"] == {"accuracy": "binary_accuracy"}


def test_predictions_are_probabilities_or_the_logits_that_give_them(folder, tmp_path):
    probs_run, _ = train_ok(folder / "spec_probs.yaml", tmp_path / "a")
    logits_run, _ = train_ok(folder / "spec_logits.yaml", tmp_path / "b")
    data = folder / "train.csv"
    p = [row["output"][0] for row in predict(probs_run, data)]
    np.testing.assert_allclose(p, PROBS, atol=1e-6)
    rows = predict(logits_run, data)
    z = np.array([row["output"][0] for row in rows])  # the raw logits, as Keras
    np.testing.assert_allclose(z, Z, rtol=1e-6)
    # ... and what they mean: probabilities through the sigmoid
    np.testing.assert_allclose(
        [row["probabilities"][0] for row in rows], PROBS, atol=1e-6
    )
    assert all("probabilities" not in row for row in predict(probs_run, data))
