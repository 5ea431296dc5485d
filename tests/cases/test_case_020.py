"""CASE-020: relative data paths resolve against the spec file, not the cwd.

Sources: EducationalTestingService/skll#213, artic-network/rampart#21,
rakhimov/scram#172. `data.train: ../data/train.csv` in project/configs/exp.yaml
means project/data/train.csv (loss 18.667) from any working directory; the
decoy CASE-020/data/train.csv (loss 46666.7) is what a cwd-relative reading
from project/ would find. A missing file shows the path as written and the
absolute path it resolved to.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from casekit import assert_no_runs, assert_refused, case, cli, summary, train, train_ok

REAL_LOSS = 56 / 3  # mean(2², 4², 6²)


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-020")


@pytest.mark.parametrize(
    ("cwd", "spec"),
    [
        ("project", "configs/exp.yaml"),
        ("project/configs", "exp.yaml"),
        ("/", None),  # absolute spec path
    ],
)
def test_paths_resolve_against_the_spec_from_any_cwd(
    folder, tmp_path, monkeypatch, cwd, spec
):
    spec_path = folder / "project/configs/exp.yaml"
    monkeypatch.chdir(folder / cwd if cwd != "/" else "/")
    run_dir, out = train_ok(spec or spec_path, tmp_path / "runs")
    assert out["metrics"]["loss"] == pytest.approx(REAL_LOSS, rel=1e-5)  # not 46666.7
    real = (folder / "project/data/train.csv").resolve()
    assert summary(run_dir)["data_sources"]["training"] == str(real)
    saved = yaml.safe_load((run_dir / "spec.yaml").read_text())
    assert saved["data"]["train"] == str(real)


def test_default_runs_dir_is_under_the_cwd(folder, monkeypatch):
    # documented in the README: runs/ is relative to the current directory
    monkeypatch.chdir(folder / "project")
    result = cli("train", "configs/exp.yaml", "--quiet")
    assert result.exit_code == 0, result.stderr
    run_dir = Path(result.stdout.strip())
    runs = (folder / "project/runs").resolve()
    assert (folder / "project" / run_dir).resolve().parent == runs


def test_missing_file_shows_written_and_resolved_paths(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(folder / "project")
    runs = tmp_path / "runs"
    resolved = (folder / "project/data/does_not_exist.csv").resolve()
    text = assert_refused(
        train("configs/exp_missing.yaml", runs),
        3,
        "../data/does_not_exist.csv",
        str(resolved),
        "relative paths are resolved against the spec file's directory",
    )
    assert len(text.splitlines()) == 1
    assert_no_runs(runs)
