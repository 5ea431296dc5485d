"""Metrics accumulated exactly over an epoch: sums, counts and confusion counts.

Every metric is stateful: `update(pred, target, logits)` adds a batch to
running sums or counts (kept on the device, in float64 or int64, so neither
float32 rounding nor the batch size changes the result) and `result()` turns
them into one number. Definitions and defaults follow Keras 3 (keras.metrics);
the docstrings name each difference.

What a metric sees is fixed by the model, checked in `build_metrics` before
training (a `SpecError` naming `metrics[i]` when a metric cannot apply):

- the layout of the targets, the loss's `target_kind`: "binary" (0/1 per
  unit, binary_crossentropy), "onehot" (categorical_crossentropy), "sparse"
  (integer class ids, sparse_categorical_crossentropy) or "real" (regression);
- the number of output units;
- whether predictions are logits (`Model.outputs_logits`): thresholds then
  apply to probabilities, i.e. to sigmoid logits at logit(threshold), and
  softmax-layout logits pass through a softmax first; AUC always sees
  probabilities.

A target counts as positive when it is above 0.5 (sparse labels are one-hot
encoded first). Keras casts targets to bool for precision, recall and AUC
(any non-zero soft label is positive) and multiplies soft labels into F1; the
two agree on hard 0/1 labels.

`accuracy` resolves to one concrete accuracy from the model's output and the
target layout, not from the loss name as Keras does (CASE-008): sparse
integer targets -> sparse_categorical_accuracy; more than one output unit ->
categorical_accuracy (arg-max); one unit -> binary_accuracy at 0.5 on
probabilities, i.e. at logit 0 when the model outputs logits (CASE-007).
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

from pydantic import Field, field_validator

from nncli.engine.activations import sigmoid, softmax
from nncli.engine.backend import get_array_module
from nncli.errors import Issue, SpecError
from nncli.registry import Registry, StrictModel

metrics: Registry[type[Metric]] = Registry("metric")

F1_EPSILON = 1e-7  # Keras's backend.epsilon(), in F1's three denominators
RESERVED = ("epoch", "loss", "learning_rate", "seconds")  # metrics.csv columns

TARGETS = {
    "binary": "0/1 targets (binary_crossentropy)",
    "onehot": "one-hot targets (categorical_crossentropy)",
    "sparse": "integer class labels (sparse_categorical_crossentropy)",
    "real": "real-valued targets (a regression loss)",
}


class Layout(NamedTuple):
    """What a model's predictions and targets look like to a metric."""

    kind: str  # the loss's target_kind: binary, onehot, sparse or real
    units: int  # output units (classes for a softmax output)

    @property
    def categorical(self) -> bool:
        """One class per sample, from a softmax (logits go through softmax)."""
        return self.kind in ("onehot", "sparse")


# the losses' other target kinds, as metrics see them: hinge labels (-1/1 or
# 0/1, positive when above 0.5) score like 0/1 ones; the rest are real values
LAYOUT_OF = {"signed": "binary", "nonnegative": "real", "nonzero": "real"}


def layout_for(target_kind: str, units: int) -> Layout:
    """The Layout of a model whose loss has `target_kind` (see LAYOUT_OF)."""
    return Layout(LAYOUT_OF.get(target_kind, target_kind), units)


