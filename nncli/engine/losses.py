"""Losses, with Keras 3's names, defaults and formulas (keras/src/losses/losses.py).

A loss maps (pred, target) to one value per sample; `forward` reduces them the
way Keras's default "sum_over_batch_size" does: sum(w_i * l_i) / batch, where
batch is the number of per-sample values (keras/src/losses/loss.py
`reduce_values` divides by the size of the values, never by sum(w)), with
w_i = 1 when no sample weights are given. `backward(cache)` returns
d(reduced loss)/d(pred), so the network starts backprop from it.

Conventions every loss here follows:
- pred and target are backend arrays; pred is (batch, units). Targets are
  (batch, units) floats, except sparse_categorical_crossentropy whose target is
  (batch,) integer class ids. A target shape that differs is refused.
- Per-sample value, as in Keras: the mean over the last axis for elementwise
  losses (mse, mae, bce, focal, huber, hinge, ...), the sum over classes for
  categorical cross-entropy and kl_divergence, one value per row for
  categorical_hinge and cosine_similarity.
- `fuses_with` names the output activation this loss can absorb: when the
  model's last activation is that one and `from_logits` is false, the model
  computes the loss from the pre-activation with `with_logits()` — the stable
  path Keras takes on TensorFlow (CASE-001): never NaN/inf from a saturated
  sigmoid or softmax.
- `target_kind` says what targets the loss expects, for data validation:
  "binary" (0/1 or soft labels in [0, 1]), "onehot" (one column per class,
  rows summing to 1), "sparse" (one integer id per row), "signed" (labels
  -1/1 or 0/1, as Keras's hinge losses take them), "nonnegative" (counts,
  amounts), "nonzero" (real, never 0) or "real".
- EPSILON = 1e-7 is Keras's `backend.epsilon()`, used where Keras uses it:
  probabilities are clipped to [1e-7, 1 - 1e-7] by the cross-entropies, to
  [1e-7, 1] by kl_divergence; log(pred + 1e-7) in poisson, max(., 1e-7) in
  msle and mape, norms at least 1e-7 in cosine_similarity.
- At a kink the gradient is the mean of the one-sided slopes: 1/2 on a clip
  bound and where max(m, 0) has m = 0 (what JAX gives Keras), shared equally
  between tied maxima (categorical_hinge, as JAX does), and 0 for |x| at 0
  (mae and mape where pred == target; JAX gives d|x|/dx = 1 at 0, TensorFlow
  and torch 0).
- float32 stays float32: constants are Python floats, never numpy float64.
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

from pydantic import Field

from nncli.engine.activations import log_softmax, sigmoid, softmax
from nncli.engine.backend import get_array_module
from nncli.errors import DataError
from nncli.registry import Registry, StrictModel

losses: Registry[type[Loss]] = Registry("loss")

EPSILON = 1e-7
LOG2 = math.log(2.0)

_FROM_LOGITS = (
    "Predictions are logits, not probabilities (Keras's `from_logits`). With "
    "false, a matching final activation is fused into the loss anyway."
)
_BINARY_SMOOTHING = (
    "Squeeze labels towards 0.5: t * (1 - s) + s / 2 (Keras's `label_smoothing`)."
)


class LossCache(NamedTuple):
    pred: Any
    target: Any
    weights: Any


def _clip_slope(x: Any, lo: float, hi: float) -> Any:
    """d clip(x, lo, hi) / dx: 1 inside, 1/2 on a bound, 0 outside."""
    inside = ((x > lo) & (x < hi)).astype(x.dtype)
    return inside + 0.5 * ((x == lo) | (x == hi)).astype(x.dtype)


def _relu_slope(m: Any) -> Any:
    """d max(m, 0) / dm: 1 above 0, 1/2 at 0, 0 below."""
    return (m > 0).astype(m.dtype) + 0.5 * (m == 0).astype(m.dtype)


class Loss:
    """Base: per-sample loss, batch reduction, and its gradient."""

    class Config(StrictModel):
        type: str

    name: str = ""
    fuses_with: str | None = None
    target_kind: str = "real"
    from_logits: bool = False

    def per_sample(self, pred: Any, target: Any) -> Any:
        """(batch,) loss of each sample, from a prepared target."""
        raise NotImplementedError

    def sample_losses(self, pred: Any, target: Any) -> Any:
        """(batch,) unweighted loss of each sample, from raw targets."""
        return self.per_sample(pred, self._prepare_target(pred, target))

    def per_sample_grad(self, pred: Any, target: Any) -> Any:
        """d l_i / d pred_i for each sample, shape of pred (no batch reduction)."""
        raise NotImplementedError

    def forward(self, pred: Any, target: Any, weights: Any = None) -> tuple[Any, Any]:
        """(scalar loss as a 0-d backend array, cache for `backward`)."""
        xp = get_array_module(pred)
        target = self._prepare_target(pred, target)
        if weights is not None:
            weights = xp.asarray(weights, dtype=pred.dtype).reshape(pred.shape[:-1])
        values = self.per_sample(pred, target)  # (batch,)
        if weights is not None:
            values = values * weights
        # the method, not xp.sum: numpy's wrapper costs more than the sum here
        value = xp.asarray(values.sum() / max(values.size, 1), dtype=pred.dtype)
        return value, LossCache(pred, target, weights)

    def backward(self, cache: Any) -> Any:
        """d loss / d pred, shape of pred."""
        pred, target, weights = cache
        g = self.per_sample_grad(pred, target)  # (batch, units)
        n = max(pred.size // pred.shape[-1], 1)  # number of per-sample values
        if weights is not None:
            g = g * weights[..., None]
        return g / n

    def with_logits(self) -> Loss:
        """The same loss computed from logits (only for losses with `fuses_with`)."""
        raise NotImplementedError(f"{self.name} has no logits form")

    def _prepare_target(self, pred: Any, target: Any) -> Any:
        """Target in pred's dtype; a shape mismatch is refused, never broadcast."""
        xp = get_array_module(pred)
        target = xp.asarray(target, dtype=pred.dtype)
        if target.shape != pred.shape:
            raise DataError(
                f"{self.name}: target shape {tuple(target.shape)} does not match "
                f"prediction shape {tuple(pred.shape)}"
            )
        return target


