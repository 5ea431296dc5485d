"""Metrics accumulated exactly over an epoch (sums and counts, not batch means).

`accuracy` resolves to one concrete accuracy from the model's output and the
target layout — not from the loss name as Keras does (CASE-008):
sparse integer targets -> sparse_categorical_accuracy; more than one output
unit -> categorical_accuracy (arg-max); one unit -> binary_accuracy at 0.5 on
probabilities, i.e. at logit 0 when the model outputs logits (CASE-007).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field

from nncli.engine.backend import get_array_module
from nncli.registry import Registry, StrictModel

metrics: Registry[type[Metric]] = Registry("metric")


class Metric:
    """Running sum/count of a per-element score; `result()` is sum / count."""

    name = "metric"

    class Config(StrictModel):
        type: str

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total: Any = 0.0
        self.count = 0

    def update(self, pred: Any, target: Any, logits: bool = False) -> None:
        scores = self.scores(pred, target, logits)
        self.total = self.total + scores.sum()  # stays on the device until result()
        self.count += scores.size

    def scores(self, pred: Any, target: Any, logits: bool) -> Any:
        raise NotImplementedError

    def result(self) -> float:
        return float(self.total) / self.count if self.count else float("nan")


@metrics.register("binary_accuracy")
class BinaryAccuracy(Metric):
    """Share of outputs on the right side of `threshold` (Keras: strictly above)."""

    name = "binary_accuracy"

    class Config(StrictModel):
        type: Literal["binary_accuracy"] = "binary_accuracy"
        threshold: float = Field(0.5, gt=0.0, lt=1.0)

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        super().__init__()

    def scores(self, pred, target, logits):
        cut = (
            math.log(self.threshold / (1 - self.threshold))
            if logits
            else self.threshold
        )
        target = target.reshape(pred.shape)
        return ((pred > cut) == (target > 0.5)).astype(pred.dtype)


@metrics.register("categorical_accuracy")
class CategoricalAccuracy(Metric):
    """Arg-max of the prediction equals arg-max of the one-hot target."""

    name = "categorical_accuracy"

    class Config(StrictModel):
        type: Literal["categorical_accuracy"] = "categorical_accuracy"

    def scores(self, pred, target, logits):
        return (pred.argmax(axis=-1) == target.argmax(axis=-1)).astype(pred.dtype)


@metrics.register("sparse_categorical_accuracy")
class SparseCategoricalAccuracy(Metric):
    """Arg-max of the prediction equals the integer label (ties: first class)."""

    name = "sparse_categorical_accuracy"

    class Config(StrictModel):
        type: Literal["sparse_categorical_accuracy"] = "sparse_categorical_accuracy"

    def scores(self, pred, target, logits):
        return (pred.argmax(axis=-1) == target.reshape(-1)).astype(pred.dtype)


@metrics.register("accuracy", "acc")
class Accuracy(Metric):
    """Placeholder resolved by `resolve_accuracy` before use."""

    name = "accuracy"

    class Config(StrictModel):
        type: Literal["accuracy"] = "accuracy"


@metrics.register("mean_squared_error", "mse")
class MeanSquaredError(Metric):
    name = "mean_squared_error"

    class Config(StrictModel):
        type: Literal["mean_squared_error"] = "mean_squared_error"

    def scores(self, pred, target, logits):
        d = pred - target.reshape(pred.shape)
        return d * d


@metrics.register("mean_absolute_error", "mae")
class MeanAbsoluteError(Metric):
    name = "mean_absolute_error"

    class Config(StrictModel):
        type: Literal["mean_absolute_error"] = "mean_absolute_error"

    def scores(self, pred, target, logits):
        return get_array_module(pred).abs(pred - target.reshape(pred.shape))


def resolve_accuracy(target_kind: str, units: int) -> Metric:
    """The concrete accuracy that plain `accuracy` means for this model."""
    if target_kind == "sparse":
        return SparseCategoricalAccuracy()
    if units > 1:
        return CategoricalAccuracy()
    return BinaryAccuracy()


def build_metrics(cfgs: list[dict], target_kind: str, units: int) -> dict[str, Metric]:
    """Column name -> metric; `accuracy` keeps its name but gets a concrete kind."""
    out: dict[str, Metric] = {}
    for cfg in cfgs:
        if cfg["type"] == "accuracy":
            out["accuracy"] = resolve_accuracy(target_kind, units)
        else:
            m = metrics.create(cfg)
            out[m.name] = m
    return out
