"""CASE-017: tab characters in the YAML spec.

Sources: Torom/BotLi#195 (PyYAML traceback on a tab), yaml/pyyaml#450 (a tab
before a comment is valid YAML 1.2 but rejected by PyYAML), moraes/config#1.
Both specs are refused before anything is written, in one line with the file,
line and column, saying it is a tab and that YAML wants spaces. (The case also
allows parsing the tab-before-comment spec; nncli rejects it with its exact
position. The translated spec keeps it on line 19; the column is 10 because
`epochs` moved to the top level, i.e. two columns left of the case's 12.)
"""

from __future__ import annotations

import pytest
from casekit import assert_no_runs, assert_refused, case, train


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-017")


def test_fixture_keeps_the_tabs(folder):
    lines = (folder / "spec_tab_indent.yaml").read_text().splitlines()
    assert lines[9].startswith("\tlayers:")
    lines = (folder / "spec_tab_comment.yaml").read_text().splitlines()
    assert lines[18] == "epochs: 1\t# one epoch"


def test_tab_indentation(folder, tmp_path):
    runs = tmp_path / "runs"
    text = assert_refused(
        train(folder / "spec_tab_indent.yaml", runs),
        2,
        "spec_tab_indent.yaml:10:1:",
        "tab",
        "spaces",
    )
    assert len(text.splitlines()) == 1
    assert_no_runs(runs)


def test_tab_before_a_comment(folder, tmp_path):
    runs = tmp_path / "runs"
    text = assert_refused(
        train(folder / "spec_tab_comment.yaml", runs),
        2,
        "spec_tab_comment.yaml:19:10:",
        "tab",
        "spaces",
    )
    assert len(text.splitlines()) == 1
    assert_no_runs(runs)


def test_debug_shows_the_traceback(folder, tmp_path):
    result = train(folder / "spec_tab_indent.yaml", tmp_path / "runs", "--debug")
    assert result.exit_code != 0
    assert result.exception is not None  # re-raised for the full traceback
