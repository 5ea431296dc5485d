"""max_time: a wall-clock budget checked after every step. A run out of time
stops cleanly (exit 0, status `stopped`, one line on stderr), keeps only its
finished epochs, and `--resume` continues it byte-identically."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nncli.cli import app
from nncli.train.loop import Budget

runner = CliRunner()

# 160 training samples in batches of 16: 10 steps per epoch
SPEC = """\
name: budget
seed: 2
data: {dataset: {type: moons, n_samples: 200, noise: 0.2}, validation_split: 0.2}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 8, activation: relu}
    - {type: dropout, rate: 0.1}
    - {type: dense, units: 1, activation: sigmoid}
loss: binary_crossentropy
optimizer: {type: adam, learning_rate: 0.02}
metrics: [accuracy]
epochs: 6
batch_size: 16
"""


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def spec_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "budget.yaml"
    path.write_text(SPEC + extra)
    return path


@pytest.fixture
def ticking(monkeypatch):
    """A clock that advances one second each time it is read: the budget then
    runs out at a known step, whatever the machine's speed."""
    ticks = itertools.count()
    monkeypatch.setattr(Budget, "clock", staticmethod(lambda: float(next(ticks))))


def _rows(run: Path) -> list[list[str]]:
    with (run / "metrics.csv").open(newline="") as f:
        return [r[:-1] for r in csv.reader(f)]  # all but `seconds`


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def _run_dir(result) -> Path:
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("max_time", "kept", "where"),
    [
        # reads: 1 at the start, then 1 per step and 1 after each epoch, so
        # 25.5 s runs out at read 26 = epoch 3, step 4; 10.5 s at the check
        # after epoch 1 (read 11)
        (25.5, 2, "in epoch 3 (batch 4 of 10, not kept)"),
        (10.5, 1, "after epoch 1"),
    ],
)
def test_out_of_time_stops_cleanly_and_resumes_identically(
    tmp_path, ticking, max_time, kept, where
):
    straight = _run_dir(
        invoke("train", spec_file(tmp_path), "--runs-dir", tmp_path / "a")
    )

    spec = spec_file(tmp_path, f"max_time: {max_time}\n")
    result = invoke("train", spec, "--runs-dir", tmp_path / "b")
    run = _run_dir(result)
    summary = _summary(run)
    assert summary["status"] == "stopped" and summary["epochs_run"] == kept
    assert summary["stopped"].startswith(f"max_time of {max_time:g} s reached {where}")
    assert f"the run holds {kept} of 6 epochs" in summary["stopped"]
    assert f"nncli train --resume {run}" in summary["stopped"]
    lines = [line for line in result.stderr.splitlines() if "max_time" in line]
    assert lines == [f"warning: {summary['stopped']}"]
    assert len(_rows(run)) == kept + 1  # header + finished epochs only
    assert _rows(run) == _rows(straight)[: kept + 1]

    # a new budget for the rest (max_time may change on resume: not a result)
    again = invoke("train", "--resume", run, "--set", "max_time=1000", "-q")
    assert _run_dir(again) == run
    assert _summary(run)["status"] == "completed" and "stopped" not in _summary(run)
    assert (run / "weights.safetensors").read_bytes() == (
        straight / "weights.safetensors"
    ).read_bytes()
    assert _rows(run) == _rows(straight)


def test_the_last_epoch_is_never_cut_by_the_check_after_it(tmp_path, ticking):
    # 6 epochs take 6 * 10 steps + 5 checks between epochs = 65 reads after
    # the start: a budget of 65.5 s is exactly enough
    run = _run_dir(
        invoke("train", spec_file(tmp_path, "max_time: 65.5\n"), "--runs-dir", tmp_path)
    )
    assert _summary(run)["status"] == "completed" and _summary(run)["epochs_run"] == 6


def test_a_real_budget_stops_a_long_training(tmp_path):
    spec = spec_file(tmp_path, "max_time: 0.3\n")
    result = invoke(
        "train", spec, "--runs-dir", tmp_path, "--set", "epochs=100000", "--json", "-q"
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["status"] == "stopped" and out["stopped"].startswith("max_time of 0.3 s")
    assert out["epochs_run"] < 100000
    summary = _summary(Path(out["run_dir"]))
    assert summary["wall_seconds"] < 30  # it did stop (the whole would take hours)
    assert summary["epochs_run"] == len(_rows(Path(out["run_dir"]))) - 1


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("0", "expected a value > 0.0, got 0"),
        ("-5", "expected a value > 0.0, got -5"),
        ("soon", "expected a number, got 'soon'"),
        ("true", "expected a number"),
        (".inf", "finite"),
    ],
)
def test_max_time_must_be_a_positive_number(tmp_path, value, words):
    result = invoke("validate", spec_file(tmp_path, f"max_time: {value}\n"))
    assert result.exit_code == 2
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert "budget.yaml:15:" in line and ": max_time: " in line and words in line
