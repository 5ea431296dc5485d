"""bench/profile_workload.py prints a workload's epoch times and its call tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "profile_workload.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True
    )


def test_profile_of_the_seed_workload():
    pytest.importorskip("pyinstrument")
    done = run("W1", "--threads", "1", "--epochs", "1")
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[:2]
    assert first[0].startswith("W1: seed") and "1 BLAS thread(s)" in first[0]
    assert first[1].startswith("seconds an epoch: ") and "optimizer step" in first[1]
    assert "train_epochs" in done.stdout and "Model.train_step" in done.stdout


def test_an_unknown_workload_is_a_usage_error():
    done = run("W9")
    assert done.returncode == 2 and "no workload W9" in done.stderr


def test_no_bench_script_shadows_a_standard_library_module():
    """bench/ is on the benchmark workers' path: a bench/profile.py made
    torch's `import cProfile` fail there."""
    bench = SCRIPT.parent
    shadowing = sorted(
        p.name for p in bench.glob("*.py") if p.stem in sys.stdlib_module_names
    )
    assert shadowing == []
