"""Layers against Keras 3 (tests/fixtures/golden/keras_layers.*, made by
tests/golden/keras_layers.py): output, input gradient and parameter gradients
from fixed inputs, weights and upstream gradients.

Tolerances: float64 rtol 1e-10; float32 rtol 1e-5 (atol 1e-6 for entries
near zero).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load_keras_golden

from nncli.engine.backend import Backend
from nncli.engine.layers import layers

ARR, META = load_keras_golden("layers")
TOL = {
    "float64": {"rtol": 1e-10, "atol": 1e-12},
    "float32": {"rtol": 1e-5, "atol": 1e-6},
}


# Layer fixtures beside this one: keras_conv (tests/engine/test_golden_conv.py),
# keras_recurrent (tests/engine/test_golden_recurrent.py).
OTHER_LAYER_FIXTURES = ("conv", "recurrent")


def test_sidecar_names_keras():
    assert META["framework"] == "keras" and META["version"].startswith("3.")
    assert META["dtype"] == "float64" and META["conventions"]
    covered = {c["nncli"]["type"] for c in META["cases"].values()}
    for kind in OTHER_LAYER_FIXTURES:
        cases = load_keras_golden(kind)[1]["cases"].values()
        covered |= {c["nncli"]["type"] for c in cases if "type" in c["nncli"]}
    assert covered == set(layers.names())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", sorted(META["cases"]))
def test_layer_matches_keras(case, dtype, backend):
    be = Backend.from_name(backend.name, dtype=dtype)
    a = {k.split("__", 1)[1]: v for k, v in ARR.items() if k.startswith(case + "__")}
    layer = layers.create(META["cases"][case]["nncli"])
    layer.build(a["x"].shape[1:], be, np.random.default_rng(0))
    assert sorted(layer.params) == sorted(k for k in ("kernel", "bias") if k in a)
    for name in layer.params:
        layer.params[name][...] = be.asarray(a[name])

    y, cache = layer.forward(be.asarray(a["x"]), training=False)
    dx = layer.backward(be.asarray(a["dy"]), cache)
    got = {"y": y, "dx": dx, **{f"grad_{k}": g for k, g in layer.grads.items()}}
    assert sorted(got) == sorted(k for k in a if k in got or k.startswith("grad_"))
    for key, value in got.items():
        value = be.to_numpy(value)
        assert value.dtype == np.dtype(dtype), key
        np.testing.assert_allclose(value, a[key], err_msg=f"{case} {key}", **TOL[dtype])
