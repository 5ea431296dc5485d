"""Stop a training anyhow and resume it: the result is byte-identical to a
run that never stopped. Stops: the planned end of fewer epochs, Ctrl-C,
SIGTERM and kill -9 at a random moment (after which every file in the run
directory must still be complete)."""

from __future__ import annotations

import csv
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.numpy import load_file
from typer.testing import CliRunner

from nncli.cli import app

# dropout, adam, early stopping and a plateau schedule: all state that must
# survive a stop (RNGs, slots, counters, the learning rate)
SPEC = """\
name: res
seed: 5
data: {dataset: {type: moons, n_samples: 15000, noise: 0.25}, validation_split: 0.2}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 32, activation: relu}
    - {type: dropout, rate: 0.2}
    - {type: dense, units: 1, activation: sigmoid}
loss: binary_crossentropy
optimizer: {type: adam, learning_rate: 0.02}
metrics: [accuracy]
epochs: EPOCHS
batch_size: 4
callbacks:
  - {type: reduce_lr_on_plateau, patience: 1, factor: 0.5, min_delta: 0.01}
  - {type: early_stopping, patience: 100, restore_best_weights: true}
"""
FILES = [
    "spec.yaml",
    "metrics.csv",
    "weights.safetensors",
    "preprocessing.json",
    "summary.json",
    "checkpoint.safetensors",
    "split.npz",
]
runner = CliRunner()


def _spec(tmp_path: Path, epochs: int) -> Path:
    path = tmp_path / f"res{epochs}.yaml"
    path.write_text(SPEC.replace("EPOCHS", str(epochs)))
    return path


def _train(*args) -> Path:
    result = runner.invoke(app, ["train", "-q", *map(str, args)])
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


def _rows(run: Path) -> list[list[str]]:
    with (run / "metrics.csv").open(newline="") as f:
        return [r[:-1] for r in csv.reader(f)]  # all but `seconds`


def _same_result(a: Path, b: Path) -> None:
    assert (a / "weights.safetensors").read_bytes() == (
        b / "weights.safetensors"
    ).read_bytes()
    assert _rows(a) == _rows(b)
    sa, sb = (json.loads((r / "summary.json").read_text()) for r in (a, b))
    assert sa["status"] == sb["status"] == "completed"
    assert sa["best"] == sb["best"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("straight")
    return _train(_spec(tmp, 12), "--runs-dir", tmp / "runs")


def test_resume_after_fewer_epochs_is_identical(tmp_path, straight):
    run = _train(_spec(tmp_path, 3), "--runs-dir", tmp_path / "runs")
    again = _train("--resume", run, "--set", "epochs=12")
    assert again == run
    _same_result(straight, run)
    summary = json.loads((run / "summary.json").read_text())
    assert [r["after_epoch"] for r in summary["resumed"]] == [3]


def _files_are_complete(run: Path) -> None:
    for name in FILES:
        assert (run / name).exists(), name
    json.loads((run / "summary.json").read_text())
    json.loads((run / "preprocessing.json").read_text())
    load_file(run / "weights.safetensors")
    load_file(run / "checkpoint.safetensors")
    with (run / "metrics.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert all(len(r) == len(rows[0]) for r in rows)
    for r in rows[1:]:
        [float(v) for v in r]


def _start(spec: Path, runs: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nncli", "train", str(spec), "--runs-dir", str(runs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**__import__("os").environ, "CI": "1"},
    )


def _wait_for_run(runs: Path, proc: subprocess.Popen, rows: int) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for metrics in runs.glob("*/metrics.csv"):
            with metrics.open(newline="") as f:
                if len(list(csv.reader(f))) > rows:
                    return metrics.parent
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("training did not start")


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGKILL, -9)]
)
def test_stopped_by_a_signal_then_resumed_is_identical(tmp_path, straight, sig, code):
    spec = _spec(tmp_path, 12)
    proc = _start(spec, tmp_path / "runs")
    run = _wait_for_run(tmp_path / "runs", proc, 1)
    # epochs take ~0.25 s here: the signal lands within epochs 2-5 of 12
    time.sleep(random.Random(sig).uniform(0.0, 0.8))
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode == code
    _files_are_complete(run)
    again = _train("--resume", run)
    assert again == run
    _same_result(straight, run)


def test_a_run_records_what_reproduces_it(tmp_path):
    """Data file hashes, the split's source rows, versions and the command."""
    import hashlib

    import numpy as np

    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a:.4f},{b:.4f},{int(a > b)}" for a, b in rng.random((40, 2)))
    data = tmp_path / "pairs.csv"
    data.write_text("a,b,label\n" + rows + "\n")
    spec = tmp_path / "pairs.yaml"
    spec.write_text(
        "data: {train: pairs.csv, target: label, validation_split: 0.25}\n"
        "model: {input_shape: [2], layers: [{type: dense, units: 1, "
        "activation: sigmoid}]}\nloss: binary_crossentropy\n"
    )
    run = _train(spec, "--runs-dir", tmp_path / "runs")
    summary = json.loads((run / "summary.json").read_text())
    want = hashlib.sha256(data.read_bytes()).hexdigest()
    assert summary["data_files"] == {str(data.resolve()): want}
    assert set(summary["data_sha256"]) == {"training", "validation"}
    assert summary["versions"]["numpy"] == np.__version__
    assert summary["seed"] == 0 and isinstance(summary["command"], list)
    with np.load(run / "split.npz") as split:
        train, val = split["train_rows"], split["validation_rows"]
    assert len(train) == 30 and len(val) == 10
    assert sorted([*train, *val]) == list(range(1, 41))


