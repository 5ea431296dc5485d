"""Keras 3 optimizer trajectories: 10 `apply_gradients` steps per case.

Two variables (kernel (3, 4), bias (4,)) start from fixed weights and get a
fixed sequence of gradients (independent of the weights); steps 3 and 7 are
scaled up so that every clipping option engages there and not elsewhere.
Every case's nncli config doubles as the Keras keyword arguments (the names
are the same by design), so the sidecar's Keras call and the nncli config
cannot drift apart; each config is also validated as an nncli spec here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from common import Fixture, keras_float64

from nncli.engine.optimizers import optimizers

STEPS = 10
BIG_STEPS = (3, 7)  # 0-based steps whose gradients are scaled by BIG
BIG = 25.0
SHAPES = {"kernel": (3, 4), "bias": (4,)}

KERAS_CLASS = {
    "sgd": "SGD",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
    "adamax": "Adamax",
    "nadam": "Nadam",
    "adagrad": "Adagrad",
    "adadelta": "Adadelta",
    "lion": "Lion",
}

# Thresholds between the ordinary gradients' size and the big steps' (the
# test checks that each one engages on some steps and not on others).
CLIPS = {"clipnorm": 2.0, "clipvalue": 1.0, "global_clipnorm": 3.0}

# Options beyond the per-optimizer defaults / clipping / decay grid.
OPTION_CASES: dict[str, dict[str, Any]] = {
    "sgd_lr": {"type": "sgd", "learning_rate": 0.1},
    "sgd_momentum": {"type": "sgd", "learning_rate": 0.05, "momentum": 0.9},
    "sgd_nesterov": {
        "type": "sgd",
        "learning_rate": 0.05,
        "momentum": 0.9,
        "nesterov": True,
    },
    "sgd_nesterov_global_clipnorm_decay": {
        "type": "sgd",
        "learning_rate": 0.05,
        "momentum": 0.5,
        "nesterov": True,
        "global_clipnorm": 3.0,
        "weight_decay": 0.1,
    },
    "rmsprop_rho_eps": {
        "type": "rmsprop",
        "learning_rate": 0.01,
        "rho": 0.5,
        "epsilon": 0.01,
    },
    "rmsprop_momentum": {"type": "rmsprop", "learning_rate": 0.01, "momentum": 0.9},
    "rmsprop_centered": {"type": "rmsprop", "learning_rate": 0.01, "centered": True},
    "rmsprop_centered_momentum": {
        "type": "rmsprop",
        "learning_rate": 0.01,
        "momentum": 0.5,
        "centered": True,
    },
    "adam_amsgrad": {"type": "adam", "learning_rate": 0.05, "amsgrad": True},
    "adam_betas_eps": {
        "type": "adam",
        "learning_rate": 0.05,
        "beta_1": 0.5,
        "beta_2": 0.9,
        "epsilon": 0.01,
    },
    "adamw_betas_eps": {
        "type": "adamw",
        "learning_rate": 0.05,
        "beta_1": 0.5,
        "beta_2": 0.9,
        "epsilon": 0.01,
    },
    "adamw_amsgrad_decay": {
        "type": "adamw",
        "learning_rate": 0.05,
        "weight_decay": 0.5,
        "amsgrad": True,
    },
    "adamax_betas": {
        "type": "adamax",
        "learning_rate": 0.05,
        "beta_1": 0.5,
        "beta_2": 0.9,
    },
    "nadam_betas": {
        "type": "nadam",
        "learning_rate": 0.05,
        "beta_1": 0.5,
        "beta_2": 0.9,
    },
    "adamax_eps": {"type": "adamax", "learning_rate": 0.05, "epsilon": 0.01},
    "nadam_eps": {"type": "nadam", "learning_rate": 0.05, "epsilon": 0.01},
    "adagrad_eps": {"type": "adagrad", "learning_rate": 0.1, "epsilon": 0.01},
    "adagrad_zero_accumulator": {
        "type": "adagrad",
        "learning_rate": 0.1,
        "initial_accumulator_value": 0.0,
    },
    "adadelta_lr1": {"type": "adadelta", "learning_rate": 1.0},
    "adadelta_rho_eps": {
        "type": "adadelta",
        "learning_rate": 1.0,
        "rho": 0.5,
        "epsilon": 1e-3,
    },
    "lion_betas": {
        "type": "lion",
        "learning_rate": 0.01,
        "beta_1": 0.5,
        "beta_2": 0.9,
    },
}

# Learning rates for the clipping and decay grid: large enough that the
# trajectory moves well beyond float32 rounding within 10 steps.
GRID_LR = {
    "sgd": 0.05,
    "rmsprop": 0.01,
    "adam": 0.05,
    "adamw": 0.05,
    "adamax": 0.05,
    "nadam": 0.05,
    "adagrad": 0.1,
    "adadelta": 1.0,
    "lion": 0.01,
}

# The clip option each optimizer's clip + weight_decay case combines with the
# decay: every clip option appears with decay, adam and adamw with two.
COMBINED_CLIP = {
    "sgd": "clipnorm",
    "rmsprop": "clipvalue",
    "adam": "clipnorm",
    "adamw": "global_clipnorm",
    "adamax": "clipvalue",
    "nadam": "global_clipnorm",
    "adagrad": "clipnorm",
    "adadelta": "clipvalue",
    "lion": "global_clipnorm",
}
EXTRA_COMBINED: dict[str, dict[str, Any]] = {
    "adam_clipvalue_weight_decay": {
        "type": "adam",
        "learning_rate": 0.05,
        "clipvalue": 1.0,
        "weight_decay": 0.2,
    },
    "adamw_clipnorm_weight_decay": {
        "type": "adamw",
        "learning_rate": 0.05,
        "clipnorm": 2.0,
        "weight_decay": 0.2,
    },
}

# Learning-rate schedules inside optimizers (the schedule is evaluated at the
# optimizer's iteration count before each update, weight decay included).
SCHEDULE_CASES: dict[str, dict[str, Any]] = {
    "adam_cosine_decay_warmup": {
        "type": "adam",
        "learning_rate": {
            "type": "cosine_decay",
            "initial_learning_rate": 0.0,
            "decay_steps": 6,
            "warmup_target": 0.1,
            "warmup_steps": 3,
        },
    },
    "sgd_exponential_decay_staircase_weight_decay": {
        "type": "sgd",
        "momentum": 0.9,
        "weight_decay": 0.2,
        "learning_rate": {
            "type": "exponential_decay",
            "initial_learning_rate": 0.1,
            "decay_steps": 3,
            "decay_rate": 0.5,
            "staircase": True,
        },
    },
    "rmsprop_piecewise_constant_decay": {
        "type": "rmsprop",
        "learning_rate": {
            "type": "piecewise_constant_decay",
            "boundaries": [2, 5],
            "values": [0.05, 0.01, 0.002],
        },
    },
}
SCHEDULE_CLASS = {
    "cosine_decay": "CosineDecay",
    "exponential_decay": "ExponentialDecay",
    "piecewise_constant_decay": "PiecewiseConstantDecay",
}


def _keras_kwargs(keras, cfg: dict[str, Any]) -> dict[str, Any]:
    kwargs = {k: v for k, v in cfg.items() if k != "type"}
    lr = kwargs.get("learning_rate")
    if isinstance(lr, dict):
        args = {k: v for k, v in lr.items() if k != "type"}
        cls = getattr(keras.optimizers.schedules, SCHEDULE_CLASS[lr["type"]])
        kwargs["learning_rate"] = cls(**args)
    return kwargs


def cases() -> dict[str, dict[str, Any]]:
    """Every case's nncli config: defaults, each clip option and decay, options."""
    out: dict[str, dict[str, Any]] = {}
    for name in KERAS_CLASS:
        out[f"{name}_defaults"] = {"type": name}
        lr = {"learning_rate": GRID_LR[name]}
        for option, value in CLIPS.items():
            out[f"{name}_{option}"] = {"type": name, **lr, option: value}
        out[f"{name}_weight_decay"] = {"type": name, **lr, "weight_decay": 0.2}
        # Keras clips the gradient, then decays the weights: both in one step
        clip = COMBINED_CLIP[name]
        out[f"{name}_{clip}_weight_decay"] = {
            "type": name,
            **lr,
            clip: CLIPS[clip],
            "weight_decay": 0.2,
        }
    return {**out, **OPTION_CASES, **EXTRA_COMBINED, **SCHEDULE_CASES}


