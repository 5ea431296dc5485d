"""`nncli predict`: streaming in chunks, labels restored, and the same numbers
as `nncli eval` on the same rows."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nncli import predict as predict_mod
from nncli.cli import app
from nncli.datasets import __file__ as datasets_init
from nncli.errors import DataError

runner = CliRunner()
SPECS = Path(__file__).resolve().parents[1] / "specs"
BREAST_CANCER = Path(datasets_init).parent / "data" / "breast_cancer.csv"

SPEC = """\
seed: 2
data: {{train: train.csv, target: label, validation_split: 0.25{extra}}}
model:
  input_shape: [2]
  layers:
    - {{type: dense, units: 8, activation: relu}}
    - {last}
loss: {loss}
optimizer: {{type: adam, learning_rate: 0.02}}
metrics: [accuracy]
epochs: 3
batch_size: 8
"""
SIGMOID = ("{type: dense, units: 1, activation: sigmoid}", "binary_crossentropy")
LOGITS = (
    "{type: dense, units: 3}",
    "{type: sparse_categorical_crossentropy, from_logits: true}",
)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def write_rows(path: Path, x: np.ndarray, labels: list[str], header=("a", "b")) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*header, "label"])
        w.writerows([f"{u:.5f}", f"{v:.5f}", lab] for (u, v), lab in zip(x, labels))


def make_run(tmp_path: Path, head=SIGMOID, extra: str = "", n: int = 80) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2))
    classes = ["no", "yes"] if head is SIGMOID else ["ant", "bee", "cow"]
    ids = (x[:, 0] > 0).astype(int) + (head is not SIGMOID) * (x[:, 1] > 0.5)
    write_rows(tmp_path / "train.csv", x, [classes[i] for i in ids])
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(last=head[0], loss=head[1], extra=extra))
    result = invoke("train", spec, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture(scope="module")
def breast_cancer(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("bc")
    result = invoke("train", SPECS / "breast_cancer.yaml", "--runs-dir", tmp, "-q")
    assert result.exit_code == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def test_predict_on_the_breast_cancer_run_reproduces_eval_accuracy(
    breast_cancer, tmp_path
):
    data = tmp_path / "all.csv"
    shutil.copy(BREAST_CANCER, data)
    evaluated = invoke("eval", breast_cancer, "--data", data, "--json")
    assert evaluated.exit_code == 0, evaluated.stderr
    accuracy = json.loads(evaluated.stdout)["metrics"]["accuracy"]
    out = tmp_path / "preds.csv"
    result = invoke("predict", breast_cancer, "--data", data, "--out", out)
    assert result.exit_code == 0, result.stderr
    assert f"569 predictions written to {out}" in result.stderr
    preds = list(csv.DictReader(io.StringIO(out.read_text())))
    truth = [row["diagnosis"] for row in csv.DictReader(io.StringIO(data.read_text()))]
    assert list(preds[0]) == ["p_malignant", "label"]  # names, not 0/1
    assert {p["label"] for p in preds} == {"benign", "malignant"}
    said = [p["label"] for p in preds]
    assert np.mean([s == t for s, t in zip(said, truth)]) == pytest.approx(
        accuracy, abs=1e-12
    )
    assert 0.9 < accuracy < 1.0  # a trained model, and some rows still wrong


def test_predict_on_the_validation_rows_reproduces_evals_validation_score(
    breast_cancer, tmp_path
):
    rows = np.load(breast_cancer / "split.npz")["validation_rows"]  # 1-based
    lines = BREAST_CANCER.read_text().splitlines()
    (tmp_path / "val.csv").write_text(
        "\n".join([lines[0]] + [lines[r] for r in rows]) + "\n"
    )
    evaluated = invoke("eval", breast_cancer, "--json")  # the run's validation data
    assert evaluated.exit_code == 0, evaluated.stderr
    want = json.loads(evaluated.stdout)
    result = invoke("predict", breast_cancer, "--data", tmp_path / "val.csv", "--json")
    assert result.exit_code == 0, result.stderr
    got = json.loads(result.stdout)
    truth = [line.rsplit(",", 1)[1] for line in lines[1:]]
    said = [p["label"] for p in got["predictions"]]
    assert got["samples"] == want["samples"] == len(rows)
    assert np.mean([s == truth[r - 1] for s, r in zip(said, rows)]) == pytest.approx(
        want["metrics"]["accuracy"], abs=1e-12
    )


def test_chunks_give_the_same_predictions_as_one_pass(tmp_path):
    run = make_run(tmp_path)
    x = np.random.default_rng(1).normal(size=(50, 2))
    write_rows(tmp_path / "new.csv", x, ["no"] * 50)
    np.savez_compressed(tmp_path / "new.npz", x=x.round(5))
    np.savez(tmp_path / "plain.npz", x=x.round(5))
    np.savez(tmp_path / "fortran.npz", x=np.asfortranarray(x.round(5)))

    def outputs(name: str, chunk_rows: int) -> np.ndarray:
        _, chunks = predict_mod.predictions(run, tmp_path / name, chunk_rows)
        got = list(chunks)
        assert [len(c.rows) for c in got][:-1] == [chunk_rows] * (len(got) - 1)
        rows = np.concatenate([c.rows for c in got])
        assert rows.tolist() == list(range(1, 51))
        return np.concatenate([c.outputs for c in got])

    whole = outputs("new.csv", 1000)
    for name in ("new.csv", "new.npz", "plain.npz", "fortran.npz"):
        for size in (1, 7, 50):
            np.testing.assert_allclose(outputs(name, size), whole, rtol=0, atol=1e-6)


def test_a_file_streams_chunk_by_chunk(tmp_path):
    # a bad cell in row 25 is met only when its chunk is read: the first two
    # chunks of 10 rows come out before it, so the file is never read whole
    run = make_run(tmp_path)
    x = np.random.default_rng(2).normal(size=(30, 2))
    write_rows(tmp_path / "new.csv", x, ["no"] * 30)
    lines = (tmp_path / "new.csv").read_text().splitlines()
    lines[25] = "0.5,oops,no"
    (tmp_path / "new.csv").write_text("\n".join(lines) + "\n")
    _, chunks = predict_mod.predictions(run, tmp_path / "new.csv", 10)
    assert len(next(chunks).rows) == 10
    assert len(next(chunks).rows) == 10
    with pytest.raises(DataError, match="row 25 column 'b' = 'oops' is not a number"):
        next(chunks)


def test_out_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    run = make_run(tmp_path)
    x = np.random.default_rng(3).normal(size=(30, 2))
    write_rows(tmp_path / "new.csv", x, ["no"] * 30)
    text = (tmp_path / "new.csv").read_text().replace("\n", "\n\n", 3)  # blanks
    lines = text.splitlines()
    lines[-1] = "1,,no"  # the last row: missing value
    (tmp_path / "new.csv").write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(predict_mod, "CHUNK_ROWS", 4)
    out = tmp_path / "preds.csv"
    result = invoke("predict", run, "--data", tmp_path / "new.csv", "--out", out)
    assert result.exit_code == 3
    assert "row 30 column 'b' is missing; set data.missing: drop" in result.stderr
    assert not out.exists() and list(tmp_path.glob(".preds.csv.*")) == []


def test_missing_rows_keep_their_line_with_drop(tmp_path):
    run = make_run(tmp_path, extra=", missing: drop")
    (tmp_path / "new.csv").write_text("a,b\n0.1,0.2\n?,1\n2,-1\n")
    result = invoke("predict", run, "--data", tmp_path / "new.csv")
    assert result.exit_code == 0, result.stderr
    table = read_csv(result.stdout)
    assert table[0] == ["p_yes", "label"] and len(table) == 4
    assert table[2] == ["", ""] and table[1][1] in ("no", "yes")
    out = invoke("predict", run, "--data", tmp_path / "new.csv", "--json")
    items = json.loads(out.stdout)["predictions"]
    assert [i["row"] for i in items] == [1, 2, 3]
    assert items[1] == {"row": 2, "output": None, "label": None}


def test_logits_runs_write_probabilities_and_the_arg_max_label(tmp_path):
    run = make_run(tmp_path, head=LOGITS)
    (tmp_path / "new.csv").write_text("a,b\n2,2\n-2,-2\n0.3,0.1\n")
    result = invoke("predict", run, "--data", tmp_path / "new.csv")
    assert result.exit_code == 0, result.stderr
    table = read_csv(result.stdout)
    assert table[0] == ["p_ant", "p_bee", "p_cow", "label"]
    p = np.array([[float(v) for v in row[:3]] for row in table[1:]])
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)  # softmax, not logits
    assert [row[3] for row in table[1:]] == [
        ["ant", "bee", "cow"][i] for i in p.argmax(axis=1)
    ]
    items = json.loads(
        invoke("predict", run, "--data", tmp_path / "new.csv", "--json").stdout
    )["predictions"]
    z = np.array([i["output"] for i in items])  # the raw logits stay in JSON
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(e / e.sum(axis=1, keepdims=True), p, atol=1e-9)


def test_features_are_found_by_name_whatever_the_order(tmp_path):
    run = make_run(tmp_path)
    (tmp_path / "ab.csv").write_text("a,b\n0.5,-1\n-1,2\n")
    (tmp_path / "ba.csv").write_text("id,b,a\n7,-1,0.5\n8,2,-1\n")
    one = invoke("predict", run, "--data", tmp_path / "ab.csv")
    two = invoke("predict", run, "--data", tmp_path / "ba.csv")
    assert one.exit_code == two.exit_code == 0, two.stderr
    assert one.stdout == two.stdout
    (tmp_path / "wrong.csv").write_text("a,c\n1,2\n")
    bad = invoke("predict", run, "--data", tmp_path / "wrong.csv")
    assert bad.exit_code == 3
    assert "has no column 'b' of the training features (a, b)" in bad.stderr


def test_json_is_streamed_as_one_valid_document(tmp_path, monkeypatch):
    run = make_run(tmp_path)
    x = np.random.default_rng(4).normal(size=(23, 2))
    write_rows(tmp_path / "new.csv", x, ["yes"] * 23)
    monkeypatch.setattr(predict_mod, "CHUNK_ROWS", 5)
    result = invoke("predict", run, "--data", tmp_path / "new.csv", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["samples"] == 23 and len(doc["predictions"]) == 23
    assert doc["columns"] == ["p_yes", "label"]
    assert all(0.0 <= p["output"][0] <= 1.0 for p in doc["predictions"])
    summary = invoke(
        "predict",
        run,
        "--data",
        tmp_path / "new.csv",
        "--out",
        tmp_path / "p.csv",
        "--json",
    )
    assert json.loads(summary.stdout)["samples"] == 23
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 24


def test_a_bad_row_in_a_later_chunk_still_ends_one_json_document(tmp_path, monkeypatch):
    """--json streams predictions; a bad cell found after some were written
    closes the same document with "ok": false, the exit code and the error,
    rather than printing a second document after a truncated one."""
    run = make_run(tmp_path)
    x = np.random.default_rng(5).normal(size=(12, 2))
    write_rows(tmp_path / "new.csv", x, ["no"] * 12)
    with (tmp_path / "new.csv").open("a") as f:
        f.write("1,oops,no\n")
    monkeypatch.setattr(predict_mod, "CHUNK_ROWS", 5)
    result = invoke("predict", run, "--data", tmp_path / "new.csv", "--json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)  # one valid document, nothing after it
    assert doc["ok"] is False and doc["exit_code"] == 3
    assert doc["errors"] == [
        "prediction file "
        + str(tmp_path / "new.csv")
        + ": row 13 column 'b' = 'oops' is not a number"
    ]
    assert doc["samples"] == len(doc["predictions"]) == 10
    assert "row 13 column 'b' = 'oops'" in result.stderr


def test_a_bad_file_fails_before_any_output(tmp_path):
    run = make_run(tmp_path)
    (tmp_path / "new.csv").write_text("a,b\n1,2,3\n")
    result = invoke("predict", run, "--data", tmp_path / "new.csv", "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout)["ok"] is False  # nothing printed before it
    assert "row 1 has 3 cells but the header has 2" in result.stderr


@pytest.mark.parametrize("command", ["predict", "eval"])
def test_data_is_relative_to_the_current_directory(
    breast_cancer, tmp_path, monkeypatch, command
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "here").mkdir()
    shutil.copy(BREAST_CANCER, tmp_path / "here" / "all.csv")
    ok = invoke(command, breast_cancer, "--data", "here/all.csv")
    assert ok.exit_code == 0, ok.stderr  # found from the current directory
    role = "prediction" if command == "predict" else "evaluation"
    missing = invoke(command, breast_cancer, "--data", "nope.csv")
    assert missing.exit_code == 3 and missing.stdout == ""
    assert missing.stderr.splitlines() == [
        f"error: --data: {role} file 'nope.csv' not found: resolved to "
        f"{tmp_path.resolve() / 'nope.csv'} (relative to the current directory)"
    ]
    assert "spec file" not in missing.stderr
    named = invoke(command, breast_cancer, "--data", "breast_cancer")
    assert named.exit_code == 3
    assert named.stderr.strip().endswith(
        f"; breast_cancer is a shipped dataset, whose table is the CSV file "
        f"{BREAST_CANCER}"
    )


NPZ_SPEC = """\
data: {train: m.npz, x_array: x_train, y_array: y_train}
model:
  input_shape: [2]
  layers: [{type: Dense, units: 1, activation: sigmoid}]