def test_an_extension_interrupted_then_plainly_resumed_reaches_its_end(
    tmp_path, straight
):
    """--set epochs=N is written into the run's spec.yaml, so a plain --resume
    after a stop continues to N (and the result is still byte-identical)."""
    run = _train(_spec(tmp_path, 3), "--runs-dir", tmp_path / "runs")
    proc = subprocess.Popen(
        [sys.executable, "-m", "nncli", "train", "--resume", str(run)]
        + ["--set", "epochs=12"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**__import__("os").environ, "CI": "1"},
    )
    _wait_for_run(tmp_path / "runs", proc, 1 + 4)  # epoch 4 is on disk
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "epochs: 12\n" in (run / "spec.yaml").read_text()
    assert _train("--resume", run) == run
    _same_result(straight, run)
    summary = json.loads((run / "summary.json").read_text())
    changes = [r["changes"] for r in summary["resumed"]]
    assert changes[0] == ["epochs: run has 3, now 12"] and changes[1] == []


SMALL = """\
name: small
seed: 3
data: {train: pairs.csv, target: label, validation_split: 0.25}
model: {input_shape: [2], layers: [{type: dense, units: 1, activation: sigmoid}]}
loss: binary_crossentropy
epochs: 2
batch_size: 10
max_time: 1000
"""


def _small(tmp_path: Path) -> Path:
    import numpy as np

    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a:.4f},{b:.4f},{int(a > b)}" for a, b in rng.random((40, 2)))
    (tmp_path / "pairs.csv").write_text("a,b,label\n" + rows + "\n")
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL)
    return spec


def test_a_plain_resume_after_a_timed_out_extension_goes_on(tmp_path, monkeypatch):
    """epochs 2, resumed with epochs=4 and stopped by max_time after epoch 3:
    `--resume RUN` (what the stop message suggests) trains epoch 4."""
    from nncli.train import run as run_module

    spec = _small(tmp_path)
    straight = _train(spec, "--runs-dir", tmp_path / "straight", "--set", "epochs=4")
    run = _train(spec, "--runs-dir", tmp_path / "runs")

    class OneEpoch(run_module.Budget):
        """Runs out at the end of the first epoch it sees (3 steps)."""

        calls = 0

        def exceeded(self) -> bool:
            self.calls += 1
            return self.calls > 3  # 3 step checks, then the epoch's end

    with monkeypatch.context() as m:
        m.setattr(run_module, "Budget", OneEpoch)
        result = runner.invoke(
            app, ["train", "--resume", str(run), "--set", "epochs=4"]
        )
    assert result.exit_code == 0, result.output
    assert f"nncli train --resume {run}" in result.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["epochs_run"] == 3
    _train("--resume", run)
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["status"], summary["epochs_run"]) == ("completed", 4)
    assert (run / "weights.safetensors").read_bytes() == (
        straight / "weights.safetensors"
    ).read_bytes()
    # and a longer run stays longer: no "finished 6 of 4 epochs"
    _train("--resume", run, "--set", "epochs=6")
    result = runner.invoke(app, ["train", "--resume", str(run)])
    assert result.exit_code == 0
    assert "nothing to resume" in result.stderr and "all 6 epochs" in result.stderr


def test_resume_of_a_finished_run_is_a_quiet_success(tmp_path):
    """A CI script that reruns `train --resume RUN` is idempotent: exit 0, one
    line on stderr, the run's path (or its JSON) as after the training."""
    run = _train(_small(tmp_path), "--runs-dir", tmp_path / "runs")
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    result = runner.invoke(app, ["train", "-q", "--resume", str(run)])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"nothing to resume: {run} has finished all 2 epochs; train longer "
        "with --set epochs=N"
    ]
    assert result.stdout.strip() == str(run)
    as_json = runner.invoke(app, ["train", "-q", "--resume", str(run), "--json"])
    assert as_json.exit_code == 0
    out = json.loads(as_json.stdout)
    assert (out["status"], out["epochs_run"]) == ("completed", 2)
    assert before == {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}


def test_resume_with_fewer_epochs_than_run_is_a_usage_error(tmp_path):
    run = _train(_small(tmp_path), "--runs-dir", tmp_path / "runs")
    result = runner.invoke(
        app, ["train", "-q", "--resume", str(run), "--set", "epochs=1"]
    )
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: cannot resume ")
    assert "finished 2 epochs, more than the 1 the spec asks for" in line


