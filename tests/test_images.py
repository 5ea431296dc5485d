"""Image models through the CLI: NPZ images (N, H, W, C), layer errors with their
YAML path, and the summary table of convolution layers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from nncli.cli import app

runner = CliRunner()

IMAGES = """\
name: bars
seed: 0
data:
  train: bars.npz
  validation: bars_val.npz
model:
  input_shape: [6, 6, 1]
  layers:
    - {type: conv2d, filters: 4, kernel_size: 3, padding: same, activation: relu}
    - {type: max_pooling2d}
    - {type: conv2d, filters: 4, kernel_size: 2, activation: relu}
    - {type: global_average_pooling2d}
    - {type: dense, units: 1, activation: sigmoid}
optimizer: {type: adam, learning_rate: 0.05}
loss: binary_crossentropy
metrics: [accuracy]
epochs: 8
batch_size: 16
"""


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def bars(path: Path, n: int, seed: int) -> None:
    """(n, 6, 6, 1) noisy images of one vertical (y = 1) or horizontal bar."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(0.0, 0.1, (n, 6, 6, 1))
    where = rng.integers(0, 6, n)
    for i in range(n):  # test data, not library code
        if y[i]:
            x[i, :, where[i], 0] += 1.0
        else:
            x[i, where[i], :, 0] += 1.0
    np.savez(path, x=x.astype(np.float32), y=y)


def test_npz_images_train_eval_and_predict(write_spec, tmp_path):
    spec = write_spec(IMAGES)
    bars(tmp_path / "bars.npz", 240, 0)
    bars(tmp_path / "bars_val.npz", 80, 1)
    result = invoke("train", spec, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.stderr
    run = Path(result.stdout.strip().splitlines()[-1])
    result = invoke("eval", run, "--json")
    assert result.exit_code == 0, result.stderr
    scored = json.loads(result.stdout)
    assert scored["samples"] == 80 and scored["metrics"]["accuracy"] >= 0.9
    result = invoke("predict", run, "--data", tmp_path / "bars_val.npz", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["samples"] == 80


def test_a_kernel_larger_than_its_input_names_the_layer(write_spec, tmp_path):
    text = IMAGES.replace("kernel_size: 2", "kernel_size: 4")  # on 3x3 maps
    result = invoke("train", write_spec(text), "--runs-dir", tmp_path)
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        .splitlines()[0]
        .endswith(
            "model.layers[2]: kernel_size 4 is larger than the input height 3 with "
            "padding valid; use a smaller kernel_size or padding same (input shape "
            "[3, 3, 4])"
        )
    )
    assert "Traceback" not in result.stderr


def test_an_image_layer_on_flat_input_names_the_layer(write_spec, tmp_path):
    text = IMAGES.replace("input_shape: [6, 6, 1]", "input_shape: [36]")
    result = invoke("train", write_spec(text), "--runs-dir", tmp_path)
    assert result.exit_code == 2
    assert (
        "model.layers[0]: conv2d needs inputs of shape (height, width, channels), "
        "got shape [36]" in result.stderr
    )


def test_option_errors_name_the_key(write_spec, tmp_path):
    text = IMAGES.replace("kernel_size: 2,", "kernel_size: [2, 2, 2],")
    text = text.replace("kernel_size: 3,", "kernel_size: 3, groups: 3,")
    text = text.replace("{type: max_pooling2d}", "{type: max_pooling2d, padding: full}")
    result = invoke("validate", write_spec(text))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert any(
        "model.layers[2].kernel_size: expected a positive integer or a list of 2, "
        "got [2, 2, 2]" in ln
        for ln in lines
    )
    assert any(
        "model.layers[1].padding: expected 'valid' or 'same'" in ln for ln in lines
    )
    assert any(
        "model.layers[0]: filters 4 is not a multiple of groups 3" in ln for ln in lines
    )


def test_summary_shows_convolution_shapes_and_counts(write_spec):
    result = invoke("summary", write_spec(IMAGES), "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["layers"]
    assert [r["output_shape"] for r in rows] == [
        [6, 6, 4],
        [3, 3, 4],
        [2, 2, 4],
        [4],
        [1],
    ]
    assert [r["params"] for r in rows] == [40, 0, 68, 0, 5]
