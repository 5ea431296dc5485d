"""Weight constraints against Keras 3 (tests/golden/keras_constraints.py).

Projections of fixed weights (norms below, inside and above the bounds, a zero
column, tuple axes), and Keras's constrained training: three SGD steps of a
Dense layer whose kernel and bias are projected after each update. Tolerances:
float64 rtol 1e-10 (atol 1e-12), float32 rtol 1e-5 (atol 1e-6).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load_keras_golden

from nncli.engine.backend import Backend
from nncli.engine.constraints import constraints
from nncli.engine.layers import layers
from nncli.engine.losses import losses
from nncli.engine.network import Model, Sequential
from nncli.engine.optimizers import optimizers

TOL = {
    "float64": {"rtol": 1e-10, "atol": 1e-12},
    "float32": {"rtol": 1e-5, "atol": 1e-6},
}
ARRAYS, META = load_keras_golden("constraints")
TRAINING = sorted(k for k in META["cases"] if k.startswith("training_"))
PROJECTIONS = sorted(set(META["cases"]) - set(TRAINING))


def test_sidecar_names_keras_and_covers_every_constraint():
    assert META["framework"] == "keras" and META["version"].startswith("3.")
    types = {META["cases"][k]["nncli"]["type"] for k in PROJECTIONS}
    assert set(constraints.names()) <= types
    trained = {
        META["cases"][k]["nncli"][f"{w}_constraint"]["type"]
        for k in TRAINING
        for w in ("kernel", "bias")
    }
    assert trained == set(constraints.names())


def _check(be: Backend, got, want: np.ndarray, dtype: str, what: str) -> None:
    got = be.to_numpy(got)
    assert got.shape == want.shape and got.dtype == np.dtype(dtype), what
    np.testing.assert_allclose(got, want, err_msg=what, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", PROJECTIONS)
def test_projection_matches_keras(case, dtype, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    constraint = constraints.create(META["cases"][case]["nncli"])
    w = ARRAYS[f"w_{ARRAYS[f'{case}__weight']}"]
    _check(be, constraint(be.asarray(w)), ARRAYS[f"{case}__out"], dtype, case)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", TRAINING)
def test_constrained_training_matches_keras(case, dtype, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    cfg = META["cases"][case]["nncli"]
    net = Sequential([layers.create(cfg)])
    net.build((3,), be, np.random.default_rng(0))
    net.set_weights(
        {f"layers.0.{k}": ARRAYS[f"{case}__w0_{k}"] for k in ("kernel", "bias")}
    )
    sgd = optimizers.create({"type": "sgd", "learning_rate": 0.1})
    model = Model(net, losses.create("mean_squared_error"), sgd)
    x, y = be.asarray(ARRAYS[f"{case}__x"]), be.asarray(ARRAYS[f"{case}__y"])
    for step in range(3):
        loss, _ = model.train_step(x, y)
        _check(be, loss, ARRAYS[f"{case}__loss"][step], dtype, f"loss {step + 1}")
        for k in ("kernel", "bias"):
            want = ARRAYS[f"{case}__steps_{k}"][step]
            _check(be, net.layers[0].params[k], want, dtype, f"{k} after {step + 1}")
