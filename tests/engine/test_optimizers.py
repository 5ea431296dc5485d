"""Optimizers: Keras defaults and ranges, single steps, state round-trip, properties.

The 10-step trajectories against PyTorch / the Keras transcription are in
test_golden.py.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from nncli.engine.backend import Backend
from nncli.engine.optimizers import optimizers

KERAS_DEFAULTS = {
    "sgd": {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
    "rmsprop": {
        "learning_rate": 0.001,
        "rho": 0.9,
        "momentum": 0.0,
        "epsilon": 1e-7,
        "centered": False,
    },
    "adam": {
        "learning_rate": 0.001,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "amsgrad": False,
    },
}


@pytest.mark.parametrize("name", optimizers.names())
def test_defaults_are_keras_and_config_matches_constructor(name):
    cls = optimizers.get(name)
    fields = {k: v for k, v in cls.Config().model_dump().items() if k != "type"}
    params = inspect.signature(cls.__init__).parameters
    defaults = {k: p.default for k, p in params.items() if k != "self"}
    assert fields == defaults == KERAS_DEFAULTS[name]


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("sgd", "learning_rate", -0.1),
        ("sgd", "momentum", 1.5),
        ("sgd", "momentum", -0.1),
        ("rmsprop", "rho", 1.1),
        ("rmsprop", "epsilon", 0.0),
        ("adam", "beta_1", 1.0),
        ("adam", "beta_2", -0.5),
        ("adam", "epsilon", -1e-7),
        ("adam", "learning_rate", "fast"),
        ("adam", "lr", 0.1),
    ],
)
def test_config_rejects_out_of_range_values(name, field, value):
    with pytest.raises(ValidationError):
        optimizers.get(name).Config(**{field: value})


def test_config_accepts_a_zero_learning_rate():
    for name in optimizers.names():
        assert optimizers.get(name).Config(learning_rate=0.0).learning_rate == 0.0


def _one_param(value: float, backend: Backend) -> dict:
    return {"w": backend.asarray([value])}


def test_single_steps_match_the_keras_formulas(backend):
    be = Backend.from_name(backend.name, dtype="float64")
    # Keras RMSprop docstring: var 10, loss var^2/2, lr 0.1 -> 9.683772
    params = _one_param(10.0, be)
    optimizers.create({"type": "rmsprop", "learning_rate": 0.1}).step(
        params, {"w": params["w"].copy()}
    )
    assert float(params["w"][0]) == pytest.approx(9.683772, abs=1e-6)
    # SGD momentum 0.9, lr 0.1, g = 1 twice: v = -0.1, then -0.19 -> w = 1 - 0.29
    sgd = optimizers.create({"type": "sgd", "learning_rate": 0.1, "momentum": 0.9})
    params = _one_param(1.0, be)
    for _ in range(2):
        sgd.step(params, {"w": be.asarray([1.0])})
    assert float(params["w"][0]) == pytest.approx(0.71)
    # Adam's first step moves each weight by lr * g / (|g| + eps / sqrt(1 - b2))
    params = _one_param(0.0, be)
    optimizers.create({"type": "adam", "learning_rate": 0.1}).step(
        params, {"w": be.asarray([2.0])}
    )
    eps_hat = 1e-7 / np.sqrt(1 - 0.999)
    assert float(params["w"][0]) == pytest.approx(-0.1 * 2 / (2 + eps_hat), rel=1e-12)


def test_updates_are_in_place_and_keep_float32(backend):
    params = {"layers.0.kernel": backend.asarray(np.ones((2, 3)))}
    before = params["layers.0.kernel"]
    grads = {"layers.0.kernel": backend.xp.full((2, 3), 0.5, dtype=np.float64)}
    for name in optimizers.names():
        optimizers.create(name).step(params, grads)
    assert params["layers.0.kernel"] is before
    assert before.dtype == np.float32
    assert bool(backend.xp.all(before < 1.0))


def _train(opt, params, grads_seq):
    for g in grads_seq:
        opt.step(params, {k: v.copy() for k, v in g.items()})


@pytest.mark.parametrize(
    "cfg",
    [
        {"type": "sgd", "momentum": 0.9, "nesterov": True},
        {"type": "rmsprop", "momentum": 0.5, "centered": True},
        {"type": "adam", "amsgrad": True},
    ],
    ids=lambda c: c["type"],
)
def test_state_dict_round_trip_resumes_exactly(cfg, backend):
    rng = np.random.default_rng(0)
    seq = [
        {
            "a": backend.asarray(rng.normal(size=(3, 2))),
            "b": backend.asarray(rng.normal(size=(2,))),
        }
        for _ in range(8)
    ]
    params = {"a": backend.asarray(rng.normal(size=(3, 2))), "b": backend.zeros((2,))}
    opt = optimizers.create(cfg)
    _train(opt, params, seq[:4])
    state = opt.state_dict()
    saved = {k: v.copy() for k, v in params.items()}
    _train(opt, params, seq[4:])  # must not change the snapshot
    assert state["iterations"] == 4 and opt.iterations == 8
    # resume from host copies, as a checkpoint on disk would give them
    host = {
        "iterations": state["iterations"],
        "slots": {k: backend.to_numpy(v) for k, v in state["slots"].items()},
    }
    resumed = optimizers.create(cfg)
    resumed.load_state_dict(host)
    _train(resumed, saved, seq[4:])
    for k, w in params.items():
        np.testing.assert_array_equal(backend.to_numpy(saved[k]), backend.to_numpy(w))


def test_loaded_slot_of_the_wrong_shape_is_refused():
    opt = optimizers.create({"type": "adam"})
    opt.load_state_dict(
        {
            "iterations": 3,
            "slots": {"w/momentum": np.zeros(4), "w/velocity": np.zeros(4)},
        }
    )
    with pytest.raises(ValueError, match="w/momentum"):
        opt.step({"w": np.zeros(3)}, {"w": np.ones(3)})


def test_a_zero_learning_rate_freezes_the_weights():
    for name in optimizers.names():
        params = {"w": np.array([1.0, -2.0])}
        opt = optimizers.create({"type": name, "learning_rate": 0.0})
        for _ in range(3):
            opt.step(params, {"w": np.array([0.3, -7.0])})
        np.testing.assert_array_equal(params["w"], [1.0, -2.0])


OPTIMIZER_CONFIGS = [
    {"type": "sgd"},
    {"type": "sgd", "momentum": 0.9},
    {"type": "sgd", "momentum": 0.9, "nesterov": True},
    {"type": "rmsprop"},
    {"type": "rmsprop", "momentum": 0.5, "centered": True},
    {"type": "adam"},
    {"type": "adam", "amsgrad": True},
]


@settings(max_examples=20, deadline=None)
@given(
    cfg=st.sampled_from(OPTIMIZER_CONFIGS),
    w=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=5),
    lr=st.floats(0.0, 10.0),
    steps=st.integers(1, 3),
)
def test_zero_gradient_from_zero_state_leaves_parameters_unchanged(cfg, w, lr, steps):
    # sgd: the update is lr * 0 (and a zero velocity stays zero). rmsprop and
    # adam: every numerator is an average of past gradients (or g itself), all
    # exactly 0, while epsilon > 0 keeps the denominator positive: 0 / d = 0.
    params = {"w": np.array(w)}
    opt = optimizers.create({**cfg, "learning_rate": lr})
    for _ in range(steps):
        opt.step(params, {"w": np.zeros(len(w))})
    np.testing.assert_array_equal(params["w"], np.array(w))


def test_momentum_keeps_moving_on_a_zero_gradient_once_it_has_state():
    # the contrast to the property above: state, not the gradient, drives this
    params = {"w": np.array([1.0])}
    opt = optimizers.create({"type": "sgd", "learning_rate": 0.1, "momentum": 0.9})
    opt.step(params, {"w": np.array([1.0])})
    after_one = params["w"].copy()
    opt.step(params, {"w": np.array([0.0])})
    assert params["w"][0] < after_one[0]
