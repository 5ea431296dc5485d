"""CASE-024: empty data files.

Sources: axelspringer/DeepPhonemizer#2 and sohaib023/siamese-pytorch#1
(ZeroDivisionError after zero samples were loaded), meta-llama/
synthetic-data-kit#8. A header-only, 0-byte or blank-only training file and an
empty validation file are refused before the first step, naming the file, its
role and "0 data rows"; no traceback, no run directory, no weights.
"""

from __future__ import annotations

import re

import pytest
from casekit import assert_no_runs, assert_refused, case, train


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-024")


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ("spec_header_only.yaml", ["training file header_only.csv", "0 data rows"]),
        (
            "spec_zero_bytes.yaml",
            ["training file zero_bytes.csv", "is empty", "0 data rows", "no header"],
        ),
        ("spec_blank_lines.yaml", ["training file blank_lines.csv", "0 data rows"]),
        (
            "spec_empty_validation.yaml",
            ["validation file header_only.csv", "0 data rows"],
        ),
    ],
)
def test_empty_files_are_refused(folder, tmp_path, spec, fragments):
    runs = tmp_path / "runs"
    result = train(folder / spec, runs)
    text = assert_refused(result, 3, *fragments)
    assert len(text.splitlines()) == 1
    for crash in (r"ZeroDivisionError", r"IndexError", r"\bnan\b", r"0/0"):
        assert not re.search(crash, result.stderr, re.IGNORECASE), result.stderr
    assert_no_runs(runs)
