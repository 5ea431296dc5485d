"""CASE-015: `learning_rate: 1e-3` must be the number 0.001.

Sources: rbgirshick/yacs#46, beetbox/confuse#91, huggingface/trl PR #1450
(PyYAML's YAML 1.1 float rule reads `1e-3` as a string). nncli's loader uses
YAML 1.2 floats, so 1e-3, 1E-3 and 0.001 train identically (loss 10.0, kernel
0.01, bias 0.006) and the saved spec holds a number; `fast` is refused at
validation naming optimizer.learning_rate, its line and the value.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from casekit import RTOL, assert_no_runs, assert_refused, case, train, train_ok, weights


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-015")


@pytest.mark.parametrize(
    "spec", ["spec_sci.yaml", "spec_sci_upper.yaml", "spec_decimal.yaml"]
)
def test_scientific_notation_is_a_number(folder, tmp_path, spec):
    run_dir, out = train_ok(folder / spec, tmp_path / "runs")
    assert out["metrics"]["loss"] == pytest.approx(10.0, rel=RTOL)
    w = weights(run_dir)
    np.testing.assert_allclose(w["layers.0.kernel"], [[0.01]], rtol=RTOL)
    np.testing.assert_allclose(w["layers.0.bias"], [0.006], rtol=RTOL)
    saved = (run_dir / "spec.yaml").read_text()
    lr = yaml.safe_load(saved)["optimizer"]["learning_rate"]
    assert isinstance(lr, float) and lr == 0.001
    assert "learning_rate: 0.001" in saved  # unquoted


def test_not_a_number_is_refused_with_key_line_and_value(folder, tmp_path):
    runs = tmp_path / "runs"
    text = assert_refused(
        train(folder / "spec_bad.yaml", runs),
        2,
        "spec_bad.yaml:19:",
        "optimizer.learning_rate",
        "expected a number",
        "'fast'",
    )
    assert len(text.splitlines()) == 1
    assert_no_runs(runs)
