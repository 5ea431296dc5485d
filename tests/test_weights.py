"""class_weight and data.sample_weight: spec errors with their YAML paths, data
errors with file, row and column, the weights reaching the batches, eval and
predict, and a byte-identical resume with weights in use. (That the weights
train exactly as in Keras: tests/engine/test_golden_weights.py.)"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nncli.cli import app
from nncli.train.session import prepare

runner = CliRunner()

ANIMALS = ("cat", "dog", "eel")


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def animals(tmp_path: Path, n: int = 60, seed: int = 0) -> Path:
    """a, b, wt, label: three text classes and a weight per row."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    label = np.where(x[:, 0] > 0.3, 0, np.where(x[:, 1] > 0, 1, 2))
    w = rng.uniform(0.5, 2.0, n)
    rows = [
        [repr(a), repr(b), repr(ww), ANIMALS[c]]
        for (a, b), ww, c in zip(x.tolist(), w.tolist(), label)
    ]
    return write_csv(tmp_path / "animals.csv", ["a", "b", "wt", "label"], rows)


SPEC = """\
seed: 1
data: {train: animals.csv, target: label, sample_weight: wt, validation_split: 0.25}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 8, activation: relu}
    - {type: dense, units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: {type: adam, learning_rate: 0.05}
metrics: [accuracy]
epochs: 2
batch_size: 7
"""


def spec_file(tmp_path: Path, extra: str = "", text: str = SPEC) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text + extra)
    return path


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


# ----------------------------------------------------------------- the weights


def test_sample_weights_leave_the_features_and_follow_their_rows(tmp_path):
    data = animals(tmp_path)
    session = prepare(spec_file(tmp_path))
    with data.open() as f:
        weights = {i: float(r["wt"]) for i, r in enumerate(csv.DictReader(f), 1)}
    splits = session.splits
    assert splits.prep.feature_names == ["a", "b"]
    assert session.splits.train.x.shape[1:] == (2,)
    for ds in (splits.train, splits.validation):
        # the validation split takes its rows' weights with it
        np.testing.assert_array_equal(ds.weights, [weights[r] for r in ds.rows])


def test_class_weight_by_name_multiplies_the_sample_weights(tmp_path):
    animals(tmp_path)
    session = prepare(spec_file(tmp_path, "class_weight: {dog: 4, eel: 0.5}\n"))
    plain = prepare(spec_file(tmp_path))
    train = session.splits.train
    factor = np.array([1.0, 4.0, 0.5])[train.y]  # cat keeps 1
    np.testing.assert_allclose(train.weights, plain.splits.train.weights * factor)
    # validation keeps only its sample weights (Keras: class weights train only)
    np.testing.assert_array_equal(
        session.splits.validation.weights, plain.splits.validation.weights
    )
    assert any("class weights" in n and "dog=4" in n for n in session.splits.notes)


def test_balanced_class_weight_is_computed_on_the_training_split(tmp_path):
    animals(tmp_path)
    session = prepare(spec_file(tmp_path, "class_weight: balanced\n"))
    plain = prepare(spec_file(tmp_path))
    train, sw = session.splits.train, plain.splits.train.weights
    counts = np.bincount(train.y, minlength=3)
    want = len(train.y) / (3 * counts)  # counts of samples, not of weight
    np.testing.assert_allclose(train.weights, sw * want[train.y], rtol=1e-15)
    # balanced: every class carries the same total class weight
    totals = np.bincount(train.y, weights=train.weights / sw)
    np.testing.assert_allclose(totals, len(train.y) / 3)


def test_class_weight_with_integer_labels_and_one_hot_targets(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(30, 2))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    np.savez(tmp_path / "d.npz", x=x, y=y.astype(float))
    onehot = np.eye(3)[y]
    np.savez(tmp_path / "h.npz", x=x, y=onehot)
    base = (
        "data: {train: FILE}\n"
        "model: {input_shape: [2], layers: [{type: dense, units: 3, "
        "activation: softmax}]}\nloss: LOSS\nclass_weight: {0: 2.5, 2: 0.25}\n"
    )
    for file, loss in (
        ("d.npz", "sparse_categorical_crossentropy"),
        ("h.npz", "categorical_crossentropy"),
    ):
        path = tmp_path / "s.yaml"
        path.write_text(base.replace("FILE", file).replace("LOSS", loss))
        weights = prepare(path).splits.train.weights
        np.testing.assert_array_equal(weights, np.array([2.5, 1.0, 0.25])[y])