class ElementwiseLoss(Loss):
    """A loss whose per-sample value is the mean over units of a term per element."""

    def elementwise(self, pred: Any, target: Any) -> Any:
        raise NotImplementedError

    def elementwise_grad(self, pred: Any, target: Any) -> Any:
        raise NotImplementedError

    def per_sample(self, pred, target):
        # sum / n is numpy's mean to the bit, without mean's Python overhead
        return self.elementwise(pred, target).sum(axis=-1) / pred.shape[-1]

    def per_sample_grad(self, pred, target):
        return self.elementwise_grad(pred, target) / pred.shape[-1]


# --- cross-entropies ------------------------------------------------------------


def _bce(pred: Any, target: Any, from_logits: bool) -> Any:
    """Elementwise binary cross-entropy (Keras: clipped probabilities, or logits)."""
    xp = get_array_module(pred)
    if from_logits:  # log(1 + e^z) - t z, never forming sigmoid(z)
        z = pred
        return xp.maximum(z, 0) - z * target + xp.log1p(xp.exp(-xp.abs(z)))
    p = xp.clip(pred, EPSILON, 1 - EPSILON)
    return -(target * xp.log(p) + (1 - target) * xp.log(1 - p))


def _bce_grad(pred: Any, target: Any, from_logits: bool) -> Any:
    """d _bce / d pred, elementwise; zero where the probability clip is active."""
    xp = get_array_module(pred)
    if from_logits:
        return sigmoid(pred) - target
    p = xp.clip(pred, EPSILON, 1 - EPSILON)
    return _clip_slope(pred, EPSILON, 1 - EPSILON) * (p - target) / (p * (1 - p))


