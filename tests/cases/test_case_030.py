"""CASE-030: exit codes CI can rely on.

Sources: crowdin/crowdin-cli#77 (every error exited 0, so `... && echo
Success!` printed Success), rlworkgroup/garage PR #544, microsoft/AzureTRE#1362.
0 only for success and --help; every failure non-zero with its message on
stderr (not stdout), no traceback: a missing spec (2), broken YAML with its
line and column (2), a missing data file with its resolved path (3), usage
errors (2). Divergence (4) and Ctrl-C (130) are tested in CASE-005/028. The
codes are documented in the README.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from casekit import (
    REPO,
    assert_no_runs,
    assert_refused,
    case,
    child_env,
    cli,
    nncli_cmd,
    train,
)


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-030")


def test_success(folder, tmp_path):
    result = train(folder / "spec_ok.yaml", tmp_path / "runs")
    assert result.exit_code == 0, result.stderr
    assert "error" not in result.stderr


def test_missing_spec_file(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(folder)
    runs = tmp_path / "runs"
    result = train("does_not_exist.yaml", runs)
    assert_refused(
        result,
        2,
        "does_not_exist.yaml",
        "not found",
        str(folder / "does_not_exist.yaml"),
    )
    assert result.stdout == ""  # errors go to stderr
    assert_no_runs(runs)


def test_broken_yaml(folder, tmp_path):
    runs = tmp_path / "runs"
    text = assert_refused(
        train(folder / "spec_broken_yaml.yaml", runs),
        2,
        "spec_broken_yaml.yaml:",
        "invalid YAML",
    )
    line, column = map(int, re.search(r"\.yaml:(\d+):(\d+):", text).groups())
    assert line in (9, 10) and column > 0
    assert_no_runs(runs)


def test_missing_data_file(folder, tmp_path):
    runs = tmp_path / "runs"
    result = train(folder / "spec_missing_data.yaml", runs)
    assert_refused(result, 3, "no_such_file.csv", str(folder / "no_such_file.csv"))
    assert result.stdout == ""
    assert_no_runs(runs)


def test_help_is_success():
    result = cli("--help")
    assert result.exit_code == 0
    assert "train" in result.stdout


@pytest.mark.parametrize(
    "args", [["--no-such-option"], ["train"], ["train", "x.yaml", "--no-such-option"]]
)
def test_usage_errors(args):
    result = cli(*args)
    assert result.exit_code == 2
    error, hint = result.stderr.splitlines()  # one error line, then the help hint
    assert error.startswith("error: ") and hint.endswith("--help' for help.")
    assert "Traceback" not in result.stderr


def test_and_chain_stops_after_an_error(folder):
    cmd = " ".join(nncli_cmd("train", "does_not_exist.yaml"))
    done = subprocess.run(
        ["bash", "-c", f"{cmd} && echo OK"],
        cwd=folder,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "OK" not in done.stdout
    assert done.stderr.startswith("error: ")


def test_exit_codes_are_documented():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Exit codes") :]
    for code in ("0", "1", "2", "3", "4", "5", "130", "143"):
        assert re.search(rf"\b{code}\b", section), code