class Unfit(ValueError):
    """A metric that cannot apply to this model; `key` is the option at fault."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


class MetricConfig(StrictModel):
    """Options every metric has."""

    type: str
    name: str | None = Field(
        None,
        pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
        description="Column name in logs and metrics.csv (Keras's `name`); "
        "defaults to the type. Two metrics of one type need distinct names.",
    )

    @field_validator("name")
    @classmethod
    def _free_name(cls, value: str | None) -> str | None:
        if value is not None and (value in RESERVED or value.startswith("val_")):
            raise ValueError(
                f"{value!r} is taken: metric names may not be "
                f"{', '.join(RESERVED)} or start with val_"
            )
        return value


class Metric:
    """Base: `bind` to a layout, then `update` per batch and `result` per epoch.

    The class attribute `name` is the metric's kind (its registered name);
    the constructor's `name` is the column it reports under (`self.column`).
    """

    name = "metric"
    accepts: tuple[str, ...] = tuple(TARGETS)  # target kinds it applies to
    direction = "up"  # better when higher (Keras: _direction); "down" for errors
    needs = "needs class targets"  # what `accepts` means, for the error message
    instead = ""  # a metric that fits the refused layouts, if there is one
    Config = MetricConfig

    def __init__(self, name: str | None = None) -> None:
        self.column = name or self.name
        self.layout = Layout("binary", 1)
        self.reset()

    def bind(self, layout: Layout) -> Metric:
        """Check that the metric applies to `layout` (raise Unfit) and keep it."""
        if layout.kind not in self.accepts:
            raise Unfit(self.refusal(layout))
        self.layout = layout
        return self

    def refusal(self, layout: Layout) -> str:
        msg = f"{self.name} {self.needs}, but this model's targets are "
        msg += TARGETS[layout.kind]
        return msg + (f"; use {self.instead}" if self.instead else "")

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, pred: Any, target: Any, logits: bool = False) -> None:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError

    # -- helpers shared by the classification metrics -------------------------

    def probabilities(self, pred: Any, logits: bool) -> Any:
        """Predictions as probabilities: softmax or sigmoid of logits."""
        if not logits:
            return pred
        return softmax(pred) if self.layout.categorical else sigmoid(pred)

    def above(self, pred: Any, threshold: float, logits: bool) -> Any:
        """Probability > threshold, without a sigmoid when the output is logits."""
        if logits and not self.layout.categorical:
            return pred > _logit(threshold)
        return self.probabilities(pred, logits) > threshold

    def truth(self, pred: Any, target: Any) -> Any:
        """(batch, units) bool: which outputs should be on (sparse -> one-hot)."""
        xp = get_array_module(pred)
        if self.layout.kind == "sparse":
            return target.reshape(-1, 1) == xp.arange(pred.shape[-1])
        return target.reshape(pred.shape) > 0.5


def _logit(p: float) -> float:
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return math.log(p / (1.0 - p))


def _divide(num: Any, den: Any) -> Any:
    """num / den, 0 where den is 0 (Keras's divide_no_nan)."""
    xp = get_array_module(num)
    return xp.where(den == 0, 0.0, num / xp.where(den == 0, 1.0, den))


# --- means of per-element scores ---------------------------------------------


class MeanMetric(Metric):
    """Running sum / count of a per-element score (float64 sum on the device).

    With nothing seen the result is NaN (Keras reports 0.0); an epoch always
    has samples, so only an unused metric shows it.
    """

    def reset(self) -> None:
        self.total: Any = 0.0
        self.count = 0

    def update(self, pred: Any, target: Any, logits: bool = False) -> None:
        scores = self.scores(pred, target, logits)
        xp = get_array_module(scores)
        self.total = self.total + scores.sum(dtype=xp.float64)  # no sync here
        self.count += scores.size

    def scores(self, pred: Any, target: Any, logits: bool) -> Any:
        raise NotImplementedError

    def result(self) -> float:
        return float(self.total) / self.count if self.count else float("nan")


class _OneClassPerSample(MeanMetric):
    """An arg-max or top-k metric: needs at least two output units."""

    def bind(self, layout: Layout) -> Metric:
        super().bind(layout)
        if layout.units < 2:
            raise Unfit(
                f"{self.name} ranks the output units, but this model has 1 "
                "(its arg-max is always unit 0); use binary_accuracy"
            )
        return self


@metrics.register("accuracy", "acc")
class Accuracy(Metric):
    """Accuracy that fits the output: sparse, categorical (arg-max) or binary.

    A placeholder: `bind` returns the concrete accuracy (see the module notes),
    which reports under this metric's column name.
    """

    name = "accuracy"

    class Config(MetricConfig):
        type: Literal["accuracy"] = "accuracy"

    def reset(self) -> None:
        pass

    def bind(self, layout: Layout) -> Metric:
        return resolve_accuracy(layout.kind, layout.units, self.column).bind(layout)


def resolve_accuracy(
    target_kind: str, units: int, name: str = "accuracy"
) -> MeanMetric:
    """The concrete accuracy that plain `accuracy` means for this model."""
    if target_kind == "sparse":
        return SparseCategoricalAccuracy(name=name)
    if units > 1:
        return CategoricalAccuracy(name=name)
    return BinaryAccuracy(name=name)


@metrics.register("binary_accuracy")
class BinaryAccuracy(MeanMetric):
    """Share of outputs on the right side of `threshold` (Keras: strictly above).

    Element-wise over every output unit, as Keras; a target is 1 when above 0.5.
    """

    name = "binary_accuracy"
    accepts = ("binary", "onehot", "real")
    needs = "scores each output unit against a 0/1 target"
    instead = "sparse_categorical_accuracy (or accuracy)"

    class Config(MetricConfig):
        type: Literal["binary_accuracy"] = "binary_accuracy"
        threshold: float = Field(
            0.5, gt=0.0, lt=1.0, description="Probability above which an output is 1."
        )

    def __init__(self, threshold: float = 0.5, name: str | None = None) -> None:
        self.threshold = threshold
        super().__init__(name)

    def scores(self, pred, target, logits):
        hit = self.above(pred, self.threshold, logits) == (
            target.reshape(pred.shape) > 0.5
        )
        return hit.astype(pred.dtype)


@metrics.register("categorical_accuracy")
class CategoricalAccuracy(_OneClassPerSample):
    """Arg-max of the prediction equals arg-max of the one-hot target."""

    name = "categorical_accuracy"
    accepts = ("binary", "onehot", "real")
    needs = "takes one-hot targets"
    instead = "sparse_categorical_accuracy"

    class Config(MetricConfig):
        type: Literal["categorical_accuracy"] = "categorical_accuracy"

    def scores(self, pred, target, logits):
        hit = pred.argmax(axis=-1) == target.reshape(pred.shape).argmax(axis=-1)
        return hit.astype(pred.dtype)


@metrics.register("sparse_categorical_accuracy")
class SparseCategoricalAccuracy(_OneClassPerSample):
    """Arg-max of the prediction equals the integer label (ties: first class)."""

    name = "sparse_categorical_accuracy"
    accepts = ("sparse",)
    needs = "takes integer class labels"
    instead = "categorical_accuracy"

    class Config(MetricConfig):
        type: Literal["sparse_categorical_accuracy"] = "sparse_categorical_accuracy"

    def scores(self, pred, target, logits):
        return (pred.argmax(axis=-1) == target.reshape(-1)).astype(pred.dtype)


def _in_top_k(pred: Any, label: Any, k: int) -> Any:
    """(batch,) bool: fewer than k classes score strictly above the label's.

    Ties go to the label, as Keras on JAX (`in_top_k`); a NaN score never counts.
    Logits rank as their softmax probabilities do, so they need no softmax.
    """
    xp = get_array_module(pred)
    at = xp.take_along_axis(pred, label.reshape(-1, 1), axis=-1)  # (batch, 1)
    at = xp.where(xp.isnan(at), -xp.inf, at)
    return (pred > at).sum(axis=-1) < k


class _TopK(_OneClassPerSample):
    class Config(MetricConfig):
        k: int = Field(
            5,
            ge=1,
            description="How many top classes may hold the label (Keras: 5); "
            "k >= the number of classes always scores 1.0.",
        )

    def __init__(self, k: int = 5, name: str | None = None) -> None:
        self.k = k
        super().__init__(name)


@metrics.register("top_k_categorical_accuracy")
class TopKCategoricalAccuracy(_TopK):
    """The one-hot target's class is among the k highest outputs (Keras: k=5).

    With k at least the number of classes every sample is a hit (1.0), as in
    Keras. Ties with the target's score count as hits.
    """

    name = "top_k_categorical_accuracy"
    accepts = ("binary", "onehot", "real")
    needs = "takes one-hot targets"
    instead = "sparse_top_k_categorical_accuracy"

    class Config(_TopK.Config):
        type: Literal["top_k_categorical_accuracy"] = "top_k_categorical_accuracy"

    def scores(self, pred, target, logits):
        label = target.reshape(pred.shape).argmax(axis=-1)
        return _in_top_k(pred, label, self.k).astype(pred.dtype)


@metrics.register("sparse_top_k_categorical_accuracy")
class SparseTopKCategoricalAccuracy(_TopK):
    """The integer label is among the k highest outputs (Keras: k=5).

    With k at least the number of classes every sample is a hit (1.0), as in
    Keras. Ties with the label's score count as hits.
    """

    name = "sparse_top_k_categorical_accuracy"
    accepts = ("sparse",)
    needs = "takes integer class labels"
    instead = "top_k_categorical_accuracy"

    class Config(_TopK.Config):
        type: Literal["sparse_top_k_categorical_accuracy"] = (
            "sparse_top_k_categorical_accuracy"
        )

    def scores(self, pred, target, logits):
        return _in_top_k(pred, target.reshape(-1), self.k).astype(pred.dtype)


class _Regression(MeanMetric):
    """An error between outputs and targets of the same shape.

    On a logits output (a classifier trained `from_logits`) the error is taken
    on the probabilities, as for a sigmoid or softmax output (mse is then the
    Brier score); Keras would use the raw logits.
    """

    accepts = ("binary", "onehot", "real")
    needs = "compares each output with a target of the same shape"
    direction = "down"


@metrics.register("mean_squared_error", "mse")
class MeanSquaredError(_Regression):
    """Mean of (pred - target)^2 over samples and output units."""

    name = "mean_squared_error"

    class Config(MetricConfig):
        type: Literal["mean_squared_error"] = "mean_squared_error"

    def scores(self, pred, target, logits):
        d = self.probabilities(pred, logits) - target.reshape(pred.shape)
        return d * d


@metrics.register("mean_absolute_error", "mae")
class MeanAbsoluteError(_Regression):
    """Mean of |pred - target| over samples and output units."""

    name = "mean_absolute_error"

    class Config(MetricConfig):
        type: Literal["mean_absolute_error"] = "mean_absolute_error"

    def scores(self, pred, target, logits):
        d = self.probabilities(pred, logits) - target.reshape(pred.shape)
        return get_array_module(pred).abs(d)


@metrics.register("root_mean_squared_error", "rmse")
class RootMeanSquaredError(MeanSquaredError):
    """Square root of the epoch's mean squared error (not a mean of batch roots)."""

    name = "root_mean_squared_error"

    class Config(MetricConfig):
        type: Literal["root_mean_squared_error"] = "root_mean_squared_error"

    def result(self) -> float:
        return math.sqrt(super().result())


# --- counts of decisions: precision, recall, F1 ------------------------------


def _top_k_mask(pred: Any, k: int) -> Any:
    """(batch, units) bool: each row's k highest outputs, ties to the lower index
    (as Keras's top_k). Compares all pairs: (batch, units, units) booleans."""
    xp = get_array_module(pred)
    a, b = pred[:, :, None], pred[:, None, :]  # (batch, units, 1), (batch, 1, units)
    earlier = xp.arange(pred.shape[-1])[None, :] < xp.arange(pred.shape[-1])[:, None]
    ahead = (b > a) | ((b == a) & earlier)  # (batch, i, j): j ranks before i
    return ahead.sum(axis=-1) < k


class _Decisions(Metric):
    """Yes/no decisions per output unit, compared with the targets.

    Multi-unit outputs follow Keras: every (sample, unit) pair is one decision,
    so counts are micro-averaged over the units; `class_id` keeps one unit
    (one class against the rest), `top_k` only each row's k highest outputs.
    Sparse labels are one-hot encoded first, so a softmax output with integer
    labels reads the same as with one-hot targets.
    """

    accepts = ("binary", "onehot", "sparse")

    class Config(MetricConfig):
        threshold: float | None = Field(
            None,
            ge=0.0,
            le=1.0,
            description="Probability above which an output counts as predicted; "
            "null: 0.5, or with top_k no threshold (Keras).",
        )
        top_k: int | None = Field(
            None, ge=1, description="Only each sample's k highest outputs count."
        )
        class_id: int | None = Field(
            None, ge=0, description="Score only this output unit (class)."
        )

    def __init__(
        self,
        threshold: float | None = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
    ) -> None:
        self.threshold, self.top_k, self.class_id = threshold, top_k, class_id
        super().__init__(name)

    def bind(self, layout: Layout) -> Metric:
        super().bind(layout)
        if self.class_id is not None and self.class_id >= layout.units:
            raise Unfit(
                f"class_id {self.class_id} is past the model's {layout.units} "
                f"output unit(s) (0 to {layout.units - 1})",
                "class_id",
            )
        if self.top_k is not None and self.top_k > layout.units:
            raise Unfit(
                f"top_k {self.top_k} is more than the model's {layout.units} "
                "output unit(s)",
                "top_k",
            )
        return self

    def reset(self) -> None:
        self.tp: Any = 0  # true positives, on the device once updated
        self.fp: Any = 0
        self.fn: Any = 0

    def update(self, pred: Any, target: Any, logits: bool = False) -> None:
        truth = self.truth(pred, target)  # (batch, units) bool
        if self.threshold is None and self.top_k is not None:
            said = _top_k_mask(pred, self.top_k)  # no threshold (Keras: -1e10)
        else:
            t = 0.5 if self.threshold is None else self.threshold
            said = self.above(pred, t, logits)
            if self.top_k is not None:
                said &= _top_k_mask(pred, self.top_k)
        if self.class_id is not None:
            truth, said = truth[:, self.class_id], said[:, self.class_id]
        self.tp = self.tp + (said & truth).sum()
        self.fp = self.fp + (said & ~truth).sum()
        self.fn = self.fn + (~said & truth).sum()


@metrics.register("precision")
class Precision(_Decisions):
    """TP / (TP + FP) at `threshold` (Keras Precision); units pooled or `class_id`.

    0 when nothing is predicted positive (Keras's divide_no_nan). One threshold
    per metric (Keras's list of thresholds would need one column each).
    """

    keras_difference = (
        "A target is positive when > 0.5 (Keras: any non-zero label); one "
        "threshold per metric (one column)."
    )

    name = "precision"

    class Config(_Decisions.Config):
        type: Literal["precision"] = "precision"

    def result(self) -> float:
        tp = int(self.tp)
        return tp / (tp + int(self.fp)) if tp + int(self.fp) else 0.0


@metrics.register("recall")
class Recall(_Decisions):
    """TP / (TP + FN) at `threshold` (Keras Recall); units pooled or `class_id`.

    0 when there are no positives (Keras's divide_no_nan). One threshold per
    metric (Keras's list of thresholds would need one column each).
    """

    keras_difference = (
        "A target is positive when > 0.5 (Keras: any non-zero label); one "
        "threshold per metric (one column)."
    )

    name = "recall"

    class Config(_Decisions.Config):
        type: Literal["recall"] = "recall"

    def result(self) -> float:
        tp = int(self.tp)
        return tp / (tp + int(self.fn)) if tp + int(self.fn) else 0.0


@metrics.register("f1_score", "f1")
class F1Score(Metric):
    """F1 per class, `macro`-averaged by default (Keras F1Score); softmax: arg-max.

    A softmax output (one-hot or integer labels) predicts each sample's
    highest-probability class (Keras's `threshold=None`; tied maxima all count);
    a sigmoid output predicts each unit above 0.5, since Keras's arg-max over a
    single unit would call every sample positive. A given `threshold` applies
    to probabilities in both cases. `average` defaults to `macro` (the mean of
    the per-class scores); Keras's per-class vector (`average: None`) does not
    fit one column. As Keras, each denominator has 1e-7 added, so a perfect
    score reads just under 1 (about 1 - 5e-8) and an empty class scores 0.
    """

    keras_difference = (
        "average defaults to macro (Keras returns a per-class vector, which is "
        "not one column); without a threshold a sigmoid output is cut at 0.5 "
        "(Keras's arg-max over one unit calls every sample positive)."
    )

    name = "f1_score"
    accepts = ("binary", "onehot", "sparse")

    class Config(MetricConfig):
        type: Literal["f1_score"] = "f1_score"
        average: Literal["macro", "micro", "weighted"] = Field(
            "macro",
            description="macro: mean over classes; micro: from pooled counts; "
            "weighted: mean weighted by each class's number of positives.",
        )
        threshold: float | None = Field(
            None,
            gt=0.0,
            le=1.0,
            description="Probability above which an output counts as predicted; "
            "null: the arg-max class (softmax) or 0.5 (sigmoid).",
        )

    def __init__(
        self,
        average: str = "macro",
        threshold: float | None = None,
        name: str | None = None,
    ) -> None:
        self.average, self.threshold = average, threshold
        super().__init__(name)

    def reset(self) -> None:
        self.tp: Any = 0  # per class, (units,) int64 once updated
        self.fp: Any = 0
        self.fn: Any = 0

    def update(self, pred: Any, target: Any, logits: bool = False) -> None:
        truth = self.truth(pred, target)  # (batch, units) bool
        if self.threshold is None and self.layout.categorical:
            p = self.probabilities(pred, logits)
            xp = get_array_module(p)
            # Keras: all tied maxima count; an all-zero row predicts nothing
            said = (p >= p.max(axis=-1, keepdims=True)) & (xp.abs(p) > 1e-9)
        else:
            t = 0.5 if self.threshold is None else self.threshold
            said = self.above(pred, t, logits)
        self.tp = self.tp + (said & truth).sum(axis=0)
        self.fp = self.fp + (said & ~truth).sum(axis=0)
        self.fn = self.fn + (~said & truth).sum(axis=0)

    def result(self) -> float:
        xp = get_array_module(self.tp)
        tp, fp, fn = (
            xp.asarray(v, dtype=xp.float64) for v in (self.tp, self.fp, self.fn)
        )
        if self.average == "micro":
            tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
        eps = F1_EPSILON
        precision = tp / (tp + fp + eps)
        recall = tp / (tp + fn + eps)
        f1 = 2 * (precision * recall) / (precision + recall + eps)
        if self.average == "weighted":
            support = tp + fn  # positives per class
            return float((f1 * (support / (support.sum() + eps))).sum())
        return float(f1.mean())


# --- area under the curve ----------------------------------------------------


@metrics.register("auc")
class AUC(Metric):
    """Area under the ROC or precision-recall curve, Keras's approximation.

    Predictions (probabilities: sigmoid or softmax of logits) fall into
    `num_thresholds` evenly spaced buckets on [0, 1] (Keras: 200), giving
    true/false positive counts at each threshold; the area is a Riemann sum
    (`interpolation`: trapezoids for ROC, Davis & Goadrich's interpolation for
    PR). Multi-unit outputs pool every (sample, unit) pair (micro, Keras's
    `multi_label: false`) or, with `multi_label: true`, average the per-unit
    areas. A curve with no positives (or, for ROC, no negatives) scores 0, as
    in Keras.
    """

    keras_difference = (
        "No from_logits option (nncli knows whether the model outputs logits; "
        "softmax logits go through softmax); predictions are compared with the "
        "thresholds exactly; summation_method PRGAIN and label_weights are not "
        "supported."
    )

    name = "auc"
    accepts = ("binary", "onehot", "sparse")

    class Config(MetricConfig):
        type: Literal["auc"] = "auc"
        num_thresholds: int = Field(
            200, ge=2, description="Evenly spaced thresholds on [0, 1] (Keras: 200)."
        )
        curve: Literal["ROC", "PR"] = Field(
            "ROC", description="ROC (recall vs false positive rate) or PR."
        )
        summation_method: Literal["interpolation", "minoring", "majoring"] = Field(
            "interpolation",
            description="Heights of the Riemann sum: interpolated, lower or upper.",
        )
        multi_label: bool = Field(
            False,
            description="Mean of per-unit areas instead of pooling all units.",
        )

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        multi_label: bool = False,
        name: str | None = None,
    ) -> None:
        self.num_thresholds, self.curve = num_thresholds, curve
        self.summation_method, self.multi_label = summation_method, multi_label
        super().__init__(name)

    def reset(self) -> None:
        self.hist: Any = None  # (labels * thresholds * 2,) int64 bucket counts

    def update(self, pred: Any, target: Any, logits: bool = False) -> None:
        xp = get_array_module(pred)
        p = xp.clip(self.probabilities(pred, logits), 0.0, 1.0)
        p = xp.where(xp.isnan(p), 0.0, p)  # a NaN output scores as 0
        truth = self.truth(pred, target)  # (batch, units) bool
        n = self.num_thresholds
        # Keras's thresholds: -eps, (i + 1) / (n - 1) for i < n - 2, 1 + eps; an
        # output in bucket b is above thresholds 0..b. Counting the inner
        # thresholds strictly below p keeps ties exact (p == t is not above t).
        inner = (xp.arange(n - 2, dtype=xp.float64) + 1) * 1.0 / (n - 1)
        bucket = xp.searchsorted(inner, p.astype(xp.float64), side="left")
        labels = truth.shape[-1] if self.multi_label else 1
        column = xp.arange(truth.shape[-1]) if self.multi_label else 0
        index = ((column * n + bucket) * 2 + truth).reshape(-1)
        counts = xp.bincount(index, minlength=labels * n * 2)
        self.hist = counts if self.hist is None else self.hist + counts

    def _curve_counts(self) -> tuple[Any, Any, Any, Any]:
        """tp, fp, tn, fn at each threshold: (labels, thresholds) float64."""
        xp = get_array_module(self.hist)
        h = self.hist.reshape(-1, self.num_thresholds, 2).astype(xp.float64)
        # a prediction is above threshold i when its bucket is i or higher
        above = xp.flip(xp.cumsum(xp.flip(h, axis=1), axis=1), axis=1)
        tp, fp = above[..., 1], above[..., 0]
        fn = h[..., 1].sum(axis=1, keepdims=True) - tp
        tn = h[..., 0].sum(axis=1, keepdims=True) - fp
        return tp, fp, tn, fn

    def result(self) -> float:
        if self.hist is None:
            return float("nan")
        tp, fp, tn, fn = self._curve_counts()
        if self.curve == "PR" and self.summation_method == "interpolation":
            area = _pr_interpolated(tp, fp, fn)
        else:
            xp = get_array_module(tp)
            recall = _divide(tp, tp + fn)
            if self.curve == "ROC":
                x, y = _divide(fp, fp + tn), recall
            else:
                x, y = recall, _divide(tp, tp + fp)
            lo, hi = y[:, :-1], y[:, 1:]
            heights = {
                "interpolation": (lo + hi) / 2,
                "minoring": xp.minimum(lo, hi),
                "majoring": xp.maximum(lo, hi),
            }[self.summation_method]
            area = ((x[:, :-1] - x[:, 1:]) * heights).sum(axis=1)
        return float(area.mean())  # one label unless multi_label


