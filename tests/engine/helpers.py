"""Shared tables and helpers for the engine tests (gradient cases, golden files).

Imported by the test modules as `helpers` (pytest puts this folder on sys.path).
The gradient-case tables live here so that one test can check that every
registered activation, loss, layer and regularizer has a case.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nncli.engine.backend import Backend

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


def float64(backend: Backend) -> Backend:
    """The same array module in float64, as gradient checks need."""
    return Backend.from_name(backend.name, dtype="float64")


def load_golden(kind: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, sidecar) of tests/fixtures/golden/<kind>.npz and .json."""
    with np.load(GOLDEN / f"{kind}.npz") as data:
        arrays = {k: data[k] for k in data.files}
    sidecar = json.loads((GOLDEN / f"{kind}.json").read_text())
    return arrays, sidecar


def away_from_kinks(x: np.ndarray, margin: float = 1e-3) -> np.ndarray:
    """Move entries with |x| <= margin to 0.5, off the relu/leaky_relu kink."""
    x = x.copy()
    x[np.abs(x) <= margin] = 0.5
    return x


# Every activation config with a gradient case (registered names, and variants).
ACTIVATION_CASES: list[dict[str, Any]] = [
    {"type": "linear"},
    {"type": "relu"},
    {"type": "sigmoid"},
    {"type": "tanh"},
    {"type": "softmax"},
    {"type": "leaky_relu"},
    {"type": "leaky_relu", "negative_slope": 0.01},
    {"type": "elu"},
    {"type": "elu", "alpha": 0.5},
    {"type": "selu"},
    {"type": "gelu"},
    {"type": "gelu", "approximate": True},
    {"type": "silu"},
    {"type": "softplus"},
    {"type": "relu", "negative_slope": 0.1},
    {"type": "relu", "max_value": 1.5},
    {"type": "relu", "negative_slope": 0.2, "max_value": 4.0, "threshold": 0.5},
    {"type": "relu6"},
    {"type": "softsign"},
    {"type": "hard_sigmoid"},
    {"type": "hard_silu"},
    {"type": "mish"},
    {"type": "exponential"},
    {"type": "log_softmax"},
]


