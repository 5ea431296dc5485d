"""Learning-rate schedules against keras.optimizers.schedules (float64).

Each case evaluates the schedule at the same steps, including the boundaries
where the formulas switch (decay_steps, warm-up end, piecewise boundaries).
"""

from __future__ import annotations

import numpy as np
from common import Fixture

STEPS = np.array([0, 1, 2, 5, 9, 10, 11, 19, 20, 21, 37, 50, 99, 100, 101, 250, 1000])

CASES = {
    # name: (nncli config, Keras class name, Keras kwargs)
    "exponential": (
        {
            "type": "exponential_decay",
            "initial_learning_rate": 0.1,
            "decay_steps": 10,
            "decay_rate": 0.5,
        },
        "ExponentialDecay",
        {},
    ),
    "exponential_staircase": (
        {
            "type": "exponential_decay",
            "initial_learning_rate": 0.1,
            "decay_steps": 10,
            "decay_rate": 0.5,
            "staircase": True,
        },
        "ExponentialDecay",
        {},
    ),
    "piecewise": (
        {
            "type": "piecewise_constant_decay",
            "boundaries": [10, 20, 100],
            "values": [1.0, 0.5, 0.1, 0.01],
        },
        "PiecewiseConstantDecay",
        {},
    ),
    "polynomial": (
        {"type": "polynomial_decay", "initial_learning_rate": 0.1, "decay_steps": 100},
        "PolynomialDecay",
        {},
    ),
    "polynomial_power_cycle": (
        {
            "type": "polynomial_decay",
            "initial_learning_rate": 0.1,
            "decay_steps": 20,
            "end_learning_rate": 0.001,
            "power": 2.0,
            "cycle": True,
        },
        "PolynomialDecay",
        {},
    ),
    "inverse_time": (
        {
            "type": "inverse_time_decay",
            "initial_learning_rate": 0.1,
            "decay_steps": 10,
            "decay_rate": 0.5,
        },
        "InverseTimeDecay",
        {},
    ),
    "inverse_time_staircase": (
        {
            "type": "inverse_time_decay",
            "initial_learning_rate": 0.1,
            "decay_steps": 10,
            "decay_rate": 0.5,
            "staircase": True,
        },
        "InverseTimeDecay",
        {},
    ),
    "cosine": (
        {"type": "cosine_decay", "initial_learning_rate": 0.1, "decay_steps": 100},
        "CosineDecay",
        {},
    ),
    "cosine_alpha_warmup": (
        {
            "type": "cosine_decay",
            "initial_learning_rate": 0.0,
            "decay_steps": 80,
            "alpha": 0.1,
            "warmup_target": 0.2,
            "warmup_steps": 20,
        },
        "CosineDecay",
        {},
    ),
}


def generate() -> Fixture:
    import keras

    fixture = Fixture(
        "schedules",
        {
            "step": "the optimizer's iteration count before the update "
            "(Keras evaluates the schedule at optimizer.iterations)",
            "dtype": "initial rates as Python floats, evaluated in float64",
        },
    )
    fixture.arrays["steps"] = STEPS
    for name, (cfg, cls, extra) in CASES.items():
        kwargs = {k: v for k, v in cfg.items() if k != "type"} | extra
        schedule = getattr(keras.optimizers.schedules, cls)(**kwargs)
        values = np.array([float(schedule(int(s))) for s in STEPS])
        fixture.add(
            name, cfg, f"keras.optimizers.schedules.{cls}(**{kwargs})", lr=values
        )
    return fixture
