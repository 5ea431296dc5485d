"""Divergence: exit 4, one line that says when, where it began (found by a
deterministic replay from the last checkpoint), the gradient norms there,
and the last good weights kept and usable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from nncli.cli import app
from nncli.train import checkpoint
from nncli.train.diagnose import replay
from nncli.train.run import make_batches, make_callbacks, prepare

runner = CliRunner()

EXPLODES = """\
name: div
data: {dataset: {type: moons, n_samples: 400}, validation_split: 0.2}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 16, activation: relu}
    - {type: dropout, rate: 0.1}
    - {type: dense, units: 1}
loss: mse
optimizer: {type: sgd, learning_rate: 3.0}
epochs: 5
batch_size: 8
"""


def _run(tmp_path: Path, text: str, *extra: str):
    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    args = ["train", str(spec), "--runs-dir", str(tmp_path / "runs"), *extra]
    return runner.invoke(app, args)


def test_exploding_gradients_are_traced_to_the_batch_and_parameter(tmp_path):
    result = _run(tmp_path, EXPLODES)
    assert result.exit_code == 4
    line = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(line) == 1, result.stderr
    msg = line[0]
    assert "the loss became nan at epoch 1, batch 8" in msg
    assert "it began at epoch 1, batch 7: the gradient of layers.0.kernel" in msg
    assert "gradient norms: layers.0.kernel nan" in msg
    assert "the initial weights kept" in msg
    run = next((tmp_path / "runs").iterdir())
    assert json.loads((run / "summary.json").read_text())["status"] == "diverged"
    ok = runner.invoke(app, ["eval", str(run), "--json"])  # the kept weights load
    assert ok.exit_code == 0, ok.output
    assert np.isfinite(json.loads(ok.stdout)["metrics"]["loss"])


def test_an_overflowing_layer_output_is_named(tmp_path):
    text = EXPLODES.replace(
        "    - {type: dense, units: 1}\n",
        "    - {type: dense, units: 1, kernel_initializer: "
        "{type: constant, value: 1.0e+38}}\n",
    )
    result = _run(tmp_path, text)
    assert result.exit_code == 4, result.stderr
    assert (
        "it began at epoch 1, batch 1: the output of layer 2 (dense)" in result.stderr
    )
    assert "(last finite batch loss none)" in result.stderr


def test_replay_finds_nothing_when_training_is_healthy(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(EXPLODES.replace("learning_rate: 3.0", "learning_rate: 0.01"))
    session = prepare(spec)
    train_b, _, shuffle = make_batches(session)
    cbs = make_callbacks(session)
    state = checkpoint.capture(session.model, 0, shuffle, cbs)
    assert replay(session.model, train_b, shuffle, state, cbs, 1, 40) is None