def test_binary_class_weight_and_batches_carry_the_weights(tmp_path):
    from nncli.train.run import make_batches

    rng = np.random.default_rng(4)
    x = rng.normal(size=(23, 2))
    y = (x.sum(axis=1) > 0).astype(float)
    w = rng.uniform(0.0, 3.0, 23)
    np.savez(tmp_path / "b.npz", x=x, y=y, sw=w)
    path = tmp_path / "s.yaml"
    path.write_text(
        "data: {train: b.npz, sample_weight: sw}\nshuffle: true\nbatch_size: 5\n"
        "model: {input_shape: [2], layers: [{type: dense, units: 1, "
        "activation: sigmoid}]}\nloss: binary_crossentropy\n"
        "class_weight: {1: 3}\n"
    )
    session = prepare(path)
    want = w * np.where(y == 1, 3.0, 1.0)
    np.testing.assert_allclose(session.splits.train.weights, want)
    train_b, _, _ = make_batches(session)
    xs, ys, ws = zip(*train_b.epoch())  # shuffled, the weights stay with their rows
    assert [len(b) for b in ws] == [5, 5, 5, 5, 3]
    assert all(b.dtype == np.float32 for b in ws)
    got = {tuple(np.round(r, 5)): v for b, wb in zip(xs, ws) for r, v in zip(b, wb)}
    for row, v in zip(x.astype(np.float32), want.astype(np.float32)):
        assert got[tuple(np.round(row, 5))] == v


def test_xy_files_take_the_weight_column_from_the_labels_file(tmp_path):
    write_csv(tmp_path / "x.csv", ["a", "b"], [[0.1, 0.2], [0.3, -0.1], [1, 2]])
    write_csv(tmp_path / "y.csv", ["w", "label"], [[0.5, 0], [2, 1], [1, 1]])
    path = tmp_path / "s.yaml"
    path.write_text(
        "data: {x: x.csv, y: y.csv, sample_weight: w}\n"
        "model: {input_shape: [2], layers: [{type: dense, units: 1, "
        "activation: sigmoid}]}\nloss: binary_crossentropy\n"
    )
    session = prepare(path)
    np.testing.assert_array_equal(session.splits.train.weights, [0.5, 2, 1])
    np.testing.assert_array_equal(session.splits.train.y.ravel(), [0, 1, 1])


# ----------------------------------------------------------------- spec errors


@pytest.mark.parametrize(
    ("extra", "path", "words"),
    [
        ("class_weight: {cat: 2, dgo: 1}\n", "class_weight.dgo", "did you mean 'dog'"),
        ("class_weight: {0: 2}\n", "class_weight.0", "cat, dog, eel"),
        ("class_weight: {cat: -1}\n", "class_weight.cat", ">= 0"),
        ("class_weight: {cat: two}\n", "class_weight.cat", "expected a number"),
        ("class_weight: balance\n", "class_weight", "'balanced'"),
        ("class_weight: [1, 2]\n", "class_weight", "mapping of class to weight"),
        ("class_weight: {}\n", "class_weight", "at least 1"),
    ],
)
def test_class_weight_spec_errors_name_their_yaml_path(tmp_path, extra, path, words):
    animals(tmp_path)
    spec = spec_file(tmp_path, extra)
    result = invoke("train", spec, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2, result.output
    lines = error_lines(result)
    assert len(lines) == 1, lines
    assert f"spec.yaml:{len(SPEC.splitlines()) + 1}:" in lines[0]
    assert f": {path}: " in lines[0] and words in lines[0], lines[0]
    assert not (tmp_path / "runs").exists()


def test_every_unknown_class_is_reported(tmp_path):
    animals(tmp_path)
    spec = spec_file(tmp_path, "class_weight:\n  cow: 1\n  dog: 2\n  owl: 3\n")
    result = invoke("validate", spec)
    assert result.exit_code == 2
    lines = error_lines(result)
    assert [line.split(": ")[2] for line in lines] == [
        "class_weight.cow",
        "class_weight.owl",
    ]
    assert ":14:" in lines[0] and ":16:" in lines[1]  # each key's own line


def test_integer_class_ids_beyond_the_output_are_unknown(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 2)), y=np.array([0.0, 1, 2, 1]))
    path = tmp_path / "s.yaml"
    path.write_text(
        "data: {train: d.npz}\nmodel: {input_shape: [2], layers: [{type: dense, "
        "units: 3, activation: softmax}]}\nloss: sparse_categorical_crossentropy\n"
        "class_weight: {1: 2, 3: 1}\n"
    )
    result = invoke("validate", path)
    assert result.exit_code == 2
    (line,) = error_lines(result)
    assert "class_weight.3: unknown class '3'" in line and "0, 1, 2" in line