class _BinaryLabels(ElementwiseLoss):
    """Shared by the binary cross-entropies: smoothed 0/1 labels, sigmoid fusion."""

    fuses_with = "sigmoid"
    target_kind = "binary"
    label_smoothing = 0.0

    def _prepare_target(self, pred, target):
        target = super()._prepare_target(pred, target)
        s = self.label_smoothing
        return target * (1.0 - s) + 0.5 * s if s else target


@losses.register("binary_crossentropy", "bce")
class BinaryCrossentropy(_BinaryLabels):
    """Binary cross-entropy, mean over units then sum_over_batch_size.

    t' = t (1 - s) + s / 2 with s = label_smoothing (default 0, as Keras).
    Probabilities (Keras): p = clip(pred, 1e-7, 1 - 1e-7),
    l = -mean(t' log p + (1 - t') log(1 - p)); gradient zero where clipped.
    Logits (stable, never forms sigmoid): l = mean(max(z, 0) - z t' +
    log1p(exp(-|z|))); d/dz = (sigmoid(z) - t') / units / batch.
    """

    class Config(StrictModel):
        type: Literal["binary_crossentropy"] = "binary_crossentropy"
        from_logits: bool = Field(False, description=_FROM_LOGITS)
        label_smoothing: float = Field(
            0.0, ge=0.0, le=1.0, description=_BINARY_SMOOTHING
        )

    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def elementwise(self, pred, target):
        return _bce(pred, target, self.from_logits)

    def elementwise_grad(self, pred, target):
        return _bce_grad(pred, target, self.from_logits)

    def with_logits(self) -> Loss:
        return BinaryCrossentropy(True, self.label_smoothing)


