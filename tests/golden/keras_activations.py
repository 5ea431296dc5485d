"""Golden activations from Keras 3: outputs and input gradients, every option.

Every registered activation (and its aliases and options) is applied by
`keras.activations` to a fixed batch; its input gradient is `jax.vjp` of that
call with a fixed upstream gradient `dy`. The inputs are float32-representable
(so the float32 replay starts from the same numbers), stay off every kink
(0, +-3, 6, each threshold and max_value) and include saturated tails
(+-30, +-100, +-1e4). Softmax-like activations work row-wise over 8 columns.
"""

from __future__ import annotations

import numpy as np
from common import Fixture

KINKS = (0.0, -3.0, 3.0, 6.0, 1.5, 4.5, 1.0, 5.0)
TAILS = [-1e4, -100.0, -30.0, -12.0, 12.0, 30.0, 100.0, 1e4]

# (case name, nncli config, keras function name or alias, keyword arguments)
CASES: list[tuple[str, dict, str, dict]] = [
    ("linear", {"type": "linear"}, "linear", {}),
    ("relu", {"type": "relu"}, "relu", {}),
    ("relu_slope", {"type": "relu", "negative_slope": 0.1}, "relu", {}),
    ("relu_max", {"type": "relu", "max_value": 4.5}, "relu", {}),
    ("relu_threshold", {"type": "relu", "threshold": 1.5}, "relu", {}),
    (
        "relu_slope_max6",
        {"type": "relu", "negative_slope": 0.1, "max_value": 6.0},
        "relu",
        {},
    ),
    (
        "relu_all",
        {"type": "relu", "negative_slope": 0.2, "max_value": 5.0, "threshold": 1.0},
        "relu",
        {},
    ),
    ("relu6", {"type": "relu6"}, "relu6", {}),
    ("sigmoid", {"type": "sigmoid"}, "sigmoid", {}),
    ("tanh", {"type": "tanh"}, "tanh", {}),
    ("softmax", {"type": "softmax"}, "softmax", {}),
    ("log_softmax", {"type": "log_softmax"}, "log_softmax", {}),
    ("leaky_relu", {"type": "leaky_relu"}, "leaky_relu", {}),
    (
        "leaky_relu_0.01",
        {"type": "leaky_relu", "negative_slope": 0.01},
        "leaky_relu",
        {},
    ),
    ("elu", {"type": "elu"}, "elu", {}),
    ("elu_0.5", {"type": "elu", "alpha": 0.5}, "elu", {}),
    ("selu", {"type": "selu"}, "selu", {}),
    ("gelu", {"type": "gelu"}, "gelu", {}),
    ("gelu_tanh", {"type": "gelu", "approximate": True}, "gelu", {}),
    ("silu", {"type": "silu"}, "silu", {}),
    ("swish", {"type": "swish"}, "swish", {}),
    ("softplus", {"type": "softplus"}, "softplus", {}),
    ("softsign", {"type": "softsign"}, "softsign", {}),
    ("hard_sigmoid", {"type": "hard_sigmoid"}, "hard_sigmoid", {}),
    ("hard_silu", {"type": "hard_silu"}, "hard_silu", {}),
    ("hard_swish", {"type": "hard_swish"}, "hard_swish", {}),
    ("mish", {"type": "mish"}, "mish", {}),
    ("exponential", {"type": "exponential"}, "exponential", {}),
]


def _inputs() -> tuple[np.ndarray, np.ndarray]:
    """(x, dy): (6, 8) float32-representable values, off the kinks, with tails."""
    rng = np.random.default_rng(20240611)
    body = rng.uniform(-7.5, 7.5, 32)
    body = np.concatenate([body, [-1e-3, 2e-3, -0.25, 0.3, -2.9, 3.1, 5.9, 6.2]])
    x = np.concatenate([body, TAILS]).astype(np.float32).astype(np.float64)
    assert not np.isin(x, KINKS).any() and x.size == 48
    x = rng.permutation(x).reshape(6, 8)  # (rows, 8)
    dy = rng.normal(size=x.shape).astype(np.float32).astype(np.float64)
    return x, dy


def generate() -> Fixture:
    import jax
    import keras

    x, dy = _inputs()
    # exp overflows float32 above 88.7: that case keeps its inputs below 80
    x_exp = np.minimum(x, 80.0)
    fixture = Fixture(
        kind="activations",
        conventions={
            "inputs": "x and dy shared (x_exp for exponential), float32-"
            "representable, off every kink; tails +-30, +-100, +-1e4",
            "gradient": "dx = jax.vjp(keras.activations.<fn>, x)[1](dy), float64",
            "row-wise": "softmax and log_softmax over the last axis (8 columns)",
            "tanh": "keras.activations.tanh casts float64 input to float32 on "
            "JAX (its result_type(float64, float) is float32), so the reference "
            "is jax.numpy.tanh, the function it calls after that cast",
            "hard_sigmoid": "Keras 3: relu6(x + 3) / 6, not Keras 2's 0.2 x + 0.5",
        },
        arrays={"x": x, "dy": dy, "x_exp": x_exp},
    )
    for name, nncli, keras_name, _ in CASES:
        kwargs = {k: v for k, v in nncli.items() if k != "type"}
        fn = keras.activations.get(keras_name)
        if keras_name == "tanh":  # see the "tanh" convention
            fn = jax.numpy.tanh
        inputs = x_exp if keras_name == "exponential" else x
        y, vjp = jax.vjp(lambda t, fn=fn, kw=kwargs: fn(t, **kw), inputs)
        (dx,) = vjp(dy)
        if y.dtype != np.float64 or dx.dtype != np.float64:
            raise SystemExit(f"{name}: Keras computed in {y.dtype}, not float64")
        args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
        call = f"keras.activations.get({keras_name!r})(x{args}); dx by jax.vjp"
        if keras_name == "tanh":
            call = "jax.numpy.tanh(x) (see conventions); dx by jax.vjp"
        fixture.add(
            name,
            nncli,
            call,
            y=np.asarray(y, np.float64),
            dx=np.asarray(dx, np.float64),
        )
    return fixture
