"""summary.json's `best` goes the metric's own way, whatever its column is named."""

from __future__ import annotations

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