def _pr_interpolated(tp: Any, fp: Any, fn: Any) -> Any:
    """PR area per label, precision interpolated between thresholds.

    Davis & Goadrich (2006) as Keras writes it: within each bucket TP and the
    predicted positives P = TP + FP vary linearly, so precision is
    (TP_A + slope (P - P_A)) / P and its integral over recall is
    slope * (dTP + intercept * log(P_A / P_B)) / (TP_B + FN_B).
    """
    xp = get_array_module(tp)
    p = tp + fp
    dtp = tp[:, :-1] - tp[:, 1:]
    dp = p[:, :-1] - p[:, 1:]
    slope = _divide(dtp, xp.maximum(dp, 0))
    intercept = tp[:, 1:] - slope * p[:, 1:]
    both = (p[:, :-1] > 0) & (p[:, 1:] > 0)
    ratio = xp.where(both, _divide(p[:, :-1], xp.maximum(p[:, 1:], 0)), 1.0)
    step = _divide(
        slope * (dtp + intercept * xp.log(ratio)),
        xp.maximum(tp[:, 1:] + fn[:, 1:], 0),
    )
    return step.sum(axis=1)


# --- R^2 ---------------------------------------------------------------------


@metrics.register("r2_score", "r2")
class R2Score(Metric):
    """Coefficient of determination 1 - SS_res / SS_tot per output (Keras R2Score).

    Sums of y, y^2 and squared residuals are kept per output in float64, so the
    epoch's value is exact whatever the batching. SS_tot is sum(y^2) - sum(y) *
    mean(y) as in Keras. A constant target (SS_tot = 0) scores 0 when the
    residuals are not all 0 and NaN when they are (Keras does the same).
    `num_regressors` p > 0 gives the adjusted R^2, 1 - (1 - R^2)(n - 1)/(n - p - 1)
    with n the number of target values, falling back to plain R^2 when
    p >= n - 1 (Keras warns there; nncli stays quiet).
    """

    name = "r2_score"
    accepts = ("binary", "onehot", "real")
    needs = "compares each output with a target of the same shape"

    class Config(MetricConfig):
        type: Literal["r2_score"] = "r2_score"
        class_aggregation: Literal["uniform_average", "variance_weighted_average"] = (
            Field(
                "uniform_average",
                description="How outputs combine: plain mean, or weighted by "
                "each output's target variance.",
            )
        )
        num_regressors: int = Field(
            0, ge=0, description="Independent variables, for the adjusted R^2."
        )

    def __init__(
        self,
        class_aggregation: str = "uniform_average",
        num_regressors: int = 0,
        name: str | None = None,
    ) -> None:
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        super().__init__(name)

    def reset(self) -> None:
        self.sums: Any = 0.0  # (3, units): sum y, sum y^2, sum (y - pred)^2
        self.count = 0  # samples

    def update(self, pred: Any, target: Any, logits: bool = False) -> None:
        xp = get_array_module(pred)
        y = target.reshape(pred.shape).astype(xp.float64)  # (batch, units)
        r = y - self.probabilities(pred, logits).astype(xp.float64)
        self.sums = self.sums + xp.stack([y.sum(0), (y * y).sum(0), (r * r).sum(0)])
        self.count += len(y)

    def result(self) -> float:
        if not self.count:
            return float("nan")
        xp = get_array_module(self.sums)
        total, squared, residual = self.sums
        ss_tot = squared - total * (total / self.count)
        flat = ss_tot == 0
        ratio = residual / xp.where(flat, 1.0, ss_tot)
        raw = xp.where(flat, xp.where(residual == 0, xp.nan, 0.0), 1 - ratio)
        raw = xp.where(xp.isinf(raw), 0.0, raw)  # Keras: an infinite score is 0
        if self.class_aggregation == "uniform_average":
            r2 = float(raw.mean())
        else:
            weight = float(ss_tot.sum())
            r2 = float((ss_tot * raw).sum()) / weight if weight else float("nan")
        n, p = self.count * len(total), self.num_regressors
        if 0 < p < n - 1:
            r2 = 1 - (1 - r2) * (n - 1) / (n - p - 1)
        return r2


