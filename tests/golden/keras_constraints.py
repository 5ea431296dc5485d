"""Golden weight constraints from Keras 3: projections and constrained training.

Projection cases apply `keras.constraints.<Class>(**options)` to fixed
weights whose column norms lie below, inside and above the bounds, including
an all-zero column (norm 0, where Keras's epsilon 1e-7 keeps the result
finite), a 1-D bias and a 3-D kernel for tuple axes.

The `training_*` cases are Keras's own update with constraints: a single Dense
layer (its nncli config is the case's) with a kernel and a bias constraint,
compiled with SGD(0.1) and mean squared error, three `train_on_batch` steps on
a fixed batch; each records the weights after every step (after the
constraints, which Keras's optimizer applies right after the update) and the
loss each step returned.
"""

from __future__ import annotations

import numpy as np
from common import Fixture

# (case name, nncli config, Keras class, weight name)
PROJECTIONS: list[tuple[str, dict, str, str]] = [
    ("max_norm", {"type": "max_norm"}, "MaxNorm", "kernel"),
    ("max_norm_bias", {"type": "max_norm", "max_value": 1.0}, "MaxNorm", "bias"),
    ("max_norm_axis1", {"type": "max_norm", "max_value": 1.0, "axis": 1}, "MaxNorm", "kernel"),
    ("max_norm_axes01", {"type": "max_norm", "max_value": 1.5, "axis": [0, 1]}, "MaxNorm", "kernel3d"),
    ("non_neg", {"type": "non_neg"}, "NonNeg", "kernel"),
    ("non_neg_bias", {"type": "non_neg"}, "NonNeg", "bias"),
    ("unit_norm", {"type": "unit_norm"}, "UnitNorm", "kernel"),
    ("unit_norm_axis1", {"type": "unit_norm", "axis": 1}, "UnitNorm", "kernel"),
    ("unit_norm_axis_last", {"type": "unit_norm", "axis": -1}, "UnitNorm", "kernel3d"),
    ("min_max_norm", {"type": "min_max_norm"}, "MinMaxNorm", "kernel"),
    (
        "min_max_norm_rate",
        {"type": "min_max_norm", "min_value": 0.5, "max_value": 2.0, "rate": 0.5},
        "MinMaxNorm",
        "kernel",
    ),
    (
        "min_max_norm_axes",
        {"type": "min_max_norm", "min_value": 1.0, "max_value": 1.2, "axis": [0, 1]},
        "MinMaxNorm",
        "kernel3d",
    ),
]  # fmt: skip

# (case name, Dense config): each trained alone, SGD(0.1), mse, 3 steps
TRAINING: list[tuple[str, dict]] = [
    (
        "training_max_norm_non_neg",
        {
            "type": "dense",
            "units": 4,
            "activation": "tanh",
            "kernel_constraint": {"type": "max_norm", "max_value": 0.6},
            "bias_constraint": {"type": "non_neg"},
        },
    ),
    (
        "training_min_max_norm_unit_norm",
        {
            "type": "dense",
            "units": 2,
            "kernel_constraint": {
                "type": "min_max_norm",
                "min_value": 0.8,
                "max_value": 1.0,
                "rate": 0.7,
            },
            "bias_constraint": {"type": "unit_norm"},
        },
    ),
]
KERAS_CLASS = {
    "max_norm": "MaxNorm",
    "non_neg": "NonNeg",
    "unit_norm": "UnitNorm",
    "min_max_norm": "MinMaxNorm",
}


def _weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    kernel = rng.normal(size=(5, 4))  # (n_in, units)
    # column norms: 0.3 (inside every bound but unit), 1.1, 3.0, 0 (all zero)
    for j, norm in enumerate([0.3, 1.1, 3.0]):
        kernel[:, j] *= norm / np.linalg.norm(kernel[:, j])
    kernel[:, 3] = 0.0
    return {
        "kernel": kernel,
        "bias": np.array([0.4, -1.3, 0.0, 2.2]),
        "kernel3d": rng.normal(size=(2, 3, 4)),
    }


def _constraint(keras, cfg: dict):
    options = {k: v for k, v in cfg.items() if k != "type"}
    if isinstance(options.get("axis"), list):
        options["axis"] = tuple(options["axis"])  # what Keras passes to ops.sum
    return getattr(keras.constraints, KERAS_CLASS[cfg["type"]])(**options)


def _training(keras, fixture: Fixture, name: str, cfg: dict, seed: int) -> None:
    rng = np.random.default_rng(seed)
    units = cfg["units"]
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, units))
    dense = keras.layers.Dense(
        units,
        activation=cfg.get("activation"),
        kernel_constraint=_constraint(keras, cfg["kernel_constraint"]),
        bias_constraint=_constraint(keras, cfg["bias_constraint"]),
    )
    model = keras.Sequential([keras.Input((3,)), dense])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    w0 = {"kernel": rng.normal(0, 0.8, (3, units)), "bias": rng.normal(0, 0.5, units)}
    model.set_weights([w0["kernel"], w0["bias"]])
    losses, steps = [], {"kernel": [], "bias": []}
    for _ in range(3):
        losses.append(float(model.train_on_batch(x, y)))
        for k, w in zip(steps, model.get_weights()):
            steps[k].append(np.asarray(w, np.float64))
    fixture.add(
        name,
        cfg,
        f"keras.Sequential([Input((3,)), Dense({units}, activation="
        f"{cfg.get('activation')!r}, kernel_constraint, bias_constraint)]), "
        "compile(SGD(learning_rate=0.1), 'mse'), 3 x train_on_batch(x, y)",
        x=x,
        y=y,
        loss=np.array(losses),
        **{f"w0_{k}": v for k, v in w0.items()},
        **{f"steps_{k}": np.stack(v) for k, v in steps.items()},
    )


def generate() -> Fixture:
    import keras

    weights = _weights()
    fixture = Fixture(
        kind="constraints",
        conventions={
            "epsilon": "keras.config.epsilon() = 1e-7 added to each norm in a "
            "denominator",
            "axis": "norms over `axis` with keepdims; nncli's list axis is "
            "Keras's tuple axis",
            "when": "after every optimizer update (BaseOptimizer.apply); not "
            "at initialisation",
            "training_*": "weights after each of 3 SGD(0.1) train_on_batch steps; "
            "loss as train_on_batch returns it (before the step)",
        },
        arrays={f"w_{k}": v for k, v in weights.items()},
    )
    assert float(keras.config.epsilon()) == 1e-7
    for name, cfg, cls_name, weight in PROJECTIONS:
        assert KERAS_CLASS[cfg["type"]] == cls_name
        out = _constraint(keras, cfg)(weights[weight])
        options = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if k != "type")
        fixture.add(
            name,
            cfg,
            f"keras.constraints.{cls_name}({options})(w_{weight})",
            weight=np.array(weight),
            out=np.asarray(out, np.float64),
        )
    for seed, (name, cfg) in enumerate(TRAINING):
        _training(keras, fixture, name, cfg, seed)
    return fixture