def _binary(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return (rng.random(shape) > 0.5).astype(np.float64)


def _onehot(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]


def _probs(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return rng.uniform(0.05, 0.95, shape)


def _logits(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return rng.normal(0.0, 3.0, shape)


def _rows(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Soft probability rows (each sums to 1)."""
    return rng.dirichlet(np.ones(shape[1]), shape[0])


def _hinge_inputs(rng, shape, signed: bool) -> tuple[Any, Any]:
    """Labels 0/1 (or -1/1) and scores whose margin 1 - t pred is >= 0.2 from 0."""
    labels = _binary(rng, shape)
    size = rng.choice([0.5, 1.5], shape) + rng.uniform(-0.3, 0.3, shape)
    pred = rng.choice([-1.0, 1.0], shape) * size
    return pred, 2.0 * labels - 1.0 if signed else labels


def _categorical_hinge_inputs(rng, shape) -> tuple[Any, Any]:
    """Scores whose margin neg - pos + 1 stays >= 0.1 away from its kink at 0."""
    target = _onehot(rng, shape)
    pred = rng.normal(size=shape)
    margin = np.max((1 - target) * pred, axis=1) - np.sum(target * pred, axis=1) + 1
    pred += 0.5 * target * (np.abs(margin) < 0.1)[:, None]
    return pred, target


def _mape_inputs(rng, shape) -> tuple[Any, Any]:
    """Targets at least 0.5 from 0, pred at least 0.1 from the target."""
    target = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)
    offset = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 1.0, shape)
    return target + offset, target


# Gradient cases of the losses and options added with the Keras catalogue
# (appended to LOSS_CASES below).
_FOCAL_OPTIONS = {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5}
_MORE_LOSS_CASES: list[tuple[dict[str, Any], LossInputs]] = [
    (
        {"type": "binary_crossentropy", "label_smoothing": 0.1},
        lambda r, s: (_probs(r, s), _binary(r, s)),
    ),
    (
        {"type": "binary_crossentropy", "from_logits": True, "label_smoothing": 0.2},
        lambda r, s: (_logits(r, s), _binary(r, s)),
    ),
    (
        {"type": "categorical_crossentropy", "label_smoothing": 0.1},
        lambda r, s: (r.uniform(0.05, 1.0, s), _onehot(r, s)),
    ),
    (
        {
            "type": "categorical_crossentropy",
            "from_logits": True,
            "label_smoothing": 0.1,
        },
        lambda r, s: (_logits(r, s), _rows(r, s)),
    ),
    (
        {"type": "binary_focal_crossentropy"},
        lambda r, s: (_probs(r, s), _binary(r, s)),
    ),
    (
        {"type": "binary_focal_crossentropy", "from_logits": True},
        lambda r, s: (_logits(r, s), _binary(r, s)),
    ),
    (
        {"type": "binary_focal_crossentropy", **_FOCAL_OPTIONS, "label_smoothing": 0.1},
        lambda r, s: (_probs(r, s), _binary(r, s)),
    ),
    (
        {"type": "binary_focal_crossentropy", **_FOCAL_OPTIONS, "from_logits": True},
        lambda r, s: (_logits(r, s), r.uniform(0, 1, s)),  # soft labels
    ),
    (
        {"type": "binary_focal_crossentropy", "gamma": 0.5},
        lambda r, s: (_probs(r, s), _binary(r, s)),
    ),
    (
        {"type": "binary_focal_crossentropy", "gamma": 0.0, "from_logits": True},
        lambda r, s: (_logits(r, s), _binary(r, s)),
    ),
    ({"type": "kl_divergence"}, lambda r, s: (_probs(r, s), _rows(r, s))),
    (
        {"type": "poisson"},
        lambda r, s: (r.uniform(0.1, 3.0, s), r.integers(0, 5, s).astype(float)),
    ),
    ({"type": "mean_absolute_percentage_error"}, lambda r, s: _mape_inputs(r, s)),
    (
        {"type": "mean_squared_logarithmic_error"},
        lambda r, s: (r.uniform(0.1, 3.0, s), r.uniform(0.0, 3.0, s)),
    ),
    ({"type": "huber"}, lambda r, s: (r.normal(0, 2, s), r.normal(size=s))),
    (
        {"type": "huber", "delta": 0.5},
        lambda r, s: (r.normal(size=s), r.normal(size=s)),
    ),
    ({"type": "log_cosh"}, lambda r, s: (r.normal(0, 2, s), r.normal(size=s))),
    ({"type": "cosine_similarity"}, lambda r, s: (r.normal(size=s), r.normal(size=s))),
    ({"type": "hinge"}, lambda r, s: _hinge_inputs(r, s, signed=False)),
    ({"type": "hinge"}, lambda r, s: _hinge_inputs(r, s, signed=True)),
    ({"type": "squared_hinge"}, lambda r, s: _hinge_inputs(r, s, signed=False)),
    ({"type": "squared_hinge"}, lambda r, s: _hinge_inputs(r, s, signed=True)),
    ({"type": "categorical_hinge"}, lambda r, s: _categorical_hinge_inputs(r, s)),
]


# (loss config, make(rng, shape) -> (pred, target)) for every loss and form.
LossInputs = Callable[[np.random.Generator, tuple[int, int]], tuple[Any, Any]]
LOSS_CASES: list[tuple[dict[str, Any], LossInputs]] = [
    (
        {"type": "binary_crossentropy"},
        lambda r, s: (r.uniform(0.05, 0.95, s), _binary(r, s)),
    ),
    (
        {"type": "binary_crossentropy", "from_logits": True},
        lambda r, s: (r.normal(0, 3, s), _binary(r, s)),
    ),
    (
        {"type": "categorical_crossentropy"},
        lambda r, s: (r.uniform(0.05, 1.0, s), _onehot(r, s)),
    ),
    (
        {"type": "categorical_crossentropy", "from_logits": True},
        lambda r, s: (r.normal(0, 3, s), _onehot(r, s)),
    ),
    (
        {"type": "sparse_categorical_crossentropy"},
        lambda r, s: (r.uniform(0.05, 1.0, s), r.integers(0, s[1], s[0])),
    ),
    (
        {"type": "sparse_categorical_crossentropy", "from_logits": True},
        lambda r, s: (r.normal(0, 3, s), r.integers(0, s[1], s[0])),
    ),
    (
        {"type": "mean_squared_error"},
        lambda r, s: (r.normal(size=s), r.normal(size=s)),
    ),
    (
        # pred stays at least 0.1 away from the target: off the |.| kink
        {"type": "mean_absolute_error"},
        lambda r, s: _mae_inputs(r, s),
    ),
    *_MORE_LOSS_CASES,
]


def _mae_inputs(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[Any, Any]:
    target = rng.normal(size=shape)
    offset = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 1.0, shape)
    return target + offset, target


# Every regularizer config with a gradient case: penalty(w) against grad(w).
REGULARIZER_CASES: list[dict[str, Any]] = [
    {"type": "l1"},
    {"type": "l2"},
    {"type": "l1_l2", "l1": 0.3, "l2": 0.7},
]


def _dense(units: int, **options: Any) -> dict[str, Any]:
    return {"type": "dense", "units": units, **options}


# Whole models whose training loss includes activity regularizers, checked
# weight by weight: id -> (layers, input shape, loss, make target(rng, batch)).
ACTIVITY_REGULARIZER_CASES: dict[str, tuple[list[dict[str, Any]], Any, str, Any]] = {
    "mse": (
        [
            _dense(
                4,
                activation="tanh",
                kernel_regularizer={"type": "l2", "l2": 0.05},
                bias_regularizer={"type": "l1", "l1": 0.02},
                activity_regularizer={"type": "l1_l2", "l1": 0.03, "l2": 0.04},
            ),
            _dense(2, activity_regularizer={"type": "l2", "l2": 0.1}),
        ],
        (3,),
        "mean_squared_error",
        lambda r, n: r.normal(size=(n, 2)),
    ),
    # sigmoid head fused with the loss: the activity gradient goes through it
    "sigmoid": (
        [
            _dense(3, activation="gelu", activity_regularizer={"type": "l1"}),
            _dense(1, activation="sigmoid", activity_regularizer={"type": "l2"}),
        ],
        (3,),
        "binary_crossentropy",
        lambda r, n: (r.random((n, 1)) > 0.5).astype(float),
    ),
    # softmax head fused with the loss
    "softmax": (
        [
            _dense(
                3, activation="softmax", activity_regularizer={"type": "l2", "l2": 1.0}
            )
        ],
        (4,),
        "categorical_crossentropy",
        lambda r, n: np.eye(3)[r.integers(0, 3, n)],
    ),
    # rank-3 input: the penalty sums over every axis, divides by the batch only
    "rank3": (
        [
            _dense(
                4, activation="mish", activity_regularizer={"type": "l1", "l1": 0.2}
            ),
            {"type": "flatten"},
            _dense(1),
        ],
        (2, 3),
        "mean_squared_error",
        lambda r, n: r.normal(size=(n, 1)),
    ),
}


def case_id(cfg: dict[str, Any]) -> str:
    """A readable pytest id for a config dict."""
    extra = [f"{k}={v}" for k, v in cfg.items() if k != "type"]
    return "-".join([cfg["type"], *extra])


def load_keras_golden(kind: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, sidecar) of the Keras fixtures keras_<kind>.npz and .json."""
    return load_golden(f"keras_{kind}")
