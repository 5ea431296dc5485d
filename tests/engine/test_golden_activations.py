"""Activations against Keras 3 golden values (tests/golden/keras_activations.py).

Outputs and input gradients (upstream dy fixed) for every registered
activation, alias and option, on inputs with saturated tails. Tolerances:
float64 rtol 1e-10 (atol 1e-12), float32 rtol 1e-5 (atol 1e-6, for values
that underflow in float32, such as gelu(-30) ~ 1e-197).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load_keras_golden

from nncli.engine.activations import activations
from nncli.engine.backend import Backend

TOL = {
    "float64": {"rtol": 1e-10, "atol": 1e-12},
    "float32": {"rtol": 1e-5, "atol": 1e-6},
}
ARRAYS, META = load_keras_golden("activations")


def test_sidecar_names_keras_and_covers_every_activation():
    assert META["framework"] == "keras" and META["version"].startswith("3.")
    assert META["dtype"] == "float64" and META["conventions"]
    types = {case["nncli"]["type"] for case in META["cases"].values()}
    assert set(activations.names(aliases=True)) <= types
    for case in META["cases"].values():
        assert activations.canonical(case["nncli"]["type"])
        assert case["keras"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", sorted(META["cases"]))
def test_forward_and_input_gradient_match_keras(case, dtype, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    act = activations.create(META["cases"][case]["nncli"])
    name = "x_exp" if META["cases"][case]["nncli"]["type"] == "exponential" else "x"
    x, dy = be.asarray(ARRAYS[name]), be.asarray(ARRAYS["dy"])
    y = act.forward(x)
    dx = act.backward(dy, x, y)
    for what, got in (("y", y), ("dx", dx)):
        want = ARRAYS[f"{case}__{what}"]
        got = be.to_numpy(got)
        assert got.shape == want.shape and got.dtype == np.dtype(dtype), what
        np.testing.assert_allclose(got, want, err_msg=f"{case} {what}", **TOL[dtype])


def test_inputs_reach_the_saturated_tails_and_avoid_the_kinks():
    x = ARRAYS["x"]
    assert x.min() == -1e4 and x.max() == 1e4
    assert {-30.0, 30.0, -100.0, 100.0} <= set(x.ravel().tolist())
    kinks = [0.0, -3.0, 3.0, 6.0, 1.5, 4.5, 1.0, 5.0]  # relu options' thresholds too
    assert np.min(np.abs(x.ravel()[:, None] - np.array(kinks))) >= 1e-3
    np.testing.assert_array_equal(x.astype(np.float32), x)  # exact in float32
