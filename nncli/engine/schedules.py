"""Learning-rate schedules with Keras 3's names, defaults and formulas.

A schedule maps the optimizer's step count (the number of updates already
applied, Keras's `optimizer.iterations`) to a learning rate. It is evaluated
in float64 on the host, once per step, and holds no state of its own: a
resumed run that restores the step count continues the schedule exactly.

Reference: keras/src/optimizers/schedules/learning_rate_schedule.py (3.x).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from nncli.registry import Registry, StrictModel

schedules: Registry[type[Schedule]] = Registry("schedule")


class Schedule:
    """Base: `__call__(step) -> learning rate`."""

    class Config(StrictModel):
        type: str

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    @property
    def initial(self) -> float:
        return self(0)


@schedules.register("exponential_decay")
class ExponentialDecay(Schedule):
    """lr0 * decay_rate ** (step / decay_steps); with `staircase`, the exponent
    is floored, so the rate drops in steps every `decay_steps` updates."""

    class Config(StrictModel):
        type: Literal["exponential_decay"] = "exponential_decay"
        initial_learning_rate: float = Field(ge=0.0)
        decay_steps: int = Field(gt=0)
        decay_rate: float = Field(gt=0.0)
        staircase: bool = False

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
    ) -> None:
        self.lr0, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase = decay_rate, staircase

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.lr0 * self.decay_rate**p


@schedules.register("piecewise_constant_decay", "piecewise_constant")
class PiecewiseConstantDecay(Schedule):
    """values[0] while step <= boundaries[0], values[i] while
    boundaries[i-1] < step <= boundaries[i], values[-1] after the last."""

    class Config(StrictModel):
        type: Literal["piecewise_constant_decay"] = "piecewise_constant_decay"
        boundaries: list[int] = Field(min_length=1)
        values: list[float] = Field(min_length=2)

        @model_validator(mode="after")
        def _lengths(self):
            if len(self.boundaries) != len(self.values) - 1:
                raise ValueError(
                    f"values needs one entry more than boundaries "
                    f"({len(self.boundaries)} boundaries, {len(self.values)} values)"
                )
            if any(b >= c for b, c in zip(self.boundaries, self.boundaries[1:])):
                raise ValueError("boundaries must be strictly increasing")
            if any(v < 0 for v in self.values):
                raise ValueError("learning rates must be >= 0")
            return self

    def __init__(self, boundaries: list[int], values: list[float]) -> None:
        self.boundaries, self.values = list(boundaries), list(values)

    def __call__(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]


@schedules.register("polynomial_decay")
class PolynomialDecay(Schedule):
    """(lr0 - end) * (1 - step / decay_steps) ** power + end; the step stops at
    decay_steps, or with `cycle` decay_steps grows to the next multiple."""

    class Config(StrictModel):
        type: Literal["polynomial_decay"] = "polynomial_decay"
        initial_learning_rate: float = Field(ge=0.0)
        decay_steps: int = Field(gt=0)
        end_learning_rate: float = Field(0.0001, ge=0.0)
        power: float = Field(1.0, gt=0.0)
        cycle: bool = False

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
    ) -> None:
        self.lr0, self.decay_steps = initial_learning_rate, decay_steps
        self.end, self.power, self.cycle = end_learning_rate, power, cycle

    def __call__(self, step: int) -> float:
        steps = self.decay_steps
        if self.cycle:
            steps *= 1 if step == 0 else math.ceil(step / self.decay_steps)
        else:
            step = min(step, steps)
        return (self.lr0 - self.end) * (1 - step / steps) ** self.power + self.end


@schedules.register("inverse_time_decay")
class InverseTimeDecay(Schedule):
    """lr0 / (1 + decay_rate * step / decay_steps), floored with `staircase`."""

    class Config(StrictModel):
        type: Literal["inverse_time_decay"] = "inverse_time_decay"
        initial_learning_rate: float = Field(ge=0.0)
        decay_steps: int = Field(gt=0)
        decay_rate: float = Field(ge=0.0)
        staircase: bool = False

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
    ) -> None:
        self.lr0, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase = decay_rate, staircase

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.lr0 / (1 + self.decay_rate * p)


@schedules.register("cosine_decay")
class CosineDecay(Schedule):
    """Optional linear warm-up from lr0 to `warmup_target` over `warmup_steps`,
    then a half cosine from there (or from lr0 without warm-up) down to `alpha`
    times that rate over `decay_steps`, where it stays."""

    class Config(StrictModel):
        type: Literal["cosine_decay"] = "cosine_decay"
        initial_learning_rate: float = Field(ge=0.0)
        decay_steps: int = Field(gt=0)
        alpha: float = Field(0.0, ge=0.0, le=1.0)
        warmup_target: float | None = Field(None, ge=0.0)
        warmup_steps: int = Field(0, ge=0)

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        self.lr0, self.decay_steps, self.alpha = (
            initial_learning_rate,
            decay_steps,
            alpha,
        )
        self.warmup_target, self.warmup_steps = warmup_target, warmup_steps

    def _decay(self, step: float, start: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: int) -> float:
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.lr0)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            return (self.warmup_target - self.lr0) * fraction + self.lr0
        return self._decay(step - self.warmup_steps, self.warmup_target)
