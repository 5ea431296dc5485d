"""Disk faults while a run is written: clear errors, nothing half-made or out of step."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from nncli import artifacts
from nncli.errors import RunError
from nncli.evaluate import evaluate_run
from nncli.report import Reporter
from nncli.train import run as run_module
from nncli.train.run import prepare, train

SPEC = Path(__file__).resolve().parent.parent / "specs" / "moons.yaml"


def test_failure_while_setting_up_leaves_no_directory(tmp_path, monkeypatch):
    def broken(self, weights, metadata):
        raise RunError("cannot write weights.safetensors: No space left on device")

    monkeypatch.setattr(artifacts.RunWriter, "write_weights", broken)
    session = prepare(SPEC, ["epochs=2"])
    with pytest.raises(RunError, match="No space left"):
        train(session, tmp_path / "runs", Reporter(quiet=True))
    assert list((tmp_path / "runs").iterdir()) == []


def test_failure_mid_run_keeps_files_in_step(tmp_path, monkeypatch):
    monkeypatch.setattr(run_module._Record, "FLUSH_SECONDS", 0.0)
    real = artifacts.RunWriter.append_metrics
    calls = {"n": 0}

    def flaky(self, rows):
        calls["n"] += 1
        if calls["n"] >= 3:  # the disk stays full
            raise RunError("cannot write metrics.csv: File too large")
        real(self, rows)

    monkeypatch.setattr(artifacts.RunWriter, "append_metrics", flaky)
    session = prepare(SPEC, ["epochs=5"])
    with pytest.raises(RunError, match="File too large"):
        train(session, tmp_path, Reporter(quiet=True))
    (run,) = tmp_path.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    with (run / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert summary["status"] == "failed" and "File too large" in summary["message"]
    assert summary["epochs_run"] == len(rows) == 2
    # the weights on disk are those of the last recorded epoch
    result = evaluate_run(run)
    assert result["metrics"]["loss"] == pytest.approx(
        float(rows[-1]["val_loss"]), rel=1e-6
    )


def test_short_append_is_rolled_back(tmp_path, monkeypatch):
    writer = artifacts.RunWriter(tmp_path)
    writer.append_metrics([{"epoch": 1, "loss": 0.5}])
    before = (tmp_path / "metrics.csv").read_bytes()
    monkeypatch.setattr(artifacts.os, "write", lambda fd, data: len(data) // 2)
    with pytest.raises(RunError, match="short write"):
        writer.append_metrics([{"epoch": 2, "loss": 0.25}])
    assert (tmp_path / "metrics.csv").read_bytes() == before
