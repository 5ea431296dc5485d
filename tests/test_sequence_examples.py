"""Sequence data and examples: the El Nino series and token datasets, token-id
inputs checked against the embedding, moving statistics in the run files, and
(slow) the example specs' targets: specs/elnino_lstm.yaml beats the naive
last-value forecast, specs/tokens_gru.yaml reaches 0.95 validation accuracy."""

from __future__ import annotations

import hashlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file
from typer.testing import CliRunner

from nncli.cli import app
from nncli.data.batches import Batches
from nncli.data.datasets import ElNino, Tokens, elnino_series
from nncli.errors import DataError
from nncli.report import Reporter
from nncli.train.run import prepare, train

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
sys.path.insert(0, str(ROOT / "tests" / "engine"))
from helpers import load_keras_golden  # noqa: E402

runner = CliRunner()


def test_elnino_series_is_the_shipped_file_with_its_recorded_hash():
    data = ROOT / "nncli" / "datasets" / "data" / "elnino.csv"
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    readme = (ROOT / "nncli" / "datasets" / "README.md").read_text()
    assert f"{digest}  data/elnino.csv" in readme and "public domain" in readme
    s = elnino_series()
    assert s.shape == (732,)
    assert s[0] == 23.11 and s[11] == 21.8 and s[-1] == 22.07  # Jan 1950 .. Dec 2010
    assert 18 < s.min() and s.max() < 30


def test_elnino_windows_and_targets():
    ds = ElNino(window=4, horizon=2)
    x, y, classes = ds.load(seed=0)
    s = elnino_series()
    assert classes is None and x.shape == (732 - 4 - 2 + 1, 4) and y.shape == (727,)
    np.testing.assert_array_equal(x[10], s[10:14])
    assert y[10] == s[15]  # 2 months after the window's last
    assert ds.feature_names == ("lag_5", "lag_4", "lag_3", "lag_2")


def test_tokens_labels_count_positive_against_negative_words():
    x, y, classes = Tokens(n_samples=500, length=12, vocab_size=30).load(seed=3)
    assert classes is None and x.dtype == np.int64 and x.shape == (500, 12)
    assert x.min() >= 0 and x.max() < 30
    pos = np.isin(x, range(1, 6)).sum(axis=1)
    neg = np.isin(x, range(6, 11)).sum(axis=1)
    np.testing.assert_array_equal(y, pos > neg)
    assert 0.2 < y.mean() < 0.6


def test_tokens_of_varying_length_are_padded_with_zeros_at_the_end():
    x, y, _ = Tokens(n_samples=400, length=10, min_length=3).load(seed=1)
    lengths = (x != 0).sum(axis=1)
    assert lengths.min() == 3 and lengths.max() == 10
    for row, n in zip(x, lengths):
        assert (row[:n] > 0).all() and (row[n:] == 0).all()
    pos = np.isin(x, range(1, 6)).sum(axis=1)
    neg = np.isin(x, range(6, 11)).sum(axis=1)
    np.testing.assert_array_equal(y, pos > neg)


def test_example_specs_are_valid_with_integer_ids_for_the_embedding():
    s = prepare(SPECS / "elnino_lstm.yaml")
    assert s.splits.train.x.shape == (576, 12, 1)
    assert s.splits.validation.x.shape == (144, 12, 1)
    assert s.splits.train.y.dtype == np.float64
    t = prepare(SPECS / "tokens_gru.yaml")
    assert t.splits.train.x.dtype == np.int64 and t.splits.train.x.shape[1:] == (20,)
    batches = Batches(t.splits.train.x, t.splits.train.y, 32, t.backend)
    xb, _, _ = next(batches.epoch())
    assert xb.dtype == np.int64  # ids are never cast to float on the way


@pytest.mark.parametrize(
    ("spec", "samples"),
    [("elnino_lstm.yaml", "576 training / 144"), ("tokens_gru.yaml", "1600 training")],
)
def test_nncli_validate_accepts_the_examples(spec, samples):
    result = runner.invoke(app, ["validate", str(SPECS / spec)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout and samples in result.stdout


@pytest.mark.parametrize(
    ("spec", "model"),
    [("elnino_lstm.yaml", "elnino_lstm"), ("tokens_gru.yaml", "tokens_gru")],
)
def test_summary_of_the_examples_matches_keras(spec, model):
    from nncli.inspect import model_table

    arrays, _ = load_keras_golden("recurrent")
    a = {
        k.split("__")[1]: v
        for k, v in arrays.items()
        if k.startswith(f"model_{model}__")
    }
    rows, total = model_table(prepare(SPECS / spec, load_data=False))
    assert [r["output_shape"] for r in rows] == [
        [d for d in s if d] for s in a["out_shapes"].tolist()
    ]
    assert [r["params"] for r in rows] == a["count_params"].tolist()
    assert [r["non_trainable"] for r in rows] == a["non_trainable"].tolist()
    assert total == int(a["count_params"].sum())


def _token_spec(tmp_path: Path, rows: list[str], extra: str = "") -> Path:
    (tmp_path / "ids.csv").write_text("a,b,c,label\n" + "\n".join(rows) + "\n")
    spec = tmp_path / "ids.yaml"
    spec.write_text(
        "data: {train: ids.csv, target: label" + extra + "}\n"
        "model:\n  input_shape: [3]\n  layers:\n"
        "    - {type: embedding, input_dim: 5, output_dim: 2}\n"
        "    - {type: simple_rnn, units: 2}\n"
        "    - {type: dense, units: 1, activation: sigmoid}\n"
        "loss: binary_crossentropy\nepochs: 1\n"
    )
    return spec


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("1,5,2,1", r"row 2, column 'b' is 5, not a token id .*\[0, 5\)"),
        ("1,2,-1,0", r"row 2, column 'c' is -1, not a token id"),
        ("1.5,2,3,0", r"row 2, column 'a' is 1.5, not a token id"),
    ],
)
def test_token_ids_outside_the_vocabulary_are_a_data_error(tmp_path, bad, message):
    spec = _token_spec(tmp_path, ["0,1,2,0", bad, "4,4,4,1"])
    with pytest.raises(DataError, match=r"training data ids.csv: " + message):
        prepare(spec)
    result = runner.invoke(app, ["train", "-q", str(spec), "--runs-dir", str(tmp_path)])
    assert result.exit_code == 3  # a data error
    assert "not a token id" in result.stderr and "Traceback" not in result.stderr


