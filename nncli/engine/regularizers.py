"""Weight penalties added to the loss, as Keras adds them (no 1/2 factor).

Keras 3 conventions (`keras/src/regularizers/regularizers.py`):
l1 penalty = l1 * sum(|w|), gradient l1 * sign(w) (0 at w = 0);
l2 penalty = l2 * sum(w^2), gradient 2 * l2 * w.

The same objects serve as weight regularizers (`kernel_regularizer`,
`bias_regularizer`: penalty of the weight) and activity regularizers
(`activity_regularizer`: penalty of a layer's output, which Keras 3 divides
by the batch size; see `Sequential.activity_regularization`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from nncli.engine.backend import get_array_module
from nncli.registry import Registry, StrictModel

regularizers: Registry[type[Regularizer]] = Registry("regularizer")


class Regularizer:
    class Config(StrictModel):
        type: str

    def penalty(self, w: Any, axis: Any = None) -> Any:
        """Penalty of an array: a scalar, or summed over `axis` only (per sample)."""
        raise NotImplementedError

    def grad(self, w: Any) -> Any:
        """d penalty / d w, same shape as `w`."""
        raise NotImplementedError


@regularizers.register("l1")
class L1(Regularizer):
    """penalty = l1 * sum(|w|); Keras default l1 = 0.01."""

    keras_difference = (
        "The gradient of |w| at w = 0 is 0, as on TensorFlow and PyTorch (Keras "
        "on JAX: 1)."
    )

    class Config(StrictModel):
        type: Literal["l1"] = "l1"
        l1: float = Field(0.01, ge=0)

    def __init__(self, l1: float = 0.01) -> None:
        self.l1 = l1

    def penalty(self, w, axis=None):
        xp = get_array_module(w)
        return self.l1 * xp.sum(xp.abs(w), axis=axis)

    def grad(self, w):
        return self.l1 * get_array_module(w).sign(w)


@regularizers.register("l2")
class L2(Regularizer):
    """penalty = l2 * sum(w**2); Keras default l2 = 0.01."""

    class Config(StrictModel):
        type: Literal["l2"] = "l2"
        l2: float = Field(0.01, ge=0)

    def __init__(self, l2: float = 0.01) -> None:
        self.l2 = l2

    def penalty(self, w, axis=None):
        return self.l2 * get_array_module(w).sum(w * w, axis=axis)

    def grad(self, w):
        return (2 * self.l2) * w


@regularizers.register("l1_l2")
class L1L2(Regularizer):
    """penalty = l1 * sum(|w|) + l2 * sum(w**2); Keras defaults l1 = l2 = 0.0."""

    keras_difference = "The gradient of |w| at w = 0 is 0 (see l1)."

    class Config(StrictModel):
        type: Literal["l1_l2"] = "l1_l2"
        l1: float = Field(0.0, ge=0)
        l2: float = Field(0.0, ge=0)

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = l1, l2

    def penalty(self, w, axis=None):
        xp = get_array_module(w)
        return self.l1 * xp.sum(xp.abs(w), axis=axis) + self.l2 * xp.sum(
            w * w, axis=axis
        )

    def grad(self, w):
        return self.l1 * get_array_module(w).sign(w) + (2 * self.l2) * w
