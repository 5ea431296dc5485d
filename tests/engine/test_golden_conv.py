"""Convolution, pooling and reshaping layers against Keras 3
(tests/fixtures/golden/keras_conv.*, made by tests/golden/keras_conv.py).

Per case: output, input gradient and parameter gradients from fixed inputs,
weights and upstream gradients; the output shape and parameter count; and
one SGD step (learning rate 0.1, mse) of Dense(c) -> layer -> Flatten ->
Dense(2) through nncli's Model. `model_digits_cnn` checks `nncli summary`'s
shapes and counts for specs/digits_cnn.yaml.

Tolerances: float64 rtol 1e-10; float32 rtol 1e-5 (atol 1e-6 for entries
near zero). The training step's loss: float64 rtol 1e-7, because the loss
Keras returns from train_on_batch carries a float32-sized rounding while the
weights after the step agree to float64 precision.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import load_keras_golden

from nncli.engine.backend import Backend
from nncli.engine.layers import layers
from nncli.engine.losses import losses
from nncli.engine.network import Model, Sequential
from nncli.engine.optimizers import optimizers

ARR, META = load_keras_golden("conv")
LAYER_CASES = sorted(c for c in META["cases"] if "type" in META["cases"][c]["nncli"])
STEP_CASES = [c for c in LAYER_CASES if f"{c}__step_loss" in ARR]
SPECS = Path(__file__).resolve().parents[2] / "specs"
TOL = {
    "float64": {"rtol": 1e-10, "atol": 1e-12},
    "float32": {"rtol": 1e-5, "atol": 1e-6},
}
LOSS_RTOL = {"float64": 1e-7, "float32": 1e-5}


def _arrays(case: str) -> dict[str, np.ndarray]:
    return {k.split("__", 1)[1]: v for k, v in ARR.items() if k.startswith(case + "__")}


def test_sidecar_names_keras_and_covers_the_new_layers():
    assert META["framework"] == "keras" and META["version"].startswith("3.")
    assert META["dtype"] == "float64" and META["conventions"]
    covered = {META["cases"][c]["nncli"]["type"] for c in LAYER_CASES}
    from nncli.engine import conv, noise, pooling, reshaping

    modules = {m.__name__ for m in (conv, noise, pooling, reshaping)}
    ours = {n for n in layers.names() if layers.get(n).__module__ in modules}
    assert ours <= covered and len(ours) == 20
    assert len(STEP_CASES) == len(LAYER_CASES) - 3  # the noise layers: inference


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", LAYER_CASES)
def test_layer_matches_keras(case, dtype, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    a = _arrays(case)
    layer = layers.create(META["cases"][case]["nncli"])
    out_shape = layer.build(a["x"].shape[1:], be, np.random.default_rng(0))
    assert out_shape == tuple(a["out_shape"])
    assert sum(p.size for p in layer.params.values()) == int(a["count_params"])
    assert sorted(layer.params) == sorted(k for k in a if f"grad_{k}" in a)
    for name in layer.params:
        layer.params[name][...] = be.asarray(a[name])

    y, cache = layer.forward(be.asarray(a["x"]), training=False)
    dx = layer.backward(be.asarray(a["dy"]), cache)
    got = {"y": y, "dx": dx, **{f"grad_{k}": g for k, g in layer.grads.items()}}
    assert sorted(got) == sorted(k for k in a if k in ("y", "dx") or "grad_" in k)
    for key, value in got.items():
        value = be.to_numpy(value)
        assert value.dtype == np.dtype(dtype), key
        np.testing.assert_allclose(value, a[key], err_msg=f"{case} {key}", **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", STEP_CASES)
def test_one_sgd_step_matches_keras(case, dtype, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    a = _arrays(case)
    x = a["x"]
    net = Sequential.from_config(
        [
            {"type": "dense", "units": x.shape[-1]},
            META["cases"][case]["nncli"],
            {"type": "flatten"},
            {"type": "dense", "units": 2},
        ]
    )
    net.build(x.shape[1:], be, np.random.default_rng(0))
    net.set_weights({k[len("step_w0__") :]: v for k, v in a.items() if "step_w0" in k})
    sgd = optimizers.create({"type": "sgd", "learning_rate": 0.1})
    model = Model(net, losses.create("mean_squared_error"), sgd)
    loss, _ = model.train_step(be.asarray(x), be.asarray(a["step_target"]))
    np.testing.assert_allclose(float(loss), a["step_loss"], rtol=LOSS_RTOL[dtype])
    after = net.get_weights()
    want = {k[len("step_w1__") :]: v for k, v in a.items() if "step_w1" in k}
    assert sorted(after) == sorted(want)
    for name, value in want.items():
        assert after[name].dtype == np.dtype(dtype)
        np.testing.assert_allclose(after[name], value, err_msg=name, **TOL[dtype])


def test_summary_of_the_digits_cnn_matches_keras():
    from nncli.inspect import model_table
    from nncli.train.run import prepare

    a = _arrays("model_digits_cnn")
    rows, total = model_table(prepare(SPECS / "digits_cnn.yaml"))
    shapes = [[d for d in s if d] for s in a["out_shapes"].tolist()]
    assert [r["output_shape"] for r in rows] == shapes
    assert [r["params"] for r in rows] == a["count_params"].tolist()
    assert total == int(a["count_params"].sum())
