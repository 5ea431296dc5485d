"""Golden initializers from Keras 3: analytic parameters and sample moments.

Random initializers cannot match draw for draw (Keras draws with JAX's PRNG,
nncli with numpy's), so each case records what Keras itself decides for a
shape and what its draws look like:

- the distribution and its parameters as Keras passes them to
  `keras.random.normal / uniform / truncated_normal` (captured by wrapping
  those calls, so a stddev correction or a fan rule is Keras's, not ours),
  and `fan_in`, `fan_out` from Keras's `compute_fans`;
- `moments` = [mean, std (ddof 0), min, max, n] of at least 2**18 values,
  drawn by calling the initializer with seeds 0, 1, 2, ... for the shape.

Deterministic initializers (zeros, ones, constant, identity) store Keras's
output itself as `value`.
"""

from __future__ import annotations

import contextlib
import inspect
import math

import numpy as np
from common import Fixture

N_VALUES = 2**18

DENSE = TALL = (300, 200)  # fan_in 300, fan_out 200
WIDE = (200, 300)
CONV = (3, 3, 16, 32)  # receptive field 9: fan_in 144, fan_out 288
VECTOR = (1000,)

# (case prefix, nncli config, Keras class name, shapes)
RANDOM_CASES: list[tuple[str, dict, str, list[tuple[int, ...]]]] = [
    ("glorot_uniform", {"type": "glorot_uniform"}, "GlorotUniform", [DENSE, CONV]),
    ("glorot_normal", {"type": "glorot_normal"}, "GlorotNormal", [DENSE, CONV]),
    ("he_uniform", {"type": "he_uniform"}, "HeUniform", [DENSE, CONV]),
    ("he_normal", {"type": "he_normal"}, "HeNormal", [DENSE, CONV]),
    ("lecun_uniform", {"type": "lecun_uniform"}, "LecunUniform", [DENSE, VECTOR]),
    ("lecun_normal", {"type": "lecun_normal"}, "LecunNormal", [DENSE, VECTOR]),
    ("variance_scaling", {"type": "variance_scaling"}, "VarianceScaling", [DENSE]),
    (
        "variance_scaling_fan_out_uniform",
        {
            "type": "variance_scaling",
            "scale": 2.0,
            "mode": "fan_out",
            "distribution": "uniform",
        },
        "VarianceScaling",
        [DENSE, CONV],
    ),
    (
        "variance_scaling_fan_avg_untruncated",
        {
            "type": "variance_scaling",
            "scale": 0.5,
            "mode": "fan_avg",
            "distribution": "untruncated_normal",
        },
        "VarianceScaling",
        [DENSE, CONV],
    ),
    (
        "variance_scaling_normal_alias",
        {
            "type": "variance_scaling",
            "scale": 1.5,
            "mode": "fan_in",
            "distribution": "normal",
        },
        "VarianceScaling",
        [CONV],
    ),
    ("random_normal", {"type": "random_normal"}, "RandomNormal", [DENSE]),
    (
        "random_normal_shifted",
        {"type": "random_normal", "mean": 1.0, "stddev": 2.0},
        "RandomNormal",
        [CONV],
    ),
    ("random_uniform", {"type": "random_uniform"}, "RandomUniform", [DENSE]),
    (
        "random_uniform_wide",
        {"type": "random_uniform", "minval": -1.0, "maxval": 3.0},
        "RandomUniform",
        [CONV],
    ),
    ("truncated_normal", {"type": "truncated_normal"}, "TruncatedNormal", [DENSE]),
    (
        "truncated_normal_shifted",
        {"type": "truncated_normal", "mean": 0.5, "stddev": 0.2},
        "TruncatedNormal",
        [CONV],
    ),
    ("orthogonal", {"type": "orthogonal"}, "Orthogonal", [TALL, WIDE, CONV]),
    ("orthogonal_gain", {"type": "orthogonal", "gain": 2.0}, "Orthogonal", [(64, 64)]),
]

# (case prefix, nncli config, Keras class name, shapes)
FIXED_CASES: list[tuple[str, dict, str, list[tuple[int, ...]]]] = [
    ("zeros", {"type": "zeros"}, "Zeros", [(3, 4), (5,)]),
    ("ones", {"type": "ones"}, "Ones", [(3, 4), (2, 3, 4)]),
    ("constant", {"type": "constant", "value": -3.5}, "Constant", [(2, 3)]),
    ("constant_default", {"type": "constant"}, "Constant", [(4,)]),
    ("identity", {"type": "identity"}, "Identity", [(4, 4), (3, 5)]),
    ("identity_gain", {"type": "identity", "gain": 2.5}, "Identity", [(5, 3)]),
]