def test_eval_and_predict_refuse_ids_outside_the_vocabulary(tmp_path):
    spec = _token_spec(tmp_path, ["0,1,2,0", "3,4,4,1", "4,2,1,1"])
    result = runner.invoke(app, ["train", "-q", str(spec), "--runs-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run = result.stdout.strip().splitlines()[-1]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c,label\n1,2,3,0\n1,7,2,1\n")
    for command in ("eval", "predict"):
        out = runner.invoke(app, [command, run, "--data", str(bad)])
        assert out.exit_code == 3, (command, out.output)
        assert "token id 7 is outside [0, 5)" in out.stderr
        assert "Traceback" not in out.stderr


def test_standardized_token_ids_are_refused(tmp_path):
    spec = _token_spec(tmp_path, ["0,1,2,0", "4,4,4,1"], ", standardize: true")
    with pytest.raises(DataError, match="data.standardize rescales them"):
        prepare(spec)


BN_SPEC = """\
name: bn
seed: 1
data: {dataset: {type: moons, n_samples: 300}, validation_split: 0.2}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 8}
    - {type: batch_normalization}
    - {type: activation, activation: relu}
    - {type: dense, units: 1, activation: sigmoid}
loss: binary_crossentropy
optimizer: {type: adam, learning_rate: 0.05}
metrics: [accuracy]
epochs: EPOCHS
batch_size: 16
"""


def _train_bn(tmp_path: Path, epochs: int, *args: str) -> Path:
    spec = tmp_path / f"bn{epochs}.yaml"
    spec.write_text(BN_SPEC.replace("EPOCHS", str(epochs)))
    out = tmp_path / f"runs{epochs}"
    result = runner.invoke(
        app, ["train", "-q", str(spec), "--runs-dir", str(out), *args]
    )
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


def test_moving_statistics_are_saved_restored_and_resumed_byte_identically(tmp_path):
    run = _train_bn(tmp_path, 3)
    weights = load_file(run / "weights.safetensors")
    assert {"layers.1.moving_mean", "layers.1.moving_variance"} <= set(weights)
    assert not np.allclose(weights["layers.1.moving_mean"], 0)
    ckpt = load_file(run / "checkpoint.safetensors")
    assert "weights/layers.1.moving_variance" in ckpt
    assert not any("moving" in k for k in ckpt if k.startswith("optimizer/"))

    table = runner.invoke(app, ["summary", str(run), "--json"])
    assert table.exit_code == 0, table.output
    assert '"non_trainable_params": 16' in table.stdout

    # 2 epochs, then resumed to 3, equals 3 epochs straight
    short = _train_bn(tmp_path, 2)
    spec3 = tmp_path / "bn3.yaml"
    result = runner.invoke(app, ["train", "-q", str(spec3), "--resume", str(short)])
    assert result.exit_code == 0, result.output
    assert (short / "weights.safetensors").read_bytes() == (
        run / "weights.safetensors"
    ).read_bytes()


def _naive_mse() -> float:
    x, y, _ = ElNino(window=12).load(0)
    split = math.floor(len(x) * 0.8)
    return float(np.mean((y[split:] - x[split:, -1]) ** 2))


def test_the_naive_forecast_the_lstm_must_beat():
    assert abs(_naive_mse() - 1.3729) < 1e-4


@pytest.mark.slow
def test_elnino_lstm_beats_the_naive_last_value_forecast(tmp_path):
    _, summary = train(
        prepare(SPECS / "elnino_lstm.yaml"), tmp_path, Reporter(quiet=True)
    )
    assert summary["status"] == "completed"
    assert summary["final"]["val_loss"] < 0.5 * _naive_mse()


@pytest.mark.slow
def test_tokens_gru_reaches_095_validation_accuracy(tmp_path):
    _, summary = train(
        prepare(SPECS / "tokens_gru.yaml"), tmp_path, Reporter(quiet=True)
    )
    assert summary["status"] == "completed"
    assert summary["final"]["val_accuracy"] >= 0.95