def test_resume_refuses_changed_data_unless_forced(tmp_path):
    spec = _small(tmp_path)
    run = _train(spec, "--runs-dir", tmp_path / "runs")
    data = tmp_path / "pairs.csv"
    data.write_text(data.read_text().replace("0.", "0.1", 1))
    result = runner.invoke(app, ["train", "--resume", str(run), "--set", "epochs=3"])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert f"the data differs from the run's: {data.resolve()} has changed" in lines[0]
    assert "add --force" in lines[0]
    assert json.loads((run / "summary.json").read_text())["epochs"] == 2
    _train("--resume", run, "--set", "epochs=3", "--force")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_run"] == 3
    assert any(str(data.resolve()) in c for c in summary["resumed"][-1]["changes"])
    assert summary["data_files"][str(data.resolve())] == (
        __import__("hashlib").sha256(data.read_bytes()).hexdigest()
    )
    _train("--resume", run, "--set", "epochs=4")  # the new data is the run's now


def test_resume_refuses_changed_arrays_of_a_synthetic_dataset(tmp_path, monkeypatch):
    """No file to hash: the sha256 of the arrays the model saw catches it."""
    spec = _spec(tmp_path, 1).read_text().replace("15000", "200")
    (tmp_path / "res.yaml").write_text(spec)
    run = _train(tmp_path / "res.yaml", "--runs-dir", tmp_path / "runs")
    summary = json.loads((run / "summary.json").read_text())
    summary["data_sha256"]["training"] = "0" * 64  # as if moons had changed
    (run / "summary.json").write_text(json.dumps(summary))
    result = runner.invoke(app, ["train", "--resume", str(run), "--set", "epochs=2"])
    assert result.exit_code == 2, result.output
    assert "the training arrays the model sees have changed" in result.stderr


def test_spec_differences_are_written_as_yaml():
    from nncli.train.run import spec_differences

    old = {"a": None, "b": True, "c": [1, 2], "d": {"e": 1}, "f": "x"}
    new = {"a": 0.5, "b": False, "c": [1, 2, 3], "f": "yes", "g": None}
    assert spec_differences(old, new) == [
        "a: run has null, now 0.5",
        "b: run has true, now false",
        "c: run has [1, 2], now [1, 2, 3]",
        "d: run has {e: 1}, now (absent)",
        "f: run has x, now 'yes'",
        "g: run has (absent), now null",
    ]


def test_a_layer_added_or_removed_is_one_difference_not_both_lists():
    """Layer lists of different lengths are matched as compare matches them:
    the layer one side lacks is one entry (its type and the options that are
    not defaults), the others are compared option by option, instead of the
    two whole resolved lists (every default of every layer) on one line."""
    from nncli.spec.schema import run_spec_model
    from nncli.train.run import spec_differences

    def resolve_spec(raw):
        return run_spec_model().model_validate(raw).model_dump(mode="json")

    def spec(*units):
        layers = [{"type": "dense", "units": u, "activation": "relu"} for u in units]
        layers.append({"type": "dense", "units": 1, "activation": "sigmoid"})
        return resolve_spec(
            {
                "data": {"dataset": "moons"},
                "model": {"input_shape": [2], "layers": layers},
                "loss": "bce",
            }
        )

    small, large = spec(3, 4, 2), spec(32, 32)
    assert spec_differences(small, large) == [
        "model.layers[0].units: run has 3, now 32",
        "model.layers[1].units: run has 4, now 32",
        "model.layers[2]: run has {type: dense, units: 2, activation: relu}, "
        "now (absent)",
    ]
    assert spec_differences(large, small)[-1] == (
        "model.layers[2]: run has (absent), "
        "now {type: dense, units: 2, activation: relu}"
    )


def test_a_refused_resume_shows_null_not_none(tmp_path):
    run = _train(_small(tmp_path), "--runs-dir", tmp_path / "runs")
    args = ["train", "--resume", str(run), "--set", "class_weight=balanced"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "class_weight: run has null, now balanced" in result.stderr
    assert "None" not in result.stderr


def test_resume_of_an_early_stopped_run_changes_nothing(tmp_path):
    """early_stopping ended the run before its epochs: it is complete, so a
    plain --resume is a quiet success that trains nothing; with the callback
    changed (and --force) it trains on from the checkpoint."""
    spec = _small(tmp_path)
    spec.write_text(
        spec.read_text().replace("epochs: 2", "epochs: 60")
        + "callbacks:\n  - {type: early_stopping, monitor: loss, patience: 0,"
        " min_delta: 10}\n"
    )
    run = _train(spec, "--runs-dir", tmp_path / "runs")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_run"] == 2
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    result = runner.invoke(app, ["train", "-q", "--resume", str(run)])
    assert result.exit_code == 0, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"nothing to resume: {run} completed at epoch 2 (early")
    assert before == {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    result = runner.invoke(
        app,
        [
            "train",
            "-q",
            "--resume",
            str(run),
            "--force",
            "--set",
            "callbacks[0].min_delta=0",
            "--set",
            "callbacks[0].patience=100",
            "--set",
            "epochs=3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert [row[0] for row in _rows(run)[1:]] == ["1", "2", "3"]
