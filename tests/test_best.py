"""summary.json's `best` goes the metric's own way, whatever its column is named."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from nncli.cli import app

SPEC = """\
name: named
data: {dataset: {type: moons, n_samples: 300}, validation_split: 0.2}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 8, activation: relu}
    - {type: dense, units: 1, activation: sigmoid}
loss: binary_crossentropy
metrics: [accuracy, {type: mean_absolute_error, name: foo}, {type: auc, name: bar}]
epochs: 6
"""


def test_best_follows_each_metrics_direction(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    result = CliRunner().invoke(
        app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs"), "-q", "--json"]
    )
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)["run_dir"]
    summary = json.loads((tmp_path / "runs" / run / "summary.json").read_text())
    assert summary["metric_directions"] == {
        "accuracy": "up",
        "foo": "down",
        "bar": "up",
    }
    text = (tmp_path / "runs" / run / "metrics.csv").read_text()
    rows = list(zip(*[line.split(",") for line in text.split()]))
    cols = {c[0]: [float(v) for v in c[1:]] for c in rows}
    for key, pick in (("val_foo", min), ("val_bar", max), ("val_loss", min)):
        assert summary["best"][key]["value"] == pick(cols[key]), key


RESTORE = """\
name: restore
seed: 1
data: {dataset: {type: moons, n_samples: 300}, validation_split: 0.2}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 8, activation: relu}
    - {type: dense, units: 1, activation: sigmoid}
loss: binary_crossentropy
optimizer: {type: adam, learning_rate: 0.05}
metrics: [accuracy]
epochs: 6
callbacks:
  # the "best" val_loss is the highest, so the weights of an early epoch return
  - {type: early_stopping, monitor: val_loss, mode: max, patience: 2,
     restore_best_weights: true}
"""


def test_restored_weights_are_named_with_their_metrics(tmp_path):
    """After restore_best_weights, summary.json and the done line say which
    epoch's weights the run keeps and what they scored; `final` stays the
    last epoch's row."""
    spec = tmp_path / "s.yaml"
    spec.write_text(RESTORE)
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["train", str(spec), "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    (run,) = runs.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    k = summary["restored_weights_of_epoch"]
    last = summary["final"]["epoch"]
    assert k < last
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    restored = summary["restored_metrics"]
    assert restored["epoch"] == k
    assert restored["val_loss"] == float(rows[k - 1]["val_loss"])
    assert summary["final"]["val_loss"] == float(rows[last - 1]["val_loss"])
    (done,) = [line for line in result.stderr.splitlines() if "done:" in line]
    assert done.startswith(
        f"done: restored weights of epoch {k} (loss: {restored['loss']:.4f} - "
    )
    assert f"val_loss: {restored['val_loss']:.4f}" in done.split(";")[0]
    assert f"; last epoch {last}: loss: " in done


def test_a_resume_that_restores_nothing_drops_the_old_restore(tmp_path):
    """The restore of an earlier training does not outlive a resume whose
    best epoch is its last one."""
    spec = tmp_path / "s.yaml"
    spec.write_text(
        RESTORE.replace("mode: max", "mode: min").replace("patience: 2", "patience: 50")
    )
    runs = tmp_path / "runs"
    args = ["train", "-q", "--runs-dir", str(runs)]
    assert (
        CliRunner().invoke(app, [*args, str(spec), "--set", "epochs=1"]).exit_code == 0
    )
    (run,) = runs.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    summary["restored_weights_of_epoch"] = 1  # as if an earlier end had restored
    summary["restored_metrics"] = {"epoch": 1}
    (run / "summary.json").write_text(json.dumps(summary))
    result = CliRunner().invoke(app, [*args, "--resume", str(run), "--set", "epochs=2"])
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best"]["val_loss"]["epoch"] == 2  # nothing to restore
    assert "restored_weights_of_epoch" not in summary
    assert "restored_metrics" not in summary