loss: binary_crossentropy
epochs: 1
"""


@pytest.fixture(scope="module")
def npz_run(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A run trained on m.npz's x_train/y_train arrays, and those features."""
    folder = tmp_path_factory.mktemp("npz_run")
    x = np.random.default_rng(0).normal(size=(20, 2))
    np.savez(folder / "m.npz", x_train=x, y_train=(x[:, 0] > 0).astype(int))
    spec = folder / "spec.yaml"
    spec.write_text(NPZ_SPEC)
    result = invoke("train", spec, "--runs-dir", folder / "runs", "--quiet")
    assert result.exit_code == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1]), x


def test_npz_array_names_carry_from_training_to_predict(tmp_path, npz_run):
    run, x = npz_run
    np.savez(tmp_path / "m.npz", x_train=x)
    _, chunks = predict_mod.predictions(run, tmp_path / "m.npz", 7)
    assert sum(len(c.rows) for c in chunks) == 20
    np.savez(tmp_path / "other.npz", x=x)
    with pytest.raises(DataError, match=r"no array 'x_train' \(data.x_array\)"):
        list(predict_mod.predictions(run, tmp_path / "other.npz")[1])


@pytest.mark.parametrize(
    ("x_train", "message"),
    [
        (np.array([[1.0, np.nan]] * 3), "row 1 (x_train[0]) holds NaN"),
        (np.array(2.0), "x_train must be an array of rows, shape (n, ...)"),
        (np.array([[1, 2]] * 3, dtype=object), "x_train is an array of Python objects"),
        (np.zeros((3, 2), dtype=complex), "x_train must be a numeric array"),
        (np.zeros((0, 2)), "0 data rows (x_train has shape [0, 2])"),
        (np.zeros((3, 5)), "but x_train has 5 (shape [3, 5])"),
    ],
)
def test_predict_npz_errors_name_the_x_array(tmp_path, npz_run, x_train, message):
    run, _ = npz_run
    np.savez(tmp_path / "p.npz", x_train=x_train)
    predicted = invoke("predict", run, "--data", tmp_path / "p.npz")
    assert predicted.exit_code == 3
    (line,) = predicted.stderr.strip().splitlines()
    assert line.startswith("error: prediction file ") and message in line