# --- confusion matrix (for `nncli eval --confusion-matrix`) -------------------


class ConfusionCounts:
    """Counts of (true class, predicted class) over all batches; rows are true.

    One class per sample: the arg-max of a softmax output (ties: first class)
    against integer or one-hot targets, or a single sigmoid output at
    probability 0.5 (logit 0) against 0/1 targets (classes 0 and 1).
    """

    def __init__(self, layout: Layout) -> None:
        if layout.kind == "real":
            raise Unfit(
                "a confusion matrix needs classes, but this model is a "
                "regression (real-valued targets)"
            )
        if layout.kind == "binary" and layout.units > 1:
            raise Unfit(
                f"a confusion matrix needs one class per sample, but this model "
                f"has {layout.units} independent 0/1 outputs (binary_crossentropy)"
            )
        self.layout = layout
        self.classes = 2 if layout.kind == "binary" else layout.units
        self.counts: Any = 0  # (classes * classes,) int64 once updated

    def update(self, pred: Any, target: Any, logits: bool = False) -> None:
        xp = get_array_module(pred)
        if self.layout.kind == "binary":
            said = (pred > (0.0 if logits else 0.5)).reshape(-1).astype(xp.int64)
            true = (target.reshape(-1) > 0.5).astype(xp.int64)
        else:
            said = pred.argmax(axis=-1)
            true = target.reshape(-1) if self.layout.kind == "sparse" else None
            true = target.argmax(axis=-1) if true is None else true
        n = self.classes
        cells = xp.bincount((true * n + said).astype(xp.int64), minlength=n * n)
        self.counts = self.counts + cells

    def matrix(self) -> list[list[int]]:
        """counts[true][predicted] as nested Python ints."""
        xp = get_array_module(self.counts)
        flat = xp.zeros(self.classes**2, dtype=xp.int64) + self.counts
        return flat.reshape(self.classes, -1).tolist()  # one copy to the host


