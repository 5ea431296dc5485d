"""`nncli eval --confusion-matrix`: counts by true and predicted class, end to end.

Each check compares the matrix with what `nncli predict` says about the same
rows, so the counts, the class order and the names are tested together.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nncli.cli import app
from nncli.errors import EXIT_USAGE
from nncli.report import print_confusion

runner = CliRunner()

HEAD = """\
seed: 1
data: {{train: data.csv, target: label, validation_split: 0.25}}
model:
  input_shape: [2]
  layers:
    - {{type: dense, units: 8, activation: relu}}
    - {last}
loss: {loss}
metrics: [accuracy]
epochs: 2
batch_size: 8
"""
MODELS = {
    "sparse": (
        "{type: dense, units: 3, activation: softmax}",
        "sparse_categorical_crossentropy",
    ),
    "onehot": (
        "{type: dense, units: 3, activation: softmax}",
        "categorical_crossentropy",
    ),
    "binary": ("{type: dense, units: 1, activation: sigmoid}", "binary_crossentropy"),
    "logits": (
        "{type: dense, units: 1}",
        "{type: binary_crossentropy, from_logits: true}",
    ),
}
NAMES = {3: ["zebra", "[b]ird", "cat"], 2: ["yes", "no"]}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def write_data(path: Path, classes: list[str], n: int = 40) -> list[str]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(n, 2))
    ids = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5) * (len(classes) == 3)
    labels = [classes[i % len(classes)] for i in ids]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "label"])
        w.writerows([f"{u:.4f}", f"{v:.4f}", lab] for (u, v), lab in zip(x, labels))
    return labels


def train_run(tmp_path: Path, model: str) -> tuple[Path, list[str], list[str]]:
    last, loss = MODELS[model]
    classes = NAMES[3 if model in ("sparse", "onehot") else 2]
    labels = write_data(tmp_path / "data.csv", classes)
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEAD.format(last=last, loss=loss))
    result = invoke("train", spec, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1]), labels, sorted(set(classes))


@pytest.mark.parametrize("model", sorted(MODELS))
def test_matrix_counts_true_against_predicted_labels(tmp_path, model):
    run, truth, classes = train_run(tmp_path, model)
    data = tmp_path / "data.csv"
    result = invoke("eval", run, "--data", data, "--confusion-matrix", "--json")
    assert result.exit_code == 0, result.stderr
    cm = json.loads(result.stdout)["confusion_matrix"]
    assert cm["labels"] == classes  # the run's label mapping, in id order
    out = invoke("predict", run, "--data", data, "--json")
    assert out.exit_code == 0, out.stderr
    said = [row["label"] for row in json.loads(out.stdout)["predictions"]]
    pairs = Counter(zip(truth, said))
    want = [[pairs[(t, p)] for p in classes] for t in classes]
    assert cm["matrix"] == want
    assert sum(map(sum, cm["matrix"])) == len(truth)


def test_plain_table_on_a_pipe_names_the_classes(tmp_path):
    run, _, classes = train_run(tmp_path, "sparse")
    result = invoke("eval", run, "--confusion-matrix")  # the validation split
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("confusion matrix (rows: true, columns: predicted)")
    header, *rows = lines[start + 1 :]
    assert header.split() == classes  # "[b]ird" kept as text
    assert [r.split()[0] for r in rows] == classes
    counts = [int(v) for r in rows for v in r.split()[1:]]
    assert sum(counts) == 10  # 25% of 40 rows
    assert "\x1b" not in result.stdout


def test_json_without_the_flag_has_no_matrix(tmp_path):
    run, _, _ = train_run(tmp_path, "binary")
    result = invoke("eval", run, "--json")
    assert result.exit_code == 0, result.stderr
    assert "confusion_matrix" not in json.loads(result.stdout)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rich_table_on_a_terminal(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    out = _Terminal()
    print_confusion(["[red]x", "y"], [[3, 1], [0, 4]], stream=out)
    text = out.getvalue()
    assert "[red]x" in text  # a label, not Rich markup
    assert "─" in text or "━" in text  # drawn as a table
    plain = io.StringIO()
    print_confusion(["[red]x", "y"], [[3, 1], [0, 4]], stream=plain)
    assert plain.getvalue().splitlines()[1:] == [
        "        [red]x  y",
        "[red]x       3  1",
        "y            0  4",
    ]


def test_numeric_binary_labels_are_0_and_1(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "data: {dataset: {type: moons, n_samples: 40}, validation_split: 0.5}\n"
        "model: {input_shape: [2], layers: [{type: dense, units: 1, "
        "activation: sigmoid}]}\nloss: binary_crossentropy\n"
    )
    result = invoke("train", spec, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.stderr
    run = Path(result.stdout.strip().splitlines()[-1])
    result = invoke("eval", run, "--confusion-matrix", "--json")
    assert result.exit_code == 0, result.stderr
    cm = json.loads(result.stdout)["confusion_matrix"]
    assert cm["labels"] == ["0", "1"]
    assert sum(map(sum, cm["matrix"])) == 20


def test_regression_model_is_a_usage_error(tmp_path):
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a:.3f},{a * 2:.3f}" for a in rng.normal(size=20))
    (tmp_path / "data.csv").write_text("x,y\n" + rows + "\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "data: {train: data.csv, target: y, validation_split: 0.25}\n"
        "model: {input_shape: [1], layers: [{type: dense, units: 1}]}\n"
        "loss: mse\n"
    )
    result = invoke("train", spec, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.stderr
    run = Path(result.stdout.strip().splitlines()[-1])
    result = invoke("eval", run, "--confusion-matrix")
    assert result.exit_code == EXIT_USAGE
    assert result.stderr.splitlines() == [
        "error: --confusion-matrix: a confusion matrix needs classes, but this "
        "model is a regression (real-valued targets)"
    ]
    assert result.stdout == ""
    result = invoke("eval", run, "--confusion-matrix", "--json")
    assert result.exit_code == EXIT_USAGE
    assert json.loads(result.stdout)["ok"] is False
