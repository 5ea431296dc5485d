"""Optimizers: Keras defaults and validation, single steps, state round-trip, dtypes.

The 10-step trajectories against Keras 3 are in test_golden_optimizers.py
(and the older ones against PyTorch in test_golden.py).
"""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest
from helpers import case_id
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from nncli.engine.backend import Backend
from nncli.engine.optimizers import CLIP_OPTIONS, Optimizer, optimizers
from nncli.registry import named

OPTIONS = {
    "weight_decay": None,
    "clipnorm": None,
    "clipvalue": None,
    "global_clipnorm": None,
}
ADAM = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
# Keras 3.15's constructor defaults, written out by hand
KERAS_DEFAULTS = {
    "sgd": {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
    "rmsprop": {
        "learning_rate": 0.001,
        "rho": 0.9,
        "momentum": 0.0,
        "epsilon": 1e-7,
        "centered": False,
    },
    "adam": {**ADAM, "amsgrad": False},
    "adamw": {**ADAM, "amsgrad": False, "weight_decay": 0.004},
    "adamax": ADAM,
    "nadam": ADAM,
    "adagrad": {
        "learning_rate": 0.001,
        "initial_accumulator_value": 0.1,
        "epsilon": 1e-7,
    },
    "adadelta": {"learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-7},
    "lion": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.99},
}

# Every optimizer, every notable option, and each clip option and decay once.
CONFIGS = [
    {"type": "sgd"},
    {"type": "sgd", "momentum": 0.9},
    {"type": "sgd", "momentum": 0.9, "nesterov": True, "clipnorm": 0.5},
    {"type": "rmsprop", "clipvalue": 0.3},
    {"type": "rmsprop", "momentum": 0.5, "centered": True, "weight_decay": 0.1},
    {"type": "adam", "global_clipnorm": 1.0},
    {"type": "adam", "amsgrad": True},
    {"type": "adamw"},
    {"type": "adamw", "amsgrad": True, "clipnorm": 1.0},
    {"type": "adamax", "weight_decay": 0.1},
    {"type": "nadam"},
    {"type": "nadam", "global_clipnorm": 1.0, "weight_decay": 0.1},
    {"type": "adagrad"},
    {"type": "adagrad", "initial_accumulator_value": 0.0, "clipvalue": 0.5},
    {"type": "adadelta", "learning_rate": 1.0},
    {"type": "lion", "weight_decay": 0.1},
]
WITHOUT_DECAY = [c for c in CONFIGS if "weight_decay" not in c and c["type"] != "adamw"]


def test_configs_cover_every_optimizer_and_option():
    assert {c["type"] for c in CONFIGS} == set(optimizers.names())
    for option in (*CLIP_OPTIONS, "weight_decay"):
        assert any(option in c for c in CONFIGS), option


def _constructor_defaults(cls: type) -> dict:
    out = {}
    for fn in (Optimizer.__init__, cls.__init__):
        for key, p in inspect.signature(fn).parameters.items():
            if key != "self" and p.default is not p.empty:
                out[key] = p.default
    return out


@pytest.mark.parametrize("name", optimizers.names())
def test_defaults_are_keras_and_config_matches_constructor(name):
    cls = optimizers.get(name)
    fields = {k: v for k, v in cls.Config().model_dump().items() if k != "type"}
    assert fields == _constructor_defaults(cls) == {**OPTIONS, **KERAS_DEFAULTS[name]}
    opt = optimizers.create(cls.Config().model_dump())
    assert {k: getattr(opt, k) for k in fields} == fields


def test_keras_has_no_optimizer_aliases_so_neither_do_we():
    assert optimizers.names(aliases=True) == optimizers.names()


BAD_VALUES = [
    ("sgd", {"momentum": 1.5}),
    ("sgd", {"momentum": -0.1}),
    ("sgd", {"nesterov": "yes"}),
    ("rmsprop", {"rho": 1.1}),
    ("rmsprop", {"epsilon": 0.0}),
    ("adam", {"beta_1": 1.0}),
    ("adam", {"beta_2": -0.5}),
    ("adam", {"epsilon": -1e-7}),
    ("adam", {"learning_rate": "fast"}),
    ("adam", {"lr": 0.1}),
    ("adam", {"decay": 0.1}),
    ("adamw", {"weight_decay": None}),
    ("adamw", {"weight_decay": -0.004}),
    ("adamax", {"beta_2": 1.0}),
    ("adamax", {"epsilon": 0.0}),
    ("nadam", {"beta_1": 1.0}),
    ("nadam", {"momentum_decay": 0.004}),
    ("adagrad", {"initial_accumulator_value": -0.1}),
    ("adagrad", {"epsilon": 0.0}),
    ("adadelta", {"rho": 1.5}),
    ("lion", {"beta_1": 0.0}),
    ("lion", {"beta_1": 1.5}),
    ("lion", {"beta_2": -0.1}),
    ("lion", {"epsilon": 1e-7}),
    *[(name, {"learning_rate": -0.1}) for name in KERAS_DEFAULTS],
    *[(name, {"weight_decay": -0.1}) for name in KERAS_DEFAULTS],
    *[(name, {"learning_rate": float("inf")}) for name in KERAS_DEFAULTS],
    *[("adam", {option: v}) for option in CLIP_OPTIONS for v in (0.0, -1.0)],
]


@pytest.mark.parametrize(("name", "fields"), BAD_VALUES, ids=str)
def test_config_rejects_out_of_range_values(name, fields):
    with pytest.raises(ValidationError):
        optimizers.get(name).Config(**fields)


@pytest.mark.parametrize("name", optimizers.names())
@pytest.mark.parametrize("pair", list(itertools.combinations(CLIP_OPTIONS, 2)))
def test_config_refuses_two_clip_options_as_keras_does(name, pair):
    with pytest.raises(ValidationError, match="at most one of clipnorm") as err:
        optimizers.get(name).Config(**dict.fromkeys(pair, 1.0))
    assert all(f"{option}=1.0" in str(err.value) for option in pair)


def test_spec_validation_reports_two_clip_options():
    adapter = TypeAdapter(named(optimizers))
    with pytest.raises(ValidationError, match="at most one of"):
        adapter.validate_python({"type": "nadam", "clipvalue": 1.0, "clipnorm": 2.0})
    cfg = adapter.validate_python({"type": "nadam", "clipvalue": 1.0})
    assert cfg.clipvalue == 1.0 and cfg.clipnorm is None


def test_config_accepts_a_zero_learning_rate_and_weight_decay():
    for name in optimizers.names():
        cfg = optimizers.get(name).Config(learning_rate=0.0, weight_decay=0.0)
        assert cfg.learning_rate == 0.0 and cfg.weight_decay == 0.0


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
    # Adagrad starts its accumulator at 0.1: 1 - 0.1 * 2 / sqrt(0.1 + 4 + 1e-7)
    params = _one_param(1.0, be)
    optimizers.create({"type": "adagrad", "learning_rate": 0.1}).step(
        params, {"w": be.asarray([2.0])}
    )
    want = 1 - 0.2 / np.sqrt(4.1 + 1e-7)
    assert float(params["w"][0]) == pytest.approx(want, rel=1e-12)
    # Lion moves by exactly lr along -sign(g) on its first step
    params = {"w": be.asarray([1.0, 1.0, 1.0])}
    optimizers.create({"type": "lion", "learning_rate": 0.25}).step(
        params, {"w": be.asarray([3.0, -1e-9, 0.0])}
    )
    np.testing.assert_array_equal(be.to_numpy(params["w"]), [0.75, 1.25, 1.0])


def test_nadam_first_step_follows_the_keras_momentum_schedule(backend):
    be = Backend.from_name(backend.name, dtype="float64")
    g, lr = 0.5, 0.1
    mu1, mu2 = 0.9 * (1 - 0.5 * 0.96), 0.9 * (1 - 0.5 * 0.96**2)
    m_hat = mu2 * 0.1 * g / (1 - mu1 * mu2) + (1 - mu1) * g / (1 - mu1)
    v_hat = 0.001 * g * g / (1 - 0.999)
    params = _one_param(0.0, be)
    opt = optimizers.create({"type": "nadam", "learning_rate": lr})
    opt.step(params, {"w": be.asarray([g])})
    want = -lr * m_hat / (np.sqrt(v_hat) + 1e-7)
    assert float(params["w"][0]) == pytest.approx(want, rel=1e-12)
    assert float(opt.slots["u_product"]) == pytest.approx(mu1, rel=1e-15)


def _sgd_step(be: Backend, grads: dict, **options) -> dict:
    """Parameters after one plain SGD step (lr 1) from zeros."""
    params = {k: be.zeros(np.shape(v)) for k, v in grads.items()}
    opt = optimizers.create({"type": "sgd", "learning_rate": 1.0, **options})
    opt.step(params, {k: be.asarray(v) for k, v in grads.items()})
    return {k: be.to_numpy(v) for k, v in params.items()}


def test_clipping_options(backend):
    be = Backend.from_name(backend.name, dtype="float64")
    grads = {"a": [3.0, 4.0], "b": [12.0]}  # norms 5 and 12, global 13
    got = _sgd_step(be, grads, clipnorm=6.0)  # only b is clipped, each on its own
    np.testing.assert_allclose(got["a"], [-3.0, -4.0], rtol=1e-15)
    np.testing.assert_allclose(got["b"], [-6.0], rtol=1e-15)
    got = _sgd_step(be, grads, global_clipnorm=6.5)  # all scaled by 6.5 / 13
    np.testing.assert_allclose(got["a"], [-1.5, -2.0], rtol=1e-15)
    np.testing.assert_allclose(got["b"], [-6.0], rtol=1e-15)
    got = _sgd_step(be, grads, global_clipnorm=13.5)  # under the limit: unchanged
    np.testing.assert_allclose(got["a"], [-3.0, -4.0], rtol=1e-15)
    got = _sgd_step(be, grads, clipvalue=3.5)
    np.testing.assert_array_equal(got["a"], [-3.0, -3.5])
    np.testing.assert_array_equal(got["b"], [-3.5])


def test_clipping_leaves_the_callers_gradients_alone():
    grads = {"w": np.array([30.0, 40.0])}
    optimizers.create({"type": "sgd", "clipnorm": 1.0}).step({"w": np.zeros(2)}, grads)
    np.testing.assert_array_equal(grads["w"], [30.0, 40.0])


def test_an_infinite_global_norm_gives_nan_as_in_keras():
    # Keras adds (norm - norm) to the scale so an overflowing step is seen,
    # not silently skipped; the training loop then reports the divergence
    params = {"w": np.array([1.0, 1.0])}
    opt = optimizers.create({"type": "sgd", "global_clipnorm": 1.0})
    with np.errstate(invalid="ignore", over="ignore"):
        opt.step(params, {"w": np.array([np.inf, 1.0])})
    assert np.isnan(params["w"]).all()


def test_weight_decay_is_decoupled_and_comes_after_clipping(backend):
    be = Backend.from_name(backend.name, dtype="float64")
    params = {"w": be.asarray([2.0, -4.0])}
    opt = optimizers.create(
        {"type": "sgd", "learning_rate": 0.1, "weight_decay": 0.5, "clipvalue": 1.0}
    )
    opt.step(params, {"w": be.asarray([0.0, 10.0])})
    # w - w * 0.5 * 0.1, then - 0.1 * clip(g): decay never passes through the clip
    np.testing.assert_allclose(be.to_numpy(params["w"]), [1.9, -3.9], rtol=1e-15)


class NoFloat64(np.ndarray):
    """An array that fails any ufunc taking or giving float64 (an upcast)."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=(), **kwargs):
        plain = [np.asarray(x) if isinstance(x, NoFloat64) else x for x in inputs]
        if out:
            kwargs["out"] = tuple(np.asarray(o) for o in out)
        result = getattr(ufunc, method)(*plain, **kwargs)
        results = result if isinstance(result, tuple) else (result,)
        for x in (*plain, *results):
            if isinstance(x, (np.ndarray, np.generic)) and x.dtype == np.float64:
                raise AssertionError(f"float64 in np.{ufunc.__name__}.{method}")
        if out:
            return out[0] if len(out) == 1 else out
        return result.view(NoFloat64) if isinstance(result, np.ndarray) else result


def test_the_upcast_detector_detects_an_upcast():
    with pytest.raises(AssertionError, match="float64"):
        np.ones(2, np.float32).view(NoFloat64) * np.float64(0.5)
    np.ones(2, np.float32).view(NoFloat64) * 0.5  # a Python float is fine


@pytest.mark.parametrize("cfg", CONFIGS, ids=case_id)
def test_float32_stays_float32_in_every_operation(cfg):
    rng = np.random.default_rng(0)

    def f32(*shape):
        return rng.normal(size=shape).astype(np.float32).view(NoFloat64)

    params = {"a": f32(3, 2), "b": f32(2)}
    arrays = dict(params)
    opt = optimizers.create(cfg)
    for scale in (1.0, 100.0, 0.01):  # both sides of every clip threshold
        opt.step(params, {"a": scale * f32(3, 2), "b": scale * f32(2)})
    assert all(params[k] is arrays[k] for k in params)  # updated in place
    assert all(v.dtype == np.float32 for v in params.values())
    assert all(v.dtype == np.float32 for v in opt.slots.values())


@pytest.mark.parametrize("cfg", CONFIGS, ids=case_id)
def test_updates_are_in_place_and_cast_float64_gradients(cfg, backend):
    params = {"layers.0.kernel": backend.asarray(np.ones((2, 3)))}
    before = params["layers.0.kernel"]
    grads = {"layers.0.kernel": backend.xp.full((2, 3), 0.5, dtype=np.float64)}
    opt = optimizers.create({**cfg, "learning_rate": 0.01})
    opt.step(params, grads)
    assert params["layers.0.kernel"] is before
    assert before.dtype == np.float32
    assert bool(backend.xp.all(before < 1.0))
    assert all(v.dtype == np.float32 for v in opt.slots.values())


def _train(opt, params, grads_seq):
    for g in grads_seq:
        opt.step(params, {k: v.copy() for k, v in g.items()})


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=case_id)
def test_state_dict_round_trip_resumes_bit_for_bit(cfg, dtype, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    rng = np.random.default_rng(0)
    seq = [
        {
            "a": be.asarray(rng.normal(size=(3, 2)) * rng.choice([1, 10])),
            "b": be.asarray(rng.normal(size=(2,))),
        }
        for _ in range(8)
    ]
    params = {"a": be.asarray(rng.normal(size=(3, 2))), "b": be.zeros((2,))}
    cfg = {**cfg, "learning_rate": 0.1}
    opt = optimizers.create(cfg)
    _train(opt, params, seq[:4])
    state = opt.state_dict()
    saved = {k: v.copy() for k, v in params.items()}
    _train(opt, params, seq[4:])  # must not change the snapshot
    assert state["iterations"] == 4 and opt.iterations == 8
    # resume from host copies, as a checkpoint on disk would give them
    host = {
        "iterations": state["iterations"],
        "slots": {k: be.to_numpy(v) for k, v in state["slots"].items()},
    }
    resumed = optimizers.create(cfg)
    resumed.load_state_dict(host)
    again = {k: v.copy() for k, v in saved.items()}
    _train(resumed, again, seq[4:])
    for k, w in params.items():
        np.testing.assert_array_equal(be.to_numpy(again[k]), be.to_numpy(w))
    # and the state mattered (plain SGD has none): a fresh optimizer differs
    fresh = optimizers.create(cfg)
    _train(fresh, saved, seq[4:])
    if state["slots"]:
        assert any(
            not np.array_equal(be.to_numpy(saved[k]), be.to_numpy(params[k]))
            for k in params
        )


def test_nadam_keeps_its_momentum_product_in_the_state():
    opt = optimizers.create({"type": "nadam"})
    params = {"w": np.zeros(2, np.float32)}
    for _ in range(3):
        opt.step(params, {"w": np.ones(2, np.float32)})
    product = opt.state_dict()["slots"]["u_product"]
    mu = [0.9 * (1 - 0.5 * 0.96**t) for t in (1, 2, 3)]
    assert product.shape == () and product.dtype == np.float32
    assert float(product) == pytest.approx(np.prod(mu), rel=1e-6)


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


@pytest.mark.parametrize("cfg", CONFIGS, ids=case_id)
def test_a_zero_learning_rate_freezes_the_weights(cfg):
    params = {"w": np.array([1.0, -2.0])}
    opt = optimizers.create({**cfg, "learning_rate": 0.0})
    for _ in range(3):
        opt.step(params, {"w": np.array([0.3, -7.0])})
    np.testing.assert_array_equal(params["w"], [1.0, -2.0])


def test_a_step_without_parameters_only_counts():
    for name in optimizers.names():
        opt = optimizers.create(name)
        opt.step({}, {})
        assert opt.iterations == 1 and opt.slots == {}


@settings(max_examples=30, deadline=None)
@given(
    cfg=st.sampled_from(WITHOUT_DECAY),
    w=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=5),
    lr=st.floats(0.0, 10.0),
    steps=st.integers(1, 3),
)
def test_zero_gradient_from_zero_state_leaves_parameters_unchanged(cfg, w, lr, steps):
    # Every update's numerator is (a clipped) g or an average of past
    # gradients, all exactly 0, while epsilon (or a clip threshold) keeps each
    # denominator positive: 0 / d = 0. Lion's sign(0) = 0. No warning either.
    params = {"w": np.array(w)}
    opt = optimizers.create({**cfg, "learning_rate": lr})
    for _ in range(steps):
        opt.step(params, {"w": np.zeros(len(w))})
    np.testing.assert_array_equal(params["w"], np.array(w))


def test_decay_moves_weights_even_on_a_zero_gradient():
    # the contrast to the property above: weight decay needs no gradient
    params = {"w": np.array([2.0])}
    opt = optimizers.create({"type": "adamw", "learning_rate": 0.1})
    opt.step(params, {"w": np.array([0.0])})
    assert params["w"][0] == pytest.approx(2.0 - 2.0 * 0.004 * 0.1, rel=1e-15)


def test_momentum_keeps_moving_on_a_zero_gradient_once_it_has_state():
    params = {"w": np.array([1.0])}
    opt = optimizers.create({"type": "sgd", "learning_rate": 0.1, "momentum": 0.9})
    opt.step(params, {"w": np.array([1.0])})
    after_one = params["w"].copy()
    opt.step(params, {"w": np.array([0.0])})
    assert params["w"][0] < after_one[0]


def _tiling(be, shapes, rng, scale=1.0):
    """Arrays of `shapes` as views that tile one flat buffer (pack_parameters)."""
    flat = be.zeros((sum(int(np.prod(s)) for s in shapes),))
    out, offset = {}, 0
    for i, s in enumerate(shapes):
        n = int(np.prod(s))
        view = flat[offset : offset + n].reshape(s)
        view[...] = be.asarray(rng.normal(size=s) * scale)
        out[f"layers.{i}.w"], offset = view, offset + n
    return out


@pytest.mark.parametrize("parts", [False, True], ids=["whole", "parts"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=case_id)
def test_one_flat_buffer_update_equals_the_per_tensor_loop(
    cfg, parts, backend, monkeypatch
):
    import nncli.engine.optimizers as optimizers_module

    if parts:  # every buffer is large enough: blocks of 3 of its 20 elements
        monkeypatch.setattr(optimizers_module, "PARTS_MIN_SIZE", 1)
        monkeypatch.setattr(optimizers_module, "PART_SIZE", 3)
    be = Backend.from_name(backend.name)
    rng = np.random.default_rng(1)
    shapes = [(3, 2), (2,), (2, 4), (4,)]
    flat_p = _tiling(be, shapes, rng)
    flat_g = _tiling(be, shapes, rng)
    loop_p = {k: v.copy() for k, v in flat_p.items()}
    cfg = {**cfg, "learning_rate": 0.1}
    flat_opt, loop_opt = optimizers.create(cfg), optimizers.create(cfg)
    keys, update = [], flat_opt.update

    def spy(key, w, g):  # which keys the flat optimizer updates
        keys.append(key)
        return update(key, w, g)

    flat_opt.update = spy
    for step in range(5):
        for k, g in flat_g.items():
            g[...] = be.asarray(rng.normal(size=g.shape) * (1 + 3 * step))
        flat_opt.step(flat_p, flat_g)
        loop_opt.step(loop_p, {k: g.copy() for k, g in flat_g.items()})
    assert (flat_opt._flat is not None) == ("clipnorm" not in cfg)
    in_blocks = parts and "clipnorm" not in cfg and backend.name == "numpy"
    blocks = {(k.lo, k.hi) for k in keys if isinstance(k, optimizers_module._Part)}
    assert blocks == (
        {(lo, min(lo + 3, 20)) for lo in range(0, 20, 3)} if in_blocks else set()
    )
    # a global norm summed over one buffer rounds differently, nothing else
    exact = "global_clipnorm" not in cfg
    for k in flat_p:
        a, b = be.to_numpy(flat_p[k]), be.to_numpy(loop_p[k])
        if exact:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    flat_state, loop_state = flat_opt.state_dict(), loop_opt.state_dict()
    assert sorted(flat_state["slots"]) == sorted(loop_state["slots"])
    for k, v in flat_state["slots"].items():
        assert v.shape == loop_state["slots"][k].shape
        if exact:
            np.testing.assert_array_equal(
                be.to_numpy(v), be.to_numpy(loop_state["slots"][k])
            )


@pytest.mark.parametrize(
    "cfg", [c for c in CONFIGS if "clipnorm" not in c], ids=case_id
)
def test_flat_and_per_tensor_states_resume_each_other(cfg):
    be = Backend.from_name("numpy")
    rng = np.random.default_rng(2)
    shapes = [(3, 2), (2,)]
    params, grads = _tiling(be, shapes, rng), _tiling(be, shapes, rng)
    cfg = {**cfg, "learning_rate": 0.1}
    opt = optimizers.create(cfg)
    for _ in range(3):
        opt.step(params, grads)
    state = opt.state_dict()
    saved = {k: v.copy() for k, v in params.items()}
    for _ in range(3):
        opt.step(params, grads)
    # a per-tensor optimizer goes on from the flat one's state, and back
    loop = optimizers.create(cfg)
    loop.load_state_dict(state)
    loop_p = {k: v.copy() for k, v in saved.items()}
    for _ in range(3):
        loop.step(loop_p, {k: g.copy() for k, g in grads.items()})
    flat = optimizers.create(cfg)
    flat.load_state_dict(state)
    flat_p = _tiling(be, shapes, rng)
    for k in flat_p:
        flat_p[k][...] = saved[k]
    for _ in range(3):
        flat.step(flat_p, grads)
    assert flat._flat is not None
    for k in params:
        np.testing.assert_array_equal(flat_p[k], params[k])
        if "global_clipnorm" in cfg:  # the global norm's sum rounds differently
            np.testing.assert_allclose(loop_p[k], params[k], rtol=1e-6, atol=1e-7)
        else:
            np.testing.assert_array_equal(loop_p[k], params[k])


def test_a_rebound_parameter_sends_the_step_back_to_the_loop():
    be = Backend.from_name("numpy")
    rng = np.random.default_rng(3)
    params, grads = _tiling(be, [(2, 2), (2,)], rng), _tiling(be, [(2, 2), (2,)], rng)
    opt, ref = optimizers.create("adam"), optimizers.create("adam")
    ref_p = {k: v.copy() for k, v in params.items()}
    opt.step(params, grads)
    ref.step(ref_p, grads)
    assert opt._flat is not None
    params["layers.1.w"] = params["layers.1.w"].copy()  # no longer a view
    for _ in range(2):
        opt.step(params, grads)
        ref.step(ref_p, grads)
    assert opt._flat is None
    for k in params:
        np.testing.assert_array_equal(params[k], ref_p[k])


def test_a_dense_network_keeps_its_parameters_in_one_buffer():
    from nncli.engine.layers import Dense, Dropout
    from nncli.engine.losses import losses
    from nncli.engine.network import Model, Sequential

    be = Backend.from_name("numpy")
    net = Sequential([Dense(4, activation="relu"), Dropout(0.1), Dense(1)])
    net.build((3,), be, np.random.default_rng(0))
    params, grads = list(net.params().values()), list(net.grads().values())
    assert len({id(p.base) for p in params}) == 1 and params[0].base.size == 21
    assert len({id(g.base) for g in grads}) == 1 and grads[0].base is not params[0].base
    model = Model(net, losses.create("mse"), optimizers.create("adam"))
    model.train_step(be.asarray(np.ones((2, 3))), be.asarray(np.ones((2, 1))))
    assert model.optimizer._flat is not None