@losses.register("binary_focal_crossentropy")
class BinaryFocalCrossentropy(_BinaryLabels):
    """Binary focal cross-entropy (Lin et al. 2018), mean over units.

    l = mean(w (1 - p_t)^gamma bce(t', pred)), 1 - p_t = t'(1 - p) + (1 - t')p,
    w = alpha t' + (1 - alpha)(1 - t') with apply_class_balancing, else 1;
    t' = t (1 - s) + s / 2. Keras's defaults: alpha 0.25, gamma 2, no
    balancing, no smoothing. Probabilities: bce clipped at 1e-7 as in Keras,
    p itself unclipped in the factor. Logits: bce from logits and
    1 - p_t = t' sigmoid(-z) + (1 - t') sigmoid(z) — Keras on TensorFlow;
    Keras on JAX/torch clips sigmoid(z) instead, so its loss stops at 16.1 with
    zero gradient once |z| > 16. Where 1 - p_t = 0 (a certain, right
    prediction) the slope of (1 - p_t)^gamma is taken as 0, also for
    gamma < 1 (Keras on JAX: NaN).
    """

    keras_difference = (
        "From logits (or a fused sigmoid) it is computed from the logit, as "
        "Keras on TensorFlow does: a logit of -1e4 with label 1 costs about 1e4 "
        "with a useful gradient (Keras on JAX clips: 16.1, gradient 0); gamma < "
        "1 at a certain, correct prediction gives gradient 0 (Keras on JAX: "
        "NaN)."
    )

    class Config(StrictModel):
        type: Literal["binary_focal_crossentropy"] = "binary_focal_crossentropy"
        apply_class_balancing: bool = Field(
            False, description="Weigh class 1 by alpha and class 0 by 1 - alpha."
        )
        alpha: float = Field(
            0.25, ge=0.0, le=1.0, description="Weight of class 1 when balancing."
        )
        gamma: float = Field(
            2.0, ge=0.0, description="Focusing power on (1 - p_t); 0 gives plain bce."
        )
        from_logits: bool = Field(False, description=_FROM_LOGITS)
        label_smoothing: float = Field(
            0.0, ge=0.0, le=1.0, description=_BINARY_SMOOTHING
        )

    name = "binary_focal_crossentropy"

    def __init__(
        self,
        apply_class_balancing: bool = False,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
    ) -> None:
        self.apply_class_balancing = apply_class_balancing
        self.alpha, self.gamma = alpha, gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def _parts(self, pred: Any, t: Any) -> tuple[Any, Any, Any, Any]:
        """(class weight, 1 - p_t, its d/dpred, bce), elementwise."""
        if self.from_logits:
            s, s_neg = sigmoid(pred), sigmoid(-pred)  # p and 1 - p, both exact
            base = t * s_neg + (1 - t) * s
            dbase = (1 - 2 * t) * s * s_neg
        else:
            base = t * (1 - pred) + (1 - t) * pred
            dbase = 1 - 2 * t
        a = self.alpha
        w = t * a + (1 - t) * (1 - a) if self.apply_class_balancing else 1.0
        return w, base, dbase, _bce(pred, t, self.from_logits)

    def _factor(self, base: Any) -> tuple[Any, Any]:
        """(1 - p_t)^gamma and its slope, 0 where 1 - p_t = 0 and gamma != 1."""
        xp, g = get_array_module(base), self.gamma
        if g == 0:
            return xp.ones_like(base), xp.zeros_like(base)
        if g == 1:
            return base, xp.ones_like(base)
        positive = base > 0
        safe = xp.where(positive, base, 1.0)  # no 0 ** negative
        return base**g, xp.where(positive, g * safe ** (g - 1), 0.0)

    def elementwise(self, pred, target):
        w, base, _, bce = self._parts(pred, target)
        return w * (self._factor(base)[0] * bce)

    def elementwise_grad(self, pred, target):
        w, base, dbase, bce = self._parts(pred, target)
        f, df = self._factor(base)
        dbce = _bce_grad(pred, target, self.from_logits)
        return w * (df * dbase * bce + f * dbce)

    def with_logits(self) -> Loss:
        return BinaryFocalCrossentropy(
            self.apply_class_balancing,
            self.alpha,
            self.gamma,
            True,
            self.label_smoothing,
        )


@losses.register("categorical_crossentropy")
class CategoricalCrossentropy(Loss):
    """Categorical cross-entropy over one-hot (or soft) targets, summed over classes.

    t' = t (1 - s) + s / classes with s = label_smoothing (default 0).
    Probabilities (Keras): q = pred / sum(pred) per row, then clip(q, 1e-7,
    1 - 1e-7), l = -sum(t' log q). An all-zero row is taken as q = 0 (loss
    -sum(t') log 1e-7, gradient 0) where Keras divides 0/0 and gives NaN.
    Logits: l = -sum(t' log_softmax(z)); d/dz = softmax(z) sum(t') - t'.
    Reduction: sum_over_batch_size.
    """

    keras_difference = (
        "An all-zero probability row costs -sum(t) log(1e-7) with gradient 0 "
        "(Keras: NaN from 0/0)."
    )

    class Config(StrictModel):
        type: Literal["categorical_crossentropy"] = "categorical_crossentropy"
        from_logits: bool = Field(False, description=_FROM_LOGITS)
        label_smoothing: float = Field(
            0.0,
            ge=0.0,
            le=1.0,
            description="Mix the labels with the uniform distribution: "
            "t * (1 - s) + s / classes (Keras's `label_smoothing`).",
        )

    name = "categorical_crossentropy"
    fuses_with = "softmax"
    target_kind = "onehot"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def _prepare_target(self, pred, target):
        target = super()._prepare_target(pred, target)
        s = self.label_smoothing
        return target * (1.0 - s) + s / pred.shape[-1] if s else target

    def per_sample(self, pred, target):
        xp = get_array_module(pred)
        if self.from_logits:
            return -xp.sum(target * log_softmax(pred), axis=-1)
        q = xp.clip(self._normalise(pred), EPSILON, 1 - EPSILON)
        return -xp.sum(target * xp.log(q), axis=-1)

    def per_sample_grad(self, pred, target):
        xp = get_array_module(pred)
        if self.from_logits:
            return softmax(pred) * xp.sum(target, axis=-1, keepdims=True) - target
        s = self._row_sum(pred)  # (batch, 1)
        q = pred / s
        qc = xp.clip(q, EPSILON, 1 - EPSILON)
        g = _clip_slope(q, EPSILON, 1 - EPSILON) * (-target / qc)  # dl/dq
        # q_j = p_j / s  =>  dl/dp_k = (g_k - sum_j g_j q_j) / s
        return (g - xp.sum(g * q, axis=-1, keepdims=True)) / s

    def _row_sum(self, pred: Any) -> Any:
        xp = get_array_module(pred)
        s = xp.sum(pred, axis=-1, keepdims=True)
        return xp.maximum(s, xp.finfo(pred.dtype).tiny)

    def _normalise(self, pred: Any) -> Any:
        return pred / self._row_sum(pred)

    def with_logits(self) -> Loss:
        return CategoricalCrossentropy(True, self.label_smoothing)


