"""The spec loader: YAML pitfalls, strict validation, paths and lines in errors."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nncli.errors import SpecError
from nncli.spec.load import SpecSource, apply_override, load_spec, parse_yaml, validate

BASE = """\
seed: 0
data:
  train: train.csv
  target: y
model:
  input_shape: [1]
  layers:
    - type: dense
      units: 1
      activation: linear
loss: mse
optimizer:
  type: sgd
  learning_rate: {lr}
epochs: 1
batch_size: 2
"""


def issues(path, overrides=()):
    with pytest.raises(SpecError) as e:
        load_spec(path, list(overrides))
    return e.value.issues


@pytest.mark.parametrize("text", ["1e-3", "1E-3", "0.001", "1.0e-3", "+1e-3"])
def test_scientific_notation_is_a_number(write_spec, text):
    # CASE-015: PyYAML (YAML 1.1) would read 1e-3 as the string '1e-3'
    spec = load_spec(write_spec(BASE.format(lr=text)))
    assert spec.optimizer.learning_rate == pytest.approx(0.001)
    assert isinstance(spec.optimizer.learning_rate, float)


def test_non_number_learning_rate_names_key_line_and_value(write_spec):
    path = write_spec(BASE.format(lr="fast"))
    (issue,) = issues(path)
    assert issue.path == "optimizer.learning_rate"
    assert issue.line == 14
    assert "expected a number" in issue.message and "'fast'" in issue.message


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        ("epochs: 1", "epochs: null", "epochs", "expected an integer, got null"),
        ("batch_size: 2", "batch_size: true", "batch_size", "got true"),
        ("input_shape: [1]", "input_shape: [null]", "model.input_shape[0]", "got null"),
        ("units: 1", "units: false", "model.layers[0].units", "got false"),
    ],
)
def test_null_and_booleans_are_shown_as_yaml_writes_them(
    write_spec, old, new, path, message
):
    # not Python's `None (NoneType)` / `True (bool)`
    (issue,) = issues(write_spec(BASE.format(lr="0.1").replace(old, new)))
    assert issue.path == path and issue.message.endswith(message)


def test_version_strings_stay_strings():
    data, _ = parse_yaml("a: 1.2.3\nb: e5\nc: '1e-3'\nd: 1_000\n", "x")
    assert data == {"a": "1.2.3", "b": "e5", "c": "1e-3", "d": "1_000"}


def test_tab_indentation_reports_line_and_column(write_spec):
    # CASE-017 (a)
    text = BASE.format(lr="0.01").replace("  layers:", "\tlayers:")
    (issue,) = issues(write_spec(text))
    assert (issue.line, issue.column) == (7, 1)
    assert "tab" in issue.message and "spaces" in issue.message


def test_tab_before_comment_reports_line_and_column(write_spec):
    # CASE-017 (b): PyYAML rejects it; we report exactly where
    text = BASE.format(lr="0.01").replace("epochs: 1", "epochs: 1\t# one epoch")
    (issue,) = issues(write_spec(text))
    assert (issue.line, issue.column) == (15, 10)
    assert "tab" in issue.message


def test_duplicate_key_is_an_error_with_both_lines(write_spec):
    text = BASE.format(lr="0.01") + "epochs: 3\n"
    (issue,) = issues(write_spec(text))
    assert issue.path == "epochs" and issue.line == 17
    assert "duplicate key" in issue.message and "line 15" in issue.message


def test_typo_gets_did_you_mean(write_spec):
    # CASE-019 (a)
    text = BASE.format(lr="0.5").replace("learning_rate", "learnig_rate")
    (issue,) = issues(write_spec(text))
    assert issue.path == "optimizer.learnig_rate" and issue.line == 14
    assert "did you mean 'learning_rate'" in issue.message


def test_misplaced_key_says_where_it_belongs(write_spec):
    # CASE-019 (b)
    text = (
        BASE.format(lr="0.5").replace("  learning_rate: 0.5\n", "")
        + "learning_rate: 0.5\n"
    )
    (issue,) = issues(write_spec(text))
    assert issue.path == "learning_rate" and issue.line == 16
    assert "belongs under 'optimizer'" in issue.message


def test_wrong_case_key_says_keys_are_case_sensitive(write_spec):
    # CASE-019 (c)
    text = BASE.format(lr="0.5").replace("epochs: 1", "Epochs: 1")
    (issue,) = issues(write_spec(text))
    assert issue.path == "Epochs"
    assert "case-sensitive" in issue.message and "'epochs'" in issue.message


def test_all_errors_are_reported_at_once(write_spec):
    text = (
        BASE.format(lr="-1")
        .replace("units: 1", "units: 0")
        .replace("activation: linear", "activation: rleu")
    )
    found = {i.path: i for i in issues(write_spec(text))}
    assert set(found) == {
        "model.layers[0].units",
        "model.layers[0].activation",
        "optimizer.learning_rate",
    }
    assert found["model.layers[0].units"].line == 9
    assert "did you mean 'relu'" in found["model.layers[0].activation"].message


def test_unknown_layer_and_loss_names(write_spec):
    text = (
        BASE.format(lr="0.1")
        .replace("type: dense", "type: dens")
        .replace("loss: mse", "loss: mean_squared_eror")
    )
    found = {i.path: i.message for i in issues(write_spec(text))}
    assert "did you mean 'dense'" in found["model.layers[0]"]
    assert "did you mean 'mean_squared_error'" in found["loss"]


def test_wrong_type_is_not_coerced(write_spec):
    text = BASE.format(lr="0.1").replace("units: 1", "units: '3'")
    (issue,) = issues(write_spec(text))
    assert issue.path == "model.layers[0].units"
    assert "expected an integer" in issue.message


def test_short_and_long_forms_resolve_to_the_same_spec(write_spec):
    short = load_spec(
        write_spec(
            BASE.format(lr="0.01").replace(
                "optimizer:\n  type: sgd\n  learning_rate: 0.01\n", "optimizer: sgd\n"
            ),
            "a.yaml",
        )
    )
    long = load_spec(write_spec(BASE.format(lr="0.01"), "b.yaml"))
    assert short.model_dump() == long.model_dump()
    assert long.model_dump()["optimizer"]["momentum"] == 0.0


def test_defaults_are_keras_defaults(write_spec):
    spec = load_spec(
        write_spec(BASE.format(lr="0.1")).parent / "spec.yaml",
        ["optimizer=rmsprop", "batch_size=32"],
    )
    d = spec.model_dump()
    assert d["optimizer"] == {
        "type": "rmsprop",
        "learning_rate": 0.001,
        "rho": 0.9,
        **{
            k: d["optimizer"][k]
            for k in d["optimizer"]
            if k not in ("type", "learning_rate", "rho")
        },
    }
    assert d["optimizer"]["epsilon"] == 1e-7
    layer = d["model"]["layers"][0]
    assert layer["kernel_initializer"] == {"type": "glorot_uniform"}
    assert layer["bias_initializer"] == {"type": "zeros"}


def test_override_is_validated_like_the_file(write_spec):
    path = write_spec(BASE.format(lr="0.1"))
    spec = load_spec(path, ["optimizer.learning_rate=1e-2", "epochs=20"])
    assert spec.optimizer.learning_rate == 0.01 and spec.epochs == 20
    (issue,) = issues(path, ["epochs=many"])
    assert issue.file == "--set epochs=many" and "expected an integer" in issue.message


def test_override_expands_a_short_form(write_spec):
    path = write_spec(
        BASE.format(lr="0.1").replace(
            "optimizer:\n  type: sgd\n  learning_rate: 0.1\n", "optimizer: adam\n"
        )
    )
    spec = load_spec(path, ["optimizer.learning_rate=0.02"])
    assert spec.optimizer.type == "adam" and spec.optimizer.learning_rate == 0.02


def test_override_without_equals_is_an_error(write_spec):
    (issue,) = issues(write_spec(BASE.format(lr="0.1")), ["epochs"])
    assert "KEY=VALUE" in issue.message


def test_missing_file_and_empty_and_non_mapping(tmp_path):
    (issue,) = issues(tmp_path / "nope.yaml")
    assert "not found" in issue.message
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    assert "empty" in issues(tmp_path / "empty.yaml")[0].message
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    assert "mapping" in issues(tmp_path / "list.yaml")[0].message


def test_schema_is_json_and_names_every_section():
    from nncli.spec.schema import run_spec_model

    schema = run_spec_model().model_json_schema()
    assert {"data", "model", "loss", "optimizer", "epochs", "batch_size"} <= set(
        schema["properties"]
    )
    assert schema["properties"]["batch_size"]["default"] == 32


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)
)
_keys = st.sampled_from(
    [
        "data",
        "model",
        "loss",
        "optimizer",
        "layers",
        "type",
        "units",
        "epochs",
        "input_shape",
        "train",
        "dense",
        "x",
    ]
)
_trees = st.recursive(
    _scalars,
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(_keys, c, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _trees, max_size=6))
def test_validator_only_raises_spec_error(data):
    try:
        validate(SpecSource(data, "fuzz.yaml"))
    except SpecError as e:
        assert e.issues and all(str(i) for i in e.issues)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60))
def test_yaml_parser_only_raises_spec_error(text):
    try:
        parse_yaml(text, "fuzz.yaml")
    except SpecError:
        pass


def test_override_on_missing_list_index_is_an_error(write_spec):
    src = SpecSource({"model": {"layers": [{}, {}]}}, "x")
    with pytest.raises(SpecError, match=r"index \[3\] is past the end of a list of 2"):
        apply_override(src, "model.layers[3].units=2")
    with pytest.raises(SpecError, match="this is a list: use an index"):
        apply_override(src, "model.layers.units=2")


def test_yaml_12_core_schema_scalars():
    data, _ = parse_yaml(
        "a: 010\nb: 1:30\nc: yes\nd: on\ne: 0x1F\nf: 0o17\ng: true\n"
        "h: 1_000\ni: -5\nj: 1e-3\nk: .inf\n",
        "x",
    )
    assert data == {
        "a": 10,
        "b": "1:30",
        "c": "yes",
        "d": "on",
        "e": 31,
        "f": 15,
        "g": True,
        "h": "1_000",
        "i": -5,
        "j": 0.001,
        "k": float("inf"),
    }


def test_alias_bomb_is_refused_quickly():
    levels = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
        for i in range(8)
    )
    with pytest.raises(SpecError, match="expands to more than"):
        parse_yaml(levels, "bomb.yaml")


def test_merge_keys_may_be_overridden_but_explicit_keys_may_not_repeat():
    data, _ = parse_yaml(
        "base: &h {type: dense, units: 4}\nl: {<<: *h, units: 1}\n", "m"
    )
    assert data["l"] == {"type": "dense", "units": 1}


def test_union_tags_do_not_double_paths(write_spec):
    text = BASE.format(lr="0.1").replace(
        "activation: linear",
        "activation: linear\n      kernel_regularizer: {type: l2, l2: -1}",
    )
    (issue,) = issues(write_spec(text))
    assert issue.path == "model.layers[0].kernel_regularizer.l2"


def test_missing_option_of_an_activation_layer_names_the_key(write_spec):
    text = BASE.format(lr="0.1").replace(
        "      activation: linear\n",
        "      activation: linear\n    - type: activation\n",
    )
    (issue,) = issues(write_spec(text))
    assert issue.path == "model.layers[1].activation"
    assert issue.message == "missing required key 'activation'"


@pytest.mark.parametrize(
    "override", ["metrics=[1, 2]", "model.layers[0]=dense", "foo.bar=1"]
)
def test_errors_from_set_cite_the_set(write_spec, override):
    found = issues(write_spec(BASE.format(lr="0.1")), [override])
    assert all(i.file == f"--set {override}" for i in found), found


@pytest.mark.parametrize(
    "key", ["a..b", ".epochs", "epochs.", "model.layers[0]units", "x[a]"]
)
def test_malformed_set_keys_are_refused(write_spec, key):
    (issue,) = issues(write_spec(BASE.format(lr="0.1")), [f"{key}=1"])
    assert "malformed key" in issue.message
