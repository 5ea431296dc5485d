"""Callbacks with Keras 3's names, defaults and decisions, as plain state machines.

A callback sees each finished epoch's logs (`loss`, metrics, `val_*`,
`learning_rate`) through `on_epoch_end(epoch, logs, model)` and answers
with what should happen: stop, change the learning rate, save weights. It
never writes a file or prints; the training driver does both, so the same
decisions can be replayed, tested and resumed. `state_dict()` /
`load_state_dict()` carry everything a resumed run needs (counters, best
values, best weights).

Epochs are counted from 1 here (as nncli reports them); Keras counts from 0,
which the formulas below take into account (`start_from_epoch`, and early
stopping never stopping after the first epoch).

Reference: keras/src/callbacks/{monitor_callback,early_stopping,
reduce_lr_on_plateau,model_checkpoint}.py (Keras 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from nncli.registry import Registry, StrictModel

callbacks: Registry[type[Callback]] = Registry("callback")

Mode = Literal["auto", "min", "max"]


@dataclass
class Decision:
    """What the driver should do after an epoch."""

    stop: str | None = None  # why training should stop
    learning_rate: float | None = None  # a new learning rate
    save: list[str] = field(default_factory=list)  # checkpoint names to write
    messages: list[str] = field(default_factory=list)


def direction(monitor: str, mode: Mode, directions: dict[str, str]) -> str:
    """'min' or 'max' for `monitor`: from `mode`, else from the metric's own
    direction (`directions`: metric name -> 'up'/'down'), else a loss/error
    name is minimised. A name nobody can judge is a ValueError (Keras too)."""
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    if name in directions:
        return "max" if directions[name] == "up" else "min"
    if name == "loss" or name.endswith(("loss", "error")):
        return "min"
    raise ValueError(
        f"cannot tell whether {monitor!r} should go up or down; set mode: min or max"
    )


_LOWER_IS_BETTER = ("loss", "error", "hinge", "crossentropy", "divergence", "poisson")


def metric_directions(metrics: dict[str, Any]) -> dict[str, str]:
    """Metric name -> 'up' or 'down': the metric's own `direction` where it
    declares one, else 'down' for loss- and error-like names, else 'up'."""
    out = {}
    for name, metric in metrics.items():
        declared = getattr(metric, "direction", None)
        if declared in ("up", "down"):
            out[name] = declared
        else:
            out[name] = "down" if any(w in name for w in _LOWER_IS_BETTER) else "up"
    return out


class Callback:
    """Base: a no-op that keeps no state."""

    class Config(StrictModel):
        type: str

    monitor: str | None = None

    def bind(self, directions: dict[str, str]) -> None:
        """Learn the metrics' directions once they are known (before training)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float], model: Any) -> Decision:
        return Decision()

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class _Monitor(Callback):
    """Keras's MonitorCallback: is `current` better than `reference` by more
    than `min_delta`? (min mode: current < reference - min_delta.)"""

    def __init__(self, monitor: str, mode: Mode, min_delta: float) -> None:
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(min_delta)
        self.goal = "min"
        self.best: float | None = None

    def bind(self, directions: dict[str, str]) -> None:
        self.goal = direction(self.monitor, self.mode, directions)

    def improved(self, current: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self.goal == "min":
            return current + self.min_delta < reference
        return current - self.min_delta > reference

    def value(self, logs: dict[str, float]) -> float | None:
        value = logs.get(self.monitor)
        return None if value is None or not math.isfinite(value) else value


class _MonitorConfig(StrictModel):
    monitor: str = Field("val_loss", description="the log to watch")
    mode: Mode = "auto"

    @field_validator("monitor")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v:
            raise ValueError("monitor must name a log, e.g. val_loss")
        return v


@callbacks.register("early_stopping", "earlystopping")
class EarlyStopping(_Monitor):
    """Stop when `monitor` has not improved for `patience` epochs."""

    class Config(_MonitorConfig):
        type: Literal["early_stopping"] = "early_stopping"
        min_delta: float = Field(
            0.0,
            description="smallest change that counts as an improvement; its "
            "absolute value is used (Keras too), so -0.01 means 0.01",
        )
        patience: int = Field(0, ge=0)
        baseline: float | None = None
        restore_best_weights: bool = False
        start_from_epoch: int = Field(0, ge=0)

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: Mode = "auto",
        min_delta: float = 0.0,
        patience: int = 0,
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience, self.baseline = patience, baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.best_epoch = 0
        self.best_weights: dict[str, np.ndarray] | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float], model: Any) -> Decision:
        current = self.value(logs)
        if current is None or epoch - 1 < self.start_from_epoch:
            return Decision()
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = model.network.get_weights(), epoch
        self.wait += 1
        if self.improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = model.network.get_weights()
            if self.baseline is None or self.improved(current, self.baseline):
                self.wait = 0
            return Decision()
        if self.wait >= self.patience and epoch > 1:
            return Decision(
                stop=f"early stopping: {self.monitor} has not improved for "
                f"{self.wait} epoch(s) (best {self.best:.6g} at epoch "
                f"{self.best_epoch})"
            )
        return Decision()

    def final_weights(self) -> tuple[int, dict[str, np.ndarray]] | None:
        """(epoch, weights) to restore at the end of training, if any."""
        if self.restore_best_weights and self.best_weights is not None:
            return self.best_epoch, self.best_weights
        return None

    def state_dict(self) -> dict[str, Any]:
        return {
            "wait": self.wait,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.wait, self.best = state["wait"], state["best"]
        self.best_epoch, self.best_weights = state["best_epoch"], state["best_weights"]


@callbacks.register("reduce_lr_on_plateau", "reducelronplateau")
class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by `factor` after `patience` epochs without
    improvement of `monitor`, then wait `cooldown` epochs; never below `min_lr`."""

    class Config(_MonitorConfig):
        type: Literal["reduce_lr_on_plateau"] = "reduce_lr_on_plateau"
        factor: float = Field(0.1, gt=0.0, lt=1.0)
        patience: int = Field(10, ge=0)
        min_delta: float = Field(1e-4, ge=0.0)
        cooldown: int = Field(0, ge=0)
        min_lr: float = Field(0.0, ge=0.0)

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: Mode = "auto",
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        self.factor, self.patience = factor, patience
        self.cooldown, self.min_lr = cooldown, min_lr
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float], model: Any) -> Decision:
        current = self.value(logs)
        if current is None:
            return Decision()
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.improved(current, self.best):
            self.best, self.wait = current, 0
            return Decision()
        if self.cooldown_counter > 0:
            return Decision()
        self.wait += 1
        if self.wait < self.patience:
            return Decision()
        old = float(model.optimizer.learning_rate)
        # Keras compares with min_lr rounded to float32 (its variables' type)
        if not old > float(np.float32(self.min_lr)):
            return Decision()
        new = max(old * self.factor, self.min_lr)
        self.cooldown_counter, self.wait = self.cooldown, 0
        return Decision(
            learning_rate=new,
            messages=[
                f"epoch {epoch}: {self.monitor} has not improved for "
                f"{self.patience} epoch(s); learning rate {old:.6g} -> {new:.6g}"
            ],
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "wait": self.wait,
            "best": self.best,
            "cooldown_counter": self.cooldown_counter,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.wait, self.best = state["wait"], state["best"]
        self.cooldown_counter = state["cooldown_counter"]


@callbacks.register("model_checkpoint", "modelcheckpoint")
class ModelCheckpoint(_Monitor):
    """Save weights under checkpoints/ in the run: `epoch-NNNN` every
    `every_epochs` epochs (unless `save_best_only`), and `best` whenever
    `monitor` improves (only with `save_best_only` or a `monitor` given)."""

    class Config(_MonitorConfig):
        type: Literal["model_checkpoint"] = "model_checkpoint"
        save_best_only: bool = False
        every_epochs: int = Field(1, ge=1, description="save every N epochs")
        initial_value_threshold: float | None = None

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: Mode = "auto",
        save_best_only: bool = False,
        every_epochs: int = 1,
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__(monitor, mode, 0.0)
        self.save_best_only, self.every_epochs = save_best_only, every_epochs
        self.best = initial_value_threshold

    def on_epoch_end(self, epoch: int, logs: dict[str, float], model: Any) -> Decision:
        if epoch % self.every_epochs:
            return Decision()
        save = [] if self.save_best_only else [f"epoch-{epoch:04d}"]
        current = self.value(logs)
        if current is not None and self.improved(current, self.best):
            self.best = current
            save.append("best")
        return Decision(save=save)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]


@callbacks.register("terminate_on_nan", "terminateonnan")
class TerminateOnNaN(Callback):
    """Stop when the loss becomes NaN or infinite. Always on in nncli (exit
    code 4, the last good weights kept); listing it changes nothing."""

    class Config(StrictModel):
        type: Literal["terminate_on_nan"] = "terminate_on_nan"