def inputs() -> dict[str, np.ndarray]:
    """w0__<param> and grads__<param> (STEPS, *shape), float64."""
    rng = np.random.default_rng(20240611)
    arrays = {f"w0__{k}": rng.normal(0.0, 1.0, s) for k, s in SHAPES.items()}
    for k, s in SHAPES.items():
        g = rng.normal(0.0, 0.3, (STEPS, *s))
        g[list(BIG_STEPS)] *= BIG
        arrays[f"grads__{k}"] = g
    return arrays


def keras_call(cfg: dict[str, Any]) -> str:
    def show(v: Any) -> str:
        if isinstance(v, dict):  # a schedule
            args = ", ".join(f"{k}={x!r}" for k, x in v.items() if k != "type")
            return f"keras.optimizers.schedules.{SCHEDULE_CLASS[v['type']]}({args})"
        return repr(v)

    args = ", ".join(f"{k}={show(v)}" for k, v in cfg.items() if k != "type")
    return f"keras.optimizers.{KERAS_CLASS[cfg['type']]}({args})"


def trajectory(keras, cfg: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict:
    """The weights after each of STEPS `apply_gradients` calls."""
    kwargs = _keras_kwargs(keras, cfg)
    opt = getattr(keras.optimizers, KERAS_CLASS[cfg["type"]])(**kwargs)
    variables = {
        k: keras.Variable(arrays[f"w0__{k}"], dtype="float64", name=k) for k in SHAPES
    }
    out = {k: [] for k in SHAPES}
    for step in range(STEPS):
        grads = [arrays[f"grads__{k}"][step] for k in SHAPES]
        opt.apply_gradients(zip(grads, [variables[k] for k in SHAPES]))
        for k, v in variables.items():
            out[k].append(np.asarray(v.numpy(), dtype=np.float64))
    return {k: np.stack(v) for k, v in out.items()}


def generate() -> Fixture:
    keras = keras_float64()
    fixture = Fixture(
        kind="optimizers",
        conventions={
            "trajectory": "<case>__<param> is (steps, *shape): the weights after "
            "each optimizer.apply_gradients, from w0__<param> with the gradients "
            "grads__<param>[step] (fixed, independent of the weights)",
            "variables": "keras.Variable(float64) named kernel (3, 4) and bias "
            "(4,); nncli calls them layers.0.kernel and layers.0.bias and gets "
            "both in one step(), so global_clipnorm spans both",
            "big_steps": f"steps {list(BIG_STEPS)} (0-based) have gradients "
            f"scaled by {BIG}: the clipping thresholds {CLIPS} engage there",
            "config": "the nncli config's keys (without type) are the Keras "
            "constructor's keyword arguments",
        },
    )
    arrays = inputs()
    fixture.arrays.update(arrays)
    for name, cfg in cases().items():
        optimizers.get(cfg["type"]).Config(**cfg)  # a valid nncli spec
        fixture.add(name, cfg, keras_call(cfg), **trajectory(keras, cfg, arrays))
    return fixture