DISTRIBUTIONS = ("normal", "uniform", "truncated_normal")


@contextlib.contextmanager
def _recording(calls: list[dict]):
    """Record every keras random.normal/uniform/truncated_normal call's arguments."""
    from keras.src.initializers import random_initializers as ri

    originals = {name: getattr(ri.random, name) for name in DISTRIBUTIONS}

    def wrap(name, fn):
        signature = inspect.signature(fn)

        def recorded(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            args_ = {k: v for k, v in bound.arguments.items() if k not in ("seed",)}
            calls.append({"distribution": name, **args_})
            return fn(*args, **kwargs)

        return recorded

    try:
        for name, fn in originals.items():
            setattr(ri.random, name, wrap(name, fn))
        yield
    finally:
        for name, fn in originals.items():
            setattr(ri.random, name, fn)


def _keras_kwargs(nncli: dict) -> dict:
    return {k: v for k, v in nncli.items() if k != "type"}


def _random_case(keras, cls_name: str, nncli: dict, shape: tuple[int, ...]):
    """(parameters, moments) of Keras's initializer for `shape`."""
    from keras.src.initializers.random_initializers import compute_fans

    cls = getattr(keras.initializers, cls_name)
    draws = math.ceil(N_VALUES / math.prod(shape))
    calls: list[dict] = []
    values = []
    with _recording(calls):
        for seed in range(draws):
            w = cls(**_keras_kwargs(nncli), seed=seed)(shape, dtype="float64")
            values.append(np.asarray(w, np.float64).ravel())
    first = calls[0]
    if any(c != first for c in calls) or len(calls) != draws:
        raise SystemExit(f"{cls_name}: Keras drew with varying parameters")
    fan_in, fan_out = compute_fans(shape)
    params = {
        "distribution": first["distribution"],
        "drawn_shape": [int(d) for d in first["shape"]],
        "dtype": str(first["dtype"]),
        "fan_in": int(fan_in),
        "fan_out": int(fan_out),
    }
    for key in ("mean", "stddev", "minval", "maxval"):
        if key in first:
            params[key] = float(first[key])
    if params["distribution"] == "truncated_normal":  # jax truncates at +-2
        params["lower"] = params["mean"] - 2 * params["stddev"]
        params["upper"] = params["mean"] + 2 * params["stddev"]
    v = np.concatenate(values)
    moments = np.array([v.mean(), v.std(), v.min(), v.max(), v.size])
    return params, moments


def generate() -> Fixture:
    import keras

    fixture = Fixture(
        kind="initializers",
        conventions={
            "random": "per case Keras's distribution parameters (captured from "
            "its keras.random calls) and fans, and moments [mean, std ddof 0, "
            f"min, max, n] of >= {N_VALUES} values drawn with seeds 0, 1, ...",
            "truncated_normal": "jax.random.truncated_normal(lower=-2, upper=2) "
            "* stddev + mean: bounds mean +- 2 stddev, no stddev correction; "
            "variance_scaling divides its stddev by 0.87962566103423978",
            "orthogonal": "QR of a (max(rows, cols), min(rows, cols)) normal "
            "draw, columns times sign(diag(R)), transposed when rows < cols; "
            "rows = prod(shape[:-1])",
            "fixed": "zeros, ones, constant, identity: Keras's output as `value`",
        },
    )
    for prefix, nncli, cls_name, shapes in RANDOM_CASES:
        for shape in shapes:
            name = f"{prefix}-{'x'.join(map(str, shape))}"
            params, moments = _random_case(keras, cls_name, nncli, shape)
            call = f"keras.initializers.{cls_name}(**nncli options, seed=i)"
            fixture.add(name, nncli, call, shape=np.array(shape), moments=moments)
            fixture.cases[name]["keras_parameters"] = params
    for prefix, nncli, cls_name, shapes in FIXED_CASES:
        for shape in shapes:
            name = f"{prefix}-{'x'.join(map(str, shape))}"
            init = getattr(keras.initializers, cls_name)(**_keras_kwargs(nncli))
            value = np.asarray(init(shape, dtype="float64"), np.float64)
            call = f"keras.initializers.{cls_name}(**nncli options)(shape)"
            fixture.add(name, nncli, call, shape=np.array(shape), value=value)
    return fixture