@pytest.mark.parametrize(
    ("loss", "units", "activation", "words"),
    [
        ("mse", 1, "linear", "mean_squared_error has no classes"),
        ("hinge", 1, "linear", "hinge has no classes"),
        ("binary_crossentropy", 2, "sigmoid", "multi-label"),
    ],
)
def test_class_weight_needs_one_class_per_sample(
    tmp_path, loss, units, activation, words
):
    y = np.array([[0.0, 1], [1, 0], [1, 1]])[:, :units]
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 2)), y=y if units > 1 else y.ravel())
    path = tmp_path / "s.yaml"
    path.write_text(
        f"data: {{train: d.npz}}\nmodel: {{input_shape: [2], layers: [{{type: "
        f"dense, units: {units}, activation: {activation}}}]}}\nloss: {loss}\n"
        "class_weight: {0: 2}\n"
    )
    result = invoke("validate", path)
    assert result.exit_code == 2, result.output
    (line,) = error_lines(result)
    assert "s.yaml:4:" in line and ": class_weight: " in line and words in line


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("{dataset: iris, sample_weight: w}", "shipped datasets have no weight"),
        (
            "{train: animals.csv, target: label, sample_weight: label}",
            "both name column 'label'",
        ),
        ("{train: animals.csv, target: label, sample_weight: [wt]}", "column name"),
        ("{train: animals.csv, target: label, sample_weight: true}", "column name"),
    ],
)
def test_sample_weight_spec_errors(tmp_path, data, words):
    animals(tmp_path)
    text = SPEC.replace(SPEC.splitlines()[1], f"data: {data}")
    result = invoke("validate", spec_file(tmp_path, "", text))
    assert result.exit_code == 2, result.output
    (line,) = error_lines(result)
    assert ": data" in line and words in line, line


# ----------------------------------------------------------------- data errors


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("-0.5", "row 3 column 'wt' = '-0.5' is negative"),
        ("heavy", "row 3 column 'wt' = 'heavy' is not a number"),
        ("NaN", "row 3 column 'wt' = 'NaN' is not a number"),
        ("", "row 3 column 'wt' is empty"),
        ("inf", "row 3 column 'wt' = 'inf' is not a finite number"),
    ],
)
def test_bad_weights_are_data_errors_naming_file_row_and_column(tmp_path, cell, shown):
    data = animals(tmp_path)
    lines = data.read_text().splitlines()
    cells = lines[3].split(",")
    cells[2] = cell
    lines[3] = ",".join(cells)
    data.write_text("\n".join(lines) + "\n")
    # an empty weight is refused even where data.missing drops incomplete rows
    text = SPEC if cell else SPEC.replace("validation_split: 0.25", "missing: drop")
    result = invoke(
        "train", spec_file(tmp_path, "", text), "--runs-dir", tmp_path / "r"
    )
    assert result.exit_code == 3, result.output
    (line,) = error_lines(result)
    assert line.startswith("error: training file animals.csv: sample weight ")
    assert shown in line and "data.sample_weight needs a number >= 0" in line
    assert not (tmp_path / "r").exists()


def test_a_missing_weight_column_is_named(tmp_path):
    animals(tmp_path)
    result = invoke(
        "validate", spec_file(tmp_path, "", SPEC.replace(": wt", ": weight"))
    )
    assert result.exit_code == 3
    (line,) = error_lines(result)
    assert "animals.csv has no column 'weight'" in line


def test_bad_npz_weights_name_the_row_and_array(tmp_path):
    w = np.array([1.0, 0.5, np.nan, -2.0])
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 2)), y=np.array([0.0, 1, 1, 0]), w=w)
    path = tmp_path / "s.yaml"
    body = (
        "model: {input_shape: [2], layers: [{type: dense, units: 1, "
        "activation: sigmoid}]}\nloss: binary_crossentropy\n"
    )
    path.write_text("data: {train: d.npz, sample_weight: w}\n" + body)
    result = invoke("validate", path)
    assert result.exit_code == 3
    (line,) = error_lines(result)
    assert "training file d.npz: sample weight row 3 (w[2]) is nan" in line
    assert "(and 1 more row)" in line

    path.write_text("data: {train: d.npz, sample_weight: 2}\n" + body)
    (line,) = error_lines(invoke("validate", path))
    assert "an .npz file names its arrays" in line

    path.write_text("data: {train: d.npz, sample_weight: weights}\n" + body)
    (line,) = error_lines(invoke("validate", path))
    assert "d.npz has no array 'weights'" in line


