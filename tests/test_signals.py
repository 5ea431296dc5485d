"""Ctrl-C and SIGTERM in a real process: exit code, status, every file complete."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SPEC = """\
name: long
seed: 0
data: {dataset: {type: moons, n_samples: 2000}, validation_split: 0.2}
model:
  input_shape: [2]
  layers: [{type: dense, units: 32, activation: relu}, {type: dense, units: 1, activation: sigmoid}]
loss: binary_crossentropy
epochs: 100000
batch_size: 16
"""


def _wait_for_epochs(run_root: Path, n: int, proc: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for metrics in run_root.glob("*/metrics.csv"):
            with metrics.open(newline="") as f:
                if len(list(csv.DictReader(f))) >= n:
                    return metrics.parent
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    raise AssertionError("training did not start")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_cleanly_with_consistent_files(tmp_path, sig, code):
    spec = tmp_path / "long.yaml"
    spec.write_text(SPEC)
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nncli", "train", str(spec), "--runs-dir", str(runs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run = _wait_for_epochs(runs, 2, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err and f"saved in {run}" in err
    summary = json.loads((run / "summary.json").read_text())
    with (run / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert summary["status"] == "interrupted"
    assert summary["epochs_run"] == len(rows) >= 2
    assert int(rows[-1]["epoch"]) == summary["final"]["epoch"]
    # the weights are the last recorded epoch's: eval reproduces its val_loss
    from nncli.evaluate import evaluate_run

    result = evaluate_run(run)
    assert result["metrics"]["loss"] == pytest.approx(
        float(rows[-1]["val_loss"]), rel=1e-6
    )
    assert not list(run.glob(".*.tmp"))  # no temporary left behind
