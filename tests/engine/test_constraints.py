"""Constraints: Keras defaults, validation, when they apply, and specs that use them."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from nncli.cli import app
from nncli.engine.backend import Backend
from nncli.engine.constraints import EPSILON, constraints
from nncli.engine.layers import Dense
from nncli.engine.losses import losses
from nncli.engine.network import LayerBuildError, Model, Sequential
from nncli.engine.optimizers import optimizers
from nncli.errors import SpecError
from nncli.spec.load import load_spec


@pytest.mark.parametrize("name", constraints.names())
def test_config_defaults_match_constructor(name):
    cls = constraints.get(name)
    fields = {k: v for k, v in cls.Config().model_dump().items() if k != "type"}
    params = inspect.signature(cls.__init__).parameters
    defaults = {k: p.default for k, p in params.items() if k not in ("self",)}
    defaults = {k: v for k, v in defaults.items() if k not in ("args", "kwargs")}
    assert defaults == fields
    assert isinstance(constraints.create(cls.Config().model_dump()), cls)


def test_keras_defaults():
    assert constraints.get("max_norm").Config().max_value == 2.0
    mmn = constraints.get("min_max_norm").Config()
    assert (mmn.min_value, mmn.max_value, mmn.rate, mmn.axis) == (0.0, 1.0, 1.0, 0)
    assert constraints.get("unit_norm").Config().axis == 0
    assert EPSILON == 1e-7


def test_config_validation():
    mmn = constraints.get("min_max_norm").Config
    with pytest.raises(ValidationError, match="min_value"):
        mmn(min_value=2.0, max_value=1.0)
    for bad in ({"rate": 1.5}, {"rate": -0.1}, {"min_value": -1.0}):
        with pytest.raises(ValidationError):
            mmn(**bad)
    with pytest.raises(ValidationError):
        constraints.get("max_norm").Config(max_value=-1.0)
    with pytest.raises(ValidationError):
        constraints.get("unit_norm").Config(axis=True)  # strict: not an int
    assert constraints.get("unit_norm").Config(axis=[0, 1]).axis == [0, 1]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", constraints.names())
def test_projection_keeps_shape_and_dtype_and_is_finite_at_zero(name, dtype, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    w = be.asarray(np.zeros((3, 2)))
    out = constraints.create(name)(w)
    assert out.shape == (3, 2) and out.dtype == w.dtype
    np.testing.assert_array_equal(be.to_numpy(out), 0.0)  # eps: no 0/0


def test_rank_check_names_the_weight():
    dense = Dense(3, kernel_constraint={"type": "unit_norm", "axis": 2})
    with pytest.raises(LayerBuildError, match="kernel_constraint: axis 2"):
        Sequential([dense]).build((4,), Backend.from_name("numpy"), _rng())
    for axis in ([0, 0], [], -3):
        bad = Dense(3, bias_constraint={"type": "max_norm", "axis": axis})
        with pytest.raises(LayerBuildError, match="bias_constraint"):
            Sequential([bad]).build((4,), Backend.from_name("numpy"), _rng())
    ok = Dense(3, kernel_constraint={"type": "max_norm", "axis": [-1, 0]})
    Sequential([ok]).build((4,), Backend.from_name("numpy"), _rng())


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_constraints_apply_after_updates_not_at_build(backend):
    """Like Keras: initial weights are left alone; every step ends projected."""
    big = {"type": "constant", "value": 3.0}
    dense = Dense(2, kernel_initializer=big, kernel_constraint="max_norm")
    net = Sequential([dense])
    net.build((4,), backend, _rng())
    np.testing.assert_array_equal(backend.to_numpy(dense.params["kernel"]), 3.0)
    model = Model(net, losses.create("mse"), optimizers.create("sgd"))
    x = backend.asarray(np.ones((2, 4)))
    model.train_step(x, backend.asarray(np.full((2, 2), 24.0)))
    norms = np.linalg.norm(backend.to_numpy(dense.params["kernel"]), axis=0)
    np.testing.assert_allclose(norms, 2.0, rtol=1e-6)  # was 6 before projecting


def _train(layer_cfg: dict, backend: Backend, steps: int = 25) -> list[dict]:
    """Weights after each of `steps` large-rate SGD steps towards a far target."""
    net = Sequential([Dense(**layer_cfg)])
    net.build((5,), backend, _rng())
    sgd = optimizers.create({"type": "sgd", "learning_rate": 0.5})
    model = Model(net, losses.create("mse"), sgd)
    rng = np.random.default_rng(1)
    x = backend.asarray(rng.normal(size=(16, 5)))
    target = backend.asarray(rng.normal(5.0, 3.0, size=(16, 3)))
    history = []
    for _ in range(steps):
        model.train_step(x, target)
        history.append({k: backend.to_numpy(v).copy() for k, v in net.params().items()})
    return history


@pytest.mark.parametrize(
    ("constraints_cfg", "holds"),
    [
        (
            {"kernel_constraint": {"type": "max_norm", "max_value": 0.5}},
            lambda w: np.linalg.norm(w["layers.0.kernel"], axis=0).max() <= 0.5,
        ),
        (
            {"kernel_constraint": "non_neg", "bias_constraint": "non_neg"},
            lambda w: min(w["layers.0.kernel"].min(), w["layers.0.bias"].min()) >= 0,
        ),
        (
            {"kernel_constraint": {"type": "unit_norm", "axis": 1}},
            lambda w: np.allclose(np.linalg.norm(w["layers.0.kernel"], axis=1), 1),
        ),
        (
            {"kernel_constraint": {"type": "min_max_norm", "min_value": 0.2}},
            lambda w: np.all(
                (np.linalg.norm(w["layers.0.kernel"], axis=0) >= 0.2 - 1e-6)
                & (np.linalg.norm(w["layers.0.kernel"], axis=0) <= 1.0)
            ),
        ),
    ],
    ids=["max_norm", "non_neg", "unit_norm", "min_max_norm"],
)
def test_a_constrained_dense_stays_constrained(constraints_cfg, holds, backend):
    base = {"units": 3, "activation": "linear"}
    constrained = _train({**base, **constraints_cfg}, backend)
    assert all(holds(w) for w in constrained)
    # the same training without the constraint breaks it, so the test can fail
    assert not holds(_train(base, backend)[-1])


SPEC = """\
seed: 1
data:
  dataset: {type: moons, n_samples: 120, noise: 0.1}
