"""Regularizers against Keras 3 (tests/golden/keras_regularizers.py).

Penalties and gradients on fixed weights, and a regularized model's training
loss, parameter gradients and evaluation loss, where the activity penalty is
divided by the batch size (Keras 3's Layer.__call__). Tolerances: float64
rtol 1e-10 (atol 1e-12), float32 rtol 1e-5 (atol 1e-6).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load_keras_golden

from nncli.engine.backend import Backend
from nncli.engine.losses import losses
from nncli.engine.network import Model, Sequential
from nncli.engine.regularizers import regularizers

TOL = {
    "float64": {"rtol": 1e-10, "atol": 1e-12},
    "float32": {"rtol": 1e-5, "atol": 1e-6},
}
ARRAYS, META = load_keras_golden("regularizers")
MODELS = sorted(
    k for k, c in META["cases"].items() if c["nncli"]["type"] == "sequential"
)
PENALTIES = sorted(set(META["cases"]) - set(MODELS))


def test_sidecar_names_keras_and_covers_every_regularizer():
    assert META["framework"] == "keras" and META["version"].startswith("3.")
    types = {META["cases"][k]["nncli"]["type"] for k in PENALTIES}
    assert set(regularizers.names()) <= types
    kinds = {"kernel_regularizer", "bias_regularizer", "activity_regularizer"}
    used = {
        k for m in MODELS for cfg in META["cases"][m]["nncli"]["layers"] for k in cfg
    }
    assert kinds <= used
    assert not np.any(ARRAYS["w"] == 0)  # away from the |w| kink (see generator)


def _check(be: Backend, got, want: np.ndarray, dtype: str, what: str) -> None:
    got = be.to_numpy(got)
    assert got.shape == want.shape and got.dtype == np.dtype(dtype), what
    np.testing.assert_allclose(got, want, err_msg=what, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", PENALTIES)
def test_penalty_and_gradient_match_keras(case, dtype, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    reg = regularizers.create(META["cases"][case]["nncli"])
    w = be.asarray(ARRAYS["w"])
    _check(be, reg.penalty(w), ARRAYS[f"{case}__penalty"], dtype, f"{case} penalty")
    _check(be, reg.grad(w), ARRAYS[f"{case}__grad"], dtype, f"{case} grad")


def _model(case: str, be: Backend) -> Model:
    cfg = META["cases"][case]["nncli"]
    net = Sequential.from_config(cfg["layers"])
    net.build(tuple(cfg["input_shape"]), be, np.random.default_rng(0))
    prefix = f"{case}__w0_"
    net.set_weights(
        {k.removeprefix(prefix): v for k, v in ARRAYS.items() if k.startswith(prefix)}
    )
    return Model(net, losses.create(cfg["loss"]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", MODELS)
def test_training_loss_and_gradients_match_keras(case, dtype, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    model = _model(case, be)
    x, y = be.asarray(ARRAYS[f"{case}__x"]), be.asarray(ARRAYS[f"{case}__y"])
    loss, _ = model.compute_gradients(x, y)
    _check(be, loss, ARRAYS[f"{case}__loss"], dtype, "loss")
    for name, grad in model.network.grads().items():
        _check(be, grad, ARRAYS[f"{case}__grad_{name}"], dtype, f"grad {name}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", MODELS)
def test_evaluation_loss_over_uneven_batches_matches_keras(case, dtype, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    model = _model(case, be)
    x, y = ARRAYS[f"{case}__x"], ARRAYS[f"{case}__y"]
    total = 0.0
    for start in range(0, len(x), 2):  # batches of 2, 2, 1 as Keras's evaluate
        xb, yb = be.asarray(x[start : start + 2]), be.asarray(y[start : start + 2])
        per_sample, _ = model.evaluate_step(xb, yb)
        assert per_sample.shape == (len(xb),)
        total += float(per_sample.sum())
    value = total / len(x) + float(model.network.regularization())
    want = float(ARRAYS[f"{case}__eval_loss"])
    assert value == pytest.approx(want, rel=TOL[dtype]["rtol"])
