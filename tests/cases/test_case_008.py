"""CASE-008: what "accuracy" means for a multi-class softmax output.

Sources: stackoverflow.com/q/41327601 (binary_crossentropy on 10 softmax units
made Keras report inflated element-wise accuracy), keras-team/keras PR #3098
(3-class target [0,0,1] vs all-zero prediction scored 2/3). nncli picks the
accuracy from the output and label layout, not the loss name: plain
`accuracy` on a 3-unit softmax is arg-max accuracy 0.25 with either loss, the
run records which one was used, and BCE on a softmax gets a warning.
"""

from __future__ import annotations

import pytest
from casekit import case, metrics, summary, train_ok

CCE, BCE = 1.407605964, 0.813153786


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-008")


def _warned(text: str) -> bool:
    return "warning:" in text and "categorical_crossentropy" in text


def test_categorical_loss_with_accuracy(folder, tmp_path):
    run_dir, out = train_ok(folder / "spec_cce.yaml", tmp_path / "runs")
    assert out["metrics"]["loss"] == pytest.approx(CCE, rel=1e-5)
    assert out["metrics"]["accuracy"] == 0.25
    assert summary(run_dir)["metric_kinds"] == {"accuracy": "categorical_accuracy"}
    assert not _warned(out["stderr"])


def test_binary_loss_on_softmax_warns_and_reports_argmax_accuracy(folder, tmp_path):
    run_dir, out = train_ok(folder / "spec_bce.yaml", tmp_path / "runs")
    assert out["metrics"]["loss"] == pytest.approx(BCE, rel=1e-5)
    assert out["metrics"]["accuracy"] == 0.25  # not the element-wise 0.5
    assert metrics(run_dir)[0]["accuracy"] == 0.25
    s = summary(run_dir)
    assert s["metric_kinds"] == {"accuracy": "categorical_accuracy"}  # which one
    # the warning comes before training, on the console and in the summary
    console = out["stderr"]
    assert _warned(console) and "3-unit softmax" in console
    assert console.index("warning:") < console.index("epoch 1/")
    assert any("categorical_crossentropy" in w for w in s["warnings"])


def test_explicit_metric_names(folder, tmp_path):
    run_dir, out = train_ok(folder / "spec_bce_explicit.yaml", tmp_path / "runs")
    assert out["metrics"]["loss"] == pytest.approx(BCE, rel=1e-5)
    assert out["metrics"]["categorical_accuracy"] == 0.25
    assert out["metrics"]["binary_accuracy"] == 0.5
    assert summary(run_dir)["metric_kinds"] == {
        "categorical_accuracy": "categorical_accuracy",
        "binary_accuracy": "binary_accuracy",
    }
