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


def test_the_divergence_line_names_the_run_directory_it_kept(tmp_path):
    """With --quiet (no 'run directory:' line) and --json (no path on stdout)
    the error is the only place that says where the kept weights are, as the
    interrupted line's 'saved in RUN' does."""
    result = _run(tmp_path, EXPLODES, "--quiet", "--json")
    assert result.exit_code == 4
    run = next((tmp_path / "runs").iterdir())
    (error,) = json.loads(result.stdout)["errors"]
    assert f"the initial weights kept in {run};" in error


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


# the loss is computed before each update, so an infinite gradient in the
# epoch's last batch shows only in the weights: the row 1.5e19 comes last
LAST_ROW = """\
name: last
data: {train: big.csv, target: y}
model:
  input_shape: [1]
  layers:
    - {type: dense, units: 1, kernel_initializer: {type: constant, value: 1.0}}
loss: mse
optimizer: {type: sgd, learning_rate: 0.01}
epochs: 2
batch_size: 1
shuffle: false
"""


def _error_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_weight_broken_by_the_epochs_last_batch_is_traced(tmp_path):
    rows = [f"{i / 10},{i / 10}" for i in range(20)] + ["1.5e19,1"]
    (tmp_path / "big.csv").write_text("x,y\n" + "\n".join(rows) + "\n")
    result = _run(tmp_path, LAST_ROW)
    assert result.exit_code == 4, result.output
    msg = _error_line(result)
    assert "layers.0.kernel became non-finite in epoch 1" in msg
    assert "found after its last batch, 21" in msg
    assert "every batch loss was finite, the last 2.25e+38" in msg
    assert "it began at epoch 1, batch 21: the gradient of layers.0.kernel" in msg
    assert "gradient norms: layers.0.kernel inf" in msg
    assert "the initial weights kept" in msg
    run = next((tmp_path / "runs").iterdir())
    assert json.loads((run / "summary.json").read_text())["status"] == "diverged"


# the learning rate quadruples every step: the weights stay finite a while
# longer than the validation loss does
GROWING_RATE = """\
name: grow
data: {dataset: {type: moons, n_samples: 200}, validation_split: 0.2}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 8, activation: relu}
    - {type: dense, units: 1}
loss: mse
optimizer:
  type: sgd
  learning_rate: {type: exponential_decay, initial_learning_rate: 0.01,
                  decay_steps: 1, decay_rate: 4}
epochs: 10
batch_size: 200
"""


def test_a_validation_loss_alone_going_non_finite_is_explained(tmp_path):
    result = _run(tmp_path, GROWING_RATE)
    assert result.exit_code == 4, result.output
    msg = _error_line(result)
    assert "the validation loss (val_loss) became inf at epoch 8" in msg
    assert "while the training loss was finite" in msg
    run = next((tmp_path / "runs").iterdir())
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 7  # header and epochs 1-7
    last_val = float(rows[-1].split(",")[rows[0].split(",").index("val_loss")])
    assert f"last finite val_loss {last_val:.6g} at epoch 7" in msg
    assert "learning rate now 655.36" in msg
    assert "it began at epoch 8, validation batch 1: " in msg
    assert "gradient norms of the last training batch: layers.0.kernel" in msg
    assert "weights of epoch 7 kept" in msg
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["epochs_run"] == 7
    ok = runner.invoke(app, ["eval", str(run), "--json"])  # epoch 7's weights
    assert ok.exit_code == 0, ok.output
    assert np.isfinite(json.loads(ok.stdout)["metrics"]["loss"])


def test_eval_of_a_diverged_run_warns_and_scores_the_kept_weights(tmp_path):
    assert _run(tmp_path, EXPLODES).exit_code == 4
    run = next((tmp_path / "runs").iterdir())
    warning = (
        f"{run} diverged in epoch 1; evaluating its last good weights "
        "(the initial ones)"
    )
    result = runner.invoke(app, ["eval", str(run)])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [f"warning: {warning}"]
    as_json = runner.invoke(app, ["eval", str(run), "--json"])
    assert json.loads(as_json.stdout)["warnings"] == [warning]
