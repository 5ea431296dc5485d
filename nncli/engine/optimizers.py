"""Optimizers with Keras 3 update rules and defaults.

An optimizer updates a flat dict of parameters in place:
`step(params, grads)` where both dicts map the same keys
("layers.0.kernel", ...) to backend arrays of equal shape. Per-parameter
slots (momentum, moving averages) are created lazily with `xp.zeros_like`
and keyed by the parameter name, so `state_dict()` / `load_state_dict()`
serialise everything needed to resume: `{"iterations": int,
"slots": {"<param key>/<slot>": array}}`.
`learning_rate` is a plain attribute so schedules can change it between steps.

Reference framework: Keras 3 (`keras/src/optimizers/{sgd,rmsprop,adam}.py`).
A learning rate of 0 is allowed (it freezes the weights).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field

from nncli.engine.backend import get_array_module
from nncli.registry import Registry, StrictModel

optimizers: Registry[type[Optimizer]] = Registry("optimizer")


class Optimizer:
    """Base: iteration count, lazily created slots, and their (de)serialisation."""

    class Config(StrictModel):
        type: str

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = learning_rate
        self.iterations = 0
        self.slots: dict[str, Any] = {}

    def step(self, params: dict[str, Any], grads: dict[str, Any]) -> None:
        """Apply one update to every parameter in place, then count the iteration."""
        for key, w in params.items():
            g = grads[key]
            if g.dtype != w.dtype:
                g = g.astype(w.dtype)
            self.update(key, w, g)
        self.iterations += 1

    def update(self, key: str, w: Any, g: Any) -> None:
        """Update one parameter array `w` in place from its gradient `g`."""
        raise NotImplementedError

    def slot(self, key: str, name: str, w: Any) -> Any:
        """The slot `name` of parameter `key`: zeros on first use, like `w`.

        A slot loaded from a checkpoint (host numpy, maybe another dtype) is
        moved to `w`'s array module and dtype here, once.
        """
        slot_key = f"{key}/{name}"
        s = self.slots.get(slot_key)
        xp = get_array_module(w)
        if s is None:
            s = xp.zeros_like(w)
        elif get_array_module(s) is not xp or s.dtype != w.dtype:
            s = xp.asarray(s, dtype=w.dtype)
        if s.shape != w.shape:
            raise ValueError(
                f"optimizer slot {slot_key!r} has shape {tuple(s.shape)}, "
                f"parameter has {tuple(w.shape)}"
            )
        self.slots[slot_key] = s
        return s

    def state_dict(self) -> dict[str, Any]:
        """A snapshot (copies, not views) of the iteration count and slots."""
        return {
            "iterations": self.iterations,
            "slots": {k: v.copy() for k, v in self.slots.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a `state_dict()` snapshot; arrays are copied, never aliased."""
        self.iterations = int(state["iterations"])
        self.slots = {k: v.copy() for k, v in state["slots"].items()}


