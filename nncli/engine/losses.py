"""Losses, Keras names and conventions.

A loss maps (pred, target) to one value per sample; `forward` reduces them the
way Keras's default "sum_over_batch_size" does: sum(w_i * l_i) / batch, with
w_i = 1 when no sample weights are given. `backward(cache)` returns
d(reduced loss)/d(pred), so the network starts backprop from it.

Conventions every loss here follows:
- pred and target are backend arrays; pred is (batch, units). Targets are
  (batch, units) floats, except sparse_categorical_crossentropy whose target is
  (batch,) integer class ids.
- Per-sample value = mean over the last axis for elementwise losses (mse, mae,
  bce), sum over classes for categorical cross-entropy, as in Keras.
- `fuses_with` names the output activation this loss can absorb: when the
  model's last activation is that one and `from_logits` is false, the model
  computes the loss from the pre-activation with `with_logits()` — the stable
  path Keras takes on TensorFlow (CASE-001): never NaN/inf from a saturated
  sigmoid or softmax.
- `target_kind` says what targets the loss expects, for data validation:
  "binary" (0/1 floats), "onehot" (one column per class), "sparse" (one integer
  id per row) or "real".
- Probability forms clip at EPSILON = 1e-7 (Keras's `backend.epsilon()`), as
  Keras's numpy/jax/torch backends do (no extra epsilon inside the log); the
  gradient through the clip is zero where the clip is active.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from nncli.engine.activations import log_softmax, sigmoid, softmax
from nncli.engine.backend import get_array_module
from nncli.errors import DataError
from nncli.registry import Registry, StrictModel

losses: Registry[type[Loss]] = Registry("loss")

EPSILON = 1e-7


class LossCache(NamedTuple):
    pred: Any
    target: Any
    weights: Any


class Loss:
    """Base: per-sample loss, batch reduction, and its gradient."""

    class Config(StrictModel):
        type: str

    name: str = ""
    fuses_with: str | None = None
    target_kind: str = "real"
    from_logits: bool = False

    def per_sample(self, pred: Any, target: Any) -> Any:
        """(batch,) loss of each sample."""
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
        value = xp.asarray(xp.sum(values) / max(values.size, 1), dtype=pred.dtype)
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


@losses.register("binary_crossentropy")
class BinaryCrossentropy(Loss):
    """Binary cross-entropy, mean over units then sum_over_batch_size.

    Probabilities (Keras): p = clip(pred, 1e-7, 1 - 1e-7),
    l = -mean(t log p + (1 - t) log(1 - p)); gradient zero where clipped.
    Logits (stable, never forms sigmoid): l = mean(max(z, 0) - z t +
    log1p(exp(-|z|))); d/dz = (sigmoid(z) - t) / units / batch.
    """

    class Config(StrictModel):
        type: Literal["binary_crossentropy"] = "binary_crossentropy"
        from_logits: bool = False

    name = "binary_crossentropy"
    fuses_with = "sigmoid"
    target_kind = "binary"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = from_logits

    def per_sample(self, pred, target):
        xp = get_array_module(pred)
        if self.from_logits:
            z = pred
            elementwise = xp.maximum(z, 0) - z * target + xp.log1p(xp.exp(-xp.abs(z)))
        else:
            p = xp.clip(pred, EPSILON, 1 - EPSILON)
            elementwise = -(target * xp.log(p) + (1 - target) * xp.log(1 - p))
        return xp.mean(elementwise, axis=-1)

    def per_sample_grad(self, pred, target):
        xp = get_array_module(pred)
        units = pred.shape[-1]
        if self.from_logits:
            return (sigmoid(pred) - target) / units
        p = xp.clip(pred, EPSILON, 1 - EPSILON)
        inside = (pred >= EPSILON) & (pred <= 1 - EPSILON)
        return inside * (p - target) / (p * (1 - p) * units)

    def with_logits(self) -> Loss:
        return BinaryCrossentropy(from_logits=True)


@losses.register("categorical_crossentropy")
class CategoricalCrossentropy(Loss):
    """Categorical cross-entropy over one-hot (or soft) targets, summed over classes.

    Probabilities (Keras): q = pred / sum(pred) per row, then clip(q, 1e-7,
    1 - 1e-7), l = -sum(t log q). An all-zero row is treated as q = 0 rather
    than 0/0. Logits: l = -sum(t * log_softmax(z)); d/dz = softmax(z) sum(t) - t.
    Reduction: sum_over_batch_size.
    """

    class Config(StrictModel):
        type: Literal["categorical_crossentropy"] = "categorical_crossentropy"
        from_logits: bool = False

    name = "categorical_crossentropy"
    fuses_with = "softmax"
    target_kind = "onehot"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = from_logits

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
        g = ((q >= EPSILON) & (q <= 1 - EPSILON)) * (-target / qc)  # dl/dq
        # q_j = p_j / s  =>  dl/dp_k = (g_k - sum_j g_j q_j) / s
        return (g - xp.sum(g * q, axis=-1, keepdims=True)) / s

    def _row_sum(self, pred: Any) -> Any:
        xp = get_array_module(pred)
        s = xp.sum(pred, axis=-1, keepdims=True)
        return xp.maximum(s, xp.finfo(pred.dtype).tiny)

    def _normalise(self, pred: Any) -> Any:
        return pred / self._row_sum(pred)

    def with_logits(self) -> Loss:
        return type(self)(from_logits=True)


@losses.register("sparse_categorical_crossentropy")
class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with (batch,) integer class ids as targets.

    Same formulas, clip and reduction as categorical_crossentropy applied to
    one_hot(target); integral float ids (1.0) are taken as ints.
    """

    class Config(StrictModel):
        type: Literal["sparse_categorical_crossentropy"] = (
            "sparse_categorical_crossentropy"
        )
        from_logits: bool = False

    name = "sparse_categorical_crossentropy"
    target_kind = "sparse"

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


@losses.register("mean_squared_error", "mse")
class MeanSquaredError(Loss):
    """l = mean((pred - t)^2) over units; d/dpred = 2 (pred - t) / units / batch."""

    class Config(StrictModel):
        type: Literal["mean_squared_error"] = "mean_squared_error"

    name = "mean_squared_error"

    def per_sample(self, pred, target):
        d = pred - target
        return get_array_module(pred).mean(d * d, axis=-1)

    def per_sample_grad(self, pred, target):
        return 2 * (pred - target) / pred.shape[-1]


@losses.register("mean_absolute_error", "mae")
class MeanAbsoluteError(Loss):
    """l = mean(|pred - t|) over units; subgradient sign(pred - t), 0 at a tie."""

    class Config(StrictModel):
        type: Literal["mean_absolute_error"] = "mean_absolute_error"

    name = "mean_absolute_error"

    def per_sample(self, pred, target):
        xp = get_array_module(pred)
        return xp.mean(xp.abs(pred - target), axis=-1)

    def per_sample_grad(self, pred, target):
        return get_array_module(pred).sign(pred - target) / pred.shape[-1]
