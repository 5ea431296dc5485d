"""Keras 3 golden values for every nncli loss: the value and d value / d pred.

Each case calls a `keras.losses` class on fixed (pred, target) arrays,
without and with sample weights, and takes the gradient with `jax.grad`
through that call, all in float64. Ordinary cases use random inputs away
from kinks; "hostile" cases use probabilities exactly 0 and 1, logits of
+-1e4, labels exactly 0/1 or -1/1, zero vectors, identical predictions and
ties, and also carry Keras's float32 result, because clip bounds round
differently in float32 (1 - 1e-7 becomes 1 - 1.19e-7).

Where nncli deliberately differs from Keras on JAX (Keras gives NaN, or
nncli takes TensorFlow's stable path), the case states why, stores Keras's
own result as keras_* and the expected nncli result from the rule named in
the sidecar, written with keras.ops beside Keras's formula.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from common import Fixture, keras_float64

from nncli.engine.losses import losses

EPS = 1e-7
SHAPE = (4, 3)

KERAS_CLASS = {
    "binary_crossentropy": "BinaryCrossentropy",
    "binary_focal_crossentropy": "BinaryFocalCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "kl_divergence": "KLDivergence",
    "poisson": "Poisson",
    "mean_squared_error": "MeanSquaredError",
    "mean_absolute_error": "MeanAbsoluteError",
    "mean_absolute_percentage_error": "MeanAbsolutePercentageError",
    "mean_squared_logarithmic_error": "MeanSquaredLogarithmicError",
    "huber": "Huber",
    "log_cosh": "LogCosh",
    "cosine_similarity": "CosineSimilarity",
    "hinge": "Hinge",
    "squared_hinge": "SquaredHinge",
    "categorical_hinge": "CategoricalHinge",
}


@dataclass
class Case:
    name: str
    nncli: dict[str, Any]
    pred: np.ndarray
    target: np.ndarray
    hostile: bool = False
    rule: str | None = None  # a key of RULES: nncli's documented alternative


# --- inputs -----------------------------------------------------------------------


def _cases(rng: np.random.Generator) -> list[Case]:
    return _ordinary(rng) + _hostile()


def _ordinary(rng: np.random.Generator) -> list[Case]:
    s = SHAPE
    prob = rng.uniform(0.05, 0.95, s)
    logit = rng.normal(0.0, 2.0, s)
    hard = (rng.random(s) > 0.5).astype(float)
    hard[0] = [0.0, 1.0, 1.0]  # both labels in every batch
    soft = rng.uniform(0.0, 1.0, s)
    onehot = np.eye(s[1])[[0, 2, 1, 2]]
    soft_rows = rng.dirichlet(np.ones(s[1]), s[0])
    ids = np.array([0, 2, 1, 2])
    real, real2 = rng.normal(size=s), rng.normal(size=s)
    positive = rng.uniform(0.1, 3.0, s)
    counts = rng.integers(0, 5, s).astype(float)
    bce, focal = "binary_crossentropy", "binary_focal_crossentropy"
    cce, scce = "categorical_crossentropy", "sparse_categorical_crossentropy"
    balanced = {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5}
    out = [
        Case("bce", {"type": bce}, prob, hard),
        Case("bce_soft_labels", {"type": bce}, prob, soft),
        Case("bce_smoothing", {"type": bce, "label_smoothing": 0.1}, prob, hard),
        Case("bce_logits", {"type": bce, "from_logits": True}, logit, hard),
        Case(
            "bce_logits_smoothing",
            {"type": bce, "from_logits": True, "label_smoothing": 0.2},
            logit,
            hard,
        ),
        Case("focal", {"type": focal}, prob, hard),
        Case("focal_logits", {"type": focal, "from_logits": True}, logit, hard),
        Case(
            "focal_balanced_smoothing",
            {"type": focal, **balanced, "label_smoothing": 0.1},
            prob,
            hard,
        ),
        Case(
            "focal_logits_balanced_smoothing",
            {"type": focal, **balanced, "label_smoothing": 0.1, "from_logits": True},
            logit,
            hard,
        ),
        Case("focal_gamma0", {"type": focal, "gamma": 0.0}, prob, soft),
        Case(
            "focal_logits_gamma_half_alpha",
            {"type": focal, "gamma": 0.5, "alpha": 0.7, "from_logits": True},
            logit,
            hard,
        ),
        Case("cce", {"type": cce}, prob, onehot),
        Case("cce_soft_targets", {"type": cce}, prob, soft_rows),
        Case("cce_smoothing", {"type": cce, "label_smoothing": 0.1}, prob, onehot),
        Case("cce_logits", {"type": cce, "from_logits": True}, logit, onehot),
        Case(
            "cce_logits_smoothing",
            {"type": cce, "from_logits": True, "label_smoothing": 0.3},
            logit,
            soft_rows,
        ),
        Case("scce", {"type": scce}, prob, ids),
        Case("scce_logits", {"type": scce, "from_logits": True}, logit, ids),
        Case("kld", {"type": "kl_divergence"}, prob, soft_rows),
        Case("poisson", {"type": "poisson"}, positive, counts),
        Case("mse", {"type": "mean_squared_error"}, real, real2),
        Case("mae", {"type": "mean_absolute_error"}, real, real2),
        Case("mape", {"type": "mean_absolute_percentage_error"}, real, real2),
        Case("msle", {"type": "mean_squared_logarithmic_error"}, positive, counts),
        Case("huber", {"type": "huber"}, 2.0 * real, real2),
        Case("huber_delta", {"type": "huber", "delta": 0.5}, real, real2),
        Case("log_cosh", {"type": "log_cosh"}, 2.0 * real, real2),
        Case("cosine", {"type": "cosine_similarity"}, real, real2),
        Case("hinge_01", {"type": "hinge"}, real, hard),
        Case("hinge_pm1", {"type": "hinge"}, real, 2.0 * hard - 1.0),
        Case("squared_hinge_01", {"type": "squared_hinge"}, real, hard),
        Case("squared_hinge_pm1", {"type": "squared_hinge"}, real, 2.0 * hard - 1.0),
        Case("categorical_hinge", {"type": "categorical_hinge"}, real, onehot),
    ]
    return out


def _hostile() -> list[Case]:
    bce, focal = "binary_crossentropy", "binary_focal_crossentropy"
    cce, scce = "categorical_crossentropy", "sparse_categorical_crossentropy"
    a = np.array
    eps_hi = 1.0 - EPS
    p01 = a([[0.0, 1.0, 0.5], [1.0, 0.0, EPS], [0.0, 1.0, eps_hi], [1.0, 1.0, 0.0]])
    t01 = a([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    z4 = a([[1e4, -1e4, 0.0], [-1e4, 1e4, 30.0], [80.0, -80.0, -30.0], [1e4, 1e4, 1e4]])
    # right and sure, or wrong and sure, or unsure
    certain = a([[0.0, 1.0, 0.3], [1.0, 0.0, 0.7], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    certain_t = a([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    onehot = np.eye(3)[[0, 1, 2, 0]]
    exact_probs = a(
        [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]]
    )
    zero_row = a([[0.0, 0.0, 0.0], [0.2, 0.3, 0.5], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    z_cce = a([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [0.0, 0.0, 0.0], [-1e4, 1e4, 1e4]])
    ids = onehot.argmax(1)
    real = a([[0.0, 1.5, -2.0], [1e4, -1e4, 3.0], [7.3, 7.3, 7.3], [0.0, 0.0, 0.0]])
    same = real.copy()
    same[1] = [-1e4, 1e4, 3.0]  # rows 0, 2, 3 identical, row 1 off by +-2e4
    ties = a([[1.0, 2.0, 0.5], [0.0, 3.0, 4.0], [2.0, 2.0, 2.0], [5.0, -1.0, 0.0]])
    # errors 0, +-1, +-2 and exactly +-0.5 (huber's delta in its case)
    ties_t = a([[1.0, 2.0, 0.5], [0.0, 2.0, 4.0], [2.5, 1.5, 2.0], [5.0, 1.0, -2.0]])
    pm = a([[1.0, -1.0, 0.0], [1.0, 1.0, -1.0], [2.0, -2.0, 0.5], [-1.0, 1.0, 0.0]])
    pm_t01 = a([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    cos_p = a([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1e-9, 0.0, 0.0]])
    cos_t = a([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -3.0], [2.0, 1.0, 0.0]])
    chinge_p = a([[1.0, 0.0, 0.0], [0.5, 0.2, 0.5], [2.0, 2.0, 2.0], [-1.0, -2.0, 0.5]])
    kl_p = a([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [1.0, EPS, 0.3], [0.2, 0.3, 0.5]])
    kl_t = a([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    rates = a([[0.0, 0.0, 1e4], [3.0, 0.0, 1.0], [EPS, 2.0, 0.5], [1.0, 1.0, 1.0]])
    counts = a([[0.0, 2.0, 1e4], [3.0, 0.0, 0.0], [1.0, 2.0, 0.0], [1.0, 1.0, 1.0]])
    msle_p = a([[0.0, -1.0, EPS], [1e4, 0.0, 2.0], [-5.0, 0.5, 3.0], [1.0, 1.0, 1.0]])
    msle_t = a([[1.0, 0.0, 0.0], [1e4, 0.0, 0.0], [2.0, 0.0, 3.0], [1.0, 1.0, 1.0]])
    mape_p = a([[2.0, 1.0, -1.0], [0.0, 3.0, 1e4], [1.0, 2.0, 3.0], [1.0, 0.5, -3.0]])
    mape_t = a([[0.0, 1.5, 0.0], [1e-9, 2.0, 1.0], [-1.0, 1.0, 2.0], [1.0, 2.0, -3.0]])
    smooth = {"label_smoothing": 0.1}
    return [
        Case("bce_exact_probs", {"type": bce}, p01, t01, True),
        Case("bce_exact_probs_smoothing", {"type": bce, **smooth}, p01, t01, True),
        Case("bce_logits_1e4", {"type": bce, "from_logits": True}, z4, t01, True),
        Case(
            "focal_exact_probs",
            {"type": focal, "apply_class_balancing": True},
            p01,
            t01,
            True,
        ),
        Case(
            "focal_logits_1e4",
            {"type": focal, "from_logits": True, "apply_class_balancing": True},
            z4,
            t01,
            True,
            "focal_tensorflow",
        ),
        Case(
            "focal_certain_gamma0",
            {"type": focal, "gamma": 0.0},
            certain,
            certain_t,
            True,
            "focal_flat_at_certainty",
        ),
        Case(
            "focal_certain_gamma_half",
            {"type": focal, "gamma": 0.5},
            certain,
            certain_t,
            True,
            "focal_flat_at_certainty",
        ),
        Case("cce_exact_probs", {"type": cce}, exact_probs, onehot, True),
        Case(
            "cce_exact_probs_smoothing",
            {"type": cce, **smooth},
            exact_probs,
            onehot,
            True,
        ),
        Case("cce_zero_row", {"type": cce}, zero_row, onehot, True, "cce_zero_row"),
        Case("cce_logits_1e4", {"type": cce, "from_logits": True}, z_cce, onehot, True),
        Case("scce_exact_probs", {"type": scce}, exact_probs, ids, True),
        Case("scce_zero_row", {"type": scce}, zero_row, ids, True, "cce_zero_row"),
        Case("scce_logits_1e4", {"type": scce, "from_logits": True}, z_cce, ids, True),
        Case("kld_exact", {"type": "kl_divergence"}, kl_p, kl_t, True),
        Case("poisson_zero_rates", {"type": "poisson"}, rates, counts, True),
        Case("mse_identical", {"type": "mean_squared_error"}, same, real, True),
        Case(
            "mae_identical",
            {"type": "mean_absolute_error"},
            same,
            real,
            True,
            "abs_balanced",
        ),
        Case(
            "mape_zero_targets_and_ties",
            {"type": "mean_absolute_percentage_error"},
            mape_p,
            mape_t,
            True,
            "abs_balanced",
        ),
        Case(
            "msle_clamped",
            {"type": "mean_squared_logarithmic_error"},
            msle_p,
            msle_t,
            True,
        ),
        Case("huber_identical", {"type": "huber"}, same, real, True),
        Case("huber_at_delta", {"type": "huber", "delta": 0.5}, ties, ties_t, True),
        Case("log_cosh_identical", {"type": "log_cosh"}, same, real, True),
        Case(
            "cosine_zero_vectors",
            {"type": "cosine_similarity"},
            cos_p,
            cos_t,
            True,
            "cosine_capped_slope",
        ),
        Case("hinge_kinks_01", {"type": "hinge"}, pm, pm_t01, True),
        Case("hinge_kinks_pm1", {"type": "hinge"}, pm, 2 * pm_t01 - 1, True),
        Case("squared_hinge_kinks_01", {"type": "squared_hinge"}, pm, pm_t01, True),
        Case(
            "categorical_hinge_ties",
            {"type": "categorical_hinge"},
            chinge_p,
            onehot,
            True,
        ),
    ]


# --- nncli's rules where it differs from Keras on JAX --------------------------------

DIFFERS = {
    "focal_tensorflow": (
        "Keras on JAX/torch/numpy applies sigmoid and then clips the probability "
        "at 1e-7, so a logit of -1e4 with label 1 costs 16.1 with zero gradient; "
        "nncli computes the cross-entropy from the logit as Keras does on "
        "TensorFlow (ops.binary_crossentropy(t, z, from_logits=True), the focal "
        "factor from sigmoid(z)): cost 1e4, gradient -1"
    ),
    "focal_flat_at_certainty": (
        "Keras on JAX gives NaN gradients where 1 - p_t = 0 and gamma < 1 "
        "(0 * 0^(gamma - 1)); nncli takes the slope of (1 - p_t)^gamma there as 0"
    ),
    "cce_zero_row": (
        "an all-zero probability row: Keras divides 0/0 and gives NaN; nncli "
        "takes the normalised row as 0, clipped to 1e-7 (loss -sum(t) log 1e-7, "
        "gradient 0 for that row)"
    ),
    "abs_balanced": (
        "at pred == target JAX differentiates |x| as 1 (so Keras/JAX's gradient "
        "is -1/units/batch there); nncli takes 0, the mean of the one-sided "
        "slopes, as TensorFlow and torch do; values are the same"
    ),
    "cosine_capped_slope": (
        "a zero prediction row: Keras's normalize gives x * min(rsqrt(0), 1e7) = 0 "
        "(loss 0) but JAX's gradient is NaN (0 * inf); nncli gives the slope of "
        "that formula, -1e7 * unit(t) per row"
    ),
}


def _rules(keras: Any) -> dict[str, Callable[..., Any]]:
    """Rule name -> make(options, dtype) -> fn(t, p, w): nncli's expected value."""
    from keras.src.losses.loss import reduce_weighted_values

    ops = keras.ops

    def reduce(values, w):  # Keras's sum_over_batch_size
        return reduce_weighted_values(values, sample_weight=w, dtype=values.dtype)

    def focal_tensorflow(o, dtype):
        def fn(t, z, w):
            s = o.get("label_smoothing", 0.0)
            t = t * (1.0 - s) + 0.5 * s if s else t
            p = ops.sigmoid(z)
            bce = ops.binary_crossentropy(t, z, from_logits=True)
            p_t = t * p + (1 - t) * (1 - p)
            out = ops.power(1.0 - p_t, o.get("gamma", 2.0)) * bce
            if o.get("apply_class_balancing"):
                alpha = o.get("alpha", 0.25)
                out = (t * alpha + (1 - t) * (1 - alpha)) * out
            return reduce(ops.mean(out, axis=-1), w)

        return fn

    def focal_flat_at_certainty(o, dtype):
        gamma = o.get("gamma", 2.0)
        assert not o.get("label_smoothing") and not o.get("from_logits")

        def fn(t, p, w):
            bce = ops.binary_crossentropy(t, p)
            base = 1.0 - (t * p + (1 - t) * (1 - p))
            sure = base == 0
            flat = 1.0 if gamma == 0 else 0.0  # 0^0 = 1
            f = ops.where(sure, flat, ops.power(ops.where(sure, 1.0, base), gamma))
            return reduce(ops.mean(f * bce, axis=-1), w)

        return fn

    def cce_zero_row(o, dtype):
        def fn(t, p, w):
            if o["type"].startswith("sparse"):
                t = ops.one_hot(ops.cast(t, "int32"), p.shape[-1], dtype=dtype)
            s = ops.sum(p, axis=-1, keepdims=True)
            q = ops.clip(p / ops.where(s > 0, s, 1.0), EPS, 1.0 - EPS)
            return reduce(-ops.sum(t * ops.log(q), axis=-1), w)

        return fn

    def abs_balanced(o, dtype):
        def fn(t, p, w):
            if o["type"] == "mean_absolute_error":
                e = t - p
                return reduce(ops.mean(ops.maximum(e, -e), axis=-1), w)
            d = (t - p) / ops.maximum(ops.abs(t), EPS)
            return reduce(100.0 * ops.mean(ops.maximum(d, -d), axis=-1), w)

        return fn

    def cosine_capped_slope(o, dtype):
        def unit(x):
            s = ops.sum(x * x, axis=-1, keepdims=True)
            big = s >= EPS * EPS  # where rsqrt(s) <= 1 / eps
            return x * ops.where(big, ops.rsqrt(ops.where(big, s, 1.0)), 1.0 / EPS)

        def fn(t, p, w):
            return reduce(-ops.sum(unit(t) * unit(p), axis=-1), w)

        return fn

    return {
        "focal_tensorflow": focal_tensorflow,
        "focal_flat_at_certainty": focal_flat_at_certainty,
        "cce_zero_row": cce_zero_row,
        "abs_balanced": abs_balanced,
        "cosine_capped_slope": cosine_capped_slope,
    }


