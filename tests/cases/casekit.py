"""Shared helpers for the user-case tests (tests/cases/test_case_NNN.py).

Each case's files live in tests/fixtures/cases/CASE-NNN/: the case's tiny data
files copied as they are, and its specs translated to nncli's keys (top-level
`epochs`/`batch_size`/`shuffle`, `type:` for named things, `{type: constant,
value: v}`, no `checkpoint:`). Removed section headers became comment lines, so
every line number the case cites is still right. Tests copy a case folder into
tmp_path and run there, so nothing is ever written next to the fixtures.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
from typer.testing import CliRunner

from nncli.cli import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cases"
REPO = Path(__file__).resolve().parents[2]

# float32 engine vs float64 reference (cases/README.md)
RTOL, ATOL = 1e-5, 1e-6

runner = CliRunner()


def case(tmp_path: Path, name: str) -> Path:
    """A private copy of tests/fixtures/cases/<name> under tmp_path."""
    dst = tmp_path / name
    shutil.copytree(FIXTURES / name, dst)
    return dst


def cli(*args: Any):
    """Run nncli in-process; result has exit_code, stdout and stderr apart."""
    return runner.invoke(app, [str(a) for a in args])


def train(spec: Path, runs: Path, *extra: Any):
    return cli("train", spec, "--runs-dir", runs, *extra)


def train_ok(spec: Path, runs: Path, *extra: Any) -> tuple[Path, dict[str, Any]]:
    """Train with --json; assert exit 0 and return (run_dir, JSON summary)."""
    result = train(spec, runs, "--json", *extra)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = json.loads(result.stdout)
    out["stderr"] = result.stderr  # the console (progress goes to stderr)
    return Path(out["run_dir"]), out


def assert_refused(result, code: int, *fragments: str) -> str:
    """Non-zero `code`, no traceback, each fragment in the (one-line) error."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    err = result.stderr
    assert "Traceback" not in err and "Traceback" not in result.stdout
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors, err
    text = "\n".join(errors)
    for fragment in fragments:
        assert fragment in text, (fragment, text)
    return text


def assert_no_runs(runs: Path) -> None:
    """Refused before training: no run directory, so no weights either."""
    assert not runs.exists() or not any(runs.iterdir()), list(runs.rglob("*"))


def weights(run_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(run_dir / "weights.safetensors"))


def metrics(run_dir: Path) -> list[dict[str, float]]:
    with (run_dir / "metrics.csv").open(newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text())


def predict(run_dir: Path, data: Path) -> list[dict[str, Any]]:
    result = cli("predict", run_dir, "--data", data, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["predictions"]


def nncli_cmd(*args: Any) -> list[str]:
    """Command line for a real `nncli` process (signals, concurrency, non-TTY)."""
    return [sys.executable, "-m", "nncli", *(str(a) for a in args)]


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child nncli: no CI/NO_COLOR from the caller, and one
    BLAS thread (two processes on a two-core CI box otherwise spin for cores)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.update(extra)
    return env
