"""CASE-028: Ctrl-C (or SIGTERM) during training must not corrupt a checkpoint.

Sources: zylo117/Yet-Another-EfficientDet-Pytorch#101 (weights unreadable after
Ctrl-C: "unexpected EOF"), allenai/allennlp#2129 and nyu-mll/jiant#169 (a crash
mid-checkpoint left a partial file). A real `nncli train` process (~66k
parameters, weights written after every epoch) is signalled at different
moments: it exits 130 (SIGINT) or 143 (SIGTERM) within seconds, names the run
and the last complete epoch, and leaves loadable weights, no temporary files, a
complete metrics.csv and status `interrupted`. The case's `checkpoint:
every_epochs: 1` is nncli's behaviour, so it was dropped from the spec.
Resuming (`nncli train --resume`) is a later issue.
"""

from __future__ import annotations

import csv
import json
import math
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from casekit import case, child_env, nncli_cmd

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture
def folder(tmp_path):
    return case(tmp_path, "CASE-028")


def _epochs_written(runs) -> int:
    for path in runs.glob("*/metrics.csv"):
        return max(0, len(path.read_text().splitlines()) - 1)  # atomic: complete
    return 0


def interrupt(
    folder, tmp_path, signals: list[int], after_epochs: int, extra_delay: float = 0.0
) -> tuple[int, str, float]:
    """Start training, wait for `after_epochs` epochs, send `signals` (in quick
    succession); -> (exit code, stderr, seconds from first signal to exit)."""
    runs = tmp_path / "runs"
    err_path = tmp_path / "err.txt"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(
            nncli_cmd("train", "spec.yaml", "--runs-dir", runs),
            cwd=folder,
            env=child_env(),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            deadline = time.monotonic() + 60
            while _epochs_written(runs) < after_epochs:
                assert proc.poll() is None, err_path.read_text()
                assert time.monotonic() < deadline, "training did not start"
                time.sleep(0.02)
            time.sleep(extra_delay)
            sent = time.monotonic()
            for sig in signals:
                proc.send_signal(sig)
                time.sleep(0.01)
            code = proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return code, err_path.read_text(), time.monotonic() - sent


def check_run_left_behind(runs, stderr: str) -> int:
    """Everything under the run loads; -> the number of complete epochs."""
    from safetensors.numpy import load_file

    (run_dir,) = list(runs.iterdir())
    leftovers = [
        p.name
        for p in run_dir.iterdir()
        if p.name.startswith(".") or p.suffix in (".tmp", ".partial")
    ]
    assert leftovers == []
    weights = load_file(str(run_dir / "weights.safetensors"))  # not truncated
    assert sorted(weights) == [
        f"layers.{i}.{p}" for i in range(3) for p in ("bias", "kernel")
    ]
    assert all(np.isfinite(w).all() for w in weights.values())
    with (run_dir / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows, "no complete epoch recorded"
    assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1))
    for r in rows:  # every line a complete record
        assert None not in r and all(v not in ("", None) for v in r.values()), r
        assert math.isfinite(float(r["loss"]))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["epochs_run"] == len(rows)
    assert summary["final"]["epoch"] == len(rows)
    # one line saying what happened and where the saved run is
    (line,) = [x for x in stderr.splitlines() if x.startswith("error:")]
    assert "interrupted" in line and str(run_dir) in line
    assert str(len(rows)) in line  # the last complete epoch
    assert "Traceback" not in stderr
    return len(rows)


@pytest.mark.parametrize(
    ("after_epochs", "extra_delay"), [(2, 0.0), (3, 0.004), (4, 0.05)]
)
def test_sigint_exits_130_with_a_loadable_checkpoint(
    folder, tmp_path, after_epochs, extra_delay
):
    code, stderr, took = interrupt(
        folder, tmp_path, [signal.SIGINT], after_epochs, extra_delay
    )
    assert code == 130, stderr
    assert took < 10
    assert check_run_left_behind(tmp_path / "runs", stderr) >= after_epochs


def test_sigterm_exits_143(folder, tmp_path):
    code, stderr, took = interrupt(folder, tmp_path, [signal.SIGTERM], 2)
    assert code == 143, stderr
    assert took < 10
    check_run_left_behind(tmp_path / "runs", stderr)


def test_second_ctrl_c_during_shutdown_keeps_the_checkpoint(folder, tmp_path):
    from safetensors.numpy import load_file

    code, stderr, _ = interrupt(folder, tmp_path, [signal.SIGINT, signal.SIGINT], 2)
    # 130, or killed by the second SIGINT after Python restored the default
    # handler at exit -- which a shell also reports as 130
    assert code in (130, -signal.SIGINT), stderr
    assert "Traceback" not in stderr
    (run_dir,) = list((tmp_path / "runs").iterdir())
    load_file(str(run_dir / "weights.safetensors"))
    assert not [p for p in run_dir.iterdir() if p.suffix == ".tmp"]


@pytest.mark.skip(reason="needs `nncli train --resume` (later issue)")
def test_resume_continues_from_the_last_complete_epoch(folder, tmp_path):
    code, stderr, _ = interrupt(folder, tmp_path, [signal.SIGINT], 2)
    assert code == 130, stderr
    runs = tmp_path / "runs"
    done = check_run_left_behind(runs, stderr)
    (run_dir,) = list(runs.iterdir())
    proc = subprocess.Popen(
        nncli_cmd("train", "--resume", run_dir),
        cwd=folder,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while _epochs_written(runs) < done + 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    with (run_dir / "metrics.csv").open(newline="") as f:
        epochs = [int(r["epoch"]) for r in csv.DictReader(f)]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) > done
