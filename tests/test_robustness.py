"""Bad numbers and damaged runs get one clear line and the right exit code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nncli.cli import app

runner = CliRunner()

SPEC = """\
name: b
data: {train: t.csv, validation: v.csv, target: y}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 4, activation: relu}
    - {type: dense, units: 1, activation: sigmoid}
loss: binary_crossentropy
metrics: [accuracy]
epochs: 2
batch_size: 4
"""


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    rows = "a,b,y\n" + "".join(f"{i % 3},{i % 4},{i % 2}\n" for i in range(12))
    (tmp_path / "t.csv").write_text(rows)
    (tmp_path / "v.csv").write_text(rows)
    (tmp_path / "s.yaml").write_text(SPEC)
    return tmp_path


def train(project, *extra):
    return invoke("train", project / "s.yaml", "--runs-dir", project / "runs", *extra)


def test_value_beyond_float32_is_a_data_error(project):
    (project / "v.csv").write_text("a,b,y\n1,1,0\n1,1e39,1\n")
    result = train(project)
    assert result.exit_code == 3
    assert (
        "validation data v.csv: row 2, feature 'b' = 1e+39 does not fit in float32"
        in result.stderr
    )
    assert not (project / "runs").exists()


@pytest.mark.parametrize(
    "override",
    [
        "model.layers[0].kernel_initializer={type: constant, value: .nan}",
        "optimizer={type: sgd, learning_rate: .inf}",
        "optimizer.learning_rate=1e400",
        "seed=-1",
        "model.layers[1].dropout=1",
        "name=" + "x" * 101,
    ],
)
def test_impossible_settings_are_spec_errors(project, override):
    result = train(project, "--set", override)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("error:") == 1 and "Traceback" not in result.stderr
    assert not (project / "runs").exists()


def test_initial_weights_that_overflow_the_dtype(project):
    result = train(
        project,
        "--set",
        "model.layers[0].kernel_initializer={type: constant, value: 1e39}",
    )
    assert result.exit_code == 2
    assert (
        "model.layers[0].kernel_initializer.value: 1e+39 is beyond float32"
        in result.stderr
    )
    assert not (project / "runs").exists()


def test_nan_init_weights_are_refused(project, tmp_path):
    from safetensors.numpy import save_file

    weights = {
        "layers.0.kernel": np.full((2, 4), np.nan, np.float32),
        "layers.0.bias": np.zeros(4, np.float32),
        "layers.1.kernel": np.zeros((4, 1), np.float32),
        "layers.1.bias": np.zeros(1, np.float32),
    }
    save_file(weights, tmp_path / "w.safetensors")
    result = train(project, "--init-weights", tmp_path / "w.safetensors")
    assert result.exit_code == 2
    assert "layers.0.kernel holds NaN or infinite values" in result.stderr


def test_diverging_validation_loss_stops_with_exit_4(project):
    result = train(
        project,
        "--set",
        "optimizer={type: sgd, learning_rate: 1e30}",
        "--set",
        "loss=mse",
        "--set",
        "model.layers[1].activation=linear",
        "--set",
        "metrics=[]",
        "--json",
    )
    assert result.exit_code == 4, result.stderr
    assert "training diverged" in result.stderr
    run = next((project / "runs").iterdir())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "diverged"
    from safetensors.numpy import load_file

    assert all(
        np.isfinite(v).all() for v in load_file(run / "weights.safetensors").values()
    )


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("spec.yaml", b"\xff\xfe\x00bad", "cannot read"),
        ("preprocessing.json", b"[1]", "malformed"),
        ("summary.json", b"{", "cannot read"),
    ],
)
def test_damaged_run_files_are_run_errors(project, name, content, fragment):
    assert train(project).exit_code == 0
    run = next((project / "runs").iterdir())
    (run / name).write_bytes(content)
    if name == "summary.json":
        (run / "weights.safetensors").unlink()
    result = invoke("predict", run, "--data", project / "v.csv")
    assert result.exit_code == 1, result.stderr
    assert fragment in result.stderr and "Traceback" not in result.stderr


def test_nan_weights_in_a_run_fail_eval(project):
    from safetensors.numpy import load_file, save_file

    assert train(project).exit_code == 0
    run = next((project / "runs").iterdir())
    weights = load_file(run / "weights.safetensors")
    weights["layers.0.kernel"][:] = np.nan
    save_file(weights, run / "weights.safetensors")
    result = invoke("eval", run, "--fail-under", "accuracy=0.1")
    assert result.exit_code == 1
    assert "NaN or infinite" in result.stderr


def test_multi_dimensional_output_is_refused_before_training(project):
    result = train(
        project, "--set", "model.input_shape=[2, 1]", "--set", "data.target=y"
    )
    assert result.exit_code in (2, 3)
    result = invoke("validate", project / "s.yaml", "--set", "model.input_shape=[1, 2]")
    assert result.exit_code == 2
    assert "outputs shape [1, 1] per sample" in result.stderr
    assert not (project / "runs").exists()


def test_eval_and_predict_data_must_fit_the_float_type(project):
    assert train(project).exit_code == 0
    run = next((project / "runs").iterdir())
    (project / "big.csv").write_text("a,b,y\n1,1,0\n1,1e39,1\n")
    for command in ("eval", "predict"):
        result = invoke(command, run, "--data", project / "big.csv")
        assert result.exit_code == 3, result.stderr
        assert "row 2, feature 'b' = 1e+39 does not fit in float32" in result.stderr


def test_invalid_spec_inside_a_run_is_a_run_error(project):
    assert train(project).exit_code == 0
    run = next((project / "runs").iterdir())
    (run / "spec.yaml").write_text("epochs: 3\n")
    result = invoke("eval", run)
    assert result.exit_code == 1 and "is not a valid spec" in result.stderr


def test_predict_quotes_csv_fields(tmp_path):
    rows = "a,b,y\n" + "".join(
        f'{i % 3},{i % 4},"{["x,y", "plain"][i % 2]}"\n' for i in range(12)
    )
    (tmp_path / "t.csv").write_text(rows)
    (tmp_path / "v.csv").write_text(rows)
    (tmp_path / "s.yaml").write_text(SPEC)
    assert train(tmp_path).exit_code == 0
    run = next((tmp_path / "runs").iterdir())
    import csv
    import io

    out = invoke("predict", run, "--data", tmp_path / "v.csv").stdout
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == ["p_x,y", "label"]
    assert all(len(r) == 2 for r in table) and {r[1] for r in table[1:]} <= {
        "x,y",
        "plain",
    }


def test_spec_numbers_beyond_the_float_type(project):
    result = invoke(
        "validate",
        project / "s.yaml",
        "--set",
        "model.layers[0].activation={type: elu, alpha: 1e39}",
    )
    assert result.exit_code == 2
    assert "model.layers[0].activation.alpha: 1e+39 is beyond float32" in result.stderr
    ok = invoke(
        "validate",
        project / "s.yaml",
        "--set",
        "dtype=float64",
        "--set",
        "model.layers[0].activation={type: elu, alpha: 1e39}",
    )
    assert ok.exit_code == 0, ok.stderr