model:
  input_shape: [2]
  layers:
    - type: dense
      units: 8
      activation: hard_silu
      kernel_initializer: {type: orthogonal, gain: 1.5}
      kernel_constraint: {type: max_norm, max_value: 1.5}
      bias_constraint: non_neg
      activity_regularizer: {type: l1_l2, l1: 0.001, l2: 0.01}
    - type: dense
      units: 1
      activation: sigmoid
      kernel_constraint: {type: min_max_norm, rate: 0.5, axis: [0, 1]}
loss: binary_crossentropy
epochs: 2
"""


def test_spec_with_constraints_and_activity_regularizer_validates(write_spec):
    spec = load_spec(write_spec(SPEC))
    first = spec.model.layers[0]
    assert first.kernel_constraint.type == "max_norm"
    assert first.kernel_constraint.axis == 0  # Keras default filled in
    assert first.bias_constraint.type == "non_neg"
    assert first.activity_regularizer.l2 == 0.01
    assert spec.model.layers[1].kernel_constraint.axis == [0, 1]
    result = CliRunner().invoke(app, ["validate", str(write_spec(SPEC))])
    assert result.exit_code == 0, result.stderr


def test_misspelled_constraint_gets_did_you_mean(write_spec):
    bad = SPEC.replace("type: max_norm", "type: max_nrom").replace(
        "rate: 0.5", "rate: 2.0"
    )
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(bad))
    found = {i.path: i.message for i in info.value.issues}
    assert "did you mean 'max_norm'" in found["model.layers[0].kernel_constraint"]
    assert "model.layers[1].kernel_constraint.rate" in found
    result = CliRunner().invoke(app, ["validate", str(write_spec(bad))])
    assert result.exit_code == 2
    assert "did you mean 'max_norm'?" in result.stderr
