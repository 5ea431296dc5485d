"""The training loop as a generator of events; it never prints or writes files.

Callers (the run, the progress display, tests, a future sweep driver) consume
`StepEvent`s and `EpochEvent`s and may stop iterating at any point.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nncli.data.batches import Batches
from nncli.engine.backend import get_array_module
from nncli.engine.metrics import Metric
from nncli.engine.network import Model


@dataclass
class StepEvent:
    epoch: int  # 1-based
    step: int  # 1-based within the epoch
    steps: int
    loss: float  # running (sample-weighted) loss of the epoch so far
    metrics: dict[str, Metric]  # the epoch's running metrics

    @property
    def logs(self) -> dict[str, float]:
        """Running loss and metrics; computed on demand (a device sync per metric),
        so a display that refreshes a few times a second pays only then."""
        return {"loss": self.loss, **{k: m.result() for k, m in self.metrics.items()}}


@dataclass
class EpochEvent:
    epoch: int
    logs: dict[str, float]  # loss, metrics, val_*, learning_rate, seconds


@dataclass
class DivergedEvent:
    """Training went non-finite. `kind` says what was found: "loss" (the loss
    of batch `step`), "weights" (the parameter `name` after the epoch's last
    update, batch `step`) or "val_loss" (the validation loss; `logs` are the
    epoch's)."""

    epoch: int
    step: int
    value: float  # the non-finite loss (NaN for kind "weights")
    last_finite: float | None  # the last finite batch loss
    logs: dict[str, float] = field(default_factory=dict)
    kind: str = "loss"
    name: str | None = None


Event = StepEvent | EpochEvent | DivergedEvent


def overflow_is_reported() -> np.errstate:
    """Silence numpy's overflow/invalid warnings: a non-finite loss is reported
    as a DivergedEvent (or an inf/NaN metric), so the warning would only repeat
    it, and under `-W error` turn it into a traceback (CASE-005). Kept off the
    `yield`s, so the caller's own numpy settings are untouched."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def train_epochs(
    model: Model,
    train: Batches,
    val: Batches | None,
    make_metrics: Callable[[], dict[str, Metric]],
    epochs: int,
    start_epoch: int = 0,
) -> Iterator[Event]:
    """Train for epochs start_epoch+1 .. epochs, yielding events.

    The epoch loss is the batch-size-weighted mean of the per-batch losses,
    each computed before that batch's update (Keras's convention); a batch's
    loss with sample weights w is sum(w * l) / batch_size (Keras's
    sum_over_batch_size). Metrics are exact sums over the epoch's samples and
    ignore the weights (Keras's `metrics`, not `weighted_metrics`).

    A non-finite batch loss, weight (at the epoch's end) or validation loss
    yields a DivergedEvent and ends the generator.
    """
    last_finite: float | None = None
    for epoch in range(start_epoch + 1, epochs + 1):
        started = time.perf_counter()
        train_metrics = make_metrics()
        total, seen, step = 0.0, 0, 0
        for step, (x, y, w) in enumerate(train.epoch(), 1):
            value = train_batch(model, x, y, w, train_metrics)
            if not math.isfinite(value):
                yield DivergedEvent(epoch, step, value, last_finite)
                return
            last_finite = value
            n = len(x)
            total, seen = total + value * n, seen + n
            yield StepEvent(epoch, step, len(train), total / seen, train_metrics)
        # the loss is computed before each update, so the last update of the
        # epoch (an infinite gradient, say) shows only in the weights: one
        # check per epoch, not per step (a replay finds the batch on failure)
        broken = first_non_finite(model.network.params())
        if broken is not None:
            yield DivergedEvent(
                epoch, step, math.nan, last_finite, kind="weights", name=broken
            )
            return
        logs = {"loss": total / seen}
        logs.update({k: m.result() for k, m in train_metrics.items()})
        if val is not None:
            logs.update(
                {f"val_{k}": v for k, v in evaluate(model, val, make_metrics).items()}
            )
        logs["learning_rate"] = float(model.optimizer.learning_rate)
        logs["seconds"] = time.perf_counter() - started
        if not math.isfinite(logs.get("val_loss", 0.0)):
            yield DivergedEvent(
                epoch, step, logs["val_loss"], last_finite, logs, kind="val_loss"
            )
            return
        yield EpochEvent(epoch, logs)


def first_non_finite(params: dict[str, Any]) -> str | None:
    """The name of the first parameter holding NaN or inf (one sync per array)."""
    for name, p in params.items():
        if not bool(get_array_module(p).isfinite(p).all()):
            return name
    return None


def train_batch(
    model: Model, x: Any, y: Any, w: Any, metrics: dict[str, Metric]
) -> float:
    """One update; returns the batch's loss (metrics updated only when finite)."""
    with overflow_is_reported():
        loss, pred = model.train_step(x, y, w)
        value = float(loss)  # device sync: one scalar per step
        if math.isfinite(value):
            for m in metrics.values():
                m.update(pred, y, logits=model.outputs_logits)
    return value


def evaluate(
    model: Model,
    data: Batches,
    make_metrics: Callable[[], dict[str, Metric]],
    max_batches: int | None = None,
) -> dict[str, float]:
    """Loss (incl. weight penalties, as Keras reports it) and metrics, inference mode.

    With sample weights the loss is sum(w * l) / n over the samples (each
    batch's sum_over_batch_size loss, weighted by its size). `max_batches`
    stops early (a smoke test).
    """
    metrics = make_metrics()
    total, seen = 0.0, 0
    with overflow_is_reported():
        for i, (x, y, w) in enumerate(data.epoch(), 1):
            per_sample, pred = model.evaluate_step(x, y, w)
            total += float(per_sample.sum())
            seen += len(x)
            for m in metrics.values():
                m.update(pred, y, logits=model.outputs_logits)
            if max_batches is not None and i >= max_batches:
                break
        penalty = float(model.network.regularization())
    return {
        "loss": total / seen + penalty,
        **{k: m.result() for k, m in metrics.items()},
    }


def smoke_steps(
    model: Model,
    train: Batches,
    val: Batches | None,
    make_metrics: Callable[[], dict[str, Metric]],
) -> dict[str, float]:
    """One training batch (a real update) and one validation batch, through the
    same calls as training; returns their logs (loss, metrics, val_*), which
    may be non-finite: the caller decides what that means."""
    metrics = make_metrics()
    x, y, w = next(iter(train.epoch()))
    logs = {"loss": train_batch(model, x, y, w, metrics)}
    with overflow_is_reported():
        logs.update({k: m.result() for k, m in metrics.items()})
        if val is not None:
            val_logs = evaluate(model, val, make_metrics, max_batches=1)
            logs.update({f"val_{k}": v for k, v in val_logs.items()})
    return logs


class Budget:
    """A wall-clock budget: `exceeded()` once `seconds` have passed since it
    was made (never, with None). `clock` is monotonic, so a changed system
    time cannot end or extend a run."""

    clock = staticmethod(time.monotonic)

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.started = self.clock()

    def exceeded(self) -> bool:
        return self.seconds is not None and self.clock() - self.started > self.seconds