# --- evaluation ---------------------------------------------------------------------


def _keras_call(cfg: dict[str, Any]) -> str:
    options = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if k != "type")
    return (
        f"keras.losses.{KERAS_CLASS[cfg['type']]}({options})"
        "(y_true, y_pred, sample_weight=None | weights); jax.grad w.r.t. y_pred"
    )


def _value_and_grad(fn, pred, target, weights, dtype, sparse):
    import jax
    import jax.numpy as jnp

    p = jnp.asarray(pred, dtype=dtype)
    t = jnp.asarray(target, dtype="int64" if sparse else dtype)
    w = None if weights is None else jnp.asarray(weights, dtype=dtype)
    value, grad = jax.value_and_grad(lambda q: fn(t, q, w))(p)
    return np.asarray(value, dtype=np.float64), np.asarray(grad, dtype=np.float64)


def _results(fn, case: Case, weights, dtype: str, prefix: str = ""):
    """{loss: (2,), grad: (2, batch, units)}: unweighted, then with weights."""
    sparse = case.nncli["type"].startswith("sparse")
    pairs = [
        _value_and_grad(fn, case.pred, case.target, w, dtype, sparse)
        for w in (None, weights)
    ]
    suffix = "_f32" if dtype == "float32" else ""
    return {
        f"{prefix}loss{suffix}": np.stack([v for v, _ in pairs]),
        f"{prefix}grad{suffix}": np.stack([g for _, g in pairs]),
    }


