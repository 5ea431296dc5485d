"""Layers against Keras 3: forward output, input gradient, parameter gradients.

Each case fixes an input `x`, the layer's weights and an upstream gradient
`dy`; Keras's layer runs through `stateless_call` and `jax.vjp` gives dx and
the parameter gradients (float64). Dropout is recorded in inference mode
only: its training mask comes from Keras's own RNG, which nncli does not
reproduce (nncli draws masks from a seeded host Generator so a seed gives
the same masks on every backend); its training-mode gradient is covered by
the finite-difference checks instead.
"""

from __future__ import annotations

import numpy as np
from common import Fixture

DENSE_ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax", "gelu", "elu"]


def _run(keras, layer, x, dy, weights, **call_kwargs):
    import jax

    layer.build(x.shape)
    for var, value in zip(layer.trainable_variables, weights, strict=True):
        var.assign(value)

    def call(x, *params):
        fixed = [v.value for v in layer.non_trainable_variables]  # e.g. a seed
        out, _ = layer.stateless_call(list(params), fixed, x, **call_kwargs)
        return out

    y, vjp = jax.vjp(call, x, *[v.value for v in layer.trainable_variables])
    grads = vjp(dy)
    return np.asarray(y), [np.asarray(g) for g in grads]


def _float64_safe(activation: str):
    """Keras 3.15's `tanh` returns float32 for float64 input on JAX (its dtype
    rule treats the Python `float` as float32); use jax's tanh for that one."""
    import jax.numpy as jnp

    return jnp.tanh if activation == "tanh" else activation


def generate() -> Fixture:
    import keras

    rng = np.random.default_rng(20261203)
    fixture = Fixture(
        "layers",
        {
            "call": "layer.stateless_call under jax.vjp (Dropout with training=False)",
            "names": "parameters are recorded under nncli's names (kernel, bias)",
            "dropout": "inference mode only (Keras's RNG is not reproduced)",
            "tanh": "jax.numpy.tanh: Keras 3.15's tanh returns float32 on float64",
        },
    )

    def dense_case(name, cfg, in_shape, units, activation, use_bias=True):
        x = rng.normal(0.0, 1.5, (5, *in_shape))
        x[np.abs(x) < 1e-2] = 0.5
        kernel = rng.normal(0.0, 0.7, (in_shape[-1], units))
        bias = rng.normal(0.0, 0.5, (units,))
        dy = rng.normal(size=(5, *in_shape[:-1], units))
        layer = keras.layers.Dense(
            units, activation=_float64_safe(activation), use_bias=use_bias
        )
        weights = [kernel, bias] if use_bias else [kernel]
        y, grads = _run(keras, layer, x, dy, weights)
        arrays = {"x": x, "dy": dy, "y": y, "dx": grads[0], "kernel": kernel}
        arrays["grad_kernel"] = grads[1]
        if use_bias:
            arrays.update(bias=bias, grad_bias=grads[2])
        call = f"keras.layers.Dense({units}, activation={activation!r}"
        fixture.add(name, cfg, call + f", use_bias={use_bias})", **arrays)

    for act in DENSE_ACTIVATIONS:
        dense_case(
            f"dense_{act}",
            {"type": "dense", "units": 3, "activation": act},
            (4,),
            3,
            act,
        )
    dense_case(
        "dense_no_bias",
        {"type": "dense", "units": 2, "use_bias": False},
        (4,),
        2,
        "linear",
        use_bias=False,
    )
    dense_case(
        "dense_rank3",
        {"type": "dense", "units": 3, "activation": "tanh"},
        (3, 4),
        3,
        "tanh",
    )

    for act in ("relu", "sigmoid", "softmax"):
        x = rng.normal(0.0, 2.0, (5, 6))
        dy = rng.normal(size=x.shape)
        y, grads = _run(keras, keras.layers.Activation(_float64_safe(act)), x, dy, [])
        fixture.add(
            f"activation_{act}",
            {"type": "activation", "activation": act},
            f"keras.layers.Activation({act!r})",
            x=x,
            dy=dy,
            y=y,
            dx=grads[0],
        )

    x = rng.normal(size=(5, 3, 4))
    dy = rng.normal(size=(5, 12))
    y, grads = _run(keras, keras.layers.Flatten(), x, dy, [])
    fixture.add(
        "flatten",
        {"type": "flatten"},
        "keras.layers.Flatten()",
        x=x,
        dy=dy,
        y=y,
        dx=grads[0],
    )

    x = rng.normal(size=(5, 7))
    dy = rng.normal(size=x.shape)
    y, grads = _run(keras, keras.layers.Dropout(0.4), x, dy, [], training=False)
    fixture.add(
        "dropout_inference",
        {"type": "dropout", "rate": 0.4},
        "keras.layers.Dropout(0.4)(x, training=False)",
        x=x,
        dy=dy,
        y=y,
        dx=grads[0],
    )
    return fixture
