"""Weight constraints: projections applied after each optimizer step (Keras 3).

Keras applies `variable.constraint` to every constrained variable right after
the optimizer's update (`BaseOptimizer.apply`, keras/src/optimizers/
base_optimizer.py); `Model.train_step` does the same. A constraint is a
callable `w -> projected w` of the same shape and dtype. Norms are taken over
`axis` with keepdims, so for a Dense kernel (n_in, units) axis 0 constrains
each unit's incoming weight vector. Formulas and defaults follow
keras/src/constraints/constraints.py, including the epsilon 1e-7
(`keras.config.epsilon()`) added to every norm in a denominator, which shrinks
weights by norm / (norm + 1e-7) even when the constraint holds.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from nncli.engine.backend import get_array_module
from nncli.registry import Registry, StrictModel

constraints: Registry[type[Constraint]] = Registry("constraint")

EPSILON = 1e-7  # keras.config.epsilon()

Axis = int | list[int]
AXIS_DOC = "Axis (or axes) of each norm; 0 = each unit's incoming weights."


class Constraint:
    """Base: a projection of a weight array."""

    class Config(StrictModel):
        type: str

    axis: Axis | None = None

    def __call__(self, w: Any) -> Any:
        raise NotImplementedError

    def check_rank(self, ndim: int, what: str) -> None:
        """Raise ValueError when `axis` does not exist in a weight of rank `ndim`."""
        if self.axis is None:
            return
        axes = [self.axis] if isinstance(self.axis, int) else list(self.axis)
        fits = all(-ndim <= a < ndim for a in axes)
        if not axes or not fits or len({a % ndim for a in axes}) != len(axes):
            raise ValueError(
                f"{what}: axis {self.axis} does not fit a weight of rank {ndim}"
            )


def _norms(w: Any, axis: Axis) -> Any:
    """sqrt(sum(w^2)) over `axis`, kept as size-1 axes for broadcasting."""
    xp = get_array_module(w)
    axes = axis if isinstance(axis, int) else tuple(axis)
    return xp.sqrt(xp.sum(w * w, axis=axes, keepdims=True))


@constraints.register("max_norm")
class MaxNorm(Constraint):
    """w * clip(norm, 0, max_value) / (eps + norm); Keras default max_value 2."""

    class Config(StrictModel):
        type: Literal["max_norm"] = "max_norm"
        max_value: float = Field(2.0, ge=0, description="Largest norm allowed.")
        axis: Axis = Field(0, description=AXIS_DOC)

    def __init__(self, max_value: float = 2.0, axis: Axis = 0) -> None:
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        xp = get_array_module(w)
        norms = _norms(w, self.axis)
        return w * (xp.clip(norms, 0, self.max_value) / (EPSILON + norms))


@constraints.register("non_neg")
class NonNeg(Constraint):
    """max(w, 0): weights stay non-negative."""

    class Config(StrictModel):
        type: Literal["non_neg"] = "non_neg"

    def __call__(self, w):
        return get_array_module(w).maximum(w, 0)


@constraints.register("unit_norm")
class UnitNorm(Constraint):
    """w / (eps + norm): unit norm along `axis` (Keras default axis 0)."""

    class Config(StrictModel):
        type: Literal["unit_norm"] = "unit_norm"
        axis: Axis = Field(0, description=AXIS_DOC)

    def __init__(self, axis: Axis = 0) -> None:
        self.axis = axis

    def __call__(self, w):
        return w / (EPSILON + _norms(w, self.axis))


@constraints.register("min_max_norm")
class MinMaxNorm(Constraint):
    """Norms pulled into [min_value, max_value] at `rate`; Keras defaults 0, 1, 1.

    w * desired / (eps + norm), desired = rate * clip(norm, min_value,
    max_value) + (1 - rate) * norm; rate 1 enforces the bounds at once.
    """

    class Config(StrictModel):
        type: Literal["min_max_norm"] = "min_max_norm"
        min_value: float = Field(0.0, ge=0, description="Smallest norm allowed.")
        max_value: float = Field(1.0, ge=0, description="Largest norm allowed.")
        rate: float = Field(
            1.0, ge=0, le=1, description="Fraction of the way to the bounds per step."
        )
        axis: Axis = Field(0, description=AXIS_DOC)

        @model_validator(mode="after")
        def _ordered(self) -> MinMaxNorm.Config:
            if self.min_value > self.max_value:
                raise ValueError(
                    f"min_value ({self.min_value}) is greater than max_value "
                    f"({self.max_value})"
                )
            return self

    def __init__(
        self,
        min_value: float = 0.0,
        max_value: float = 1.0,
        rate: float = 1.0,
        axis: Axis = 0,
    ) -> None:
        self.min_value, self.max_value = min_value, max_value
        self.rate, self.axis = rate, axis

    def __call__(self, w):
        xp = get_array_module(w)
        norms = _norms(w, self.axis)
        clipped = xp.clip(norms, self.min_value, self.max_value)
        desired = self.rate * clipped + (1 - self.rate) * norms
        return w * (desired / (EPSILON + norms))
