"""Activations: gradients, stability in the tails, erf accuracy, Keras defaults."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from helpers import ACTIVATION_CASES, away_from_kinks, case_id, float64
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nncli.engine.activations import (
    HardSiLU,
    SiLU,
    activations,
    erf,
    erfc,
    sigmoid,
)
from nncli.engine.gradcheck import check_activation


@pytest.mark.parametrize("cfg", ACTIVATION_CASES, ids=case_id)
def test_gradient_matches_finite_differences(cfg, backend):
    be = float64(backend)
    rng = np.random.default_rng(0)
    x = be.asarray(away_from_kinks(rng.normal(0.0, 3.0, (5, 6))))  # (batch, units)
    check_activation(activations.create(cfg), x)


EXTREMES = [-1e4, -800.0, -100.0, -40.0, -30.0, -1e-30, 0.0, 1e-30, 30.0, 40.0]
EXTREMES += [100.0, 800.0, 1e4]


@pytest.mark.parametrize("name", activations.names())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_finite_and_warning_free_at_extremes(name, dtype, backend):
    # pytest turns any overflow/invalid RuntimeWarning into a failure
    be = type(backend).from_name(backend.name, dtype=dtype)
    x = be.asarray([EXTREMES, EXTREMES[::-1]])  # (2, 13)
    act = activations.create(name)
    y = act.forward(x)
    dx = act.backward(be.xp.ones_like(y), x, y)
    assert y.dtype == x.dtype and dx.dtype == x.dtype
    finite = np.ones(x.shape, dtype=bool)
    if name == "exponential":  # exp(x) overflows to inf like Keras, silently
        finite = be.to_numpy(x) <= math.log(np.finfo(dtype).max)
    np.testing.assert_array_equal(be.to_numpy(be.xp.isfinite(y)), finite)
    np.testing.assert_array_equal(be.to_numpy(be.xp.isfinite(dx)), finite)


SATURATED = [  # (name, f(-1e4), f(1e4), f'(-1e4), f'(1e4))
    ("hard_sigmoid", 0.0, 1.0, 0.0, 0.0),
    ("hard_silu", 0.0, 1e4, 0.0, 1.0),
    ("relu6", 0.0, 6.0, 0.0, 0.0),
    ("softsign", -1e4 / (1 + 1e4), 1e4 / (1 + 1e4), 1 / (1 + 1e4) ** 2, None),
    ("mish", 0.0, 1e4, 0.0, 1.0),
    ("exponential", 0.0, math.inf, 0.0, math.inf),
]


@pytest.mark.parametrize("case", SATURATED, ids=lambda c: c[0])
def test_saturated_values_and_slopes(case):
    name, lo, hi, dlo, dhi = case
    act = activations.create(name)
    x = np.array([-1e4, 1e4])
    y = act.forward(x)
    dx = act.backward(np.ones(2), x, y)
    assert y[0] == pytest.approx(lo, abs=1e-300) and y[1] == pytest.approx(hi)
    assert dx[0] == pytest.approx(dlo, abs=1e-300)
    assert dx[1] == pytest.approx(dlo if dhi is None else dhi)


def test_exponential_overflows_exactly_where_the_dtype_does():
    act = activations.create("exponential")
    for dtype in (np.float32, np.float64):
        limit = math.log(np.finfo(dtype).max)
        x = np.array([limit * (1 - 1e-6), limit * (1 + 1e-6)], dtype=dtype)
        y = act.forward(x)
        assert y.dtype == dtype and np.isfinite(y[0]) and y[1] == np.inf
        assert y[0] == pytest.approx(math.exp(float(x[0])), rel=1e-6)


def test_sigmoid_keeps_relative_precision_in_the_left_tail():
    x = np.array([-30.0, -700.0, 30.0])
    y = sigmoid(x)
    assert y[0] == pytest.approx(1 / (1 + math.exp(30.0)), rel=1e-14)
    assert 0.0 <= y[1] < 1e-300 and y[2] == pytest.approx(1.0)


def test_keras_default_parameters_and_values():
    assert activations.create("leaky_relu").forward(np.array([-1.0]))[0] == -0.2
    assert activations.create("elu").forward(np.array([-1.0]))[0] == pytest.approx(
        math.expm1(-1.0)
    )
    # gelu(1) = Phi(1) exactly (erf form, not the tanh approximation)
    assert activations.create("gelu").forward(np.array([1.0]))[0] == pytest.approx(
        0.8413447460685429, rel=1e-15
    )
    selu = activations.create("selu").forward(np.array([1.0, -1.0]))
    np.testing.assert_allclose(selu, [1.0507009873554805, -1.1113307378125628])
    assert isinstance(activations.create("swish"), SiLU)
    # Keras 3's hard_sigmoid is x/6 + 1/2 (Keras 2 had 0.2 x + 0.5)
    hs = activations.create("hard_sigmoid").forward(np.array([-4.0, 1.0, 2.5]))
    np.testing.assert_allclose(hs, [0.0, 1 / 6 + 0.5, 2.5 / 6 + 0.5], rtol=1e-15)
    assert isinstance(activations.create("hard_swish"), HardSiLU)
    hsilu = activations.create("hard_silu").forward(np.array([-3.5, 1.5, 3.5]))
    np.testing.assert_allclose(hsilu, [0.0, 1.5 * 4.5 / 6, 3.5], rtol=1e-15)
    mish1 = math.tanh(math.log1p(math.e))
    assert activations.create("mish").forward(np.array([1.0]))[0] == pytest.approx(
        mish1, rel=1e-15
    )
    x = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(
        activations.create("log_softmax").forward(x),
        np.log(np.exp(x) / np.exp(x).sum()),
        rtol=1e-14,
    )


@pytest.mark.parametrize(
    ("cfg", "want"),
    [
        ({}, [0.0, 0.0, 0.0, 0.5, 2.0, 7.0]),
        ({"negative_slope": 0.1}, [-0.2, -0.05, 0.0, 0.5, 2.0, 7.0]),
        ({"max_value": 6.0}, [0.0, 0.0, 0.0, 0.5, 2.0, 6.0]),
        ({"threshold": 1.0}, [0.0, 0.0, 0.0, 0.0, 2.0, 7.0]),
        (
            {"negative_slope": 0.5, "max_value": 3.0, "threshold": 1.0},
            [-1.5, -0.75, -0.5, -0.25, 2.0, 3.0],
        ),
    ],
    ids=lambda v: str(v),
)
def test_relu_options_follow_keras(cfg, want):
    # keras.activations.relu: x > threshold -> min(x, max_value);
    # otherwise negative_slope * (x - threshold)
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0, 7.0])
    relu = activations.create({"type": "relu", **cfg})
    np.testing.assert_allclose(relu.forward(x), want, rtol=1e-15)


def test_erf_and_erfc_match_math_to_a_few_ulp():
    x = np.concatenate([np.linspace(-8.0, 8.0, 1601), [1e-300, -1e-12, 0.46875]])
    want_erf = np.array([math.erf(v) for v in x])
    want_erfc = np.array([math.erfc(v) for v in x])
    np.testing.assert_allclose(erf(x), want_erf, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(erfc(x), want_erfc, rtol=1e-13, atol=0)
    assert erf(np.float32([0.3, 2.0])).dtype == np.float32


@settings(max_examples=25, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
        elements=st.floats(-1e3, 1e3),
    )
)
def test_softmax_rows_sum_to_one(x):
    for dtype in (np.float64, np.float32):
        y = activations.create("softmax").forward(x.astype(dtype))
        assert np.all(y >= 0)
        tol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(y.sum(axis=-1), 1.0, atol=tol)


@pytest.mark.parametrize("name", activations.names())
def test_config_defaults_match_constructor(name):
    cls = activations.get(name)
    fields = {k: v for k, v in cls.Config().model_dump().items() if k != "type"}
    params = inspect.signature(cls.__init__).parameters
    defaults = {k: p.default for k, p in params.items() if k != "self"}
    assert {k: v for k, v in defaults.items() if k not in ("args", "kwargs")} == fields
    assert cls.Config().type == name
    activations.create(cls.Config().model_dump())