# --- building the metrics of a run -------------------------------------------


def build_metrics(cfgs: list[dict], target_kind: str, units: int) -> dict[str, Metric]:
    """Column name -> metric, each checked against the model's output.

    `accuracy` becomes a concrete accuracy under its own column name. A metric
    that cannot apply, or a column name used twice, is a SpecError naming
    `metrics[i]` (all of them at once).
    """
    layout = layout_for(target_kind, units)
    out: dict[str, Metric] = {}
    first: dict[str, int] = {}
    issues: list[Issue] = []
    for i, cfg in enumerate(cfgs):
        cfg = {"type": cfg} if isinstance(cfg, str) else cfg
        try:
            m = metrics.create({k: v for k, v in cfg.items() if v is not None})
            m = m.bind(layout)  # `accuracy` becomes a concrete accuracy here
        except Unfit as e:
            issues.append(
                Issue(f"metrics[{i}]" + (f".{e.key}" if e.key else ""), str(e))
            )
            continue
        if m.column in out:
            where = f"metrics[{i}]" + (".name" if cfg.get("name") else "")
            issues.append(
                Issue(
                    where,
                    f"metric name {m.column!r} is already used by "
                    f"metrics[{first[m.column]}]; give one of them a distinct `name`",
                )
            )
            continue
        first[m.column] = i
        out[m.column] = m
    if issues:
        raise SpecError(issues)
    return out