@losses.register("sparse_categorical_crossentropy")
class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with (batch,) integer class ids as targets.

    Same formulas, clip and reduction as categorical_crossentropy applied to
    one_hot(target); integral float ids (1.0) are taken as ints. No label
    smoothing, as in Keras.
    """

    class Config(StrictModel):
        type: Literal["sparse_categorical_crossentropy"] = (
            "sparse_categorical_crossentropy"
        )
        from_logits: bool = Field(False, description=_FROM_LOGITS)

    name = "sparse_categorical_crossentropy"
    target_kind = "sparse"

    def __init__(self, from_logits: bool = False) -> None:
        super().__init__(from_logits)

    def _prepare_target(self, pred: Any, target: Any) -> Any:
        xp = get_array_module(pred)
        ids = xp.asarray(target)
        batch = pred.shape[:-1]
        if ids.shape != batch and not (ids.shape == (*batch, 1)):
            raise DataError(
                f"{self.name}: expected one integer class id per row, shape "
                f"{tuple(batch)}, got target shape {tuple(ids.shape)}"
            )
        ids = ids.reshape(batch)
        classes = pred.shape[-1]
        # one check (one device sync): a bad id would otherwise give a zero row
        bad = (ids < 0) | (ids >= classes) | (ids != xp.floor(ids))
        if bool(xp.any(bad)):
            raise DataError(
                f"{self.name}: class ids must be integers in [0, {classes}), "
                f"got {ids[bad].reshape(-1)[0].item()!r}"
            )
        ids = ids.astype(xp.int64)
        onehot = ids[..., None] == xp.arange(classes)  # (batch, classes)
        return onehot.astype(pred.dtype)

    def with_logits(self) -> Loss:
        return SparseCategoricalCrossentropy(from_logits=True)


@losses.register("kl_divergence", "kld")
class KLDivergence(Loss):
    """Kullback-Leibler divergence sum(t log(t / p)) over classes.

    As Keras: t and p are first clipped to [1e-7, 1], so a 0 in either stays
    finite; gradient -t/p, zero where pred is clipped. Targets are
    probability rows (one-hot or soft).
    """

    class Config(StrictModel):
        type: Literal["kl_divergence"] = "kl_divergence"

    name = "kl_divergence"
    target_kind = "onehot"

    def per_sample(self, pred, target):
        xp = get_array_module(pred)
        t = xp.clip(target, EPSILON, 1.0)
        p = xp.clip(pred, EPSILON, 1.0)
        return xp.sum(t * xp.log(t / p), axis=-1)

    def per_sample_grad(self, pred, target):
        xp = get_array_module(pred)
        t = xp.clip(target, EPSILON, 1.0)
        p = xp.clip(pred, EPSILON, 1.0)
        return -_clip_slope(pred, EPSILON, 1.0) * t / p


@losses.register("poisson")
class Poisson(ElementwiseLoss):
    """Poisson negative log-likelihood mean(pred - t log(pred + 1e-7)) (Keras).

    pred is a rate and must be > -1e-7 (an exp or softplus output); below
    that the log is NaN, as in Keras. Targets are counts (>= 0).
    """

    keras_difference = "A negative target is a data error."

    class Config(StrictModel):
        type: Literal["poisson"] = "poisson"

    name = "poisson"
    target_kind = "nonnegative"

    def elementwise(self, pred, target):
        return pred - target * get_array_module(pred).log(pred + EPSILON)

    def elementwise_grad(self, pred, target):
        return 1 - target / (pred + EPSILON)


# --- regression ---------------------------------------------------------------


@losses.register("mean_squared_error", "mse")
class MeanSquaredError(ElementwiseLoss):
    """l = mean((pred - t)^2) over units; d/dpred = 2 (pred - t) / units / batch."""

    class Config(StrictModel):
        type: Literal["mean_squared_error"] = "mean_squared_error"

    name = "mean_squared_error"

    def elementwise(self, pred, target):
        d = pred - target
        return d * d

    def elementwise_grad(self, pred, target):
        return 2 * (pred - target)


@losses.register("mean_absolute_error", "mae")
class MeanAbsoluteError(ElementwiseLoss):
    """l = mean(|pred - t|) over units; subgradient sign(pred - t), 0 at a tie."""

    keras_difference = (
        "Gradient 0 where pred == target, as TensorFlow and PyTorch give (Keras "
        "on JAX: -1/units)."
    )

    class Config(StrictModel):
        type: Literal["mean_absolute_error"] = "mean_absolute_error"

    name = "mean_absolute_error"

    def elementwise(self, pred, target):
        return get_array_module(pred).abs(pred - target)

    def elementwise_grad(self, pred, target):
        return get_array_module(pred).sign(pred - target)


@losses.register("mean_absolute_percentage_error", "mape")
class MeanAbsolutePercentageError(ElementwiseLoss):
    """l = 100 mean(|t - pred| / max(|t|, 1e-7)) (Keras); 0 gradient at a tie.

    A zero target makes the error 1e9 times |pred|: data validation refuses it.
    """

    keras_difference = (
        "A zero target is a data error (Keras divides by 1e-7); gradient 0 "
        "where pred == target."
    )

    class Config(StrictModel):
        type: Literal["mean_absolute_percentage_error"] = (
            "mean_absolute_percentage_error"
        )

    name = "mean_absolute_percentage_error"
    target_kind = "nonzero"

    def per_sample(self, pred, target):
        return 100.0 * super().per_sample(pred, target)

    def per_sample_grad(self, pred, target):
        return 100.0 * super().per_sample_grad(pred, target)

    def elementwise(self, pred, target):
        xp = get_array_module(pred)
        return xp.abs((target - pred) / xp.maximum(xp.abs(target), EPSILON))

    def elementwise_grad(self, pred, target):
        xp = get_array_module(pred)
        return xp.sign(pred - target) / xp.maximum(xp.abs(target), EPSILON)


@losses.register("mean_squared_logarithmic_error", "msle")
class MeanSquaredLogarithmicError(ElementwiseLoss):
    """l = mean((log(max(pred, 1e-7) + 1) - log(max(t, 1e-7) + 1))^2) (Keras).

    Predictions below 1e-7 count as 1e-7 (zero gradient there); targets must
    be >= 0.
    """

    keras_difference = (
        "A negative target is a data error (Keras silently raises it to 1e-7)."
    )

    class Config(StrictModel):
        type: Literal["mean_squared_logarithmic_error"] = (
            "mean_squared_logarithmic_error"
        )

    name = "mean_squared_logarithmic_error"
    target_kind = "nonnegative"

    def _logs(self, pred: Any, target: Any) -> tuple[Any, Any]:
        xp = get_array_module(pred)
        p = xp.maximum(pred, EPSILON)
        return p, xp.log(p + 1.0) - xp.log(xp.maximum(target, EPSILON) + 1.0)

    def elementwise(self, pred, target):
        d = self._logs(pred, target)[1]
        return d * d

    def elementwise_grad(self, pred, target):
        p, d = self._logs(pred, target)
        return _clip_slope(pred, EPSILON, math.inf) * 2 * d / (p + 1.0)


@losses.register("huber")
class Huber(ElementwiseLoss):
    """Huber: mean of e^2 / 2 where |e| <= delta, else delta (|e| - delta / 2).

    e = pred - t; gradient e, or delta sign(e) beyond delta. Default delta 1.0
    (Keras).
    """

    class Config(StrictModel):
        type: Literal["huber"] = "huber"
        delta: float = Field(
            1.0, gt=0.0, description="Error size where the loss turns linear."
        )

    name = "huber"

    def __init__(self, delta: float = 1.0) -> None:
        self.delta = delta

    def elementwise(self, pred, target):
        xp, d = get_array_module(pred), self.delta
        e = pred - target
        a = xp.abs(e)
        return xp.where(a <= d, 0.5 * (e * e), d * a - 0.5 * (d * d))

    def elementwise_grad(self, pred, target):
        xp, d = get_array_module(pred), self.delta
        e = pred - target
        return xp.where(xp.abs(e) <= d, e, d * xp.sign(e))


@losses.register("log_cosh")
class LogCosh(ElementwiseLoss):
    """l = mean(log(cosh(e))), e = pred - t, as e + softplus(-2e) - log 2 (Keras).

    Never overflows; gradient tanh(e).
    """

    class Config(StrictModel):
        type: Literal["log_cosh"] = "log_cosh"

    name = "log_cosh"

    def elementwise(self, pred, target):
        xp = get_array_module(pred)
        e = pred - target
        m = -2.0 * e
        softplus = xp.maximum(m, 0) + xp.log1p(xp.exp(-xp.abs(m)))
        return e + softplus - LOG2

    def elementwise_grad(self, pred, target):
        return get_array_module(pred).tanh(pred - target)


@losses.register("cosine_similarity")
class CosineSimilarity(Loss):
    """l = -sum(unit(t) unit(pred)) per row, in [-1, 1]; -1 when aligned.

    unit(x) = x * min(1 / ||x||, 1e7), Keras's normalize: a zero vector gives
    l = 0. Gradient -r (u - l' v) with u = unit(t), v = unit(pred),
    r = min(1 / ||pred||, 1e7), l' = u.v; where the 1e7 cap holds (||pred|| <
    1e-7, a zero prediction included) it is -1e7 u, the slope of Keras's
    formula there (Keras on JAX: NaN at pred = 0).
    """

    keras_difference = (
        "A zero prediction gets the gradient -1e7 * unit(t), the slope of "
        "Keras's own formula there (Keras on JAX: NaN)."
    )

    class Config(StrictModel):
        type: Literal["cosine_similarity"] = "cosine_similarity"

    name = "cosine_similarity"

    def _unit(self, x: Any) -> tuple[Any, Any, Any]:
        """(x * r, r, capped) with r = min(1 / ||x||, 1 / 1e-7) per row."""
        xp = get_array_module(x)
        s = xp.sum(x * x, axis=-1, keepdims=True)  # (batch, 1)
        r = 1.0 / xp.sqrt(xp.maximum(s, EPSILON * EPSILON))
        return x * r, r, s < EPSILON * EPSILON

    def per_sample(self, pred, target):
        xp = get_array_module(pred)
        return -xp.sum(self._unit(target)[0] * self._unit(pred)[0], axis=-1)

    def per_sample_grad(self, pred, target):
        xp = get_array_module(pred)
        u = self._unit(target)[0]
        v, r, capped = self._unit(pred)
        uv = xp.sum(u * v, axis=-1, keepdims=True)  # (batch, 1)
        return -r * (u - xp.where(capped, 0.0, uv) * v)


# --- hinge ----------------------------------------------------------------------


class _SignedLabels(ElementwiseLoss):
    """Hinge losses: labels -1/1, or 0/1 converted to -1/1 as Keras does."""

    target_kind = "signed"

    def _prepare_target(self, pred, target):
        # Keras converts when every label of the call is 0 or 1; a where, not
        # an if, so no device sync
        xp = get_array_module(pred)
        t = super()._prepare_target(pred, target)
        binary = xp.all((t == 0) | (t == 1))
        return xp.where(binary, 2.0 * t - 1.0, t)


@losses.register("hinge")
class Hinge(_SignedLabels):
    """l = mean(max(1 - t pred, 0)) over units, t in {-1, 1} (0/1 converted).

    Gradient -t where the margin 1 - t pred > 0, -t/2 on the kink.
    """

    keras_difference = (
        "Labels must be all -1/1 or all 0/1: Keras converts 0/1 per batch, so a "
        "file mixing -1, 0 and 1 would change meaning between batches."
    )

    class Config(StrictModel):
        type: Literal["hinge"] = "hinge"

    name = "hinge"

    def elementwise(self, pred, target):
        return get_array_module(pred).maximum(1.0 - target * pred, 0.0)

    def elementwise_grad(self, pred, target):
        return -target * _relu_slope(1.0 - target * pred)


@losses.register("squared_hinge")
class SquaredHinge(_SignedLabels):
    """l = mean(max(1 - t pred, 0)^2) over units, t in {-1, 1} (0/1 converted)."""

    keras_difference = "Labels must be all -1/1 or all 0/1 (see hinge)."

    class Config(StrictModel):
        type: Literal["squared_hinge"] = "squared_hinge"

    name = "squared_hinge"

    def elementwise(self, pred, target):
        m = get_array_module(pred).maximum(1.0 - target * pred, 0.0)
        return m * m

    def elementwise_grad(self, pred, target):
        m = get_array_module(pred).maximum(1.0 - target * pred, 0.0)
        return -2.0 * target * m


@losses.register("categorical_hinge")
class CategoricalHinge(Loss):
    """l = max(neg - pos + 1, 0), pos = sum(t pred), neg = max((1 - t) pred).

    Keras's formula over one-hot targets. At ties for the largest wrong score
    the gradient is shared equally, and halved where neg - pos + 1 = 0.
    """

    class Config(StrictModel):
        type: Literal["categorical_hinge"] = "categorical_hinge"

    name = "categorical_hinge"
    target_kind = "onehot"

    def _margin(self, pred: Any, target: Any) -> tuple[Any, Any]:
        xp = get_array_module(pred)
        pos = xp.sum(target * pred, axis=-1)  # (batch,)
        wrong = (1.0 - target) * pred  # (batch, classes)
        neg = xp.max(wrong, axis=-1)
        return neg - pos + 1.0, wrong == neg[..., None]

    def per_sample(self, pred, target):
        return get_array_module(pred).maximum(self._margin(pred, target)[0], 0.0)

    def per_sample_grad(self, pred, target):
        xp = get_array_module(pred)
        m, top = self._margin(pred, target)
        top = top.astype(pred.dtype)
        share = top / xp.sum(top, axis=-1, keepdims=True)  # argmax, ties split
        return _relu_slope(m)[..., None] * (share * (1.0 - target) - target)