def generate() -> Fixture:
    keras = keras_float64()
    rules = _rules(keras)
    fixture = Fixture(
        kind="losses",
        conventions={
            "reduction": "sum_over_batch_size: sum(w * l) / batch, zero weights "
            "included in batch (keras/src/losses/loss.py reduce_values)",
            "gradient": "jax.grad of the Keras loss call w.r.t. y_pred",
            "inputs": "pred (batch, units), target (batch, units) or (batch,) ids "
            "for sparse; one shared `weights` (batch,); loss (2,) and grad (2, "
            "batch, units) hold the unweighted result, then the weighted one",
            "hostile": "hostile cases also store Keras in float32 (*_f32): clip "
            "bounds round differently in float32",
            "differs": "where nncli differs from Keras on JAX, keras_* hold Keras's "
            "own result and loss/grad the nncli rule named in `rule`",
            "epsilon": "keras.config.epsilon() = 1e-7",
        },
    )
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.2, 2.0, SHAPE[0])
    weights[1] = 0.0  # a zero weight still counts in the divisor
    fixture.arrays["weights"] = weights
    for case in _cases(rng):
        cfg = case.nncli
        assert len(case.pred) == len(weights), case.name
        losses.get(cfg["type"]).Config(**cfg)  # a valid nncli spec
        kwargs = {k: v for k, v in cfg.items() if k != "type"}
        cls = getattr(keras.losses, KERAS_CLASS[cfg["type"]])

        def keras_fn(dtype, cls=cls, kwargs=kwargs):
            loss = cls(**kwargs, dtype=dtype)
            return lambda t, p, w: loss(t, p, sample_weight=w)

        expected = (
            rules[case.rule](cfg, "float64") if case.rule else keras_fn("float64")
        )
        arrays = {"pred": case.pred, "target": case.target}
        arrays |= _results(expected, case, weights, "float64")
        if case.hostile:
            f32 = rules[case.rule](cfg, "float32") if case.rule else keras_fn("float32")
            arrays |= _results(f32, case, weights, "float32")
        if case.rule:
            arrays |= _results(keras_fn("float64"), case, weights, "float64", "keras_")
        fixture.add(case.name, cfg, _keras_call(cfg), **arrays)
        extra = {"hostile": case.hostile}
        if case.rule:
            extra |= {"rule": case.rule, "differs": DIFFERS[case.rule]}
        fixture.cases[case.name].update(extra)
    return fixture