@optimizers.register("sgd")
class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum (Keras 3).

    momentum = 0:  w <- w - lr g
    momentum > 0:  v <- m v - lr g;  w <- w + v
    nesterov:      v <- m v - lr g;  w <- w + m v - lr g
    Defaults (Keras): learning_rate 0.01, momentum 0.0, nesterov False. With a
    constant lr this equals PyTorch's SGD (dampening 0), whose buffer is -v/lr.
    """

    class Config(StrictModel):
        type: Literal["sgd"] = "sgd"
        learning_rate: float = Field(0.01, ge=0)
        momentum: float = Field(0.0, ge=0, le=1)
        nesterov: bool = False

    def __init__(
        self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False
    ) -> None:
        super().__init__(learning_rate)
        self.momentum, self.nesterov = momentum, nesterov

    def update(self, key: str, w: Any, g: Any) -> None:
        lr, m = self.learning_rate, self.momentum
        if m == 0:
            w -= lr * g
            return
        v = self.slot(key, "momentum", w)
        v *= m
        v -= lr * g
        if self.nesterov:
            w += m * v - lr * g
        else:
            w += v


@optimizers.register("rmsprop")
class RMSprop(Optimizer):
    """RMSprop (Keras 3), optionally centered and with plain momentum.

    a <- rho a + (1 - rho) g^2
    centered:  mg <- rho mg + (1 - rho) g;  d = sqrt(a - mg^2 + eps)
    otherwise: d = sqrt(a + eps)
    momentum = 0: w <- w - lr g / d;  else  u <- momentum u + lr g / d;  w <- w - u
    Epsilon is added INSIDE the square root (Keras); PyTorch adds it outside,
    sqrt(a) + eps, with default eps 1e-8. The two agree exactly when eps = 0.
    Defaults (Keras): learning_rate 0.001, rho 0.9, momentum 0.0,
    epsilon 1e-7, centered False.
    """

    class Config(StrictModel):
        type: Literal["rmsprop"] = "rmsprop"
        learning_rate: float = Field(0.001, ge=0)
        rho: float = Field(0.9, ge=0, le=1)
        momentum: float = Field(0.0, ge=0, le=1)
        epsilon: float = Field(1e-7, gt=0)
        centered: bool = False

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
    ) -> None:
        super().__init__(learning_rate)
        self.rho, self.momentum = rho, momentum
        self.epsilon, self.centered = epsilon, centered

    def update(self, key: str, w: Any, g: Any) -> None:
        xp = get_array_module(w)
        rho = self.rho
        a = self.slot(key, "velocity", w)
        a *= rho
        a += (1 - rho) * (g * g)
        if self.centered:
            mg = self.slot(key, "average_gradient", w)
            mg *= rho
            mg += (1 - rho) * g
            denominator = a - mg * mg + self.epsilon
        else:
            denominator = a + self.epsilon
        increment = self.learning_rate * g / xp.sqrt(denominator)
        if self.momentum > 0:
            u = self.slot(key, "momentum", w)
            u *= self.momentum
            u += increment
            w -= u
        else:
            w -= increment


@optimizers.register("adam")
class Adam(Optimizer):
    """Adam (Keras 3), optionally AMSGrad.

    t = iterations + 1;  alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m <- m + (1 - beta_1)(g - m);  v <- v + (1 - beta_2)(g^2 - v)
    amsgrad: v_hat <- max(v_hat, v), used in place of v
    w <- w - alpha m / (sqrt(v) + eps)
    Epsilon is Kingma & Ba's "epsilon hat": added to sqrt(v), not to the
    bias-corrected sqrt(v_hat) as PyTorch does (there eps is effectively
    scaled by sqrt(1 - beta_2^t)); the two agree exactly when eps = 0.
    Defaults (Keras): learning_rate 0.001, beta_1 0.9, beta_2 0.999,
    epsilon 1e-7, amsgrad False.
    """

    class Config(StrictModel):
        type: Literal["adam"] = "adam"
        learning_rate: float = Field(0.001, ge=0)
        beta_1: float = Field(0.9, ge=0, lt=1)
        beta_2: float = Field(0.999, ge=0, lt=1)
        epsilon: float = Field(1e-7, gt=0)
        amsgrad: bool = False

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(learning_rate)
        self.beta_1, self.beta_2 = beta_1, beta_2
        self.epsilon, self.amsgrad = epsilon, amsgrad

    def update(self, key: str, w: Any, g: Any) -> None:
        xp = get_array_module(w)
        t = self.iterations + 1
        alpha = (
            self.learning_rate * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        )
        m = self.slot(key, "momentum", w)
        v = self.slot(key, "velocity", w)
        m += (1 - self.beta_1) * (g - m)
        v += (1 - self.beta_2) * (g * g - v)
        if self.amsgrad:
            v_hat = self.slot(key, "velocity_hat", w)
            xp.maximum(v_hat, v, out=v_hat)
            v = v_hat
        w -= alpha * m / (xp.sqrt(v) + self.epsilon)