def test_npz_array_names_on_a_csv_file_exit_2_citing_the_key(tmp_path):
    (tmp_path / "m.csv").write_text("a,b,y\n1,2,0\n3,4,1\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(NPZ_SPEC.replace("m.npz", "m.csv"))
    result = invoke("train", spec, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {spec}:1:") and ": data.x_array: " in line


@pytest.mark.parametrize("n_features", [1, 3])
def test_a_blobs_run_names_each_of_its_features_and_predicts(tmp_path, n_features):
    """blobs with n_features other than 2 recorded the default names x1, x2,
    so predict crashed reshaping the rows (a traceback, exit 1)."""
    spec = tmp_path / "blobs.yaml"
    spec.write_text(
        f"data: {{dataset: {{type: blobs, n_samples: 60, centers: 2, n_features: "
        f"{n_features}}}}}\nmodel: {{input_shape: [{n_features}], layers: "
        "[{type: dense, units: 1, activation: sigmoid}]}\nloss: bce\n"
    )
    result = invoke("train", spec, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.stderr
    run = Path(result.stdout.strip().splitlines()[-1])
    names = [f"x{i + 1}" for i in range(n_features)]
    prep = json.loads((run / "preprocessing.json").read_text())
    assert prep["feature_names"] == names
    (tmp_path / "new.csv").write_text(
        f"{','.join(names)}\n{','.join('0' * n_features)}\n"
    )
    result = invoke("predict", run, "--data", tmp_path / "new.csv")
    assert result.exit_code == 0, result.output
    assert read_csv(result.stdout)[0] == ["p_1", "label"]