def test_soft_labels_cannot_take_class_weights(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 2)), y=np.array([0.0, 0.7, 1.0]))
    path = tmp_path / "s.yaml"
    path.write_text(
        "data: {train: d.npz}\nmodel: {input_shape: [2], layers: [{type: dense, "
        "units: 1, activation: sigmoid}]}\nloss: binary_crossentropy\n"
        "class_weight: {1: 2}\n"
    )
    result = invoke("validate", path)
    assert result.exit_code == 3
    (line,) = error_lines(result)
    assert "training data d.npz: row 2 has the soft label [0.7]" in line


# ----------------------------------------------------------------- runs


def _train(*args) -> Path:
    result = invoke("train", "-q", *args)
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


def _rows(run: Path) -> list[list[str]]:
    with (run / "metrics.csv").open(newline="") as f:
        return [r[:-1] for r in csv.reader(f)]  # all but `seconds`


def test_weighted_resume_is_byte_identical(tmp_path):
    animals(tmp_path, n=90)
    extra = "class_weight: balanced\ncallbacks: [{type: early_stopping, patience: 9}]\n"
    spec = spec_file(tmp_path, extra, SPEC.replace("epochs: 2", "epochs: 6"))
    straight = _train(spec, "--runs-dir", tmp_path / "a")
    part = _train(spec, "--runs-dir", tmp_path / "b", "--set", "epochs=2")
    assert _train("--resume", part, "--set", "epochs=6") == part
    assert (straight / "weights.safetensors").read_bytes() == (
        part / "weights.safetensors"
    ).read_bytes()
    assert _rows(straight) == _rows(part) and len(_rows(part)) == 7
    # the weighted numbers differ from unweighted ones (the weights are used)
    plain = _train(spec, "--runs-dir", tmp_path / "c", "--set", "class_weight=null")
    assert _rows(plain)[1] != _rows(straight)[1]


def test_eval_and_predict_with_a_weight_column(tmp_path):
    animals(tmp_path)
    run = _train(spec_file(tmp_path), "--runs-dir", tmp_path / "runs")
    result = invoke("eval", run, "--json")
    assert result.exit_code == 0, result.output
    val_loss = float(_rows(run)[-1][_rows(run)[0].index("val_loss")])
    # eval scores the validation data as training did: with its sample weights
    assert json.loads(result.stdout)["metrics"]["loss"] == pytest.approx(val_loss)

    preprocessing = json.loads((run / "preprocessing.json").read_text())
    assert "wt" not in json.dumps(preprocessing["feature_names"])
    write_csv(tmp_path / "new.csv", ["a", "b"], [[0.5, 0.5]])
    write_csv(tmp_path / "new_w.csv", ["a", "b", "wt"], [[0.5, 0.5, 3]])
    outputs = []
    for name in ("new.csv", "new_w.csv"):
        result = invoke("predict", run, "--data", tmp_path / name, "--json")
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(result.stdout)["predictions"])
    assert outputs[0] == outputs[1]  # the weight column is set aside, not read


def test_a_weight_column_by_index_without_a_header(tmp_path):
    (tmp_path / "d.csv").write_text("0.5,1,0.1,0.2\n2,0,0.3,0.4\n0,1,0.5,0.6\n")
    path = tmp_path / "s.yaml"
    path.write_text(
        "data: {train: d.csv, header: false, target: 1, sample_weight: 0}\n"
        "model: {input_shape: [2], layers: [{type: dense, units: 1, "
        "activation: sigmoid}]}\nloss: binary_crossentropy\n"
    )
    train = prepare(path).splits.train
    np.testing.assert_array_equal(train.weights, [0.5, 2, 0])
    np.testing.assert_array_equal(train.x, [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    path.write_text(path.read_text().replace("sample_weight: 0", "sample_weight: 7"))
    result = invoke("validate", path)
    assert result.exit_code == 3
    (line,) = error_lines(result)
    assert "data.sample_weight 7 is out of range; the file has 4 columns" in line
