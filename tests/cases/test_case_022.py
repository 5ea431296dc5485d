"""CASE-022: missing values ("?", an empty cell, "NaN") in the CSV.

Sources: radiasoft/sirepo#2983 (auto-mpg's `?` horsepower gave NaN losses),
deeplearning4j/deeplearning4j#5211 (NaN accepted silently), ludwig-ai/ludwig#807
(a drop-row strategy was added). By default the run is refused before
training, listing all 3 cells with row and column and naming data.missing;
with `missing: drop` the 3 rows are dropped (and said so) and the loss over the
remaining mpg 18, 19, 15 is 303.333.
"""

from __future__ import annotations

import pytest
from casekit import assert_no_runs, assert_refused, case, summary, train, train_ok


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-022")


def test_missing_cells_are_listed_and_refused(folder, tmp_path):
    runs = tmp_path / "runs"
    text = assert_refused(
        train(folder / "spec_default.yaml", runs),
        3,
        "train.csv",
        "3 missing values",
        "row 2 column 'horsepower' = '?'",
        "row 4 column 'weight' is empty",
        "row 5 column 'horsepower' = 'NaN'",
        "data.missing: drop",
    )
    assert len(text.splitlines()) == 1
    assert_no_runs(runs)


def test_drop_keeps_complete_rows(folder, tmp_path):
    run_dir, out = train_ok(folder / "spec_drop.yaml", tmp_path / "runs")
    assert out["metrics"]["loss"] == pytest.approx(303.333333, rel=1e-5)
    assert "dropped 3 of 6 training rows" in out["stderr"]
    assert "rows 2, 4, 5" in out["stderr"]
    assert summary(run_dir)["train_samples"] == 3


@pytest.mark.parametrize(
    ("cell", "shown"), [("?", "= '?'"), ("", "is empty"), ("NaN", "= 'NaN'")]
)
def test_validation_targets_are_checked_too(folder, tmp_path, cell, shown):
    (folder / "clean.csv").write_text(
        "cylinders,horsepower,weight,mpg\n8,130,3.504,18\n6,100,2.634,19\n"
    )
    (folder / "valid.csv").write_text(
        "cylinders,horsepower,weight,mpg\n8,130,3.504,18\n6,100,2.634," + cell + "\n"
    )
    runs = tmp_path / "runs"
    result = train(
        folder / "spec_default.yaml",
        runs,
        "--set",
        "data.train=clean.csv",
        "--set",
        "data.validation=valid.csv",
    )
    assert_refused(
        result, 3, "validation file valid.csv", f"row 2 column 'mpg' {shown}"
    )
    assert_no_runs(runs)
    # with data.missing: drop, incomplete validation rows are dropped the same way
    run_dir, out = train_ok(
        folder / "spec_drop.yaml",
        runs,
        "--set",
        "data.train=clean.csv",
        "--set",
        "data.validation=valid.csv",
    )
    assert "dropped 1 of 2 validation rows" in out["stderr"]
    assert summary(run_dir)["validation_samples"] == 1
