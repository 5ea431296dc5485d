"""CASE-019: unknown, misspelled or misplaced keys must not be ignored.

Sources: LabeliaLabs/distributed-learning-contributivity#184, unslothai/unsloth
PR #10452, haddocking/haddock3 PR #83 (typos fell back to defaults silently).
Each bad spec is refused at validation (exit 2, nothing written) with the key
path, its line and a suggestion; the control takes one SGD step at lr 0.5
(kernel 5.0, bias 3.0 -- 0.1/0.06 would mean a default rate was used). In
nncli `epochs` is a top-level key, so the case's `training.Epochs` is `Epochs`.
"""

from __future__ import annotations

import numpy as np
import pytest
from casekit import RTOL, assert_no_runs, assert_refused, case, train, train_ok, weights


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-019")


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        (
            "spec_typo.yaml",
            [
                "spec_typo.yaml:19:",
                "optimizer.learnig_rate",
                "unknown key",
                "did you mean 'learning_rate'",
            ],
        ),
        (
            "spec_misplaced.yaml",
            [
                "spec_misplaced.yaml:19:",
                "learning_rate",
                "top level",
                "belongs under 'optimizer'",
            ],
        ),
        (
            "spec_case.yaml",
            ["spec_case.yaml:21:", "Epochs", "case-sensitive", "did you mean 'epochs'"],
        ),
    ],
)
def test_bad_keys_are_refused(folder, tmp_path, spec, fragments):
    runs = tmp_path / "runs"
    text = assert_refused(train(folder / spec, runs), 2, *fragments)
    assert len(text.splitlines()) == 1  # one message for the one problem
    assert_no_runs(runs)


def test_control_uses_the_written_learning_rate(folder, tmp_path):
    run_dir, _ = train_ok(folder / "spec_ok.yaml", tmp_path / "runs")
    w = weights(run_dir)
    np.testing.assert_allclose(w["layers.0.kernel"], [[5.0]], rtol=RTOL)
    np.testing.assert_allclose(w["layers.0.bias"], [3.0], rtol=RTOL)
