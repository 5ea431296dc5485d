"""Specs written the way a Keras user would: class names, old keys, input_shape."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nncli.cli import app
from nncli.errors import SpecError
from nncli.spec.load import load_spec

BASE = """\
data:
  dataset: moons
  validation_split: 0.2
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 4, activation: relu}
    - {type: dense, units: 1, activation: sigmoid}
loss: binary_crossentropy
optimizer: {type: adam, learning_rate: 0.01}
epochs: 1
"""

CAMEL = """\
data:
  dataset: {type: Moons, n_samples: 100}
  validation_split: 0.2
model:
  input_shape: [2]
  layers:
    - type: Dense
      units: 4
      activation: ReLU
      kernel_initializer: GlorotUniform
      kernel_regularizer: {type: L1L2, l2: 0.01}
      kernel_constraint: MaxNorm
    - {type: BatchNormalization}
    - {type: Dense, units: 1, activation: Sigmoid}
loss: {type: BinaryCrossentropy, label_smoothing: 0.1}
optimizer:
  type: Adam
  learning_rate:
    {type: ExponentialDecay, initial_learning_rate: 0.01, decay_steps: 10,
     decay_rate: 0.9}
metrics: [AUC, BinaryAccuracy]
callbacks: [{type: EarlyStopping, monitor: val_loss}]
"""


def edit(text: str, *pairs: str) -> str:
    for old, new in zip(pairs[::2], pairs[1::2], strict=True):
        assert old in text, old
        text = text.replace(old, new)
    return text


def issues(path):
    with pytest.raises(SpecError) as e:
        load_spec(path)
    return {i.path: i for i in e.value.issues}


def test_keras_class_names_resolve_to_snake_case_in_the_resolved_spec(write_spec):
    spec = load_spec(write_spec(CAMEL)).model_dump(mode="json")
    first = spec["model"]["layers"][0]
    assert [layer["type"] for layer in spec["model"]["layers"]] == [
        "dense",
        "batch_normalization",
        "dense",
    ]
    assert first["activation"]["type"] == "relu"
    assert first["kernel_initializer"] == {"type": "glorot_uniform"}
    assert first["kernel_regularizer"]["type"] == "l1_l2"
    assert first["kernel_constraint"]["type"] == "max_norm"
    assert spec["data"]["dataset"]["type"] == "moons"
    assert spec["loss"]["type"] == "binary_crossentropy"
    assert spec["optimizer"]["type"] == "adam"
    assert spec["optimizer"]["learning_rate"]["type"] == "exponential_decay"
    assert [m["type"] for m in spec["metrics"]] == ["auc", "binary_accuracy"]
    assert spec["callbacks"][0]["type"] == "early_stopping"


def test_errors_inside_a_class_named_entry_keep_their_path(write_spec):
    text = edit(CAMEL, "units: 4", "units: 0", "decay_rate: 0.9", "decay_rat: 0.9")
    found = issues(write_spec(text))
    assert set(found) == {
        "model.layers[0].units",
        "optimizer.learning_rate.decay_rat",
        "optimizer.learning_rate.decay_rate",  # missing
    }
    assert found["model.layers[0].units"].line == 8
    assert (
        "did you mean 'decay_rate'"
        in found["optimizer.learning_rate.decay_rat"].message
    )


def test_a_typo_in_class_name_form_gets_did_you_mean(write_spec):
    found = issues(
        write_spec(edit(CAMEL, "type: BatchNormalization", "type: BatchNorm"))
    )
    assert "did you mean 'batch_normalization'" in found["model.layers[1]"].message


@pytest.mark.parametrize(
    ("pairs", "path", "hint"),
    [
        (
            ("learning_rate: 0.01", "lr: 0.01"),
            "optimizer.lr",
            "Keras 2's name; use 'learning_rate'",
        ),
        (
            ("learning_rate: 0.01", "learning_rate: 0.01, decay: 0.001"),
            "optimizer.decay",
            "inverse_time_decay",
        ),
        (("epochs: 1", "lr: 0.1"), "lr", "use 'learning_rate' under 'optimizer'"),
        (("epochs: 1", "nb_epoch: 1"), "nb_epoch", "use 'epochs'"),
        (
            ("  validation_split", "  label: y\n  validation_split"),
            "data.label",
            "use 'target'",
        ),
        (
            ("  validation_split", "  labels: y\n  validation_split"),
            "data.labels",
            "use 'target'",
        ),
        (
            ("  validation_split", "  y_col: y\n  validation_split"),
            "data.y_col",
            "use 'target'",
        ),
        (("units: 4,", "output_dim: 4,"), "model.layers[0].output_dim", "use 'units'"),
        (
            ("units: 4,", "units: 4, init: he_normal,"),
            "model.layers[0].init",
            "use 'kernel_initializer'",
        ),
        (
            ("units: 4,", "units: 4, W_regularizer: l2,"),
            "model.layers[0].W_regularizer",
            "use 'kernel_regularizer'",
        ),
        (
            ("units: 4,", "units: 4, b_constraint: non_neg,"),
            "model.layers[0].b_constraint",
            "use 'bias_constraint'",
        ),
        (
            ("{type: dense, units: 1, activation: sigmoid}", "{type: dropout, p: 0.5}"),
            "model.layers[1].p",
            "use 'rate'",
        ),
        (
            ("units: 1,", "units: 1, input_shape: [2],"),
            "model.layers[1].input_shape",
            "first layer only; nncli takes it as model.input_shape",
        ),
        (
            ("units: 4,", "units: 4, input_shape: [2],"),
            "model.layers[0].input_shape",
            "model.input_shape gives the input shape already",
        ),
    ],
)
def test_old_keras_keys_get_a_targeted_hint(write_spec, pairs, path, hint):
    found = issues(write_spec(edit(BASE, *pairs)))
    assert path in found, found
    assert hint in found[path].message


def test_a_hint_is_given_only_where_the_new_key_exists(write_spec):
    # dense has no `filters`: a general unknown-key message, listing the keys
    found = issues(write_spec(edit(BASE, "units: 4,", "units: 4, nb_filter: 3,")))
    message = found["model.layers[0].nb_filter"].message
    assert "filters" not in message and "known keys: type, units" in message


def test_a_new_key_typo_still_gets_did_you_mean_in_a_layer(write_spec):
    found = issues(write_spec(edit(BASE, "units: 4,", "unitz: 4,")))
    assert "did you mean 'units'?" in found["model.layers[0].unitz"].message


NO_MODEL_SHAPE = ("  input_shape: [2]\n", "")


@pytest.mark.parametrize("written", ["input_shape: [2]", "input_dim: 2"])
def test_first_layer_input_shape_is_accepted_as_keras_does(write_spec, written):
    text = edit(BASE, *NO_MODEL_SHAPE, "units: 4,", f"units: 4, {written},")
    spec = load_spec(write_spec(text)).model_dump()
    assert spec == load_spec(write_spec(BASE, "model_level.yaml")).model_dump()
    assert spec["model"]["input_shape"] == [2]
    assert "input_shape" not in spec["model"]["layers"][0]


@pytest.mark.parametrize(
    ("written", "path", "message"),
    [
        ("input_shape: [0]", "model.layers[0].input_shape[0]", "expected a value > 0"),
        ("input_shape: []", "model.layers[0].input_shape", "at least 1 item"),
        ("input_dim: 0", "model.layers[0].input_dim", "expected a value > 0"),
        ("input_dim: two", "model.layers[0].input_dim", "expected an integer"),
    ],
)
def test_errors_in_a_first_layer_input_shape_cite_the_layer(
    write_spec, written, path, message
):
    text = edit(BASE, *NO_MODEL_SHAPE, "units: 4,", f"units: 4, {written},")
    (issue,) = issues(write_spec(text)).values()
    assert issue.path == path and issue.line == 6
    assert message in issue.message


def test_input_shape_and_input_dim_on_one_layer_is_an_error(write_spec):
    text = edit(
        BASE, *NO_MODEL_SHAPE, "units: 4,", "units: 4, input_dim: 2, input_shape: [2],"
    )
    found = issues(write_spec(text))
    assert "not both" in found["model.layers[0].input_dim"].message


def test_keras_spelling_errors_exit_2_one_line_each(write_spec, tmp_path):
    bad = write_spec(
        edit(
            BASE,
            "learning_rate: 0.01",
            "lr: 0.01",
            "type: dense, units: 1",
            "type: Dens, units: 1",
        )
    )
    result = CliRunner().invoke(
        app, ["train", str(bad), "--runs-dir", str(tmp_path / "runs")]
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == "2 errors"
    assert all(line.startswith(f"error: {bad}:") for line in lines[:-1])
    assert any(
        "model.layers[1]: unknown layer 'Dens'; did you mean 'dense'?" in ln
        for ln in lines
    )
    assert any("optimizer.lr: unknown key 'lr': Keras 2's name" in ln for ln in lines)
