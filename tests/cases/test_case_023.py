"""CASE-023: features and labels in two files with different row counts.

Sources: keras-team/keras#4850 ("Input arrays should have the same number of
samples as target arrays"), tensorflow/tensorflow#48660 ("Data cardinality is
ambiguous"). 5 feature rows vs 4 label rows are refused naming both files and
both counts (never truncated: that would give loss 2.5); a trailing blank line
is not a data row, so 5 vs 5 trains with loss 2.8.
"""

from __future__ import annotations

import pytest
from casekit import assert_no_runs, assert_refused, case, summary, train, train_ok


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-023")


def test_row_count_mismatch_is_refused(folder, tmp_path):
    runs = tmp_path / "runs"
    text = assert_refused(
        train(folder / "spec_mismatch.yaml", runs),
        3,
        "features.csv",
        "labels_4rows.csv",
        "5",
        "4",
    )
    assert "5 data rows" in text and "has 4" in text
    assert len(text.splitlines()) == 1
    assert_no_runs(runs)


def test_trailing_blank_line_is_not_a_row(folder, tmp_path):
    assert (folder / "labels_5rows_trailing_blank.csv").read_text().endswith("2\n\n")
    run_dir, out = train_ok(folder / "spec_trailing_blank.yaml", tmp_path / "runs")
    assert out["metrics"]["loss"] == pytest.approx(2.8, rel=1e-5)  # not 2.5
    assert summary(run_dir)["train_samples"] == 5
