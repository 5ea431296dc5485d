"""Processes that meet in one runs directory: each new training claims its own
run directory, and a run that one process writes is refused to another."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from typer.testing import CliRunner

from nncli import artifacts
from nncli.cli import app

SPEC = """\
name: same
seed: 2
data: {dataset: {type: moons, n_samples: 96}, validation_split: 0.25}
model:
  input_shape: [2]
  layers: [{type: dense, units: 4, activation: tanh}, {type: dense, units: 1, activation: sigmoid}]
loss: binary_crossentropy
metrics: [accuracy]
epochs: EPOCHS
batch_size: 16
"""
# imports first, says it is ready, then waits for the go, so that the runs
# really start together (within a millisecond or so)
AT_ONCE = textwrap.dedent(
    """\
    import os, sys, time
    from pathlib import Path
    from nncli.cli import app
    gate = Path(sys.argv[1])
    (gate / f"ready-{os.getpid()}").touch()
    while not (gate / "go").exists():
        time.sleep(0.001)
    sys.argv = ["nncli", *sys.argv[2:]]
    app()
    """
)
runner = CliRunner()


def _spec(tmp_path: Path, epochs: int) -> Path:
    path = tmp_path / f"same{epochs}.yaml"
    path.write_text(SPEC.replace("EPOCHS", str(epochs)))
    return path


def test_trainings_started_together_get_distinct_complete_runs(tmp_path):
    spec, runs, gate = _spec(tmp_path, 3), tmp_path / "runs", tmp_path / "gate"
    gate.mkdir()
    pairs, procs = 2, []
    for _ in range(2 * pairs):
        args = ["train", str(spec), "--runs-dir", str(runs), "-q"]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", AT_ONCE, str(gate), *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    deadline = time.monotonic() + 60
    while len(list(gate.glob("ready-*"))) < len(procs):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    (gate / "go").touch()
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    printed = [Path(out.strip()) for out, _ in outs]
    made = sorted(runs.iterdir())
    assert sorted(printed) == made and len(made) == 2 * pairs
    weights = set()
    for run in made:
        summary = json.loads((run / artifacts.SUMMARY).read_text())
        assert summary["status"] == "completed" and summary["epochs_run"] == 3
        assert summary["run_dir"] == str(run.resolve())
        with (run / artifacts.METRICS).open(newline="") as f:
            assert len(list(csv.reader(f))) == 4
        weights.add((run / artifacts.WEIGHTS).read_bytes())
        assert not list(run.glob(".*.tmp"))
    assert len(weights) == 1  # the same seed trained alike in each directory


def test_run_directory_claims_never_collide(tmp_path, monkeypatch):
    """Many claims in the same second (the name's resolution) all succeed."""
    monkeypatch.setattr(artifacts.time, "strftime", lambda fmt: "20260101-000000")
    barrier, claimed = threading.Barrier(16), []

    def claim():
        barrier.wait()
        claimed.append(artifacts.create_run_dir(tmp_path / "runs", "same"))

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = sorted(p.name for p in claimed)
    assert (
        len(set(names)) == 16
        and sorted(p.name for p in (tmp_path / "runs").iterdir()) == names
    )
    assert "same-20260101-000000" in names and "same-20260101-000000-16" in names


def test_a_run_in_use_is_not_resumed(tmp_path):
    """--resume of a run another process is still training is refused (its
    files untouched); once that process is gone, the resume works."""
    spec, runs = _spec(tmp_path, 100000), tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nncli", "train", str(spec), "--runs-dir", str(runs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(runs.glob("*/metrics.csv")):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        (run,) = runs.iterdir()
        result = runner.invoke(app, ["train", "-q", "--resume", str(run)])
        assert result.exit_code == 1, result.output
        (line,) = result.stderr.splitlines()
        assert f"{run} is in use by another nncli process" in line
        assert proc.poll() is None  # and the training went on undisturbed
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 143
    summary = json.loads((run / artifacts.SUMMARY).read_text())
    assert summary["status"] == "interrupted"
    result = runner.invoke(
        app,
        [
            "train",
            "-q",
            "--resume",
            str(run),
            "--set",
            f"epochs={summary['epochs_run'] + 1}",
        ],
    )
    assert result.exit_code == 0, result.output
