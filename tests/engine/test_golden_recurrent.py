"""Recurrent, normalisation and embedding layers against Keras 3
(tests/fixtures/golden/keras_recurrent.*, made by tests/golden/keras_recurrent.py).

Per case: output, input gradient and parameter gradients from fixed inputs,
weights and upstream gradients at inference, and for BatchNormalization in
training mode too, with its moving statistics after that forward pass; the
output shape, parameter count and non-trainable count; and one SGD step
(learning rate 0.1, mse) of Dense(features) -> layer -> Flatten -> Dense(2)
through nncli's Model (moving statistics after the step included).
Cases with a `mask` run the layer under a padding mask (batch, timesteps),
and their SGD step trains Embedding(mask_zero=True) -> ... -> Dense(2) on ids
that are 0 where the mask is false, so the mask travels through Sequential.
`model_*` cases check `nncli summary`'s shapes and counts for the example
networks.

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

ARR, META = load_keras_golden("recurrent")
LAYER_CASES = sorted(c for c in META["cases"] if "type" in META["cases"][c]["nncli"])
MODEL_CASES = sorted(c for c in META["cases"] if c.startswith("model_"))
SPECS = Path(__file__).resolve().parents[2] / "specs"
TOL = {
    "float64": {"rtol": 1e-10, "atol": 1e-12},
    "float32": {"rtol": 1e-5, "atol": 1e-6},
}
LOSS_RTOL = {"float64": 1e-7, "float32": 1e-5}
STATE = ("moving_mean", "moving_variance")


def _arrays(case: str) -> dict[str, np.ndarray]:
    return {k.split("__", 1)[1]: v for k, v in ARR.items() if k.startswith(case + "__")}


def test_sidecar_names_keras_and_covers_the_new_layers():
    assert META["framework"] == "keras" and META["version"].startswith("3.")
    assert META["dtype"] == "float64" and META["conventions"]
    covered = {META["cases"][c]["nncli"]["type"] for c in LAYER_CASES}
    from nncli.engine import embedding, normalization, recurrent

    modules = {m.__name__ for m in (embedding, normalization, recurrent)}
    ours = {n for n in layers.names() if layers.get(n).__module__ in modules}
    assert ours == covered and len(ours) == 7


def test_every_recurrent_layer_is_checked_under_a_mask():
    masked = {c for c in LAYER_CASES if f"{c}__mask" in ARR}
    types = {META["cases"][c]["nncli"]["type"] for c in masked}
    assert types == {"simple_rnn", "lstm", "gru", "bidirectional"}


def _config(case: str) -> dict:
    return {k: v for k, v in META["cases"][case]["nncli"].items() if k != "step_model"}


def _built(case: str, dtype: str, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    a = _arrays(case)
    layer = layers.create(_config(case))
    out_shape = layer.build(a["x"].shape[1:], be, np.random.default_rng(0))
    assert out_shape == tuple(a["out_shape"])
    state = getattr(layer, "state", {})
    counts = [p.size for p in layer.params.values()] + [s.size for s in state.values()]
    assert sum(counts) == int(a["count_params"])
    assert sum(s.size for s in state.values()) == int(a["non_trainable"])
    assert sorted(layer.params) == sorted(k for k in a if f"grad_{k}" in a)
    for name, p in {**layer.params, **state}.items():
        p[...] = be.asarray(a[name])
    return be, a, layer


def _compare(be, got: dict, a: dict, case: str, dtype: str) -> None:
    for key, value in got.items():
        value = be.to_numpy(value)
        assert value.dtype == np.dtype(dtype), key
        np.testing.assert_allclose(value, a[key], err_msg=f"{case} {key}", **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", LAYER_CASES)
def test_layer_matches_keras(case, dtype, backend):
    be, a, layer = _built(case, dtype, backend)
    x = a["x"] if a["x"].dtype.kind == "i" else be.asarray(a["x"])
    if "mask" in a:
        mask = be.xp.asarray(a["mask"])
        y, cache = layer.forward(be.asarray(x), training=False, mask=mask)
    else:
        y, cache = layer.forward(be.xp.asarray(x), training=False)
    dx = layer.backward(be.asarray(a["dy"]), cache)
    got = {"y": y, "dx": dx, **{f"grad_{k}": g for k, g in layer.grads.items()}}
    assert sorted(got) == sorted(k for k in a if k in ("y", "dx") or k[:5] == "grad_")
    _compare(be, got, a, case, dtype)


BN_CASES = [c for c in LAYER_CASES if "train_y" in _arrays(c)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", BN_CASES)
def test_batch_normalization_training_mode_matches_keras(case, dtype, backend):
    be, a, layer = _built(case, dtype, backend)
    y, cache = layer.forward(be.asarray(a["x"]), training=True)
    dx = layer.backward(be.asarray(a["dy"]), cache)
    got = {"train_y": y, "train_dx": dx}
    got.update({f"train_grad_{k}": g for k, g in layer.grads.items()})
    got.update({f"train_{k}": s for k, s in layer.state.items()})
    _compare(be, got, a, case, dtype)


def test_every_new_layer_is_checked_in_training_mode_where_it_differs():
    assert {META["cases"][c]["nncli"]["type"] for c in BN_CASES} == {
        "batch_normalization"
    }


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", LAYER_CASES)
def test_one_sgd_step_matches_keras(case, dtype, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    a = _arrays(case)
    x = a["x"]
    cfg = _config(case)
    front = [] if x.dtype.kind == "i" else [{"type": "dense", "units": x.shape[-1]}]
    configs = [*front, cfg, {"type": "flatten"}, {"type": "dense", "units": 2}]
    if "mask" in a:  # Embedding(mask_zero) -> ... -> Dense(2) on padded ids
        configs, x = META["cases"][case]["nncli"]["step_model"], a["step_ids"]
    net = Sequential.from_config(configs)
    net.build(x.shape[1:], be, np.random.default_rng(0))
    net.set_weights({k[len("step_w0__") :]: v for k, v in a.items() if "step_w0" in k})
    sgd = optimizers.create({"type": "sgd", "learning_rate": 0.1})
    model = Model(net, losses.create("mean_squared_error"), sgd)
    xb = x if x.dtype.kind == "i" else be.asarray(x)
    loss, _ = model.train_step(be.xp.asarray(xb), be.asarray(a["step_target"]))
    np.testing.assert_allclose(float(loss), a["step_loss"], rtol=LOSS_RTOL[dtype])
    after = net.get_weights()
    want = {k[len("step_w1__") :]: v for k, v in a.items() if "step_w1" in k}
    assert sorted(after) == sorted(want)
    for name, value in want.items():
        assert after[name].dtype == np.dtype(dtype)
        np.testing.assert_allclose(after[name], value, err_msg=name, **TOL[dtype])
    if cfg["type"] == "batch_normalization":  # the moving statistics moved
        assert any(STATE[0] in k for k in want)


@pytest.mark.parametrize("case", MODEL_CASES)
def test_summary_shapes_and_counts_match_keras(case):
    from nncli.engine.backend import Backend as B

    a = _arrays(case)
    name = META["cases"][case]["nncli"]["model"]
    keras_calls = META["cases"][case]["keras"]
    net = Sequential.from_config(NETWORKS[name][1])
    net.build(NETWORKS[name][0], B.from_name("numpy"), np.random.default_rng(0))
    shapes = [[d for d in s if d] for s in a["out_shapes"].tolist()]
    assert [list(s) for s in net.shapes] == shapes, keras_calls
    assert net.count_params() == a["count_params"].tolist()
    assert net.count_non_trainable() == a["non_trainable"].tolist()


NETWORKS = {
    "elnino_lstm": (
        (12, 1),
        [{"type": "lstm", "units": 32}, {"type": "dense", "units": 1}],
    ),
    "tokens_gru": (
        (20,),
        [
            {"type": "embedding", "input_dim": 50, "output_dim": 8},
            {"type": "gru", "units": 16},
            {"type": "dense", "units": 1, "activation": "sigmoid"},
        ],
    ),
    "sequence_layers": (
        (10, 4),
        [
            {
                "type": "bidirectional",
                "layer": {"type": "lstm", "units": 8, "return_sequences": True},
            },
            {"type": "layer_normalization"},
            {"type": "gru", "units": 6, "return_sequences": True},
            {"type": "simple_rnn", "units": 5},
            {"type": "batch_normalization"},
            {"type": "dense", "units": 2},
        ],
    ),
}
