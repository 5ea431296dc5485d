"""train --smoke: one training and one validation batch through the real code
path, no run directory; one line (or a JSON object) and the usual exit codes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nncli.cli import app

runner = CliRunner()

SPEC = """\
seed: 4
data: {train: d.csv, target: y, sample_weight: w, validation_split: 0.3}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 4, activation: relu}
    - {type: dense, units: 1, activation: sigmoid}
loss: binary_crossentropy
metrics: [accuracy]
class_weight: balanced
epochs: 3
batch_size: 8
"""


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def spec(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    rows = [
        f"{a!r},{b!r},{int(a > b)},{w!r}"
        for (a, b), w in zip(x.tolist(), rng.uniform(0.5, 2, 40).tolist())
    ]
    (tmp_path / "d.csv").write_text("a,b,y,w\n" + "\n".join(rows) + "\n")
    path = tmp_path / "smoke.yaml"
    path.write_text(SPEC)
    return path


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def test_smoke_prints_one_line_and_writes_nothing(spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default runs/ would land here
    before = _files(tmp_path)
    result = invoke("train", spec, "--smoke")
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    assert line.startswith("smoke test passed (1 training batch and 1 validation")
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert f" {key}: " in line
    assert _files(tmp_path) == before
    result = invoke("train", spec, "--smoke", "--runs-dir", tmp_path / "elsewhere")
    assert result.exit_code == 0 and _files(tmp_path) == before


def test_smoke_json_is_the_first_step_of_the_real_training(spec):
    result = invoke("train", spec, "--smoke", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["ok"] is True and math.isfinite(out["loss"])
    assert set(out["metrics"]) == {"accuracy", "val_loss", "val_accuracy"}

    # the same numbers as the first step of a real training: same batches,
    # same weights (class and sample), same update
    from nncli.train.loop import StepEvent, evaluate, train_epochs
    from nncli.train.run import make_batches, prepare

    session = prepare(spec)
    train_b, val_b, _ = make_batches(session)
    first = next(
        e
        for e in train_epochs(session.model, train_b, val_b, session.make_metrics, 1)
        if isinstance(e, StepEvent)
    )
    assert out["loss"] == first.loss
    assert out["metrics"]["accuracy"] == first.logs["accuracy"]
    val = evaluate(session.model, val_b, session.make_metrics, max_batches=1)
    assert out["metrics"]["val_loss"] == val["loss"]


def test_smoke_without_validation_data(spec):
    result = invoke("train", spec, "--smoke", "--set", "data.validation_split=0")
    assert result.exit_code == 0, result.output
    assert "(1 training batch, nothing written)" in result.stdout
    assert "val_loss" not in result.stdout


def test_a_non_finite_loss_fails_the_smoke_test(tmp_path):
    # targets near float32's largest number: the squared error overflows
    rows = "\n".join(f"{i},{i % 3},3e38" for i in range(10))
    (tmp_path / "big.csv").write_text("a,b,t\n" + rows + "\n")
    path = tmp_path / "big.yaml"
    path.write_text(
        "data: {train: big.csv, target: t}\nmodel: {input_shape: [2], layers: "
        "[{type: dense, units: 1}]}\nloss: mse\n"
    )
    result = invoke("train", path, "--smoke", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 4, result.output
    (line,) = result.stderr.splitlines()
    assert line == (
        "error: smoke test: the loss of the first training batch is inf; check "
        "the scale of the data, the loss and the initial weights"
    )
    assert result.stdout == "" and not (tmp_path / "runs").exists()
    result = invoke("train", path, "--smoke", "--json")
    assert result.exit_code == 4
    out = json.loads(result.stdout)
    assert out["ok"] is False and out["exit_code"] == 4


def test_smoke_fails_like_training_on_bad_input(spec, tmp_path):
    result = invoke("train", spec, "--smoke", "--set", "batch_size=0")
    assert result.exit_code == 2 and "batch_size" in result.stderr
    data = tmp_path / "d.csv"
    lines = data.read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",-1"  # a negative weight in row 2
    data.write_text("\n".join(lines) + "\n")
    result = invoke("train", spec, "--smoke")
    assert result.exit_code == 3
    assert "d.csv: sample weight row 2 column 'w' = '-1' is negative" in result.stderr


def test_smoke_cannot_resume(spec, tmp_path):
    before = _files(tmp_path)
    result = invoke("train", "--resume", tmp_path, "--smoke")
    assert result.exit_code == 2 and "--smoke" in result.stderr
    assert _files(tmp_path) == before
